#!/usr/bin/env python3
"""Soak (`make soak`): Envoy with the plugin at saturation for a bounded time.

One Envoy (--concurrency 1) on 127.0.0.1 free ports: listener `cors` (the plugin, dist/cors.wasm,
in front of) listener `upstream` (a direct_response), admin on a free port. wrk drives it with
requests rotating through a batch of kinds (allowed / denied / no-Origin actual requests, allowed
and rejected preflights, hostile requests), one connection per wrk thread and one request in flight
on it, so every response is matched to the kind of request that caused it, and its status and CORS
headers are checked in wrk's Lua.

Checks: zero transport errors (wrk connect/read/write/timeout), zero unexpected statuses or
headers per kind, the plugin's counters (wasmcustom.cors.*) agree with what wrk saw, Envoy alive,
memory steady (process RSS and Envoy's /memory, sampled every 2 s; proxy-wasm exposes no VM
memory stat, so the wasm linear memory is inside RSS). Writes RELIABILITY.md. Everything started
here is stopped by pid.

Environment: SOAK_SECONDS (default 60), SOAK_CONNECTIONS (default 8, one wrk thread each),
ENVOY_BIN, CORS_WASM.
"""

import atexit
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import envoy_bootstrap  # noqa: E402  (the Envoy configs: the test kit's builder)
import machine_info  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
ENVOY = os.environ.get("ENVOY_BIN") or str(REPO / ".venv" / "bin" / "envoy")
WASM = Path(os.environ.get("CORS_WASM") or REPO / "dist" / "cors.wasm")
SECONDS = int(os.environ.get("SOAK_SECONDS", "60"))
CONNECTIONS = int(os.environ.get("SOAK_CONNECTIONS", "8"))
OUT = REPO / "RELIABILITY.md"

ALLOWED = "https://app.example.com"
PLUGIN = {
    "allow_origins": [ALLOWED, "https://*.example.org"],
    "allow_methods": ["GET", "PUT", "DELETE"],
    "allow_headers": ["x-custom", "authorization"],
    "expose_headers": ["x-total"],
    "allow_credentials": True,
    "max_age": 600,
}

CHILDREN = []


def stop_children():
    for p in CHILDREN:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


atexit.register(stop_children)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


# ---------------------------------------------------------------------------------------------
# Request kinds: raw HTTP/1.1 request, expected status, expected ACAO (None = must be absent),
# and the plugin counter each one moves.

def raw(method, headers):
    lines = ["%s /soak HTTP/1.1" % method, "Host: soak.test"]
    head = "\r\n".join(lines).encode()
    for k, v in headers:
        head += b"\r\n" + k.encode() + b": " + (v if isinstance(v, bytes) else v.encode())
    return head + b"\r\n\r\n"


ACRH_30K = ",".join(["x-custom", "Authorization"] * 1400)  # ~31 KB of allowed names
ACRH_1000 = ",".join(["x-custom"] * 1000)

# (name, weight, request, status, acao, counter)
KINDS = [
    ("allowed GET", 4, raw("GET", [("Origin", ALLOWED)]), 200, ALLOWED, "actual_allowed"),
    ("allowed GET (subdomain)", 1, raw("GET", [("Origin", "https://a.example.org")]), 200,
     "https://a.example.org", "actual_allowed"),
    ("denied GET", 2, raw("GET", [("Origin", "https://evil.example.net")]), 200, None, "actual_denied"),
    # Untouched but for Vary: the upstream's own `*` passes (no Origin, no CORS request).
    ("GET without Origin", 2, raw("GET", []), 200, "*", None),
    ("allowed preflight", 3, raw("OPTIONS", [("Origin", ALLOWED), ("Access-Control-Request-Method", "PUT"),
                                             ("Access-Control-Request-Headers", "x-custom")]),
     204, ALLOWED, "preflight_allowed"),
    ("preflight, origin denied", 1, raw("OPTIONS", [("Origin", "https://evil.example.net"),
                                                    ("Access-Control-Request-Method", "PUT")]),
     403, None, "preflight_denied_origin"),
    ("preflight, method denied", 1, raw("OPTIONS", [("Origin", ALLOWED), ("Access-Control-Request-Method", "PATCH")]),
     403, None, "preflight_denied_method"),
    ("preflight, header denied", 1, raw("OPTIONS", [("Origin", ALLOWED), ("Access-Control-Request-Method", "PUT"),
                                                    ("Access-Control-Request-Headers", "x-evil")]),
     403, None, "preflight_denied_headers"),
    # Hostile requests Envoy's codec accepts (CR/LF inside a value never reaches a filter).
    ("hostile: suffix confusion", 1, raw("GET", [("Origin", ALLOWED + ".evil.net")]), 200, None, "actual_denied"),
    ("hostile: two Origin lines", 1, raw("GET", [("Origin", ALLOWED), ("Origin", "https://evil.net")]), 200, None,
     "actual_denied"),
    ("hostile: non-UTF-8 Origin", 1, raw("GET", [("Origin", b"https://app.example.com\xff\xfe")]), 200, None,
     "actual_denied"),
    ("hostile: 600-byte Origin", 1, raw("GET", [("Origin", "https://" + "a" * 590 + ".com")]), 200, None,
     "actual_denied"),
    ("hostile: ACRM `GET, DELETE`", 1, raw("OPTIONS", [("Origin", ALLOWED), ("Access-Control-Request-Method", "GET, DELETE")]),
     403, None, "preflight_denied_method"),
    ("hostile: 30 KB ACRH", 1, raw("OPTIONS", [("Origin", ALLOWED), ("Access-Control-Request-Method", "PUT"),
                                              ("Access-Control-Request-Headers", ACRH_30K)]),
     204, ALLOWED, "preflight_allowed"),
    ("hostile: 1000-element ACRH", 1, raw("OPTIONS", [("Origin", ALLOWED), ("Access-Control-Request-Method", "DELETE"),
                                                     ("Access-Control-Request-Headers", ACRH_1000)]),
     204, ALLOWED, "preflight_allowed"),
    ("hostile: ACRH split over lines", 1, raw("OPTIONS", [("Origin", ALLOWED), ("Access-Control-Request-Method", "PUT"),
                                                         ("Access-Control-Request-Headers", "x-custom"),
                                                         ("Access-Control-Request-Headers", "x-evil")]),
     403, None, "preflight_denied_headers"),
    ("hostile: null Origin", 1, raw("GET", [("Origin", "null")]), 200, None, "actual_denied"),
]


def lua_str(b):
    out = []
    for c in b:
        if 32 <= c < 127 and c not in (34, 92):
            out.append(chr(c))
        else:
            out.append("\\%d" % c)
    return '"' + "".join(out) + '"'


def lua_script(path):
    """Requests rotate through one batch (every kind repeated by its weight). Each wrk thread has
    one connection with one request in flight (Envoy closes an HTTP/1.1 connection when it answers
    a pipelined request locally, so no pipelining), so a response answers the last request written."""
    batch = []
    for i, (_, weight, _, _, _, _) in enumerate(KINDS):
        batch += [i] * weight
    parts = ",\n  ".join(lua_str(KINDS[i][2]) for i in batch)
    expect = ",\n  ".join("{%d, %d, %s}" % (i + 1, KINDS[i][3], lua_str((KINDS[i][4] or "").encode()))
                          for i in batch)
    path.write_text("""
-- generated by scripts/soak.py
local parts = {
  %s
}
local expect = {
  %s
}
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  sent = 0
  pos = 0
  ok = {}
  bad = {}
  for i = 1, %d do ok[i] = 0; bad[i] = 0 end
end
function request()
  sent = sent %% #parts + 1
  inflight = sent
  return parts[sent]
end
function response(status, headers, body)
  -- one request in flight per connection and one connection per thread: the last one written
  local e = expect[inflight]
  local acao = headers["access-control-allow-origin"]
  local good = (status == e[2])
  if e[3] == "" then
    good = good and acao == nil
  else
    good = good and acao == e[3]
  end
  -- never `*` with credentials, never credentials without an echoed origin
  if headers["access-control-allow-credentials"] ~= nil and (acao == nil or acao == "*") then good = false end
  if good then ok[e[1]] = ok[e[1]] + 1 else bad[e[1]] = bad[e[1]] + 1 end
end
function done(summary, latency, requests)
  local tok, tbad = {}, {}
  for i = 1, %d do tok[i] = 0; tbad[i] = 0 end
  for _, t in ipairs(threads) do
    local o, b = t:get("ok"), t:get("bad")
    for i = 1, %d do tok[i] = tok[i] + o[i]; tbad[i] = tbad[i] + b[i] end
  end
  for i = 1, %d do io.write(string.format("SOAK kind %%d %%d %%d\\n", i, tok[i], tbad[i])) end
  io.write(string.format("SOAK total %%d %%d\\n", summary.requests, summary.duration))
  local e = summary.errors
  io.write(string.format("SOAK errors %%d %%d %%d %%d %%d\\n", e.connect, e.read, e.write, e.status, e.timeout))
  io.write(string.format("SOAK latency %%d %%d %%d\\n", latency:percentile(50), latency:percentile(99), latency.max))
end
""" % (parts, expect, len(KINDS), len(KINDS), len(KINDS), len(KINDS)))
    return len(batch)


# ---------------------------------------------------------------------------------------------
# Envoy

def listener_config(name, upstream_port):
    """The bootstrap of Envoy `name` (the test kit's builder, through envoy-bootstrap): `upstream`
    (a direct_response, careless CORS headers included) or `cors` (the plugin in front of the
    upstream at `upstream_port`)."""
    if name == "upstream":
        listener = {
            "name": "upstream", "codec_type": None, "route_config_name": None,
            "virtual_host": {"name": "up", "response_headers_to_add": [
                {"header": {"key": "vary", "value": "Accept-Encoding"}},
                {"header": {"key": "x-total", "value": "1"}},
                # A careless upstream: its own CORS headers must be replaced or removed.
                {"header": {"key": "access-control-allow-origin", "value": "*"}},
            ]},
            "routes": [{"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "ok"}}}],
        }
        clusters = []
    else:
        listener = {
            "name": "cors", "codec_type": None, "route_config_name": None,
            "virtual_host": {"name": "cors"},
            "cluster": "upstream",
            "http_filters": [{"plugin": json.dumps(PLUGIN), "name": "cors"}],
        }
        clusters = [{"name": "upstream", "port": upstream_port}]
    return envoy_bootstrap.bootstrap({
        "node": None, "plugin_path": str(WASM), "clusters": clusters, "listeners": [listener]})


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


def start_envoy(workdir):
    # Two-step start: the upstream listener port is only known after bind, and the cluster must
    # point at it; so Envoy 1 serves the upstream, Envoy 2 the plugin (both --concurrency 1).
    procs = {}
    ports = {}
    admins = {}
    for name in ("upstream", "cors"):
        cfg = listener_config(name, ports.get("upstream"))
        d = workdir / name
        d.mkdir()
        (d / "envoy.json").write_text(json.dumps(cfg))
        addr_file = d / "admin-address"
        log = open(d / "envoy.log", "wb")
        p = subprocess.Popen([ENVOY, "-c", str(d / "envoy.json"), "--concurrency", "1", "--disable-hot-restart",
                              "--admin-address-path", str(addr_file), "-l", "warning"],
                             stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        CHILDREN.append(p)
        procs[name] = p
        deadline = time.monotonic() + 60
        while True:
            if p.poll() is not None:
                sys.exit("Envoy %s exited (%s):\n%s" % (name, p.returncode, (d / "envoy.log").read_text()[-3000:]))
            if time.monotonic() > deadline:
                sys.exit("Envoy %s not ready after 60 s" % name)
            try:
                admin = addr_file.read_text().strip() if addr_file.exists() else ""
                if admin and http_get("http://%s/ready" % admin)[1].strip() == b"LIVE":
                    body = json.loads(http_get("http://%s/listeners?format=json" % admin)[1])
                    port = body["listener_statuses"][0]["local_address"]["socket_address"]["port_value"]
                    ports[name], admins[name] = port, admin
                    break
            except (OSError, ValueError, KeyError, IndexError):
                pass
            time.sleep(0.05)
    return procs, ports, admins


def counters(admin):
    _, body = http_get("http://%s/stats?format=json&filter=%%5Ewasmcustom%%5C.cors%%5C." % admin)
    out = {}
    for s in json.loads(body).get("stats", []):
        if "name" in s and "value" in s:
            m = re.match(r"wasmcustom\.cors\.([a-z_]+)$", s["name"])
            if m:
                out[m.group(1)] = s["value"]
    return out


def wasm_stats(admin):
    _, body = http_get("http://%s/stats?format=json&filter=wasm" % admin)
    return {s["name"]: s["value"] for s in json.loads(body).get("stats", []) if "value" in s}


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def memory(admin):
    _, body = http_get("http://%s/memory" % admin)
    m = json.loads(body)
    return int(m.get("allocated", 0)), int(m.get("heap_size", 0))


def machine():
    return "%s, %d CPUs, %s RAM, Linux %s" % (
        machine_info.cpu_model(), machine_info.cpus(), machine_info.mem_total(), platform.release())


def main():
    if not WASM.exists():
        sys.exit("%s missing: run `make build`" % WASM)
    if shutil.which("wrk") is None:
        sys.exit("wrk missing: scripts/apt-ensure.sh wrk:wrk")
    envoy_version = subprocess.run([ENVOY, "--version"], capture_output=True, text=True).stdout.strip().splitlines()
    envoy_version = next((l for l in envoy_version if "version" in l), "?").split("version:")[-1].strip()
    wasm_sha = hashlib.sha256(WASM.read_bytes()).hexdigest()
    workdir = Path(tempfile.mkdtemp(prefix="cors-soak-"))
    try:
        return run(workdir, envoy_version, wasm_sha)
    finally:
        stop_children()
        shutil.rmtree(workdir, ignore_errors=True)


def run(workdir, envoy_version, wasm_sha):
    procs, ports, admins = start_envoy(workdir)
    cors_pid, admin = procs["cors"].pid, admins["cors"]
    script = workdir / "soak.lua"
    batch = lua_script(script)
    # One connection per wrk thread: responses are matched to the batch position per thread.
    cmd = ["wrk", "-t%d" % CONNECTIONS, "-c%d" % CONNECTIONS, "-d%ds" % SECONDS, "--timeout", "5s",
           "-s", str(script), "http://127.0.0.1:%d/" % ports["cors"]]
    print("soak: %d s, %d connections, batch of %d requests (%d kinds), Envoy %s, pid %d"
          % (SECONDS, CONNECTIONS, batch, len(KINDS), envoy_version, cors_pid), flush=True)
    before = counters(admin)
    wasm_before = wasm_stats(admin)
    samples = []  # (t, rss_kb, allocated, heap)
    t0 = time.monotonic()
    cpu0 = cpu_ticks(cors_pid)
    wrk = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    CHILDREN.append(wrk)
    while wrk.poll() is None and time.monotonic() - t0 < SECONDS + 60:
        try:
            alloc, heap = memory(admin)
            samples.append((time.monotonic() - t0, rss_kb(cors_pid), alloc, heap))
        except OSError:
            pass
        time.sleep(2)
    if wrk.poll() is None:
        wrk.kill()
    out = wrk.communicate()[0]
    elapsed = time.monotonic() - t0
    cpu_s = (cpu_ticks(cors_pid) - cpu0) / os.sysconf("SC_CLK_TCK")
    after = counters(admin)
    wasm_after = wasm_stats(admin)
    alive = procs["cors"].poll() is None
    # The plugin still answers after the soak.
    post = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Origin: " + ALLOWED,
                           "http://127.0.0.1:%d/after" % ports["cors"]], capture_output=True, text=True).stdout \
        if shutil.which("curl") else "n/a"
    per_kind, total, errors, latency = parse_wrk(out)
    if total is None:
        sys.exit("cannot parse wrk output:\n" + out)
    report = evaluate(per_kind, total, errors, latency, before, after, samples, alive, post, elapsed, cpu_s,
                      wasm_before, wasm_after)
    write(report, envoy_version, wasm_sha, batch)
    print(report["text"])
    return 0 if report["pass"] else 1


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def parse_wrk(out):
    per_kind, total, errors, latency = {}, None, None, None
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("SOAK kind"):
            per_kind[int(parts[2]) - 1] = (int(parts[3]), int(parts[4]))
        elif line.startswith("SOAK total"):
            total = (int(parts[2]), int(parts[3]))
        elif line.startswith("SOAK errors"):
            errors = dict(zip(["connect", "read", "write", "status", "timeout"], map(int, parts[2:7])))
        elif line.startswith("SOAK latency"):
            latency = tuple(int(x) for x in parts[2:5])
    return per_kind, total, errors, latency


def evaluate(per_kind, total, errors, latency, before, after, samples, alive, post, elapsed, cpu_s,
             wasm_before, wasm_after):
    requests, duration_us = total
    rows, unexpected, seen = [], 0, {}
    for i, (name, _, _, status, acao, counter) in enumerate(KINDS):
        ok, bad = per_kind.get(i, (0, 0))
        unexpected += bad
        rows.append((name, status, {None: "none", "*": "`*` (upstream's)"}.get(acao, "echo"), ok, bad))
        if counter:
            seen[counter] = seen.get(counter, 0) + ok + bad
    transport = errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in sorted(set(after) | set(before))}
    # Requests sent but not answered when wrk stopped (at most one per connection) are counted
    # by the plugin but not by wrk.
    slack = CONNECTIONS
    counter_rows, counters_ok = [], True
    for name in sorted(set(seen) | {k for k in delta if k != "shadow_would_deny"}):
        d, s = delta.get(name, 0), seen.get(name, 0)
        good = 0 <= d - s <= slack
        counters_ok &= good
        counter_rows.append((name, d, s, good))
    # Memory: after a 25 % warm-up, the growth to the end.
    warm = [s for s in samples if s[0] >= elapsed * 0.25] or samples
    rss0, rss1 = (warm[0][1], warm[-1][1]) if warm else (0, 0)
    rss_max = max((s[1] for s in samples), default=0)
    alloc0, alloc1 = (warm[0][2], warm[-1][2]) if warm else (0, 0)
    rss_growth_mb = (rss1 - rss0) / 1024
    alloc_growth_mb = (alloc1 - alloc0) / 1048576
    memory_ok = rss_growth_mb < 16 and alloc_growth_mb < 16
    passed = (transport == 0 and unexpected == 0 and counters_ok and alive and memory_ok
              and requests > 0 and post in ("200", "n/a"))
    rps = requests / (duration_us / 1e6) if duration_us else 0
    lines = []
    lines.append("| | |\n|---|---|")
    lines.append("| requests completed | %d in %.1f s (%.0f req/s) |" % (requests, duration_us / 1e6, rps))
    lines.append("| transport errors (connect/read/write/timeout) | %d/%d/%d/%d |"
                 % (errors["connect"], errors["read"], errors["write"], errors["timeout"]))
    lines.append("| unexpected status or CORS headers | %d |" % unexpected)
    lines.append("| latency p50 / p99 / max | %.2f / %.2f / %.2f ms |" % tuple(x / 1000 for x in latency))
    lines.append("| Envoy (with the plugin) CPU, utime+stime | %.1f s over the %.1f s sampled (%.0f %% of one core), "
                 "%.1f us/request |" % (cpu_s, elapsed, 100 * cpu_s / elapsed if elapsed else 0,
                                      1e6 * cpu_s / requests if requests else 0))
    lines.append("| Envoy RSS after warm-up -> end (max) | %.1f -> %.1f MiB (max %.1f MiB): %+.2f MiB |"
                 % (rss0 / 1024, rss1 / 1024, rss_max / 1024, rss_growth_mb))
    lines.append("| Envoy heap allocated (/memory) after warm-up -> end | %.1f -> %.1f MiB: %+.2f MiB |"
                 % (alloc0 / 1048576, alloc1 / 1048576, alloc_growth_mb))
    lines.append("| Envoy alive, plugin answering afterwards | %s, GET -> %s |" % ("yes" if alive else "NO", post))
    lines.append("")
    lines.append("| request kind | expected status | ACAO | as expected | unexpected |")
    lines.append("|---|---|---|---|---|")
    for name, status, acao, ok, bad in rows:
        lines.append("| %s | %d | %s | %d | %d |" % (name, status, acao, ok, bad))
    lines.append("")
    lines.append("| plugin counter (wasmcustom.cors.*) | delta | responses seen by wrk | agree |")
    lines.append("|---|---|---|---|")
    for name, d, s, good in counter_rows:
        lines.append("| %s | %d | %d | %s |" % (name, d, s, "yes" if good else "NO"))
    lines.append("")
    wasm_lines = ["%s: %s -> %s" % (k, wasm_before.get(k), v) for k, v in sorted(wasm_after.items())]
    lines.append("Envoy's wasm stats (`/stats?filter=wasm`, before -> after): "
                 + ("; ".join(wasm_lines) if wasm_lines else "none"))
    lines.append("")
    lines.append("Memory samples (s, RSS MiB, heap allocated MiB): " + ", ".join(
        "%.0f/%.1f/%.1f" % (t, r / 1024, a / 1048576) for t, r, a, _ in samples))
    verdict = "PASS" if passed else "FAIL"
    return {"pass": passed, "text": "\n".join(lines) + "\n\nsoak: " + verdict}


def write(report, envoy_version, wasm_sha, batch):
    load = os.getloadavg()
    text = """# Reliability: soak under saturation

Produced by `make soak` (`scripts/soak.py`); not part of `make test`. Re-run it to refresh this file.

- Command: `SOAK_SECONDS=%d SOAK_CONNECTIONS=%d make soak` (wrk `-t%d -c%d`, HTTP/1.1 keep-alive, each
  connection rotating through a batch of %d requests over %d kinds with one request in flight, so each
  response is checked against its request; no pipelining: Envoy closes an HTTP/1.1 connection when it
  answers a pipelined request with a local reply, with or without the plugin).
- Machine: %s; load average at the end %.2f / %.2f / %.2f (other jobs may have shared the CPUs).
- Envoy %s (`--concurrency 1`), plugin `dist/cors.wasm` sha256 `%s`.
- Topology: wrk -> Envoy with the plugin -> a second Envoy whose direct_response adds `vary`,
  `x-total` and a careless `access-control-allow-origin: *` (replaced or removed by the plugin).
- Checks: zero transport errors; every response has the expected status and exactly the expected
  `access-control-allow-origin` (echo or none) and never credentials with `*`; the plugin's counters
  agree with the responses wrk saw (they may exceed them by at most one request per connection: the
  requests in flight when wrk stopped); Envoy alive and serving afterwards; memory steady (growth of RSS and
  of Envoy's heap below 16 MiB between 25 %% of the run and its end). Envoy exposes no statistic for
  a wasm VM's memory (`/stats?filter=wasm` lists VM counts only), so the VM's linear memory is
  measured inside the process RSS.

## Result: %s

%s
""" % (SECONDS, CONNECTIONS, CONNECTIONS, CONNECTIONS, batch, len(KINDS), machine(), load[0], load[1], load[2],
       envoy_version, wasm_sha, "PASS" if report["pass"] else "FAIL", report["text"].rsplit("\n\nsoak:", 1)[0])
    OUT.write_text(text)
    print("wrote %s" % OUT)


if __name__ == "__main__":
    sys.exit(main())
