//! A compiled policy: validated once at load, with every response header value precomputed,
//! so that deciding a request only compares and looks up.

use crate::config::raw::{Mode, RawPolicy, UnmatchedPreflight};
use crate::config::ConfigError;
use crate::header::{compile_expose, AllowedHeaders};
use crate::method::AllowedMethods;
use crate::origin::{is_public_suffix, parse_pattern, OriginMatcher, OriginMatcherBuilder, OriginPattern};

/// Browsers cap preflight caching (Chromium 2 h, Firefox 24 h); more than a day is never honoured.
pub const MAX_AGE_LIMIT: i64 = 86_400;

#[derive(Debug)]
pub struct Policy {
    /// `top level` or `policies[N]`: named in logs and by `cors-lint explain`.
    pub name: String,
    pub(crate) origins: OriginMatcher,
    pub(crate) methods: AllowedMethods,
    pub(crate) headers: AllowedHeaders,
    pub(crate) expose_headers: Option<Box<str>>,
    pub(crate) credentials: bool,
    pub(crate) max_age: Option<Box<str>>,
    pub(crate) private_network: bool,
    pub(crate) success_status: u32,
    pub(crate) unmatched_preflight: UnmatchedPreflight,
    pub(crate) mode: Mode,
}

impl Policy {
    /// True when every actual response gets the same CORS headers whatever the request:
    /// `Access-Control-Allow-Origin: *` without credentials. Fetch ("CORS protocol and HTTP
    /// caches"): such a resource sends them on every response, CORS request or not, and no
    /// `Vary`, so a cached copy made for any request serves every later one.
    pub fn is_static(&self) -> bool {
        self.origins.allows_any() && !self.credentials
    }

    /// True when the answer to a request depends on its `Origin`, so every response, to a
    /// request with or without `Origin`, says `Vary: Origin` (Fetch, "CORS protocol and HTTP
    /// caches"): otherwise a cache could serve a copy made without CORS headers to a CORS
    /// request, or one origin's copy to another origin. A policy that allows no origin at all
    /// answers everyone alike.
    pub fn varies_by_origin(&self) -> bool {
        !self.is_static() && !self.origins.is_empty()
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn unmatched_preflight(&self) -> UnmatchedPreflight {
        self.unmatched_preflight
    }

    pub fn origins(&self) -> &OriginMatcher {
        &self.origins
    }

    /// Compiles a policy whose keys were already inherited. `prefix` is the key path of the
    /// policy (`""` or `policies[N].`), so errors name the exact key.
    pub fn compile(raw: &RawPolicy, prefix: &str, require_origins: bool) -> Result<Policy, ConfigError> {
        let key = |k: &str| format!("{prefix}{k}");
        let credentials = raw.allow_credentials.unwrap_or(false);

        let mut origins = OriginMatcherBuilder::default();
        let listed = raw.allow_origins.as_deref().unwrap_or_default();
        for (i, text) in listed.iter().enumerate() {
            let at = || key(&format!("allow_origins[{i}]"));
            let pattern = parse_pattern(text).map_err(|e| ConfigError::at(at(), text, e.0))?;
            if credentials {
                check_credentialed(&pattern, raw).map_err(|reason| ConfigError::at(at(), text, reason))?;
            }
            origins.pattern(pattern);
        }
        for (i, re) in raw.allow_origin_regexes.as_deref().unwrap_or_default().iter().enumerate() {
            origins
                .regex(re)
                .map_err(|e| ConfigError::at(key(&format!("allow_origin_regexes[{i}]")), re, first_line(&e)))?;
        }
        origins.null(raw.allow_null_origin.unwrap_or(false));
        let origins =
            origins.build().map_err(|e| ConfigError::new(key("allow_origin_regexes"), None, first_line(&e)))?;
        let mode = raw.mode.unwrap_or(Mode::Enforce);
        // A policy that is `off` makes no decision, so it needs no origins (values it does set
        // are still checked above and below: a typo must not wait for the day it is switched on).
        if require_origins && mode != Mode::Off && origins.is_empty() {
            let reason = if raw.allow_origins.is_some() {
                "is empty: list at least one origin (or use allow_origin_regexes)"
            } else {
                "is required: list the allowed origins (or use allow_origin_regexes)"
            };
            return Err(ConfigError::new(key("allow_origins"), None, reason));
        }

        let methods = AllowedMethods::compile(raw.allow_methods.as_deref().unwrap_or_default(), credentials)
            .map_err(|(i, why)| list_error(&key("allow_methods"), raw.allow_methods.as_deref(), i, why))?;
        let headers = AllowedHeaders::compile(raw.allow_headers.as_deref().unwrap_or_default(), credentials)
            .map_err(|(i, why)| list_error(&key("allow_headers"), raw.allow_headers.as_deref(), i, why))?;
        let expose_headers = compile_expose(raw.expose_headers.as_deref().unwrap_or_default(), credentials)
            .map_err(|(i, why)| list_error(&key("expose_headers"), raw.expose_headers.as_deref(), i, why))?;

        let max_age = match raw.max_age {
            None => None,
            // `-1` is accepted as "no caching", which on the wire is `0`: the header's grammar is
            // a non-negative integer (Fetch, `Access-Control-Max-Age`); for `-1` the standard's
            // parse fails and falls back to the default 5 s, as Safari does. (Chromium reads a
            // negative value as 0 and Firefox caches nothing on a non-digit; `0` is read alike
            // by all.)
            Some(s) if (-1..=MAX_AGE_LIMIT).contains(&s) => Some(s.max(0).to_string().into_boxed_str()),
            Some(s) => {
                return Err(ConfigError::new(
                    key("max_age"),
                    Some(s.to_string()),
                    format!("must be from 0 (no caching; -1 is read as 0) to {MAX_AGE_LIMIT} seconds: browsers cap it (Chromium at 7200, Firefox at 86400)"),
                ))
            }
        };
        let success_status = match raw.preflight_success_status {
            None => 204,
            Some(s @ (200 | 204)) => u32::from(s),
            Some(s) => {
                return Err(ConfigError::new(
                    key("preflight_success_status"),
                    Some(s.to_string()),
                    "must be 204 or 200 (a preflight succeeds only with an ok status)",
                ))
            }
        };

        Ok(Policy {
            name: if prefix.is_empty() { "top level".into() } else { prefix.trim_end_matches('.').into() },
            origins,
            methods,
            headers,
            expose_headers,
            credentials,
            max_age,
            private_network: raw.allow_private_network.unwrap_or(false),
            success_status,
            unmatched_preflight: raw.unmatched_preflight.unwrap_or(UnmatchedPreflight::Reject),
            mode,
        })
    }
}

fn first_line(s: &str) -> String {
    s.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join(" ")
}

fn list_error(key: &str, list: Option<&[String]>, i: usize, why: String) -> ConfigError {
    let value = list.and_then(|l| l.get(i)).map(String::as_str).unwrap_or_default();
    ConfigError::at(format!("{key}[{i}]"), value, why)
}

/// Rules for origins that may read credentialed responses.
fn check_credentialed(pattern: &OriginPattern, raw: &RawPolicy) -> Result<(), String> {
    let insecure_ok = raw.dangerously_allow_insecure_origins_with_credentials.unwrap_or(false);
    let suffix_ok = raw.dangerously_allow_public_suffix_wildcards_with_credentials.unwrap_or(false);
    let host = match pattern {
        OriginPattern::Any => {
            return Err("`*` cannot be used with allow_credentials (browsers refuse it): list the origins".into())
        }
        OriginPattern::Exact(s) => s.split_once("://").map(|(_, rest)| rest).unwrap_or(s),
        OriginPattern::AnyPort { host, .. } => host,
        OriginPattern::Subdomains { suffix, .. } => suffix,
    };
    let host = strip_port(host);
    let loopback = is_loopback(host);
    if pattern.scheme() == Some("http") && !loopback && !insecure_ok {
        return Err("credentialed http:// origins can be impersonated by anyone on the network; use https, \
             or set dangerously_allow_insecure_origins_with_credentials"
            .into());
    }
    if let OriginPattern::Subdomains { suffix, .. } = pattern {
        if !loopback && is_public_suffix(suffix) && !suffix_ok {
            return Err(format!(
                "`{suffix}` is a public suffix: anyone can register a subdomain of it; list the origins, \
                 or set dangerously_allow_public_suffix_wildcards_with_credentials"
            ));
        }
    }
    Ok(())
}

fn strip_port(host_port: &str) -> &str {
    match host_port.rfind(':') {
        Some(i) if !host_port[i..].contains(']') => &host_port[..i],
        _ => host_port,
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host == "[::1]"
        || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}
