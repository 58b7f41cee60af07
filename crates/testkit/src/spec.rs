//! The JSON spec the `envoy-bootstrap` CLI reads (what the Python harnesses send), turned into
//! the builder's `EnvoyConfig`. A field left out takes the builder's default (the Rust tests'
//! bootstrap); `null` leaves an optional field out of the bootstrap.
//!
//! ```json
//! {
//!   "node": {"id": "x", "cluster": "x"},     // default {"id": "cors-e2e", "cluster": "cors-e2e"}; null: none
//!   "admin_port": 0,                         // default 0 (Envoy picks)
//!   "plugin_path": "/abs/dist/cors.wasm",    // the module of "plugin" filters; default CORS_WASM or <repo>/dist/cors.wasm
//!   "lds_path": "/abs/listeners.json",       // optional filesystem LDS
//!   "clusters": [{"name": "upstream", "port": 8080}],   // STATIC, 127.0.0.1
//!   "listeners": [{
//!     "name": "main",                        // required
//!     "port": 0,                             // default 0
//!     "stat_prefix": "bench",                // default: the name
//!     "codec_type": "AUTO",                  // default "AUTO"; null: none
//!     "route_config_name": "local",          // default "routes_<name>"; null: none
//!     "virtual_host": {"name": "all", ...},  // name default "all"; other fields merged into the virtual host
//!     "routes": [<route JSON>, ...],         // default: [{"match": {"prefix": "/"}, "route": {"cluster": <"cluster">}}]
//!     "cluster": "upstream",                 // the default route's cluster (when "routes" is absent)
//!     "http_filters": [                      // in order; the router is appended
//!       {"plugin": "<plugin JSON text>", "name": "cors"},   // the plugin; name default "cors_<listener>"
//!       {"native": "<plugin JSON text>", "name": "cors"},   // the native module (libenvoy_cors.so, found
//!                                            // through ENVOY_DYNAMIC_MODULES_SEARCH_PATH); name as above
//!       {"wasm": {"path": "/abs/m.wasm", "root_id": "noop", "name": "noop", "configuration": "text"}},
//!                                            // any wasm module; name default root_id, configuration optional
//!       {"rbac_deny_prefix": "/forbidden/", "policy": "forbidden"},  // policy default "deny-prefix"
//!       {"rbac_deny_all": true},
//!       {"typed": {"name": "...", "typed_config": {...}}}  // any filter, verbatim
//!     ],
//!     "hcm": {...}                           // extra HttpConnectionManager fields, merged
//!   }]
//! }
//! ```

use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

use crate::bootstrap::{
    native_filter_named, rbac_deny_all, rbac_deny_prefix_named, route, static_cluster, wasm_module_filter, EnvoyConfig,
    ListenerSpec,
};

type Obj = Map<String, Value>;

fn object<'a>(v: &'a Value, what: &str) -> Result<&'a Obj, String> {
    v.as_object().ok_or_else(|| format!("{what}: expected an object, got {v}"))
}

fn check_keys(o: &Obj, what: &str, known: &[&str]) -> Result<(), String> {
    match o.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(format!("{what}: unknown field {k:?} (known: {known:?})")),
        None => Ok(()),
    }
}

fn string(o: &Obj, key: &str, what: &str) -> Result<Option<String>, String> {
    match o.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(format!("{what}.{key}: expected a string, got {v}")),
    }
}

/// Absent: `default`; `null`: `None`; a string: that string.
fn nullable_string(o: &Obj, key: &str, what: &str, default: Option<String>) -> Result<Option<String>, String> {
    match o.get(key) {
        None => Ok(default),
        Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(format!("{what}.{key}: expected a string or null, got {v}")),
    }
}

fn port(o: &Obj, key: &str, what: &str) -> Result<u16, String> {
    match o.get(key) {
        None => Ok(0),
        Some(v) => v
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| format!("{what}.{key}: expected a port number, got {v}")),
    }
}

fn array<'a>(o: &'a Obj, key: &str, what: &str) -> Result<&'a [Value], String> {
    match o.get(key) {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(v) => Err(format!("{what}.{key}: expected an array, got {v}")),
    }
}

/// Reads a spec (see the module doc) into the builder's configuration.
pub fn from_spec(spec: &Value) -> Result<EnvoyConfig, String> {
    let o = object(spec, "spec")?;
    check_keys(o, "spec", &["node", "admin_port", "plugin_path", "lds_path", "clusters", "listeners"])?;
    let mut cfg = EnvoyConfig::new();
    match o.get("node") {
        None => {}
        Some(Value::Null) => cfg.node = None,
        Some(n @ Value::Object(_)) => cfg.node = Some(n.clone()),
        Some(v) => return Err(format!("spec.node: expected an object or null, got {v}")),
    }
    cfg.admin_port = port(o, "admin_port", "spec")?;
    let plugin_path = string(o, "plugin_path", "spec")?.map(PathBuf::from);
    cfg.lds_path = string(o, "lds_path", "spec")?.map(PathBuf::from);
    for (i, c) in array(o, "clusters", "spec")?.iter().enumerate() {
        let what = format!("spec.clusters[{i}]");
        let c = object(c, &what)?;
        check_keys(c, &what, &["name", "port"])?;
        let name = string(c, "name", &what)?.ok_or_else(|| format!("{what}: missing name"))?;
        cfg.clusters.push(static_cluster(&name, port(c, "port", &what)?));
    }
    for (i, l) in array(o, "listeners", "spec")?.iter().enumerate() {
        cfg.listeners.push(listener(l, &format!("spec.listeners[{i}]"), plugin_path.as_deref())?);
    }
    Ok(cfg)
}

fn listener(l: &Value, what: &str, plugin_path: Option<&Path>) -> Result<ListenerSpec, String> {
    let o = object(l, what)?;
    check_keys(
        o,
        what,
        &[
            "name",
            "port",
            "stat_prefix",
            "codec_type",
            "route_config_name",
            "virtual_host",
            "routes",
            "cluster",
            "http_filters",
            "hcm",
        ],
    )?;
    let name = string(o, "name", what)?.ok_or_else(|| format!("{what}: missing name"))?;
    let cluster = string(o, "cluster", what)?;
    let mut spec = ListenerSpec::without_plugin(&name, cluster.as_deref().unwrap_or("upstream"));
    spec.port = port(o, "port", what)?;
    if let Some(p) = string(o, "stat_prefix", what)? {
        spec.stat_prefix = p;
    }
    spec.codec_type = nullable_string(o, "codec_type", what, spec.codec_type)?;
    spec.route_config_name = nullable_string(o, "route_config_name", what, spec.route_config_name)?;
    if let Some(vh) = o.get("virtual_host") {
        let vh_what = format!("{what}.virtual_host");
        let mut vh = object(vh, &vh_what)?.clone();
        match vh.remove("name") {
            None => {}
            Some(Value::String(n)) => spec.vhost_name = n,
            Some(v) => return Err(format!("{vh_what}.name: expected a string, got {v}")),
        }
        spec.vhost_extra = Some(Value::Object(vh));
    }
    match (o.get("routes"), &cluster) {
        (Some(_), _) => spec.routes = array(o, "routes", what)?.to_vec(),
        (None, Some(c)) => spec.routes = vec![route("/", c)],
        (None, None) => return Err(format!("{what}: needs routes or a cluster")),
    }
    for (i, f) in array(o, "http_filters", what)?.iter().enumerate() {
        spec.filters_before.push(filter(f, &format!("{what}.http_filters[{i}]"), &name, plugin_path)?);
    }
    if let Some(h) = o.get("hcm") {
        object(h, &format!("{what}.hcm"))?;
        spec.hcm_extra = Some(h.clone());
    }
    Ok(spec)
}

fn filter(f: &Value, what: &str, listener: &str, plugin_path: Option<&Path>) -> Result<Value, String> {
    let o = object(f, what)?;
    if let Some(p) = o.get("plugin") {
        check_keys(o, what, &["plugin", "name"])?;
        let text = p.as_str().ok_or_else(|| format!("{what}.plugin: expected the plugin JSON as a string, got {p}"))?;
        let name = string(o, "name", what)?.unwrap_or_else(|| format!("cors_{listener}"));
        let module = match plugin_path {
            Some(p) => p.to_path_buf(),
            None => crate::paths::cors_wasm(),
        };
        Ok(wasm_module_filter(&name, "cors", &module, Some(text)))
    } else if let Some(p) = o.get("native") {
        check_keys(o, what, &["native", "name"])?;
        let text = p.as_str().ok_or_else(|| format!("{what}.native: expected the plugin JSON as a string, got {p}"))?;
        let name = string(o, "name", what)?.unwrap_or_else(|| format!("cors_{listener}"));
        Ok(native_filter_named(&name, text))
    } else if let Some(w) = o.get("wasm") {
        check_keys(o, what, &["wasm"])?;
        let w_what = format!("{what}.wasm");
        let w = object(w, &w_what)?;
        check_keys(w, &w_what, &["path", "root_id", "name", "configuration"])?;
        let path = string(w, "path", &w_what)?.ok_or_else(|| format!("{w_what}: missing path"))?;
        let root_id = string(w, "root_id", &w_what)?.ok_or_else(|| format!("{w_what}: missing root_id"))?;
        let name = string(w, "name", &w_what)?.unwrap_or_else(|| root_id.clone());
        let configuration = string(w, "configuration", &w_what)?;
        Ok(wasm_module_filter(&name, &root_id, Path::new(&path), configuration.as_deref()))
    } else if let Some(p) = o.get("rbac_deny_prefix") {
        check_keys(o, what, &["rbac_deny_prefix", "policy"])?;
        let prefix = p.as_str().ok_or_else(|| format!("{what}.rbac_deny_prefix: expected a string, got {p}"))?;
        let policy = string(o, "policy", what)?.unwrap_or_else(|| "deny-prefix".to_string());
        Ok(rbac_deny_prefix_named(&policy, prefix))
    } else if o.get("rbac_deny_all") == Some(&Value::Bool(true)) {
        check_keys(o, what, &["rbac_deny_all"])?;
        Ok(rbac_deny_all())
    } else if let Some(t) = o.get("typed") {
        check_keys(o, what, &["typed"])?;
        object(t, &format!("{what}.typed"))?;
        Ok(t.clone())
    } else {
        Err(format!(
            "{what}: expected one of plugin, native, wasm, rbac_deny_prefix, rbac_deny_all (true), typed; got {f}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_the_builders() {
        let spec = json!({
            "plugin_path": "/m/cors.wasm",
            "clusters": [{"name": "upstream", "port": 9}],
            "listeners": [{"name": "main", "cluster": "upstream", "http_filters": [{"plugin": "{}"}]}]
        });
        let built = from_spec(&spec).unwrap().to_json();
        let mut l = ListenerSpec::without_plugin("main", "upstream");
        l.filters_before.push(wasm_module_filter("cors_main", "cors", Path::new("/m/cors.wasm"), Some("{}")));
        let direct = EnvoyConfig::new().cluster("upstream", 9).listener(l).to_json();
        assert_eq!(built, direct);
    }

    #[test]
    fn null_leaves_fields_out_and_overrides_apply() {
        let spec = json!({
            "node": null,
            "admin_port": 1234,
            "listeners": [{
                "name": "b", "stat_prefix": "bench", "codec_type": null, "route_config_name": null,
                "virtual_host": {"name": "up", "response_headers_to_add": []},
                "routes": [{"match": {"prefix": "/"}, "direct_response": {"status": 200}}],
                "http_filters": [
                    {"wasm": {"path": "/n.wasm", "root_id": "noop"}},
                    {"rbac_deny_prefix": "/x/", "policy": "p"},
                    {"typed": {"name": "t"}}
                ],
                "hcm": {"access_log": []}
            }]
        });
        let b = from_spec(&spec).unwrap().to_json();
        assert!(b.get("node").is_none());
        assert_eq!(b["admin"]["address"]["socket_address"]["port_value"], 1234);
        let hcm = &b["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"];
        assert_eq!(hcm["stat_prefix"], "bench");
        assert!(hcm.get("codec_type").is_none());
        assert!(hcm["route_config"].get("name").is_none());
        assert_eq!(hcm["route_config"]["virtual_hosts"][0]["name"], "up");
        assert_eq!(hcm["route_config"]["virtual_hosts"][0]["response_headers_to_add"], json!([]));
        assert_eq!(hcm["access_log"], json!([]));
        let filters = hcm["http_filters"].as_array().unwrap();
        assert_eq!(filters.len(), 4);
        assert_eq!(filters[0]["typed_config"]["config"]["vm_config"]["vm_id"], "noop");
        assert!(filters[0]["typed_config"]["config"].get("configuration").is_none());
        assert!(filters[1]["typed_config"]["rules"]["policies"]["p"].is_object());
        assert_eq!(filters[2], json!({"name": "t"}));
        assert_eq!(filters[3]["name"], "envoy.filters.http.router");
    }

    #[test]
    fn mistakes_are_errors() {
        for bad in [
            json!([]),
            json!({"listener": []}),
            json!({"listeners": [{"name": "x"}]}),
            json!({"listeners": [{"name": "x", "cluster": "c", "http_filters": [{"plugin": {}}]}]}),
            json!({"listeners": [{"name": "x", "cluster": "c", "http_filters": [{"rbac": 1}]}]}),
            json!({"clusters": [{"name": "c", "port": 70000}]}),
        ] {
            assert!(from_spec(&bad).is_err(), "{bad}");
        }
    }
}
