#!/usr/bin/env bash
# Runs tests/browser once per engine named in $BROWSERS (comma-separated; default
# chromium,firefox,webkit), each in its own pytest process with its own Envoy, then prints one
# line per engine: engine, version as measured (WebDriver's browserVersion), passed/failed,
# seconds. Exits non-zero when any engine had a failure. Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
IFS=, read -ra engines <<< "${BROWSERS:-chromium,firefox,webkit}"
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
status=0
lines=()
for engine in "${engines[@]}"; do
  echo "== browser suite in $engine" >&2
  start=$(date +%s)
  CORS_BROWSER=$engine CORS_BROWSER_SUMMARY=$summary \
    "$PYTHON" -m pytest tests/browser -p no:cacheprovider -q -rs "$@"
  rc=$?
  secs=$(( $(date +%s) - start ))
  line=$(grep "engine=$engine " "$summary" | tail -n 1)
  [ -n "$line" ] || line="browser suite: engine=$engine version=? (pytest exited $rc before the summary)"
  lines+=("$line rc=$rc seconds=$secs")
  [ "$rc" -eq 0 ] || status=1
done
echo
printf '%s\n' "${lines[@]}"
exit $status
