%% @doc The NIF fuzzed inside a live VM, for a bounded time: the fixtures
%% and small generated modules, mutated (operands of the wrong kind, huge
%% integers, sparse vregs, missing labels, instructions deleted, duplicated
%% and swapped, improper lists, any term anywhere), random terms, huge and
%% deep terms, sub-binaries and bit strings, and random target/format
%% arguments. Every call of `vbeam_native:compile/1,3' must return
%% `{ok, Binary}' or `{error, Reason}', never `{error, {internal_error, _}}'
%% (a caught panic) nor an exception, and the VM must survive.
%%
%% VBEAM_FUZZ_SECONDS sets the time (default 20 s), VBEAM_FUZZ_SEED the
%% seed (default: from the clock; printed either way, with every failing
%% input, for replay).
-module(vbeam_native_fuzz_tests).
-include_lib("eunit/include/eunit.hrl").

-define(DEFAULT_SECONDS, 20).
%% Failing inputs printed at most, and saved (as term_to_binary) under
%% _build/fuzz_failures.
-define(MAX_REPORTED, 5).

fuzz_test_() ->
    Seconds = env_int("VBEAM_FUZZ_SECONDS", ?DEFAULT_SECONDS),
    {timeout, Seconds * 3 + 120, fun() -> run(Seconds) end}.

%% The fixed torture cases, once each, before the random ones.
torture_test_() ->
    {timeout, 300, fun torture/0}.

run(Seconds) ->
    Seed = env_int("VBEAM_FUZZ_SEED", erlang:system_time(microsecond) rem 1000000007),
    io:format(user, "~nvbeam_native_fuzz_tests: seed ~B (VBEAM_FUZZ_SEED), ~B s~n", [Seed, Seconds]),
    _ = rand:seed(exsss, {Seed, Seed bxor 16#5DEECE66D, 12345}),
    Bases = fixtures(),
    Deadline = erlang:monotonic_time(millisecond) + Seconds * 1000,
    {Calls, Ok, Failures} = loop(Bases, Deadline, 0, 0, []),
    io:format(user, "vbeam_native_fuzz_tests: ~B calls, ~B compiled, ~B internal errors or exceptions~n",
              [Calls, Ok, length(Failures)]),
    report(Seed, lists:reverse(Failures)),
    still_alive(Bases),
    ?assertEqual([], [Result || {_, Result} <- Failures]).

loop(Bases, Deadline, Calls, Ok, Failures) ->
    case erlang:monotonic_time(millisecond) >= Deadline of
        true ->
            {Calls, Ok, Failures};
        false ->
            Input = input(Bases),
            {Compiled, Failures1} = check(Input, Failures),
            loop(Bases, Deadline, Calls + 1, Ok + Compiled, Failures1)
    end.

%% One call's arguments: a module (mutated base, generated, or any term)
%% and the target and format to pass.
input(Bases) ->
    Module = case rand:uniform(10) of
                 N when N =< 5 -> mutate_n(pick(Bases), rand:uniform(4) - 1);
                 N when N =< 8 -> mutate_n(generate(), rand:uniform(3) - 1);
                 9 -> junk();
                 10 -> mutate_n(pick(Bases), 3 + rand:uniform(10))
             end,
    case rand:uniform(4) of
        1 -> {Module};
        _ -> {Module, override(target), override(format)}
    end.

override(Key) ->
    case rand:uniform(10) of
        N when N =< 4 -> undefined;
        N when N =< 8 -> pick(case Key of target -> [x86_64, arm64]; format -> [elf64, macho, pe] end);
        _ -> junk()
    end.

%% Calls compile; returns whether it compiled, and the failures so far.
check(Input, Failures) ->
    Result = try call(Input) of
                 R -> R
             catch
                 Class:Reason -> {exception, Class, Reason}
             end,
    case Result of
        {ok, Bin} when is_binary(Bin), byte_size(Bin) > 0 -> {1, Failures};
        {error, {internal_error, _}} -> {0, [{Input, Result} | Failures]};
        {error, _} -> {0, Failures};
        _ -> {0, [{Input, Result} | Failures]}
    end.

call({Module}) -> vbeam_native:compile(Module);
call({Module, Target, Format}) -> vbeam_native:compile(Module, Target, Format).

report(_Seed, []) ->
    ok;
report(Seed, Failures) ->
    Dir = filename:join(root(), "_build/fuzz_failures"),
    ok = filelib:ensure_path(Dir),
    lists:foreach(
      fun({I, {Input, Result}}) ->
              File = filename:join(Dir, io_lib:format("seed_~B_~B.etf", [Seed, I])),
              ok = file:write_file(File, term_to_binary(Input)),
              io:format(user, "vbeam_native_fuzz_tests: FAILURE ~B (seed ~B), input saved as ~s:~n  ~P~n  -> ~P~n",
                        [I, Seed, File, Input, 30, Result, 30])
      end,
      lists:zip(lists:seq(1, min(?MAX_REPORTED, length(Failures))), lists:sublist(Failures, ?MAX_REPORTED))).

%% The VM and the NIF still work after all that.
still_alive(Bases) ->
    [Hello | _] = [B || B <- Bases, maps:get(target, B, none) =:= x86_64],
    ?assertMatch({ok, <<16#7f, "ELF", _/binary>>}, vbeam_native:compile(Hello)),
    ?assert(is_process_alive(self())).

%% ---------------------------------------------------------------------
%% Bases: the fixtures, and small generated modules.

fixtures() ->
    Files = lists:sort(filelib:wildcard(filename:join(root(), "test/fixtures/*.ir"))),
    [T || F <- Files, {ok, [T]} <- [file:consult(F)]].

root() ->
    find_root(filename:dirname(code:which(?MODULE))).

find_root("/") -> error(no_repository_root);
find_root(Dir) ->
    case filelib:is_regular(filename:join(Dir, "rebar.config")) of
        true -> Dir;
        false -> find_root(filename:dirname(Dir))
    end.

%% A module of a few functions of mostly well-formed instructions.
generate() ->
    Target = pick([x86_64, arm64]),
    Data = [{<<"d", (integer_to_binary(I))/binary>>, pick([1, 8, 16]), rand_bytes(rand:uniform(16) - 1)}
            || I <- lists:seq(0, rand:uniform(3) - 1)],
    Names = [<<"f", (integer_to_binary(I))/binary>> || I <- lists:seq(1, rand:uniform(3) - 1)],
    Functions = [function(Target, N, rand:uniform(4) - 1, Names, Data) || N <- Names]
        ++ [function(Target, <<"main">>, 0, Names, Data)],
    #{target => Target, format => pick([elf64, elf64, macho, pe]), functions => Functions,
      data => Data, bss => [{<<"b0">>, 8, 64}], imports => []}.

function(Target, Name, Arity, Names, Data) ->
    Locals = Arity + rand:uniform(12),
    Body = lists:append([statement(Target, Locals, Names, Data) || _ <- lists:seq(1, rand:uniform(25))]),
    Labels = lists:usort([L || {jmp, L} <- Body] ++ [L || {jcc, _, L} <- Body]),
    #{name => Name, arity => Arity, exported => Name =:= <<"main">>,
      params => [{vreg, V} || V <- lists:seq(0, Arity - 1)], locals => Locals,
      body => Body ++ [{label, L} || L <- Labels] ++ [ret]}.

statement(Target, Locals, Names, Data) ->
    V = fun() -> {vreg, rand:uniform(Locals) - 1} end,
    S = fun() -> case rand:uniform(3) of 1 -> {imm, int()}; _ -> V() end end,
    Args = case Target of x86_64 -> [rdi, rsi, rdx, rcx]; arm64 -> [x0, x1, x2, x3] end,
    Result = case Target of x86_64 -> rax; arm64 -> x0 end,
    Label = fun() -> <<"L", (integer_to_binary(rand:uniform(3)))/binary>> end,
    case rand:uniform(20) of
        1 -> [{mov_imm, V(), int()}];
        2 -> [{pick([add, sub, mul, and_, or_, xor_, sdiv, srem, shl, shr, sar]), V(), V(), S()}];
        3 -> [{cmp, V(), S()}, {jcc, pick([eq, ne, lt, ge, ltu, gtu]), Label()}];
        4 -> [{jmp, Label()}];
        5 -> [{mov, {preg, A}, S()} || A <- lists:sublist(Args, rand:uniform(3) - 1)]
                 ++ [{call, {sym, pick([<<"println">>, <<"int__str">> | Names])}}, {mov, V(), {preg, Result}}];
        6 -> [{load, V(), V(), 8 * rand:uniform(4)}, {store, V(), 0, S()}];
        7 -> [{string_lit, V(), rand_bytes(rand:uniform(8))}, {print_str, V()}];
        8 when Data =/= [] -> [{string_lit, V(), {data_ref, element(1, pick(Data))}}];
        9 -> [{array_new, V(), {imm, 8}, {imm, rand:uniform(8)}}, {array_append, V(), V(), S(), {imm, 8}}];
        10 -> [{map_new, V()}, {map_put, V(), V(), S(), S()}, {map_get, V(), V(), S()}];
        11 -> [{struct_new, V(), {imm, 16}}, {field_set, V(), {imm, 8}, S()}, {field_get, V(), V(), {imm, 8}}];
        12 -> [{pick([fadd, fsub, fmul, fdiv]), V(), S(), S()}, {print_float, V()}];
        13 -> [{int_to_str, V(), S()}, {string_concat, V(), V(), V()}, {string_len, V(), V()}];
        14 -> [{print_int, S()}];
        15 -> [{push, S()}, {pop, V()}];
        16 -> [{method_call, V(), <<"int literal">>, <<"str">>, [S()]}];
        17 -> [{neg, V(), S()}, {not_, V()}];
        18 -> [{mov, {stack, rand:uniform(4) - 1}, S()}, {mov, V(), {stack, 0}}];
        _ -> [nop]
    end.

%% ---------------------------------------------------------------------
%% Mutations.

mutate_n(Term, 0) -> Term;
mutate_n(Term, N) -> mutate_n(mutate(Term), N - 1).

mutate(Module) ->
    Fs = case Module of #{functions := Functions} -> Functions; _ -> none end,
    case {rand:uniform(10), proper_length(Fs)} of
        {N, Len} when N =< 5, is_integer(Len), Len > 0 ->
            I = rand:uniform(Len),
            F = lists:nth(I, Fs),
            Module#{functions := replace_nth(I, Fs, mutate_function(F))};
        _ ->
            replace_random(Module, 0)
    end.

mutate_function(#{body := Body} = F) ->
    case proper_length(Body) of
        Len when is_integer(Len), Len > 0 -> F#{body := mutate_body(Body, Len)};
        _ -> replace_random(F, 0)
    end;
mutate_function(F) ->
    replace_random(F, 0).

mutate_body(Body, Len) ->
    I = rand:uniform(Len),
    Inst = lists:nth(I, Body),
    case rand:uniform(6) of
        1 -> lists:sublist(Body, I - 1) ++ lists:nthtail(I, Body);
        2 -> lists:sublist(Body, I) ++ [Inst] ++ lists:nthtail(I, Body);
        3 -> J = rand:uniform(Len),
             replace_nth(J, replace_nth(I, Body, lists:nth(J, Body)), Inst);
        4 -> lists:sublist(Body, I) ++ [pick([ret, nop, syscall, {label, <<"L1">>}, {jmp, <<"L9">>}])]
                 ++ lists:nthtail(I, Body);
        _ -> replace_nth(I, Body, replace_random(Inst, 1))
    end.

%% Replaces a random subterm (at depth >= Min) with a random term.
replace_random(Term, Depth) when is_map(Term), map_size(Term) > 0 ->
    case rand:uniform(4) of
        1 when Depth > 0 -> junk();
        2 -> maps:put(junk(), junk(), Term);
        _ -> K = pick(maps:keys(Term)),
             maps:put(K, replace_random(maps:get(K, Term), Depth + 1), Term)
    end;
replace_random(Term, Depth) when is_tuple(Term), tuple_size(Term) > 0 ->
    case rand:uniform(3) of
        1 when Depth > 0 -> junk();
        _ -> I = rand:uniform(tuple_size(Term)),
             setelement(I, Term, replace_random(element(I, Term), Depth + 1))
    end;
replace_random([_ | _] = Term, Depth) ->
    case proper_length(Term) of
        undefined ->
            junk();
        Len ->
            case rand:uniform(5) of
                1 when Depth > 0 -> junk();
                2 -> improper(Term);
                _ -> I = rand:uniform(Len),
                     replace_nth(I, Term, replace_random(lists:nth(I, Term), Depth + 1))
            end
    end;
replace_random(_Term, _Depth) ->
    junk().

proper_length(L) when is_list(L) ->
    try length(L) catch error:badarg -> undefined end;
proper_length(_) ->
    undefined.

%% The list with its last tail made a non-list.
-dialyzer({no_improper_lists, improper/1}).
improper([X]) -> [X | pick([foo, {}, <<>>, 1])];
improper([X | Rest]) -> [X | improper(Rest)].

replace_nth(I, List, X) ->
    lists:sublist(List, I - 1) ++ [X] ++ lists:nthtail(I, List).

%% ---------------------------------------------------------------------
%% Random terms.

int() ->
    case rand:uniform(6) of
        1 -> pick([0, 1, -1, 255, 256, 4096, 1 bsl 31, -(1 bsl 31), 1 bsl 32, 1 bsl 63 - 1, -(1 bsl 63),
                   1 bsl 63, 1 bsl 64 - 1]);
        2 -> rand:uniform(1 bsl 64) - 1 - (1 bsl 63);
        _ -> rand:uniform(2001) - 1001
    end.

rand_bytes(N) -> rand:bytes(N).

-dialyzer({no_improper_lists, junk/0}).
junk() ->
    case rand:uniform(40) of
        1 -> pick([1 bsl 64, -(1 bsl 63) - 1, 1 bsl 1000, -(1 bsl 1000), 1 bsl 64 - 1, -(1 bsl 64)]);
        2 -> int();
        3 -> pick([1.5, -0.0, 1.0e300]);
        4 -> pick([vreg, preg, imm, stack, ret, main, x0, rax, sp, rsp, x29, undefined, true, '', 'x31', r16]);
        5 -> list_to_atom(lists:duplicate(255, $a));
        6 -> pick([<<>>, <<"main">>, <<255, 254>>, <<"L1">>, <<"d0">>, <<"__vbeam_alloc">>]);
        7 -> binary:copy(<<"x">>, 1 bsl 20);
        8 -> binary:part(binary:copy(<<"main">>, 8), 1, 4);
        9 -> <<1:3>>;
        10 -> <<"main", 1:1>>;
        11 -> [];
        12 -> [ret | foo];
        13 -> deep_list(100000);
        14 -> lists:duplicate(100000, nop);
        15 -> "abc";
        16 -> {};
        17 -> {vreg};
        18 -> {vreg, pick([-1, 1 bsl 32, 1 bsl 32 - 1, 1 bsl 64, 1 bsl 31, a])};
        19 -> {preg, pick([sp, x0, rax, x18, r15, x28, fp, lr, xzr, eax, 'x31'])};
        20 -> {imm, pick([1 bsl 64, -(1 bsl 63) - 1, 1.0, <<"1">>, 1 bsl 63])};
        21 -> {stack, pick([-1, 1 bsl 24, 1 bsl 24 - 1, 1 bsl 32])};
        22 -> deep_tuple(100000);
        23 -> erlang:make_tuple(1000, {vreg, 0});
        24 -> #{};
        25 -> #{1 => 2, <<"target">> => x86_64};
        26 -> maps:from_list([{I, I} || I <- lists:seq(1, 100)]);
        27 -> self();
        28 -> make_ref();
        29 -> fun() -> ok end;
        30 -> {label_ref, pick([<<"L1">>, <<>>, 1])};
        31 -> {data_ref, pick([<<"d0">>, <<"nope">>, <<255>>])};
        32 -> {sym, pick([<<"main">>, <<"println">>, <<"main.T__m">>, <<"nope">>, main])};
        33 -> {pick([add, mov, call, jcc, label, string_lit, method_call, raw]), {vreg, 0}};
        34 -> [{vreg, 0} | {vreg, 1}];
        35 -> deep_map(10000);
        36 -> {raw, rand_bytes(rand:uniform(9))};
        37 -> lists:duplicate(1000, {vreg, 0});
        38 -> {vreg, {{{[[[{}]]]}}}};
        _ -> {imm, int()}
    end.

deep_list(0) -> [];
deep_list(N) -> [deep_list(N - 1)].

deep_tuple(0) -> {};
deep_tuple(N) -> {deep_tuple(N - 1)}.

deep_map(0) -> #{};
deep_map(N) -> #{body => deep_map(N - 1)}.

pick(List) -> lists:nth(rand:uniform(length(List)), List).

env_int(Name, Default) ->
    case os:getenv(Name) of
        false -> Default;
        Value -> list_to_integer(Value)
    end.

%% ---------------------------------------------------------------------
%% Fixed cases: huge and deep terms at each position that holds a list,
%% and a large module (compiled by several threads) broken deep inside.

-dialyzer({no_improper_lists, torture/0}).
torture() ->
    [Base | _] = [B || B <- fixtures(), maps:get(target, B, none) =:= x86_64],
    #{functions := [F | _] = Fs} = Base,
    Deep = deep_list(1000000),
    DeepTuple = deep_tuple(1000000),
    Huge = lists:duplicate(1000000, nop),
    Cases =
        [Deep, DeepTuple, Huge, [Base | Base], deep_map(100000),
         Base#{functions := Deep}, Base#{functions := Fs ++ foo}, Base#{functions := [F | F]},
         Base#{data := Deep}, Base#{data := [{<<"d">>, 1, <<>>} | x]},
         Base#{data := [{<<"d">>, 8, [{data_ref, <<"d">>} | x]}]},
         Base#{data := [{<<"d">>, 1, binary:copy(<<0>>, 10000000)}]},
         Base#{data := [{<<"d">>, 16, [binary:part(binary:copy(<<1>>, 64), 3, 8), {sym, <<"main">>}]}]},
         Base#{bss := [{<<"b">>, 8, 1 bsl 63}, {<<"c">>, 8, 1 bsl 63}]},
         Base#{imports := Deep}, Base#{target := DeepTuple},
         Base#{functions := [F#{body => Deep}]}, Base#{functions := [F#{body => [ret | Deep]}]},
         Base#{functions := [F#{body => [{add, {vreg, 0}, {vreg, 0}, DeepTuple}]}]},
         Base#{functions := [F#{params => Deep}]}, Base#{functions := [F#{params => [{vreg, 0} | x]}]},
         Base#{functions := [F#{name => <<0:1, "main">>}]},
         Base#{functions := [F#{name => binary:part(<<"xmainx">>, 1, 4), body => Huge ++ [ret]}]},
         Base#{functions := [F#{body => [{method_call, {vreg, 0}, <<"T">>, <<"m">>, [{vreg, 1} | x]}, ret]}]},
         Base#{functions := [F#{body => [{raw, <<1:7>>}, ret]}]},
         large_broken_module(x86_64), large_broken_module(arm64)],
    Results = [{C, catch vbeam_native:compile(C)} || C <- Cases],
    Bad = [{I, R} || {I, {_, R}} <- lists:zip(lists:seq(1, length(Results)), Results),
                     not is_ok_or_error(R)],
    still_alive(fixtures()),
    ?assertEqual([], Bad).

is_ok_or_error({ok, B}) -> is_binary(B);
is_ok_or_error({error, {internal_error, _}}) -> false;
is_ok_or_error({error, _}) -> true;
is_ok_or_error(_) -> false.

%% 300 functions of 100 instructions (read by worker threads), one of them
%% with an improper body and one with a bad instruction.
-dialyzer({no_improper_lists, large_broken_module/1}).
large_broken_module(Target) ->
    Ret = case Target of x86_64 -> rax; arm64 -> x0 end,
    Fun = fun(I, Body) -> #{name => <<"f", (integer_to_binary(I))/binary>>, arity => 0, params => [], locals => 2,
                             body => Body} end,
    Plain = [{add, {vreg, 0}, {vreg, 0}, {imm, 1}} || _ <- lists:seq(1, 100)] ++ [{mov, {preg, Ret}, {vreg, 0}}, ret],
    Fs = [case I of
              150 -> Fun(I, Plain ++ bad_tail);
              220 -> Fun(I, [{add, {imm, 1}} | Plain]);
              _ -> Fun(I, [{mov_imm, {vreg, 0}, I} | Plain])
          end || I <- lists:seq(1, 300)],
    Main = #{name => <<"main">>, arity => 0, exported => true, params => [], locals => 1, body => [ret]},
    #{target => Target, format => elf64, functions => Fs ++ [Main], data => [], bss => [], imports => []}.
