#!/usr/bin/env bash
# Fuzzes vbeam_native_core with cargo fuzz (libFuzzer), on stable Rust.
#
#   scripts/fuzz.sh TARGET [SECONDS] [LIBFUZZER_ARGS...]
#       Fuzzes TARGET (bytes, structured) for SECONDS (default 3600; 0 for
#       ever), from the committed seeds in fuzz/corpus/TARGET, adding what
#       it finds to fuzz/work/TARGET (not committed). Stops at the first
#       failure and saves the input under fuzz/artifacts/TARGET. With
#       FUZZ_KEEP_GOING=1 it goes on after failures (libFuzzer's -fork=N,
#       N = FUZZ_JOBS or 1), saving each.
#   scripts/fuzz.sh ci [SECONDS]
#       What CI runs: builds both targets and fuzzes each for SECONDS
#       (default 30) from the committed seeds; fails on any finding.
#   scripts/fuzz.sh replay
#       Feeds every committed corpus file to the targets' functions in a
#       plain `cargo test` (no libFuzzer, no special flags).
#   scripts/fuzz.sh merge TARGET
#       Adds what fuzz/work/TARGET covers beyond the committed corpus to
#       fuzz/corpus/TARGET (libFuzzer's -merge=1: only inputs with new
#       coverage).
#   scripts/fuzz.sh seeds
#       Rewrites the fixture seeds of fuzz/corpus/bytes: every
#       test/fixtures/*.ir as text and as term_to_binary (needs erl).
#
# A failure is a panic, a run over the time limit (-timeout, 2 s: a small
# module compiles in milliseconds, seven times per input), or memory over
# -rss_limit_mb / -malloc_limit_mb. Replay or minimise a saved input with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz -s none -a -O TARGET FILE
#   RUSTC_BOOTSTRAP=1 cargo fuzz tmin --fuzz-dir fuzz -s none -a -O TARGET FILE
# and see it as .ir text with
#   (cd fuzz && cargo run --release --example show -- TARGET FILE)
#
# cargo fuzz asks for nightly-only flags; RUSTC_BOOTSTRAP=1 lets stable
# take them. The sanitizer is off (-s none): the core has no unsafe code, and
# libFuzzer's coverage runs ~3x faster without AddressSanitizer. Debug
# assertions are on (-a): arithmetic overflow panics, as in a debug build.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1

limits=(-timeout=2 -rss_limit_mb=2048 -malloc_limit_mb=1024)

ensure_cargo_fuzz() {
  if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --version 0.13.2
  fi
}

target_args() {
  case "$1" in
    bytes) echo "-dict=fuzz/bytes.dict" ;;
    structured) echo "-max_len=8192" ;;
    *) echo "fuzz.sh: unknown target $1 (bytes, structured)" >&2; exit 2 ;;
  esac
}

run() {
  local target=$1 seconds=$2
  shift 2
  mkdir -p "fuzz/work/$target" "fuzz/artifacts/$target"
  # shellcheck disable=SC2046
  cargo fuzz run --fuzz-dir fuzz -s none -a -O "$target" "fuzz/work/$target" "fuzz/corpus/$target" -- \
    "${limits[@]}" $(target_args "$target") -max_total_time="$seconds" -print_final_stats=1 "$@"
}

case "${1:-}" in
  bytes | structured)
    ensure_cargo_fuzz
    target=$1
    seconds=${2:-3600}
    shift $(($# < 2 ? $# : 2))
    keep=()
    if [ "${FUZZ_KEEP_GOING:-0}" = 1 ]; then
      keep=(-fork="${FUZZ_JOBS:-1}" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
    fi
    run "$target" "$seconds" "${keep[@]}" "$@"
    ;;
  ci)
    ensure_cargo_fuzz
    seconds=${2:-30}
    cargo fuzz build --fuzz-dir fuzz -s none -a -O
    for target in bytes structured; do
      # From the committed seeds only, so the run is the same everywhere.
      work=$(mktemp -d)
      log=$(mktemp)
      mkdir -p "fuzz/artifacts/$target"
      status=0
      # shellcheck disable=SC2046
      cargo fuzz run --fuzz-dir fuzz -s none -a -O "$target" "$work" "fuzz/corpus/$target" -- \
        "${limits[@]}" $(target_args "$target") -max_total_time="$seconds" -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
      grep -E '^(#[0-9]+ +(INITED|DONE)|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | sed "s/^/$target: /" || true
      rm -rf "$work"
      if [ "$status" != 0 ]; then
        tail -80 "$log" >&2
        rm -f "$log"
        echo "fuzz.sh: $target failed; the input is in fuzz/artifacts/$target" >&2
        exit 1
      fi
      rm -f "$log"
    done
    echo "fuzz: 2 passed, 0 failed"
    ;;
  replay)
    cargo test --release --manifest-path fuzz/Cargo.toml
    ;;
  merge)
    ensure_cargo_fuzz
    target=${2:?usage: fuzz.sh merge TARGET}
    cargo fuzz run --fuzz-dir fuzz -s none -a -O "$target" "fuzz/corpus/$target" "fuzz/work/$target" -- \
      "${limits[@]}" $(target_args "$target") -merge=1
    ;;
  seeds)
    for f in test/fixtures/*.ir; do cp "$f" "fuzz/corpus/bytes/fixture_$(basename "$f")"; done
    erl -noshell -eval '
      [begin
         {ok, [T]} = file:consult(F),
         ok = file:write_file("fuzz/corpus/bytes/fixture_" ++ filename:basename(F, ".ir") ++ ".etf", term_to_binary(T))
       end || F <- filelib:wildcard("test/fixtures/*.ir")],
      halt().'
    ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 2
    ;;
esac
