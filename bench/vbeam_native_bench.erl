%% @doc Benchmarks of the backend, printing figures (no pass/fail):
%% compile throughput of the NIF called from Erlang (term decoding
%% included) at 1x, 4x and 10x a module of about 100,000 IR instructions,
%% for integer-only and data-type modules, and the run time of the fib(35)
%% binary beside the same C at gcc -O1.
%% Run with `scripts/bench.sh`.
-module(vbeam_native_bench).
-export([main/1, throughput/1, module/3, c_program/1]).

-define(BASE_FUNCTIONS, 300).
-define(FUNCTION_BODY, 330).

%% Entry point for `erl -run`: `throughput Scale Target` measures one size in
%% this (fresh) VM and prints one line; `fib` prints the fib(35) IR path.
main(["throughput", Scale, Target]) ->
    throughput({list_to_integer(Scale), list_to_atom(Target), int}),
    halt(0);
main(["throughput", Scale, Target, Kind]) ->
    throughput({list_to_integer(Scale), list_to_atom(Target), list_to_atom(Kind)}),
    halt(0);
main(["write_fib", Target, Path]) ->
    ok = file:write_file(Path, io_lib:format("~p.~n", [fib_module(list_to_atom(Target))])),
    halt(0);
main(["write_fib_c", Path]) ->
    ok = file:write_file(Path, c_program(fib_module(x86_64))),
    halt(0);
main(["write_program", Functions, IrPath, CPath]) ->
    %% The integer module as the V compiler would write it, and the same
    %% program translated to C.
    Module = module(x86_64, list_to_integer(Functions), int),
    ok = vbeam_native_ir:write_file(IrPath, Module),
    ok = file:write_file(CPath, c_program(Module)),
    halt(0).

%% @doc Compiles a Scale x 100k-instruction module ten times and prints
%% instructions per second (best of the runs: as many at every size, so the
%% sizes are compared fairly on a machine whose speed varies) and the VM's
%% peak resident memory, which includes the NIF's own allocations.
-spec throughput({pos_integer(), x86_64 | arm64, int | data}) -> ok.
throughput({Scale, Target, Kind}) ->
    Module = module(Target, Scale * ?BASE_FUNCTIONS, Kind),
    Insts = lists:sum([length(maps:get(body, F)) || F <- maps:get(functions, Module)]),
    Runs = 10,
    Times = [begin
                 {T, {ok, Bin}} = timer:tc(vbeam_native, compile, [Module]),
                 true = byte_size(Bin) > 0,
                 T
             end || _ <- lists:seq(1, Runs)],
    Best = lists:min(Times),
    io:format("~-7s ~-4s x~-3w ~8w IR instructions  best ~8.1f ms  ~6.2f M inst/s  peak RSS ~6.1f MiB~n",
              [Target, Kind, Scale, Insts, Best / 1000, Insts / Best, peak_rss_kib() / 1024]).

peak_rss_kib() ->
    {ok, Status} = file:read_file("/proc/self/status"),
    [Line] = [L || L <- binary:split(Status, <<"\n">>, [global]), binary:part(L, 0, min(6, byte_size(L))) =:= <<"VmHWM:">>],
    [_, Kib | _] = binary:split(Line, [<<" ">>, <<"\t">>], [global, trim_all]),
    binary_to_integer(Kib).

%% @doc A module of `N` generated functions plus a `main` that calls them;
%% `data' functions also use every data-type instruction.
-spec module(x86_64 | arm64, pos_integer(), int | data) -> map().
module(Target, N, Kind) ->
    Funs = [function(Target, I, Kind) || I <- lists:seq(1, N)],
    Calls = lists:append([[{mov, {preg, arg(Target, 0)}, {imm, I}},
                           {call, {sym, fname(I)}},
                           {mov, {vreg, 1}, {preg, ret(Target)}},
                           {add, {vreg, 0}, {vreg, 0}, {vreg, 1}}] || I <- lists:seq(1, N)]),
    Main = #{name => <<"main">>, arity => 0, exported => true, params => [], locals => 2,
             body => [{mov_imm, {vreg, 0}, 0}] ++ Calls ++ [{print_int, {vreg, 0}}, ret]},
    #{target => Target, format => elf64, functions => Funs ++ [Main, box_method(Target)],
      data => [{<<"text">>, 1, <<"hello">>}], bss => [{<<"scratch">>, 8, 4096}], imports => []}.

box_method(Target) ->
    #{name => <<"Box__get">>, arity => 2, exported => false, params => [{vreg, 0}, {vreg, 1}], locals => 3,
      body => [{field_get, {vreg, 2}, {vreg, 0}, {imm, 0}}, {add, {vreg, 2}, {vreg, 2}, {vreg, 1}},
               {mov, {preg, ret(Target)}, {vreg, 2}}, ret]}.

fname(I) -> <<"f", (integer_to_binary(I))/binary>>.

arg(x86_64, K) -> element(K + 1, {rdi, rsi, rdx, rcx, r8, r9});
arg(arm64, K) -> list_to_atom("x" ++ integer_to_list(K)).
ret(x86_64) -> rax;
ret(arm64) -> x0.

%% A function of about ?FUNCTION_BODY instructions: a counted loop around
%% blocks of arithmetic on a pool of 12 vregs, memory traffic and branches,
%% and calls to earlier functions.
function(Target, I, Kind) ->
    Blocks = lists:append([block(Target, I, B, Kind) || B <- lists:seq(1, ?FUNCTION_BODY div 22)]),
    Body = [{mov_imm, {vreg, 1}, 3}, {lea, {vreg, 2}, {data_ref, <<"scratch">>}},
            {label, <<"top">>}]
        ++ Blocks ++
        [{sub, {vreg, 1}, {vreg, 1}, {imm, 1}}, {cmp, {vreg, 1}, {imm, 0}}, {jcc, gt, <<"top">>},
         {mov, {preg, ret(Target)}, {vreg, 0}}, ret],
    #{name => fname(I), arity => 1, exported => false, params => [{vreg, 0}], locals => 16, body => Body}.

block(Target, I, B, data) ->
    V = fun(K) -> {vreg, 3 + (K rem 12)} end,
    Data = [{string_lit, {vreg, 20}, {data_ref, <<"text">>}, 5}, {string_lit, {vreg, 21}, <<"lit">>},
            {string_concat, {vreg, 22}, {vreg, 20}, {vreg, 21}}, {string_len, V(1), {vreg, 22}},
            {string_cmp, V(2), {vreg, 20}, {vreg, 21}}, {int_to_str, {vreg, 23}, V(3)},
            {array_new, {vreg, 24}, {imm, 8}, {imm, 4}}, {array_set, {vreg, 24}, {imm, 0}, V(4), {imm, 8}},
            {store, {vreg, 24}, 8, {imm, 1}}, {array_append, {vreg, 24}, {vreg, 24}, V(5), {imm, 8}},
            {array_get, V(6), {vreg, 24}, {imm, 1}, {imm, 8}}, {array_len, V(7), {vreg, 24}},
            {struct_new, {vreg, 25}, {imm, 16}}, {field_set, {vreg, 25}, {imm, 8}, V(8)},
            {field_get, V(9), {vreg, 25}, {imm, 8}}, {map_new, {vreg, 26}},
            {map_put, {vreg, 26}, {vreg, 26}, V(1), V(2)}, {map_get, V(10), {vreg, 26}, V(1)},
            {map_delete, {vreg, 26}, {vreg, 26}, V(1)}, {int_to_float, {vreg, 27}, V(3)},
            {fadd, {vreg, 27}, {vreg, 27}, {vreg, 27}}, {fmul, {vreg, 27}, {vreg, 27}, {imm, 4611686018427387904}},
            {fsub, {vreg, 27}, {vreg, 27}, {vreg, 27}}, {fdiv, {vreg, 27}, {vreg, 27}, {imm, 4611686018427387904}},
            {float_to_int, V(11), {vreg, 27}}, {float_to_str, {vreg, 28}, {vreg, 27}},
            {method_call, V(0), <<"Box">>, <<"get">>, [{vreg, 25}, {imm, 1}]}],
    block(Target, I, B, int) ++ Data;
block(Target, I, B, int) ->
    V = fun(K) -> {vreg, 3 + (K rem 12)} end,
    L = <<"b", (integer_to_binary(B))/binary>>,
    Ops = [add, sub, mul, and_, or_, xor_, shl, sar],
    Arith = [{lists:nth(1 + (K + B) rem length(Ops), Ops), V(K + 1), V(K), {imm, K + B}} || K <- lists:seq(0, 9)],
    Call = case I > 1 andalso B rem 5 =:= 0 of
               true -> [{mov, {preg, arg(Target, 0)}, V(B)}, {call, {sym, fname(I - 1)}},
                        {mov, V(B + 1), {preg, ret(Target)}}];
               false -> [{mov, V(B + 1), V(B + 2)}, nop, {comment, <<"no call">>}]
           end,
    [{add, V(0), {vreg, 0}, {imm, B}} | Arith]
        ++ [{store, {vreg, 2}, 8 * (B rem 64), V(3)}, {load, V(4), {vreg, 2}, 8 * ((B + 1) rem 64)},
            {cmp, V(5), V(6)}, {jcc, lt, L}, {add, {vreg, 0}, {vreg, 0}, V(7)}, {label, L},
            {add, {vreg, 0}, {vreg, 0}, V(8)}]
        ++ Call.

%% The spec's worked example without the greeting: prints fib(35).
fib_module(Target) ->
    R = ret(Target), A = arg(Target, 0),
    Fib = #{name => <<"fib">>, arity => 1, exported => false, params => [{vreg, 0}], locals => 6,
            body => [{cmp, {vreg, 0}, {imm, 2}}, {jcc, ge, <<"rec">>},
                     {mov, {preg, R}, {vreg, 0}}, ret,
                     {label, <<"rec">>},
                     {sub, {vreg, 1}, {vreg, 0}, {imm, 1}}, {mov, {preg, A}, {vreg, 1}},
                     {call, {sym, <<"fib">>}}, {mov, {vreg, 2}, {preg, R}},
                     {sub, {vreg, 3}, {vreg, 0}, {imm, 2}}, {mov, {preg, A}, {vreg, 3}},
                     {call, {sym, <<"fib">>}}, {mov, {vreg, 4}, {preg, R}},
                     {add, {vreg, 5}, {vreg, 2}, {vreg, 4}}, {mov, {preg, R}, {vreg, 5}}, ret]},
    Main = #{name => <<"main">>, arity => 0, exported => true, params => [], locals => 2,
             body => [{mov_imm, {vreg, 0}, 35}, {mov, {preg, A}, {vreg, 0}},
                      {call, {sym, <<"fib">>}}, {mov, {vreg, 1}, {preg, R}},
                      {print_int, {vreg, 1}}, ret]},
    #{target => Target, format => elf64, functions => [Fib, Main], data => [], bss => [], imports => []}.

%% @doc The integer IR (x86_64) of a module as a C program doing the same:
%% physical registers are globals (the IR passes arguments and results in
%% them), virtual registers and stack slots are locals, labels are goto
%% targets, `cmp' + `jcc' an `if'. Arithmetic is on unsigned 64-bit values
%% (it wraps, as the IR's does); comparisons and `sar' on signed ones.
-spec c_program(map()) -> iolist().
c_program(#{functions := Funs} = M) ->
    Pregs = lists:usort([R || #{body := B} <- Funs, I <- B, is_tuple(I), {preg, R} <- tuple_to_list(I)]
                        ++ [rax, rdi, rsi, rdx, rcx, r8, r9]),
    Data = [c_data(N, A, B) || {N, A, B} <- maps:get(data, M, [])],
    Bss = [io_lib:format("static unsigned char ~s[~B] __attribute__((aligned(~B)));~n", [c_name(d, N), Size, A])
           || {N, A, Size} <- maps:get(bss, M, [])],
    Protos = [io_lib:format("static void ~s(void);~n", [c_name(f, N)]) || #{name := N} <- Funs],
    ["#include <stdio.h>\ntypedef unsigned long u64;\ntypedef long i64;\n",
     [io_lib:format("static u64 ~s;~n", [R]) || R <- Pregs],
     Data, Bss, Protos,
     [c_function(F) || F <- Funs],
     "int main(void) { ", c_name(f, <<"main">>), "(); return 0; }\n"].

c_data(Name, Align, Bytes) when is_binary(Bytes) ->
    io_lib:format("static unsigned char ~s[] __attribute__((aligned(~B))) = {~s};~n",
                  [c_name(d, Name), Align, lists:join(",", [integer_to_list(B) || <<B>> <= <<Bytes/binary, 0>>])]).

c_name(f, N) -> ["fn_", c_ident(N)];
c_name(d, N) -> ["d_", c_ident(N)];
c_name(l, N) -> ["L_", c_ident(N)].

c_ident(N) -> [if (C >= $a andalso C =< $z) orelse (C >= $A andalso C =< $Z) orelse (C >= $0 andalso C =< $9) -> C;
                  true -> io_lib:format("_~2.16.0B", [C]) end || <<C>> <= N].

c_function(#{name := Name, params := Params, body := Body}) ->
    Vregs = lists:usort([N || I <- Body ++ [list_to_tuple(Params)], is_tuple(I), {vreg, N} <- tuple_to_list(I)]),
    Slots = lists:usort([N || I <- Body, is_tuple(I), {stack, N} <- tuple_to_list(I)]),
    Args = [rdi, rsi, rdx, rcx, r8, r9],
    {Stmts, _} = lists:mapfoldl(fun c_inst/2, none, Body),
    ["static void ", c_name(f, Name), "(void) {\n",
     [io_lib:format("  u64 v~B = 0;~n", [V]) || V <- Vregs],
     case Slots of [] -> []; _ -> io_lib:format("  u64 s[~B];~n", [lists:max(Slots) + 1]) end,
     [io_lib:format("  v~B = ~s;~n", [V, A]) || {{vreg, V}, A} <- lists:zip(Params, lists:sublist(Args, length(Params)))],
     Stmts, "}\n"].

c_op({vreg, N}) -> io_lib:format("v~B", [N]);
c_op({preg, R}) -> atom_to_list(R);
c_op({stack, N}) -> io_lib:format("s[~B]", [N]);
c_op({imm, I}) -> c_imm(I);
c_op(I) when is_integer(I) -> c_imm(I).

c_imm(I) when I < 0 -> io_lib:format("(u64)(~BLL)", [I]);
c_imm(I) -> io_lib:format("~BULL", [I]).

c_cond(eq) -> {"==", "i64"}; c_cond(ne) -> {"!=", "i64"};
c_cond(lt) -> {"<", "i64"}; c_cond(le) -> {"<=", "i64"};
c_cond(gt) -> {">", "i64"}; c_cond(ge) -> {">=", "i64"};
c_cond(ltu) -> {"<", "u64"}; c_cond(leu) -> {"<=", "u64"};
c_cond(gtu) -> {">", "u64"}; c_cond(geu) -> {">=", "u64"}.

%% One statement; the state is the last cmp's operands.
c_inst({mov_imm, D, I}, Cmp) -> {["  ", c_op(D), " = ", c_imm(I), ";\n"], Cmp};
c_inst({mov, D, S}, Cmp) -> {["  ", c_op(D), " = ", c_op(S), ";\n"], Cmp};
c_inst({lea, D, {data_ref, N}}, Cmp) -> {["  ", c_op(D), " = (u64)", c_name(d, N), ";\n"], Cmp};
c_inst({label, L}, Cmp) -> {[c_name(l, L), ":;\n"], Cmp};
c_inst({Op, D, A, B}, Cmp) when Op =:= add; Op =:= sub; Op =:= mul; Op =:= and_; Op =:= or_; Op =:= xor_ ->
    Sym = maps:get(Op, #{add => "+", sub => "-", mul => "*", and_ => "&", or_ => "|", xor_ => "^"}),
    {["  ", c_op(D), " = ", c_op(A), " ", Sym, " ", c_op(B), ";\n"], Cmp};
c_inst({shl, D, A, B}, Cmp) -> {["  ", c_op(D), " = ", c_op(A), " << (", c_op(B), " & 63);\n"], Cmp};
c_inst({shr, D, A, B}, Cmp) -> {["  ", c_op(D), " = ", c_op(A), " >> (", c_op(B), " & 63);\n"], Cmp};
c_inst({sar, D, A, B}, Cmp) -> {["  ", c_op(D), " = (u64)((i64)", c_op(A), " >> (", c_op(B), " & 63));\n"], Cmp};
c_inst({store, B, Off, S}, Cmp) -> {["  *(u64 *)(", c_op(B), " + ", c_op(Off), ") = ", c_op(S), ";\n"], Cmp};
c_inst({load, D, B, Off}, Cmp) -> {["  ", c_op(D), " = *(u64 *)(", c_op(B), " + ", c_op(Off), ");\n"], Cmp};
c_inst({field_get, D, S, {imm, Off}}, Cmp) -> {["  ", c_op(D), " = *(u64 *)(", c_op(S), " + ", c_imm(Off), ");\n"], Cmp};
c_inst({cmp, A, B}, _) -> {[], {A, B}};
c_inst({jcc, C, L}, {A, B} = Cmp) ->
    {Op, T} = c_cond(C),
    {["  if ((", T, ")", c_op(A), " ", Op, " (", T, ")", c_op(B), ") goto ", c_name(l, L), ";\n"], Cmp};
c_inst({jmp, L}, Cmp) -> {["  goto ", c_name(l, L), ";\n"], Cmp};
c_inst({call, {sym, F}}, Cmp) -> {["  ", c_name(f, F), "();\n"], Cmp};
c_inst(ret, Cmp) -> {"  return;\n", Cmp};
c_inst(nop, Cmp) -> {[], Cmp};
c_inst({comment, _}, Cmp) -> {[], Cmp};
c_inst({print_int, S}, Cmp) -> {["  printf(\"%ld\\n\", (i64)", c_op(S), ");\n"], Cmp}.
