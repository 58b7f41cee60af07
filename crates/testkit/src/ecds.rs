//! ECDS: the filter delivered the way istiod delivers a WasmPlugin (filesystem xDS).

use serde_json::{json, Value};
use std::path::Path;

use crate::paths::cors_wasm;

pub const WASM_HTTP_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
pub const RBAC_HTTP_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";
pub const TYPED_EXTENSION_CONFIG_TYPE: &str = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig";

/// An HTTP filter whose configuration Envoy gets by ECDS from the watched file `path`, as Istio
/// builds it for a WasmPlugin (pilot/pkg/networking/core/extension/extensionfilter.go): filter
/// name = ECDS resource name, `initial_fetch_timeout: 0s` (the listener waits for its first
/// config), `type_urls` Wasm and RBAC (the agent may substitute an RBAC filter, see
/// `rbac_extension_config`). Istio's config source is ADS; here it is a file (`path_config_source`,
/// the directory watched so a rename over the file is seen).
pub fn ecds_filter(resource_name: &str, path: &Path) -> Value {
    let dir = path.parent().expect("ecds file has a directory");
    json!({
        "name": resource_name,
        "config_discovery": {
            "config_source": {
                "resource_api_version": "V3",
                "initial_fetch_timeout": "0s",
                "path_config_source": {
                    "path": path.to_string_lossy(),
                    "watched_directory": { "path": dir.to_string_lossy() }
                }
            },
            "type_urls": [WASM_HTTP_TYPE, RBAC_HTTP_TYPE]
        }
    })
}

/// One ECDS resource for the plugin.
#[derive(Clone, Debug)]
pub struct WasmResource {
    /// The ECDS resource name (the HTTP filter's name).
    pub name: String,
    pub plugin_json: String,
    /// Istio sets `root_id` from `pluginName` and leaves it empty when that is unset.
    pub root_id: Option<String>,
    /// Istio sets no `vm_id`.
    pub vm_id: Option<String>,
    /// Envoy's `failure_policy`: Istio maps FAIL_CLOSE (the default) to `FAIL_CLOSED`,
    /// FAIL_OPEN to `FAIL_OPEN`, FAIL_RELOAD to `FAIL_RELOAD`.
    pub failure_policy: String,
}

impl WasmResource {
    pub fn new(name: &str, plugin_json: &str) -> WasmResource {
        WasmResource {
            name: name.to_string(),
            plugin_json: plugin_json.to_string(),
            root_id: None,
            vm_id: None,
            failure_policy: "FAIL_CLOSED".to_string(),
        }
    }

    pub fn failure_policy(mut self, policy: &str) -> WasmResource {
        self.failure_policy = policy.to_string();
        self
    }

    pub fn root_id(mut self, root_id: &str) -> WasmResource {
        self.root_id = Some(root_id.to_string());
        self
    }

    pub fn vm_id(mut self, vm_id: &str) -> WasmResource {
        self.vm_id = Some(vm_id.to_string());
        self
    }

    /// The `TypedExtensionConfig` an Istio proxy's Envoy receives for a WasmPlugin once
    /// pilot-agent has fetched the module (pilot/pkg/model/extensions.go builds it, pkg/wasm/
    /// convert.go swaps the remote code for the local file and strips the ISTIO_META_* env):
    /// config name `<namespace>.<name>`, `root_id` = `pluginName`, the JSON `pluginConfig` as a
    /// StringValue, V8, `failure_policy` from `failStrategy`.
    pub fn to_json(&self) -> Value {
        let mut config = json!({
            "name": "istio-system.cors",
            "configuration": {
                "@type": "type.googleapis.com/google.protobuf.StringValue",
                "value": self.plugin_json
            },
            "vm_config": {
                "runtime": "envoy.wasm.runtime.v8",
                "code": { "local": { "filename": cors_wasm().to_string_lossy() } }
            },
            "failure_policy": self.failure_policy
        });
        if let Some(r) = &self.root_id {
            config["root_id"] = json!(r);
        }
        if let Some(v) = &self.vm_id {
            config["vm_config"]["vm_id"] = json!(v);
        }
        json!({
            "@type": TYPED_EXTENSION_CONFIG_TYPE,
            "name": self.name,
            "typed_config": { "@type": WASM_HTTP_TYPE, "config": config }
        })
    }
}

/// The resource pilot-agent sends instead of the plugin when it cannot fetch the module
/// (pkg/wasm/convert.go, `createHTTPDefaultFilter`): an RBAC filter with empty rules (deny
/// every request) unless the fail strategy is FAIL_OPEN (no rules: allow every request).
pub fn rbac_extension_config(resource_name: &str, fail_open: bool) -> Value {
    let rbac = if fail_open {
        json!({ "@type": RBAC_HTTP_TYPE, "rules_stat_prefix": "wasm-default-allow" })
    } else {
        json!({ "@type": RBAC_HTTP_TYPE, "rules": {}, "rules_stat_prefix": "wasm-default-deny" })
    };
    json!({ "@type": TYPED_EXTENSION_CONFIG_TYPE, "name": resource_name, "typed_config": rbac })
}

/// A filesystem-xDS ECDS file: a DiscoveryResponse holding these `TypedExtensionConfig`s.
pub fn ecds_document(version: &str, resources: &[Value]) -> String {
    serde_json::to_string_pretty(&json!({
        "version_info": version,
        "type_url": TYPED_EXTENSION_CONFIG_TYPE,
        "resources": resources
    }))
    .unwrap()
}
