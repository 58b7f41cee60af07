//! A denial that explains itself: which item of the request was refused and why, in words (the
//! debug log, `cors-lint explain`) and as a token for Envoy's response code details
//! (`%RESPONSE_CODE_DETAILS%`). Built only once a request is denied, borrowing the request; the
//! words are written only when displayed. The same words everywhere.

use std::fmt;

use super::{DenyReason, Policy, PreflightRequest};
use crate::logged::Logged;
use crate::method::is_forbidden;
use crate::origin::Origin;
use crate::token::is_token;

/// Why a request was denied. Borrowed and cheap to build: the words are only written when
/// displayed (a debug line that is off costs nothing), the response details when a reply needs
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denial<'a> {
    /// The category, which picks the counter.
    pub(crate) reason: DenyReason,
    /// `snake_case` code of the refusal (`header_not_allowed`, `invalid_origin`, ...).
    pub(crate) code: &'static str,
    /// The offending item as sent, when there is one.
    item: Option<&'a [u8]>,
    what: What<'a>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum What<'a> {
    NullOrigin,
    SeveralOrigins(usize),
    JoinedOrigins,
    InvalidOrigin(&'static str),
    OriginNotAllowed(&'a str),
    NoMethod,
    InvalidMethod,
    ForbiddenMethod,
    MethodNotAllowed(&'a str),
    HeadersTooLong,
    InvalidHeader,
    HeaderNotAllowed(&'a str),
}

/// Longest item carried in response details: they are meant for access logs.
const MAX_DETAILS_ITEM: usize = 64;

/// Words naming the offending item: `request header "x-foo" not allowed by top level (allow_headers)`.
impl fmt::Display for Denial<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let item = Logged(self.item.unwrap_or_default());
        match self.what {
            What::NullOrigin => f.write_str("origin \"null\" not allowed (allow_null_origin is not set)"),
            What::SeveralOrigins(n) => write!(f, "{n} Origin values (browsers send one)"),
            What::JoinedOrigins => write!(f, "several Origin values {item}"),
            What::InvalidOrigin(why) => write!(f, "invalid origin {item}: {why}"),
            What::OriginNotAllowed(policy) => write!(f, "origin {item} not allowed by {policy}"),
            What::NoMethod => f.write_str("no single Access-Control-Request-Method value"),
            What::InvalidMethod => write!(f, "invalid method {item}: not a token"),
            What::ForbiddenMethod => write!(f, "method {item} is forbidden (browsers never send it)"),
            What::MethodNotAllowed(policy) => write!(f, "method {item} not allowed by {policy} (allow_methods)"),
            What::HeadersTooLong => f.write_str("Access-Control-Request-Headers too long"),
            What::InvalidHeader => write!(f, "invalid request header name {item}"),
            What::HeaderNotAllowed(policy) => {
                write!(f, "request header {item} not allowed by {policy} (allow_headers)")
            }
        }
    }
}

impl<'a> Denial<'a> {
    fn new(reason: DenyReason, code: &'static str, item: Option<&'a [u8]>, what: What<'a>) -> Denial<'a> {
        Denial { reason, code, item, what }
    }

    /// Envoy's response code details for the local reply of a denied preflight:
    /// `cors_preflight_denied{header_not_allowed:x-foo}`. Envoy's rule is no whitespace; every
    /// byte outside a conservative set is percent-encoded, and the item is cut at 64 bytes.
    pub(crate) fn response_details(&self) -> String {
        let mut out = String::with_capacity(32 + 3 * MAX_DETAILS_ITEM);
        out.push_str("cors_preflight_denied{");
        out.push_str(self.code);
        if let Some(item) = self.item {
            out.push(':');
            for &b in item.iter().take(MAX_DETAILS_ITEM) {
                if b.is_ascii_alphanumeric() || b"-._~:/*+@!$&'()[]=".contains(&b) {
                    out.push(char::from(b));
                } else {
                    const HEX: &[u8; 16] = b"0123456789ABCDEF";
                    out.push('%');
                    out.push(char::from(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0')));
                    out.push(char::from(HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0')));
                }
            }
            if item.len() > MAX_DETAILS_ITEM {
                out.push_str("...");
            }
        }
        out.push('}');
        out
    }
}

impl Policy {
    /// Why this policy denies `origin` (one `Origin` value; several lines arrive joined with
    /// `,`). Call it only for an origin `check_origin` refused.
    pub fn origin_denial<'a>(&'a self, origin: &'a [u8]) -> Denial<'a> {
        let reason = DenyReason::Origin;
        if origin == b"null" {
            return Denial::new(reason, "origin_not_allowed", Some(origin), What::NullOrigin);
        }
        if origin.contains(&b',') {
            return Denial::new(reason, "several_origins", Some(origin), What::JoinedOrigins);
        }
        if Origin::parse(origin).is_none() {
            let why = Origin::invalid_reason(origin);
            return Denial::new(reason, "invalid_origin", Some(origin), What::InvalidOrigin(why));
        }
        Denial::new(reason, "origin_not_allowed", Some(origin), What::OriginNotAllowed(self.name()))
    }

    /// Why this policy denies a preflight `check_preflight` refused for `reason`.
    pub fn preflight_denial<'a>(&'a self, req: &PreflightRequest<'a>, reason: DenyReason) -> Denial<'a> {
        match reason {
            DenyReason::Origin => match req.origins {
                [one] => self.origin_denial(one),
                many => Denial::new(reason, "several_origins", None, What::SeveralOrigins(many.len())),
            },
            DenyReason::Method => {
                let m = req.method;
                if m.is_empty() {
                    Denial::new(reason, "invalid_method", None, What::NoMethod)
                } else if !is_token(m) {
                    Denial::new(reason, "invalid_method", Some(m), What::InvalidMethod)
                } else if is_forbidden(m) {
                    Denial::new(reason, "method_not_allowed", Some(m), What::ForbiddenMethod)
                } else {
                    Denial::new(reason, "method_not_allowed", Some(m), What::MethodNotAllowed(self.name()))
                }
            }
            DenyReason::Headers => match self.headers.first_refused(req.request_headers) {
                None => Denial::new(reason, "invalid_request_headers", None, What::HeadersTooLong),
                Some(name) if !is_token(name) => {
                    Denial::new(reason, "invalid_request_headers", Some(name), What::InvalidHeader)
                }
                Some(name) => {
                    Denial::new(reason, "header_not_allowed", Some(name), What::HeaderNotAllowed(self.name()))
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::routing::Config;

    fn config() -> Config {
        Config::from_json(r#"{"allow_origins":["https://a.example"],"allow_methods":["PUT"],"allow_headers":["x-a"]}"#)
            .unwrap()
    }

    fn preflight(origins: &[&[u8]], method: &[u8], headers: &[&[u8]]) -> (String, String, &'static str) {
        let config = config();
        let p = config.default_policy();
        let req = PreflightRequest { origins, method, request_headers: headers, private_network: false };
        let reason = p.check_preflight(&req).unwrap_err();
        let d = p.preflight_denial(&req, reason);
        (d.to_string(), d.response_details(), d.code)
    }

    #[test]
    fn denials_name_the_item_and_why() {
        let d = preflight(&[b"https://a.example"], b"PUT", &[b"x-a, X-Foo"]);
        assert_eq!(d.0, r#"request header "X-Foo" not allowed by top level (allow_headers)"#);
        assert_eq!(d.1, "cors_preflight_denied{header_not_allowed:X-Foo}");
        let d = preflight(&[b"https://a.example"], b"PATCH", &[]);
        assert_eq!(d.0, r#"method "PATCH" not allowed by top level (allow_methods)"#);
        assert_eq!(d.1, "cors_preflight_denied{method_not_allowed:PATCH}");
        let d = preflight(&[b"https://a.example/"], b"PUT", &[]);
        assert_eq!(d.0, r#"invalid origin "https://a.example/": trailing slash (browsers never send a path)"#);
        assert_eq!(d.1, "cors_preflight_denied{invalid_origin:https://a.example/}");
        let d = preflight(&[b"https://b.example"], b"PUT", &[]);
        assert_eq!(d.0, r#"origin "https://b.example" not allowed by top level"#);
        let d = preflight(&[b"https://a.example", b"https://a.example"], b"PUT", &[]);
        assert_eq!((d.2, d.1.as_str()), ("several_origins", "cors_preflight_denied{several_origins}"));
        let d = preflight(&[b"https://a.example"], b"PUT", &[b"x-a,bad name"]);
        assert_eq!(d.1, "cors_preflight_denied{invalid_request_headers:bad%20name}");
        for (origin, why) in [
            (&b"https://A.example"[..], "uppercase host"),
            (b"https://a.example:443", "default port"),
            (b"a.example", "no scheme://"),
            (b"https://a.example/x", "has a path"),
            (b"https://a.example:0", "invalid port"),
        ] {
            let config = config();
            let message = config.default_policy().origin_denial(origin).to_string();
            assert!(message.contains(why), "{}: {message}", String::from_utf8_lossy(origin));
        }
    }

    #[test]
    fn response_details_hold_no_whitespace_and_are_bounded() {
        let hostile = format!("https://a.example\r\n x{}", "y".repeat(500));
        let config = config();
        let d = config.default_policy().origin_denial(hostile.as_bytes());
        let details = d.response_details();
        assert!(!details.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()), "{details}");
        assert!(details.len() < 120, "{details}");
        assert!(!d.to_string().contains('\n'));
    }
}
