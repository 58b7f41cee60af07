"""Real-browser suite: headless Chromium runs fetch() from a page on one origin against Envoy
with the plugin on another origin, and we assert what the page's script could observe.

A call the browser blocks rejects with TypeError ("Failed to fetch") and the script learns
nothing else; that is the only thing a page can see of a CORS denial.
"""

from __future__ import annotations

import json
import time

import pytest
from conftest import BUILTIN

# Checks of what Envoy saw (status of the local preflight reply, whether upstream saw it) are
# the plugin's contract; Envoy's built-in filter (CORS_BROWSER_FILTER=builtin) forwards
# rejected preflights and answers allowed ones with 200, so those checks are skipped there.
PLUGIN = not BUILTIN


def call(driver, page_origin: str, url: str, init: dict | None = None) -> dict:
    """Load the test page from `page_origin` (if not already there) and fetch `url` from it."""
    if not driver.current_url.startswith(page_origin + "/"):
        driver.get(page_origin + "/")
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "corsCall(arguments[0], arguments[1]).then(done, e => done({ok: false, error: String(e)}));",
        url, init or {})


def wait_access_log(envoy, pred, timeout=5.0) -> list[dict]:
    """Envoy's file access log is flushed about once a second: wait for matching entries."""
    deadline = time.monotonic() + timeout
    while True:
        hits = [e for e in envoy.access_entries() if pred(e)]
        if hits or time.monotonic() > deadline:
            return hits
        time.sleep(0.2)


def assert_blocked(seen: dict):
    assert seen["ok"] is False, f"the browser let the page read a denied response: {seen}"
    assert seen.get("error") == "TypeError", seen


# ------------------------------------------------------------------ allowed calls
def test_simple_get(driver, pages, api):
    seen = call(driver, pages["allowed"].origin, f"{api}/api/simple")
    assert seen["ok"], seen
    assert seen["status"] == 200 and seen["type"] == "cors"
    assert seen["json"]["method"] == "GET"
    assert seen["json"]["headers"]["origin"] == pages["allowed"].origin


def test_json_post_is_preflighted_and_allowed(driver, pages, api, envoy):
    payload = {"name": "widget", "n": 3}
    seen = call(driver, pages["allowed"].origin, f"{api}/api/items", {
        "method": "POST", "headers": {"Content-Type": "application/json"},
        "body": json.dumps(payload)})
    assert seen["ok"], seen
    assert seen["status"] == 200
    assert seen["json"]["method"] == "POST"
    assert json.loads(seen["json"]["body"]) == payload
    assert seen["json"]["headers"]["content-type"] == "application/json"
    pre = wait_access_log(envoy, lambda e: e["method"] == "OPTIONS" and e["path"] == "/api/items")
    assert pre, "Chromium sent no preflight for a JSON POST"
    if PLUGIN:
        assert pre[-1]["status"] == 204 and pre[-1]["upstream"] is None  # a local reply
    assert pre[-1]["acrm"] == "POST" and pre[-1]["acrh"] == "content-type"


def test_put_with_custom_header(driver, pages, api, envoy):
    seen = call(driver, pages["allowed"].origin, f"{api}/api/items/7", {
        "method": "PUT", "headers": {"X-Custom": "abc", "Content-Type": "text/plain"},
        "body": "hello"})
    assert seen["ok"], seen
    assert seen["status"] == 200
    assert seen["json"]["method"] == "PUT"
    assert seen["json"]["headers"]["x-custom"] == "abc"
    assert seen["json"]["body"] == "hello"
    pre = wait_access_log(envoy, lambda e: e["method"] == "OPTIONS" and e["path"] == "/api/items/7")
    assert pre and pre[-1]["acrm"] == "PUT"
    assert not PLUGIN or pre[-1]["status"] == 204
    # Chromium lower-cases and sorts the names it asks for; only non-safelisted ones appear.
    assert pre[-1]["acrh"] == "x-custom"


def test_reads_exposed_header_only(driver, pages, api):
    seen = call(driver, pages["allowed"].origin, f"{api}/api/exposed")
    assert seen["ok"], seen
    assert seen["exposed"] == "exposed-value"  # listed in expose_headers
    assert seen["hidden"] is None  # sent by upstream, not exposed
    assert seen["contentType"] == "application/json"  # safelisted response header


def test_credentials_include_same_site(driver, pages, envoy):
    # http://127.0.0.1:<A> -> http://127.0.0.1:<B>: cross-origin (port differs) but same-site,
    # like app.example.com -> api.example.com, so the browser sends the cookie.
    api_same_site = f"http://127.0.0.1:{envoy.port}"
    driver.get(f"{api_same_site}/set-cookie")  # first-party visit stores sid=s3cret
    seen = call(driver, pages["allowed"].origin, f"{api_same_site}/api/me",
                {"credentials": "include"})
    assert seen["ok"], seen  # needs ACAO == the page origin (not *) and ACAC: true
    assert seen["status"] == 200
    assert "sid=s3cret" in seen["json"]["headers"].get("cookie", ""), seen["json"]["headers"]
    assert seen["exposed"] == "exposed-value"


def test_credentials_include_cross_site(driver, pages, api, envoy):
    # 127.0.0.1 -> localhost is cross-site: the CORS part succeeds; Chromium 156 headless
    # does not attach the (third-party) cookie, which is its cookie policy, not CORS.
    driver.get(f"{api}/set-cookie")
    seen = call(driver, pages["allowed"].origin, f"{api}/api/me-cross", {"credentials": "include"})
    assert seen["ok"], seen
    assert seen["status"] == 200 and seen["exposed"] == "exposed-value"
    print("cross-site cookie sent:", seen["json"]["headers"].get("cookie"))


def test_upstream_cors_headers_are_replaced(driver, pages, api):
    # Upstream says ACAO: * and exposes x-hidden; with credentials a browser rejects '*', so this
    # only succeeds when the plugin replaced the upstream's values with the policy's.
    seen = call(driver, pages["allowed"].origin, f"{api}/upstream-cors/x", {"credentials": "include"})
    assert seen["ok"], seen
    assert seen["exposed"] == "exposed-value"
    assert seen["hidden"] is None


def test_envoy_error_reply_is_readable(driver, pages, api):
    # Envoy answers 503 itself (nothing listens behind /down/); the page can still read it.
    seen = call(driver, pages["allowed"].origin, f"{api}/down/x")
    assert seen["ok"], seen
    assert seen["status"] == 503


def test_wildcard_policy_any_origin_without_credentials(driver, pages, api):
    seen = call(driver, pages["denied"].origin, f"{api}/public/info")
    assert seen["ok"], seen
    assert seen["status"] == 200
    assert seen["exposed"] == "exposed-value"


# ------------------------------------------------------------------ denied calls
def test_wildcard_policy_with_credentials_is_blocked(driver, pages, api):
    # ACAO: * is never valid for a credentialed request.
    assert_blocked(call(driver, pages["denied"].origin, f"{api}/public/info",
                        {"credentials": "include"}))


def test_denied_origin_simple_get(driver, pages, api, upstream):
    before = len(upstream.seen)
    seen = call(driver, pages["denied"].origin, f"{api}/api/simple?denied")
    assert_blocked(seen)
    # A simple request is sent; the response just lacks ACAO, so the browser hides it.
    assert any(r["path"] == "/api/simple?denied" for r in upstream.seen[before:])


def test_denied_origin_preflighted_put(driver, pages, api, upstream, envoy):
    seen = call(driver, pages["denied"].origin, f"{api}/api/denied-origin-put",
                {"method": "PUT", "body": "x"})
    assert_blocked(seen)
    if not PLUGIN:
        return
    assert not any(r["path"] == "/api/denied-origin-put" for r in upstream.seen)
    pre = wait_access_log(envoy, lambda e: e["path"] == "/api/denied-origin-put")
    assert pre and all(e["method"] == "OPTIONS" and e["status"] == 403 for e in pre), pre


def test_denied_method(driver, pages, api, upstream, envoy):
    seen = call(driver, pages["allowed"].origin, f"{api}/api/items/9", {"method": "DELETE"})
    assert_blocked(seen)
    assert not any(r["method"] == "DELETE" for r in upstream.seen)
    if not PLUGIN:
        return
    pre = wait_access_log(envoy, lambda e: e["path"] == "/api/items/9")
    assert pre and pre[-1]["method"] == "OPTIONS" and pre[-1]["acrm"] == "DELETE"
    assert pre[-1]["status"] == 403 and pre[-1]["acao"] is None


def test_denied_header(driver, pages, api, upstream, envoy):
    seen = call(driver, pages["allowed"].origin, f"{api}/api/denied-header",
                {"headers": {"X-Not-Allowed": "1"}})
    assert_blocked(seen)
    assert not any(r["path"] == "/api/denied-header" and r["method"] == "GET"
                   for r in upstream.seen)
    if not PLUGIN:
        return
    pre = wait_access_log(envoy, lambda e: e["path"] == "/api/denied-header")
    assert pre and pre[-1]["acrh"] == "x-not-allowed" and pre[-1]["status"] == 403


# ------------------------------------------------------------------ private network
def test_private_network_request(driver, pages, api, envoy, upstream):
    """A page on a (declared) public address calls Envoy on localhost.

    Chromium 156 no longer sends Private Network Access preflights
    (`Access-Control-Request-Private-Network`). It applies Local Network Access instead: a
    public page needs the user's "loopback-network" permission to reach a loopback address.
    Without it the fetch fails before any byte reaches Envoy; with it granted, the request is
    an ordinary CORS request (a preflight only when the method/headers need one) and the
    plugin's policy decides. Should a browser send a PNA preflight, the plugin must answer it
    with `Access-Control-Allow-Private-Network: true` (the policy allows it): checked below.
    """
    public = pages["public"].origin

    def pna_preflights(path):
        entries = wait_access_log(envoy, lambda e: e["path"] == path, timeout=2)
        pre = [e for e in entries if e["method"] == "OPTIONS" and e["acrpn"] is not None]
        for e in pre:
            assert e["status"] == 204 and e["acapn"] == "true", e
        return entries, pre

    # 1. No permission: blocked by the browser (unless it used a PNA preflight instead).
    seen = call(driver, public, f"{api}/public/pna-denied")
    entries, pre = pna_preflights("/public/pna-denied")
    print("no permission:", json.dumps(seen), "envoy saw:", json.dumps(entries))
    if not pre:
        assert_blocked(seen)
        assert entries == [], "Chromium reached Envoy without the local-network permission"

    # 2. Grant the permission (Selenium's CDP command, as a user clicking "Allow" would).
    driver.execute_cdp_cmd("Browser.setPermission", {
        "permission": {"name": "loopback-network"}, "setting": "granted", "origin": public})
    seen = call(driver, public, f"{api}/public/pna-get")
    assert seen["ok"], seen
    assert seen["status"] == 200 and seen["exposed"] == "exposed-value"
    entries, pre = pna_preflights("/public/pna-get")
    print("granted GET: envoy saw:", json.dumps(entries))

    seen = call(driver, public, f"{api}/public/pna-put", {
        "method": "PUT", "headers": {"X-Custom": "pna"}, "body": "x"})
    assert seen["ok"], seen
    assert seen["json"]["headers"]["x-custom"] == "pna"
    entries, pre = pna_preflights("/public/pna-put")
    print("granted PUT: envoy saw:", json.dumps(entries))
    assert any(e["method"] == "OPTIONS" and e["status"] == (204 if PLUGIN else 200)
               for e in entries), entries


@pytest.mark.skipif(BUILTIN, reason="plugin counters")
def test_counters_moved(envoy):
    stats = envoy.stats("cors.")
    print("cors counters:", stats)
    assert any(k.endswith("cors.preflight_allowed") and v > 0 for k, v in stats.items()), stats
    for name in ("actual_allowed", "actual_denied", "preflight_denied_origin",
                 "preflight_denied_method", "preflight_denied_headers"):
        assert any(k.endswith("cors." + name) and v > 0 for k, v in stats.items()), (name, stats)
