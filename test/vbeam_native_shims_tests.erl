%% @doc The stage modules' small APIs: encoders (the sketch's checks),
%% allocation report, linker and writers, IR helpers.
-module(vbeam_native_shims_tests).
-include_lib("eunit/include/eunit.hrl").

encoders_test_() ->
    [?_assertEqual({ok, <<16#48, 16#C7, 16#C0, 42, 0, 0, 0>>}, vbeam_native_x86_64:encode({mov, rax, {imm, 42}})),
     ?_assertEqual({ok, <<16#4C, 16#01, 16#F8>>}, vbeam_native_x86_64:encode({add, rax, r15})),
     ?_assertEqual({ok, <<16#0F, 16#05>>}, vbeam_native_x86_64:encode(syscall)),
     ?_assertEqual({ok, 16#8B020020}, vbeam_native_arm64:word({add, x0, x1, x2})),
     ?_assertEqual({ok, 16#D65F03C0}, vbeam_native_arm64:word(ret)),
     ?_assertMatch({error, {invalid_instruction, _}}, vbeam_native_x86_64:encode({mov, x0, {imm, 1}})),
     ?_assertMatch({error, {invalid_instruction, _}}, vbeam_native_arm64:encode({frob})),
     ?_assertMatch({error, {invalid_target, _}}, vbeam_native_nif:encode(mips, ret))].

regalloc_test() ->
    Body = [{add, {vreg, 1}, {vreg, 0}, {imm, 1}}, {mov, {preg, rdi}, {vreg, 1}},
            {call, {sym, <<"g">>}}, {add, {vreg, 2}, {vreg, 1}, {preg, rax}},
            {mov, {preg, rax}, {vreg, 2}}, ret],
    {ok, #{body := Allocated, locations := Locs, scratch := [_, _]}} =
        vbeam_native_regalloc:allocate(x86_64, [{vreg, 0}], Body, #{}),
    ?assertEqual(3, length(Locs)),
    %% v1 lives across the call: a callee-saved register or the stack.
    {1, Where} = lists:keyfind(1, 1, Locs),
    ?assert(lists:member(Where, [{preg, R} || R <- [rbx, r12, r13, r14, r15]]) orelse element(1, Where) =:= spill),
    ?assertEqual([], [V || I <- Allocated, is_tuple(I), {vreg, _} = V <- tuple_to_list(I)]).

elf_emit_test() ->
    %% mov edi, 42; mov eax, 60; syscall
    Code = <<16#BF, 42:32/little, 16#B8, 60:32/little, 16#0F, 16#05>>,
    {ok, <<127, "ELF", 2, 1, _/binary>> = Elf} = vbeam_native_elf:emit(x86_64, Code, <<"data">>, #{}),
    Exe = filename:join(vbeam_native_test_dir:dir("shims"), "exit42"),
    ok = file:write_file(Exe, Elf),
    ok = file:change_mode(Exe, 8#755),
    Port = open_port({spawn_executable, Exe}, [exit_status]),
    receive {Port, {exit_status, S}} -> ?assertEqual(42, S) after 10000 -> error(timeout) end.

%% dyld calls the entry point as main(): `mov eax, 42; ret' exits with 42.
macho_emit_test() ->
    Code = <<16#B8, 42:32/little, 16#C3>>,
    {ok, <<16#CF, 16#FA, 16#ED, 16#FE, _/binary>> = MachO} = vbeam_native_macho:emit(x86_64, Code, <<"data">>, #{}),
    Exe = filename:join(vbeam_native_test_dir:dir("shims"), "exit42.macho"),
    ok = file:write_file(Exe, MachO),
    ?assertEqual(42, vbeam_native_run_tests:exit_status_under_loader(Exe)).

%% Arguments of the wrong kind are reasons, not exceptions.
link_arguments_test_() ->
    [?_assertEqual({error, {invalid_binary, code, not_code}}, vbeam_native_link:link(x86_64, elf64, not_code, <<>>)),
     ?_assertEqual({error, {invalid_binary, data, "data"}}, vbeam_native_link:link(x86_64, elf64, <<>>, "data")),
     ?_assertEqual({error, {invalid_target, x86}}, vbeam_native_link:link(x86, elf64, <<>>, <<>>)),
     ?_assertEqual({error, {invalid_format, coff}}, vbeam_native_link:link(x86_64, coff, <<>>, <<>>))].

pe_emit_test() ->
    ?assertMatch({ok, <<"MZ", _/binary>>}, vbeam_native_pe:emit(arm64, <<16#d65f03c0:32/little>>, <<>>, #{})).

ir_helpers_test() ->
    M0 = vbeam_native_ir:new_module(x86_64),
    F = vbeam_native_ir:new_function(<<"main">>, 0, [{mov_imm, {vreg, 3}, 7}, {print_int, {vreg, 3}}, ret]),
    ?assertEqual(4, maps:get(locals, F)),
    M1 = vbeam_native_ir:add_function(M0, F#{exported => true}),
    M2 = vbeam_native_ir:add_bss(vbeam_native_ir:add_data(M1, <<"s">>, 1, <<"hi">>), <<"b">>, 16),
    ?assertEqual(ok, vbeam_native_ir:validate_module(M2)),
    ?assertEqual(ok, vbeam_native_ir:validate_function(vbeam_native_ir:new_function(<<"f">>, 1, [ret]))),
    ?assertMatch({error, {undefined_label, <<"f">>, <<"x">>}},
                 vbeam_native_ir:validate_function(vbeam_native_ir:new_function(<<"f">>, 1, [{jmp, <<"x">>}]))),
    Path = filename:join(vbeam_native_test_dir:dir("shims"), "m.ir"),
    ok = vbeam_native_ir:write_file(Path, M2),
    ?assertEqual({ok, M2}, vbeam_native_ir:parse_file(Path)),
    Text = lists:flatten(io_lib:format("~s", [vbeam_native_ir:pretty_print(M2)])),
    ?assertNotEqual(nomatch, string:find(Text, "function main/0 exported")),
    ?assertEqual(r15, vbeam_native_alloc:heap_register(x86_64)),
    ?assertEqual([{ptr, 0}, {len, 8}], vbeam_native_alloc:layout(string)).
