//! Compiling one policy from its (already inherited) configuration: every key validated, every
//! response header value computed once.

use super::{credentials, Policy, MAX_AGE_LIMIT};
use crate::allow_headers::AllowedHeaders;
use crate::config::raw::RawPolicy;
use crate::config::{ConfigError, ItemError, Rule};
use crate::expose_headers::compile_expose;
use crate::method::AllowedMethods;
use crate::mode::{Mode, UnmatchedPreflight};
use crate::origin::{compile_regex, parse_pattern, OriginMatcher, OriginMatcherBuilder, RegexError};

impl Policy {
    /// Compiles a policy whose keys were already inherited. `prefix` is the key path of the
    /// policy (`""` or `policies[N].`), so errors name the exact key. Every key is checked, and
    /// every refusal is pushed onto `errors`; `None` when there was any.
    pub(crate) fn compile(
        raw: &RawPolicy,
        prefix: &str,
        require_origins: bool,
        errors: &mut Vec<ConfigError>,
    ) -> Option<Policy> {
        let errors_before = errors.len();
        let key = |k: &str| format!("{prefix}{k}");
        let credentials = raw.allow_credentials.unwrap_or(false);

        let mut origins = OriginMatcherBuilder::default();
        let listed = raw.allow_origins.as_deref().unwrap_or_default();
        for (i, text) in listed.iter().enumerate() {
            let at = || key(&format!("allow_origins[{i}]"));
            let pattern = match parse_pattern(text) {
                Ok(p) => p,
                Err(e) => {
                    errors.push(ConfigError::at(Rule::Origin, at(), text, e.0));
                    continue;
                }
            };
            if credentials {
                if let Err((rule, reason)) = credentials::check(&pattern, raw) {
                    errors.push(ConfigError::at(rule, at(), text, reason));
                    continue;
                }
            }
            origins.pattern(pattern);
        }
        for (i, re) in raw.allow_origin_regexes.as_deref().unwrap_or_default().iter().enumerate() {
            let at = || key(&format!("allow_origin_regexes[{i}]"));
            let compiled = match compile_regex(re) {
                Ok(compiled) => compiled,
                Err(e) => {
                    let (rule, reason) = match e {
                        RegexError::Syntax(m) => (Rule::Regex, m),
                        RegexError::Cost(m) => (Rule::RegexCost, m),
                    };
                    errors.push(ConfigError::at(rule, at(), re, one_line(&reason)));
                    continue;
                }
            };
            if credentials {
                if let Err((rule, reason)) = credentials::check_regex(re, &compiled, raw) {
                    errors.push(ConfigError::at(rule, at(), re, reason));
                    continue;
                }
            }
            origins.regex(compiled);
        }
        let null = raw.allow_null_origin.unwrap_or(false);
        if null && credentials {
            if let Err((rule, reason)) = credentials::check_null(raw) {
                errors.push(ConfigError::new(rule, key("allow_null_origin"), Some("true".into()), reason));
            }
        }
        origins.null(null);
        let origins = origins.build().unwrap_or_else(|reason| {
            errors.push(ConfigError::new(Rule::RegexCost, key("allow_origin_regexes"), None, reason));
            OriginMatcher::default()
        });
        let mode = raw.mode.unwrap_or(Mode::Enforce);
        // A policy that is `off` makes no decision, so it needs no origins (values it does set
        // are still checked above and below: a typo must not wait for the day it is switched on).
        let listed_any = raw.allow_origins.as_deref().is_some_and(|l| !l.is_empty())
            || raw.allow_origin_regexes.as_deref().is_some_and(|l| !l.is_empty());
        if require_origins && mode != Mode::Off && origins.is_empty() && !listed_any {
            let reason = if raw.allow_origins.is_some() {
                "is empty: list at least one origin (or use allow_origin_regexes)"
            } else {
                "is required: list the allowed origins (or use allow_origin_regexes)"
            };
            errors.push(ConfigError::new(Rule::Required, key("allow_origins"), None, reason));
        }

        let methods = compile_list(key("allow_methods"), raw.allow_methods.as_deref(), errors, |l| {
            AllowedMethods::compile(l, credentials)
        });
        let headers = compile_list(key("allow_headers"), raw.allow_headers.as_deref(), errors, |l| {
            AllowedHeaders::compile(l, credentials)
        });
        let expose_headers = compile_list(key("expose_headers"), raw.expose_headers.as_deref(), errors, |l| {
            compile_expose(l, credentials)
        });

        let max_age = match raw.max_age {
            None => None,
            // `-1` is accepted as "no caching", which on the wire is `0`: the header's grammar is
            // a non-negative integer (Fetch, `Access-Control-Max-Age`); for `-1` the standard's
            // parse fails and falls back to the default 5 s, as Safari does. (Chromium reads a
            // negative value as 0 and Firefox caches nothing on a non-digit; `0` is read alike
            // by all.)
            Some(s) if (-1..=MAX_AGE_LIMIT).contains(&s) => Some(s.max(0).to_string().into_boxed_str()),
            Some(s) => {
                errors.push(ConfigError::new(
                    Rule::MaxAge,
                    key("max_age"),
                    Some(s.to_string()),
                    format!("must be from 0 (no caching; -1 is read as 0) to {MAX_AGE_LIMIT} seconds: browsers cap it (Chromium at 7200, Firefox at 86400)"),
                ));
                None
            }
        };
        let success_status = match raw.preflight_success_status {
            None => 204,
            Some(s @ (200 | 204)) => u32::from(s),
            Some(s) => {
                errors.push(ConfigError::new(
                    Rule::Status,
                    key("preflight_success_status"),
                    Some(s.to_string()),
                    "must be 204 or 200 (a preflight succeeds only with an ok status)",
                ));
                204
            }
        };
        if errors.len() > errors_before {
            return None;
        }
        let (methods, headers, expose_headers) = (methods?, headers?, expose_headers?);

        Some(Policy {
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
            label: super::TOP_LEVEL_LABEL.into(),
            slot: 0,
        })
    }
}

/// A multi-line message (regex-lite's) as one line, for one log line per error.
fn one_line(s: &str) -> String {
    s.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join(" ")
}

/// Compiles a list key (`allow_methods`, ...) with `compile`, its refused elements pushed onto
/// `errors` under `key[i]`.
fn compile_list<T>(
    key: String,
    values: Option<&[String]>,
    errors: &mut Vec<ConfigError>,
    compile: impl FnOnce(&[String]) -> Result<T, Vec<ItemError>>,
) -> Option<T> {
    let values = values.unwrap_or_default();
    compile(values).map_err(|refused| errors.extend(refused.into_iter().map(|e| e.at(&key, values)))).ok()
}
