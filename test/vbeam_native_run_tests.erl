%% @doc Every fixture in test/fixtures (NAME_TARGET.ir with NAME.stdout and
%% an optional NAME.status) compiled through compile/3 for each format and,
%% for the hello programs, through main/1 as the V compiler calls it; each
%% executable is run (ELF: x86_64 natively, arm64 under qemu-aarch64;
%% Mach-O: in the test loader, target/release/macho-run, which cargo
%% builds) and its stdout and exit status compared.
-module(vbeam_native_run_tests).
-export([exit_status_under_loader/1, root/0]).
-include_lib("eunit/include/eunit.hrl").
-include_lib("kernel/include/file.hrl").

fixtures_dir() ->
    filename:join(root(), "test/fixtures").

%% @doc The repository root, found from this module's beam under _build.
-spec root() -> file:filename_all().
root() ->
    Dir = filename:dirname(code:which(?MODULE)),
    find_root(Dir).

find_root("/") -> error(no_repository_root);
find_root(Dir) ->
    case filelib:is_regular(filename:join(Dir, "rebar.config")) of
        true -> Dir;
        false -> find_root(filename:dirname(Dir))
    end.

work_dir() -> vbeam_native_test_dir:dir("runs").

expected(Name) ->
    {ok, Out} = file:read_file(filename:join(fixtures_dir(), Name ++ ".stdout")),
    Status = case file:read_file(filename:join(fixtures_dir(), Name ++ ".status")) of
                 {ok, S} -> binary_to_integer(string:trim(S));
                 {error, enoent} -> 0
             end,
    {Out, Status}.

%% Runs an executable; returns {Stdout, ExitStatus}.
run(Exe, Target) ->
    run(Exe, Target, elf64).

run(Exe, _Target, macho) ->
    Loader = filename:join(root(), "target/release/macho-run"),
    ?assert(filelib:is_regular(Loader)),
    spawn_run(Loader, [Exe]);
run(Exe, "arm64", elf64) ->
    spawn_run(os:find_executable("qemu-aarch64"), [Exe]);
run(Exe, "x86_64", elf64) ->
    spawn_run(Exe, []).

%% The exit status of a Mach-O run in the test loader.
-spec exit_status_under_loader(file:filename()) -> integer().
exit_status_under_loader(Exe) ->
    {_, Status} = run(Exe, "x86_64", macho),
    Status.

spawn_run(Cmd, Args) ->
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
    [{filename:basename(F) ++ " " ++ atom_to_list(Format), {timeout, 120, fun() -> run_fixture(F, Format) end}}
     || F <- Files, Format <- [elf64, macho]].

run_fixture(File, Format) ->
    Stem = filename:basename(File, ".ir"),
    {Name, Target} = split(Stem),
    {ok, Module} = vbeam_native_ir:parse_file(File),
    {ok, Bin} = vbeam_native:compile(Module, list_to_atom(Target), Format),
    Exe = filename:join(work_dir(), Stem ++ "." ++ atom_to_list(Format)),
    ok = file:write_file(Exe, Bin),
    ok = file:change_mode(Exe, 8#755),
    ?assertEqual(expected(Name), run(Exe, Target, Format)).

%% A module large enough for worker threads to read and compile most of it
%% beside the calling thread: its labels are unaligned sub-binaries (which
%% a reader copies before use), its last function alone uses the heap, and
%% the program still computes the sum it should; with aligned labels the
%% executable is byte for byte the same.
large_module_test_() ->
    {timeout, 120, [{T, fun() -> large_module(T) end} || T <- ["x86_64", "arm64"]]}.

large_module(Target) ->
    {Ret, Arg} = case Target of "x86_64" -> {rax, rdi}; "arm64" -> {x0, x0} end,
    Unaligned = fun(Name) -> <<_:3, L:(byte_size(Name))/binary, _:5>> = <<0:3, Name/binary, 0:5>>, L end,
    N = 400,
    Loop = fun(I, Label) ->
                   Arith = lists:append(lists:duplicate(30, [{add, {vreg, 2}, {vreg, 2}, {imm, I}}, {xor_, {vreg, 2}, {vreg, 2}, {imm, 5}}])),
                   #{name => <<"f", (integer_to_binary(I))/binary>>, arity => 0, exported => false, params => [], locals => 3,
                     body => [{mov_imm, {vreg, 0}, 0}, {mov_imm, {vreg, 1}, 10}, {label, Label(<<"again">>)},
                              {add, {vreg, 0}, {vreg, 0}, {imm, I}} | Arith]
                         ++ [{sub, {vreg, 1}, {vreg, 1}, {imm, 1}}, {cmp, {vreg, 1}, {imm, 0}},
                             {jcc, gt, {label_ref, Label(<<"again">>)}}, {mov, {preg, Ret}, {vreg, 0}}, ret]}
           end,
    Late = #{name => <<"late">>, arity => 1, exported => false, params => [{vreg, 0}], locals => 3,
             body => [{struct_new, {vreg, 1}, {imm, 16}}, {field_set, {vreg, 1}, {imm, 8}, {vreg, 0}},
                      {field_get, {vreg, 2}, {vreg, 1}, {imm, 8}}, {mov, {preg, Ret}, {vreg, 2}}, ret]},
    Calls = lists:append([[{call, {sym, <<"f", (integer_to_binary(I))/binary>>}}, {mov, {vreg, 1}, {preg, Ret}},
                           {add, {vreg, 0}, {vreg, 0}, {vreg, 1}}] || I <- lists:seq(1, N)]),
    Main = #{name => <<"main">>, arity => 0, exported => true, params => [], locals => 2,
             body => [{mov_imm, {vreg, 0}, 0} | Calls] ++ [{mov, {preg, Arg}, {vreg, 0}}, {call, {sym, <<"late">>}},
                                                        {mov, {vreg, 0}, {preg, Ret}}, {print_int, {vreg, 0}}, ret]},
    Module = fun(Label) -> #{target => list_to_atom(Target), format => elf64, data => [], bss => [], imports => [],
                             functions => [Loop(I, Label) || I <- lists:seq(1, N)] ++ [Main, Late]} end,
    {ok, Bin} = vbeam_native:compile(Module(Unaligned)),
    ?assertEqual({ok, Bin}, vbeam_native:compile(Module(fun(L) -> L end))),
    Exe = filename:join(work_dir(), "large_module_" ++ Target),
    ok = file:write_file(Exe, Bin),
    ok = file:change_mode(Exe, 8#755),
    Sum = 10 * N * (N + 1) div 2,
    ?assertEqual({<<(integer_to_binary(Sum))/binary, "\n">>, 0}, run(Exe, Target)).

%% main/1 exactly as the V compiler calls it, with only the ebin directory
%% on the code path.
command_line_test_() ->
    [{T ++ " " ++ atom_to_list(F), {timeout, 120, fun() -> command_line(T, F) end}}
     || T <- ["x86_64", "arm64"], F <- [elf64, macho]].

command_line(Target, Format) ->
    Ebin = filename:dirname(code:which(vbeam_native)),
    Ir = filename:join(fixtures_dir(), "hello_" ++ Target ++ ".ir"),
    Exe = filename:join(work_dir(), "cli_hello_" ++ Target ++ "." ++ atom_to_list(Format)),
    case file:delete(Exe) of
        ok -> ok;
        {error, enoent} -> ok
    end,
    Cmd = io_lib:format("erl -noshell -pa '~s' -eval 'vbeam_native:main([\"~s\", \"-o\", \"~s\", \"-format\", \"~s\"])' -s init stop; echo \"status=$?\"",
                        [Ebin, Ir, Exe, Format]),
    Output = os:cmd(lists:flatten(Cmd)),
    ?assertNotEqual(nomatch, string:find(Output, "vbeam_native: wrote")),
    ?assertNotEqual(nomatch, string:find(Output, "status=0")),
    {ok, #file_info{mode = Mode}} = file:read_file_info(Exe),
    ?assertEqual(8#755, Mode band 8#777),
    ?assertEqual(expected("hello"), run(Exe, Target, Format)).

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

