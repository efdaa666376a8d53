#!/usr/bin/env bash
# Every test: style (rustfmt, clippy), Rust (encoders against llvm-mc,
# allocator, fixtures run on both targets, differential testing), the
# fuzzers for 30 s each from the committed seeds, then
# Erlang (API, errors, command line, fixtures through the NIF), and
# another rebar3 project depending on this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --workspace --all-targets --release -- -D warnings
cargo test --workspace --release
scripts/fuzz.sh ci
rebar3 eunit
rebar3 xref
rebar3 dialyzer
scripts/rebar3-dependency.sh
