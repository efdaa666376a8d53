%% @doc The NIF library of vbeam_native (Rust, `native/vbeam_native_nif`).
%% Loaded from the application's `priv` directory, or from `../priv` or the
%% `ebin` directory itself when only `-pa .../ebin` is on the code path (as
%% the V compiler runs the backend). Use the `vbeam_native*` modules instead
%% of calling these functions directly.
-module(vbeam_native_nif).
-export([compile/3, encode/2, allocate/2, link_executable/4]).
-on_load(load/0).

-define(LIBRARY, "vbeam_native_nif").

load() ->
    Candidates = [filename:join(Dir, ?LIBRARY) || Dir <- search_dirs()],
    try_load(Candidates, no_library_found).

search_dirs() ->
    Ebin = filename:dirname(code:which(?MODULE)),
    AppPriv = case code:priv_dir(vbeam_native) of
                  {error, bad_name} -> [];
                  Dir -> [Dir]
              end,
    AppPriv ++ [filename:join([Ebin, "..", "priv"]), Ebin].

try_load([], LastError) ->
    {error, LastError};
try_load([Path | Rest], _) ->
    case filelib:is_regular(Path ++ ".so") of
        true ->
            case erlang:load_nif(Path, 0) of
                ok -> ok;
                {error, Reason} -> try_load(Rest, Reason)
            end;
        false ->
            try_load(Rest, {not_found, Path ++ ".so"})
    end.

%% The stubs below are replaced by the NIF when the library loads; until
%% then they raise `nif_not_loaded'. Their specs are the NIF's: it checks
%% every term argument itself and answers `{error, Reason}' (e.g.
%% `{invalid_target, T}', `{invalid_module, T}'), so those are `term()';
%% only `link_executable/4' needs binaries (anything else is `badarg').

-spec compile(Module :: term(), Target :: term(), Format :: term()) -> {ok, binary()} | {error, term()}.
compile(_Module, _Target, _Format) -> erlang:nif_error(nif_not_loaded).

-spec encode(Target :: term(), Instruction :: term()) -> {ok, binary()} | {error, term()}.
encode(_Target, _Instruction) -> erlang:nif_error(nif_not_loaded).

-spec allocate(Target :: term(), Function :: term()) -> {ok, map()} | {error, term()}.
allocate(_Target, _Function) -> erlang:nif_error(nif_not_loaded).

-spec link_executable(Target :: term(), Format :: term(), Code :: binary(), Data :: binary()) ->
          {ok, binary()} | {error, term()}.
link_executable(_Target, _Format, _Code, _Data) -> erlang:nif_error(nif_not_loaded).
