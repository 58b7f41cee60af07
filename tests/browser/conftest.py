"""Fixtures for the real-browser suite.

Topology (all on loopback, every port chosen by the kernel):

    page origin A  http://127.0.0.1:<A>   allowed by the policy
    page origin C  http://127.0.0.1:<C>   not allowed (a second, denied page origin)
    page origin P  http://127.0.0.1:<P>   not allowed; Chromium is told to treat it as a
                                          *public* address (private-network test)
    Envoy          http://localhost:<B>   the plugin in front of an echo upstream
    upstream       http://127.0.0.1:<U>   Python echo server (method, headers, body as JSON)

`localhost` and `127.0.0.1` are different hosts, so every page -> Envoy call is
cross-origin (and cross-site). The browser engine is chosen by CORS_BROWSER:

    chromium  Debian chromium, headless, through Debian chromedriver
    firefox   Debian firefox-esr, -headless, through geckodriver (crates.io)
    webkit    WebKitGTK's MiniBrowser --automation, through WebKitWebDriver (Debian
              webkit2gtk-driver), on an Xvfb display started here

Selenium is always given the driver's path, so Selenium Manager (which would download drivers)
is never run: it is replaced below by a function that fails. Every process started here is
stopped by its pid at teardown. scripts/browser-tests.sh runs the suite once per engine.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from urllib.parse import parse_qs, urlsplit
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import envoy_bootstrap  # noqa: E402  (the Envoy configs: the test kit's builder)

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WASM = Path(os.environ.get("CORS_WASM", REPO / "dist" / "cors.wasm")).resolve()
ENVOY = os.environ.get("ENVOY_BIN", str(REPO / ".venv" / "bin" / "envoy"))
CHROMIUM = os.environ.get("CHROMIUM_BIN", shutil.which("chromium") or "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get(
    "CHROMEDRIVER_BIN", shutil.which("chromedriver") or "/usr/bin/chromedriver"
)
FIREFOX = os.environ.get("FIREFOX_BIN", shutil.which("firefox-esr") or "/usr/bin/firefox-esr")
GECKODRIVER = os.environ.get(
    "GECKODRIVER_BIN",
    shutil.which("geckodriver") or str(Path.home() / ".cargo" / "bin" / "geckodriver"))
# Debian's libwebkit2gtk-4.1-0 puts MiniBrowser here (`dpkg -L libwebkit2gtk-4.1-0`).
MINIBROWSER = os.environ.get(
    "MINIBROWSER_BIN", "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser")
WEBKITDRIVER = os.environ.get(
    "WEBKITDRIVER_BIN", shutil.which("WebKitWebDriver") or "/usr/bin/WebKitWebDriver")
XVFB = os.environ.get("XVFB_BIN", shutil.which("Xvfb") or "/usr/bin/Xvfb")

ENGINES = ("chromium", "firefox", "webkit")
ENGINE = os.environ.get("CORS_BROWSER", "chromium")
if ENGINE not in ENGINES:
    raise SystemExit(f"CORS_BROWSER={ENGINE!r}: expected one of {', '.join(ENGINES)}")


def _no_selenium_manager(*args, **kwargs):
    raise RuntimeError("Selenium Manager was about to run (it downloads drivers); "
                       "every driver must be given by path")


def _forbid_selenium_manager():
    from selenium.webdriver.common import selenium_manager
    selenium_manager.SeleniumManager.binary_paths = _no_selenium_manager


_forbid_selenium_manager()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



def stop_process(proc, stderr):
    """Stops a child by its pid: SIGTERM, then SIGKILL after 10 s; closes its log."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    stderr.close()

class _Quiet(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Server:
    """A ThreadingHTTPServer on 127.0.0.1:0 run in a daemon thread."""

    def __init__(self, handler):
        self.httpd = _Quiet(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------- page servers
PAGE_HTML = (HERE / "page.html").read_bytes()


class PageHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        if self.path.split("?")[0] in ("/", "/index.html"):
            body, ctype = PAGE_HTML, "text/html; charset=utf-8"
            self.send_response(200)
        else:
            body, ctype = b"not found", "text/plain"
            self.send_response(404)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.send_header("cache-control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


# ---------------------------------------------------------------- echo upstream
class EchoHandler(BaseHTTPRequestHandler):
    """Answers every method with a JSON echo of what arrived. Records each request."""

    protocol_version = "HTTP/1.1"
    seen: list = []  # replaced per server instance below

    def _answer(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        record = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
        }
        type(self).seen.append(record)
        out = json.dumps(record).encode()
        query = parse_qs(urlsplit(self.path).query)
        if "/redirect" in self.path and "to" in query:
            # 307 keeps the method and body; the browser follows it to another origin.
            self.send_response(307)
            self.send_header("location", query["to"][0])
            self.send_header("content-length", "0")
            self.end_headers()
            return
        ctype = "application/json"
        if "/cacheable" in self.path:
            # A stylesheet: JSON would be withheld from a no-cors request by Opaque Response
            # Blocking (Fetch §4.1 "opaque filtered response"; ORB), and not cached for it.
            ctype = "text/css"
        self.send_response(200)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(out)))
        self.send_header("x-exposed", "exposed-value")
        self.send_header("x-hidden", "hidden-value")
        self.send_header("vary", "Accept-Encoding")
        if self.path.startswith("/set-cookie"):
            # Secure cookies are allowed on http://localhost (a potentially trustworthy origin).
            self.send_header("set-cookie", "sid=s3cret; Path=/; SameSite=None; Secure")
        if "/set-cookie-cors" in self.path:
            # A cookie set by the API's own origin in the response to a credentialed fetch().
            # No Secure (the API is http) and no SameSite: the page is same-site with it.
            self.send_header("set-cookie", f"api_sid={query.get('v', ['1'])[0]}; Path=/")
        if "/cacheable" in self.path:
            # A response every cache (browser, CDN) may keep and reuse for 10 minutes.
            self.send_header("cache-control", "public, max-age=600")
        else:
            self.send_header("cache-control", "no-store")
        if self.path.startswith("/bare/"):
            # Served without the plugin (its route disables the filter): the reference answer
            # of an upstream that does `*` CORS itself, on every response.
            self.send_header("access-control-allow-origin", "*")
        if self.path.startswith("/upstream-cors/"):
            # An upstream that sets its own (too loose) CORS headers: the plugin must replace them.
            self.send_header("access-control-allow-origin", "*")
            self.send_header("access-control-expose-headers", "x-hidden")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _answer
    do_patch = _answer  # a method Fetch does not normalize: it arrives lowercase

    def log_message(self, *args):
        pass


# ---------------------------------------------------------------- Envoy
# Seconds the /cached/ policy lets a browser keep a preflight result (test_preflight_cache).
CACHED_MAX_AGE = 3


def plugin_config(origin_a: str) -> dict:
    """The policy under test (JSON, the same object as Istio's pluginConfig)."""
    cfg = {
        "allow_origins": [origin_a],
        # "patch" is not normalized by Fetch: browsers send it as written, lowercase.
        "allow_methods": ["GET", "POST", "PUT", "patch"],
        "allow_headers": ["content-type", "x-custom"],
        "expose_headers": ["x-exposed"],
        "allow_credentials": True,
        # 0: browsers must not cache preflight results, so every call below sends its own.
        "max_age": 0,
        "allow_private_network": True,
        "policies": [
            {
                # Any origin may read /public/, without credentials (ACAO: *).
                "match": {"path_prefixes": ["/public/"]},
                "allow_origins": ["*"],
                "allow_credentials": False,
            },
            # A short preflight cache (test_preflight_cache).
            {"match": {"path_prefixes": ["/cached/"]}, "max_age": CACHED_MAX_AGE},
            # The longest max_age the plugin accepts (test_preflight_cache_cap, opt-in).
            {"match": {"path_prefixes": ["/long/"]}, "max_age": 86400},
            # Authorization named (test_authorization_*).
            {"match": {"path_prefixes": ["/auth/"]},
             "allow_headers": ["authorization", "x-custom"]},
            # "*" methods with credentials: the requested method is echoed (test_any_method_*).
            {"match": {"path_prefixes": ["/any-method/"]}, "allow_methods": ["*"]},
            # "*" headers without credentials: every name but Authorization.
            {"match": {"path_prefixes": ["/auth-star/"]},
             "allow_headers": ["*"], "allow_credentials": False},
            # Origin A and the opaque origin `null` (a cross-origin redirect's Origin).
            {"match": {"path_prefixes": ["/null-ok/"]},
             "allow_origins": [origin_a], "allow_null_origin": True,
             "allow_credentials": False},
        ],
    }
    return apply_override(cfg, os.environ.get("CORS_BROWSER_CONFIG_OVERRIDE"))


def apply_override(cfg: dict, override: str | None) -> dict:
    """CORS_BROWSER_CONFIG_OVERRIDE: JSON merged into the policy, to show a test fails without
    the behaviour it checks. Top-level keys replace the top level's (null removes the key);
    `"policies": {"/prefix/": {...}}` merges into the entry matching that path prefix, e.g.
    '{"mode": "shadow"}' or '{"policies": {"/cached/": {"max_age": 0}}}'."""
    if not override:
        return cfg
    for key, value in json.loads(override).items():
        if key == "policies":
            for prefix, changes in value.items():
                entry = next(e for e in cfg["policies"] if prefix in e["match"]["path_prefixes"])
                for k, v in changes.items():
                    if v is None:
                        entry.pop(k, None)
                    else:
                        entry[k] = v
        elif value is None:
            cfg.pop(key, None)
        else:
            cfg[key] = value
    return cfg


# CORS_BROWSER_FILTER=builtin runs the same browser assertions against Envoy's own CORS filter
# (a cross-check that the expectations are the browser's, not the plugin's quirks).
BUILTIN = os.environ.get("CORS_BROWSER_FILTER") == "builtin"


def builtin_policy(plugin: dict, prefix: str) -> dict:
    """Envoy's CorsPolicy closest to `plugin` for routes under `prefix`."""
    p = dict(plugin)
    for entry in plugin["policies"]:
        if prefix in entry["match"]["path_prefixes"]:
            p.update({k: v for k, v in entry.items() if k != "match"})
    origins = [{"safe_regex": {"regex": ".*"}} if o == "*" else {"exact": o}
               for o in p["allow_origins"]]
    if p.get("allow_null_origin"):
        origins.append({"exact": "null"})
    return {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy",
        "allow_origin_string_match": origins,
        "allow_methods": ",".join(p["allow_methods"]),
        "allow_headers": ",".join(p["allow_headers"]),
        "expose_headers": ",".join(p["expose_headers"]),
        "allow_credentials": p["allow_credentials"],
        "max_age": str(p["max_age"]),
        "allow_private_network_access": p["allow_private_network"],
    }


def envoy_config(admin_port: int, upstream_port: int, dead_port: int, access_log: str,
                 plugin_json: str) -> dict:
    """The bootstrap, built by the Rust test kit's builder (scripts/envoy_bootstrap.py)."""
    log_format = {
        "method": "%REQ(:METHOD)%",
        "path": "%REQ(:PATH)%",
        "origin": "%REQ(ORIGIN)%",
        "acrm": "%REQ(ACCESS-CONTROL-REQUEST-METHOD)%",
        "acrh": "%REQ(ACCESS-CONTROL-REQUEST-HEADERS)%",
        "acrpn": "%REQ(ACCESS-CONTROL-REQUEST-PRIVATE-NETWORK)%",
        "cookie": "%REQ(COOKIE)%",
        "status": "%RESPONSE_CODE%",
        "upstream": "%UPSTREAM_HOST%",
        "acao": "%RESP(ACCESS-CONTROL-ALLOW-ORIGIN)%",
        "acapn": "%RESP(ACCESS-CONTROL-ALLOW-PRIVATE-NETWORK)%",
    }
    # Envoy's RBAC filter after the plugin: its 403 is a reply made after the plugin ran.
    rbac = {"rbac_deny_prefix": "/forbidden/", "policy": "forbidden"}
    http_filters = [{"plugin": plugin_json, "name": "cors"}, rbac]
    routes = [
        # The reference for test_star_policy_no_cors_then_cors_on_cached_url: no plugin here.
        {"match": {"prefix": "/bare/"}, "route": {"cluster": "echo"},
         "typed_per_filter_config": {"envoy.filters.http.wasm": {
             "@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig",
             "disabled": True}}},
        {"match": {"prefix": "/down/"}, "route": {"cluster": "dead"}},
        {"match": {"prefix": "/"}, "route": {"cluster": "echo"}},
    ]
    if BUILTIN:
        http_filters = [{"typed": {"name": "envoy.filters.http.cors", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"}}}, rbac]
        for entry in json.loads(plugin_json)["policies"]:
            routes.insert(0, {"match": {"prefix": entry["match"]["path_prefixes"][0]},
                              "route": {"cluster": "echo"}})
        for r in routes:
            r["typed_per_filter_config"] = {"envoy.filters.http.cors": builtin_policy(
                json.loads(plugin_json), r["match"]["prefix"])}
    return envoy_bootstrap.bootstrap({
        "node": None,
        "admin_port": admin_port,
        "plugin_path": str(WASM),
        "clusters": [{"name": "echo", "port": upstream_port}, {"name": "dead", "port": dead_port}],
        "listeners": [{
            "name": "browser",
            "codec_type": None,
            "route_config_name": None,
            "virtual_host": {"name": "all"},
            "routes": routes,
            "http_filters": http_filters,
            "hcm": {
                # Without this Envoy's HTTP/1 codec answers 400 to a lowercase `patch`
                # (any method token it does not know), before any filter runs.
                "http_protocol_options": {"allow_custom_methods": True},
                "access_log": [{
                    "name": "envoy.access_loggers.file",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.access_loggers."
                                 "file.v3.FileAccessLog",
                        "path": access_log,
                        "log_format": {"json_format": log_format},
                    },
                }],
            },
        }],
    })


class Envoy:
    def __init__(self, workdir: Path, upstream_port: int, plugin: dict):
        self.workdir = workdir
        self.access_log = workdir / "access.log"
        self.stderr_path = workdir / "envoy.stderr"
        self.admin_port = free_port()
        dead_port = free_port()  # nothing listens there: Envoy answers 503 itself
        cfg = envoy_config(self.admin_port, upstream_port, dead_port, str(self.access_log),
                           json.dumps(plugin))
        cfg_path = workdir / "envoy.json"
        cfg_path.write_text(json.dumps(cfg, indent=1))
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [ENVOY, "-c", str(cfg_path), "--disable-hot-restart", "--concurrency", "1",
             "--file-flush-interval-msec", "100",
             "--log-level", "warn", "--component-log-level", "wasm:info"],
            stdout=subprocess.DEVNULL, stderr=self.stderr, start_new_session=True)
        self.port = self._wait_ready()

    def admin(self, path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}{path}", timeout=5) as r:
            return r.read().decode()

    def _wait_ready(self) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"envoy exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if self.admin("/ready").strip() == "LIVE":
                    listeners = json.loads(self.admin("/listeners?format=json"))
                    for l in listeners["listener_statuses"]:
                        if l["name"] == "browser":
                            return l["local_address"]["socket_address"]["port_value"]
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"envoy not ready in 30 s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def access_entries(self) -> list[dict]:
        # Envoy flushes the file access log every second (default flush interval).
        if not self.access_log.exists():
            return []
        return [json.loads(l) for l in self.access_log.read_text().splitlines() if l.strip()]

    def stats(self, prefix: str = "cors.") -> dict:
        out = {}
        for line in self.admin("/stats?usedonly").splitlines():
            name, _, value = line.partition(": ")
            if prefix in name and value.strip().isdigit():
                out[name] = int(value)
        return out

    def stop(self):
        stop_process(self.proc, self.stderr)


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def workdir():
    d = Path(tempfile.mkdtemp(prefix="cors-browser-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def pages():
    servers = {name: Server(PageHandler) for name in ("allowed", "denied", "public")}
    yield servers
    for s in servers.values():
        s.stop()


@pytest.fixture(scope="session")
def upstream():
    handler = type("Echo", (EchoHandler,), {"seen": []})
    server = Server(handler)
    server.seen = handler.seen
    yield server
    server.stop()


@pytest.fixture(scope="session")
def envoy(workdir, pages, upstream):
    if not BUILTIN and not WASM.is_file():
        pytest.fail(f"plugin not found at {WASM}: run `make build` or set CORS_WASM")
    e = Envoy(workdir, upstream.port, plugin_config(pages["allowed"].origin))
    yield e
    e.stop()


@pytest.fixture(scope="session")
def api(envoy) -> str:
    return f"http://localhost:{envoy.port}"


class Xvfb:
    """An X server for MiniBrowser (WebKitGTK has no headless mode). `-displayfd` makes Xvfb pick
    a free display number itself and write it to the pipe, so two runs never collide."""

    def __init__(self, workdir: Path):
        self.stderr = open(workdir / "xvfb.stderr", "wb")
        r, w = os.pipe()
        self.proc = subprocess.Popen(
            [XVFB, "-displayfd", str(w), "-screen", "0", "1280x1024x24", "-nolisten", "tcp",
             "-noreset"],
            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=self.stderr, start_new_session=True)
        os.close(w)
        number = b""
        deadline = time.monotonic() + 20
        with os.fdopen(r, "rb", buffering=0) as pipe:
            while not number.endswith(b"\n") and time.monotonic() < deadline:
                ready, _, _ = select.select([pipe], [], [], 0.5)
                if ready:
                    chunk = pipe.read(16)
                    if not chunk:
                        break
                    number += chunk
        if not number.strip().isdigit():
            self.stop()
            raise RuntimeError(f"Xvfb gave no display number: {number!r}, "
                               f"{(workdir / 'xvfb.stderr').read_text(errors='replace')}")
        self.display = ":" + number.decode().strip()

    def stop(self):
        stop_process(self.proc, self.stderr)


def chromium_driver(workdir: Path, pages: dict):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir))
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={profile}",
        # Origin P is served from loopback but Chromium is told it is a public address, so a
        # call from it to Envoy on localhost is a public -> local (private network) request.
        f"--ip-address-space-overrides=127.0.0.1:{pages['public'].port}=public",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER, log_output=str(workdir / "chromedriver.log"))
    return webdriver.Chrome(service=service, options=opts)


def firefox_driver(workdir: Path):
    from selenium import webdriver
    from selenium.webdriver.firefox.service import Service

    opts = webdriver.FirefoxOptions()
    opts.binary_location = FIREFOX
    opts.add_argument("-headless")
    # geckodriver makes a fresh temporary profile; these keep Firefox off the network.
    for pref, value in {
        "app.update.enabled": False,
        "browser.shell.checkDefaultBrowser": False,
        "datareporting.policy.dataSubmissionEnabled": False,
        "toolkit.telemetry.enabled": False,
        "network.captive-portal-service.enabled": False,
        "network.connectivity-service.enabled": False,
        "browser.safebrowsing.update.enabled": False,
        "extensions.update.enabled": False,
    }.items():
        opts.set_preference(pref, value)
    service = Service(executable_path=GECKODRIVER, log_output=str(workdir / "geckodriver.log"))
    return webdriver.Firefox(service=service, options=opts)


def webkit_driver(workdir: Path, display: str):
    from selenium import webdriver
    from selenium.webdriver.webkitgtk.service import Service

    opts = webdriver.WebKitGTKOptions()
    opts.binary_location = MINIBROWSER
    opts.add_argument("--automation")
    env = dict(os.environ, DISPLAY=display)
    env.pop("WAYLAND_DISPLAY", None)
    service = Service(executable_path=WEBKITDRIVER, env=env,
                      log_output=str(workdir / "webkitwebdriver.log"))
    return webdriver.WebKitGTK(service=service, options=opts)


@pytest.fixture(scope="session")
def engine() -> str:
    return ENGINE


@pytest.fixture(scope="session")
def driver(workdir, pages):
    xvfb = Xvfb(workdir) if ENGINE == "webkit" else None
    try:
        if ENGINE == "chromium":
            drv = chromium_driver(workdir, pages)
        elif ENGINE == "firefox":
            drv = firefox_driver(workdir)
        else:
            drv = webkit_driver(workdir, xvfb.display)
    except BaseException:
        if xvfb:
            xvfb.stop()
        raise
    _MEASURED["version"] = drv.capabilities.get("browserVersion", "?")
    drv.set_script_timeout(20)
    drv.set_page_load_timeout(20)
    yield drv
    # quit() stops the driver (our child, by pid) and the browser it started.
    try:
        drv.quit()
    finally:
        if xvfb:
            xvfb.stop()


# ---------------------------------------------------------------- per-engine summary line
_MEASURED = {"version": "not started"}


def pytest_terminal_summary(terminalreporter):
    counts = {k: len(terminalreporter.stats.get(k, []))
              for k in ("passed", "failed", "error", "skipped", "xfailed")}
    line = (f"browser suite: engine={ENGINE} version={_MEASURED['version']} "
            + " ".join(f"{k}={v}" for k, v in counts.items()))
    terminalreporter.write_line(line)
    out = os.environ.get("CORS_BROWSER_SUMMARY")
    if out:
        with open(out, "a") as f:
            f.write(line + "\n")
