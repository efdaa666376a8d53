#!/usr/bin/env bash
# A second opinion on the Mach-O code signatures, from an implementation
# that is not ours: compiles every fixture as a Mach-O and has `rcodesign
# verify` (crates.io apple-codesign) recompute its code digests. Ad-hoc
# signatures carry no certificate, so the one problem rcodesign may report
# is "no cryptographic signature present"; any other (a digest mismatch)
# fails. Not part of CI: installing rcodesign builds ~400 crates (~10 min).
set -euo pipefail
cd "$(dirname "$0")/.."
tools=${VBEAM_TOOLS:-$HOME/.cache/vbeam_native/tools}
rcodesign=$tools/bin/rcodesign
[ -x "$rcodesign" ] || cargo install --locked --quiet apple-codesign --root "$tools"
rebar3 compile >/dev/null
ebin=$PWD/_build/default/lib/vbeam_native/ebin
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failed=0
for ir in test/fixtures/*.ir; do
  exe=$out/$(basename "$ir" .ir)
  erl -noshell -pa "$ebin" -eval "vbeam_native:main([\"$ir\", \"-o\", \"$exe\", \"-format\", \"macho\"])" -s init stop >/dev/null
  problems=$("$rcodesign" verify "$exe" 2>&1 | grep -v -e 'verify command is known to be buggy' \
    -e 'no cryptographic signature present' -e 'problems reported during verification' || true)
  if [ -n "$problems" ]; then
    echo "$(basename "$exe"): $problems"
    failed=1
  fi
done
[ $failed = 0 ] && echo "rcodesign-check: every fixture's signature verifies"
exit $failed
