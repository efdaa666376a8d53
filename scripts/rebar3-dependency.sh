#!/usr/bin/env bash
# Another rebar3 project depending on this repository by git URL, as the
# README shows: a throwaway application whose rebar.config names the
# checkout's commit (HEAD: uncommitted changes are not in the clone) is
# built, which builds the NIF through the hook, and compiles a fixture
# through vbeam_native:compile/3 and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
commit=$(git rev-parse HEAD)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/user/src"
cat > "$work/user/rebar.config" <<CONFIG
{deps, [{vbeam_native, {git, "file://$repo", {ref, "$commit"}}}]}.
CONFIG
cat > "$work/user/src/hello_user.app.src" <<'APP'
{application, hello_user, [{description, "Depends on vbeam_native"}, {vsn, "0"}, {applications, [kernel, stdlib, vbeam_native]}]}.
APP
cat > "$work/user/src/hello_user.erl" <<'ERL'
-module(hello_user).
-export([hello/2]).

%% Compiles the `.ir' module at `Source' for x86_64 ELF into `Exe'.
hello(Source, Exe) ->
    {ok, Module} = vbeam_native_ir:parse_file(Source),
    {ok, Executable} = vbeam_native:compile(Module, x86_64, elf64),
    ok = file:write_file(Exe, Executable),
    ok = file:change_mode(Exe, 8#755).
ERL
# The dependency's cargo build shares this checkout's target directory:
# only the crates of the clone are compiled again.
(cd "$work/user" && CARGO_TARGET_DIR="$repo/target" rebar3 compile)
(cd "$work/user" && erl -noshell -pa _build/default/lib/*/ebin \
    -eval "hello_user:hello(\"$repo/test/fixtures/hello_x86_64.ir\", \"$work/hello\"), halt().")
"$work/hello" > "$work/hello.stdout"
cmp "$work/hello.stdout" test/fixtures/hello.stdout
echo "rebar3 dependency: ok"
