#!/usr/bin/env bash
# Shows that each case added for issue 13 fails when the plugin behaviour it checks is switched
# off: runs the case in every engine of $BROWSERS with the policy changed through
# CORS_BROWSER_CONFIG_OVERRIDE (tests/browser/conftest.py) and prints one line per run. Every
# line must say "failed". About 3 minutes; not part of `make test`.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
IFS=, read -ra engines <<< "${BROWSERS:-chromium,firefox,webkit}"
status=0
run() { # pytest -k expression, override JSON, what is switched off
  for engine in "${engines[@]}"; do
    out=$(CORS_BROWSER=$engine CORS_BROWSER_CONFIG_OVERRIDE="$2" \
      "$PYTHON" -m pytest tests/browser/test_browser.py -p no:cacheprovider -q -k "$1" 2>&1)
    result=$(echo "$out" | grep -E "[0-9]+ (passed|failed)" | tail -n 1)
    case "$result" in *failed*) verdict=failed ;; *) verdict="DID NOT FAIL"; status=1 ;; esac
    echo "$engine | $1 | $3 | $verdict ($result)"
  done
}
run test_preflight_cache '{"policies": {"/cached/": {"max_age": 0}}}' "max_age 3 -> 0"
run test_max_age_zero_is_not_cached '{"max_age": null}' "max_age 0 -> no header"
run test_lowercase_patch_end_to_end '{"allow_methods": ["GET", "POST", "PUT", "PATCH"]}' "patch -> PATCH (normalized)"
run test_authorization_listed '{"policies": {"/auth/": {"allow_headers": ["x-custom"]}}}' "authorization not listed"
run test_authorization_not_listed '{"allow_headers": ["content-type", "x-custom", "authorization"]}' "authorization listed"
run test_authorization_not_covered_by_star '{"policies": {"/auth-star/": {"allow_headers": ["*", "authorization"]}}}' "* plus authorization"
run test_credentialed_cookie_set_by_api_origin '{"allow_credentials": false}' "no credentials"
run test_redirect_307 '{"allow_origins": ["http://127.0.0.1:9"]}' "no ACAO on the 307 (page origin not allowed)"
run test_redirect_307_to_star_policy '{"policies": {"/public/": {"allow_origins": ["http://127.0.0.1:9"]}}}' "target not *"
run test_redirect_307_to_null_origin_policy '{"policies": {"/null-ok/": {"allow_null_origin": false}}}' "allow_null_origin off"
run test_redirect_307_to_policy_without_null '{"allow_null_origin": true, "dangerously_allow_null_origin_with_credentials": true}' "null allowed at the target"
run "test_rbac_403_is_readable or test_envoy_error_reply_is_readable" '{"mode": "shadow"}' "no headers on replies (shadow)"
exit $status
