//! Compiling one policy from its (already inherited) configuration: every key validated, every
//! response header value computed once.

use super::{credentials, Policy};
use crate::allow_headers::AllowedHeaders;
use crate::config::raw::RawPolicy;
use crate::config::ConfigError;
use crate::expose_headers::compile_expose;
use crate::method::AllowedMethods;
use crate::mode::{Mode, UnmatchedPreflight};
use crate::origin::{parse_pattern, OriginMatcherBuilder};

/// Browsers cap preflight caching (Chromium 2 h, Firefox 24 h); more than a day is never honoured.
pub const MAX_AGE_LIMIT: i64 = 86_400;

impl Policy {
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
                credentials::check(&pattern, raw).map_err(|reason| ConfigError::at(at(), text, reason))?;
            }
            origins.pattern(pattern);
        }
        for (i, re) in raw.allow_origin_regexes.as_deref().unwrap_or_default().iter().enumerate() {
            origins
                .regex(re)
                .map_err(|e| ConfigError::at(key(&format!("allow_origin_regexes[{i}]")), re, one_line(&e)))?;
        }
        origins.null(raw.allow_null_origin.unwrap_or(false));
        let origins = origins.build().map_err(|e| ConfigError::new(key("allow_origin_regexes"), None, one_line(&e)))?;
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

/// A multi-line message (regex-lite's) as one line, for one log line per error.
fn one_line(s: &str) -> String {
    s.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join(" ")
}

fn list_error(key: &str, list: Option<&[String]>, i: usize, why: String) -> ConfigError {
    let value = list.and_then(|l| l.get(i)).map(String::as_str).unwrap_or_default();
    ConfigError::at(format!("{key}[{i}]"), value, why)
}
