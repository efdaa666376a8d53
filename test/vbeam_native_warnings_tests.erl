%% @doc Warnings, the signatures of front-end bugs in IR that compiles: a
%% vreg read that no path writes and a `cmp' of a register with itself,
%% returned by `compile/2' and `compile_file/2' with `warnings => true' and
%% printed by the command line on stderr with their positions; the
%% executable is the same with or without them.
-module(vbeam_native_warnings_tests).
-include_lib("eunit/include/eunit.hrl").

%% Line 4 reads vreg 5, which nothing writes; line 5 compares vreg 0 with
%% itself.
-define(TEXT,
"#{target => x86_64, format => elf64,
  functions => [
    #{name => <<\"main\">>, arity => 0, exported => true, params => [], locals => 6,
      body => [{mov, {preg, rdi}, {vreg, 5}}, {mov_imm, {vreg, 0}, 1},
               {cmp, {vreg, 0}, {vreg, 0}}, {jcc, eq, <<\"done\">>},
               {label, <<\"done\">>}, {print_int, {vreg, 0}}, ret]}],
  data => [], bss => [], imports => []}.
").

-define(WARNINGS, [{unwritten_read, <<"main">>, 1, 5}, {cmp_with_itself, <<"main">>, 3, {vreg, 0}}]).

source() ->
    Path = filename:join(vbeam_native_test_dir:dir("warnings"), "w.ir"),
    ok = file:write_file(Path, ?TEXT),
    Path.

module() ->
    {ok, Tokens, _} = erl_scan:string(?TEXT),
    {ok, Term} = erl_parse:parse_term(Tokens),
    Term.

api_test() ->
    M = module(),
    {ok, Plain} = vbeam_native:compile(M),
    ?assertEqual({ok, Plain, ?WARNINGS}, vbeam_native:compile(M, #{warnings => true})),
    ?assertEqual({ok, Plain, ?WARNINGS}, vbeam_native:compile(M, [{warnings, true}, {target, x86_64}])),
    ?assertEqual({ok, Plain}, vbeam_native:compile(M, #{warnings => false})),
    Path = source(),
    ?assertEqual({ok, Plain, ?WARNINGS}, vbeam_native:compile_file(Path, #{warnings => true})),
    ?assertEqual({ok, Plain}, vbeam_native:compile_file(Path, #{})),
    %% A module that does not compile gives its error, warnings or not.
    Bad = M#{target => x86},
    ?assertEqual(vbeam_native:compile(Bad), vbeam_native:compile(Bad, #{warnings => true})).

format_test() ->
    ?assertEqual([<<"main, instruction 1: vreg 5 is read but no path writes it">>,
                  <<"main, instruction 3: cmp of vreg 0 with itself">>],
                 [iolist_to_binary(vbeam_native:format_warning(W)) || W <- ?WARNINGS]),
    ?assertEqual(<<"f, instruction 2: cmp of rax with itself">>,
                 iolist_to_binary(vbeam_native:format_warning({cmp_with_itself, <<"f">>, 2, {preg, rax}}))).

command_line_test_() ->
    {timeout, 60, fun() ->
        Path = source(),
        Out = Path ++ ".out",
        Run = fun(Extra) ->
                  Port = open_port({spawn_executable, os:find_executable("erl")},
                                   [{args, ["-noshell", "-pa", filename:dirname(code:which(vbeam_native)), "-eval",
                                            lists:flatten(io_lib:format("vbeam_native:main(~tp)",
                                                                        [[Path, "-o", Out | Extra]]))]},
                                    exit_status, binary, stream]),
                  collect(Port, <<>>)
              end,
        %% The summary on stdout, status 0, nothing on stderr with -w.
        {Stdout, 0} = Run(["-w"]),
        ?assertMatch(<<"vbeam_native: wrote ", _/binary>>, Stdout),
        ?assertEqual("", stderr_of(Path, Out, ["-w"])),
        Stderr = stderr_of(Path, Out, []),
        ?assertEqual([Path ++ ":4:16: warning: main, instruction 1: vreg 5 is read but no path writes it",
                      Path ++ ":5:16: warning: main, instruction 3: cmp of vreg 0 with itself"],
                     string:split(string:trim(Stderr, trailing), "\n", all)),
        %% The same executable either way.
        {ok, Plain} = vbeam_native:compile(module()),
        ?assertEqual({ok, Plain}, file:read_file(Out))
    end}.

collect(Port, Acc) ->
    receive
        {Port, {data, D}} -> collect(Port, <<Acc/binary, D/binary>>);
        {Port, {exit_status, S}} -> {Acc, S}
    after 60000 -> error(timeout)
    end.

%% What the command writes on stderr, through a shell redirection.
stderr_of(Path, Out, Extra) ->
    Args = lists:flatten(io_lib:format("vbeam_native:main(~tp)", [[Path, "-o", Out | Extra]])),
    Cmd = io_lib:format("~ts -noshell -pa '~ts' -eval '~ts' 2>&1 >/dev/null",
                        [os:find_executable("erl"), filename:dirname(code:which(vbeam_native)), Args]),
    os:cmd(lists:flatten(Cmd)).
