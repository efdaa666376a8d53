%% @doc vbeam_native: compiles a V native IR module (see the IR spec) into a
%% standalone executable. `compile/1,2,3' return the file image;
%% `main/1' is the command line the V compiler calls:
%%
%% `erl -noshell -pa $VBEAM_NATIVE_DIR -eval
%%  'vbeam_native:main(["f.ir", "-o", "out"])' -s init stop'
%%
%% On success `main/1' returns `ok' (the `-s init stop' that follows ends
%% the VM with status 0); on failure it prints the reason on stderr and halts
%% with status 1.
-module(vbeam_native).
-export([compile/1, compile/2, compile/3, main/1, format_error/1]).

-type target() :: x86_64 | arm64.
-type format() :: elf64 | macho | pe.
-export_type([target/0, format/0]).

%% @doc Compiles with the module's own `target' and `format'. `Module' is a
%% module map (IR spec); as promised for every bad input, any other term
%% gives `{error, {invalid_module, Module}}' rather than an exception.
-spec compile(Module :: term()) -> {ok, binary()} | {error, term()}.
compile(Module) ->
    compile(Module, undefined, undefined).

%% @doc Compiles with options `#{target => T, format => F}' (or a proplist)
%% overriding the module's keys.
-spec compile(Module :: term(), Options :: map() | [{atom(), term()}]) -> {ok, binary()} | {error, term()}.
compile(Module, Options) when is_list(Options) ->
    compile(Module, maps:from_list(Options));
compile(Module, Options) when is_map(Options) ->
    compile(Module, maps:get(target, Options, undefined), maps:get(format, Options, undefined)).

%% @doc Compiles for `Target' and `Format' (`undefined' keeps the module's).
%% They are checked like the module's own keys: a value other than a
%% `target()' / `format()' or `undefined' gives `{error, {invalid_target, T}}'
%% / `{error, {invalid_format, F}}', so the spec accepts any term.
-spec compile(Module :: term(), Target :: term(), Format :: term()) -> {ok, binary()} | {error, term()}.
compile(Module, Target, Format) ->
    vbeam_native_nif:compile(Module, Target, Format).

%% @doc The command line: `Input -o Output [-target T] [-format F]', as
%% strings or atoms (`erl -s' passes atoms).
-spec main([string() | atom()]) -> ok.
main(Args) ->
    case run([to_list(A) || A <- Args]) of
        {ok, Summary} ->
            io:format("~s~n", [Summary]);
        {error, Reason} ->
            io:format(standard_error, "vbeam_native: ~s~n", [format_error(Reason)]),
            erlang:halt(1)
    end.

to_list(A) when is_atom(A) -> atom_to_list(A);
to_list(A) when is_binary(A) -> binary_to_list(A);
to_list(A) when is_list(A) -> A.

run(Args) ->
    case parse_args(Args, #{}) of
        {ok, #{input := Input, output := Output} = Opts} ->
            with_ok(vbeam_native_ir:parse_file(Input), fun(Module) ->
                Target = maps:get(target, Opts, undefined),
                Format = maps:get(format, Opts, undefined),
                with_ok(compile(Module, Target, Format), fun(Binary) ->
                    case write_executable(Output, Binary) of
                        ok ->
                            {ok, io_lib:format("vbeam_native: wrote ~s (~s ~s, ~B bytes)",
                                               [Output, name(Target, maps:get(target, Module, x86_64)),
                                                name(Format, maps:get(format, Module, elf64)), byte_size(Binary)])};
                        {error, Reason} ->
                            {error, {write, Output, Reason}}
                    end
                end)
            end);
        {ok, _} ->
            {error, usage};
        {error, _} = E ->
            E
    end.

name(undefined, Default) -> atom_to_list(Default);
name(Override, _) -> atom_to_list(Override).

with_ok({ok, V}, F) -> F(V);
with_ok({error, _} = E, _) -> E.

parse_args([], Opts) ->
    {ok, Opts};
parse_args(["-o", Out | Rest], Opts) ->
    parse_args(Rest, Opts#{output => Out});
parse_args(["-target", T | Rest], Opts) ->
    case lists:member(T, ["x86_64", "arm64"]) of
        true -> parse_args(Rest, Opts#{target => list_to_atom(T)});
        false -> {error, {invalid_target, T}}
    end;
parse_args(["-format", F | Rest], Opts) ->
    case lists:member(F, ["elf64", "macho", "pe"]) of
        true -> parse_args(Rest, Opts#{format => list_to_atom(F)});
        false -> {error, {invalid_format, F}}
    end;
parse_args(["-" ++ _ = Flag | _], _) ->
    {error, {unknown_option, Flag}};
parse_args([Input | Rest], Opts) when not is_map_key(input, Opts) ->
    parse_args(Rest, Opts#{input => Input});
parse_args([Extra | _], _) ->
    {error, {unexpected_argument, Extra}}.

write_executable(Path, Binary) ->
    case file:write_file(Path, Binary) of
        ok -> file:change_mode(Path, 8#755);
        Error -> Error
    end.

%% @doc A readable one-line text for an error reason.
-spec format_error(term()) -> iolist().
format_error(usage) ->
    "usage: vbeam_native:main([Input, \"-o\", Output, \"-target\", x86_64|arm64, \"-format\", elf64|macho|pe])";
format_error({write, Path, Reason}) ->
    io_lib:format("cannot write ~s: ~s", [Path, file:format_error(Reason)]);
format_error({read, Path, Reason}) ->
    io_lib:format("cannot read ~s: ~s", [Path, file:format_error(Reason)]);
format_error({invalid_instruction, Fun, Index, Term}) ->
    io_lib:format("function ~s, instruction ~B: invalid instruction ~0p", [Fun, Index, Term]);
format_error({undefined_label, Fun, Label}) ->
    io_lib:format("function ~s: undefined label ~s", [Fun, Label]);
format_error({unresolved_symbols, Names}) ->
    io_lib:format("unresolved symbols: ~s", [lists:join(", ", Names)]);
format_error({no_entry_point, Name}) ->
    io_lib:format("no entry point: no function named ~s", [Name]);
format_error(Reason) ->
    io_lib:format("~0p", [Reason]).
