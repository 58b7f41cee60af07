"""The release SBOMs (`make release`: scripts/sbom.py): valid CycloneDX 1.5 JSON (the
schema's own validator, cyclonedx-python-lib), one component per crate Cargo builds into the
artifact, with purl, license and the Cargo.lock checksum, and the artifact's own sha256."""

import hashlib
import json
import subprocess
import tempfile
import tomllib
from pathlib import Path

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from test_manifests import CORS_LINT, ROOT


def sbom(package, artifact, target=None):
    cmd = ["python3", str(ROOT / "scripts" / "sbom.py"), package, str(artifact)]
    if target:
        cmd += ["--target", target]
    text = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300).stdout
    error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(text)
    assert error is None, error
    return json.loads(text)


def names(bom):
    return {c["name"] for c in bom["components"]}


def test_module_and_cli_sboms():
    lock = {(p["name"], p["version"]): p.get("checksum") for p in tomllib.loads((ROOT / "Cargo.lock").read_text())["package"]}
    with tempfile.NamedTemporaryFile(suffix=".wasm") as wasm:
        wasm.write(b"\0asm stand-in for dist/cors.wasm")
        wasm.flush()
        module = sbom("envoy-cors", wasm.name, "wasm32-wasip1")
        assert module["metadata"]["component"]["hashes"][0]["content"] == hashlib.sha256(
            Path(wasm.name).read_bytes()).hexdigest()
        assert module == sbom("envoy-cors", wasm.name, "wasm32-wasip1"), "reproducible"
    # What the plugin links, and nothing of the CLI or the tests.
    assert {"cors-engine", "serde_json", "regex-lite", "miniz_oxide"} <= names(module)
    assert not names(module) & {"rustls", "ring", "schemars", "saphyr-parser", "testkit", "proptest", "serde_derive"}
    cli = sbom("cors-lint", CORS_LINT)
    assert {"cors-engine", "rustls", "ring", "saphyr-parser", "lexopt"} <= names(cli)
    for bom in (module, cli):
        for c in bom["components"]:
            assert c["purl"] == f"pkg:cargo/{c['name']}@{c['version']}"
            assert c.get("licenses"), c["name"]
            if lock.get((c["name"], c["version"])):
                assert c["hashes"] == [{"alg": "SHA-256", "content": lock[(c["name"], c["version"])]}]
        refs = {c["bom-ref"] for c in bom["components"]} | {bom["metadata"]["component"]["bom-ref"]}
        assert all(d["ref"] in refs and set(d["dependsOn"]) <= refs for d in bom["dependencies"])
