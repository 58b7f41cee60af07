#!/usr/bin/env python3
"""Where an Envoy cold start with a wasm plugin spends its time, from Envoy's own trace log.

Starts Envoy (`--concurrency 1`, pinned to the last CPU, `-l debug --component-log-level
wasm:trace`) with the no-op filter (c) and with our plugin (e), one-origin policy, a few times
each, and prints two intervals read from the log timestamps (ms resolution):

  load:      "Base Wasm created" -> the first call into the module (`_initialize`): Envoy and
             V8 loading and compiling the module, before any plugin code runs;
  configure: that first call -> the end of `proxy_on_configure`: the plugin's own start-up.

Usage: python3 bench/startup_trace.py [--starts N]   (after `make build` and `make bench-quick`,
which build dist/cors.wasm and the no-op module). ENVOY_BIN overrides the Envoy binary.
"""

import argparse
import datetime
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("bench_run", HERE / "run.py")
run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run)

STAMP = re.compile(r"\[(\d+-\d+-\d+ \d+:\d+:\d+\.\d+)\]")


def stamp(line):
    return datetime.datetime.strptime(STAMP.match(line).group(1), "%Y-%m-%d %H:%M:%S.%f")


def first(lines, text):
    return next((stamp(x) for x in lines if text in x), None)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--starts", type=int, default=3)
    args = ap.parse_args()
    envoy = run.real_envoy(run.ENVOY)
    cpu = str(os.cpu_count() - 1)
    with tempfile.TemporaryDirectory() as tmp:
        for variant, label in (("c", "no-op wasm filter"), ("e", "our plugin, one-origin policy")):
            cfg = Path(tmp) / ("%s.json" % variant)
            # No listener traffic: any free port will do; the upstream is never called.
            cfg.write_text(json.dumps(run.variant_config(variant, "normal", 9)))
            loads, configures = [], []
            for _ in range(args.starts):
                try:
                    p = subprocess.run(["timeout", "5", "taskset", "-c", cpu, envoy, "-c", str(cfg),
                                        "--concurrency", "1", "--disable-hot-restart",
                                        "--admin-address-path", str(Path(tmp) / "admin"),
                                        "-l", "debug", "--component-log-level", "wasm:trace"],
                                       capture_output=True, text=True, timeout=15)
                except subprocess.TimeoutExpired:
                    sys.exit("envoy did not exit")
                lines = p.stderr.splitlines()
                created = first(lines, "Base Wasm created")
                init = first(lines, "[host->vm] _initialize()")
                configured = first(lines, "proxy_on_configure return")
                if not (created and init and configured):
                    sys.exit("%s: trace lines not found:\n%s" % (variant, "\n".join(lines[-20:])))
                loads.append((init - created).total_seconds() * 1000)
                configures.append((configured - init).total_seconds() * 1000)
            print("%s (%s): load %s ms (median %.0f), configure %s ms" % (
                variant, label, " ".join("%.0f" % x for x in loads), statistics.median(loads),
                " ".join("%.0f" % x for x in configures)))


if __name__ == "__main__":
    main()
