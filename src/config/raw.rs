//! The configuration exactly as written (JSON): every key optional here, checked in `compile`.
//! Unknown keys are errors, so a typo can never silently weaken a policy.

use serde::Deserialize;

/// What to do with a preflight the policy does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnmatchedPreflight {
    /// Answer 403 without CORS headers; the upstream never sees it.
    Reject,
    /// Pass it to the upstream untouched.
    Forward,
}

/// Whether decisions are applied or only observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Enforce,
    /// Evaluate, count and log; change nothing.
    Shadow,
}

/// The request attributes that select a policy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMatch {
    pub hosts: Option<Vec<String>>,
    pub path_prefixes: Option<Vec<String>>,
}

/// One policy: the top level, or an entry of `policies` (which also has `match`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    #[serde(rename = "match")]
    pub match_: Option<RawMatch>,
    pub policies: Option<Vec<RawPolicy>>,

    pub allow_origins: Option<Vec<String>>,
    pub allow_origin_regexes: Option<Vec<String>>,
    pub allow_null_origin: Option<bool>,

    pub allow_methods: Option<Vec<String>>,
    pub allow_headers: Option<Vec<String>>,
    pub expose_headers: Option<Vec<String>>,
    pub allow_credentials: Option<bool>,
    pub max_age: Option<i64>,
    pub allow_private_network: Option<bool>,
    pub preflight_success_status: Option<u16>,
    pub unmatched_preflight: Option<UnmatchedPreflight>,
    pub mode: Option<Mode>,

    /// Opt-in for credentialed `http://` origins other than loopback (readable by any network attacker).
    pub dangerously_allow_insecure_origins_with_credentials: Option<bool>,
    /// Opt-in for credentialed `*.` patterns over a public suffix (`https://*.github.io`).
    pub dangerously_allow_public_suffix_wildcards_with_credentials: Option<bool>,
}

impl RawPolicy {
    /// This policy's keys over `parent`'s: each key inherits on its own, except the origin keys,
    /// which are one group (a policy that names origins replaces all of the parent's).
    pub fn inherit_from(&self, parent: &RawPolicy) -> RawPolicy {
        let own_origins =
            self.allow_origins.is_some() || self.allow_origin_regexes.is_some() || self.allow_null_origin.is_some();
        let origins_from = if own_origins { self } else { parent };
        RawPolicy {
            match_: self.match_.clone(),
            policies: None,
            allow_origins: origins_from.allow_origins.clone(),
            allow_origin_regexes: origins_from.allow_origin_regexes.clone(),
            allow_null_origin: origins_from.allow_null_origin,
            allow_methods: self.allow_methods.clone().or_else(|| parent.allow_methods.clone()),
            allow_headers: self.allow_headers.clone().or_else(|| parent.allow_headers.clone()),
            expose_headers: self.expose_headers.clone().or_else(|| parent.expose_headers.clone()),
            allow_credentials: self.allow_credentials.or(parent.allow_credentials),
            max_age: self.max_age.or(parent.max_age),
            allow_private_network: self.allow_private_network.or(parent.allow_private_network),
            preflight_success_status: self.preflight_success_status.or(parent.preflight_success_status),
            unmatched_preflight: self.unmatched_preflight.or(parent.unmatched_preflight),
            mode: self.mode.or(parent.mode),
            dangerously_allow_insecure_origins_with_credentials: self
                .dangerously_allow_insecure_origins_with_credentials
                .or(parent.dangerously_allow_insecure_origins_with_credentials),
            dangerously_allow_public_suffix_wildcards_with_credentials: self
                .dangerously_allow_public_suffix_wildcards_with_credentials
                .or(parent.dangerously_allow_public_suffix_wildcards_with_credentials),
        }
    }
}
