#!/usr/bin/env bash
# Compiles the spec's worked example exactly as the V compiler runs the
# backend, then runs the executable (prints Hello and 9227465).
set -euo pipefail
cd "$(dirname "$0")/.."
export VBEAM_NATIVE_DIR=$PWD/_build/default/lib/vbeam_native/ebin
mkdir -p _build/demo
erl -noshell -pa "$VBEAM_NATIVE_DIR" \
  -eval 'vbeam_native:main(["test/fixtures/hello_x86_64.ir", "-o", "_build/demo/hello"])' -s init stop
./_build/demo/hello
