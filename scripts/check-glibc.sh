#!/usr/bin/env bash
# The newest glibc symbol version a shared library needs, checked against the oldest glibc it
# must load with (Envoy's official images). Usage: scripts/check-glibc.sh LIB MAX (e.g. 2.28).
set -euo pipefail
lib=$1
max=$2
need=$(objdump -T "$lib" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -uV | tail -n 1)
if [ "$(printf '%s\n%s\n' "$need" "$max" | sort -V | tail -n 1)" != "$max" ]; then
  echo "check-glibc: $lib needs GLIBC_$need, newer than $max" >&2
  exit 1
fi
echo "check-glibc: $lib needs at most GLIBC_$need (limit $max)"
