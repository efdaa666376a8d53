%% @doc The x86_64 lowering: compiles a module for x86_64 whatever its own
%% `target' key says (the lowering runs after register allocation and
%% before encoding and linking, all inside the NIF).
-module(vbeam_native_lower_x86_64).
-export([lower/1, lower/2]).

-spec lower(map()) -> {ok, binary()} | {error, term()}.
lower(Module) ->
    vbeam_native:compile(Module, x86_64, undefined).

%% @doc As `lower/1', for the executable format `Format'.
-spec lower(map(), vbeam_native:format()) -> {ok, binary()} | {error, term()}.
lower(Module, Format) ->
    vbeam_native:compile(Module, x86_64, Format).
