//! The one Envoy bootstrap builder: every Rust test builds its Envoy configuration here, and the
//! Python harnesses (bench, soak, browser) get theirs from the same code through the
//! `envoy-bootstrap` CLI (`spec.rs` reads their JSON spec into an `EnvoyConfig`).
//!
//! The output is JSON, which Envoy reads as its YAML bootstrap.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};

use crate::paths::{artifact, cors_wasm, Artifact};
use crate::upstream::Upstream;

/// The router, always the last HTTP filter.
pub fn router_filter() -> Value {
    json!({
        "name": "envoy.filters.http.router",
        "typed_config": { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" }
    })
}

/// A wasm HTTP filter running `module`: config `name`, `root_id` (also its `vm_id`), V8, and the
/// plugin configuration as a StringValue (passed verbatim) when there is one.
pub fn wasm_module_filter(name: &str, root_id: &str, module: &Path, configuration: Option<&str>) -> Value {
    let mut config = json!({
        "name": name,
        "root_id": root_id,
        "vm_config": {
            "vm_id": root_id,
            "runtime": "envoy.wasm.runtime.v8",
            "code": { "local": { "filename": module.to_string_lossy() } }
        }
    });
    if let Some(c) = configuration {
        config["configuration"] = json!({ "@type": "type.googleapis.com/google.protobuf.StringValue", "value": c });
    }
    json!({
        "name": "envoy.filters.http.wasm",
        "typed_config": { "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm", "config": config }
    })
}

/// The plugin under test (`cors_wasm()`) as a wasm HTTP filter with this plugin configuration
/// (a JSON string, passed verbatim).
pub fn wasm_filter(plugin_json: &str) -> Value {
    wasm_filter_named("cors", plugin_json)
}

/// Like `wasm_filter`, with the wasm config's `name`.
pub fn wasm_filter_named(name: &str, plugin_json: &str) -> Value {
    wasm_module_filter(name, "cors", &cors_wasm(), Some(plugin_json))
}

/// The native module as a dynamic-module HTTP filter named `name`, with this configuration as
/// a StringValue. Envoy finds `libenvoy_cors.so` through `ENVOY_DYNAMIC_MODULES_SEARCH_PATH`,
/// which `Envoy::start` sets to `cors_native()`'s directory. Counters have the wasm build's
/// names under Envoy's default namespace (`dynamicmodulescustom.cors.actual_allowed`), and in
/// Prometheus exactly the wasm build's with the bootstrap's runtime flag (`EnvoyConfig::to_json`).
pub fn native_filter_named(name: &str, plugin_json: &str) -> Value {
    json!({
        "name": name,
        "typed_config": {
            "@type": DYNAMIC_MODULE_FILTER_TYPE,
            "dynamic_module_config": { "name": "envoy_cors" },
            "filter_name": "cors",
            "filter_config": { "@type": "type.googleapis.com/google.protobuf.StringValue", "value": plugin_json }
        }
    })
}

/// The type URL of the dynamic-module HTTP filter.
pub const DYNAMIC_MODULE_FILTER_TYPE: &str =
    "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter";

/// A route's (or virtual host's) `typed_per_filter_config` entry for the native module: a
/// `DynamicModuleFilterPerRoute` with this configuration, for the filter named `filter_name`
/// (`per_route_config_name` left out: Envoy 1.40 deprecates it; the module takes "" or "cors").
pub fn native_per_route(filter_name: &str, plugin_json: &str) -> Value {
    json!({ filter_name: {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilterPerRoute",
        "dynamic_module_config": { "name": "envoy_cors" },
        "filter_config": { "@type": "type.googleapis.com/google.protobuf.StringValue", "value": plugin_json }
    } })
}

/// The filter under test (`artifact()`) named `name`, with this configuration.
pub fn cors_filter_named(name: &str, plugin_json: &str) -> Value {
    match artifact() {
        Artifact::Wasm => wasm_filter_named(name, plugin_json),
        Artifact::Native => native_filter_named(name, plugin_json),
    }
}

/// Envoy's RBAC filter denying every request (403 "RBAC: access denied").
pub fn rbac_deny_all() -> Value {
    json!({
        "name": "envoy.filters.http.rbac",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
            "rules": { "action": "DENY", "policies": { "deny-all": {
                "permissions": [ { "any": true } ],
                "principals": [ { "any": true } ]
            } } }
        }
    })
}

/// Envoy's RBAC filter denying requests whose path starts with `prefix` (policy `deny-prefix`).
pub fn rbac_deny_prefix(prefix: &str) -> Value {
    rbac_deny_prefix_named("deny-prefix", prefix)
}

/// Envoy's RBAC filter denying requests whose path starts with `prefix`, with its policy name.
pub fn rbac_deny_prefix_named(policy: &str, prefix: &str) -> Value {
    json!({
        "name": "envoy.filters.http.rbac",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
            "rules": { "action": "DENY", "policies": { policy: {
                "permissions": [ { "url_path": { "path": { "prefix": prefix } } } ],
                "principals": [ { "any": true } ]
            } } }
        }
    })
}

/// A route entry forwarding `prefix` to `cluster`.
pub fn route(prefix: &str, cluster: &str) -> Value {
    json!({ "match": { "prefix": prefix }, "route": { "cluster": cluster } })
}

/// A route entry forwarding `prefix` to `cluster` with a route timeout.
pub fn route_timeout(prefix: &str, cluster: &str, timeout_ms: u64) -> Value {
    json!({
        "match": { "prefix": prefix },
        "route": { "cluster": cluster, "timeout": format!("{}s", timeout_ms as f64 / 1000.0) }
    })
}

/// A route entry answered by Envoy's router itself (direct_response).
pub fn direct_response(prefix: &str, status: u16, body: &str) -> Value {
    json!({
        "match": { "prefix": prefix },
        "direct_response": { "status": status, "body": { "inline_string": body } }
    })
}

/// A STATIC cluster `name` with one endpoint, 127.0.0.1:`port`.
pub fn static_cluster(name: &str, port: u16) -> Value {
    json!({
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": { "cluster_name": name, "endpoints": [ { "lb_endpoints": [
            { "endpoint": { "address": { "socket_address": { "address": "127.0.0.1", "port_value": port } } } }
        ] } ] }
    })
}

/// One HTTP listener on 127.0.0.1: an HttpConnectionManager with one virtual host (domains `*`).
#[derive(Clone, Debug)]
pub struct ListenerSpec {
    pub name: String,
    /// Plugin JSON; `None` = no plugin on this listener.
    pub plugin: Option<String>,
    pub filters_before: Vec<Value>,
    pub filters_after: Vec<Value>,
    pub routes: Vec<Value>,
    /// 0 = Envoy picks (read back from /listeners).
    pub port: u16,
    /// Extra fields of the HttpConnectionManager (e.g. `local_reply_config`).
    pub hcm_extra: Option<Value>,
    /// The HCM's `stat_prefix` (default: the listener name).
    pub stat_prefix: String,
    /// The HCM's `codec_type` (default `AUTO`; `None` leaves it out).
    pub codec_type: Option<String>,
    /// The route configuration's `name` (default `routes_<listener>`; `None` leaves it out).
    pub route_config_name: Option<String>,
    /// The virtual host's name (default `all`).
    pub vhost_name: String,
    /// Extra fields of the virtual host (e.g. `response_headers_to_add`, `typed_per_filter_config`).
    pub vhost_extra: Option<Value>,
}

impl ListenerSpec {
    /// A listener with the plugin, routing everything to `cluster`.
    pub fn new(name: &str, plugin_json: &str, cluster: &str) -> ListenerSpec {
        ListenerSpec {
            name: name.to_string(),
            plugin: Some(plugin_json.to_string()),
            filters_before: Vec::new(),
            filters_after: Vec::new(),
            routes: vec![route("/", cluster)],
            port: 0,
            hcm_extra: None,
            stat_prefix: name.to_string(),
            codec_type: Some("AUTO".to_string()),
            route_config_name: Some(format!("routes_{name}")),
            vhost_name: "all".to_string(),
            vhost_extra: None,
        }
    }

    pub fn without_plugin(name: &str, cluster: &str) -> ListenerSpec {
        ListenerSpec { plugin: None, ..ListenerSpec::new(name, "", cluster) }
    }

    /// Replaces the routes (first match wins, as in Envoy).
    pub fn routes(mut self, routes: Vec<Value>) -> ListenerSpec {
        self.routes = routes;
        self
    }

    /// An HTTP filter placed after the plugin (before the router).
    pub fn filter_after(mut self, f: Value) -> ListenerSpec {
        self.filters_after.push(f);
        self
    }

    /// Merges `extra`'s fields into the HttpConnectionManager config.
    pub fn hcm(mut self, extra: Value) -> ListenerSpec {
        self.hcm_extra = Some(extra);
        self
    }

    /// An HTTP filter placed before the plugin.
    pub fn filter_before(mut self, f: Value) -> ListenerSpec {
        self.filters_before.push(f);
        self
    }

    pub fn port(mut self, port: u16) -> ListenerSpec {
        self.port = port;
        self
    }

    /// Merges `extra`'s fields into the virtual host.
    pub fn vhost(mut self, extra: Value) -> ListenerSpec {
        self.vhost_extra = Some(extra);
        self
    }

    pub fn to_json(&self) -> Value {
        let mut filters = self.filters_before.clone();
        if let Some(p) = &self.plugin {
            filters.push(cors_filter_named(&format!("cors_{}", self.name), p));
        }
        filters.extend(self.filters_after.iter().cloned());
        filters.push(router_filter());
        let mut vhost = json!({ "name": self.vhost_name, "domains": ["*"], "routes": self.routes });
        merge(&mut vhost, self.vhost_extra.as_ref());
        let mut route_config = json!({ "virtual_hosts": [vhost] });
        if let Some(n) = &self.route_config_name {
            route_config["name"] = json!(n);
        }
        let mut hcm = json!({
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": self.stat_prefix,
            "route_config": route_config,
            "http_filters": filters
        });
        if let Some(c) = &self.codec_type {
            hcm["codec_type"] = json!(c);
        }
        merge(&mut hcm, self.hcm_extra.as_ref());
        json!({
            "name": self.name,
            "address": { "socket_address": { "address": "127.0.0.1", "port_value": self.port } },
            "filter_chains": [ { "filters": [ {
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": hcm
            } ] } ]
        })
    }
}

/// Sets every field of `extra` (an object) on `target`.
fn merge(target: &mut Value, extra: Option<&Value>) {
    if let (Value::Object(t), Some(Value::Object(extra))) = (target, extra) {
        for (k, v) in extra {
            t.insert(k.clone(), v.clone());
        }
    }
}

/// A whole Envoy bootstrap: static listeners and clusters, or listeners from a file (LDS).
#[derive(Clone, Debug)]
pub struct EnvoyConfig {
    pub listeners: Vec<ListenerSpec>,
    pub clusters: Vec<Value>,
    /// Adds `--component-log-level wasm:debug,dynamic_modules:debug`.
    pub wasm_debug: bool,
    /// Filesystem LDS: path of the watched listeners file (static listeners still allowed).
    pub lds_path: Option<PathBuf>,
    /// The bootstrap's `node` (default id and cluster `cors-e2e`; `None` leaves it out).
    pub node: Option<Value>,
    /// The admin listener's port on 127.0.0.1 (default 0: Envoy picks).
    pub admin_port: u16,
    /// The bootstrap's `stats_config` (tag extraction: `stats_tags`), when set.
    pub stats_config: Option<Value>,
}

impl Default for EnvoyConfig {
    fn default() -> EnvoyConfig {
        EnvoyConfig {
            listeners: Vec::new(),
            clusters: Vec::new(),
            wasm_debug: false,
            lds_path: None,
            node: Some(json!({ "id": "cors-e2e", "cluster": "cors-e2e" })),
            admin_port: 0,
            stats_config: None,
        }
    }
}

impl EnvoyConfig {
    pub fn new() -> EnvoyConfig {
        EnvoyConfig::default()
    }

    pub fn listener(mut self, l: ListenerSpec) -> EnvoyConfig {
        self.listeners.push(l);
        self
    }

    /// A STATIC cluster `name` pointing at 127.0.0.1:`port`.
    pub fn cluster(mut self, name: &str, port: u16) -> EnvoyConfig {
        self.clusters.push(static_cluster(name, port));
        self
    }

    pub fn wasm_debug(mut self) -> EnvoyConfig {
        self.wasm_debug = true;
        self
    }

    /// The bootstrap's `stats_config` (e.g. the `stats_tags` that extract the plugin's
    /// per-policy label: docs/operations.md).
    pub fn stats_config(mut self, stats_config: Value) -> EnvoyConfig {
        self.stats_config = Some(stats_config);
        self
    }

    pub fn lds(mut self, path: &Path) -> EnvoyConfig {
        self.lds_path = Some(path.to_path_buf());
        self
    }

    /// One listener named `main` with the plugin in front of one upstream.
    pub fn simple(plugin_json: &str, upstream: &Upstream) -> EnvoyConfig {
        EnvoyConfig::new().cluster("upstream", upstream.port).listener(ListenerSpec::new(
            "main",
            plugin_json,
            "upstream",
        ))
    }

    pub fn to_json(&self) -> Value {
        let mut boot = json!({
            "admin": { "address": { "socket_address": { "address": "127.0.0.1", "port_value": self.admin_port } } },
            "static_resources": {
                "listeners": self.listeners.iter().map(|l| l.to_json()).collect::<Vec<_>>(),
                "clusters": self.clusters
            }
        });
        if let Some(node) = &self.node {
            boot["node"] = node.clone();
        }
        // The native module's counters get the wasm build's Prometheus names (its metrics
        // namespace stripped, as the wasm build's `wasmcustom`); Envoy 1.40 needs the flag.
        boot["layered_runtime"] = json!({ "layers": [ { "name": "static", "static_layer": {
            "envoy.reloadable_features.dynamic_modules_strip_custom_stat_prefix": true
        } } ] });
        if let Some(stats) = &self.stats_config {
            boot["stats_config"] = stats.clone();
        }
        if let Some(p) = &self.lds_path {
            let dir = p.parent().unwrap_or(Path::new("/"));
            boot["dynamic_resources"] = json!({
                "lds_config": {
                    "resource_api_version": "V3",
                    "path_config_source": {
                        "path": p.to_string_lossy(),
                        "watched_directory": { "path": dir.to_string_lossy() }
                    }
                }
            });
        }
        boot
    }
}

/// A filesystem-xDS listeners file (a DiscoveryResponse) with these listeners.
pub fn lds_document(version: &str, listeners: &[ListenerSpec]) -> String {
    let resources: Vec<Value> = listeners
        .iter()
        .map(|l| {
            let mut v = l.to_json();
            v["@type"] = json!("type.googleapis.com/envoy.config.listener.v3.Listener");
            v
        })
        .collect();
    serde_json::to_string_pretty(&json!({ "version_info": version, "resources": resources }))
        .expect("a Value serializes")
}
