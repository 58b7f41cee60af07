"""deploy/: the kustomize bases (plugin on Istio and Envoy Gateway, the admission webhook, the
alert rules), rendered as `kustomize build` renders a base that lists resources and sets a
namespace, then checked:

- custom resources (WasmPlugin, EnvoyExtensionPolicy) against their vendored CRDs, strictly,
  with the project rules and their plugin configuration through `cors-lint validate`;
- the webhook's wiring, which no schema here covers (Kubernetes' own kinds are not vendored):
  Service selector and ports, the container's TLS arguments and mounted Secret, and the
  ValidatingWebhookConfiguration's service, path, AdmissionReview version and rules, each rule
  naming a group, version and resource that a vendored CRD serves;
- the rendered manifests sent to a running `cors-lint webhook` as AdmissionReviews: allowed, and
  denied once broken as a bare `off` would break them.
"""

import json
import socket
import subprocess
import urllib.request
from pathlib import Path

import yaml

from test_manifests import (CORS_LINT, ROOT, SCHEMAS, load_documents, plugin_configs, project_rules,
                            validate_document)

DEPLOY = ROOT / "deploy"
CLUSTER_SCOPED = {"Namespace", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
                  "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}


def render(base):
    """The objects `kustomize build base` prints for a base of `resources` and `namespace`."""
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization", base
    unsupported = set(kustomization) - {"apiVersion", "kind", "namespace", "resources"}
    assert not unsupported, f"{base}: this renderer knows resources and namespace only, not {unsupported}"
    out = []
    for resource in kustomization["resources"]:
        for doc in load_documents(base / resource):
            if "namespace" in kustomization and doc["kind"] not in CLUSTER_SCOPED:
                doc.setdefault("metadata", {})["namespace"] = kustomization["namespace"]
            out.append(doc)
    return out


def bases():
    return sorted(p.parent for p in DEPLOY.rglob("kustomization.yaml"))


def test_every_base_renders_and_its_custom_resources_are_valid():
    checked, failures = 0, []
    for base in bases():
        for doc in render(base):
            if doc["kind"] in ("WasmPlugin", "EnvoyExtensionPolicy"):
                checked += 1
                for e in validate_document(doc) + project_rules(doc):
                    failures.append(f"{base.relative_to(ROOT)}: {doc['kind']}: {e}")
                for where, config in plugin_configs(doc):
                    run = subprocess.run([CORS_LINT, "validate", "-"], input=json.dumps(config),
                                         capture_output=True, text=True, timeout=60)
                    if run.returncode != 0:
                        failures.append(f"{base.relative_to(ROOT)}: {where}: {run.stdout}{run.stderr}")
    assert checked >= 2
    assert not failures, "\n".join(failures)


def served_resources():
    """{(group, version, plural)} served by the vendored CRDs."""
    out = set()
    for path in SCHEMAS.glob("*.crd.yaml"):
        for doc in load_documents(path):
            spec = doc["spec"]
            for v in spec["versions"]:
                if v.get("served"):
                    out.add((spec["group"], v["name"], spec["names"]["plural"]))
    return out


def test_webhook_wiring():
    docs = {d["kind"]: d for d in render(DEPLOY / "webhook")}
    deployment, service, vwc = docs["Deployment"], docs["Service"], docs["ValidatingWebhookConfiguration"]
    namespace = deployment["metadata"]["namespace"]
    assert docs["Namespace"]["metadata"]["name"] == namespace == service["metadata"]["namespace"]
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    [container] = pod["spec"]["containers"]
    args = container["args"]
    assert args[0] == "webhook" and "--plain-http" not in args, args
    listen_port = int(args[args.index("--listen") + 1].rsplit(":", 1)[1])
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    [service_port] = service["spec"]["ports"]
    target = service_port["targetPort"]
    assert (named[target] if isinstance(target, str) else target) == listen_port
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    secrets = {v["name"]: v["secret"]["secretName"] for v in pod["spec"]["volumes"] if "secret" in v}
    for flag in ("--tls-cert", "--tls-key"):
        path = args[args.index(flag) + 1]
        assert any(path.startswith(mounts[name] + "/") for name in secrets), f"{flag} {path} not in a mounted Secret"
    for probe in ("readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert (get["path"], get["scheme"], get["port"]) == ("/healthz", "HTTPS", target)

    [hook] = vwc["webhooks"]
    ref = hook["clientConfig"]["service"]
    assert (ref["name"], ref["namespace"], ref["path"], ref["port"]) == (
        service["metadata"]["name"], namespace, "/validate", service_port["port"])
    assert hook["admissionReviewVersions"] == ["v1"] and hook["sideEffects"] == "None"
    assert hook["name"].count(".") >= 2, "a webhook name is a fully qualified name"
    served = served_resources()
    covered = set()
    for rule in hook["rules"]:
        assert set(rule["operations"]) == {"CREATE", "UPDATE"}
        for g in rule["apiGroups"]:
            for v in rule["apiVersions"]:
                for r in rule["resources"]:
                    assert (g, v, r) in served, f"{g}/{v} {r}: no vendored CRD serves it"
                    covered.add(r)
    assert covered == {"wasmplugins", "envoyfilters", "envoyextensionpolicies"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def review(port, obj, uid):
    body = json.dumps({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": uid, "operation": "CREATE", "object": obj,
                    "kind": {"group": obj["apiVersion"].split("/")[0], "version": obj["apiVersion"].split("/")[1],
                             "kind": obj["kind"]}},
    }).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/validate", data=body,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=20) as r:
        answer = json.load(r)
    assert answer["response"]["uid"] == uid
    return answer["response"]


def test_the_webhook_allows_the_rendered_manifests_and_denies_them_broken():
    port = free_port()
    proc = subprocess.Popen([CORS_LINT, "webhook", "--listen", f"127.0.0.1:{port}", "--plain-http"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert "listening on http://127.0.0.1" in proc.stdout.readline()
        judged = 0
        for base in bases():
            for doc in render(base):
                if doc["kind"] not in ("WasmPlugin", "EnvoyExtensionPolicy"):
                    continue
                judged += 1
                assert review(port, doc, "ok")["allowed"] is True
                # A bare `mode: off` reaches the API server as false.
                broken = yaml.safe_load(yaml.safe_dump(doc).replace("mode: 'off'", "mode: off"))
                verdict = review(port, broken, "broken")
                assert verdict["allowed"] is False, broken
                assert "`mode`: invalid type: boolean `false`" in verdict["status"]["message"]
                assert "quote it" in verdict["status"]["message"]
        assert judged >= 2
    finally:
        proc.kill()
        proc.wait()
