%% @doc The ARM64 encoder: one instruction term to machine code (little
%% endian words), e.g. `encode({add, x0, x1, x2})' is
%% `{ok, <<16#20,16#00,16#02,16#8B>>}' (the word 16#8B020020).
%% Forms: `{add|sub|adds|subs|and|orr|eor, Xd, Xn, Xm | {imm, 0..4095}}',
%% `{mov, Xd, Xm | {imm, I}}' (1-4 words), `{cmp, Xn, Xm | {imm, I}}',
%% `{lsl|lsr|asr, Xd, Xn, Xm | {imm, N}}', `{mul|sdiv, Xd, Xn, Xm}',
%% `{ldr|str, Xt, {mem, Xn, Off}}', `{blr, Xn}', `{svc, N}', `ret'.
-module(vbeam_native_arm64).
-export([encode/1, word/1]).

-spec encode(tuple() | atom()) -> {ok, binary()} | {error, term()}.
encode(Instruction) ->
    vbeam_native_nif:encode(arm64, Instruction).

%% @doc The single 32-bit word of a one-word instruction.
-spec word(tuple() | atom()) -> {ok, non_neg_integer()} | {error, term()}.
word(Instruction) ->
    case encode(Instruction) of
        {ok, <<W:32/little>>} -> {ok, W};
        {ok, Bin} -> {error, {not_one_word, Bin}};
        Error -> Error
    end.
