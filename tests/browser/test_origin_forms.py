"""Issue 10, items 2 and 3, in a real browser.

- An IPv4-mapped IPv6 origin is listed in the form Chromium serializes (`new URL(...).origin`
  writes `[::ffff:7f00:1]`, never `[::ffff:127.0.0.1]`), and a page served from that origin
  gets through a preflighted call.
- `max_age: -1` means "do not cache", sent as `Access-Control-Max-Age: 0`: Chromium sends a
  preflight before every call. (Chromium 156 also read the `-1` sent before as 0; the Fetch
  Standard and Safari do not, falling back to 5 s. The header value itself is checked by
  tests/e2e_preflight.rs; this checks that `0` does what it is sent for.)

A second Envoy runs here with its own policy; the page is the suite's allowed page server,
reached through the IPv4-mapped address of 127.0.0.1 (Chromium connects to 127.0.0.1).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
from conftest import BUILTIN, Envoy

pytestmark = pytest.mark.skipif(
    BUILTIN, reason="plugin-only rules: Envoy's built-in filter has no max_age -1 or origin checks")

# What Chromium's URL parser makes of IPv6 hosts (WHATWG URL "IPv6 serializer"); the plugin's
# configuration accepts exactly the right-hand forms (src/origin/serialized.rs, pattern.rs).
SERIALIZED = {
    "http://[::ffff:127.127.127.127]:90": "http://[::ffff:7f7f:7f7f]:90",
    "http://[::FFFF:127.0.0.1]:3000": "http://[::ffff:7f00:1]:3000",
    "http://[0:0:0:0:0:0:0:1]:4000": "http://[::1]:4000",
    "http://[::0001]": "http://[::1]",
    "http://[::127.0.0.1]": "http://[::7f00:1]",
    "http://[1:0:0:2:0:0:0:3]": "http://[1:0:0:2::3]",
    "http://[1::2:3:4:5:6:7]": "http://[1:0:2:3:4:5:6:7]",
}


@pytest.fixture(scope="module")
def mapped_page(pages) -> str:
    return f"http://[::ffff:7f00:1]:{pages['allowed'].port}"


@pytest.fixture(scope="module")
def mapped_envoy(workdir, upstream, mapped_page):
    d = Path(tempfile.mkdtemp(prefix="origin-forms-", dir=workdir))
    e = Envoy(d, upstream.port, {
        "allow_origins": [mapped_page],
        "allow_methods": ["PUT"],
        "allow_headers": ["x-custom"],
        "max_age": -1,
    })
    yield e
    e.stop()


def put(driver, page: str, url: str) -> dict:
    if not driver.current_url.startswith(page + "/"):
        driver.get(page + "/")
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "corsCall(arguments[0], {method: 'PUT', headers: {'x-custom': '1'}})"
        ".then(done, e => done({ok: false, error: String(e)}));",
        url)


def preflights(envoy, origin: str) -> list[dict]:
    return [e for e in envoy.access_entries() if e["method"] == "OPTIONS" and e["origin"] == origin]


def wait_preflights(envoy, origin: str, n: int, timeout=5.0) -> list[dict]:
    """Envoy flushes its access log every 100 ms here: wait for `n` preflights at most `timeout`."""
    deadline = time.monotonic() + timeout
    while len(found := preflights(envoy, origin)) < n and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def test_chromium_serializes_ipv6_origins_as_the_config_requires(driver, pages):
    driver.get(pages["allowed"].origin + "/")
    got = driver.execute_script("return arguments[0].map(u => new URL(u).origin);", list(SERIALIZED))
    assert dict(zip(SERIALIZED, got)) == SERIALIZED


def test_ipv4_mapped_origin_is_allowed_and_max_age_minus_one_is_not_cached(
        driver, mapped_page, mapped_envoy):
    api = f"http://localhost:{mapped_envoy.port}"
    url = f"{api}/api/mapped"  # the preflight cache is per URL: both calls use the same one
    first = put(driver, mapped_page, url)
    assert first["ok"], first
    assert first["status"] == 200
    assert first["json"]["headers"]["origin"] == mapped_page, first
    hits = wait_preflights(mapped_envoy, mapped_page, 1)
    assert len(hits) == 1 and hits[0]["status"] == 204 and hits[0]["acao"] == mapped_page, hits

    # Well within the default 5 s (and Chromium caches 5 s without the header, and what
    # max_age says with it): a cached preflight would not be sent again.
    second = put(driver, mapped_page, url)
    assert second["ok"], second
    hits = wait_preflights(mapped_envoy, mapped_page, 2)
    assert len(hits) == 2, f"the second call reused a cached preflight (max_age -1 not sent as 0?): {hits}"
