#!/usr/bin/env bash
# Every test: style (rustfmt, clippy), Rust (encoders against llvm-mc,
# allocator, fixtures run on both targets, differential testing) then
# Erlang (API, errors, command line, fixtures through the NIF).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --workspace --all-targets --release -- -D warnings
cargo test --workspace --release
rebar3 eunit
rebar3 xref
rebar3 dialyzer
