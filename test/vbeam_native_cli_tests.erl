%% @doc The command line as people meet it: `main/1' halts the VM itself
%% (no `-s init stop' needed), `--help' and `--version', one plain line
%% per error with the file, line and column, output paths beyond Latin-1,
%% a missing NIF library reported in one line, and `command/1' for callers
%% inside a running system.
-module(vbeam_native_cli_tests).
-include_lib("eunit/include/eunit.hrl").

ebin() -> filename:dirname(code:which(vbeam_native)).

fixture(Name) -> filename:join([vbeam_native_run_tests:root(), "test", "fixtures", Name]).

tmp(Name) -> filename:join(vbeam_native_test_dir:dir("cli"), Name).

%% `erl -noshell -pa Ebin -eval Expr Extra…' in `Dir': its output (stdout
%% and stderr) and exit status.
erl(Expr) -> erl(Expr, [], ebin(), tmp("")).

erl(Expr, Extra, Ebin, Dir) ->
    Erl = os:find_executable("erl"),
    Port = open_port({spawn_executable, Erl},
                     [{args, ["-noshell", "-pa", Ebin, "-eval", Expr | Extra]}, {cd, Dir},
                      exit_status, stderr_to_stdout, binary, stream]),
    collect(Port, <<>>).

collect(Port, Acc) ->
    receive
        {Port, {data, D}} -> collect(Port, <<Acc/binary, D/binary>>);
        {Port, {exit_status, S}} -> {unicode:characters_to_list(Acc), S}
    after 60000 -> error(timeout)
    end.

main_expr(Args) ->
    lists:flatten(io_lib:format("vbeam_native:main(~tp)", [Args])).

%% Exactly one line of output, status 1, and the line holds `Part'.
one_error_line(Args, Part) ->
    {Output, Status} = erl(main_expr(Args)),
    ?assertEqual({Args, 1}, {Args, Status}),
    ?assertMatch({_, [_]}, {Output, string:split(string:trim(Output, trailing), "\n", all)}),
    ?assertNotEqual({Output, nomatch}, {Output, string:find(Output, Part)}),
    %% A position leads the line, as compilers write it; else the program.
    ?assert(lists:prefix(Part, Output) orelse lists:prefix("vbeam_native: ", Output)),
    Output.

halts_itself_test_() ->
    {timeout, 60, fun() ->
        Out = tmp("hello"),
        _ = file:delete(Out),
        %% No `-s init stop': main/1 ends the VM.
        {Output, Status} = erl(main_expr([fixture("hello_x86_64.ir"), "-o", Out])),
        ?assertEqual(0, Status),
        ?assertMatch({_, [_]}, {Output, string:prefix(Output, "vbeam_native: wrote " ++ Out ++ " (x86_64 elf64, ") =/= nomatch
                                        andalso string:split(string:trim(Output), "\n", all)}),
        ?assert(filelib:is_regular(Out)),
        %% The V compiler's exact command still works.
        {Output2, 0} = erl(main_expr([fixture("hello_arm64.ir"), "-o", Out]), ["-s", "init", "stop"], ebin(), tmp("")),
        ?assertNotEqual(nomatch, string:find(Output2, "(arm64 elf64, "))
    end}.

help_and_version_test_() ->
    {timeout, 60, fun() ->
        {Help, 0} = erl(main_expr(["--help"])),
        [?assertNotEqual({Part, nomatch}, {Part, string:find(Help, Part)}) || Part <- ["-o Output", "-target T", "-format F", "--version"]],
        {Version, 0} = erl(main_expr(["--version"])),
        ?assertMatch("vbeam_native " ++ _, Version),
        ?assertEqual(1, length(string:split(string:trim(Version), "\n", all)))
    end}.

stats_test_() ->
    {timeout, 60, fun() ->
        {Output, 0} = erl(main_expr([fixture("hello_x86_64.ir"), "-o", tmp("hello_stats"), "--stats"])),
        ?assertNotEqual(nomatch, string:find(Output, "compiled in")),
        ?assertNotEqual(nomatch, string:find(Output, "optimization passes: inline ")),
        {Unoptimized, 0} = erl(main_expr([fixture("hello_x86_64.ir"), "-o", tmp("hello_stats"), "--stats", "-O0"])),
        ?assertEqual(nomatch, string:find(Unoptimized, "optimization passes"))
    end}.

%% -O0 and `opt => 0' turn the optimizing layer off: an executable of its
%% own, which does the same.
unoptimized_test_() ->
    {timeout, 60, fun() ->
        Fixture = fixture("hello_x86_64.ir"),
        {ok, [Module]} = file:consult(Fixture),
        {ok, Plain} = vbeam_native:compile(Module, #{opt => 0}),
        ?assertEqual({ok, Plain}, vbeam_native:compile_file(Fixture, #{opt => 0})),
        ?assertEqual({ok, Plain, []}, vbeam_native:compile(Module, [{opt, 0}, {warnings, true}])),
        ?assertEqual(vbeam_native:compile(Module), vbeam_native:compile(Module, #{opt => 1})),
        ?assertEqual({error, {invalid_opt, 2}}, vbeam_native:compile(Module, #{opt => 2})),
        ?assertEqual({error, {invalid_opt, fast}}, vbeam_native:compile_file(Fixture, #{opt => fast})),
        Out = tmp("hello_o0"),
        {_, 0} = erl(main_expr([Fixture, "-O0", "-o", Out])),
        ?assertEqual({ok, Plain}, file:read_file(Out))
    end}.

%% -S writes Output.s beside the executable: the functions, each IR
%% instruction a comment with its place in the file above its code;
%% `compile_file/2' with `listing => File' writes the same. Neither
%% changes the executable.
listing_test_() ->
    {timeout, 60, fun() ->
        Fixture = fixture("hello_x86_64.ir"),
        Out = tmp("hello_listed"),
        _ = file:delete(Out ++ ".s"),
        {Output, 0} = erl(main_expr([Fixture, "-S", "-o", Out])),
        ?assertNotEqual(nomatch, string:find(Output, " and its listing " ++ Out ++ ".s")),
        {ok, Listing} = file:read_file(Out ++ ".s"),
        Has = fun(Parts) -> ?assertNotEqual({Parts, nomatch}, {Parts, binary:match(Listing, iolist_to_binary(Parts))}) end,
        Has(["\t.intel_syntax noprefix\n"]),
        Has(["# ", Fixture, ":4:5: function fib\nfib:\n"]),
        Has(["\t# ", Fixture, ":5:16: {cmp,{vreg,0},{imm,2}}\n\tcmp "]),
        Has(["\t# ", Fixture, ":5:44: {jcc,ge,<<\"rec\">>}\n\t{disp32} jge .L0.rec\n"]),
        Has(["# function __vbeam_start (the runtime's, written without IR)\n"]),
        {ok, Plain} = vbeam_native:compile_file(Fixture, #{}),
        ?assertEqual({ok, Plain}, file:read_file(Out)),
        Written = tmp("hello_api.s"),
        ?assertEqual({ok, Plain}, vbeam_native:compile_file(Fixture, #{listing => Written})),
        ?assertEqual({ok, Listing}, file:read_file(Written)),
        Nowhere = tmp("no/such/dir/hello.s"),
        ?assertEqual({error, {write, Nowhere, enoent}}, vbeam_native:compile_file(Fixture, #{listing => Nowhere}))
    end}.

%% -g adds DWARF (see tests/debug_info.rs), as `debug => true' does; on
%% Mach-O in a .dSYM bundle.
debug_info_test_() ->
    {timeout, 60, fun() ->
        Fixture = fixture("hello_x86_64.ir"),
        Out = tmp("hello_debug"),
        {_, 0} = erl(main_expr([Fixture, "-g", "-o", Out])),
        {ok, Debug} = file:read_file(Out),
        {ok, Plain} = vbeam_native:compile_file(Fixture, #{}),
        %% The sections are added after the code and data, which stay.
        ?assertNotEqual(nomatch, binary:match(Debug, <<".debug_line">>)),
        ?assertEqual(nomatch, binary:match(Plain, <<".debug_line">>)),
        {ok, FromApi} = vbeam_native:compile_file(Fixture, #{debug => true}),
        ?assertNotEqual(nomatch, binary:match(FromApi, <<".debug_line">>)),
        ?assertNotEqual(nomatch, string:find(os:cmd("llvm-dwarfdump --verify " ++ Out), "No errors.")),
        %% On Mach-O, a .dSYM bundle beside the unchanged executable.
        MachO = tmp("hello_debug_macho"),
        {_, 0} = erl(main_expr([Fixture, "-format", "macho", "-g", "-o", MachO])),
        {ok, PlainMachO} = vbeam_native:compile_file(Fixture, #{format => macho}),
        ?assertEqual({ok, PlainMachO}, file:read_file(MachO)),
        {ok, Plist} = file:read_file(MachO ++ ".dSYM/Contents/Info.plist"),
        ?assertNotEqual(nomatch, binary:match(Plist, <<"<string>dSYM</string>">>)),
        Dwarf = MachO ++ ".dSYM/Contents/Resources/DWARF/hello_debug_macho",
        ?assertNotEqual(nomatch, string:find(os:cmd("llvm-dwarfdump --verify " ++ Dwarf), "No errors."))
    end}.

errors_test_() ->
    Bad = tmp("bad.ir"),
    ok = file:write_file(Bad, <<"#{target => x86_64, format => elf64,\n"
                                "  functions => [#{name => <<\"main\">>, body => [\n"
                                "      {mov_imm, {vreg, 0}, 1},\n"
                                "      {add, {vreg, 0}, {imm, 1}, {vreg, 1}},\n"
                                "      ret]}]}.\n">>),
    Syntax = tmp("syntax.ir"),
    ok = file:write_file(Syntax, <<"#{target => x86_64,\n  format => elf64 functions => []}.\n">>),
    Label = tmp("label.ir"),
    ok = file:write_file(Label, <<"#{target => x86_64, format => elf64, functions => [\n"
                                  "  #{name => <<\"main\">>, body => [nop,\n"
                                  "     {jmp, <<\"nowhere\">>}]}]}.\n">>),
    Target = tmp("target.ir"),
    ok = file:write_file(Target, <<"#{target => x86, format => elf64, functions => []}.\n">>),
    Hello = fixture("hello_x86_64.ir"),
    Out = tmp("out"),
    Cases = [
        {["missing.ir", "-o", Out], "vbeam_native: cannot read missing.ir: no such file or directory"},
        {[Hello, "-o", Out, "-target", "x86"], "unknown target \"x86\" (expected x86_64 or arm64)"},
        {[Hello, "-o", Out, "-format", "coff"], "unknown format \"coff\" (expected elf64, macho or pe)"},
        {[Hello], "no output file: give -o Output"},
        {[Hello, "-o"], "-o needs a value"},
        {["-frob"], "unknown option -frob"},
        {[Hello, Hello, "-o", Out], "unexpected argument"},
        {[Syntax, "-o", Out], Syntax ++ ":2:19: expected ',' or '}' in the map opened at 1:1, found 'f'"},
        {[Bad, "-o", Out], Bad ++ ":4:7: function main, instruction 2: invalid instruction {add,{vreg,0},{imm,1},{vreg,1}}: "
                           "operand 2 (A) of add must be a register ({vreg, N} or {preg, Name}), got the immediate {imm, 1}"},
        {[Label, "-o", Out], Label ++ ":3:6: function main: jump to undefined label nowhere"},
        {[Target, "-o", Out], Target ++ ":1:13: unknown target x86 (expected x86_64 or arm64)"},
        {[Hello, "-o", "/nonexistent/dir/out"], "cannot write /nonexistent/dir/out: no such file or directory"},
        {[[16#110000], "-o", Out], "an argument must be a string, atom or UTF-8 binary, got [1114112]"},
        {[<<255>>, "-o", Out], "an argument must be a string, atom or UTF-8 binary, got <<255>>"},
        {foo, "the arguments must be a list, got foo"}
    ],
    {timeout, 120, [{lists:flatten(io_lib:format("~tp", [Args])), fun() -> one_error_line(Args, Part) end}
                    || {Args, Part} <- Cases]}.

unicode_output_path_test_() ->
    {timeout, 60, fun() ->
        Out = tmp("héllo_€"),
        _ = file:delete(Out),
        {Output, Status} = erl(main_expr([fixture("hello_x86_64.ir"), "-o", Out])),
        ?assertEqual({Output, 0}, {Output, Status}),
        ?assert(filelib:is_regular(Out)),
        ?assertNotEqual(nomatch, string:find(Output, "héllo_€"))
    end}.

%% The beams without the library: one line naming where it was looked
%% for, status 1, no crash dump.
missing_nif_test_() ->
    {timeout, 60, fun() ->
        Dir = tmp("no_nif/ebin"),
        ok = filelib:ensure_path(Dir),
        lists:foreach(fun(F) -> {ok, _} = file:copy(F, filename:join(Dir, filename:basename(F))) end,
                      filelib:wildcard(filename:join(ebin(), "*.{beam,app}"))),
        Cwd = tmp("no_nif/cwd"),
        ok = filelib:ensure_path(Cwd),
        _ = file:delete(filename:join(Cwd, "erl_crash.dump")),
        {Output, Status} = erl(main_expr([fixture("hello_x86_64.ir"), "-o", "out"]), ["-s", "init", "stop"], Dir, Cwd),
        ?assertEqual({Output, 1}, {Output, Status}),
        ?assertMatch({_, [_]}, {Output, string:split(string:trim(Output, trailing), "\n", all)}),
        ?assertNotEqual(nomatch, string:find(Output, "cannot load the NIF library vbeam_native_nif.so; searched: ")),
        ?assertNotEqual(nomatch, string:find(Output, filename:join(Dir, "vbeam_native_nif.so") ++ " (not found)")),
        ?assertNot(filelib:is_regular(filename:join(Cwd, "erl_crash.dump")))
    end}.

%% Inside a running system: the status, no halt.
command_test() ->
    Out = tmp("command_hello"),
    ?assertEqual(0, vbeam_native:command([fixture("hello_x86_64.ir"), "-o", Out])),
    ?assert(filelib:is_regular(Out)),
    ?assertEqual(1, vbeam_native:command(["missing.ir", "-o", Out])),
    ?assertEqual(1, vbeam_native:command([])),
    ?assertEqual(1, vbeam_native:command([<<255>>, "-o", Out])).

%% Every reason of the README's error table has its own one-line message
%% (not the term printed raw), naming what the reason names.
every_reason_has_a_message_test_() ->
    Reasons = [
        {{invalid_module, [1]}, "must be a map"},
        {{missing_key, functions}, "no functions key"},
        {{invalid_target, sparc}, "unknown target sparc (expected x86_64 or arm64)"},
        {{invalid_format, "coff"}, "unknown format \"coff\" (expected elf64, macho or pe)"},
        {{invalid_field, data, x}, "data must be a list of {Name, Align, Contents}"},
        {{invalid_function, 2, x}, "function number 2 is not a function map"},
        {{invalid_function_field, <<"f">>, arity, -1}, "function f: arity must be an integer 0..255"},
        {{invalid_instruction, <<"f">>, 3, {frob}}, "function f, instruction 3: invalid instruction {frob}: unknown opcode frob"},
        {{invalid_data, {<<"d">>, 3, <<>>}}, "power of two"},
        {{duplicate_function, <<"f">>}, "function f is defined twice"},
        {{duplicate_data, <<"d">>}, "entry d is defined twice"},
        {{reserved_name, <<"__vbeam_x">>}, "__vbeam_x is reserved"},
        {{unsupported_alignment, <<"d">>, 65536}, "data entry d asks for alignment 65536"},
        {{no_entry_point, <<"main">>}, "no function named main"},
        {{undefined_label, <<"f">>, <<"l">>}, "function f: jump to undefined label l"},
        {{duplicate_label, <<"f">>, <<"l">>}, "function f: label l is defined twice"},
        {{ambiguous_call, <<"f">>, 2, <<"main.T__m">>, [<<"T__m">>, <<"U__m">>]}, "could mean T__m or U__m"},
        {{unresolved_symbols, [<<"g">>, <<"h">>]}, "undefined functions: g, h"},
        {{undefined_data, <<"f">>, 1, <<"d">>}, "function f, instruction 1: undefined data entry d"},
        {{undefined_reference, <<"t">>, <<"d">>}, "data entry t holds the address of d"},
        {{reserved_register, <<"f">>, 1, rsp}, "function f, instruction 1: register rsp is reserved"},
        {{invalid_syscall, <<"f">>, 1, <<"no such call">>}, "function f, instruction 1: no such call"},
        {{jcc_without_cmp, <<"f">>, 4}, "function f, instruction 4: a jcc must directly follow the cmp"},
        {{invalid_operand, <<"f">>, 1, <<"bad shift">>}, "function f, instruction 1: bad shift"},
        {{invalid_function, <<"f">>, <<"too many parameters">>}, "function f: too many parameters"},
        {{too_large, <<"a branch">>}, "the program is too large: a branch"},
        {{internal_error, <<"oops">>}, "a bug in vbeam_native"},
        {{invalid_binary, code, 1}, "the code must be a binary, got 1"}
    ],
    [{lists:flatten(io_lib:format("~0tp", [Reason])), fun() ->
        Line = lists:flatten(vbeam_native:format_error(Reason)),
        ?assertEqual(nomatch, string:find(Line, "\n")),
        ?assertNotEqual({Line, nomatch}, {Line, string:find(Line, Part)})
     end} || {Reason, Part} <- Reasons].
