%% @doc The native IR as Erlang terms: reading and writing `.ir' files,
%% validation, readable printing and small constructors.
-module(vbeam_native_ir).
-export([parse_file/1, consult/1, write_file/2, validate_module/1, validate_function/1,
         pretty_print/1, new_module/1, new_function/3, add_function/2,
         add_data/4, add_bss/3]).

%% @doc Reads a `.ir' file: exactly one term, a module map. The text is
%% read by the NIF (as `file:consult/1' would read it, much faster).
-spec parse_file(file:name_all()) -> {ok, map()} | {error, term()}.
parse_file(Path) ->
    case consult(Path) of
        {ok, [Module]} when is_map(Module) -> {ok, Module};
        {ok, Terms} -> {error, {not_one_module, Path, length(Terms)}};
        {error, _} = Error -> Error
    end.

%% @doc Every term of a file of terms, each followed by `.', as
%% `file:consult/1' reads them; errors: `{read, Path, Posix}',
%% `{syntax, Path, Line, Column, Message}'.
-spec consult(file:name_all()) -> {ok, [term()]} | {error, term()}.
consult(Path) ->
    case file:read_file(Path) of
        {ok, Text} ->
            case vbeam_native_nif:read_terms(Text) of
                {ok, Terms} -> {ok, Terms};
                {error, {Line, Column, Message}} -> {error, {syntax, Path, Line, Column, Message}};
                %% A bug caught in the NIF (`{internal_error, Text}').
                {error, Reason} -> {error, Reason}
            end;
        {error, Reason} ->
            {error, {read, Path, Reason}}
    end.

%% @doc Writes a module as a `.ir' file `parse_file/1' (and
%% `file:consult/1') reads back: UTF-8 text, the encoding both read.
-spec write_file(file:name_all(), term()) -> ok | {error, term()}.
write_file(Path, Module) ->
    file:write_file(Path, unicode:characters_to_binary(io_lib:format("~p.~n", [Module]))).

%% @doc `ok' when the module compiles (every check of the backend); like
%% `vbeam_native:compile/1' it takes any term and reports what is wrong.
-spec validate_module(Module :: term()) -> ok | {error, term()}.
validate_module(Module) ->
    case vbeam_native:compile(Module) of
        {ok, _} -> ok;
        {error, _} = E -> E
    end.

%% @doc `ok' when a function is valid on its own: it is checked inside a
%% module whose entry point is a trivial `main' and whose undefined calls
%% become stubs. A term that is not a map is `{error, {invalid_function, 1, T}}'.
-spec validate_function(Function :: term()) -> ok | {error, term()}.
validate_function(#{name := <<"main">>} = F) ->
    validate_module(#{target => target_of(F), format => elf64, functions => [F],
                      data => [], bss => [], imports => [], allow_stubs => true});
validate_function(F) when is_map(F) ->
    Main = new_function(<<"main">>, 0, [ret]),
    validate_module(#{target => target_of(F), format => elf64, functions => [F, Main],
                      data => [], bss => [], imports => [], allow_stubs => true});
validate_function(F) ->
    {error, {invalid_function, 1, F}}.

%% A function names arm64 registers only if it is for arm64.
target_of(#{body := Body}) ->
    Pregs = [R || I <- Body, is_tuple(I), {preg, R} <- tuple_to_list(I)],
    case lists:any(fun(R) -> lists:prefix("x", atom_to_list(R)) end, Pregs) of
        true -> arm64;
        false -> x86_64
    end;
target_of(_) ->
    x86_64.

%% @doc Readable text of a module: one function header and one instruction
%% per line.
-spec pretty_print(map()) -> iolist().
pretty_print(#{functions := Funs} = M) ->
    [io_lib:format("module ~p ~p~n", [maps:get(target, M, undefined), maps:get(format, M, undefined)]),
     [io_lib:format("data ~s align ~B: ~0p~n", [N, A, B]) || {N, A, B} <- maps:get(data, M, [])],
     [io_lib:format("bss ~s align ~B: ~B bytes~n", [N, A, S]) || {N, A, S} <- maps:get(bss, M, [])],
     [pretty_function(F) || F <- Funs]].

pretty_function(#{name := Name, body := Body} = F) ->
    [io_lib:format("~nfunction ~s/~B~s params ~0p~n",
                   [Name, maps:get(arity, F, 0), exported(F), maps:get(params, F, [])]),
     [pretty_inst(I) || I <- Body]].

exported(#{exported := true}) -> " exported";
exported(_) -> "".

pretty_inst({label, L}) -> io_lib:format("~s:~n", [L]);
pretty_inst(I) -> io_lib:format("    ~0p~n", [I]).

%% @doc An empty module for `Target' (ELF64 unless changed).
-spec new_module(vbeam_native:target()) -> map().
new_module(Target) ->
    #{target => Target, format => elf64, functions => [], data => [], bss => [], imports => []}.

%% @doc A function of `Arity' parameters `{vreg, 0..Arity-1}'.
-spec new_function(binary(), non_neg_integer(), list()) -> map().
new_function(Name, Arity, Body) ->
    #{name => Name, arity => Arity, exported => false,
      params => [{vreg, N} || N <- lists:seq(0, Arity - 1)],
      locals => count_vregs(Body, Arity), body => Body}.

count_vregs(Body, Arity) ->
    Vregs = [N || I <- Body, is_tuple(I), {vreg, N} <- tuple_to_list(I)],
    lists:max([Arity - 1 | Vregs]) + 1.

%% @doc Appends a function.
-spec add_function(map(), map()) -> map().
add_function(#{functions := Fs} = M, F) -> M#{functions := Fs ++ [F]}.

%% @doc Appends an initialised data entry.
-spec add_data(map(), binary(), pos_integer(), binary()) -> map().
add_data(M, Name, Align, Bytes) -> M#{data => maps:get(data, M, []) ++ [{Name, Align, Bytes}]}.

%% @doc Appends a zero-filled entry.
-spec add_bss(map(), binary(), {pos_integer(), non_neg_integer()} | non_neg_integer()) -> map().
add_bss(M, Name, {Align, Size}) -> M#{bss => maps:get(bss, M, []) ++ [{Name, Align, Size}]};
add_bss(M, Name, Size) -> add_bss(M, Name, {8, Size}).
