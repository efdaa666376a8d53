#!/usr/bin/env bash
# The code-quality benchmark (bench/kernels, see README "Benchmarks: the
# kernels"): each kernel compiled by the backend and by gcc -O1, gcc -O2
# and tcc from its C twin; every binary must print what the gcc -O1 one
# prints; then CPU time (user + sys), best of R rounds, the binaries run
# round-robin so that the machine's drift (±25% minute to minute) falls on
# all of them alike.
#
#   scripts/kernels.sh [--arch x86_64|arm64] [--rounds R] [--quick] [KERNEL...]
#
# --arch arm64 runs everything under qemu-aarch64 beside
# aarch64-linux-gnu-gcc -O1/-O2 -static (no tcc). --quick: the small sizes
# of bench/kernels/sizes.txt and one round. VBEAM_FLAGS (e.g. -O0) are
# passed to the backend's command.
set -euo pipefail
cd "$(dirname "$0")/.."

arch=x86_64 rounds=5 quick=0 kernels=()
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --quick) quick=1; rounds=1; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "kernels.sh: unknown option $1" >&2; exit 2 ;;
    *) kernels+=("$1"); shift ;;
  esac
done
case "$arch" in
  x86_64) cc=gcc; run=(); compilers=(ours gcc_O1 gcc_O2 tcc) ;;
  arm64) cc=aarch64-linux-gnu-gcc; run=(qemu-aarch64); compilers=(ours gcc_O1 gcc_O2) ;;
  *) echo "kernels.sh: --arch x86_64 or arm64, not $arch" >&2; exit 2 ;;
esac
for tool in "$cc" /usr/bin/time ${run[@]+"${run[@]}"} $([ "$arch" = x86_64 ] && echo tcc); do
  command -v "$tool" >/dev/null || { echo "kernels.sh: $tool is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done

# The kernels and their quick sizes.
declare -A quick_size
while read -r name _ small _; do
  quick_size[$name]=$small
done < <(grep -v '^#' bench/kernels/sizes.txt)
[ ${#kernels[@]} -gt 0 ] || kernels=($(grep -v '^#' bench/kernels/sizes.txt | awk '{print $1}'))
for k in "${kernels[@]}"; do
  [ -n "${quick_size[$k]:-}" ] || { echo "kernels.sh: no kernel $k (see bench/kernels/sizes.txt)" >&2; exit 2; }
done

work=_build/kernels/$arch
mkdir -p "$work"
rebar3 compile >/dev/null
ebin=_build/default/lib/vbeam_native/ebin

# The backend's command as the V compiler runs it, with VBEAM_FLAGS after.
flags=""
for f in ${VBEAM_FLAGS:-}; do flags+=", \"$f\""; done
build_ours() {
  erl -noshell -pa "$ebin" -eval "vbeam_native:main([\"$1\", \"-o\", \"$2\"$flags])" -s init stop >/dev/null
}

echo "building ${#kernels[@]} kernels for $arch (${VBEAM_FLAGS:+VBEAM_FLAGS=$VBEAM_FLAGS, }${compilers[*]})" >&2
for k in "${kernels[@]}"; do
  src=bench/kernels/$k.c
  build_ours "bench/kernels/${k}_$arch.ir" "$work/$k.ours"
  static=$([ "$arch" = arm64 ] && echo -static || true)
  # No contraction into fused multiply-adds: the IR's fmul and fadd round
  # each (aarch64 gcc would fuse them by default).
  $cc -O1 -ffp-contract=off $static -o "$work/$k.gcc_O1" "$src" -lm
  $cc -O2 -ffp-contract=off $static -o "$work/$k.gcc_O2" "$src" -lm
  [ "$arch" = arm64 ] || tcc -o "$work/$k.tcc" "$src" -lm
done

size_args() { [ $quick = 1 ] && echo "${quick_size[$1]}" || true; }

# Every binary prints what gcc -O1's prints (this run is also the warm-up).
failed=0
for k in "${kernels[@]}"; do
  ${run[@]+"${run[@]}"} "$work/$k.gcc_O1" $(size_args "$k") > "$work/$k.expected"
  for c in "${compilers[@]}"; do
    [ $c = gcc_O1 ] && continue
    if ! ${run[@]+"${run[@]}"} "$work/$k.$c" $(size_args "$k") > "$work/$k.$c.out" 2> "$work/$k.$c.err" ||
       ! cmp -s "$work/$k.expected" "$work/$k.$c.out"; then
      echo "kernels.sh: $k built by $c prints other output than gcc -O1's:" >&2
      diff "$work/$k.expected" "$work/$k.$c.out" >&2 || true
      cat "$work/$k.$c.err" >&2
      failed=1
    fi
  done
done
[ $failed = 0 ] || { echo "kernels.sh: FAILED: outputs differ" >&2; exit 1; }

# CPU seconds (user + sys) of one run.
cpu_seconds() {
  /usr/bin/time -f '%U %S' -o "$work/time" "$@" > /dev/null
  awk '{ printf "%.2f", $1 + $2 }' "$work/time"
}

declare -A best
for ((round = 1; round <= rounds; round++)); do
  echo "round $round of $rounds" >&2
  for k in "${kernels[@]}"; do
    for c in "${compilers[@]}"; do
      t=$(cpu_seconds ${run[@]+"${run[@]}"} "$work/$k.$c" $(size_args "$k"))
      if [ -z "${best[$k.$c]:-}" ] || awk -v t="$t" -v b="${best[$k.$c]}" 'BEGIN { exit !(t < b) }'; then
        best[$k.$c]=$t
      fi
    done
  done
done

# The table, ratios and their geometric means (a time below the clock's
# 10 ms counts as 10 ms).
{
  for k in "${kernels[@]}"; do
    printf '%s' "$k"
    for c in "${compilers[@]}"; do printf ' %s' "${best[$k.$c]}"; done
    printf '\n'
  done
} | awk -v arch="$arch" -v rounds="$rounds" '
  function r(a, b) { return (a < 0.01 ? 0.01 : a) / (b < 0.01 ? 0.01 : b) }
  BEGIN {
    printf "%s, CPU seconds (user + sys), best of %d\n\n", arch, rounds
    if (arch == "x86_64") {
      print "| kernel | ours s | gcc -O1 s | gcc -O2 s | tcc s | ours/gcc-O1 | ours/tcc |"
      print "|---|---:|---:|---:|---:|---:|---:|"
    } else {
      print "| kernel | ours s | gcc -O1 s | gcc -O2 s | ours/gcc-O1 | ours/gcc-O2 |"
      print "|---|---:|---:|---:|---:|---:|"
    }
  }
  {
    ratio1 = r($2, $3); n++; log1 += log(ratio1)
    if (arch == "x86_64") {
      ratio2 = r($2, $5); log2 += log(ratio2)
      printf "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", $1, $2, $3, $4, $5, ratio1, ratio2
    } else {
      ratio2 = r($2, $4); log2 += log(ratio2)
      printf "| %s | %.2f | %.2f | %.2f | %.2f | %.2f |\n", $1, $2, $3, $4, ratio1, ratio2
    }
  }
  END {
    if (arch == "x86_64") printf "| geometric mean | | | | | %.2f | %.2f |\n", exp(log1 / n), exp(log2 / n)
    else printf "| geometric mean | | | | %.2f | %.2f |\n", exp(log1 / n), exp(log2 / n)
  }'
