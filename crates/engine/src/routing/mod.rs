//! The compiled configuration and policy selection: the entries of `policies` in match order,
//! each with the requests it applies to, and the top level; which one a request selects.

mod ambiguous;
mod host;
mod path;
mod route;

pub use ambiguous::Ambiguous;
pub(crate) use ambiguous::AmbiguousPart;
pub(crate) use host::{readings as host_readings, HostReadings};
pub(crate) use path::{readings as path_readings, PathReadings};
pub use route::Route;
pub(crate) use route::{Part, Parts};

use crate::config::raw::RawPolicy;
use crate::config::{self, ConfigError, ConfigErrors, Rule};
use crate::header_map::{RequestHeaders, AUTHORITY, PATH};
use crate::mode::Mode;
use crate::policy::{Policy, TOP_LEVEL_LABEL};

/// Longest `policies[].name`: a Prometheus label value, kept short for dashboards.
const MAX_NAME_LEN: usize = 63;

/// A `policies[].name` is a label value in every stat name of its counters: lowercase letters,
/// digits, `-` and `_`, starting with a letter (so no name equals an index, the default), and
/// unique.
fn check_name(name: &str, earlier: &[&str]) -> Result<(), String> {
    let valid = name.len() <= MAX_NAME_LEN
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid {
        return Err(format!(
            "must be 1 to {MAX_NAME_LEN} lowercase letters, digits, `-` or `_`, starting with a letter (it labels the entry's counters)"
        ));
    }
    if name == TOP_LEVEL_LABEL {
        return Err(format!("`{TOP_LEVEL_LABEL}` names the top level's counters"));
    }
    if earlier.contains(&name) {
        return Err("is already the name of an earlier entry: names label counters, so they are unique".into());
    }
    Ok(())
}

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
    /// A prefix has an uppercase letter: paths are then always compared with case folded too.
    upper_prefix: bool,
}

impl Config {
    /// Parses and compiles the plugin configuration (Envoy `configuration` / Istio `pluginConfig`).
    /// Every key is checked: the error lists every refusal, in the order of the keys.
    pub fn from_json(text: &str) -> Result<Config, ConfigErrors> {
        Config::from_raw(&config::parse(text).map_err(ConfigErrors::one)?)
    }

    /// Compiles a configuration already read into its serde types.
    pub(crate) fn from_raw(raw: &RawPolicy) -> Result<Config, ConfigErrors> {
        let mut errors = Vec::new();
        if raw.match_.is_some() {
            errors.push(ConfigError::new(Rule::Placement, "match", None, "only entries of `policies` have a `match`"));
        }
        if raw.name.is_some() {
            errors.push(ConfigError::new(
                Rule::Placement,
                "name",
                None,
                format!("only entries of `policies` have a `name` (the top level is `{TOP_LEVEL_LABEL}`)"),
            ));
        }
        let mut names: Vec<&str> = Vec::new();
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
            if let Some(name) = p.name.as_deref() {
                if let Err(reason) = check_name(name, &names) {
                    errors.push(ConfigError::at(Rule::Name, format!("{prefix}name"), name, reason));
                }
                names.push(name);
            }
            let mut policy = Policy::compile(&p.inherit_from(raw), &prefix, true, &mut errors);
            if let Some(policy) = policy.as_mut() {
                policy.place(Some(i), p.name.as_deref());
            }
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
            upper_prefix: routes.iter().any(Route::has_upper_prefix),
            routes,
            default,
        })
    }

    /// Every policy in slot order (`Policy::slot`): the top level, then the entries of
    /// `policies`.
    pub fn policies(&self) -> impl Iterator<Item = &Policy> {
        std::iter::once(&self.default).chain(self.routes.iter().map(|r| &r.policy))
    }

    /// True when some enforced policy other than `except` allows `origin`: a shadow policy
    /// that would deny it would break a page the gateway serves today, not a scanner
    /// (`cors.shadow_would_deny_known_origin`). Only on the shadow-denial path.
    pub(crate) fn allowed_elsewhere(&self, origin: &[u8], except: &Policy) -> bool {
        self.policies()
            .any(|p| p.slot() != except.slot() && p.mode() == Mode::Enforce && p.check_origin(origin).is_some())
    }

    /// The policy for a request, from its header map: `:authority` and `:path` are read only
    /// when some entry matches on them.
    pub(crate) fn select_request(&self, headers: &impl RequestHeaders) -> Result<(PolicyId, &Policy), Ambiguous> {
        if self.routes.is_empty() {
            return Ok((PolicyId::TopLevel, &self.default));
        }
        let authority = if self.needs_authority { headers.first(AUTHORITY) } else { None };
        let path = if self.needs_path { headers.first(PATH) } else { None };
        self.select(authority, path)
    }

    /// The policy for a request: the first entry whose `match` fits, else the top level.
    /// `authority` and `path` are the raw request values, read every way an upstream might read
    /// them (`host_readings`, `path_readings`); when the readings select different policies, of
    /// which not all are `off`, the request is `Ambiguous` (docs/security.md).
    pub fn select(&self, authority: Option<&[u8]>, path: Option<&[u8]>) -> Result<(PolicyId, &Policy), Ambiguous> {
        let hosts = match authority {
            Some(a) if self.needs_authority => match host_readings(a) {
                HostReadings::Readings { first, second } => {
                    Parts::of([Some(Part::Value(first)), second.map(Part::Value)])
                }
                HostReadings::Uninterpretable => Parts::of([Some(Part::Any), Some(Part::Absent)]),
            },
            _ => Parts::of([Some(Part::Absent)]),
        };
        let readings = path.filter(|_| self.needs_path).map(path_readings);
        let paths = match &readings {
            None => Parts::of([Some(Part::Absent)]),
            Some(PathReadings::Plain { path, .. }) => Parts::of([Some(Part::Value(path))]),
            Some(PathReadings::Several { paths, .. }) => Parts::of(paths.iter().map(|p| Some(Part::Value(p)))),
            Some(PathReadings::Uninterpretable) => Parts::of([Some(Part::Any), Some(Part::Absent)]),
        };
        let fold = readings.as_ref().is_some_and(|r| self.upper_prefix || r.has_upper());
        if let ([host], [path], false) = (hosts.as_slice(), paths.as_slice(), fold) {
            // The common request: one reading of each.
            return Ok(self.first_match(*host, *path, false));
        }
        let mut candidates: Vec<PolicyId> = Vec::new();
        for host in hosts.as_slice() {
            for path in paths.as_slice() {
                for fold in [false, true].into_iter().take(if fold { 2 } else { 1 }) {
                    let (id, _) = self.first_match(*host, *path, fold);
                    if !candidates.contains(&id) {
                        candidates.push(id);
                    }
                }
            }
        }
        let part = AmbiguousPart::of(hosts.as_slice().len() > 1, paths.as_slice().len() > 1 || fold);
        Ambiguous::check(self, candidates, part)
    }

    fn first_match(&self, host: Part<'_>, path: Part<'_>, fold: bool) -> (PolicyId, &Policy) {
        match self.routes.iter().enumerate().find(|(_, r)| r.matches(host, path, fold)) {
            Some((i, route)) => (PolicyId::Entry(i), &route.policy),
            None => (PolicyId::TopLevel, &self.default),
        }
    }

    /// The policy a `PolicyId` from `select` names.
    pub(crate) fn policy(&self, id: PolicyId) -> &Policy {
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
    #[cfg(test)]
    pub(crate) fn needs_path(&self) -> bool {
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
