#!/usr/bin/env bash
# Prints the backend's benchmark figures (see README "Benchmarks").
set -euo pipefail
cd "$(dirname "$0")/.."
rebar3 compile >/dev/null
ebin=_build/default/lib/vbeam_native/ebin
work=_build/bench
mkdir -p "$work"
erlc -o "$work" bench/vbeam_native_bench.erl

echo "== compile throughput (NIF called from Erlang, term decoding included; best run, fresh VM per size)"
for target in x86_64 arm64; do
  for scale in 1 4 10; do
    erl -noshell -pa "$ebin" "$work" -run vbeam_native_bench main throughput "$scale" "$target"
  done
done
for target in x86_64 arm64; do
  erl -noshell -pa "$ebin" "$work" -run vbeam_native_bench main throughput 1 "$target" data
done

# Best wall time of three runs of a command, in milliseconds.
best_ms() {
  local best=""
  for _ in 1 2 3; do
    local t0 t1
    t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N)
    local ms=$(( (t1 - t0) / 1000000 ))
    if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
  done
  echo "$best"
}

echo "== fib(35): vbeam_native x86_64 binary vs gcc -O1"
erl -noshell -pa "$ebin" "$work" -run vbeam_native_bench main write_fib x86_64 "$work/fib.ir"
erl -noshell -pa "$ebin" -eval "vbeam_native:main([\"$work/fib.ir\", \"-o\", \"$work/fib_vbeam\"])" -s init stop >/dev/null
cat > "$work/fib.c" <<'C'
#include <stdio.h>
long fib(long n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
int main(void) { printf("%ld\n", fib(35)); return 0; }
C
gcc -O1 -o "$work/fib_c" "$work/fib.c"
[ "$("$work/fib_vbeam")" = "$("$work/fib_c")" ] || { echo "fib outputs differ" >&2; exit 1; }
ours=$(best_ms "$work/fib_vbeam")
theirs=$(best_ms "$work/fib_c")
awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "vbeam_native %d ms, gcc -O1 %d ms, ratio %.2f\n", a, b, (b > 0 ? a / b : 0) }'

echo "== strings, arrays and maps (bench/data_*.ir beside bench/data.c at gcc -O1)"
sed 's/target => x86_64/target => arm64/' bench/data_x86_64.ir > "$work/data_arm64.ir"
erl -noshell -pa "$ebin" -eval "vbeam_native:main([\"bench/data_x86_64.ir\", \"-o\", \"$work/data_x86_64\"])" -s init stop >/dev/null
erl -noshell -pa "$ebin" -eval "vbeam_native:main([\"$work/data_arm64.ir\", \"-o\", \"$work/data_arm64\"])" -s init stop >/dev/null
gcc -O1 -o "$work/data_c" bench/data.c
[ "$("$work/data_x86_64")" = "$("$work/data_c")" ] || { echo "data outputs differ" >&2; exit 1; }
ours=$(best_ms "$work/data_x86_64")
theirs=$(best_ms "$work/data_c")
awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "x86_64: vbeam_native %d ms, gcc -O1 %d ms, ratio %.2f\n", a, b, (b > 0 ? a / b : 0) }'
if command -v aarch64-linux-gnu-gcc >/dev/null; then
  aarch64-linux-gnu-gcc -O1 -static -o "$work/data_c_arm64" bench/data.c
  [ "$(qemu-aarch64 "$work/data_arm64")" = "$(qemu-aarch64 "$work/data_c_arm64")" ] || { echo "arm64 data outputs differ" >&2; exit 1; }
  ours=$(best_ms qemu-aarch64 "$work/data_arm64")
  theirs=$(best_ms qemu-aarch64 "$work/data_c_arm64")
  awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "arm64 (both under qemu-aarch64): vbeam_native %d ms, gcc -O1 %d ms, ratio %.2f\n", a, b, (b > 0 ? a / b : 0) }'
else
  echo "arm64: install gcc-aarch64-linux-gnu for the C side; vbeam_native alone under qemu: $(best_ms qemu-aarch64 "$work/data_arm64") ms"
fi
