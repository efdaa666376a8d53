%% @doc The internal linker: lays out code and data for a file format and
%% writes the executable. `link(Target, Format, Code, Data)' makes a program
%% whose entry point is the first byte of `Code', with `Data' in a writable
%% segment. Arguments of the wrong kind give `{error, Reason}'
%% (`{invalid_target, T}', `{invalid_format, F}', `{invalid_binary, code, T}',
%% `{invalid_binary, data, T}').
-module(vbeam_native_link).
-export([link/4]).

-spec link(Target :: term(), Format :: term(), Code :: term(), Data :: term()) -> {ok, binary()} | {error, term()}.
link(Target, Format, Code, Data) ->
    vbeam_native_nif:link_executable(Target, Format, Code, Data).
