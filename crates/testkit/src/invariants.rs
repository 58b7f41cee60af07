//! Invariants every answer of the filter must keep, whatever the request: shared by the attack
//! suite, the property tests, the fuzz-corpus replay and the fuzz targets (through `fuzz_checks`).
//!
//! They are written independently of the engine (their own origin syntax check), so a bug in
//! the engine's parser cannot hide itself here.
use cors_engine::simulate::Outcome;

/// A request as header lines (name, raw bytes), pseudo-headers included.
pub type Lines = Vec<(String, Vec<u8>)>;

/// Borrowed form for `simulate::run`.
pub fn borrow(lines: &Lines) -> Vec<(&str, &[u8])> {
    lines.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect()
}

/// RFC 9110 `tchar`.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A header value the filter may emit: visible ASCII, space and tab, no CR/LF or other
/// control bytes, no leading or trailing whitespace.
pub fn is_valid_value(v: &str) -> bool {
    v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
        && !v.starts_with([' ', '\t'])
        && !v.ends_with([' ', '\t'])
}

/// A browser-serialized origin: lowercase scheme, `://`, a lowercase LDH domain, a dotted IPv4
/// or a bracketed IPv6, and an optional port 1..=65535 without leading zero.
pub fn is_serialized_origin(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    let scheme_ok = scheme.len() <= 32
        && scheme.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && scheme.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
    if !scheme_ok {
        return false;
    }
    let (host, port) = if rest.starts_with('[') {
        let Some(end) = rest.find(']') else {
            return false;
        };
        let (h, after) = rest.split_at(end + 1);
        let inner = &h[1..h.len() - 1];
        if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_digit() || b"abcdef:.".contains(&b)) {
            return false;
        }
        match after {
            "" => (h, None),
            a => match a.strip_prefix(':') {
                Some(p) => (h, Some(p)),
                None => return false,
            },
        }
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    if let Some(inner) = host.strip_prefix('[') {
        // Only the WHATWG URL serialization: RFC 5952 (Rust's `Display`), except that an
        // IPv4-mapped address keeps hex pieces (`::ffff:7f7f:7f7f`, not `::ffff:127.127.127.127`).
        let Some(addr) = inner.strip_suffix(']').and_then(|a| a.parse::<std::net::Ipv6Addr>().ok()) else {
            return false;
        };
        let canonical = match addr.to_ipv4_mapped() {
            Some(v4) => {
                let [a, b, c, d] = v4.octets();
                format!("::ffff:{:x}:{:x}", u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]))
            }
            None => addr.to_string(),
        };
        if canonical != inner[..inner.len() - 1] {
            return false;
        }
    } else if host.rsplit('.').next().is_some_and(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit())) {
        // A host whose last label is numeric is an IPv4 address (WHATWG URL): dotted-decimal only.
        if host.parse::<std::net::Ipv4Addr>().is_err() {
            return false;
        }
    } else {
        let labels_ok = !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            });
        if !labels_ok {
            return false;
        }
    }
    match port {
        None => true,
        Some(p) => {
            !p.is_empty()
                && !p.starts_with('0')
                && p.len() <= 5
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n))
        }
    }
}

/// Every value of `name` among `headers` (case-insensitive name).
pub fn values<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
}

/// The invariants of one answer. `request` is what was sent; `may_reflect` says whether an
/// origin may legitimately be echoed by this configuration (the case's own model of the
/// policy); upstream headers must be clean (no `access-control-*`).
pub fn check(request: &[(&str, &[u8])], out: &Outcome, may_reflect: &dyn Fn(&str) -> bool) -> Result<(), String> {
    let headers = out.client_headers();
    // Every header name is a token, every value valid, no name twice.
    for (i, (name, value)) in headers.iter().enumerate() {
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(format!("invalid header name {name:?}"));
        }
        if !is_valid_value(value) {
            return Err(format!("invalid value for {name}: {value:?}"));
        }
        if headers[..i].iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return Err(format!("header {name} appears twice: {headers:?}"));
        }
    }
    let origins: Vec<&[u8]> =
        request.iter().filter(|(k, _)| k.eq_ignore_ascii_case("origin")).map(|(_, v)| *v).collect();
    let acao = values(headers, "access-control-allow-origin");
    let acac = values(headers, "access-control-allow-credentials");
    if let Some(&a) = acao.first() {
        // `*` is a static answer, sent on every response (Fetch, "CORS protocol and HTTP
        // caches"); anything else names the request's origin.
        if origins.is_empty() && a != "*" {
            return Err(format!("ACAO {a:?} without an Origin in the request"));
        }
        if a != "*" {
            if !origins.contains(&a.as_bytes()) {
                return Err(format!("ACAO {a:?} is not the request's Origin {origins:?}"));
            }
            if a != "null" && !is_serialized_origin(a) {
                return Err(format!("ACAO {a:?} is not a serialized origin"));
            }
            if !may_reflect(a) {
                return Err(format!("reflected an origin the policy does not list: {a:?}"));
            }
        }
    }
    if !acac.is_empty() {
        if acac != ["true"] {
            return Err(format!("ACAC must be `true`: {acac:?}"));
        }
        match acao.first() {
            None => return Err("ACAC without ACAO".into()),
            Some(&"*") => return Err("`*` together with access-control-allow-credentials: true".into()),
            Some(_) => {}
        }
        for name in ["access-control-allow-methods", "access-control-allow-headers", "access-control-expose-headers"] {
            if values(headers, name).iter().any(|v| v.split(',').any(|t| t.trim() == "*")) {
                return Err(format!("{name} holds `*` with credentials"));
            }
        }
    }
    if let Some((status, h)) = &out.local_reply {
        if ![200, 204, 403].contains(status) {
            return Err(format!("unexpected local reply status {status}"));
        }
        if *status == 403 && h.iter().any(|(k, _)| k.to_ascii_lowercase().starts_with("access-control-")) {
            return Err(format!("a rejected preflight carries CORS headers: {h:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_syntax_model() {
        for ok in [
            "https://a.com",
            "http://localhost:3000",
            "http://[::1]:8080",
            "http://[::ffff:7f7f:7f7f]:90",
            "http://[::ffff:0:0]",
            "http://[2001:db8::1]",
            "http://127.0.0.1",
            "https://a_b.c",
        ] {
            assert!(is_serialized_origin(ok), "{ok}");
        }
        for bad in [
            "null",
            "https://A.com",
            "https://a.com/",
            "https://a.com:0",
            "https://a.com:65536",
            "https://a.com:080",
            "https://a..com",
            "https://a.com.",
            "https://u@a.com",
            "HTTPS://a.com",
            "https://a.com\r\n",
            "https://",
            "http://[0:0:0:0:0:0:0:1]",
            "http://[::0001]",
            "http://[::127.0.0.1]",
            "http://[::ffff:127.127.127.127]:90",
        ] {
            assert!(!is_serialized_origin(bad), "{bad}");
        }
    }
}
