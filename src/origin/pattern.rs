//! Origin patterns as written in the configuration, validated and normalized at load time.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use super::serialized::{default_port, is_domain, parse_host, parse_port, split_host_port, Host};

/// Which ports a pattern accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortRule {
    /// No port in the origin (the scheme's default).
    Default,
    Exact(u16),
    /// `:*`: any port, the default one included.
    Any,
}

impl PortRule {
    pub fn accepts(&self, port: Option<u16>) -> bool {
        match self {
            PortRule::Default => port.is_none(),
            PortRule::Exact(p) => port == Some(*p),
            PortRule::Any => true,
        }
    }
}

/// One validated entry of `allow_origins`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPattern {
    /// `*`: every origin.
    Any,
    /// A canonical serialized origin, e.g. `https://app.example.com:8443`.
    Exact(String),
    /// `https://*.example.com`: one or more labels before the suffix, never the apex.
    Subdomains {
        scheme: String,
        /// The domain after `*.`, e.g. `example.com`.
        suffix: String,
        port: PortRule,
    },
    /// `http://localhost:*`: one host, any port.
    AnyPort { scheme: String, host: String },
}

impl OriginPattern {
    /// The scheme the pattern is for; `None` for `*`.
    pub fn scheme(&self) -> Option<&str> {
        match self {
            OriginPattern::Any => None,
            OriginPattern::Exact(s) => s.split_once("://").map(|(scheme, _)| scheme),
            OriginPattern::Subdomains { scheme, .. } | OriginPattern::AnyPort { scheme, .. } => Some(scheme),
        }
    }
}

/// Why an origin pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError(pub String);

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, PatternError> {
    Err(PatternError(msg.into()))
}

/// Parses one `allow_origins` entry. Scheme and host are case-insensitive, so they are
/// lowercased; everything else that a browser would never send is an error.
pub fn parse_pattern(raw: &str) -> Result<OriginPattern, PatternError> {
    if raw == "*" {
        return Ok(OriginPattern::Any);
    }
    if raw.eq_ignore_ascii_case("null") {
        return err(
            "`null` cannot be listed as an origin (sandboxed and file: documents share it); use `allow_null_origin`",
        );
    }
    if !raw.is_ascii() {
        return err("non-ASCII origin: write internationalized hosts in punycode (xn--...)");
    }
    if raw.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
        return err("whitespace or control characters in origin");
    }
    let lower = raw.to_ascii_lowercase();
    let Some((scheme, rest)) = lower.split_once("://") else {
        return err("missing scheme: write it as `https://host[:port]`");
    };
    if scheme != "http" && scheme != "https" {
        return err(format!("scheme `{scheme}` is not allowed: only http and https origins can be listed"));
    }
    if rest.contains('@') {
        return err("userinfo (`user@`) is not part of an origin");
    }
    if rest.contains('/') {
        return err("an origin has no path, not even a trailing slash");
    }
    if rest.contains('?') || rest.contains('#') {
        return err("an origin has no query or fragment");
    }
    if rest.contains('%') {
        return err("percent-encoding is not part of a serialized origin");
    }
    let Some((host, port)) = split_host_port(rest) else {
        return err("malformed host or port");
    };
    let port = match port {
        None => PortRule::Default,
        Some("*") => PortRule::Any,
        Some(p) => match parse_port(p) {
            Some(n) if Some(n) == default_port(scheme) => {
                return err(format!("explicit default port :{n}: browsers never send it, write `{scheme}://{host}`"))
            }
            Some(n) => PortRule::Exact(n),
            None => return err(format!("port `{p}` is not a number from 1 to 65535 (without leading zeros)")),
        },
    };
    if let Some(suffix) = host.strip_prefix("*.") {
        if suffix.contains('*') {
            return err("`*` is only allowed as the whole leftmost label (`*.example.com`) or as the port (`:*`)");
        }
        if !is_domain(suffix) || parse_host(suffix) != Some(Host::Domain(suffix)) {
            return err(format!("`{suffix}` after `*.` is not a valid domain name"));
        }
        return Ok(OriginPattern::Subdomains { scheme: scheme.to_owned(), suffix: suffix.to_owned(), port });
    }
    if host.contains('*') {
        return err("`*` is only allowed as the whole leftmost label (`*.example.com`) or as the port (`:*`)");
    }
    let canonical_host = canonical_host(host)?;
    match port {
        PortRule::Any => Ok(OriginPattern::AnyPort { scheme: scheme.to_owned(), host: canonical_host }),
        PortRule::Default => Ok(OriginPattern::Exact(format!("{scheme}://{canonical_host}"))),
        PortRule::Exact(n) => Ok(OriginPattern::Exact(format!("{scheme}://{canonical_host}:{n}"))),
    }
}

/// Validates a host and returns the form browsers serialize (IPv6 compressed per RFC 5952).
fn canonical_host(host: &str) -> Result<String, PatternError> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let Ok(addr) = Ipv6Addr::from_str(inner) else {
            return err(format!("`{host}` is not a valid IPv6 address"));
        };
        let canonical = format!("[{addr}]");
        if canonical != host {
            return err(format!("write IPv6 addresses as browsers serialize them: `{canonical}`"));
        }
        return Ok(canonical);
    }
    match parse_host(host) {
        Some(_) => Ok(host.to_owned()),
        None if host.is_empty() => err("missing host"),
        None if host.ends_with('.') => err("trailing dot in host: browsers keep it, so it would be another origin"),
        None if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') => {
            err(format!("`{host}` is not a valid IPv4 address (four decimal parts, 0-255, no leading zeros)"))
        }
        None => err(format!("`{host}` is not a valid host name")),
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn exact(s: &str) -> OriginPattern {
        OriginPattern::Exact(s.to_owned())
    }

    #[test]
    fn valid_patterns() {
        assert_eq!(parse_pattern("*"), Ok(OriginPattern::Any));
        assert_eq!(parse_pattern("https://app.example.com"), Ok(exact("https://app.example.com")));
        assert_eq!(parse_pattern("HTTPS://App.Example.COM"), Ok(exact("https://app.example.com")));
        assert_eq!(parse_pattern("http://localhost:3000"), Ok(exact("http://localhost:3000")));
        assert_eq!(parse_pattern("http://[::1]:8080"), Ok(exact("http://[::1]:8080")));
        assert_eq!(parse_pattern("http://127.0.0.1"), Ok(exact("http://127.0.0.1")));
        assert_eq!(
            parse_pattern("https://*.example.com"),
            Ok(OriginPattern::Subdomains {
                scheme: "https".into(),
                suffix: "example.com".into(),
                port: PortRule::Default
            })
        );
        assert_eq!(
            parse_pattern("https://*.example.com:8443"),
            Ok(OriginPattern::Subdomains {
                scheme: "https".into(),
                suffix: "example.com".into(),
                port: PortRule::Exact(8443)
            })
        );
        assert_eq!(
            parse_pattern("http://localhost:*"),
            Ok(OriginPattern::AnyPort { scheme: "http".into(), host: "localhost".into() })
        );
    }

    #[test]
    fn invalid_patterns_say_why() {
        let cases = [
            ("null", "allow_null_origin"),
            ("NULL", "allow_null_origin"),
            ("app.example.com", "missing scheme"),
            ("file:///etc", "scheme `file`"),
            ("ftp://a.com", "scheme `ftp`"),
            ("https://a.com/", "trailing slash"),
            ("https://a.com/x", "path"),
            ("https://a.com?x=1", "query"),
            ("https://user@a.com", "userinfo"),
            ("https://caf\u{e9}.com", "punycode"),
            ("https://a.com:0", "port `0`"),
            ("https://a.com:65536", "port `65536`"),
            ("https://a.com:443", "default port"),
            ("http://a.com:80", "default port"),
            ("https://a.com.", "trailing dot"),
            ("https://999.1.1.1", "IPv4"),
            ("https://01.1.1.1", "IPv4"),
            ("http://[::0:1]", "[::1]"),
            ("http://[zz]", "IPv6"),
            ("https://a*.com", "leftmost label"),
            ("https://*.*.com", "leftmost label"),
            ("https://a.*.com", "leftmost label"),
            ("https://*", "leftmost label"),
            ("*.example.com", "missing scheme"),
            ("https://*.", "not a valid domain"),
            ("https://*.1.2.3.4", "not a valid domain"),
            ("https://a.com:x", "port `x`"),
            ("https://a%2e.com", "percent"),
            (" https://a.com", "whitespace"),
            ("https://", "missing host"),
        ];
        for (raw, why) in cases {
            match parse_pattern(raw) {
                Ok(p) => panic!("{raw:?} accepted as {p:?}"),
                Err(e) => assert!(e.0.contains(why), "{raw:?}: {e} should mention {why:?}"),
            }
        }
    }
}
