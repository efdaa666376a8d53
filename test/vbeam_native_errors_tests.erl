%% @doc Malformed modules, each with the exact `{error, Reason}' the API
%% promises (README "Errors"); the VM keeps running through all of them.
-module(vbeam_native_errors_tests).
-include_lib("eunit/include/eunit.hrl").

main(Body) -> #{name => <<"main">>, arity => 0, exported => true, params => [], locals => 4, body => Body}.
module(Funs) -> #{target => x86_64, format => elf64, functions => Funs, data => [], bss => [], imports => []}.
module_body(Body) -> module([main(Body)]).

deep(0) -> [];
deep(N) -> [deep(N - 1)].

error_table_test_() ->
    Junk = {add, {vreg, {{{[[[{}]]]}}}}, {vreg, 1}, {imm, 1}},
    Cases = [
        {not_a_map, {invalid_module, not_a_map}},
        {#{}, {missing_key, target}},
        {(module_body([ret]))#{target := sparc}, {invalid_target, sparc}},
        {(module_body([ret]))#{format := coff}, {invalid_format, coff}},
        {(module_body([ret]))#{functions := nope}, {invalid_field, functions, nope}},
        {module([not_a_function]), {invalid_function, 1, not_a_function}},
        {module([(main([ret]))#{body := foo}]), {invalid_function_field, <<"main">>, body, foo}},
        {module_body([{frobnicate, {vreg, 0}}, ret]), {invalid_instruction, <<"main">>, 1, {frobnicate, {vreg, 0}}}},
        {module_body([ret, {add, {vreg, 0}, {imm, 1}, {vreg, 1}}]), {invalid_instruction, <<"main">>, 2, {add, {vreg, 0}, {imm, 1}, {vreg, 1}}}},
        {module_body([{mov_imm, {vreg, 0}, 1 bsl 70}]), {invalid_instruction, <<"main">>, 1, {mov_imm, {vreg, 0}, 1 bsl 70}}},
        {module_body([{mov, {vreg, 0}, {imm, -(1 bsl 64)}}]), {invalid_instruction, <<"main">>, 1, {mov, {vreg, 0}, {imm, -(1 bsl 64)}}}},
        {module_body([Junk]), {invalid_instruction, <<"main">>, 1, Junk}},
        {module_body([{mov, {preg, x0}, {imm, 1}}]), {invalid_instruction, <<"main">>, 1, {mov, {preg, x0}, {imm, 1}}}},
        {module_body([deep(100000)]), {invalid_instruction, <<"main">>, 1, deep(100000)}},
        {module([main([ret]), main([ret])]), {duplicate_function, <<"main">>}},
        {module_body([{jmp, <<"nowhere">>}]), {undefined_label, <<"main">>, <<"nowhere">>}},
        {module_body([{label, <<"a">>}, {label, <<"a">>}, ret]), {duplicate_label, <<"main">>, <<"a">>}},
        {module_body([{call, {sym, <<"g">>}}, {call, {sym, <<"f">>}}, ret]), {unresolved_symbols, [<<"f">>, <<"g">>]}},
        {module([(main([ret]))#{name := <<"start">>}]), {no_entry_point, <<"main">>}},
        {module_body([{lea, {vreg, 0}, {data_ref, <<"nope">>}}, ret]), {undefined_data, <<"main">>, 1, <<"nope">>}},
        {module_body([{mov, {preg, rsp}, {imm, 0}}, ret]), {reserved_register, <<"main">>, 1, rsp}},
        {(module_body([ret]))#{data := [{<<"d">>, 3, <<>>}]}, {invalid_data, {<<"d">>, 3, <<>>}}},
        {(module_body([ret]))#{data := [{<<"d">>, 1, <<>>}], bss := [{<<"d">>, 8, 8}]}, {duplicate_data, <<"d">>}}
    ],
    [?_assertEqual({error, Reason}, vbeam_native:compile(M)) || {M, Reason} <- Cases].

%% Many functions are decoded together; the error reported is still the
%% first in function order, whether in a function's fields or its body.
%% The improper body `[ret | foo]' is the point of the first two cases (a
%% body that is not a proper list must be rejected), not a slip.
-dialyzer({no_improper_lists, function_order_test_/0}).
function_order_test_() ->
    F = fun(I) -> #{name => <<"f", (integer_to_binary(I))/binary>>, arity => 0, params => [], locals => 1,
                     body => [{mov_imm, {vreg, 0}, I}, ret]} end,
    Funs = fun(Changes) -> [maps:merge(F(I), proplists:get_value(I, Changes, #{})) || I <- lists:seq(1, 20)] ++ [main([ret])] end,
    Bad = {add, {imm, 1}},
    [?_assertEqual({error, {invalid_function_field, <<"f11">>, body, [ret | foo]}},
                   vbeam_native:compile(module(Funs([{11, #{body => [ret | foo]}}, {15, #{body => [Bad]}}])))),
     ?_assertEqual({error, {invalid_function_field, <<"f9">>, arity, -1}},
                   vbeam_native:compile(module(Funs([{9, #{arity => -1}}, {11, #{body => [ret | foo]}}])))),
     ?_assertEqual({error, {invalid_instruction, <<"f9">>, 2, Bad}},
                   vbeam_native:compile(module(Funs([{9, #{body => [ret, Bad]}}, {10, #{arity => -1}}])))),
     ?_assertEqual({error, {invalid_instruction, <<"f20">>, 1, Bad}},
                   vbeam_native:compile(module(Funs([{20, #{body => [Bad]}}]))))].

%% A module large enough to be compiled by several threads while it is
%% decoded: a late error still ends the compilation with that error.
large_module_errors_test_() ->
    Body = lists:append(lists:duplicate(50, [{add, {vreg, 0}, {vreg, 0}, {imm, 1}}, {mul, {vreg, 1}, {vreg, 0}, {imm, 3}}])),
    F = fun(I) -> #{name => <<"f", (integer_to_binary(I))/binary>>, arity => 0, params => [], locals => 2,
                     body => [{mov_imm, {vreg, 0}, I} | Body] ++ [ret]} end,
    Funs = fun(Changes) -> [maps:merge(F(I), proplists:get_value(I, Changes, #{})) || I <- lists:seq(1, 400)] ++ [main([ret])] end,
    Bad = {add, {imm, 1}},
    [?_assertEqual({error, {invalid_instruction, <<"f390">>, 1, Bad}},
                   vbeam_native:compile(module(Funs([{390, #{body => [Bad]}}])))),
     ?_assertEqual({error, {undefined_label, <<"f350">>, <<"nowhere">>}},
                   vbeam_native:compile(module(Funs([{350, #{body => [{jmp, <<"nowhere">>}]}}])))),
     ?_assertMatch({ok, _}, vbeam_native:compile(module(Funs([]))))].

syscall_errors_test_() ->
    Arm = fun(Body) -> (module_body(Body))#{target := arm64} end,
    [?_assertMatch({error, {invalid_syscall, <<"main">>, 2, _}},
                   vbeam_native:compile(Arm([{mov_imm, {preg, x16}, 999}, syscall, ret]))),
     ?_assertMatch({error, {invalid_syscall, <<"main">>, 2, _}},
                   vbeam_native:compile(Arm([{mov, {preg, x16}, {vreg, 0}}, syscall, ret]))),
     %% UEFI gives write and exit a meaning, nothing else (getpid is 39).
     ?_assertMatch({error, {invalid_syscall, <<"main">>, 2, _}},
                   vbeam_native:compile(module_body([{mov_imm, {preg, rax}, 39}, syscall]), x86_64, pe)),
     ?_assertMatch({ok, <<"MZ", _/binary>>},
                   vbeam_native:compile(module_body([{mov_imm, {preg, rax}, 60}, syscall]), x86_64, pe))].

%% Names of the backend's own routines and data are not the program's.
reserved_names_test_() ->
    M = module_body([ret]),
    Shadow = #{name => <<"__vbeam_print_int">>, arity => 1, exported => false, params => [{vreg, 0}],
               locals => 1, body => [ret]},
    [?_assertEqual({error, {reserved_name, <<"__vbeam_print_int">>}},
                   vbeam_native:compile(M#{functions := [Shadow | maps:get(functions, M)]})),
     ?_assertEqual({error, {reserved_name, <<"__vbeam_lit0_0">>}},
                   vbeam_native:compile(M#{data := [{<<"__vbeam_lit0_0">>, 1, <<"x">>}]})),
     ?_assertEqual({error, {reserved_name, <<"__vbeam_heap_end">>}},
                   vbeam_native:compile(M#{bss := [{<<"__vbeam_heap_end">>, 8, 8}]})),
     %% Nor are they the program's to call, even as stubs.
     [?_assertEqual({error, {reserved_name, <<"__vbeam_string_new">>}},
                    vbeam_native:compile((module_body([{call, {sym, <<"__vbeam_string_new">>}}, ret]))
                                         #{allow_stubs => Stubs}))
      || Stubs <- [false, true]],
     ?_assertEqual({error, {reserved_name, <<"__vbeam_alloc">>}},
                   vbeam_native:compile(M#{data := [{<<"t">>, 8, [{sym, <<"__vbeam_alloc">>}]}],
                                           allow_stubs => true}))].

%% Images that move when loaded keep alignments up to their page size.
alignment_test_() ->
    M = (module_body([ret]))#{data := [{<<"big">>, 65536, <<"x">>}]},
    [?_assertMatch({ok, _}, vbeam_native:compile(M, x86_64, elf64)),
     ?_assertEqual({error, {unsupported_alignment, <<"big">>, 65536}}, vbeam_native:compile(M, arm64, macho)),
     ?_assertEqual({error, {unsupported_alignment, <<"big">>, 65536}}, vbeam_native:compile(M, x86_64, pe)),
     ?_assertMatch({ok, _}, vbeam_native:compile(M#{data := [{<<"page">>, 16384, <<"x">>}]}, arm64, macho))].

%% Only write and exit mean the same on every system: an x86_64 mmap
%% (Linux's 9, flags and all) has no macOS equivalent.
untranslatable_syscall_test() ->
    Mmap = [{mov_imm, {preg, rax}, 9}, syscall, ret],
    ?assertMatch({ok, _}, vbeam_native:compile(module_body(Mmap), x86_64, elf64)),
    ?assertMatch({error, {invalid_syscall, <<"main">>, 2, _}}, vbeam_native:compile(module_body(Mmap), x86_64, macho)).

overrides_test_() ->
    M = module_body([ret]),
    [?_assertMatch({ok, <<127, "ELF", _/binary>>}, vbeam_native:compile(M, arm64, elf64)),
     ?_assertMatch({ok, <<127, "ELF", _/binary>>}, vbeam_native:compile(M, #{target => arm64})),
     ?_assertEqual({error, {invalid_target, mips}}, vbeam_native:compile(M, mips, elf64)),
     ?_assertEqual({error, {invalid_format, coff}}, vbeam_native:compile(M, x86_64, coff)),
     ?_assertMatch({ok, _}, vbeam_native:compile((module_body([{call, {sym, <<"g">>}}, ret]))#{allow_stubs => true}))].

vm_survives_test() ->
    lists:foreach(fun(X) -> ?assertMatch({error, _}, vbeam_native:compile(X)) end,
                  [1, [], {}, <<>>, #{target => x86_64, format => elf64, functions => [#{}]}]),
    ?assertMatch({ok, _}, vbeam_native:compile(module_body([ret]))).
