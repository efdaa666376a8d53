%% @doc vbeam_native: compiles a V native IR module (see the IR spec) into a
%% standalone executable. `compile/1,2,3' return the file image of a module
%% term, `compile_file/2' of a `.ir' file; `main/1' is the command line the
%% V compiler calls:
%%
%% `erl -noshell -pa $VBEAM_NATIVE_DIR -eval
%%  'vbeam_native:main(["f.ir", "-o", "out"])' -s init stop'
%%
%% `main/1' reads the file in the NIF and compiles straight from its text,
%% prints one line (the summary, or the error on stderr) and halts the VM
%% itself with status 0 or 1, output flushed: the `-s init stop' that
%% follows is never reached (stopping through `init' costs a second: the
%% kernel's `user_sup' waits 1000 ms for the `user' I/O server to drain
%% before it lets it go). `command/1' does the same work inside a running
%% system and returns the status instead.
%%
%% Warnings (the signatures of front-end bugs in IR that compiles) never
%% change the executable: the command line prints them on stderr, and
%% `compile/2' and `compile_file/2' with `#{warnings => true}' return
%% `{ok, Executable, Warnings}'.
%%
%% The executable is optimized unless `-O0' or `#{opt => 0}' turns the
%% optimizing layer off; either way the program does exactly the same.
%%
%% `-S' (or `compile_file/2' with `#{listing => File}') also writes the
%% assembly listing: every function as `llvm-mc' assembles it, each IR
%% instruction a comment (with its `file:line:column') above its code.
-module(vbeam_native).
-export([compile/1, compile/2, compile/3, compile_file/2, main/1, command/1, format_error/1,
         format_warning/1]).

-type target() :: x86_64 | arm64.
-type format() :: elf64 | macho | pe.
%% Instruction `Index' (1-based) of the function reads a vreg no path from
%% its entry writes; or is `{cmp, R, R}'.
-type warning() :: {unwritten_read, Function :: binary(), Index :: pos_integer(), Vreg :: non_neg_integer()}
                 | {cmp_with_itself, Function :: binary(), Index :: pos_integer(),
                    {vreg, non_neg_integer()} | {preg, atom()}}.
-export_type([target/0, format/0, warning/0]).

-define(TARGETS, ["x86_64", "arm64"]).
-define(FORMATS, ["elf64", "macho", "pe"]).

%% @doc Compiles with the module's own `target' and `format'. `Module' is a
%% module map (IR spec); as promised for every bad input, any other term
%% gives `{error, {invalid_module, Module}}' rather than an exception.
-spec compile(Module :: term()) -> {ok, binary()} | {error, term()}.
compile(Module) ->
    compile(Module, undefined, undefined).

%% @doc Compiles with options `#{target => T, format => F}' (or a proplist)
%% overriding the module's keys; with `warnings => true', the module's
%% warnings too: `{ok, Executable, Warnings}'; `opt => 0' turns the
%% optimizing layer off (default `opt => 1'; another value is
%% `{error, {invalid_opt, Value}}').
-spec compile(Module :: term(), Options :: map() | [{atom(), term()}]) ->
          {ok, binary()} | {ok, binary(), [warning()]} | {error, term()}.
compile(Module, Options) when is_list(Options) ->
    compile(Module, maps:from_list(Options));
compile(Module, Options) when is_map(Options) ->
    Target = maps:get(target, Options, undefined),
    Format = maps:get(format, Options, undefined),
    case {opt_level(Options), maps:get(warnings, Options, false)} of
        {{error, _} = Error, _} -> Error;
        {Opt, true} -> vbeam_native_nif:compile_warnings(Module, Target, Format, Opt);
        {Opt, _} -> vbeam_native_nif:compile(Module, Target, Format, Opt)
    end.

%% The optimization level an options map asks for.
opt_level(Options) ->
    case maps:get(opt, Options, 1) of
        Opt when Opt =:= 0; Opt =:= 1 -> Opt;
        Other -> {error, {invalid_opt, Other}}
    end.

%% @doc Compiles for `Target' and `Format' (`undefined' keeps the module's).
%% They are checked like the module's own keys: a value other than a
%% `target()' / `format()' or `undefined' gives `{error, {invalid_target, T}}'
%% / `{error, {invalid_format, F}}', so the spec accepts any term.
-spec compile(Module :: term(), Target :: term(), Format :: term()) -> {ok, binary()} | {error, term()}.
compile(Module, Target, Format) ->
    vbeam_native_nif:compile(Module, Target, Format, 1).

%% @doc Compiles a `.ir' file, read by the NIF and compiled from its text
%% (the module is never built as a term), with options as `compile/2';
%% `listing => File' also writes the assembly listing to File (as `-S');
%% `debug => true' adds debug information naming the file's lines (as
%% `-g'; ELF only: the `.dSYM' of a Mach-O executable is written by the
%% command line, and PE is written without).
%% Errors are those of `compile/3' for the module the file holds, or
%% `{read, Path, Posix}', `{syntax, Path, Line, Column, Message}',
%% `{not_one_module, Path, Count}', `{write, File, Posix}'.
-spec compile_file(file:name_all(), map() | [{atom(), term()}]) ->
          {ok, binary()} | {ok, binary(), [warning()]} | {error, term()}.
compile_file(Path, Options) when is_list(Options) ->
    compile_file(Path, maps:from_list(Options));
compile_file(Path, Options) when is_map(Options) ->
    case opt_level(Options) of
        {error, _} = Error ->
            Error;
        Opt ->
            Flags = debug_flag(Path, maps:get(debug, Options, false) =:= true,
                               listing_flag(Path, maps:is_key(listing, Options),
                                            #{warnings => maps:get(warnings, Options, false) =:= true,
                                              opt => Opt})),
            case compile_file(Path, maps:get(target, Options, undefined), maps:get(format, Options, undefined), Flags) of
                {ok, Binary, Info} ->
                    case write_listing(maps:get(listing, Options, undefined), Info) of
                        ok when is_map_key(warnings, Info) ->
                            {ok, Binary, [W || {W, _Line, _Column} <- maps:get(warnings, Info)]};
                        ok -> {ok, Binary};
                        {error, _} = Error -> Error
                    end;
                {error, Reason, _Details} -> {error, Reason}
            end
    end.

%% Flags asking the NIF for the listing, its places named by the input's
%% path, when `Wanted'.
listing_flag(Input, true, Flags) ->
    Flags#{listing => unicode:characters_to_binary(Input)};
listing_flag(_, false, Flags) ->
    Flags.

%% Flags asking the NIF for debug information (`-g'), its line table
%% naming the input's path, when `Wanted'.
debug_flag(Input, true, Flags) ->
    Flags#{debug => unicode:characters_to_binary(Input)};
debug_flag(_, false, Flags) ->
    Flags.

%% Writes the listing of a compilation's Info to File, if one is asked for.
write_listing(undefined, _) ->
    ok;
write_listing(File, #{listing := Listing}) ->
    case file:write_file(File, Listing) of
        ok -> ok;
        {error, Posix} -> {error, {write, File, Posix}}
    end.

%% Flags: `#{warnings => boolean(), opt => 0 | 1, stats => boolean(),
%% listing => Name, debug => Name}'.
compile_file(Path, Target, Format, Flags) ->
    case file:read_file(Path) of
        {ok, Text} ->
            case vbeam_native_nif:compile_text(Text, Target, Format, Flags) of
                {ok, _, _} = Ok -> Ok;
                {error, {syntax, Line, Column, Message}, Details} ->
                    {error, {syntax, Path, Line, Column, Message}, Details};
                {error, {not_one_module, Count}, Details} ->
                    {error, {not_one_module, Path, Count}, Details};
                {error, _, _} = Error -> Error;
                %% A bug caught in the NIF (`{internal_error, Text}').
                {error, Reason} -> {error, Reason, #{}}
            end;
        {error, Posix} ->
            {error, {read, Path, Posix}, #{}}
    end.

%% @doc The command line, as the V compiler calls it: `command/1', then
%% the VM halts with its status (0 or 1), output flushed.
-spec main([string() | atom() | binary()]) -> no_return().
main(Args) ->
    erlang:halt(command(Args)).

%% @doc The command line without the halt: runs, prints (the summary on
%% stdout, an error as one line on stderr) and returns the exit status.
%% `Input -o Output [-target x86_64|arm64] [-format elf64|macho|pe]
%% [-O0] [-S] [--stats] [-w]', or `--help', `--version'; strings, atoms or
%% binaries.
%% Warnings go to stderr (`File:Line:Column: warning: ...'); `-w' leaves
%% them out.
-spec command([string() | atom() | binary()]) -> 0 | 1.
command(Args) ->
    try
        case run(arguments(Args)) of
            ok -> 0;
            {error, Message} ->
                print(standard_error, ["vbeam_native: ", Message]),
                1;
            {error_at, Message} ->
                %% `File:Line:Column: ...', as compilers write it.
                print(standard_error, Message),
                1
        end
    catch
        Class:Reason:Stack ->
            Where = case Stack of
                        [{M, F, A, _} | _] -> io_lib:format(" in ~w:~w/~w", [M, F, arity(A)]);
                        _ -> ""
                    end,
            print(standard_error, io_lib:format("vbeam_native: internal error (please report it): ~w:~0tP~ts",
                                                [Class, Reason, 8, Where])),
            1
    end.

arity(A) when is_list(A) -> length(A);
arity(A) -> A.

%% The arguments as strings, or a usage error naming the first that is none.
arguments(Args) when is_list(Args) ->
    Strings = [to_list(A) || A <- Args],
    case lists:search(fun(S) -> not io_lib:printable_unicode_list(S) end, Strings) of
        {value, _} ->
            [Bad | _] = [A || {A, S} <- lists:zip(Args, Strings), not io_lib:printable_unicode_list(S)],
            {error, {usage, io_lib:format("an argument must be a string, atom or UTF-8 binary, got ~w", [Bad])}};
        false ->
            parse_args(Strings, #{})
    end;
arguments(Args) ->
    {error, {usage, io_lib:format("the arguments must be a list, got ~w", [Args])}}.

to_list(A) when is_atom(A) -> atom_to_list(A);
to_list(A) when is_binary(A) ->
    case unicode:characters_to_list(A) of
        S when is_list(S) -> S;
        _ -> not_text
    end;
to_list(A) when is_list(A) -> A;
to_list(_) -> not_text.

%% One line, as UTF-8 text: a device in latin1 mode (the default with
%% -noshell) is given the bytes, which it writes unchanged. Bytes that are
%% no text (a function name is any binary) are written as they are.
print(Device, Line) ->
    Bytes = line_bytes([Line, $\n]),
    Encoding = case io:getopts(Device) of
                   Opts when is_list(Opts) -> proplists:get_value(encoding, Opts);
                   _ -> latin1
               end,
    case {Encoding, unicode:characters_to_list(Bytes)} of
        {unicode, Text} when is_list(Text) -> io:put_chars(Device, Text);
        {unicode, _} -> io:put_chars(Device, io_lib:format("~w~n", [Bytes]));
        _ -> io:put_chars(Device, binary_to_list(Bytes))
    end.

%% Characters as UTF-8; else their bytes as they are; else the term.
line_bytes(Chars) ->
    case unicode:characters_to_binary(Chars) of
        Bytes when is_binary(Bytes) -> Bytes;
        _ ->
            try iolist_to_binary(Chars)
            catch error:badarg -> iolist_to_binary(io_lib:format("~w~n", [Chars]))
            end
    end.

usage() ->
    "usage: vbeam_native:main([Input, \"-o\", Output, \"-target\", x86_64|arm64, \"-format\", elf64|macho|pe])".

help() ->
    ["vbeam_native ", version(), " - compiles V native IR (a .ir file) into a standalone executable\n"
     "\n"
     "  erl -noshell -pa \"$VBEAM_NATIVE_DIR\" -eval 'vbeam_native:main([\"f.ir\", \"-o\", \"out\"])'\n"
     "\n"
     "Arguments (strings in main/1's list):\n"
     "  Input                the .ir file: one module map followed by '.' (docs/ir-spec.md)\n"
     "  -o Output            the executable to write (mode 0755)\n"
     "  -target T            x86_64 or arm64 (default: the module's target key)\n"
     "  -format F            elf64 (Linux), macho (macOS) or pe (UEFI) (default: the module's format key)\n"
     "  -O0                  do not optimize (the optimizing layer off; the program does the same)\n"
     "  -S                   also write Output.s: the assembly of every function, the IR as comments\n"
     "  -g                   debug information (DWARF; Mach-O: in Output.dSYM): the .ir's lines, call frames\n"
     "  --stats              also print the time of each step and of each optimization pass\n"
     "  -w, --no-warnings    do not look for warnings (printed on stderr: file:line:column: warning: ...)\n"
     "  --help, --version    this text; the version\n"
     "\n"
     "Prints one line: the summary, or the error on stderr (file:line:column: what is wrong);\n"
     "exits with status 0 or 1. From Erlang: vbeam_native:command(Args) returns the status without\n"
     "halting; vbeam_native:compile_file/2 and compile/1,2,3 return {ok, Executable} | {error, Reason}.\n"].

version() ->
    _ = application:load(vbeam_native),
    case application:get_key(vbeam_native, vsn) of
        {ok, Vsn} -> Vsn;
        undefined -> "(unknown version)"
    end.

parse_args([], Opts) ->
    {ok, Opts};
parse_args([Help | _], _) when Help =:= "--help"; Help =:= "-help"; Help =:= "-h" ->
    help;
parse_args([Version | _], _) when Version =:= "--version"; Version =:= "-version" ->
    version;
parse_args([Flag], _) when Flag =:= "-o"; Flag =:= "--output"; Flag =:= "-target"; Flag =:= "--target";
                           Flag =:= "-format"; Flag =:= "--format" ->
    {error, {usage, io_lib:format("~ts needs a value", [Flag])}};
parse_args([Flag, Out | Rest], Opts) when Flag =:= "-o"; Flag =:= "--output" ->
    parse_args(Rest, Opts#{output => Out});
parse_args([Flag, T | Rest], Opts) when Flag =:= "-target"; Flag =:= "--target" ->
    case lists:member(T, ?TARGETS) of
        true -> parse_args(Rest, Opts#{target => list_to_atom(T)});
        false -> {error, {invalid_target, T}}
    end;
parse_args([Flag, F | Rest], Opts) when Flag =:= "-format"; Flag =:= "--format" ->
    case lists:member(F, ?FORMATS) of
        true -> parse_args(Rest, Opts#{format => list_to_atom(F)});
        false -> {error, {invalid_format, F}}
    end;
parse_args([Level | Rest], Opts) when Level =:= "-O0"; Level =:= "-O1" ->
    parse_args(Rest, Opts#{opt => list_to_integer(tl(tl(Level)))});
parse_args(["-S" | Rest], Opts) ->
    parse_args(Rest, Opts#{listing => true});
parse_args(["-g" | Rest], Opts) ->
    parse_args(Rest, Opts#{debug => true});
parse_args(["--stats" | Rest], Opts) ->
    parse_args(Rest, Opts#{stats => true});
parse_args([NoWarnings | Rest], Opts) when NoWarnings =:= "-w"; NoWarnings =:= "--no-warnings" ->
    parse_args(Rest, Opts#{warnings => false});
parse_args(["-" ++ [_ | _] = Flag | _], _) ->
    {error, {usage, io_lib:format("unknown option ~ts", [Flag])}};
parse_args([Input | Rest], Opts) when not is_map_key(input, Opts) ->
    parse_args(Rest, Opts#{input => Input});
parse_args([Extra | _], _) ->
    {error, {usage, io_lib:format("unexpected argument ~ts (one input file only)", [Extra])}}.

run(help) ->
    print(standard_io, help()),
    ok;
run(version) ->
    print(standard_io, ["vbeam_native ", version()]),
    ok;
run({error, Reason}) ->
    {error, format_error(Reason)};
run({ok, #{input := _, output := _} = Opts}) ->
    case vbeam_native_nif:status() of
        ok -> build(Opts);
        {error, Failures} -> {error, format_error({nif_not_loaded, Failures})}
    end;
run({ok, #{input := _}}) ->
    {error, format_error({usage, "no output file: give -o Output"})};
run({ok, _}) ->
    {error, format_error({usage, "no input file"})}.

build(#{input := Input, output := Output} = Opts) ->
    T0 = erlang:monotonic_time(microsecond),
    Flags = debug_flag(Input, maps:get(debug, Opts, false),
                       listing_flag(Input, maps:get(listing, Opts, false),
                                    #{warnings => maps:get(warnings, Opts, true), opt => maps:get(opt, Opts, 1),
                                      stats => maps:get(stats, Opts, false)})),
    Listing = case Opts of
                  #{listing := true} -> Output ++ ".s";
                  _ -> undefined
              end,
    case compile_file(Input, maps:get(target, Opts, undefined), maps:get(format, Opts, undefined), Flags) of
        {ok, Binary, Info} ->
            T1 = erlang:monotonic_time(microsecond),
            [print(standard_error, [Input, $:, integer_to_list(Line), $:, integer_to_list(Column), ": warning: ",
                                    format_warning(W)])
             || {W, Line, Column} <- maps:get(warnings, Info, [])],
            case write_executable(Output, Binary, Listing, Info) of
                ok ->
                    T2 = erlang:monotonic_time(microsecond),
                    %% Not io_lib:format: loading io_lib_format would cost a
                    %% millisecond more.
                    print(standard_io, ["vbeam_native: wrote ", Output, " (", atom_to_list(maps:get(target, Info)), " ",
                                        atom_to_list(maps:get(format, Info)), ", ",
                                        integer_to_list(byte_size(Binary)), " bytes)",
                                        [[" and its listing ", Listing] || Listing =/= undefined]]),
                    case maps:get(stats, Opts, false) of
                        true -> print(standard_io, stats(Info, T1 - T0, T2 - T1));
                        false -> ok
                    end,
                    ok;
                {error, Reason} ->
                    {error, format_error(Reason)}
            end;
        {error, {syntax, _, _, _, _} = Reason, _} ->
            {error_at, format_error(Reason)};
        {error, Reason, #{line := Line, column := Column} = Details} ->
            Text = format_error(Reason, maps:get(explanation, Details, undefined)),
            {error_at, io_lib:format("~ts:~B:~B: ~ts", [Input, Line, Column, Text])};
        {error, Reason, Details} ->
            {error, format_error(Reason, maps:get(explanation, Details, undefined))}
    end.

stats(#{check_us := Check, compile_us := Compile, size := Size} = Info, Total, Write) ->
    Ms = fun(Us) -> Us / 1000 end,
    Threads = case maps:get(two_threads, Info, false) of
                  true -> " by two threads";
                  false -> ""
              end,
    Passes = case maps:get(pass_us, Info, []) of
                 [] -> "";
                 Times -> [" (optimization passes: ",
                           lists:join(", ", [io_lib:format("~ts ~.1f ms", [Pass, Ms(Us)]) || {Pass, Us} <- Times]),
                           ")"]
             end,
    io_lib:format("vbeam_native: read in ~.1f ms, text checked~s in ~.1f ms, compiled in ~.1f ms~ts, "
                  "~B bytes written in ~.1f ms",
                  [Ms(Total - Check - Compile), Threads, Ms(Check), Ms(Compile), Passes, Size, Ms(Write)]).

%% The executable (mode 0755), then the listing if one is asked for.
write_executable(Path, Binary, Listing, Info) ->
    Written = case file:write_file(Path, Binary) of
                  ok -> file:change_mode(Path, 8#755);
                  Error -> Error
              end,
    case Written of
        ok ->
            case write_listing(Listing, Info) of
                ok -> write_dsym(Path, Info);
                Error2 -> Error2
            end;
        {error, Posix} ->
            {error, {write, Path, Posix}}
    end.

%% With -g on Mach-O, the debug information as Apple's tools keep it: a
%% bundle beside the executable, `Path.dSYM', whose DWARF file the
%% debugger matches to the executable by its UUID.
write_dsym(Path, #{dsym := Dwarf}) ->
    Name = filename:basename(Path),
    Contents = filename:join(Path ++ ".dSYM", "Contents"),
    DwarfFile = filename:join([Contents, "Resources", "DWARF", Name]),
    Plist = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
             "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
             "<plist version=\"1.0\">\n<dict>\n"
             "\t<key>CFBundleDevelopmentRegion</key>\n\t<string>English</string>\n"
             "\t<key>CFBundleIdentifier</key>\n\t<string>com.apple.xcode.dsym.", Name, "</string>\n"
             "\t<key>CFBundleInfoDictionaryVersion</key>\n\t<string>6.0</string>\n"
             "\t<key>CFBundlePackageType</key>\n\t<string>dSYM</string>\n"
             "\t<key>CFBundleSignature</key>\n\t<string>????</string>\n"
             "\t<key>CFBundleShortVersionString</key>\n\t<string>1.0</string>\n"
             "\t<key>CFBundleVersion</key>\n\t<string>1</string>\n"
             "</dict>\n</plist>\n"],
    Written = [filelib:ensure_dir(DwarfFile),
               file:write_file(filename:join(Contents, "Info.plist"), Plist),
               file:write_file(DwarfFile, Dwarf)],
    case [E || {error, _} = E <- Written] of
        [] -> ok;
        [{error, Posix} | _] -> {error, {write, Path ++ ".dSYM", Posix}}
    end;
write_dsym(_, _) ->
    ok.

%% @doc A one-line text for a warning: the function, the instruction and
%% what is wrong.
-spec format_warning(warning()) -> iolist().
format_warning({unwritten_read, Function, Index, Vreg}) ->
    [Function, ", instruction ", integer_to_list(Index), ": vreg ", integer_to_list(Vreg),
     " is read but no path writes it"];
format_warning({cmp_with_itself, Function, Index, Reg}) ->
    Name = case Reg of
               {vreg, N} -> ["vreg ", integer_to_list(N)];
               {preg, P} -> atom_to_list(P)
           end,
    [Function, ", instruction ", integer_to_list(Index), ": cmp of ", Name, " with itself"].

%% @doc A one-line text for an error reason: what is wrong, where, and for
%% choices the valid ones.
-spec format_error(term()) -> iolist().
format_error({invalid_instruction, _, _, Inst} = Reason) ->
    Why = try vbeam_native_nif:explain(undefined, Inst) catch error:_ -> undefined end,
    format_error(Reason, Why);
format_error(Reason) ->
    format_error(Reason, undefined).

format_error(usage, _) ->
    usage();
format_error({usage, Problem}, _) ->
    [Problem, " (", usage(), "; --help for more)"];
format_error({unknown_option, Flag}, _) ->
    format_error({usage, io_lib:format("unknown option ~ts", [Flag])}, undefined);
format_error({unexpected_argument, Arg}, _) ->
    format_error({usage, io_lib:format("unexpected argument ~ts", [Arg])}, undefined);
format_error({nif_not_loaded, Failures}, _) ->
    Searched = [case Why of
                    not_found -> io_lib:format("~ts (not found)", [File]);
                    {load_failed, Text} -> io_lib:format("~ts (~ts)", [File, one_line(Text)])
                end || {File, Why} <- Failures],
    io_lib:format("cannot load the NIF library ~s; searched: ~ts (build it with rebar3 compile)",
                  [vbeam_native_nif:library(), lists:join("; ", Searched)]);
format_error({read, Path, Posix}, _) ->
    io_lib:format("cannot read ~ts: ~ts", [Path, file:format_error(Posix)]);
format_error({write, Path, Posix}, _) ->
    io_lib:format("cannot write ~ts: ~ts", [Path, file:format_error(Posix)]);
format_error({syntax, Path, Line, Column, Message}, _) ->
    io_lib:format("~ts:~B:~B: ~ts", [Path, Line, Column, Message]);
format_error({not_one_module, Path, Count}, _) ->
    io_lib:format("~ts: expected one term, the module map, followed by '.'; found ~B terms", [Path, Count]);
format_error({invalid_module, T}, _) ->
    io_lib:format("the module must be a map (#{target => ..., format => ..., functions => [...]}), got ~ts", [show(T)]);
format_error({missing_key, target}, _) ->
    "the module has no target key (target => x86_64 or arm64)";
format_error({missing_key, format}, _) ->
    "the module has no format key (format => elf64, macho or pe)";
format_error({missing_key, Key}, _) ->
    io_lib:format("the module has no ~ts key", [show(Key)]);
format_error({invalid_opt, Opt}, _) ->
    io_lib:format("unknown optimization level ~ts (expected opt => 0 or 1)", [show(Opt)]);
format_error({invalid_target, T}, _) ->
    io_lib:format("unknown target ~ts (expected x86_64 or arm64)", [choice(T)]);
format_error({invalid_format, F}, _) ->
    io_lib:format("unknown format ~ts (expected elf64, macho or pe)", [choice(F)]);
format_error({invalid_field, Key, T}, _) ->
    io_lib:format("the module's ~ts must be ~ts, got ~ts", [show(Key), module_field(Key), show(T)]);
format_error({invalid_function, Index, T}, _) when is_integer(Index) ->
    io_lib:format("function number ~B is not a function map (#{name => <<\"f\">>, body => [...], ...}), got ~ts",
                  [Index, show(T)]);
format_error({invalid_function, Name, Text}, _) ->
    io_lib:format("function ~ts: ~ts", [text(Name), text(Text)]);
format_error({invalid_function_field, Name, body, Name}, _) ->
    io_lib:format("function ~ts has no body (body => [Instruction, ...])", [text(Name)]);
format_error({invalid_function_field, Name, Key, T}, _) ->
    io_lib:format("function ~ts: ~ts must be ~ts, got ~ts", [text(Name), show(Key), function_field(Key), show(T)]);
format_error({invalid_instruction, Name, Index, T}, Why) ->
    Explained = case Why of
                    undefined -> "";
                    _ -> [": ", text(Why)]
                end,
    io_lib:format("function ~ts, instruction ~B: invalid instruction ~ts~ts", [text(Name), Index, show(T), Explained]);
format_error({invalid_data, T}, _) ->
    io_lib:format("invalid data or bss entry ~ts: ~ts", [show(T), data_problem(T)]);
format_error({duplicate_function, Name}, _) ->
    io_lib:format("function ~ts is defined twice", [text(Name)]);
format_error({duplicate_data, Name}, _) ->
    io_lib:format("data or bss entry ~ts is defined twice", [text(Name)]);
format_error({reserved_name, Name}, _) ->
    io_lib:format("the name ~ts is reserved for the backend's own routines and data (names starting with __vbeam_)",
                  [text(Name)]);
format_error({unsupported_alignment, Name, Align}, _) ->
    io_lib:format("data entry ~ts asks for alignment ~B, beyond what this format's loader keeps "
                  "(Mach-O: 4096 on x86_64, 16384 on arm64; PE: 4096)", [text(Name), Align]);
format_error({no_entry_point, Name}, _) ->
    io_lib:format("no entry point: the module has no function named ~ts", [text(Name)]);
format_error({undefined_label, Fun, Label}, _) ->
    io_lib:format("function ~ts: jump to undefined label ~ts", [text(Fun), text(Label)]);
format_error({duplicate_label, Fun, Label}, _) ->
    io_lib:format("function ~ts: label ~ts is defined twice", [text(Fun), text(Label)]);
format_error({ambiguous_call, Fun, Index, Callee, Candidates}, _) ->
    io_lib:format("function ~ts, instruction ~B: the call of ~ts is ambiguous: it could mean ~ts",
                  [text(Fun), Index, text(Callee), lists:join(" or ", [text(C) || C <- Candidates])]);
format_error({unavailable_builtin, Fun, Index, Name, Format}, _) ->
    io_lib:format("function ~ts, instruction ~B: ~ts needs files or streams, which ~ts programs lack",
                  [text(Fun), Index, text(Name), show(Format)]);
format_error({unavailable_reference, Entry, Name, Format}, _) ->
    io_lib:format("data entry ~ts holds the address of ~ts, which needs files or streams, which ~ts programs lack",
                  [text(Entry), text(Name), show(Format)]);
format_error({unresolved_symbols, Names}, _) ->
    io_lib:format("calls of undefined functions: ~ts (neither in the module nor builtins; "
                  "allow_stubs => true makes them stubs returning 0)", [lists:join(", ", [text(N) || N <- Names])]);
format_error({undefined_data, Fun, Index, Data}, _) ->
    io_lib:format("function ~ts, instruction ~B: undefined data entry ~ts (not in the module's data or bss)",
                  [text(Fun), Index, text(Data)]);
format_error({undefined_reference, Entry, Name}, _) ->
    io_lib:format("data entry ~ts holds the address of ~ts, which is not defined", [text(Entry), text(Name)]);
format_error({reserved_register, Fun, Index, Reg}, _) ->
    io_lib:format("function ~ts, instruction ~B: register ~ts is reserved by the backend "
                  "(x86_64: rsp, rbp, and r15 in a module that allocates; arm64: sp, x18, x29, x30, and x28 "
                  "in a module that allocates)", [text(Fun), Index, show(Reg)]);
format_error({invalid_syscall, Fun, Index, Text}, _) ->
    io_lib:format("function ~ts, instruction ~B: ~ts", [text(Fun), Index, text(Text)]);
format_error({jcc_without_cmp, Fun, Index}, _) ->
    io_lib:format("function ~ts, instruction ~B: a jcc must directly follow the cmp whose flags it tests "
                  "(only jcc, comment and nop may come between)", [text(Fun), Index]);
format_error({invalid_operand, Fun, Index, Text}, _) ->
    io_lib:format("function ~ts, instruction ~B: ~ts", [text(Fun), Index, text(Text)]);
format_error({too_large, Text}, _) ->
    io_lib:format("the program is too large: ~ts", [text(Text)]);
format_error({internal_error, Text}, _) ->
    io_lib:format("internal error (a bug in vbeam_native, please report it): ~ts", [text(Text)]);
format_error({invalid_binary, What, T}, _) ->
    io_lib:format("the ~ts must be a binary, got ~ts", [show(What), show(T)]);
format_error({invalid_binary, T}, _) ->
    io_lib:format("expected a binary, got ~ts", [show(T)]);
format_error(Reason, _) ->
    show(Reason).

module_field(functions) -> "a list of function maps";
module_field(data) -> "a list of {Name, Align, Contents} entries";
module_field(bss) -> "a list of {Name, Align, Size} entries";
module_field(imports) -> "a list of {Name, Arity} pairs (Arity 0..255)";
module_field(allow_stubs) -> "true or false";
module_field(_) -> "of another shape".

function_field(arity) -> "an integer 0..255";
function_field(exported) -> "true or false";
function_field(params) -> "a list of registers ({vreg, N} or {preg, Name} of the module's target)";
function_field(locals) -> "an integer 0..4294967295";
function_field(body) -> "a proper list of instructions";
function_field(name) -> "a binary";
function_field(_) -> "of another shape".

%% What is wrong with a data or bss entry (the reason does not say which
%% of the two it is).
data_problem({Name, Align, Contents}) ->
    NameOk = is_atom(Name) orelse (is_binary(Name) andalso is_list(unicode:characters_to_list(Name))),
    if
        not NameOk ->
            "its name must be a binary of UTF-8 text";
        not is_integer(Align) orelse Align < 1 orelse Align > 65536 orelse Align band (Align - 1) =/= 0 ->
            "the alignment must be a power of two up to 65536";
        is_integer(Contents), Contents >= 0 ->
            "a data entry holds a binary or a list of binaries and addresses (an integer is a bss entry's size)";
        is_integer(Contents) ->
            "a bss entry's size must be a non-negative integer";
        is_binary(Contents) ->
            "a bss entry's size must be a non-negative integer (a binary is a data entry's contents)";
        is_list(Contents) ->
            "its contents must be a binary or a list of binaries and addresses ({data_ref, Name}, "
            "{data_ref, Name, Addend}, {sym, Name}), each address at an offset that is a multiple of 8 "
            "in an entry aligned to 8 or more";
        true ->
            "a data entry holds a binary or a list of binaries and addresses; a bss entry, a size"
    end;
data_problem(_) ->
    "an entry is {Name, Align, Contents} (data) or {Name, Align, Size} (bss)".

%% A choice that was given: quoted when it came as text.
choice(T) when is_list(T) -> io_lib:format("~tp", [T]);
choice(T) -> show(T).

%% Text of a name or message the backend gives as a binary.
text(B) when is_binary(B) ->
    case unicode:characters_to_list(B) of
        L when is_list(L) -> L;
        _ -> io_lib:format("~w", [B])
    end;
text(A) when is_atom(A) -> atom_to_list(A);
text(L) when is_list(L) -> L;
text(T) -> show(T).

%% A term in a message: its depth and length bounded.
show(T) ->
    S = lists:flatten(io_lib:format("~0tP", [T, 10])),
    case length(S) > 160 of
        true -> lists:sublist(S, 160) ++ "...";
        false -> S
    end.

one_line(Text) when is_list(Text) ->
    [case C of $\n -> $\s; _ -> C end || C <- lists:flatten(io_lib:format("~ts", [Text]))];
one_line(Other) ->
    show(Other).
