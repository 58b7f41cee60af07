//! Selection of a policy by the request's `:authority` and `:path` (`policies[].match`).

use crate::config::raw::RawMatch;
use crate::config::ConfigError;
use crate::policy::Policy;
use crate::request_path;
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
                host.len() > s.len() && host[host.len() - s.len()..].eq_ignore_ascii_case(s)
            }
        }
    }
}

/// A policy with the requests it applies to.
#[derive(Debug)]
pub struct Route {
    hosts: Vec<HostPattern>,
    path_prefixes: Vec<Box<str>>,
    pub policy: Policy,
}

impl Route {
    pub fn compile(m: &RawMatch, prefix: &str, policy: Policy) -> Result<Route, ConfigError> {
        let hosts_list = m.hosts.as_deref().unwrap_or_default();
        let paths_list = m.path_prefixes.as_deref().unwrap_or_default();
        if hosts_list.is_empty() && paths_list.is_empty() {
            return Err(ConfigError::new(
                format!("{prefix}match"),
                None,
                "must list hosts or path_prefixes (a policy for every request belongs at the top level)",
            ));
        }
        let mut hosts = Vec::new();
        for (i, h) in hosts_list.iter().enumerate() {
            let at = format!("{prefix}match.hosts[{i}]");
            let lower = h.to_ascii_lowercase();
            let (wild, name) = match lower.strip_prefix("*.") {
                Some(rest) => (true, rest),
                None => (false, lower.as_str()),
            };
            let valid = !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
                && !name.starts_with('.')
                && !name.ends_with('.');
            let bracketed_v6 = !wild && name.starts_with('[') && name.ends_with(']');
            if !valid && !bracketed_v6 {
                return Err(ConfigError::at(
                    at,
                    h,
                    "must be a host name (ports are ignored, leave them out), optionally starting with `*.`",
                ));
            }
            hosts.push(if wild {
                HostPattern::Subdomains(format!(".{name}").into_boxed_str())
            } else {
                HostPattern::Exact(name.into())
            });
        }
        let mut path_prefixes = Vec::new();
        for (i, p) in paths_list.iter().enumerate() {
            let at = || format!("{prefix}match.path_prefixes[{i}]");
            if !p.starts_with('/') || !is_header_value(p.as_bytes()) || p.contains(' ') {
                return Err(ConfigError::at(
                    at(),
                    p,
                    "must start with `/` and contain no spaces or control characters",
                ));
            }
            // Requests are compared in normalized form, so a prefix in any other form could
            // never match what it seems to say.
            match request_path::normalize(p.as_bytes()) {
                Some(n) if *n == *p.as_bytes() => {}
                Some(n) => {
                    return Err(ConfigError::at(
                        at(),
                        p,
                        format!(
                            "must be written as requests are compared (RFC 3986 normalized: no query, dot-segments or \
                             encoded unreserved characters, uppercase escapes): `{}`",
                            String::from_utf8_lossy(&n)
                        ),
                    ))
                }
                None => return Err(ConfigError::at(
                    at(),
                    p,
                    "is ambiguous (an encoded slash or backslash, a backslash, a malformed escape or a dot-segment \
                         above the root): no request could select it",
                )),
            }
            path_prefixes.push(p.as_str().into());
        }
        Ok(Route { hosts, path_prefixes, policy })
    }

    pub fn uses_hosts(&self) -> bool {
        !self.hosts.is_empty()
    }

    pub fn uses_paths(&self) -> bool {
        !self.path_prefixes.is_empty()
    }

    /// `host` as `host_of` gives it, `path` as `request_path::normalize` gives it; `None` for
    /// a request without one, or with an ambiguous path: only entries that do not ask for it match.
    pub fn matches(&self, host: Option<&[u8]>, path: Option<&[u8]>) -> bool {
        let host_ok = self.hosts.is_empty() || host.is_some_and(|h| self.hosts.iter().any(|p| p.matches(h)));
        host_ok
            && (self.path_prefixes.is_empty()
                || path.is_some_and(|p| self.path_prefixes.iter().any(|pre| p.starts_with(pre.as_bytes()))))
    }
}

/// The host of an `:authority` as browsers and Envoy compare it (case is ignored by the
/// patterns): without port (`[v6]:port` keeps its brackets) and without a trailing dot:
/// `api.example.com.` is the same host, and must not escape its policy.
pub fn host_of(authority: &[u8]) -> &[u8] {
    let host = host_and_dot(authority);
    host.strip_suffix(b".").unwrap_or(host)
}

fn host_and_dot(authority: &[u8]) -> &[u8] {
    if authority.first() == Some(&b'[') {
        return match authority.iter().position(|&b| b == b']') {
            Some(end) => &authority[..=end],
            None => authority,
        };
    }
    match authority.iter().rposition(|&b| b == b':') {
        Some(i) => &authority[..i],
        None => authority,
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn host_of_strips_ports() {
        assert_eq!(host_of(b"api.example.com:8443"), b"api.example.com");
        assert_eq!(host_of(b"api.example.com"), b"api.example.com");
        assert_eq!(host_of(b"[::1]:80"), b"[::1]");
        assert_eq!(host_of(b"[::1]"), b"[::1]");
        assert_eq!(host_of(b"api.example.com."), b"api.example.com");
        assert_eq!(host_of(b"api.example.com.:8443"), b"api.example.com");
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
