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

echo "== one large function per shape, 10K and 100K IR instructions (Rust, no BEAM; best of five, peak memory of compiling)"
cargo run --release -q -p vbeam_native_testkit --example large_functions -- --target both

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

# Wall time of one run of a command, in milliseconds.
run_ms() {
  local t0 t1
  t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}

# Peak resident memory of one run of a command, in KiB (GNU time).
peak_kib() {
  /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1
}

echo "== the V compiler's command on a 5 MB .ir beside tcc on the same program in C (best of 9, runs interleaved)"
erl -noshell -pa "$ebin" "$work" -run vbeam_native_bench main write_program 345 "$work/program.ir" "$work/program.c"
v_command() {
  erl -noshell -pa "$ebin" -eval "vbeam_native:main([\"$1\", \"-o\", \"$2\"])" -s init stop
}
bare_vm() {
  erl -noshell -eval 'halt()'
}
best_bare=""; best_v=""; best_tcc=""; best_hello=""
for _ in 1 2 3 4 5 6 7 8 9; do
  b=$(run_ms bare_vm); v=$(run_ms v_command "$work/program.ir" "$work/program")
  h=$(run_ms v_command test/fixtures/hello_x86_64.ir "$work/hello")
  [ -z "$best_bare" ] || [ "$b" -lt "$best_bare" ] && best_bare=$b
  [ -z "$best_v" ] || [ "$v" -lt "$best_v" ] && best_v=$v
  [ -z "$best_hello" ] || [ "$h" -lt "$best_hello" ] && best_hello=$h
  if command -v tcc >/dev/null; then
    c=$(run_ms tcc -o "$work/program_tcc" "$work/program.c")
    [ -z "$best_tcc" ] || [ "$c" -lt "$best_tcc" ] && best_tcc=$c
  fi
done
ir_size=$(stat -c %s "$work/program.ir"); out_size=$(stat -c %s "$work/program")
echo "program: $(wc -l < "$work/program.ir") lines, $ir_size bytes of IR ($(stat -c %s "$work/program.c") bytes of C); executable $out_size bytes"
echo "bare VM start (erl -noshell -eval 'halt()'): $best_bare ms"
erl -noshell -pa "$ebin" -eval "vbeam_native:main([\"$work/program.ir\", \"-o\", \"$work/program\", \"--stats\"])" | tail -1
echo "V command: $best_v ms, less the bare VM: $((best_v - best_bare)) ms"
if [ -n "$best_tcc" ]; then
  echo "tcc on the C translation: $best_tcc ms"
else
  echo "tcc: not installed (apt-get install tcc) - no comparison"
fi
if [ -x /usr/bin/time ]; then
  bare_kib=$(peak_kib erl -noshell -eval 'halt()')
  v_kib=$(peak_kib erl -noshell -pa "$ebin" -eval "vbeam_native:main([\"$work/program.ir\", \"-o\", \"$work/program\"])" -s init stop)
  hello_kib=$(peak_kib erl -noshell -pa "$ebin" -eval "vbeam_native:main([\"test/fixtures/hello_x86_64.ir\", \"-o\", \"$work/hello\"])" -s init stop)
  awk -v v="$v_kib" -v b="$bare_kib" -v h="$hello_kib" -v f="$ir_size" -v o="$out_size" 'BEGIN {
    printf "peak RSS: V command %.1f MiB, bare VM %.1f MiB, hello world %.1f MiB; above the bare VM %.1f MiB (above hello world %.1f MiB) against 3 x file + output = %.1f MiB\n",
      v / 1024, b / 1024, h / 1024, (v - b) / 1024, (v - h) / 1024, (3 * f + o) / 1048576 }'
fi
awk -v h="$best_hello" -v b="$best_bare" 'BEGIN { printf "hello world through the V command: %d ms, bare VM %d ms, ratio %.2f\n", h, b, (b > 0 ? h / b : 0) }'
erl -noshell -pa "$ebin" "$work" -run vbeam_native_bench main write_fib_c "$work/fib_translated.c"
tcc_fib=$(command -v tcc >/dev/null && tcc -o "$work/fib_tcc" "$work/fib_translated.c" && "$work/fib_tcc" || echo "(no tcc)")
echo "C translation checked on fib(35): $tcc_fib"

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
