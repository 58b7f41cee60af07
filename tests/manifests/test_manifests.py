"""Every Kubernetes manifest under examples/ validated as `kubectl apply --validate=strict` would.

- The schema is the CRD's own `openAPIV3Schema` (tests/schemas/*.crd.yaml, vendored with the
  source and commit on line 1), for the manifest's apiVersion (group + served version) and kind.
- Strict: as the API server's field validation, an unknown field is an error wherever the schema
  lists `properties` (unless `x-kubernetes-preserve-unknown-fields`); `x-kubernetes-int-or-string`
  accepts an integer or a string; `nullable` accepts null; duplicate YAML keys are errors.
  `metadata` is checked against the ObjectMeta fields a manifest may set.
- The YAML is read with PyYAML, a YAML 1.1 reader like kubectl's: an unquoted `off`, `yes` or
  `0000...` is read as kubectl reads it (false, true, the integer 0), not as a string.
- CEL (`x-kubernetes-validations`): every rule on a node the manifest reaches must be re-checked
  here by hand (CEL_RULES, keyed by the rule's exact text); a rule without a check fails the test,
  so a new CRD version cannot add an unchecked rule silently.
- The plugin configuration inside (WasmPlugin `spec.pluginConfig`, EnvoyExtensionPolicy
  `spec.wasm[].config`), as kubectl would send it, goes through the plugin's own loader
  (`cors-lint validate -`; tests/examples.rs checks the same configurations as the Rust YAML
  reader sees them).

Also validated: the Gateway API / Envoy Gateway inputs of `cors-lint convert` in tests/cors-lint/,
so the converter's test inputs are manifests the API server accepts.
"""

import copy
import json
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "tests" / "schemas"
MANIFEST_DIRS = [ROOT / "examples"]
CONVERT_INPUTS = ROOT / "tests" / "cors-lint"
CORS_LINT = os.environ.get("CORS_LINT", str(ROOT / "target" / "debug" / "cors-lint"))


# --- YAML, read as kubectl reads it (YAML 1.1, duplicate keys refused) -------------------------


class StrictLoader(yaml.SafeLoader):
    pass


def _mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_documents(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.load_all(f, Loader=StrictLoader) if d is not None]


# --- CRD schemas, made strict -----------------------------------------------------------------

OBJECT_META = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "maxLength": 253,
                 "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"},
        "generateName": {"type": "string"},
        "namespace": {"type": "string", "maxLength": 63, "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def structural_to_jsonschema(node):
    """A Kubernetes structural schema as the JSON Schema that enforces it strictly."""
    if isinstance(node, list):
        return [structural_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {k: structural_to_jsonschema(v) for k, v in value.items()}
        elif key in ("x-kubernetes-validations", "description", "default", "example"):
            out[key] = value  # annotations (CEL is checked separately, below)
        else:
            out[key] = structural_to_jsonschema(value)
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if ("properties" in node and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def load_crds():
    """{(group, version, kind): (schema, source file)} for every served version."""
    crds = {}
    for path in sorted(SCHEMAS.glob("*.crd.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# ") and "commit" in first, f"{path.name}: line 1 must say source and commit"
        for doc in load_documents(path):
            if doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                if not version.get("served", False):
                    continue
                raw = copy.deepcopy(version["schema"]["openAPIV3Schema"])
                props = raw.setdefault("properties", {})
                props["metadata"] = OBJECT_META
                # apiVersion / kind: every object has them (checked by the lookup itself).
                props.setdefault("apiVersion", {"type": "string"})
                props.setdefault("kind", {"type": "string"})
                crds[(spec["group"], version["name"], spec["names"]["kind"])] = (raw, path.name)
    return crds


CRDS = load_crds()


# --- CEL rules (x-kubernetes-validations), re-checked by hand ---------------------------------


def _norm(rule):
    return " ".join(rule.split())


def _url_scheme_ok(value):
    # isURL(self) ? url(self).getScheme() in [...] : (isURL("http://" + self) && ...)
    allowed = {"", "http", "https", "oci", "file"}
    m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", value)
    if m and "://" in value:
        return m.group(1).lower() in allowed
    try:
        parts = urlsplit("http://" + value)
        return bool(parts.netloc)
    except ValueError:
        return False


XROUTES = ["HTTPRoute", "GRPCRoute", "UDPRoute", "TCPRoute", "TLSRoute"]
EG_TARGETS = ["Gateway", "ListenerSet"] + XROUTES

CEL_RULES = {
    # Istio WasmPlugin
    '!self.contains("*")': lambda s: "*" not in s,
    'self.all(key, !key.contains("*"))': lambda s: all("*" not in k for k in s),
    "self.all(key, key.size() != 0)": lambda s: all(len(k) != 0 for k in s),
    "self.size() == 0": lambda s: len(s) == 0,
    'isURL(self) ? (url(self).getScheme() in ["", "http", "https", "oci", "file"]) : '
    '(isURL("http://" + self) && url("http://" + self).getScheme() in ["", "http", "https", "oci", "file"])':
        _url_scheme_ok,
    '(has(self.valueFrom) ? self.valueFrom : "") != "HOST" || !has(self.value)':
        lambda s: s.get("valueFrom", "") != "HOST" or "value" not in s,
    "(has(self.selector) ? 1 : 0) + (has(self.targetRef) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1":
        lambda s: sum(k in s for k in ("selector", "targetRef", "targetRefs")) <= 1,
    # Envoy Gateway EnvoyExtensionPolicy / SecurityPolicy
    "self.kind == 'Secret'": lambda s: s.get("kind", "Secret") == "Secret",  # kind defaults to Secret
    "self.type == 'HTTP' ? has(self.http) : !has(self.http)":
        lambda s: ("http" in s) == (s.get("type") == "HTTP"),
    "self.type == 'Image' ? has(self.image) : !has(self.image)":
        lambda s: ("image" in s) == (s.get("type") == "Image"),
    "(has(self.targetRef) && !has(self.targetRefs)) || (!has(self.targetRef) && has(self.targetRefs)) || "
    "(has(self.targetSelectors) && self.targetSelectors.size() > 0)":
        lambda s: ("targetRef" in s) != ("targetRefs" in s) or len(s.get("targetSelectors", [])) > 0,
    "has(self.targetRef) ? self.targetRef.group == 'gateway.networking.k8s.io' : true":
        lambda s: "targetRef" not in s or s["targetRef"].get("group") == "gateway.networking.k8s.io",
    "has(self.targetRef) ? self.targetRef.kind in ['Gateway', 'ListenerSet', 'HTTPRoute', 'GRPCRoute', "
    "'UDPRoute', 'TCPRoute', 'TLSRoute'] : true":
        lambda s: "targetRef" not in s or s["targetRef"].get("kind") in EG_TARGETS,
    "has(self.targetRefs) ? self.targetRefs.all(ref, ref.group == 'gateway.networking.k8s.io') : true":
        lambda s: all(r.get("group") == "gateway.networking.k8s.io" for r in s.get("targetRefs", [])),
    "has(self.targetRefs) ? self.targetRefs.all(ref, ref.kind in ['Gateway', 'ListenerSet', 'HTTPRoute', "
    "'GRPCRoute', 'UDPRoute', 'TCPRoute', 'TLSRoute']) : true":
        lambda s: all(r.get("kind") in EG_TARGETS for r in s.get("targetRefs", [])),
    "!has(self.mergeType) || ((!has(self.targetRef) || self.targetRef.kind in ['HTTPRoute', 'GRPCRoute', "
    "'UDPRoute', 'TCPRoute', 'TLSRoute']) && (!has(self.targetRefs) || self.targetRefs.all(ref, ref.kind in "
    "['HTTPRoute', 'GRPCRoute', 'UDPRoute', 'TCPRoute', 'TLSRoute'])) && (!has(self.targetSelectors) || "
    "self.targetSelectors.all(sel, sel.kind in ['HTTPRoute', 'GRPCRoute', 'UDPRoute', 'TCPRoute', 'TLSRoute'])))":
        lambda s: "mergeType" not in s or (
            ("targetRef" not in s or s["targetRef"].get("kind") in XROUTES)
            and all(r.get("kind") in XROUTES for r in s.get("targetRefs", []))
            and all(r.get("kind") in XROUTES for r in s.get("targetSelectors", []))),
}
CEL_RULES.update({
    # Envoy Gateway EnvoyProxy (the native module's dynamicModules allowlist); `type` defaults to Local.
    "!has(self.luaValidation) || !has(self.lua)": lambda s: "luaValidation" not in s or "lua" not in s,
    "!(has(self.mergeGateways) && self.mergeGateways && has(self.mergeBackends))":
        lambda s: not (s.get("mergeGateways") and "mergeBackends" in s),
    "self.type == 'Remote' ? has(self.remote) : !has(self.remote)":
        lambda s: ("remote" in s) == (s.get("type", "Local") == "Remote"),
    "self.type != 'Local' || has(self.local)": lambda s: s.get("type", "Local") != "Local" or "local" in s,
    "self.type == 'Remote' ? !has(self.local) : true":
        lambda s: s.get("type", "Local") != "Remote" or "local" not in s,
    # Istio EnvoyFilter
    "(has(self.workloadSelector) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1":
        lambda s: ("workloadSelector" in s) + ("targetRefs" in s) <= 1,
    'has(self.context) ? ((self.context == "WAYPOINT") ? has(self.waypoint) : !has(self.waypoint)) : '
    "!has(self.waypoint)":
        lambda s: ("waypoint" in s) == (s.get("context") == "WAYPOINT") if "context" in s else "waypoint" not in s,
})
EG_SECURITY_TARGETS = ["Gateway", "ListenerSet", "HTTPRoute", "GRPCRoute", "TCPRoute"]
EG_SECURITY_ROUTES = ["HTTPRoute", "GRPCRoute", "TCPRoute"]
CEL_RULES.update({
    # Envoy Gateway SecurityPolicy (its own lists of target kinds)
    "has(self.targetRef) ? self.targetRef.kind in ['Gateway', 'ListenerSet', 'HTTPRoute', 'GRPCRoute', "
    "'TCPRoute'] : true":
        lambda s: "targetRef" not in s or s["targetRef"].get("kind") in EG_SECURITY_TARGETS,
    "has(self.targetRefs) ? self.targetRefs.all(ref, ref.kind in ['Gateway', 'ListenerSet', 'HTTPRoute', "
    "'GRPCRoute', 'TCPRoute']) : true":
        lambda s: all(r.get("kind") in EG_SECURITY_TARGETS for r in s.get("targetRefs", [])),
    "!has(self.mergeType) || ((!has(self.targetRef) || self.targetRef.kind in ['HTTPRoute', 'GRPCRoute', "
    "'TCPRoute']) && (!has(self.targetRefs) || self.targetRefs.all(ref, ref.kind in ['HTTPRoute', 'GRPCRoute', "
    "'TCPRoute'])) && (!has(self.targetSelectors) || self.targetSelectors.all(sel, sel.kind in ['HTTPRoute', "
    "'GRPCRoute', 'TCPRoute'])))":
        lambda s: "mergeType" not in s or (
            ("targetRef" not in s or s["targetRef"].get("kind") in EG_SECURITY_ROUTES)
            and all(r.get("kind") in EG_SECURITY_ROUTES for r in s.get("targetRefs", []))
            and all(r.get("kind") in EG_SECURITY_ROUTES for r in s.get("targetSelectors", []))),
    "(has(self.authorization) && has(self.authorization.rules) && self.authorization.rules.exists(r, "
    "has(r.principal) ? has(r.principal.jwt) : false)) ? has(self.jwt) : true":
        lambda s: not any("jwt" in (r.get("principal") or {}) for r in (s.get("authorization") or {}).get("rules", []))
        or "jwt" in s,
    # Gateway API HTTPRoute
    "self.all(p1, self.all(p2, p1.group == p2.group && p1.kind == p2.kind && p1.name == p2.name && "
    "(((!has(p1.__namespace__) || p1.__namespace__ == '') && (!has(p2.__namespace__) || p2.__namespace__ == '')) || "
    "(has(p1.__namespace__) && has(p2.__namespace__) && p1.__namespace__ == p2.__namespace__)) ? "
    "((!has(p1.sectionName) || p1.sectionName == '') == (!has(p2.sectionName) || p2.sectionName == '') && "
    "(!has(p1.port) || p1.port == 0) == (!has(p2.port) || p2.port == 0)): true))":
        lambda s: all(not _same_parent(a, b) or (
            bool(a.get("sectionName")) == bool(b.get("sectionName")) and bool(a.get("port")) == bool(b.get("port")))
            for a in s for b in s),
    "self.all(p1, self.exists_one(p2, p1.group == p2.group && p1.kind == p2.kind && p1.name == p2.name && "
    "(((!has(p1.__namespace__) || p1.__namespace__ == '') && (!has(p2.__namespace__) || p2.__namespace__ == '')) || "
    "(has(p1.__namespace__) && has(p2.__namespace__) && p1.__namespace__ == p2.__namespace__ )) && "
    "(((!has(p1.sectionName) || p1.sectionName == '') && (!has(p2.sectionName) || p2.sectionName == '')) || "
    "( has(p1.sectionName) && has(p2.sectionName) && p1.sectionName == p2.sectionName)) && "
    "(((!has(p1.port) || p1.port == 0) && (!has(p2.port) || p2.port == 0)) || "
    "(has(p1.port) && has(p2.port) && p1.port == p2.port))))":
        lambda s: all(sum(1 for b in s if _same_parent(a, b) and a.get("sectionName", "") == b.get("sectionName", "")
                          and a.get("port", 0) == b.get("port", 0)) == 1 for a in s),
    " + ".join(f"(self.size() > {i} ? self[{i}].matches.size() : 0)" for i in range(16)) + " <= 128":
        lambda s: sum(len(r.get("matches", [])) for r in s[:16]) <= 128,
    "self.all(l1, !has(l1.name) || self.exists_one(l2, has(l2.name) && l1.name == l2.name))":
        lambda s: all("name" not in a or sum(1 for b in s if b.get("name") == a["name"]) == 1 for a in s),
    "(has(self.backendRefs) && size(self.backendRefs) > 0) ? (!has(self.filters) || "
    "self.filters.all(f, !has(f.requestRedirect))): true":
        lambda s: not s.get("backendRefs") or all("requestRedirect" not in f for f in s.get("filters", [])),
    "self.type in ['Exact','PathPrefix'] || self.type == 'RegularExpression'":
        lambda s: s.get("type", "PathPrefix") in ("Exact", "PathPrefix", "RegularExpression"),
    "(self.type in ['Exact','PathPrefix']) ? self.value.matches(r\"\"\"^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|"
    "[%][0-9a-fA-F]{2})+$\"\"\") : true":
        lambda s: not _exact_or_prefix(s) or re.fullmatch(
            r"(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+", s.get("value", "/")) is not None,
    # group and kind default to "" and "Service" (the API server applies defaults before CEL)
    "(size(self.group) == 0 && self.kind == 'Service') ? has(self.port) : true":
        lambda s: not (s.get("group", "") == "" and s.get("kind", "Service") == "Service") or "port" in s,
    "!(self.exists(f, f.type == 'RequestRedirect') && self.exists(f, f.type == 'URLRewrite'))":
        lambda s: not ({"RequestRedirect", "URLRewrite"} <= {f.get("type") for f in s}),
})


def _same_parent(a, b):
    return (a.get("group", "gateway.networking.k8s.io") == b.get("group", "gateway.networking.k8s.io")
            and a.get("kind", "Gateway") == b.get("kind", "Gateway") and a.get("name") == b.get("name")
            and a.get("namespace", "") == b.get("namespace", ""))


def _exact_or_prefix(path):
    return path.get("type", "PathPrefix") in ("Exact", "PathPrefix")


def _replace_prefix_ok(rule, filters, field):
    uses = sum(1 for f in filters if (((f.get(field) or {}).get("path") or {}).get("type") == "ReplacePrefixMatch"
                                      and "replacePrefixMatch" in f[field]["path"]))
    if uses != 1:
        return True
    matches = rule.get("matches", [])
    return len(matches) == 1 and "path" in matches[0] and matches[0]["path"].get("type", "PathPrefix") == "PathPrefix"


# Families of HTTPRoute rules that differ only in a name or a literal: parsed, then checked.
CEL_FAMILIES = [
    (re.compile(r"^self\.filter\(f, f\.type == '(\w+)'\)\.size\(\) <= 1$"),
     lambda m: lambda s: sum(1 for f in s if f.get("type") == m[1]) <= 1),
    (re.compile(r"^!\(has\(self\.(\w+)\) && self\.type != '(\w+)'\)$"),
     lambda m: lambda s: not (m[1] in s and s.get("type") != m[2])),
    (re.compile(r"^!\(!has\(self\.(\w+)\) && self\.type == '(\w+)'\)$"),
     lambda m: lambda s: not (m[1] not in s and s.get("type") == m[2])),
    (re.compile(r"^\(self\.type in \['Exact','PathPrefix'\]\) \? self\.value\.startsWith\('([^']*)'\) : true$"),
     lambda m: lambda s: not _exact_or_prefix(s) or s.get("value", "/").startswith(m[1])),
    (re.compile(r"^\(self\.type in \['Exact','PathPrefix'\]\) \? !self\.value\.contains\('([^']*)'\) : true$"),
     lambda m: lambda s: not _exact_or_prefix(s) or m[1] not in s.get("value", "/")),
    (re.compile(r"^\(self\.type in \['Exact','PathPrefix'\]\) \? !self\.value\.endsWith\('([^']*)'\) : true$"),
     lambda m: lambda s: not _exact_or_prefix(s) or not s.get("value", "/").endswith(m[1])),
    (re.compile(r"^\(has\(self\.filters\) && self\.filters\.exists_one\(f, has\(f\.(\w+)\) && .*ReplacePrefixMatch.*"
                r"\? false : true\) : true$"),
     lambda m: lambda s: _replace_prefix_ok(s, s.get("filters", []), m[1])),
    (re.compile(r"^\(has\(self\.backendRefs\) && self\.backendRefs\.exists_one\(b, \(has\(b\.filters\) && "
                r"b\.filters\.exists_one\(f, has\(f\.(\w+)\) && .*ReplacePrefixMatch.*\? false : true\) : true$"),
     lambda m: lambda s: _replace_prefix_ok(
         s, [f for b in s.get("backendRefs", []) for f in b.get("filters", [])], m[1])),
    (re.compile(r"^!\('\*' in self && self\.size\(\) > 1\)$"),
     lambda m: lambda s: not ("*" in s and len(s) > 1)),
]

CEL_RULES = {_norm(k): v for k, v in CEL_RULES.items()}


def cel_check(text):
    """The hand-written check of a CEL rule (normalized text), or None."""
    if text in CEL_RULES:
        return CEL_RULES[text]
    for pattern, make in CEL_FAMILIES:
        m = pattern.match(text)
        if m:
            return make(m)
    return None


def check_cel(schema, value, path, errors):
    """Walks the manifest along its schema; every CEL rule reached is re-checked or reported."""
    if not isinstance(schema, dict) or value is None:
        return
    for rule in schema.get("x-kubernetes-validations", []):
        text = _norm(rule["rule"])
        check = cel_check(text)
        if check is None:
            errors.append(f"{path or '<root>'}: CEL rule not re-checked by tests/manifests: {text}")
        elif not check(value):
            errors.append(f"{path or '<root>'}: {rule.get('message', text)} (CEL: {text})")
    for sub in schema.get("allOf", []) + schema.get("anyOf", []) + schema.get("oneOf", []):
        check_cel(sub, value, path, errors)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            child = props.get(k, extra if isinstance(extra, dict) else None)
            check_cel(child, v, f"{path}.{k}" if path else k, errors)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_cel(schema.get("items"), v, f"{path}[{i}]", errors)


# --- Rules of this project on top of the CRDs --------------------------------------------------


def project_rules(doc):
    """What a CORS plugin manifest here must also do (not a CRD rule: said so in the message)."""
    errors = []
    spec = doc.get("spec") or {}
    if doc.get("kind") == "WasmPlugin":
        if not any(k in spec for k in ("selector", "targetRef", "targetRefs")):
            errors.append("spec: project rule: set one of selector / targetRefs "
                          "(without, the plugin applies to every workload of the namespace)")
        if not spec.get("sha256"):
            errors.append("spec.sha256: project rule: pin the image digest")
        if not spec.get("imagePullSecret"):
            errors.append("spec.imagePullSecret: project rule: show the pull secret")
    if doc.get("kind") == "EnvoyExtensionPolicy":
        for i, wasm in enumerate(spec.get("wasm", [])):
            image = (wasm.get("code") or {}).get("image") or {}
            if not image.get("sha256"):
                errors.append(f"spec.wasm[{i}].code.image.sha256: project rule: pin the image digest")
            if not image.get("pullSecretRef"):
                errors.append(f"spec.wasm[{i}].code.image.pullSecretRef: project rule: show the pull secret")
    return errors


def plugin_configs(doc):
    """(location, JSON) of each plugin configuration in a manifest, as kubectl would send it."""
    spec = doc.get("spec") or {}
    if doc.get("kind") == "WasmPlugin" and "pluginConfig" in spec:
        yield "spec.pluginConfig", spec["pluginConfig"]
    if doc.get("kind") == "EnvoyExtensionPolicy":
        for i, wasm in enumerate(spec.get("wasm", [])):
            if "config" in wasm:
                yield f"spec.wasm[{i}].config", wasm["config"]
        for i, module in enumerate(spec.get("dynamicModule", [])):
            if "config" in module:
                yield f"spec.dynamicModule[{i}].config", module["config"]
    if doc.get("kind") == "EnvoyFilter":
        # The native module's filter: its StringValue is the JSON text the module receives.
        for i, patch in enumerate(spec.get("configPatches", [])):
            typed = ((patch.get("patch") or {}).get("value") or {}).get("typed_config") or {}
            if typed.get("@type", "").endswith("dynamic_modules.v3.DynamicModuleFilter"):
                yield (f"spec.configPatches[{i}].patch.value.typed_config.filter_config.value",
                       json.loads(typed["filter_config"]["value"]))


# --- The checks --------------------------------------------------------------------------------


def validate_document(doc, crds=None):
    """Every error of one manifest: 'field: message'."""
    crds = CRDS if crds is None else crds
    api, kind = doc.get("apiVersion", ""), doc.get("kind", "")
    group, _, version = api.rpartition("/")
    entry = crds.get((group, version, kind))
    if entry is None:
        known = sorted(f"{g}/{v} {k}" for g, v, k in crds)
        return [f"<root>: no vendored CRD serves apiVersion {api!r} kind {kind!r} (known: {', '.join(known)})"]
    raw, _ = entry
    schema = structural_to_jsonschema(raw)
    errors = []
    validator = jsonschema.Draft7Validator(schema)
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path).lstrip(".")
        errors.append(f"{field or '<root>'}: {err.message}")
    check_cel(raw, doc, "", errors)
    return errors


def manifest_files():
    files = []
    for d in MANIFEST_DIRS:
        files += sorted(p for p in d.rglob("*") if p.suffix in (".yaml", ".yml"))
    return files


def kubernetes_documents(path):
    return [d for d in load_documents(path) if isinstance(d, dict) and "apiVersion" in d and "kind" in d]


def describe(doc, i):
    meta = doc.get("metadata") or {}
    return f"document {i + 1} {doc.get('kind')} {meta.get('namespace', '')}/{meta.get('name', '')}"


def test_every_example_manifest_is_valid_against_its_crd():
    files = manifest_files()
    failures, checked = [], 0
    for path in files:
        shown = path.relative_to(ROOT)
        try:
            docs = kubernetes_documents(path)
        except yaml.YAMLError as e:
            failures.append(f"{shown}: {e}")
            continue
        if path.parts[-2] != "envoy" and not docs:  # examples/envoy/: Envoy bootstrap, not Kubernetes
            failures.append(f"{shown}: no Kubernetes manifest found")
        for i, doc in enumerate(docs):
            checked += 1
            for e in validate_document(doc) + project_rules(doc):
                failures.append(f"{shown}: {describe(doc, i)}: {e}")
    assert checked >= 5, f"only {checked} manifests found under examples/"
    assert not failures, "\n".join(failures)


def test_every_example_plugin_configuration_loads_as_kubectl_sends_it():
    if not Path(CORS_LINT).exists():
        pytest.fail(f"{CORS_LINT} not built: run `cargo build -p cors-lint` (make test does)")
    failures, checked = [], 0
    for path in manifest_files():
        for i, doc in enumerate(kubernetes_documents(path)):
            for where, config in plugin_configs(doc):
                checked += 1
                run = subprocess.run([CORS_LINT, "validate", "-"], input=json.dumps(config),
                                     capture_output=True, text=True, timeout=60)
                if run.returncode != 0:
                    failures.append(f"{path.relative_to(ROOT)}: {describe(doc, i)}: {where}: "
                                    f"{(run.stdout + run.stderr).strip()}")
    assert checked >= 5, f"only {checked} plugin configurations found"
    assert not failures, "\n".join(failures)


def test_convert_inputs_are_valid_against_their_crds():
    """The HTTPRoute / SecurityPolicy inputs of cors-lint's tests are manifests the API accepts."""
    checked = 0
    failures = []
    for path in sorted(CONVERT_INPUTS.glob("*.yaml")):
        for i, doc in enumerate(kubernetes_documents(path)):
            api = doc["apiVersion"]
            if not (api.startswith("gateway.networking.k8s.io/") or api.startswith("gateway.envoyproxy.io/")):
                continue
            checked += 1
            for e in validate_document(doc):
                failures.append(f"{path.relative_to(ROOT)}: {describe(doc, i)}: {e}")
    assert checked >= 2, f"only {checked} Gateway API / Envoy Gateway inputs found in tests/cors-lint/"
    assert not failures, "\n".join(failures)


# --- The checker itself: a broken manifest must fail, naming the field --------------------------

GOOD = """
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: cors, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  url: oci://registry.example.com/envoy-cors:0.1.0
  sha256: "%s"
  imagePullSecret: registry-credentials
  pluginConfig: {allow_origins: ["https://a.example.com"]}
""" % ("a" * 64)


def _errors(text):
    doc = yaml.load(text, Loader=StrictLoader)
    return validate_document(doc) + project_rules(doc)


def test_checker_accepts_a_good_manifest():
    assert _errors(GOOD) == []


@pytest.mark.parametrize("broken, expected", [
    # the bug this test was written for: an unquoted all-zero digest is the integer 0
    (GOOD.replace('sha256: "%s"' % ("a" * 64), "sha256: " + "0" * 64), "spec.sha256: 0 is not of type 'string'"),
    (GOOD.replace("%s" % ("a" * 64), "A" * 64), "spec.sha256: 'AAAA"),
    (GOOD.replace("  imagePullSecret", "  imagePullSecrets"),
     "spec: Additional properties are not allowed ('imagePullSecrets' was unexpected)"),
    (GOOD.replace("  url:", "  selecter: {}\n  url:"), "'selecter' was unexpected"),
    (GOOD.replace("  url:", "  targetRefs: [{kind: Gateway, name: gw}]\n  url:"),
     "only one of targetRefs or selector can be set"),
    (GOOD.replace("oci://", "ftp://"), "spec.url: url must have schema one of"),
    (GOOD.replace("metadata: {", "metadata: {labelz: {}, "), "metadata: Additional properties"),
    (GOOD.replace("  url:", "  phase: AUTHZ2\n  url:"), "spec.phase: 'AUTHZ2' is not one of"),
    (GOOD.replace("  selector: {matchLabels: {istio: ingressgateway}}\n", ""),
     "project rule: set one of selector / targetRefs"),
    (GOOD.replace("apiVersion: extensions.istio.io/v1alpha1", "apiVersion: extensions.istio.io/v9"),
     "no vendored CRD serves"),
])
def test_checker_rejects_broken_manifests_naming_the_field(broken, expected):
    errors = _errors(broken)
    assert any(expected in e for e in errors), errors


def test_duplicate_keys_are_errors():
    with pytest.raises(yaml.YAMLError, match="duplicate key 'url'"):
        yaml.load(GOOD + "  url: oci://x/y:1\n", Loader=StrictLoader)


def test_yaml_1_1_reading_like_kubectl():
    # `mode: off` unquoted is the boolean false for kubectl: the plugin would refuse it.
    assert yaml.load("mode: off", Loader=StrictLoader) == {"mode": False}


def test_envoy_extension_policy_cel_rules():
    doc = yaml.load("""
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: EnvoyExtensionPolicy
metadata: {name: cors, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: eg}]
  wasm:
  - name: cors
    code:
      type: Image
      http: {url: "https://example.com/cors.wasm"}
""", Loader=StrictLoader)
    assert any("If type is HTTP, http field needs to be set" in e for e in validate_document(doc))
    doc["spec"]["wasm"][0]["code"] = {"type": "Image", "image": {"url": "r.example.com/cors:1"}}
    assert validate_document(doc) == []
    doc["spec"]["targetRefs"][0]["group"] = "example.com"
    assert any("targetRefs[*].group" in e for e in validate_document(doc))
    del doc["spec"]["targetRefs"]
    assert any("either targetRef or targetRefs must be used" in e for e in validate_document(doc))


def test_an_unknown_cel_rule_fails():
    schema = {"type": "object", "properties": {"a": {"type": "string", "x-kubernetes-validations": [
        {"rule": "self.startsWith('x')", "message": "m"}]}}}
    errors = []
    check_cel(schema, {"a": "y"}, "", errors)
    assert errors == ["a: CEL rule not re-checked by tests/manifests: self.startsWith('x')"]


def test_http_route_cel_rules():
    doc = yaml.load(open(CONVERT_INPUTS / "gateway-api-httproute.yaml"), Loader=StrictLoader)
    assert validate_document(doc) == []
    broken = copy.deepcopy(doc)
    broken["spec"]["rules"][0]["filters"].append(copy.deepcopy(broken["spec"]["rules"][0]["filters"][0]))
    assert any("CEL: self.filter(f, f.type == 'CORS').size() <= 1" in e for e in validate_document(broken))
    broken = copy.deepcopy(doc)
    broken["spec"]["rules"][0]["matches"][0]["path"]["value"] = "/api/../admin"
    assert any(e.startswith("spec.rules[0].matches[0].path: ") for e in validate_document(broken))
    broken = copy.deepcopy(doc)
    broken["spec"]["rules"][0]["filters"][0]["cors"]["allowOrigins"].append("*")
    assert any("AllowOrigins cannot contain '*' alongside other origins" in e for e in validate_document(broken))
    broken = copy.deepcopy(doc)
    del broken["spec"]["rules"][0]["backendRefs"][0]["port"]
    assert any(e.startswith("spec.rules[0].backendRefs[0]: ") for e in validate_document(broken))
    broken = copy.deepcopy(doc)
    broken["spec"]["rules"][0]["filters"][0]["cors"]["maxAge"] = "600"
    assert any("spec.rules[0].filters[0].cors.maxAge: '600' is not of type 'integer'" in e
               for e in validate_document(broken))
