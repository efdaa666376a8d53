%% @doc The register allocator on one function: where each vreg lives
%% (a physical register or a spill slot), and the body rewritten with those
%% locations (`{preg, R}' / `{spill, N}' in place of `{vreg, N}').
-module(vbeam_native_regalloc).
-export([allocate/4]).

-spec allocate(vbeam_native:target(), [tuple()], [term()], map()) -> {ok, map()} | {error, term()}.
allocate(Target, Params, Body, Opts) ->
    Function = #{name => maps:get(name, Opts, <<"f">>), arity => length(Params), exported => false,
                 params => Params, locals => maps:get(locals, Opts, 0), body => Body},
    case vbeam_native_nif:allocate(Target, Function) of
        {ok, #{locations := Locations} = Result} ->
            Where = maps:from_list(Locations),
            {ok, Result#{body => [rewrite(I, Where) || I <- Body]}};
        Error ->
            Error
    end.

rewrite({vreg, N} = V, Where) -> maps:get(N, Where, V);
rewrite(T, Where) when is_tuple(T) -> list_to_tuple([rewrite(E, Where) || E <- tuple_to_list(T)]);
rewrite(L, Where) when is_list(L) -> [rewrite(E, Where) || E <- L];
rewrite(X, _) -> X.
