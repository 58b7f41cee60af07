//! A denial that explains itself: which item of the request was refused and why, in words (the
//! debug log, `cors-lint explain`) and as a token for Envoy's response code details
//! (`%RESPONSE_CODE_DETAILS%`). Built only once a request is denied, so the decisions stay
//! allocation-free; the same words everywhere.

use super::{DenyReason, Policy, PreflightRequest};
use crate::logged::Logged;
use crate::method::is_forbidden;
use crate::origin::Origin;
use crate::token::is_token;

/// Why a request was denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The category, which picks the counter.
    pub reason: DenyReason,
    /// Words naming the offending item: `request header "x-foo" not allowed`.
    pub message: String,
    /// `snake_case` code of the refusal (`header_not_allowed`, `invalid_origin`, ...).
    pub code: &'static str,
    /// The offending item as sent, when there is one.
    item: Option<Vec<u8>>,
}

/// Longest item carried in response details: they are meant for access logs.
const MAX_DETAILS_ITEM: usize = 64;

impl Denial {
    fn new(reason: DenyReason, code: &'static str, item: Option<&[u8]>, message: String) -> Denial {
        Denial { reason, message, code, item: item.map(<[u8]>::to_vec) }
    }

    /// Envoy's response code details for the local reply of a denied preflight:
    /// `cors_preflight_denied{header_not_allowed:x-foo}`. Envoy's rule is no whitespace; every
    /// byte outside a conservative set is percent-encoded, and the item is cut at 64 bytes.
    pub fn response_details(&self) -> String {
        let mut out = format!("cors_preflight_denied{{{}", self.code);
        if let Some(item) = &self.item {
            out.push(':');
            for &b in item.iter().take(MAX_DETAILS_ITEM) {
                if b.is_ascii_alphanumeric() || b"-._~:/*+@!$&'()[]=".contains(&b) {
                    out.push(char::from(b));
                } else {
                    out.push_str(&format!("%{b:02X}"));
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
    pub fn origin_denial(&self, origin: &[u8]) -> Denial {
        let reason = DenyReason::Origin;
        if origin == b"null" {
            let message = "origin \"null\" not allowed (allow_null_origin is not set)".to_owned();
            return Denial::new(reason, "origin_not_allowed", Some(origin), message);
        }
        if origin.contains(&b',') {
            let message = format!("several Origin values {}", Logged(origin));
            return Denial::new(reason, "several_origins", None, message);
        }
        if Origin::parse(origin).is_none() {
            let why = Origin::invalid_reason(origin);
            let message = format!("invalid origin {}: {why}", Logged(origin));
            return Denial::new(reason, "invalid_origin", Some(origin), message);
        }
        let message = format!("origin {} not allowed by {}", Logged(origin), self.name());
        Denial::new(reason, "origin_not_allowed", Some(origin), message)
    }

    /// Why this policy denies a preflight `check_preflight` refused for `reason`.
    pub fn preflight_denial(&self, req: &PreflightRequest<'_>, reason: DenyReason) -> Denial {
        match reason {
            DenyReason::Origin => match req.origins {
                [one] => self.origin_denial(one),
                many => {
                    let message = format!("{} Origin values (browsers send one)", many.len());
                    Denial::new(reason, "several_origins", None, message)
                }
            },
            DenyReason::Method => {
                let m = req.method;
                if m.is_empty() {
                    let message = "no single Access-Control-Request-Method value".to_owned();
                    Denial::new(reason, "invalid_method", None, message)
                } else if !is_token(m) {
                    let message = format!("invalid method {}: not a token", Logged(m));
                    Denial::new(reason, "invalid_method", Some(m), message)
                } else if is_forbidden(m) {
                    let message = format!("method {} is forbidden (browsers never send it)", Logged(m));
                    Denial::new(reason, "method_not_allowed", Some(m), message)
                } else {
                    let message = format!("method {} not allowed by {} (allow_methods)", Logged(m), self.name());
                    Denial::new(reason, "method_not_allowed", Some(m), message)
                }
            }
            DenyReason::Headers => match self.headers.first_refused(req.request_headers) {
                None => {
                    let message = "Access-Control-Request-Headers too long".to_owned();
                    Denial::new(reason, "invalid_request_headers", None, message)
                }
                Some(name) if !is_token(name) => {
                    let message = format!("invalid request header name {}", Logged(name));
                    Denial::new(reason, "invalid_request_headers", Some(name), message)
                }
                Some(name) => {
                    let message =
                        format!("request header {} not allowed by {} (allow_headers)", Logged(name), self.name());
                    Denial::new(reason, "header_not_allowed", Some(name), message)
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

    fn preflight(origins: &[&[u8]], method: &[u8], headers: &[&[u8]]) -> Denial {
        let config = config();
        let p = config.default_policy();
        let req = PreflightRequest { origins, method, request_headers: headers, private_network: false };
        let reason = p.check_preflight(&req).unwrap_err();
        p.preflight_denial(&req, reason)
    }

    #[test]
    fn denials_name_the_item_and_why() {
        let d = preflight(&[b"https://a.example"], b"PUT", &[b"x-a, X-Foo"]);
        assert_eq!(d.message, r#"request header "X-Foo" not allowed by top level (allow_headers)"#);
        assert_eq!(d.response_details(), "cors_preflight_denied{header_not_allowed:X-Foo}");
        let d = preflight(&[b"https://a.example"], b"PATCH", &[]);
        assert_eq!(d.message, r#"method "PATCH" not allowed by top level (allow_methods)"#);
        assert_eq!(d.response_details(), "cors_preflight_denied{method_not_allowed:PATCH}");
        let d = preflight(&[b"https://a.example/"], b"PUT", &[]);
        assert_eq!(d.message, r#"invalid origin "https://a.example/": trailing slash (browsers never send a path)"#);
        assert_eq!(d.response_details(), "cors_preflight_denied{invalid_origin:https://a.example/}");
        let d = preflight(&[b"https://b.example"], b"PUT", &[]);
        assert_eq!(d.message, r#"origin "https://b.example" not allowed by top level"#);
        let d = preflight(&[b"https://a.example", b"https://a.example"], b"PUT", &[]);
        assert_eq!(
            (d.code, d.response_details().as_str()),
            ("several_origins", "cors_preflight_denied{several_origins}")
        );
        let d = preflight(&[b"https://a.example"], b"PUT", &[b"x-a,bad name"]);
        assert_eq!(d.response_details(), "cors_preflight_denied{invalid_request_headers:bad%20name}");
        for (origin, why) in [
            (&b"https://A.example"[..], "uppercase host"),
            (b"https://a.example:443", "default port"),
            (b"a.example", "no scheme://"),
            (b"https://a.example/x", "has a path"),
            (b"https://a.example:0", "invalid port"),
        ] {
            let d = config().default_policy().origin_denial(origin);
            assert!(d.message.contains(why), "{}: {}", String::from_utf8_lossy(origin), d.message);
        }
    }

    #[test]
    fn response_details_hold_no_whitespace_and_are_bounded() {
        let hostile = format!("https://a.example\r\n x{}", "y".repeat(500));
        let d = config().default_policy().origin_denial(hostile.as_bytes());
        let details = d.response_details();
        assert!(!details.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()), "{details}");
        assert!(details.len() < 120, "{details}");
        assert!(!d.message.contains('\n'));
    }
}
