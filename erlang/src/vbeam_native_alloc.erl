%% @doc Facts of the heap the binaries carry: a bump allocator over regions
%% obtained from the OS, its pointer in a reserved register while the
%% program allocates, and the layouts of the heap values.
-module(vbeam_native_alloc).
-export([heap_register/1, layout/1]).

%% @doc The register holding the heap pointer (reserved when a module
%% allocates).
-spec heap_register(vbeam_native:target()) -> atom().
heap_register(x86_64) -> r15;
heap_register(arm64) -> x28.

%% @doc Field byte offsets of a heap value's header.
-spec layout(string | array | map) -> [{atom(), non_neg_integer()}].
layout(string) -> [{ptr, 0}, {len, 8}];
layout(array) -> [{ptr, 0}, {len, 8}, {cap, 16}];
layout(map) -> [{entries, 0}, {len, 8}, {cap, 16}].
