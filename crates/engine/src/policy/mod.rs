//! A compiled policy: validated once at load, with every response header value precomputed,
//! so that deciding a request only compares and looks up. The struct is here; `compile` builds
//! it, `decide` answers requests, `answer` lists the response headers of an answer.

mod answer;
mod compile;
mod credentials;
mod decide;
mod denial;

pub(crate) use answer::rejected_preflight_headers;
pub use decide::{AllowOrigin, DenyReason, PreflightRequest};
pub use denial::Denial;

use crate::allow_headers::AllowedHeaders;
use crate::method::AllowedMethods;
use crate::mode::{Mode, UnmatchedPreflight};
use crate::origin::OriginMatcher;

/// The `cors_policy` label of the top level's counters (no entry may take it as its `name`).
pub(crate) const TOP_LEVEL_LABEL: &str = "top_level";

/// Browsers cap preflight caching (Chromium 2 h, Firefox 24 h); more than a day is never honoured.
pub const MAX_AGE_LIMIT: i64 = 86_400;

/// One policy (the top level or an entry of `policies`), compiled.
#[derive(Debug)]
pub struct Policy {
    /// `top level` or `policies[N]`: named in logs and by `cors-lint explain`.
    name: String,
    origins: OriginMatcher,
    methods: AllowedMethods,
    headers: AllowedHeaders,
    expose_headers: Option<Box<str>>,
    credentials: bool,
    max_age: Option<Box<str>>,
    private_network: bool,
    success_status: u32,
    unmatched_preflight: UnmatchedPreflight,
    mode: Mode,
    /// The `cors_policy` label of its counters: `top_level`, the entry's `name`, or its index.
    label: Box<str>,
    /// Its place among the configuration's policies: 0 the top level, `i + 1` entry `i`.
    slot: usize,
}

impl Policy {
    /// True when every actual response gets the same CORS headers whatever the request:
    /// `Access-Control-Allow-Origin: *` without credentials. Fetch ("CORS protocol and HTTP
    /// caches"): such a resource sends them on every response, CORS request or not, and no
    /// `Vary`, so a cached copy made for any request serves every later one.
    pub(crate) fn is_static(&self) -> bool {
        self.origins.allows_any() && !self.credentials
    }

    /// True when the answer to a request depends on its `Origin`, so every response, to a
    /// request with or without `Origin`, says `Vary: Origin` (Fetch, "CORS protocol and HTTP
    /// caches"): otherwise a cache could serve a copy made without CORS headers to a CORS
    /// request, or one origin's copy to another origin. A policy that allows no origin at all
    /// answers everyone alike.
    pub(crate) fn varies_by_origin(&self) -> bool {
        !self.is_static() && !self.origins.is_empty()
    }

    /// `top level` or `policies[N]`: the policy's place in the configuration.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `cors_policy` label of its counters (`top_level`, the entry's `name` or its index).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Its place among the configuration's policies (`Config::policies` order): 0 the top
    /// level, `i + 1` entry `i`; adapters index per-policy counters with it.
    pub fn slot(&self) -> usize {
        self.slot
    }

    /// Names the policy in logs and metrics: entry `index` (`None`: the top level), with its
    /// `name` when it has one.
    pub(crate) fn place(&mut self, index: Option<usize>, name: Option<&str>) {
        (self.slot, self.label) = match index {
            None => (0, TOP_LEVEL_LABEL.into()),
            Some(i) => (i + 1, name.map_or_else(|| i.to_string(), str::to_owned).into_boxed_str()),
        };
        if let (Some(i), Some(n)) = (index, name) {
            self.name = format!("policies[{i}] ({n})");
        }
    }

    /// `Access-Control-Max-Age` of allowed preflights, as sent.
    #[cfg(test)]
    pub(crate) fn max_age(&self) -> Option<&str> {
        self.max_age.as_deref()
    }

    /// True when a preflight may ask for `method` (GET, HEAD and POST always may).
    #[cfg(test)]
    pub(crate) fn allows_method(&self, method: &[u8]) -> bool {
        self.methods.allows(method)
    }

    /// Enforce, shadow or off.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// What a preflight the policy does not allow gets.
    pub fn unmatched_preflight(&self) -> UnmatchedPreflight {
        self.unmatched_preflight
    }

    /// The policy's origin rules.
    pub fn origins(&self) -> &OriginMatcher {
        &self.origins
    }
}
