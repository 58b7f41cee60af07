#!/usr/bin/env bash
# Reproducible-build check (make test-reproducible): builds the plugin a second time from a copy
# of this tree (tracked and untracked, not ignored, files) in another directory, with its own
# target directory and another CARGO_HOME path (a directory whose registry/ links to this
# machine's, so nothing is downloaded), then compares the sha256 with the reference build.
# Equal hashes mean the module depends neither on the checkout path nor on $CARGO_HOME.
#
# Usage: scripts/repro-check.sh [REFERENCE_WASM]   (default dist/cors.wasm, from make build)
set -euo pipefail
cd "$(dirname "$0")/.."
ref=${1:-dist/cors.wasm}
[ -f "$ref" ] || { echo "repro-check: $ref not found (run make build)" >&2; exit 1; }
home=${CARGO_HOME:-$HOME/.cargo}

work=$(mktemp -d "${TMPDIR:-/tmp}/envoy-cors-repro.XXXXXX")
trap 'rm -rf "$work"' EXIT
copy="$work/another/checkout-dir"
mkdir -p "$copy" "$work/cargo-home"
ln -s "$home/registry" "$work/cargo-home/registry"
git ls-files -z --cached --others --exclude-standard \
  | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$copy"

echo "repro-check: building in $copy (CARGO_HOME=$work/cargo-home)"
start=$SECONDS
CARGO_HOME="$work/cargo-home" CARGO_NET_OFFLINE=true CARGO_TARGET_DIR="$copy/target" \
  ZIG_VENV="$PWD/.tools/zig" make -C "$copy" --no-print-directory build >"$work/build.log" 2>&1 \
  || { cat "$work/build.log" >&2; echo "repro-check: the build in the copy failed" >&2; exit 1; }


# same WHAT OURS THEIRS: the two builds of one artifact are byte for byte equal and embed no
# path of either build (checkout, copy, CARGO_HOME).
same() {
  local what=$1 ours=$2 theirs=$3 a b leak
  a=$(sha256sum "$ours" | cut -d' ' -f1)
  b=$(sha256sum "$theirs" | cut -d' ' -f1)
  echo "repro-check: $ours sha256 $a; the copy's $b ($((SECONDS - start)) s)"
  for leak in "$PWD" "$copy" "$home" "$work/cargo-home"; do
    if grep -qaF "$leak" "$ours" "$theirs"; then
      echo "repro-check: FAIL: the $what embeds the path $leak" >&2; exit 1
    fi
  done
  [ "$a" = "$b" ] || { echo "repro-check: FAIL: the two builds of the $what differ" >&2; exit 1; }
  echo "repro-check: $what identical"
}

same "wasm module" "$ref" "$copy/dist/cors.wasm"

# The native module (issue 18), built by the same `make build` in the copy.
native=$(dirname "$ref")/libenvoy_cors.so
if [ -f "$native" ]; then
  same "native module" "$native" "$copy/dist/libenvoy_cors.so"
fi

# The aarch64 module (make release), when it was built: the copy builds it the same way.
arm=$(dirname "$ref")/aarch64/libenvoy_cors.so
if [ -f "$arm" ]; then
  CARGO_HOME="$work/cargo-home" CARGO_NET_OFFLINE=true CARGO_TARGET_DIR="$copy/target" \
    ZIG_VENV="$PWD/.tools/zig" make -C "$copy" --no-print-directory native-aarch64 >"$work/arm.log" 2>&1 \
    || { cat "$work/arm.log" >&2; echo "repro-check: the aarch64 build in the copy failed" >&2; exit 1; }
  same "aarch64 module" "$arm" "$copy/dist/aarch64/libenvoy_cors.so"
fi
