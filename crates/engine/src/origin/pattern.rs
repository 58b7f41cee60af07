//! Origin patterns as written in the configuration, validated and normalized at load time.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use super::punycode::{check_label, PunycodeError};
use super::serialized::{default_port, is_domain, parse_host, parse_port, serialize_ipv6, Host, MAX_HOST_LEN};

/// Which ports a pattern accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PortRule {
    /// No port in the origin (the scheme's default).
    Default,
    Exact(u16),
    /// `:*`: any port, the default one included.
    Any,
}

impl PortRule {
    pub(crate) fn accepts(&self, port: Option<u16>) -> bool {
        match self {
            PortRule::Default => port.is_none(),
            PortRule::Exact(p) => port == Some(*p),
            PortRule::Any => true,
        }
    }
}

/// One validated entry of `allow_origins`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OriginPattern {
    /// `*`: every origin.
    Any,
    /// A canonical serialized origin, e.g. `https://app.example.com:8443`.
    Exact(String),
    /// `https://*.example.com`: one or more labels before the suffix, never the apex.
    Subdomains {
        /// `http` or `https`.
        scheme: String,
        /// The domain after `*.`, e.g. `example.com`.
        suffix: String,
        /// The port the subdomains must use.
        port: PortRule,
    },
    /// `http://localhost:*`: one host, any port.
    AnyPort {
        /// `http` or `https`.
        scheme: String,
        /// The one host, canonical.
        host: String,
    },
}

impl OriginPattern {
    /// The scheme the pattern is for; `None` for `*`.
    pub(crate) fn scheme(&self) -> Option<&str> {
        match self {
            OriginPattern::Any => None,
            OriginPattern::Exact(s) => s.split_once("://").map(|(scheme, _)| scheme),
            OriginPattern::Subdomains { scheme, .. } | OriginPattern::AnyPort { scheme, .. } => Some(scheme),
        }
    }

    /// The host the pattern is for, without port (the suffix after `*.` for subdomains);
    /// `None` for `*`.
    pub(crate) fn host(&self) -> Option<&str> {
        match self {
            OriginPattern::Any => None,
            OriginPattern::Exact(s) => {
                let rest = s.split_once("://").map_or(s.as_str(), |(_, rest)| rest);
                crate::host_port::split_str(rest).map(|(host, _)| host)
            }
            OriginPattern::AnyPort { host, .. } => Some(host),
            OriginPattern::Subdomains { suffix, .. } => Some(suffix),
        }
    }
}

/// Why an origin pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PatternError(pub(crate) String);

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
pub(crate) fn parse_pattern(raw: &str) -> Result<OriginPattern, PatternError> {
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
    let Some((host, port)) = crate::host_port::split_str(rest) else {
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
        // The shortest host `*.` matches is one character, a dot and the suffix.
        if suffix.len() + 2 > MAX_HOST_LEN {
            return err(format!(
                "`*.{suffix}` can only match hosts longer than {MAX_HOST_LEN} characters (the shortest, \
                 `x.` and the suffix, is {}), the longest a DNS name, and an origin here, can be",
                suffix.len() + 2
            ));
        }
        check_a_labels(suffix)?;
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

/// Validates a host and returns it; an IPv6 address must be in the one form browsers serialize
/// (WHATWG URL: compressed, lowercase hex, an embedded IPv4 address in hex, never dotted).
fn canonical_host(host: &str) -> Result<String, PatternError> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let Ok(addr) = Ipv6Addr::from_str(inner) else {
            return err(format!("`{host}` is not a valid IPv6 address"));
        };
        let canonical = format!("[{}]", serialize_ipv6(addr).as_str());
        if canonical != host {
            let dotted = if inner.contains('.') {
                " (browsers write an embedded IPv4 address in hex, never dotted)"
            } else {
                ""
            };
            return err(format!("write IPv6 addresses as browsers serialize them: `{canonical}`{dotted}"));
        }
        return Ok(canonical);
    }
    match parse_host(host) {
        Some(Host::Domain(_)) => check_a_labels(host).map(|()| host.to_owned()),
        Some(_) => Ok(host.to_owned()),
        None if host.is_empty() => err("missing host"),
        None if host.ends_with('.') => err("trailing dot in host: browsers keep it, so it would be another origin"),
        None if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') => {
            err(format!("`{host}` is not a valid IPv4 address (four decimal parts, 0-255, no leading zeros)"))
        }
        None => err(format!("`{host}` is not a valid host name")),
    }
}

/// Every `xn--` label of a domain must be the Punycode of a non-ASCII label (see `punycode`).
fn check_a_labels(host: &str) -> Result<(), PatternError> {
    for label in host.split('.') {
        match check_label(label) {
            Ok(()) => {}
            Err(PunycodeError::Empty) => {
                return err(format!("`{label}` is not a valid punycode label: nothing follows `xn--`"))
            }
            Err(PunycodeError::Invalid) => {
                return err(format!(
                    "`{label}` is not valid punycode (RFC 3492), so it is the encoding of no internationalized \
                     name (and the URL Standard refuses a host holding it); write the punycode of the Unicode name"
                ))
            }
            Err(PunycodeError::AsciiOnly) => {
                let ascii = label.get(4..label.len() - 1).unwrap_or_default();
                return err(format!(
                    "`{label}` is punycode for the ASCII label `{ascii}`, which IDNA writes as itself \
                     (`{ascii}`): no internationalized name is encoded this way"
                ));
            }
        }
    }
    Ok(())
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
    fn ipv6_is_listed_as_browsers_serialize_it() {
        // WHATWG URL: an IPv4-mapped address in hex pieces, never dotted.
        assert_eq!(parse_pattern("http://[::ffff:7f7f:7f7f]:90"), Ok(exact("http://[::ffff:7f7f:7f7f]:90")));
        assert_eq!(parse_pattern("http://[::FFFF:7F7F:7F7F]:90"), Ok(exact("http://[::ffff:7f7f:7f7f]:90")));
        assert_eq!(
            parse_pattern("http://[::ffff:a00:1]:*"),
            Ok(OriginPattern::AnyPort { scheme: "http".into(), host: "[::ffff:a00:1]".into() })
        );
        assert_eq!(parse_pattern("http://[1:0:2:3:4:5:6:7]"), Ok(exact("http://[1:0:2:3:4:5:6:7]")));
        assert_eq!(parse_pattern("http://[1::2:0:0:3:4]"), Ok(exact("http://[1::2:0:0:3:4]")));
    }

    #[test]
    fn subdomain_patterns_must_be_able_to_match() {
        // `*.` + suffix matches `x.` + suffix at the shortest: at most 253 characters.
        let label = "a".repeat(63);
        let suffix = |len: usize| {
            let mut s = format!("{label}.{label}.{label}.{label}");
            s.truncate(len);
            s.trim_end_matches('.').to_owned()
        };
        let longest_ok = suffix(251);
        assert_eq!(longest_ok.len(), 251);
        assert!(parse_pattern(&format!("https://*.{longest_ok}")).is_ok());
        for len in [252, 253] {
            let s = suffix(len);
            assert_eq!(s.len(), len);
            let e = parse_pattern(&format!("https://*.{s}:8443")).unwrap_err();
            assert!(e.0.contains("longer than 253 characters") && e.0.contains(&format!("is {}", len + 2)), "{e}");
            // The same name listed exactly is a valid origin.
            assert!(parse_pattern(&format!("https://{s}")).is_ok());
        }
    }

    #[test]
    fn punycode_labels_must_decode() {
        for ok in [
            "https://xn--bcher-kva.example",
            "https://*.xn--p1ai",
            "https://app.xn--80ak6aa92e.com:8443",
            "http://XN--BCHER-KVA.example:*",
        ] {
            assert!(parse_pattern(ok).is_ok(), "{ok}");
        }
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
            ("http://[0:0:0:0:0:0:0:1]:4000", "`[::1]`"),
            ("http://[::0001]", "`[::1]`"),
            ("http://[::127.0.0.1]", "`[::7f00:1]`"),
            ("http://[::ffff:127.127.127.127]:90", "`[::ffff:7f7f:7f7f]` (browsers write an embedded IPv4"),
            ("http://[1::2:3:4:5:6:7]", "`[1:0:2:3:4:5:6:7]`"),
            ("https://xn--", "nothing follows `xn--`"),
            ("https://xn--f.example", "`xn--f` is not valid punycode"),
            ("https://app.xn--zz.example:8443", "`xn--zz` is not valid punycode"),
            ("http://xn--bcher-kv.example:*", "not valid punycode"),
            ("https://*.xn--bcher-k_a.example", "not valid punycode"),
            ("https://xn--abc-.example", "ASCII label `abc`"),
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
