#!/usr/bin/env python3
"""CycloneDX 1.5 SBOM (JSON) of one release artifact, from what Cargo builds into it.

    scripts/sbom.py PACKAGE ARTIFACT [--target TRIPLE] > ARTIFACT.cdx.json

The components are the crates `cargo tree -p PACKAGE -e normal,no-proc-macro` resolves for the
target (features resolved for that package alone, as `cargo build -p PACKAGE` builds it; build
scripts, dev-dependencies and proc-macros do not end up in the artifact and are left out), each
with its purl, SPDX license expression and, for crates.io crates, the sha256 Cargo.lock pins.
The artifact itself is the metadata component, with its sha256. No timestamp, and a serial
number derived from the content: the same build gives the same SBOM (make release).
Python standard library only.
"""

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^(\d+)(\S+) v(\S+)(?: \((.*?)\))?(?: \(\*\))?\|(.*)$")


def tree(package, target):
    cmd = ["cargo", "tree", "-p", package, "-e", "normal,no-proc-macro", "--prefix", "depth",
           "-f", "{p}|{l}", "--locked"]
    if target:
        cmd += ["--target", target]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    nodes, edges, stack = {}, set(), []
    for line in out.splitlines():
        m = LINE.match(line.strip())
        if not m:
            continue
        depth, name, version, source, license_ = int(m[1]), m[2], m[3], m[4] or "", m[5]
        key = (name, version)
        nodes.setdefault(key, {"local": source.startswith("/"), "license": license_})
        del stack[depth:]
        if stack:
            edges.add((stack[-1], key))
        stack.append(key)
    return nodes, edges


def purl(name, version):
    return f"pkg:cargo/{name}@{version}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("package")
    ap.add_argument("artifact")
    ap.add_argument("--target")
    args = ap.parse_args()
    lock = tomllib.loads((ROOT / "Cargo.lock").read_text())
    checksums = {(p["name"], p["version"]): p.get("checksum") for p in lock["package"]}
    nodes, edges = tree(args.package, args.target)
    root = next(k for k in nodes if k[0] == args.package)
    data = Path(args.artifact).read_bytes()
    digest = hashlib.sha256(data).hexdigest()

    def component(key, kind="library"):
        name, version = key
        c = {"type": kind, "bom-ref": purl(name, version), "name": name, "version": version,
             "purl": purl(name, version)}
        if nodes[key]["license"]:
            c["licenses"] = [{"expression": nodes[key]["license"]}]
        if checksums.get(key):
            c["hashes"] = [{"alg": "SHA-256", "content": checksums[key]}]
        return c

    main_component = component(root, "application")
    main_component["hashes"] = [{"alg": "SHA-256", "content": digest}]
    main_component["properties"] = [{"name": "artifact", "value": Path(args.artifact).name}]
    if args.target:
        main_component["properties"].append({"name": "target", "value": args.target})
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'envoy-cors:' + digest)}",
        "version": 1,
        "metadata": {
            "tools": {"components": [{"type": "application", "name": "scripts/sbom.py (cargo tree)"}]},
            "component": main_component,
        },
        "components": [component(k) for k in sorted(nodes) if k != root],
        "dependencies": [
            {"ref": purl(*k), "dependsOn": sorted(purl(*b) for a, b in edges if a == k)} for k in sorted(nodes)
        ],
    }
    json.dump(bom, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
