#!/usr/bin/env bash
# `make fuzz`: runs each cargo-fuzz target (fuzz/) for FUZZ_SECONDS (default 60) and prints the
# executions reached. Needs a nightly toolchain (cargo-fuzz builds with -Zsanitizer=address)
# and cargo-fuzz; installs both when missing. New inputs go to fuzz/target/corpus/<target>
# (not committed); the committed seeds in fuzz/corpus/<target> are read, never written.
# Crashes are written to fuzz/artifacts/<target>/ and fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH="${FUZZ_SECONDS:-60}"
TARGETS="${FUZZ_TARGETS:-config request}"

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

# The request target takes 30 KB+ header values; the config target large JSON documents.
declare -A MAX_LEN=([config]=16384 [request]=131072)

cargo +nightly fuzz build --fuzz-dir fuzz

summary=()
for t in $TARGETS; do
  work="fuzz/target/corpus/$t"
  mkdir -p "$work" "fuzz/artifacts/$t"
  log="fuzz/target/fuzz-$t.log"
  echo "== fuzzing $t for ${SECONDS_EACH}s (log: $log)"
  status=0
  cargo +nightly fuzz run --fuzz-dir fuzz "$t" "$work" "fuzz/corpus/$t" -- \
    -max_total_time="$SECONDS_EACH" -max_len="${MAX_LEN[$t]:-65536}" -timeout=10 \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  execs=$(grep -h 'stat::number_of_executed_units' "$log" | awk '{s+=$2} END {print s+0}')
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 | awk '{print $2}')
  corpus=$(find "$work" -type f | wc -l)
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$log"
    echo "fuzz target $t FAILED (exit $status); reproducer in fuzz/artifacts/$t/" >&2
    exit "$status"
  fi
  summary+=("$t: ${execs} executions in ${SECONDS_EACH}s without a crash (coverage ${cov:-?}, corpus ${corpus} inputs)")
done
echo
printf '%s\n' "${summary[@]}"
