"""Fixtures for the real-browser suite.

Topology (all on loopback, every port chosen by the kernel):

    page origin A  http://127.0.0.1:<A>   allowed by the policy
    page origin C  http://127.0.0.1:<C>   not allowed (a second, denied page origin)
    page origin P  http://127.0.0.1:<P>   not allowed; Chromium is told to treat it as a
                                          *public* address (private-network test)
    Envoy          http://localhost:<B>   the plugin in front of an echo upstream
    upstream       http://127.0.0.1:<U>   Python echo server (method, headers, body as JSON)

`localhost` and `127.0.0.1` are different hosts, so every page -> Envoy call is
cross-origin (and cross-site). Chromium is driven through chromedriver with Selenium.
Every process started here is stopped by its pid at teardown.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WASM = Path(os.environ.get("CORS_WASM", REPO / "dist" / "cors.wasm")).resolve()
ENVOY = os.environ.get("ENVOY_BIN", str(REPO / ".venv" / "bin" / "envoy"))
CHROMIUM = os.environ.get("CHROMIUM_BIN", shutil.which("chromium") or "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get(
    "CHROMEDRIVER_BIN", shutil.which("chromedriver") or "/usr/bin/chromedriver"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.send_header("x-exposed", "exposed-value")
        self.send_header("x-hidden", "hidden-value")
        self.send_header("vary", "Accept-Encoding")
        if self.path.startswith("/set-cookie"):
            # Secure cookies are allowed on http://localhost (a potentially trustworthy origin).
            self.send_header("set-cookie", "sid=s3cret; Path=/; SameSite=None; Secure")
        if self.path.startswith("/upstream-cors/"):
            # An upstream that sets its own (too loose) CORS headers: the plugin must replace them.
            self.send_header("access-control-allow-origin", "*")
            self.send_header("access-control-expose-headers", "x-hidden")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _answer

    def log_message(self, *args):
        pass


# ---------------------------------------------------------------- Envoy
def plugin_config(origin_a: str) -> dict:
    """The policy under test (JSON, the same object as Istio's pluginConfig)."""
    return {
        "allow_origins": [origin_a],
        "allow_methods": ["GET", "POST", "PUT"],
        "allow_headers": ["content-type", "x-custom"],
        "expose_headers": ["x-exposed"],
        "allow_credentials": True,
        # 0: Chromium must not cache preflight results, so every call below sends its own.
        "max_age": 0,
        "allow_private_network": True,
        "policies": [
            {
                # Any origin may read /public/, without credentials (ACAO: *).
                "match": {"path_prefixes": ["/public/"]},
                "allow_origins": ["*"],
                "allow_credentials": False,
            }
        ],
    }


ROUTER = {"name": "envoy.filters.http.router", "typed_config": {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}
# CORS_BROWSER_FILTER=builtin runs the same browser assertions against Envoy's own CORS filter
# (a cross-check that the expectations are the browser's, not the plugin's quirks).
BUILTIN = os.environ.get("CORS_BROWSER_FILTER") == "builtin"


def wasm_filter(plugin_json: str) -> dict:
    return {
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": "cors",
                "root_id": "cors",
                "configuration": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": plugin_json,
                },
                "vm_config": {
                    "vm_id": "cors",
                    "runtime": "envoy.wasm.runtime.v8",
                    "code": {"local": {"filename": str(WASM)}},
                },
            },
        },
    }


def builtin_policy(plugin: dict, prefix: str) -> dict:
    """Envoy's CorsPolicy closest to `plugin` for routes under `prefix`."""
    p = dict(plugin)
    if prefix == "/public/":
        p.update(plugin["policies"][0])
    origins = [{"safe_regex": {"regex": ".*"}} if o == "*" else {"exact": o}
               for o in p["allow_origins"]]
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
    cluster = lambda name, port: {  # noqa: E731
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
                "socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}],
        },
    }
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
    http_filters = [wasm_filter(plugin_json), ROUTER]
    routes = [
        {"match": {"prefix": "/down/"}, "route": {"cluster": "dead"}},
        {"match": {"prefix": "/"}, "route": {"cluster": "echo"}},
    ]
    if BUILTIN:
        http_filters = [{"name": "envoy.filters.http.cors", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"}}, ROUTER]
        routes.insert(0, {"match": {"prefix": "/public/"}, "route": {"cluster": "echo"}})
        for r in routes:
            r["typed_per_filter_config"] = {"envoy.filters.http.cors": builtin_policy(
                json.loads(plugin_json), r["match"]["prefix"])}
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": {
            "listeners": [{
                "name": "browser",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.network."
                                 "http_connection_manager.v3.HttpConnectionManager",
                        "stat_prefix": "browser",
                        "access_log": [{
                            "name": "envoy.access_loggers.file",
                            "typed_config": {
                                "@type": "type.googleapis.com/envoy.extensions.access_loggers."
                                         "file.v3.FileAccessLog",
                                "path": access_log,
                                "log_format": {"json_format": log_format},
                            },
                        }],
                        "route_config": {"virtual_hosts": [{
                            "name": "all", "domains": ["*"], "routes": routes}]},
                        "http_filters": http_filters,
                    },
                }]}],
            }],
            "clusters": [cluster("echo", upstream_port), cluster("dead", dead_port)],
        },
    }


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
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.stderr.close()


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


@pytest.fixture(scope="session")
def driver(workdir, pages):
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
    drv = webdriver.Chrome(service=service, options=opts)
    drv.set_script_timeout(20)
    drv.set_page_load_timeout(20)
    yield drv
    # quit() stops chromedriver (our child, by pid) and the browser it started.
    drv.quit()
