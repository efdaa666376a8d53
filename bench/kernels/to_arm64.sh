#!/usr/bin/env bash
# Writes NAME_arm64.ir from NAME_x86_64.ir for each NAME given (or every
# kernel): the same IR with arm64's registers (arguments x0..x5, result
# x0) and its BSD-numbered exit (x16 = 1), as the V generator writes it.
set -euo pipefail
cd "$(dirname "$0")"
names=("$@")
[ ${#names[@]} -gt 0 ] || names=($(ls *_x86_64.ir | sed 's/_x86_64\.ir$//'))
for name in "${names[@]}"; do
  sed -e 's/target => x86_64/target => arm64/' \
      -e 's/{mov_imm, {preg, rax}, 60}/{mov_imm, {preg, x16}, 1}/' \
      -e 's/{preg, rax}/{preg, x0}/g' \
      -e 's/{preg, rdi}/{preg, x0}/g' \
      -e 's/{preg, rsi}/{preg, x1}/g' \
      -e 's/{preg, rdx}/{preg, x2}/g' \
      -e 's/{preg, rcx}/{preg, x3}/g' \
      -e 's/{preg, r8}/{preg, x4}/g' \
      -e 's/{preg, r9}/{preg, x5}/g' \
      "${name}_x86_64.ir" > "${name}_arm64.ir"
  if grep -n '{preg, r' "${name}_arm64.ir"; then
    echo "to_arm64: ${name}_x86_64.ir uses an x86_64 register left above" >&2
    exit 1
  fi
done
