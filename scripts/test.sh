#!/usr/bin/env bash
# Every test: Rust (encoders against llvm-mc, allocator, fixtures run on
# both targets, differential testing) then Erlang (API, errors, command
# line, fixtures through the NIF).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --release
rebar3 eunit
