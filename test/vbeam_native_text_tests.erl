%% @doc `.ir' text read by the NIF: the same terms as `file:consult/1'
%% (random terms printed with ~p, ~w and ~tp), `file:line:column' errors
%% for malformed text, and compiling from text giving what compiling the
%% consulted term gives: the same executables, the same error reasons,
%% with a position.
-module(vbeam_native_text_tests).
-include_lib("eunit/include/eunit.hrl").

tmp(Name) -> filename:join(vbeam_native_test_dir:dir("text"), Name).

write(Name, Chars) ->
    Path = tmp(Name),
    ok = file:write_file(Path, unicode:characters_to_binary(Chars)),
    Path.

%% ---------------------------------------------------------------------
%% Random terms, printed and read back by both readers.

-define(TERMS, 400).

consult_matches_file_consult_test_() ->
    {timeout, 120, fun() ->
        _ = rand:seed(exsss, {11, 12, 13}),
        lists:foreach(fun(K) ->
            T = term(4),
            lists:foreach(fun(Fmt) ->
                Text = io_lib:format(Fmt ++ ".~n", [T]),
                Path = write("random_" ++ integer_to_list(K) ++ ".txt", Text),
                Expected = file:consult(Path),
                ?assertMatch({{ok, [_]}, _}, {Expected, Fmt}),
                Got = vbeam_native_ir:consult(Path),
                case Got =:= Expected andalso same(Got, Expected) of
                    true -> ok;
                    false -> ?assertEqual({Fmt, lists:flatten(Text), Expected}, {Fmt, lists:flatten(Text), Got})
                end
            end, ["~p", "~w", "~tp"])
        end, lists:seq(1, ?TERMS))
    end}.

%% =:= and, for floats, the same bits (-0.0 =:= 0.0 in OTP 25).
same(A, B) when is_float(A), is_float(B) -> <<A/float>> =:= <<B/float>>;
same(A, B) when is_tuple(A), is_tuple(B) -> same(tuple_to_list(A), tuple_to_list(B));
same([A | As], [B | Bs]) -> same(A, B) andalso same(As, Bs);
same(A, B) when is_map(A), is_map(B) -> same(lists:sort(maps:to_list(A)), lists:sort(maps:to_list(B)));
same(A, B) -> A =:= B.

term(0) -> scalar();
term(Depth) ->
    case rand:uniform(10) of
        N when N =< 4 -> scalar();
        5 -> list_to_tuple(items(Depth));
        6 -> items(Depth);
        7 -> improper(Depth);
        8 -> maps:from_list([{term(Depth - 1), term(Depth - 1)} || _ <- lists:seq(1, rand:uniform(4) - 1)]);
        9 -> string();
        10 -> [term(Depth - 1) | string()]
    end.

items(Depth) -> [term(Depth - 1) || _ <- lists:seq(1, rand:uniform(5) - 1)].

improper(Depth) ->
    lists:foldr(fun(X, Acc) -> [X | Acc] end, scalar_not_list(), [term(Depth - 1) || _ <- lists:seq(1, rand:uniform(3))]).

scalar_not_list() ->
    case scalar() of
        L when is_list(L) -> tail;
        X -> X
    end.

scalar() ->
    case rand:uniform(12) of
        1 -> atom();
        2 -> rand:uniform(1000) - 500;
        3 -> (rand:uniform(1 bsl 64) - (1 bsl 63)) * pick([1, 1, 1 bsl 64, -(1 bsl 100)]);
        4 -> float();
        5 -> crypto_free_bytes(rand:uniform(12) - 1);
        6 -> unicode:characters_to_binary(pick(["héllo", "€uro", "日本", "plain text", "tab\there", "q\"uote\\"]));
        7 -> <<(rand:uniform(7)):3>>;
        8 -> pick([[], <<>>, {}, #{}, true, false, undefined]);
        9 -> rand:uniform(16#10FFFF);
        10 -> pick([16#7FFFFFFFFFFFFFFF, -16#8000000000000000, 16#FFFFFFFFFFFFFFFF, 16#10000000000000000, -1]);
        11 -> string();
        12 -> atom()
    end.

atom() ->
    pick(['a', 'hello_world', 'Caps', 'with space', '', 'a\'b', 'and', 'or', 'fun', 'é', 'x@y', 'new\nline',
          'maybe', 'else', list_to_atom([8364, $a]), list_to_atom([228, 246]), '$dollar', 'ret', 'vreg', '9lives']).

float() ->
    case rand:uniform(6) of
        1 -> -0.0;
        2 -> pick([0.0, 1.0, -2.5, 0.1, 1.0e300, 1.0e-300, 5.0e-324, 1.7976931348623157e308]);
        _ ->
            <<F/float>> = <<(rand:uniform(16#7FE0) - 1):16, (rand:uniform(1 bsl 48) - 1):48>>,
            F
    end.

crypto_free_bytes(N) -> << <<(rand:uniform(256) - 1)>> || _ <- lists:seq(1, N) >>.

string() ->
    Alphabets = [lists:seq($a, $z) ++ " \n\t\"\\'", lists:seq(160, 255), [8364, 26085, 26412, 32, 10], lists:seq(1, 31)],
    Alphabet = pick(Alphabets),
    [pick(Alphabet) || _ <- lists:seq(1, rand:uniform(8))].

pick(List) -> lists:nth(rand:uniform(length(List)), List).

%% Forms people write by hand, beyond what io_lib prints.
hand_written_test_() ->
    Cases = [
        "%% a comment\n#{a => 1, % another\n  b => [1, 2 | [3]]}.",
        "<<1:64/little>>.", "<<-1:16/signed-big, 1.5/float, 2.5:32/float>>.", "<<\"\xe2\x82\xac\"/utf8, $a/utf16-little>>.",
        "<<\"ab\":16, <<1,2>>/binary, <<1:3>>/bits, 5:5>>.", "<<1:(8), (2)>>.", "\"ab\" \"cd\".", "[1 | \"ab\"].",
        "-(5).", "- 16#ff.", "+3.", "-$a.", "1_000_000.", "16#DEAD_beef.", "36#zz.", "2#1010.", "1_0.2_5e1_0.",
        "{'and', 'fun', 'X', '\\x{20AC}', '\\^a', \"\\s\\e\\d\\b\\v\\f\\101\\x41\\x{41}\\'\\\"\\\\\"}.",
        "$\\n. $\\x{1F600}. $ . $\\^Z.", "#{a => 1, a => 2}.", "{(a), [(1)], #{(k) => (v)}}.",
        "%% coding: latin-1\n<<\"\xe9\">>.", "'\xc3\xa9t\xc3\xa9'.", "\xc3\xa9t\xc3\xa9.",
        "[a|b].", "<< >>.", "[ ].", "{ }.", "#{ }.", "a. b. c.", "<<\"\\x{20AC}\">>.", "<<300, -1>>."
    ],
    [{Text, fun() ->
        Path = tmp("hand.txt"),
        ok = file:write_file(Path, list_to_binary(Text)),
        ?assertEqual(file:consult(Path), vbeam_native_ir:consult(Path))
     end} || Text <- Cases].

%% Inputs where the reader once disagreed with file:consult/1: both
%% readers give the same term (for floats, the same bits), or both refuse.
agrees_with_file_consult_test_() ->
    Cases = [
        %% Equal map keys written differently: one key, the last value.
        "#{[1|[2]] => a, [1,2] => b}.", "#{#{a=>1,b=>2} => x, #{b=>2,a=>1} => y}.",
        "#{\"ab\" => a, [$a|\"b\"] => b}.", "#{0.0 => a, -0.0 => b}.", "#{-0.0 => a, 0.0 => b}.",
        "#{1 => a, 1.0 => b}.", "#{{[1|[]], #{0.0 => [2|\"c\"]}} => a, {[1], #{-0.0 => [2,$c]}} => b}.",
        %% Refused by file:consult/1.
        "<<1.5>>.", "<<(1.5)>>.", "<<1.5:16>>.", "<<1/unit:8>>.", "<<1.5/float-unit:8>>.", "<<<<1>>/bits-unit:8>>.",
        "<<1:16/little-big>>.", "<<1:16/native-little>>.", "<<1:16/signed-unsigned>>.", "<<1:16/integer-float>>.",
        "<<1:2/unit:8-unit:4>>.", "\"\\x{D800}\".", "\"\\x{DFFF}\".", "\"\\x{FFFE}\".", "\"\\x{FFFF}\".",
        "<<\"\\x{D800}\">>.", "$\\x{D800}.", "'\\x{FFFE}'.", "\"\xef\xbf\xbe\".",
        %% Accepted by file:consult/1.
        "<<1:12/little>>.", "<<16#ABC:12/little>>.", "<<-1:12/little-signed>>.", "<<1:4/unit:3-little>>.",
        "<<1:16/little-little, 1:16/native-native, 1:16/signed-signed, 1:2/unit:8-unit:8>>.",
        "<<<<1>>/binary-unit:8>>.", "<<1.5:16/float>>.", "<<1.0:16/float-little>>.", "<<65504.0:16/float>>.",
        "<<65519.0:16/float, 65520.0:16/float, 1.0e300:16/float, -0.0:16/float, 3:16/float>>.",
        "<<1.0e-5:16/float, 1.0e-8:16/float, 5.960464477539063e-8:16/float>>.",
        "<<2.98023223876953125e-8:16/float, 2.980232238769532e-8:16/float, 1.5:8/float-unit:2>>.",
        "<<1.0e300:32/float, 1.0e-300:32/float, \"a\"/float>>.", "1_6#ff.", "1_0#10.", "3_6#z.", "1_6#f_f.",
        "\"\\x{10FFFF}\\x{FFFD}\\x{E000}\"."
    ],
    [{Text, fun() ->
        Path = tmp("agrees.txt"),
        ok = file:write_file(Path, list_to_binary(Text)),
        case {file:consult(Path), vbeam_native_ir:consult(Path)} of
            {{ok, Expected}, {ok, Got}} -> ?assert(same(Expected, Got), {Text, Expected, Got});
            {{error, _}, {error, {syntax, Path, _, _, _}}} -> ok;
            Other -> error({disagrees_with_file_consult, Text, Other})
        end
     end} || Text <- Cases].

%% Terms nest up to 1,000 levels; one more is a syntax error where it opens.
nesting_limit_test() ->
    Path = tmp("deep.txt"),
    Nested = fun(N) -> ok = file:write_file(Path, [lists:duplicate(N, $[), lists:duplicate(N, $]), ".\n"]) end,
    ok = Nested(1000),
    {ok, [Deep]} = vbeam_native_ir:consult(Path),
    ?assertEqual(999, depth(Deep, 0)),
    ok = Nested(1001),
    {error, {syntax, Path, 1, 1001, Message}} = vbeam_native_ir:consult(Path),
    ?assertNotEqual(nomatch, string:find(Message, "terms nested deeper than 1000 levels")).

depth([], D) -> D;
depth([X], D) -> depth(X, D + 1).

%% ---------------------------------------------------------------------
%% Malformed text: line, column and what is wrong, as both readers see it.

malformed_test_() ->
    Cases = [
        {"#{a => 1,\n  b => {c, d e}}.", 2, 14, "expected ',' or '}'"},
        {"[1,\n 2", 2, 3, "the list opened at 1:1 is not closed"},
        {"{and, b}.", 1, 2, "'and' is a reserved word"},
        {"{a, X}.", 1, 5, "variable X"},
        {"\"\\x4\".", 1, 2, "\\x escape"},
        {"<<(1+2)>>.", 1, 3, "literal"},
        {"a.b.", 1, 2, "expected '.'"},
        {"1.0e400.", 1, 1, "out of range"},
        {"37#1.", 1, 1, "bad base"},
        {"#{a := 1}.", 1, 5, "=>"},
        {"{a,}.", 1, 4, "unexpected '}'"},
        {"#rec{a = 1}.", 1, 1, "records are not terms"},
        {"\n\n   'unterminated.", 3, 4, "unterminated quoted atom"},
        {"{a, b}", 1, 7, "expected '.'"},
        {"<<\"\xe9\">>.", 1, 4, "invalid UTF-8"},
        {"<<1/bogus>>.", 1, 5, "unknown type specifier bogus"}
    ],
    %% Funs are the one term file:consult/1 reads that the IR has no use
    %% for: refused.
    Refused = [{"fun lists:map/2.", 1, 1, "fun terms are not supported"}],
    [{Text, fun() ->
        Path = tmp("malformed.txt"),
        ok = file:write_file(Path, list_to_binary(Text)),
        lists:keymember(Text, 1, Refused) orelse ?assertMatch({error, _}, file:consult(Path)),
        {error, {syntax, Path, Line, Column, Message}} = vbeam_native_ir:consult(Path),
        ?assertEqual({Text, L, C}, {Text, Line, Column}),
        ?assertNotEqual(nomatch, string:find(Message, Part)),
        ?assertEqual({error, {syntax, Path, Line, Column, Message}}, vbeam_native:compile_file(Path, #{})),
        Expected = io_lib:format("~ts:~B:~B: ~ts", [Path, L, C, Message]),
        ?assertEqual(lists:flatten(Expected), lists:flatten(vbeam_native:format_error({syntax, Path, Line, Column, Message})))
     end} || {Text, L, C, Part} <- Cases ++ Refused].

%% ---------------------------------------------------------------------
%% Compiling from text: what compiling the consulted module gives.

fixtures_dir() ->
    filename:join(vbeam_native_run_tests:root(), "test/fixtures").

fixtures_from_text_test_() ->
    Files = lists:sort(filelib:wildcard(filename:join(fixtures_dir(), "*.ir"))),
    {timeout, 120, [{filename:basename(F), fun() ->
        {ok, Module} = vbeam_native_ir:parse_file(F),
        {ok, Consulted} = file:consult(F),
        ?assertEqual([Module], Consulted),
        [?assertEqual(vbeam_native:compile(Module, #{format => Fmt}), vbeam_native:compile_file(F, #{format => Fmt}))
         || Fmt <- [elf64, macho, pe]]
     end} || F <- Files]}.

main(Body) -> #{name => <<"main">>, arity => 0, exported => true, params => [], locals => 4, body => Body}.
module(Funs) -> #{target => x86_64, format => elf64, functions => Funs, data => [], bss => [], imports => []}.
module_body(Body) -> module([main(Body)]).

%% Every reason of the README's table, from text as from the term, with
%% the line and column of what it is about.
same_errors_from_text_test_() ->
    Cases = [
        not_a_map,
        #{},
        (module_body([ret]))#{target := sparc},
        (module_body([ret]))#{format := coff},
        (module_body([ret]))#{functions := nope},
        module([not_a_function]),
        module([(main([ret]))#{body := foo}]),
        module([maps:remove(body, main([ret]))]),
        module_body([{frobnicate, {vreg, 0}}, ret]),
        module_body([ret, {add, {vreg, 0}, {imm, 1}, {vreg, 1}}]),
        module_body([{mov_imm, {vreg, 0}, 1 bsl 70}]),
        module_body([{mov, {preg, x0}, {imm, 1}}]),
        module_body([{mov, {vreg, 0}, {imm, 1.5}}]),
        module([main([ret]), main([ret])]),
        module_body([{jmp, <<"nowhere">>}]),
        module_body([{label, <<"a">>}, {label, <<"a">>}, ret]),
        module_body([{call, {sym, <<"g">>}}, {call, {sym, <<"f">>}}, ret]),
        module([(main([ret]))#{name := <<"start">>}]),
        module_body([{lea, {vreg, 0}, {data_ref, <<"nope">>}}, ret]),
        module_body([{mov, {preg, rsp}, {imm, 0}}, ret]),
        module_body([{cmp, {vreg, 0}, {imm, 1}}, {add, {vreg, 0}, {vreg, 0}, {imm, 1}}, {jcc, eq, <<"x">>}, {label, <<"x">>}, ret]),
        (module_body([ret]))#{data := [{<<"d">>, 3, <<>>}]},
        (module_body([ret]))#{data := [{<<"d">>, 1, <<>>}], bss := [{<<"d">>, 8, 8}]},
        (module_body([ret]))#{data := [{<<"__vbeam_x">>, 1, <<>>}]},
        (module_body([ret]))#{data := [{<<"t">>, 8, [{data_ref, <<"nope">>}]}]},
        (module_body([{mov_imm, {preg, rax}, 39}, syscall]))#{format := pe}
    ],
    [fun() ->
        Path = tmp("module.ir"),
        ok = vbeam_native_ir:write_file(Path, M),
        FromTerm = vbeam_native:compile(M),
        ?assertMatch({error, _}, FromTerm),
        ?assertEqual(FromTerm, vbeam_native:compile_file(Path, #{})),
        {ok, Text} = file:read_file(Path),
        {error, Reason, Details} = vbeam_native_nif:compile_text(Text, undefined, undefined, #{}),
        ?assertEqual(FromTerm, {error, Reason}),
        case M of
            not_a_map -> ok;
            _ -> ?assertMatch({M, #{line := _, column := _}}, {M, Details})
        end
     end || M <- Cases].

%% The message points at the instruction and says what is wrong with it.
instruction_message_test() ->
    Path = write("bad_instruction.ir",
                 "#{target => x86_64, format => elf64,\n"
                 "  functions => [#{name => <<\"main\">>, body => [\n"
                 "      {mov_imm, {vreg, 0}, 1},\n"
                 "      {add, {vreg, 0}, {imm, 1}, {vreg, 1}},\n"
                 "      ret]}]}.\n"),
    {error, Reason, Details} = vbeam_native_nif:compile_text(element(2, file:read_file(Path)), undefined, undefined, #{}),
    ?assertEqual({invalid_instruction, <<"main">>, 2, {add, {vreg, 0}, {imm, 1}, {vreg, 1}}}, Reason),
    ?assertMatch(#{line := 4, column := 7, target := x86_64}, Details),
    ?assertEqual(<<"operand 2 (A) of add must be a register ({vreg, N} or {preg, Name}), got the immediate {imm, 1}">>,
                 maps:get(explanation, Details)),
    ?assertEqual(<<"operand 1 (Dst) of mov: x0 is a register of arm64, and this module is for x86_64">>,
                 vbeam_native_nif:explain(x86_64, {mov, {preg, x0}, {imm, 1}})),
    ?assertEqual(undefined, vbeam_native_nif:explain(x86_64, {mov, {preg, rax}, {imm, 1}})).

%% write_file/2 and parse_file/1 keep every byte, and file:consult/1
%% reads what write_file/2 writes.
round_trip_test() ->
    M = (module_body([{string_lit, {vreg, 0}, <<200, 233, 0, 255>>}, {print_str, {vreg, 0}}, ret]))#{
          data := [{<<"é€"/utf8>>, 1, <<"héllo"/utf8, 128, 255>>}, {<<"raw">>, 8, << <<B>> || B <- lists:seq(0, 255) >>}]},
    Path = tmp("round_trip.ir"),
    ok = vbeam_native_ir:write_file(Path, M),
    ?assertEqual({ok, M}, vbeam_native_ir:parse_file(Path)),
    ?assertEqual({ok, [M]}, file:consult(Path)).

parse_file_errors_test() ->
    ?assertMatch({error, {read, "/nonexistent.ir", enoent}}, vbeam_native_ir:parse_file("/nonexistent.ir")),
    Two = write("two.ir", "#{}. #{}."),
    ?assertEqual({error, {not_one_module, Two, 2}}, vbeam_native_ir:parse_file(Two)),
    ?assertEqual({error, {not_one_module, Two, 2}}, vbeam_native:compile_file(Two, #{})),
    Empty = write("empty.ir", "%% nothing\n"),
    ?assertEqual({error, {not_one_module, Empty, 0}}, vbeam_native_ir:parse_file(Empty)).
