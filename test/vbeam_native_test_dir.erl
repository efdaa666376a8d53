%% @doc The directory of one test run: every file the suites write goes
%% under it, so two runs at once (two checkouts, two CI jobs) never
%% collide. It lies in the system's temporary directory, named after the
%% VM's OS process; what an earlier VM of the same number left there is
%% removed when a run first asks for it.
-module(vbeam_native_test_dir).
-export([dir/1]).

%% @doc The directory `Sub' (a relative path) of this run, created.
-spec dir(string()) -> file:filename_all().
dir(Sub) ->
    D = filename:join(run_dir(), Sub),
    ok = filelib:ensure_path(D),
    D.

run_dir() ->
    case persistent_term:get(?MODULE, undefined) of
        undefined ->
            Base = case os:getenv("TMPDIR") of
                       T when T =:= false; T =:= "" -> "/tmp";
                       T -> T
                   end,
            D = filename:join(Base, "vbeam_native_tests." ++ os:getpid()),
            _ = file:del_dir_r(D),
            persistent_term:put(?MODULE, D),
            D;
        D ->
            D
    end.
