//! Finds the plugin configurations in a file: the plugin JSON itself, Istio `WasmPlugin`
//! manifests (`spec.pluginConfig`), Envoy Gateway `EnvoyExtensionPolicy` manifests
//! (`spec.wasm[].config`, and the native module's `spec.dynamicModule[].config`), Envoy YAML/JSON
//! (every `envoy.filters.http.wasm` config of this plugin and every dynamic-module filter or
//! per-route config of the native module, wherever it sits: `http_filters`,
//! `typed_per_filter_config`, ECDS, an Istio `EnvoyFilter` patch), and a bare configuration
//! written as YAML.
//!
//! Shared by `cors-lint` and `tests/examples.rs` (through the `cors_lint` library), so the examples
//! check finds configurations exactly as `cors-lint validate` does. Each configuration is
//! returned as the JSON text the plugin would receive, for `Config::from_json`.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::kube_yaml::{self, Ambiguous, Document};

/// The top-level keys of the plugin configuration, read from the plugin's own type
/// (`config::raw::RawPolicy`, through its JSON Schema): no second list to drift from it.
pub fn plugin_keys() -> &'static [String] {
    static KEYS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        plugin_schema()
            .get("properties")
            .and_then(Value::as_object)
            .map(|properties| properties.keys().cloned().collect())
            .unwrap_or_default()
    })
}

/// The JSON Schema of the plugin configuration (`RawPolicy`'s).
pub fn plugin_schema() -> &'static Value {
    static SCHEMA: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| schemars::schema_for!(cors_engine::config::raw::RawPolicy).to_value())
}

const WASM_TYPE: &str = "envoy.extensions.filters.http.wasm.v3.Wasm";
/// The native module's filter, and its per-route configuration.
const NATIVE_TYPES: [&str; 2] = [
    "envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter",
    "envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilterPerRoute",
];
const TYPED_STRUCT_TYPES: &[&str] = &["udpa.type.v1.TypedStruct", "xds.type.v3.TypedStruct"];

/// One configuration found in a file.
#[derive(Debug, Clone)]
pub struct Found {
    /// Where it is: empty for a file that is the plugin JSON, else e.g.
    /// `WasmPlugin istio-system/cors spec.pluginConfig` or a path into the Envoy config.
    pub location: String,
    /// The JSON the plugin receives, or why none can be taken from this place.
    pub config: Result<String, String>,
    /// Line (1-based) of the configuration in the file, when it was YAML.
    pub line: Option<usize>,
    /// Line of each key inside a configuration written as YAML, by the path the plugin's errors
    /// name (`policies[0].mode`).
    pub key_lines: HashMap<String, usize>,
    /// Bare scalars inside it that YAML 1.1 (Kubernetes) and YAML 1.2 read differently, with
    /// the path the plugin's errors would name.
    pub ambiguous: Vec<(String, Ambiguous)>,
}

impl Found {
    fn new(location: String, config: Result<String, String>) -> Found {
        Found { location, config, line: None, key_lines: HashMap::new(), ambiguous: Vec::new() }
    }

    /// `config`, at `pointer` in `doc`, as written in YAML: its line, its keys' lines and its
    /// ambiguous scalars, by plugin key path.
    fn in_yaml(mut self, doc: Option<&Document>, pointer: &str) -> Found {
        let Some(doc) = doc else { return self };
        self.line = doc.lines.get(pointer).copied();
        let Some(config) = doc.value.pointer(pointer) else { return self };
        fn inside<'p>(p: &'p str, pointer: &str) -> Option<&'p str> {
            p.strip_prefix(pointer).filter(|rest| rest.is_empty() || rest.starts_with('/'))
        }
        for (p, line) in &doc.lines {
            if let Some(rest) = inside(p, pointer) {
                self.key_lines.insert(key_path(config, rest), *line);
            }
        }
        for a in &doc.ambiguous {
            if let Some(rest) = inside(&a.pointer, pointer) {
                self.ambiguous.push((key_path(config, rest), a.clone()));
            }
        }
        self
    }

    /// The line of `key` (a plugin error's key path), or of its nearest enclosing key.
    pub fn line_of(&self, key: &str) -> Option<usize> {
        let mut k = key;
        loop {
            if let Some(line) = self.key_lines.get(k) {
                return Some(*line);
            }
            match k.rfind(['.', '[']) {
                Some(i) => k = &k[..i],
                None => return self.line,
            }
        }
    }
}

/// A JSON pointer inside `root` as the plugin's errors name the key: `/policies/0/mode` is
/// `policies[0].mode`.
fn key_path(root: &Value, pointer: &str) -> String {
    let mut out = String::new();
    let mut node = Some(root);
    for token in pointer.split('/').skip(1) {
        let name = token.replace("~1", "/").replace("~0", "~");
        match node {
            Some(Value::Array(items)) => {
                out.push_str(&format!("[{name}]"));
                node = name.parse::<usize>().ok().and_then(|i| items.get(i));
            }
            other => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&name);
                node = other.and_then(|v| v.get(&name));
            }
        }
    }
    out
}

/// What a file holds.
#[derive(Debug, Default)]
pub struct Extracted {
    pub configs: Vec<Found>,
    /// Wasm filters or WasmPlugins of other plugins, left alone (locations).
    pub skipped: Vec<String>,
}

/// Reads every configuration in `text`. `Err` when the file is neither JSON nor YAML.
pub fn extract(text: &str) -> Result<Extracted, String> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') {
        match serde_json::from_str::<Value>(trimmed) {
            Ok(value @ Value::Object(_)) if value.as_object().is_some_and(is_container) => {
                let mut out = Extracted::default();
                walk_document(&value, None, "", &mut out);
                return Ok(out);
            }
            Ok(_) => return Ok(plugin_json(text)),
            // Broken JSON that starts like a plugin config: the plugin's own parse error says
            // where (line and column), so it is reported as the plugin would.
            Err(_) if !trimmed.contains("static_resources") && !trimmed.contains("\"@type\"") => {
                return Ok(plugin_json(text))
            }
            Err(e) => return Err(format!("not valid JSON: {e}")),
        }
    }
    let docs = kube_yaml::documents(text)?;
    let many = docs.iter().filter(|d| !d.value.is_null()).count() > 1;
    let mut out = Extracted::default();
    for (i, doc) in docs.iter().enumerate() {
        if doc.value.is_null() {
            continue;
        }
        let label = if many { format!("document {}", i + 1) } else { String::new() };
        match &doc.value {
            Value::Object(map) if !is_container(map) && has_plugin_key(map) => {
                out.configs.push(Found::new(label, Ok(doc.value.to_string())).in_yaml(Some(doc), ""))
            }
            value => walk_document(value, Some(doc), &label, &mut out),
        }
    }
    Ok(out)
}

/// Every configuration in one Kubernetes object or Envoy document already read as JSON data
/// (what the API server hands an admission webhook).
pub fn from_object(doc: &Value) -> Extracted {
    let mut out = Extracted::default();
    match doc {
        Value::Object(map) if !is_container(map) && has_plugin_key(map) => {
            out.configs.push(Found::new(String::new(), Ok(doc.to_string())))
        }
        _ => walk_document(doc, None, "", &mut out),
    }
    out
}

/// Every document of a YAML stream as JSON data, read as Kubernetes reads it (YAML 1.1
/// scalars, anchors resolved, `<<` merge keys applied).
pub fn yaml_documents(text: &str) -> Result<Vec<Value>, String> {
    Ok(kube_yaml::documents(text)?.into_iter().map(|d| d.value).collect())
}

/// The documents of a JSON or YAML file (JSON when it starts with `{` or `[`).
pub fn documents(text: &str) -> Result<Vec<Value>, String> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return serde_json::from_str(trimmed).map(|v| vec![v]).map_err(|e| format!("not valid JSON: {e}"));
    }
    yaml_documents(text)
}

fn plugin_json(text: &str) -> Extracted {
    Extracted { configs: vec![Found::new(String::new(), Ok(text.to_owned()))], skipped: vec![] }
}

/// Keys that make an object an Envoy or Kubernetes document rather than the plugin config.
fn is_container(map: &Map<String, Value>) -> bool {
    ["static_resources", "dynamic_resources", "apiVersion", "kind", "resources", "@type", "listeners", "admin"]
        .iter()
        .any(|k| map.contains_key(*k))
}

fn has_plugin_key(map: &Map<String, Value>) -> bool {
    plugin_keys().iter().any(|k| map.contains_key(k))
}

fn mentions_cors(v: Option<&Value>) -> bool {
    v.and_then(Value::as_str).is_some_and(|s| s.to_ascii_lowercase().contains("cors"))
}

fn join(base: &str, sep: &str, part: &str) -> String {
    if base.is_empty() {
        part.to_owned()
    } else {
        format!("{base}{sep}{part}")
    }
}

fn walk_document(doc: &Value, yaml: Option<&Document>, label: &str, out: &mut Extracted) {
    if let Value::Object(map) = doc {
        match map.get("kind").and_then(Value::as_str) {
            Some("WasmPlugin") => return wasm_plugin(map, yaml, label, out),
            Some("EnvoyExtensionPolicy") => return envoy_extension_policy(map, yaml, label, out),
            _ => {}
        }
    }
    walk(doc, label, "", out);
}

/// An Istio `WasmPlugin`: `spec.pluginConfig` (a Struct, serialized to JSON by Istio).
fn wasm_plugin(map: &Map<String, Value>, yaml: Option<&Document>, label: &str, out: &mut Extracted) {
    let meta = map.get("metadata");
    let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("?");
    let ns = meta.and_then(|m| m.get("namespace")).and_then(Value::as_str);
    let id = ns.map_or_else(|| name.to_owned(), |ns| format!("{ns}/{name}"));
    let location = join(label, ": ", &format!("WasmPlugin {id} spec.pluginConfig"));
    let spec = map.get("spec");
    let config = spec.and_then(|s| s.get("pluginConfig"));
    let ours = mentions_cors(spec.and_then(|s| s.get("pluginName")))
        || mentions_cors(spec.and_then(|s| s.get("url")))
        || mentions_cors(meta.and_then(|m| m.get("name")))
        || config.and_then(Value::as_object).is_some_and(has_plugin_key);
    if !ours {
        out.skipped.push(location);
        return;
    }
    let config = mapping_text(config, "spec.pluginConfig must be a mapping (Istio rejects anything else)");
    out.configs.push(Found::new(location, config).in_yaml(yaml, "/spec/pluginConfig"));
}

/// An Envoy Gateway `EnvoyExtensionPolicy`: each `spec.wasm[i].config` of this plugin (Envoy
/// Gateway serializes it to the JSON the plugin receives).
fn envoy_extension_policy(map: &Map<String, Value>, yaml: Option<&Document>, label: &str, out: &mut Extracted) {
    let meta = map.get("metadata");
    let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("?");
    let ns = meta.and_then(|m| m.get("namespace")).and_then(Value::as_str);
    let id = ns.map_or_else(|| name.to_owned(), |ns| format!("{ns}/{name}"));
    let wasm = map.get("spec").and_then(|s| s.get("wasm")).and_then(Value::as_array);
    for (i, entry) in wasm.into_iter().flatten().enumerate() {
        let location = join(label, ": ", &format!("EnvoyExtensionPolicy {id} spec.wasm[{i}].config"));
        let code = entry.get("code");
        let image = code.and_then(|c| c.get("image")).and_then(|i| i.get("url"));
        let http = code.and_then(|c| c.get("http")).and_then(|h| h.get("url"));
        let config = entry.get("config");
        let ours = mentions_cors(entry.get("name"))
            || mentions_cors(entry.get("rootID"))
            || mentions_cors(image)
            || mentions_cors(http)
            || config.and_then(Value::as_object).is_some_and(has_plugin_key);
        if !ours {
            out.skipped.push(location);
            continue;
        }
        let config = mapping_text(config, "config must be a mapping (the plugin configuration)");
        out.configs.push(Found::new(location, config).in_yaml(yaml, &format!("/spec/wasm/{i}/config")));
    }
    // The native module: each `spec.dynamicModule[i].config` naming it.
    let modules = map.get("spec").and_then(|s| s.get("dynamicModule")).and_then(Value::as_array);
    for (i, entry) in modules.into_iter().flatten().enumerate() {
        let location = join(label, ": ", &format!("EnvoyExtensionPolicy {id} spec.dynamicModule[{i}].config"));
        let config = entry.get("config");
        let ours = mentions_cors(entry.get("name"))
            || mentions_cors(entry.get("filterName"))
            || config.and_then(Value::as_object).is_some_and(has_plugin_key);
        if !ours {
            out.skipped.push(location);
            continue;
        }
        let config = mapping_text(config, "config must be a mapping (the module configuration)");
        out.configs.push(Found::new(location, config).in_yaml(yaml, &format!("/spec/dynamicModule/{i}/config")));
    }
}

/// A manifest's configuration mapping as the JSON the plugin receives: absent or null is the
/// empty configuration; anything but a mapping is `not_a_mapping`.
fn mapping_text(config: Option<&Value>, not_a_mapping: &str) -> Result<String, String> {
    match config {
        None | Some(Value::Null) => Ok(String::new()),
        Some(v @ Value::Object(_)) => Ok(v.to_string()),
        Some(_) => Err(not_a_mapping.to_owned()),
    }
}

fn walk(v: &Value, label: &str, path: &str, out: &mut Extracted) {
    match v {
        Value::Object(map) => {
            let ty = map.get("@type").and_then(Value::as_str).unwrap_or_default();
            if ty.ends_with(WASM_TYPE) {
                wasm_filter(map, label, path, out);
                return;
            }
            if NATIVE_TYPES.iter().any(|t| ty.ends_with(t)) {
                native_filter(map, label, path, out);
                return;
            }
            if TYPED_STRUCT_TYPES.iter().any(|t| ty.ends_with(t))
                && map.get("type_url").and_then(Value::as_str).is_some_and(|u| u.ends_with(WASM_TYPE))
            {
                if let Some(Value::Object(inner)) = map.get("value") {
                    wasm_filter(inner, label, &join(path, ".", "value"), out);
                }
                return;
            }
            for (k, child) in map {
                walk(child, label, &join(path, ".", k), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(child, label, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// An Envoy `Wasm` filter config: `config.configuration` (an `Any`, normally a StringValue).
fn wasm_filter(map: &Map<String, Value>, label: &str, path: &str, out: &mut Extracted) {
    let config = map.get("config");
    let get = |k: &str| config.and_then(|c| c.get(k));
    let vm = get("vm_config");
    let code = vm.and_then(|v| v.get("code"));
    let local = code.and_then(|c| c.get("local")).and_then(|l| l.get("filename"));
    let remote = code.and_then(|c| c.get("remote")).and_then(|r| r.get("http_uri")).and_then(|h| h.get("uri"));
    let configuration = get("configuration");
    let value = configuration.and_then(|c| c.get("value"));
    let value_is_ours = value
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .is_some_and(|v| v.as_object().is_some_and(has_plugin_key));
    let ours = mentions_cors(get("root_id"))
        || mentions_cors(get("name"))
        || mentions_cors(vm.and_then(|v| v.get("vm_id")))
        || mentions_cors(local)
        || mentions_cors(remote)
        || value_is_ours;
    let root = get("root_id").or(get("name")).and_then(Value::as_str).unwrap_or("");
    let path = path.strip_suffix(".typed_config").unwrap_or(path);
    let location = join(label, ": ", &format!("{path} (wasm {root:?})"));
    if !ours {
        out.skipped.push(location);
        return;
    }
    let ty = configuration.and_then(|c| c.get("@type")).and_then(Value::as_str).unwrap_or_default();
    let config = match (configuration, value) {
        // No configuration: the plugin receives an empty one.
        (None | Some(Value::Null), _) => Ok(String::new()),
        _ if !ty.ends_with("google.protobuf.StringValue") => Err(format!(
            "config.configuration has @type {ty:?}: give the JSON as a google.protobuf.StringValue `value`"
        )),
        (_, None | Some(Value::Null)) => Ok(String::new()),
        (_, Some(Value::String(s))) => Ok(s.clone()),
        (_, Some(_)) => Err("config.configuration.value must be a string (the JSON text)".to_owned()),
    };
    out.configs.push(Found::new(location, config));
}

/// The native module's filter (or per-route) config: `filter_config`, a StringValue with the JSON
/// text or a Struct with the JSON itself.
fn native_filter(map: &Map<String, Value>, label: &str, path: &str, out: &mut Extracted) {
    let module = map.get("dynamic_module_config").and_then(|m| m.get("name"));
    let filter_config = map.get("filter_config");
    let value = filter_config.and_then(|c| c.get("value"));
    let ours = mentions_cors(module)
        || mentions_cors(map.get("filter_name"))
        || value.and_then(Value::as_object).is_some_and(has_plugin_key);
    let path = path.strip_suffix(".typed_config").unwrap_or(path);
    let location = join(label, ": ", &format!("{path} (dynamic module)"));
    if !ours {
        out.skipped.push(location);
        return;
    }
    let ty = filter_config.and_then(|c| c.get("@type")).and_then(Value::as_str).unwrap_or_default();
    let config = match (filter_config, value) {
        (None | Some(Value::Null), _) | (_, None | Some(Value::Null)) => Ok(String::new()),
        (_, Some(Value::String(s))) if ty.ends_with("google.protobuf.StringValue") => Ok(s.clone()),
        (_, Some(v @ Value::Object(_))) if ty.ends_with("google.protobuf.Struct") => Ok(v.to_string()),
        _ => Err(format!(
            "filter_config has @type {ty:?}: give the JSON as a google.protobuf.StringValue `value` or a Struct"
        )),
    };
    out.configs.push(Found::new(location, config));
}
