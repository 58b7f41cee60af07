#!/usr/bin/env python3
"""Training run for the native module's profile-guided build: `make native-pgo`.

The module's code runs once per request and Envoy's own working set evicts it in between, so
its cost is mostly instruction-cache misses and mispredicted branches (BENCHMARKS.md, "Native
module"). A profile lets the compiler lay the hot path out contiguously and move cold blocks
away. This runs an instrumented build (`-Cprofile-generate`) under Envoy through the bench's
configurations and requests, a fixed number of each on one keep-alive connection, then stops
Envoy with SIGTERM so the module writes its profile on exit.

Usage: bench/native_pgo.py <instrumented libcors_native.so> [requests per scenario]
"""

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import instructions  # noqa: E402  (requests on one connection)
import run as bench  # noqa: E402  (configs, scenarios, Envoy processes)

# The policies a deployment runs and what each is sent: the one-origin policy gets every kind of
# request, the others their own scenarios.
TRAINING = {
    "normal": ["get_allowed", "get_denied", "get_no_origin", "preflight_allowed", "preflight_rejected"],
    "large": ["large_policy"],
    "paths": ["path_scoped", "path_ambiguous"],
    "star": ["star_no_origin"],
    "gateway": ["passthrough"],
}


def main():
    module, requests = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    bench.envoy_bootstrap.build()
    bench.ENVOY = bench.real_envoy(bench.ENVOY)
    scenarios = {s["key"]: s for s in bench.SCENARIOS}
    work = Path(tempfile.mkdtemp(prefix="cors-pgo-"))
    # Envoy loads module envoy_cors as libenvoy_cors.so from the search path.
    shutil.copyfile(module, work / "libenvoy_cors.so")
    upstream = bench.Envoy("upstream", bench.upstream_config(), work, None)
    upstream.start()
    upstream.wait_ready()
    try:
        for policy, keys in TRAINING.items():
            envoy = bench.Envoy(policy, bench.variant_config("n", policy, upstream.port), work, None, work)
            envoy.start()
            envoy.wait_ready()
            for key in keys:
                instructions.send(envoy.port, scenarios[key], requests)
            # A clean exit runs the profile runtime's exit handler, which writes the profile.
            envoy.stop(graceful=True)
            print("trained on policy %s: %s, %d requests each" % (policy, ", ".join(keys), requests))
    finally:
        upstream.stop()
        bench.kill_children()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
