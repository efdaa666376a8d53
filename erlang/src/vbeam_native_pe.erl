%% @doc The PE32+ (UEFI) writer: `emit(Target, Code, Data, Opts)' writes an
%% executable whose entry point is the first byte of `Code', with `Data' in
%% a writable segment (`Opts' is reserved).
-module(vbeam_native_pe).
-export([emit/4]).

-spec emit(vbeam_native:target(), binary(), binary(), map()) -> {ok, binary()} | {error, term()}.
emit(Target, Code, Data, _Opts) ->
    vbeam_native_link:link(Target, pe, Code, Data).
