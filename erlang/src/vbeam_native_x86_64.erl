%% @doc The x86_64 encoder: one instruction term to machine code, e.g.
%% `encode({mov, rax, {imm, 42}})' is `{ok, <<16#48,16#C7,16#C0,42,0,0,0>>}'.
%% Forms: `{mov, Dst, Src}' (registers, `{imm, I}', `{mem, Base, Disp}'),
%% `{add|sub|and|or|xor|cmp, R, R | {imm, I}}', `{shl|shr|sar, R, cl | {imm, N}}',
%% `{imul, R, R}', `{imul, R, R, {imm, I}}', `{lea, R, {mem, B, D}}',
%% `{test, R, R}', `{neg|not|idiv|pop|call, R}', `{push, R | {imm, I}}',
%% `cqo', `ret', `syscall', `ud2'.
-module(vbeam_native_x86_64).
-export([encode/1]).

-spec encode(tuple() | atom()) -> {ok, binary()} | {error, term()}.
encode(Instruction) ->
    vbeam_native_nif:encode(x86_64, Instruction).
