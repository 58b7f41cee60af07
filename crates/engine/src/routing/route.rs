//! Selection of a policy by the request's `:authority` and `:path` (`policies[].match`).

use super::path;
use crate::config::raw::RawMatch;
use std::net::Ipv6Addr;

use crate::config::{ConfigError, Rule};
use crate::origin::is_domain;
use crate::policy::Policy;
use crate::token::is_header_value;

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(Box<str>),
    /// `*.example.com`, stored as `.example.com`: one or more labels, never the apex.
    Subdomains(Box<str>),
}

impl HostPattern {
    fn matches(&self, host: &[u8]) -> bool {
        match self {
            HostPattern::Exact(h) => host.eq_ignore_ascii_case(h.as_bytes()),
            HostPattern::Subdomains(suffix) => {
                let s = suffix.as_bytes();
                host.len() > s.len() && host.get(host.len() - s.len()..).is_some_and(|end| end.eq_ignore_ascii_case(s))
            }
        }
    }
}

/// A `match.hosts` entry: a host name (the same rule as an origin's host), optionally
/// `*.`-prefixed, or a bracketed IPv6 address.
fn host_pattern(text: &str) -> Option<HostPattern> {
    let lower = text.to_ascii_lowercase();
    if let Some(suffix) = lower.strip_prefix("*.") {
        return is_domain(suffix).then(|| HostPattern::Subdomains(format!(".{suffix}").into_boxed_str()));
    }
    let ipv6 = lower.strip_prefix('[').and_then(|h| h.strip_suffix(']')).is_some_and(|h| h.parse::<Ipv6Addr>().is_ok());
    (ipv6 || is_domain(&lower)).then(|| HostPattern::Exact(lower.into()))
}

/// A `match.path_prefixes` entry must be written as requests are compared, and read alike by
/// every reading of `path`, or it could never match what it seems to say.
fn path_prefix(p: &str) -> Result<(), String> {
    if !p.starts_with('/') || !is_header_value(p.as_bytes()) || p.contains(' ') {
        return Err("must start with `/` and contain no spaces or control characters".into());
    }
    match path::normalize(p.as_bytes()) {
        Some(n) if *n != *p.as_bytes() => Err(format!(
            "must be written as requests are compared (RFC 3986 normalized: no query, dot-segments or \
             encoded unreserved characters, uppercase escapes): `{}`",
            String::from_utf8_lossy(&n)
        )),
        Some(_) if path::readings(p.as_bytes()).single() == Some(p.as_bytes()) => Ok(()),
        Some(_) => Err("is read differently by some upstreams (a `;`, a backslash, an encoded slash or \
                        backslash, or an empty segment): requests under it would be denied as ambiguous"
            .into()),
        None => Err("has a malformed escape: no request could select it".into()),
    }
}

/// What a request offers one part of a `match` (its host or its path) under one reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part<'a> {
    /// The value under this reading.
    Value(&'a [u8]),
    /// The request has none: only entries that do not ask for it match.
    Absent,
    /// The request's value could not be read: every entry that asks for it matches (paired
    /// with an `Absent` reading, so that an entry that could apply makes the readings differ).
    Any,
}

/// The readings of one part of a request (a host has at most two, a path seven), on the stack.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parts<'a> {
    items: [Part<'a>; 7],
    len: usize,
}

impl<'a> Parts<'a> {
    /// The readings given (`None`s skipped), the first seven of them.
    pub(crate) fn of(readings: impl IntoIterator<Item = Option<Part<'a>>>) -> Self {
        let mut parts = Parts { items: [Part::Absent; 7], len: 0 };
        for reading in readings.into_iter().flatten() {
            if let Some(slot) = parts.items.get_mut(parts.len) {
                *slot = reading;
                parts.len += 1;
            }
        }
        parts
    }

    /// The readings.
    pub(crate) fn as_slice(&self) -> &[Part<'a>] {
        self.items.get(..self.len).unwrap_or_default()
    }
}

/// A policy with the requests it applies to.
#[derive(Debug)]
pub struct Route {
    hosts: Vec<HostPattern>,
    path_prefixes: Vec<Box<str>>,
    /// The entry's policy (its keys inherited from the top level).
    pub policy: Policy,
}

impl Route {
    /// Validates one entry's `match`; every refusal is pushed onto `errors`. `None` when there
    /// was any, or when the entry's policy did not compile.
    pub(crate) fn compile(
        m: &RawMatch,
        prefix: &str,
        policy: Option<Policy>,
        errors: &mut Vec<ConfigError>,
    ) -> Option<Route> {
        let errors_before = errors.len();
        let hosts_list = m.hosts.as_deref().unwrap_or_default();
        let paths_list = m.path_prefixes.as_deref().unwrap_or_default();
        if hosts_list.is_empty() && paths_list.is_empty() {
            errors.push(ConfigError::new(
                Rule::Required,
                format!("{prefix}match"),
                None,
                "must list hosts or path_prefixes (a policy for every request belongs at the top level)",
            ));
        }
        let mut hosts = Vec::new();
        for (i, h) in hosts_list.iter().enumerate() {
            match host_pattern(h) {
                Some(pattern) => hosts.push(pattern),
                None => errors.push(ConfigError::at(
                    Rule::Host,
                    format!("{prefix}match.hosts[{i}]"),
                    h,
                    "must be a host name (ports are ignored, leave them out), optionally starting with `*.`",
                )),
            }
        }
        let mut path_prefixes = Vec::new();
        for (i, p) in paths_list.iter().enumerate() {
            match path_prefix(p) {
                Ok(()) => path_prefixes.push(p.as_str().into()),
                Err(reason) => errors.push(ConfigError::at(
                    Rule::PathPrefix,
                    format!("{prefix}match.path_prefixes[{i}]"),
                    p,
                    reason,
                )),
            }
        }
        if errors.len() > errors_before {
            return None;
        }
        Some(Route { hosts, path_prefixes, policy: policy? })
    }

    /// True when the entry matches on `:authority`.
    pub(crate) fn uses_hosts(&self) -> bool {
        !self.hosts.is_empty()
    }

    /// True when the entry matches on `:path`.
    pub(crate) fn uses_paths(&self) -> bool {
        !self.path_prefixes.is_empty()
    }

    /// True when the entry applies to a request whose host and path read as `host` and
    /// `path`; `fold` compares paths with ASCII case folded.
    pub(crate) fn matches(&self, host: Part<'_>, path: Part<'_>, fold: bool) -> bool {
        let host_ok = self.hosts.is_empty()
            || match host {
                Part::Value(h) => self.hosts.iter().any(|p| p.matches(h)),
                Part::Absent => false,
                Part::Any => true,
            };
        host_ok
            && (self.path_prefixes.is_empty()
                || match path {
                    Part::Value(p) => self.path_prefixes.iter().any(|pre| has_prefix(p, pre.as_bytes(), fold)),
                    Part::Absent => false,
                    Part::Any => true,
                })
    }

    /// True when a prefix has an ASCII uppercase letter (a lowercase path could then match it
    /// with case folded).
    pub(crate) fn has_upper_prefix(&self) -> bool {
        self.path_prefixes.iter().any(|p| p.bytes().any(|b| b.is_ascii_uppercase()))
    }
}

fn has_prefix(path: &[u8], prefix: &[u8], fold: bool) -> bool {
    match path.get(..prefix.len()) {
        Some(start) if fold => start.eq_ignore_ascii_case(prefix),
        Some(start) => start == prefix,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn match_hosts_follow_the_origin_host_rule() {
        assert_eq!(host_pattern("API.Example.com"), Some(HostPattern::Exact("api.example.com".into())));
        assert_eq!(host_pattern("*.example.com"), Some(HostPattern::Subdomains(".example.com".into())));
        assert_eq!(host_pattern("[::1]"), Some(HostPattern::Exact("[::1]".into())));
        let long_label = format!("{}.com", "a".repeat(64));
        for refused in ["a.com:443", "[::zz]", "*.[::1]", "a..com", "a.com.", "", "*.", "é.com", long_label.as_str()] {
            assert_eq!(host_pattern(refused), None, "{refused}");
        }
    }

    #[test]
    fn host_patterns() {
        let exact = HostPattern::Exact("api.example.com".into());
        assert!(exact.matches(b"API.example.com"));
        assert!(!exact.matches(b"xapi.example.com"));
        let wild = HostPattern::Subdomains(".example.com".into());
        assert!(wild.matches(b"a.example.com") && wild.matches(b"a.b.Example.com"));
        assert!(!wild.matches(b"example.com") && !wild.matches(b"evilexample.com") && !wild.matches(b".example.com"));
    }
}
