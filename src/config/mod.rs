//! Configuration: parse the JSON, validate every key, compile the policies.

mod error;
pub mod raw;

pub use error::ConfigError;
pub use raw::{Mode, UnmatchedPreflight};

use raw::{ObjectOnly, RawPolicy};

use crate::policy::Policy;
use crate::request_path;
use crate::routing::{host_of, Route};

/// Largest configuration accepted, so a hostile config cannot exhaust the VM at load.
pub const MAX_CONFIG_LEN: usize = 16 << 20;

/// A validated, compiled configuration: the policies in match order and the top-level one.
#[derive(Debug)]
pub struct Config {
    routes: Vec<Route>,
    default: Policy,
    needs_authority: bool,
    needs_path: bool,
}

impl Config {
    /// Parses and compiles the plugin configuration (Envoy `configuration` / Istio `pluginConfig`).
    pub fn from_json(text: &str) -> Result<Config, ConfigError> {
        if text.len() > MAX_CONFIG_LEN {
            return Err(ConfigError::new("(root)", None, format!("configuration larger than {MAX_CONFIG_LEN} bytes")));
        }
        if text.trim().is_empty() {
            return Err(ConfigError::new(
                "(root)",
                None,
                "the configuration is empty: give a JSON object with at least `allow_origins`",
            ));
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let raw = serde_path_to_error::deserialize::<_, ObjectOnly<RawPolicy>>(&mut de)
            .map_err(|e| {
                let path = e.path().to_string();
                let key = if path == "." || path == "?" { "(root)".to_owned() } else { path };
                ConfigError::new(key, None, e.into_inner().to_string())
            })?
            .0;
        de.end()
            .map_err(|e| ConfigError::new("(root)", None, format!("trailing characters after the JSON object: {e}")))?;
        Config::from_raw(&raw)
    }

    pub fn from_raw(raw: &RawPolicy) -> Result<Config, ConfigError> {
        if raw.match_.is_some() {
            return Err(ConfigError::new("match", None, "only entries of `policies` have a `match`"));
        }
        let nested = raw.policies.as_deref().unwrap_or_default();
        // With per-route policies, a top level without origins is a valid "deny by default".
        let default = Policy::compile(raw, "", nested.is_empty())?;
        let mut routes = Vec::with_capacity(nested.len());
        for (i, p) in nested.iter().enumerate() {
            let prefix = format!("policies[{i}].");
            if p.policies.is_some() {
                return Err(ConfigError::new(format!("{prefix}policies"), None, "policies do not nest"));
            }
            let Some(m) = &p.match_ else {
                return Err(ConfigError::new(
                    format!("{prefix}match"),
                    None,
                    "is required in every entry of `policies`",
                ));
            };
            let policy = Policy::compile(&p.inherit_from(raw), &prefix, true)?;
            routes.push(Route::compile(m, &prefix, policy)?);
        }
        Ok(Config {
            needs_authority: routes.iter().any(Route::uses_hosts),
            needs_path: routes.iter().any(Route::uses_paths),
            routes,
            default,
        })
    }

    /// The policy for a request: the first route that matches, else the top level.
    pub fn select(&self, authority: Option<&[u8]>, path: Option<&[u8]>) -> &Policy {
        self.select_indexed(authority, path).1
    }

    /// The selected policy with its route index (`None` for the top level), which a stream
    /// keeps between its request and response phases. `authority` and `path` are the raw
    /// request values; both are normalized here, once, before any entry compares them.
    pub fn select_indexed(&self, authority: Option<&[u8]>, path: Option<&[u8]>) -> (Option<usize>, &Policy) {
        if self.routes.is_empty() {
            return (None, &self.default);
        }
        let host = authority.map(host_of);
        let path = path.and_then(request_path::normalize);
        match self.routes.iter().position(|r| r.matches(host, path.as_deref())) {
            Some(i) => (Some(i), &self.routes[i].policy),
            None => (None, &self.default),
        }
    }

    /// The policy of a route index from `select_indexed`.
    pub fn policy(&self, route: Option<usize>) -> &Policy {
        route.and_then(|i| self.routes.get(i)).map_or(&self.default, |r| &r.policy)
    }

    /// Whether selecting a policy needs `:authority` (saves a host call when not).
    pub fn needs_authority(&self) -> bool {
        self.needs_authority
    }

    pub fn needs_path(&self) -> bool {
        self.needs_path
    }

    pub fn default_policy(&self) -> &Policy {
        &self.default
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}

#[cfg(test)]
mod tests;
