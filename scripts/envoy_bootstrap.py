"""The Envoy bootstrap of the Python harnesses (bench/run.py, scripts/soak.py,
tests/browser/conftest.py), built by the Rust test kit's builder — the one the Rust tests use —
through its CLI, `envoy-bootstrap` (crates/testkit/src/bin; the spec format is documented in
crates/testkit/src/spec.rs).

The Makefile targets that run the harnesses (bench, bench-quick, soak, test-browser) build it:
`cargo build -p testkit --bin envoy-bootstrap`. ENVOY_BOOTSTRAP overrides its path.
"""
import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("ENVOY_BOOTSTRAP") or REPO / "target" / "debug" / "envoy-bootstrap")
BUILD = ["cargo", "build", "--quiet", "-p", "testkit", "--bin", "envoy-bootstrap"]


def build():
    """Builds the CLI (the harnesses that build what they need call this)."""
    subprocess.run(BUILD, check=True, cwd=REPO)


def bootstrap(spec: dict) -> dict:
    """The bootstrap (a dict, JSON-serialisable) the builder makes from `spec`."""
    if not BIN.is_file():
        raise SystemExit("%s not found: run `%s` (the Makefile targets do)" % (BIN, " ".join(BUILD)))
    r = subprocess.run([str(BIN)], input=json.dumps(spec), capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("envoy-bootstrap refused its spec: %s\nspec: %s" % (r.stderr.strip(), json.dumps(spec)))
    return json.loads(r.stdout)
