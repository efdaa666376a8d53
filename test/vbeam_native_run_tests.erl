%% @doc Every fixture in test/fixtures (NAME_TARGET.ir with NAME.stdout and
%% an optional NAME.status) compiled through compile/3 and, for the hello
%% programs, through main/1 as the V compiler calls it; each executable is
%% run (x86_64 natively, arm64 under qemu-aarch64) and its stdout and exit
%% status compared.
-module(vbeam_native_run_tests).
-include_lib("eunit/include/eunit.hrl").
-include_lib("kernel/include/file.hrl").

fixtures_dir() ->
    filename:join(root(), "test/fixtures").

%% The repository root, found from this module's beam under _build.
root() ->
    Dir = filename:dirname(code:which(?MODULE)),
    find_root(Dir).

find_root("/") -> error(no_repository_root);
find_root(Dir) ->
    case filelib:is_regular(filename:join(Dir, "rebar.config")) of
        true -> Dir;
        false -> find_root(filename:dirname(Dir))
    end.

work_dir() ->
    D = filename:join(root(), "_build/test_runs"),
    ok = filelib:ensure_path(D),
    D.

expected(Name) ->
    {ok, Out} = file:read_file(filename:join(fixtures_dir(), Name ++ ".stdout")),
    Status = case file:read_file(filename:join(fixtures_dir(), Name ++ ".status")) of
                 {ok, S} -> binary_to_integer(string:trim(S));
                 {error, enoent} -> 0
             end,
    {Out, Status}.

%% Runs an executable; returns {Stdout, ExitStatus}.
run(Exe, Target) ->
    {Cmd, Args} = case Target of
                      "arm64" -> {os:find_executable("qemu-aarch64"), [Exe]};
                      "x86_64" -> {Exe, []}
                  end,
    Port = open_port({spawn_executable, Cmd}, [{args, Args}, exit_status, binary, stream]),
    collect(Port, <<>>).

collect(Port, Acc) ->
    receive
        {Port, {data, D}} -> collect(Port, <<Acc/binary, D/binary>>);
        {Port, {exit_status, S}} -> {Acc, S}
    after 60000 -> error(timeout)
    end.

split(Stem) ->
    case lists:suffix("_x86_64", Stem) of
        true -> {lists:sublist(Stem, length(Stem) - 7), "x86_64"};
        false -> {lists:sublist(Stem, length(Stem) - 6), "arm64"}
    end.

fixtures_test_() ->
    Files = lists:sort(filelib:wildcard(filename:join(fixtures_dir(), "*.ir"))),
    {timeout, 300,
     [{filename:basename(F), fun() -> run_fixture(F) end} || F <- Files]}.

run_fixture(File) ->
    Stem = filename:basename(File, ".ir"),
    {Name, Target} = split(Stem),
    {ok, Module} = vbeam_native_ir:parse_file(File),
    {ok, Bin} = vbeam_native:compile(Module, list_to_atom(Target), elf64),
    Exe = filename:join(work_dir(), Stem),
    ok = file:write_file(Exe, Bin),
    ok = file:change_mode(Exe, 8#755),
    ?assertEqual(expected(Name), run(Exe, Target)).

%% main/1 exactly as the V compiler calls it, with only the ebin directory
%% on the code path.
command_line_test_() ->
    {timeout, 120,
     [{T, fun() -> command_line(T) end} || T <- ["x86_64", "arm64"]]}.

command_line(Target) ->
    Ebin = filename:dirname(code:which(vbeam_native)),
    Ir = filename:join(fixtures_dir(), "hello_" ++ Target ++ ".ir"),
    Exe = filename:join(work_dir(), "cli_hello_" ++ Target),
    file:delete(Exe),
    Cmd = io_lib:format("erl -noshell -pa '~s' -eval 'vbeam_native:main([\"~s\", \"-o\", \"~s\"])' -s init stop; echo \"status=$?\"",
                        [Ebin, Ir, Exe]),
    Output = os:cmd(lists:flatten(Cmd)),
    ?assertNotEqual(nomatch, string:find(Output, "vbeam_native: wrote")),
    ?assertNotEqual(nomatch, string:find(Output, "status=0")),
    {ok, #file_info{mode = Mode}} = file:read_file_info(Exe),
    ?assertEqual(8#755, Mode band 8#777),
    ?assertEqual(expected("hello"), run(Exe, Target)).

command_line_errors_test_() ->
    Ebin = filename:dirname(code:which(vbeam_native)),
    Run = fun(Args) ->
                  os:cmd(lists:flatten(io_lib:format(
                      "erl -noshell -pa '~s' -eval 'vbeam_native:main(~s)' -s init stop 2>&1; echo \"status=$?\"",
                      [Ebin, Args])))
          end,
    {timeout, 60,
     [?_assertNotEqual(nomatch, string:find(Run("[\"missing.ir\", \"-o\", \"x\"]"), "status=1")),
      ?_assertNotEqual(nomatch, string:find(Run("[\"missing.ir\", \"-o\", \"x\"]"), "cannot read missing.ir")),
      ?_assertNotEqual(nomatch, string:find(Run("[list_to_atom(\"in.ir\")]"), "usage")),
      ?_assertNotEqual(nomatch, string:find(Run("[\"in.ir\", \"-o\", \"x\", \"-target\", \"vax\"]"), "status=1"))]}.

