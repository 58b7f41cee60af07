//! The compiled configuration and policy selection: the entries of `policies` in match order,
//! each with the requests it applies to, and the top level; which one a request selects.

mod host;
mod path;
mod route;

pub use host::host_of;
pub use path::normalize as normalize_path;
pub use route::Route;

use crate::config::raw::RawPolicy;
use crate::config::{self, ConfigError, ConfigErrors, Rule};
use crate::header_map::{HeaderMap, AUTHORITY, PATH};
use crate::policy::Policy;

/// Which policy a request selected: the top level or an entry of `policies`. A stream keeps it
/// between its request and response phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyId {
    /// The top level.
    TopLevel,
    /// `policies[i]`.
    Entry(usize),
}

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
    /// Every key is checked: the error lists every refusal, in the order of the keys.
    pub fn from_json(text: &str) -> Result<Config, ConfigErrors> {
        Config::from_raw(&config::parse(text).map_err(ConfigErrors::one)?)
    }

    /// Compiles a configuration already read into its serde types.
    pub fn from_raw(raw: &RawPolicy) -> Result<Config, ConfigErrors> {
        let mut errors = Vec::new();
        if raw.match_.is_some() {
            errors.push(ConfigError::new(Rule::Placement, "match", None, "only entries of `policies` have a `match`"));
        }
        let nested = raw.policies.as_deref().unwrap_or_default();
        // With per-route policies, a top level without origins is a valid "deny by default".
        let default = Policy::compile(raw, "", nested.is_empty(), &mut errors);
        let mut routes = Vec::with_capacity(nested.len());
        for (i, p) in nested.iter().enumerate() {
            let prefix = format!("policies[{i}].");
            if p.policies.is_some() {
                errors.push(ConfigError::new(
                    Rule::Placement,
                    format!("{prefix}policies"),
                    None,
                    "policies do not nest",
                ));
            }
            let policy = Policy::compile(&p.inherit_from(raw), &prefix, true, &mut errors);
            match &p.match_ {
                Some(m) => routes.extend(Route::compile(m, &prefix, policy, &mut errors)),
                None => errors.push(ConfigError::new(
                    Rule::Required,
                    format!("{prefix}match"),
                    None,
                    "is required in every entry of `policies`",
                )),
            }
        }
        if let Some(errors) = ConfigErrors::from_vec(errors) {
            return Err(errors);
        }
        let default = default.ok_or_else(|| {
            // Unreachable: a policy that did not compile pushed an error.
            ConfigErrors::one(ConfigError::new(Rule::Syntax, "(root)", None, "the configuration did not compile"))
        })?;
        Ok(Config {
            needs_authority: routes.iter().any(Route::uses_hosts),
            needs_path: routes.iter().any(Route::uses_paths),
            routes,
            default,
        })
    }

    /// The policy for a request, from its header map: `:authority` and `:path` are read only
    /// when some entry matches on them.
    pub fn select_request(&self, headers: &HeaderMap) -> (PolicyId, &Policy) {
        if self.routes.is_empty() {
            return (PolicyId::TopLevel, &self.default);
        }
        let authority = if self.needs_authority { headers.first(AUTHORITY) } else { None };
        let path = if self.needs_path { headers.first(PATH) } else { None };
        self.select(authority, path)
    }

    /// The policy for a request: the first entry whose `match` fits, else the top level.
    /// `authority` and `path` are the raw request values; both are normalized here, once,
    /// before any entry compares them.
    pub fn select(&self, authority: Option<&[u8]>, path: Option<&[u8]>) -> (PolicyId, &Policy) {
        let host = authority.and_then(host_of);
        let path = path.and_then(normalize_path);
        let found = self.routes.iter().enumerate().find(|(_, r)| r.matches(host, path.as_deref()));
        match found {
            Some((i, route)) => (PolicyId::Entry(i), &route.policy),
            None => (PolicyId::TopLevel, &self.default),
        }
    }

    /// The policy a `PolicyId` from `select` names.
    pub fn policy(&self, id: PolicyId) -> &Policy {
        match id {
            PolicyId::TopLevel => &self.default,
            PolicyId::Entry(i) => self.routes.get(i).map_or(&self.default, |r| &r.policy),
        }
    }

    /// Whether selecting a policy needs `:authority` (saves a host call when not).
    pub fn needs_authority(&self) -> bool {
        self.needs_authority
    }

    /// Whether selecting a policy needs `:path`.
    pub fn needs_path(&self) -> bool {
        self.needs_path
    }

    /// The top level's policy.
    pub fn default_policy(&self) -> &Policy {
        &self.default
    }

    /// The entries of `policies`, in match order.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}

#[cfg(test)]
mod tests;
