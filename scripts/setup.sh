#!/usr/bin/env bash
# Installs what building and testing need on Debian 12 (run as root), then
# builds the NIF and the Erlang application. Quick when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v erl >/dev/null || need+=(erlang-nox erlang-dev)
[ -d /usr/lib/erlang/lib/eunit-* ] 2>/dev/null || need+=(erlang-eunit)
[ -d /usr/lib/erlang/lib/dialyzer-* ] 2>/dev/null || need+=(erlang-dialyzer)
[ -d /usr/lib/erlang/lib/tools-* ] 2>/dev/null || need+=(erlang-tools)
command -v rebar3 >/dev/null || need+=(rebar3)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v llvm-mc >/dev/null || need+=(llvm)
command -v gcc >/dev/null || need+=(gcc)
# The fault tests read our frame records with gdb (arm64 through qemu's
# gdb server).
command -v gdb >/dev/null || need+=(gdb)
command -v gdb-multiarch >/dev/null || need+=(gdb-multiarch)
# The debug information tests read Mach-O's .dSYM with lldb.
command -v lldb >/dev/null || need+=(lldb)
# scripts/bench.sh times the V compiler's command beside tcc on the same
# program translated to C.
command -v tcc >/dev/null || need+=(tcc)
# scripts/kernels.sh times with GNU time, and on arm64 compiles the C twins
# with the cross gcc (static, run under qemu-aarch64).
[ -x /usr/bin/time ] || need+=(time)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
# The Mach-O test loader builds the unicorn CPU emulator (cmake, bindgen's
# libclang) and its tests link with LLVM's ld64.lld.
command -v cmake >/dev/null || need+=(cmake)
ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1 || need+=(libclang-dev)
ls /usr/bin/ld64.lld* >/dev/null 2>&1 || need+=(lld)
# The math builtins' test compares with MPFR (the rug crate, built on the
# system's GMP and MPFR).
[ -f /usr/include/mpfr.h ] || need+=(libmpfr-dev)
ls /usr/include/gmp.h /usr/include/*/gmp.h >/dev/null 2>&1 || need+=(libgmp-dev)
# UEFI applications boot on OVMF (x86_64) and AAVMF (arm64) under QEMU.
[ -f /usr/share/ovmf/OVMF.fd ] || need+=(ovmf)
[ -f /usr/share/AAVMF/AAVMF_CODE.fd ] || need+=(qemu-efi-aarch64)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v qemu-system-aarch64 >/dev/null || need+=(qemu-system-arm)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "setup: cargo (Rust) is required" >&2; exit 1; }
rebar3 compile
