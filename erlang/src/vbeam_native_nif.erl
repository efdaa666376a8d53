%% @doc The NIF library of vbeam_native (Rust, `native/vbeam_native_nif').
%% Loaded from the application's `priv' directory, or from `../priv' or the
%% `ebin' directory itself when only `-pa .../ebin' is on the code path (as
%% the V compiler runs the backend). Use the `vbeam_native*' modules instead
%% of calling these functions directly.
%%
%% The module loads even when the library does not: `status/0' then says
%% why (every path searched), and the functions below raise
%% `{nif_not_loaded, Why}', so a caller can report it in one line instead
%% of an `undef' crash.
-module(vbeam_native_nif).
-include_lib("kernel/include/file.hrl").
-export([compile/4, compile_warnings/4, encode/2, allocate/2, link_executable/4, read_terms/1, compile_text/4,
         explain/2,
         status/0, library/0]).
-on_load(load/0).

-define(LIBRARY, "vbeam_native_nif").
-define(STATUS, {?MODULE, status}).

load() ->
    Candidates = [filename:join(Dir, ?LIBRARY) || Dir <- search_dirs()],
    persistent_term:put(?STATUS, try_load(Candidates, [])),
    ok.

search_dirs() ->
    Ebin = filename:absname(filename:dirname(code:which(?MODULE))),
    AppPriv = case code:priv_dir(vbeam_native) of
                  {error, bad_name} -> [];
                  Dir -> [Dir]
              end,
    unique(AppPriv ++ [filename:join(filename:dirname(Ebin), "priv"), Ebin]).

unique([]) -> [];
unique([X | Xs]) -> [X | unique([Y || Y <- Xs, Y =/= X])].

%% Tries each path; the failures, in order, if none loads.
try_load([], Failures) ->
    {error, lists:reverse(Failures)};
try_load([Path | Rest], Failures) ->
    File = Path ++ ".so",
    %% file, not filelib: it is loaded already when the V compiler's VM
    %% starts, and each module loaded costs a millisecond.
    case file:read_file_info(File) of
        {ok, #file_info{type = regular}} ->
            case erlang:load_nif(Path, 0) of
                ok -> ok;
                {error, {_, Text}} -> try_load(Rest, [{File, {load_failed, Text}} | Failures])
            end;
        _ ->
            try_load(Rest, [{File, not_found} | Failures])
    end.

%% @doc `ok' when the library is loaded, else every path searched and what
%% happened there (`not_found' or `{load_failed, Why}').
-spec status() -> ok | {error, [{file:filename(), not_found | {load_failed, term()}}]}.
status() ->
    persistent_term:get(?STATUS, {error, []}).

%% @doc The library's file name.
-spec library() -> string().
library() ->
    ?LIBRARY ++ ".so".

%% The stubs below are replaced by the NIF when the library loads. Their
%% specs are the NIF's: it checks every argument itself and answers
%% `{error, Reason}' (e.g. `{invalid_target, T}', `{invalid_module, T}',
%% `{invalid_binary, code, T}'), so those are `term()'.

%% @doc `Opt' is the optimization level: 0 (the optimizing layer off) or 1.
-spec compile(Module :: term(), Target :: term(), Format :: term(), Opt :: 0 | 1) ->
          {ok, binary()} | {error, term()}.
compile(_Module, _Target, _Format, _Opt) -> erlang:nif_error({nif_not_loaded, status()}).

%% @doc As `compile/4', with the module's warnings (see
%% `vbeam_native:format_warning/1'): `{ok, Executable, Warnings}'.
-spec compile_warnings(Module :: term(), Target :: term(), Format :: term(), Opt :: 0 | 1) ->
          {ok, binary(), [vbeam_native:warning()]} | {error, term()}.
compile_warnings(_Module, _Target, _Format, _Opt) -> erlang:nif_error({nif_not_loaded, status()}).

-spec encode(Target :: term(), Instruction :: term()) -> {ok, binary()} | {error, term()}.
encode(_Target, _Instruction) -> erlang:nif_error({nif_not_loaded, status()}).

-spec allocate(Target :: term(), Function :: term()) -> {ok, map()} | {error, term()}.
allocate(_Target, _Function) -> erlang:nif_error({nif_not_loaded, status()}).

-spec link_executable(Target :: term(), Format :: term(), Code :: term(), Data :: term()) ->
          {ok, binary()} | {error, term()}.
link_executable(_Target, _Format, _Code, _Data) -> erlang:nif_error({nif_not_loaded, status()}).

%% @doc The terms of `.ir' text, as `file:consult/1' reads a file:
%% `{ok, Terms}' or `{error, {Line, Column, Message}}' (or
%% `{error, {internal_error, Text}}' for a bug).
-spec read_terms(Text :: term()) -> {ok, [term()]} | {error, term()}.
read_terms(_Text) -> erlang:nif_error({nif_not_loaded, status()}).

%% @doc Compiles the module of `.ir' text as `Flags' say (`warnings',
%% `stats': booleans, default false; `opt': 0 or 1, default 1; `listing':
%% the text's name, a binary, to list the code naming places in it):
%% `{ok, Executable, Info}' (Info: `target', `format', `size', `check_us',
%% `compile_us'; with `warnings', `warnings', a list of
%% `{Warning, Line, Column}'; with `stats', `pass_us', a list of
%% `{Pass :: binary(), Microseconds}' in the order the passes run; with
%% `listing', `listing', the assembly listing as a binary) or
%% `{error, Reason, Details}': Reason as `vbeam_native:compile/3' gives it
%% for that module, or `{syntax, Line, Column, Message}' or
%% `{not_one_module, Count}'; Details: `line' and `column' of the term the
%% error is about, `explanation' of an invalid instruction, `target'.
-spec compile_text(Text :: term(), Target :: term(), Format :: term(), Flags :: map()) ->
          {ok, binary(), map()} | {error, term(), map()} | {error, {internal_error, binary()}}.
compile_text(_Text, _Target, _Format, _Flags) -> erlang:nif_error({nif_not_loaded, status()}).

%% @doc What is wrong with an IR instruction for `Target' (or either
%% target, `undefined'), in words; `undefined' if nothing is.
-spec explain(Target :: term(), Instruction :: term()) -> binary() | undefined.
explain(_Target, _Instruction) -> erlang:nif_error({nif_not_loaded, status()}).
