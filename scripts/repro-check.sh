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

a=$(sha256sum "$ref" | cut -d' ' -f1)
b=$(sha256sum "$copy/dist/cors.wasm" | cut -d' ' -f1)
echo "repro-check: $ref             sha256 $a"
echo "repro-check: copy's dist/cors.wasm sha256 $b ($((SECONDS - start)) s)"
for leak in "$PWD" "$copy" "$home" "$work/cargo-home"; do
  if grep -qaF "$leak" "$ref" "$copy/dist/cors.wasm"; then
    echo "repro-check: FAIL: a module embeds the path $leak" >&2; exit 1
  fi
done
[ "$a" = "$b" ] || { echo "repro-check: FAIL: the two builds differ" >&2; exit 1; }
echo "repro-check: identical"

# The native module (issue 18), built by the same `make build` in the copy.
native=$(dirname "$ref")/libenvoy_cors.so
if [ -f "$native" ]; then
  c=$(sha256sum "$native" | cut -d' ' -f1)
  d=$(sha256sum "$copy/dist/libenvoy_cors.so" | cut -d' ' -f1)
  echo "repro-check: $native sha256 $c; the copy's $d"
  for leak in "$PWD" "$copy" "$home" "$work/cargo-home"; do
    if grep -qaF "$leak" "$native" "$copy/dist/libenvoy_cors.so"; then
      echo "repro-check: FAIL: the native module embeds the path $leak" >&2; exit 1
    fi
  done
  [ "$c" = "$d" ] || { echo "repro-check: FAIL: the two native builds differ" >&2; exit 1; }
  echo "repro-check: native module identical"
fi

# The aarch64 module (make release), when it was built: the copy builds it the same way.
arm=$(dirname "$ref")/aarch64/libenvoy_cors.so
if [ -f "$arm" ]; then
  CARGO_HOME="$work/cargo-home" CARGO_NET_OFFLINE=true CARGO_TARGET_DIR="$copy/target" \
    ZIG_VENV="$PWD/.tools/zig" make -C "$copy" --no-print-directory native-aarch64 >"$work/arm.log" 2>&1 \
    || { cat "$work/arm.log" >&2; echo "repro-check: the aarch64 build in the copy failed" >&2; exit 1; }
  e=$(sha256sum "$arm" | cut -d' ' -f1)
  f=$(sha256sum "$copy/dist/aarch64/libenvoy_cors.so" | cut -d' ' -f1)
  echo "repro-check: $arm sha256 $e; the copy's $f"
  for leak in "$PWD" "$copy" "$home" "$work/cargo-home"; do
    if grep -qaF "$leak" "$arm" "$copy/dist/aarch64/libenvoy_cors.so"; then
      echo "repro-check: FAIL: the aarch64 module embeds the path $leak" >&2; exit 1
    fi
  done
  [ "$e" = "$f" ] || { echo "repro-check: FAIL: the two aarch64 builds differ" >&2; exit 1; }
  echo "repro-check: aarch64 module identical"
fi
