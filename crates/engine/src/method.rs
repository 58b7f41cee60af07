//! `allow_methods`: validation at load, the precomputed `Access-Control-Allow-Methods` value,
//! and the check of `Access-Control-Request-Method`.

use crate::config::{ItemError, Rule};
use crate::token::is_token;

/// Methods browsers refuse to send (Fetch "forbidden method"); listing them is a mistake.
const FORBIDDEN: [&str; 3] = ["CONNECT", "TRACE", "TRACK"];
/// Methods Fetch normalizes to uppercase; any case in the config means the same method.
const NORMALIZED: [&str; 6] = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];
/// CORS-safelisted methods: always allowed, browsers never check them against ACAM.
const SAFELISTED: [&str; 3] = ["GET", "HEAD", "POST"];

/// CONNECT, TRACE and TRACK (any case): methods browsers never send cross-origin.
pub(crate) fn is_forbidden(method: &[u8]) -> bool {
    FORBIDDEN.iter().any(|f| f.as_bytes().eq_ignore_ascii_case(method))
}

/// `allow_methods`, compiled: the methods a preflight may ask for and the `Access-Control-Allow-Methods` that answers it.
#[derive(Debug, Default)]
pub(crate) struct AllowedMethods {
    any: bool,
    /// `*` with credentials: browsers read a `*` answer as the literal method `*`, so an allowed
    /// preflight is answered with the method it asked for.
    echo: bool,
    /// As compared: case-sensitive, the six Fetch-normalized methods uppercased.
    methods: Vec<Box<str>>,
    header_value: Option<Box<str>>,
}

impl AllowedMethods {
    /// Compiles `allow_methods`; on error returns the index of the bad entry and why.
    /// Validates `allow_methods`; every refused element is reported.
    pub(crate) fn compile(raw: &[String], credentials: bool) -> Result<Self, Vec<ItemError>> {
        let mut any = false;
        let mut methods: Vec<Box<str>> = Vec::new();
        let mut errors = Vec::new();
        for (i, m) in raw.iter().enumerate() {
            if m == "*" {
                any = true;
                continue;
            }
            if !is_token(m.as_bytes()) {
                errors.push(ItemError::new(i, Rule::Method, "not an HTTP method (must be an RFC 9110 token)"));
                continue;
            }
            if is_forbidden(m.as_bytes()) {
                errors.push(ItemError::new(
                    i,
                    Rule::Method,
                    "forbidden method: browsers never send CONNECT, TRACE or TRACK",
                ));
                continue;
            }
            let m = match NORMALIZED.iter().find(|n| n.eq_ignore_ascii_case(m)) {
                Some(n) => (*n).to_owned(),
                None => m.clone(),
            };
            if !methods.iter().any(|x| **x == *m) {
                methods.push(m.into_boxed_str());
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let echo = any && credentials;
        let header_value = if echo {
            None
        } else if any {
            Some("*".into())
        } else {
            // Chromium compares non-normalized methods uppercased against this list, the spec
            // compares them as sent: list both spellings ("How to win at CORS").
            let mut listed: Vec<&str> = Vec::new();
            let upper: Vec<String> = methods.iter().map(|m| m.to_ascii_uppercase()).collect();
            for (m, u) in methods.iter().zip(upper.iter()) {
                for v in [&**m, u.as_str()] {
                    if !listed.contains(&v) {
                        listed.push(v);
                    }
                }
            }
            (!listed.is_empty()).then(|| listed.join(",").into_boxed_str())
        };
        Ok(AllowedMethods { any, echo, methods, header_value })
    }

    /// Is `Access-Control-Request-Method: requested` allowed? Case-sensitive, as Fetch is.
    pub(crate) fn allows(&self, requested: &[u8]) -> bool {
        if !is_token(requested) || is_forbidden(requested) {
            return false;
        }
        SAFELISTED.iter().any(|s| s.as_bytes() == requested)
            || self.any
            || self.methods.iter().any(|m| m.as_bytes() == requested)
    }

    /// The `Access-Control-Allow-Methods` value, if any method beyond the safelisted ones is
    /// allowed and it does not depend on the request (see `echoes`).
    pub(crate) fn header_value(&self) -> Option<&str> {
        self.header_value.as_deref()
    }

    /// True when an allowed preflight is answered with the method it requested (`*` with
    /// credentials): the requested method passed `allows`, so it is a token and not forbidden.
    pub(crate) fn echoes(&self) -> bool {
        self.echo
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn compile(list: &[&str], credentials: bool) -> Result<AllowedMethods, Vec<ItemError>> {
        AllowedMethods::compile(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>(), credentials)
    }

    #[test]
    fn safelisted_always_allowed() {
        let m = compile(&[], false).unwrap();
        for ok in ["GET", "HEAD", "POST"] {
            assert!(m.allows(ok.as_bytes()), "{ok}");
        }
        assert!(!m.allows(b"PUT"));
        assert!(!m.allows(b"get"), "case-sensitive");
        assert_eq!(m.header_value(), None);
    }

    #[test]
    fn configured_methods_normalized_and_case_sensitive() {
        let m = compile(&["put", "DELETE", "patch", "PUT"], false).unwrap();
        assert!(m.allows(b"PUT") && m.allows(b"DELETE") && m.allows(b"patch"));
        assert!(!m.allows(b"put"), "browsers normalize put to PUT");
        assert!(!m.allows(b"PATCH"), "patch was configured lowercase; Fetch compares case-sensitively");
        assert_eq!(m.header_value(), Some("PUT,DELETE,patch,PATCH"));
    }

    #[test]
    fn wildcard() {
        let m = compile(&["*"], false).unwrap();
        assert!(m.allows(b"PURGE") && m.allows(b"patch"));
        assert!(!m.allows(b"TRACE") && !m.allows(b"GET, DELETE") && !m.allows(b""));
        assert_eq!(m.header_value(), Some("*"));
        assert!(!m.echoes());
    }

    #[test]
    fn wildcard_with_credentials_echoes_the_request() {
        let m = compile(&["*"], true).unwrap();
        assert!(m.echoes());
        assert_eq!(m.header_value(), None, "`*` is a literal method to a credentialed request");
        assert!(m.allows(b"PURGE") && m.allows(b"patch") && m.allows(b"GET"));
        assert!(!m.allows(b"TRACE") && !m.allows(b"connect") && !m.allows(b"GET, DELETE") && !m.allows(b""));
        assert!(!compile(&["PUT"], true).unwrap().echoes());
    }

    #[test]
    fn invalid_methods() {
        assert_eq!(compile(&["GET", "TRACE"], false).unwrap_err()[0].index, 1);
        assert_eq!(compile(&["TRACE", "P T", "*", ""], true).unwrap_err().len(), 3, "every element reported");
        assert!(compile(&["connect"], false).unwrap_err()[0].reason.contains("forbidden"));
        assert!(compile(&["track"], false).is_err());
        assert!(compile(&["GET, PUT"], false).unwrap_err()[0].reason.contains("token"));
        assert!(compile(&[""], false).is_err());
        assert!(compile(&["P\u{fc}T"], false).is_err());
    }

    #[test]
    fn request_method_must_be_a_token() {
        let m = compile(&["PUT", "DELETE"], false).unwrap();
        for bad in [&b"GET, DELETE"[..], b"PUT ", b"", b"PU\x00T", b"\xffPUT"] {
            assert!(!m.allows(bad), "{bad:?}");
        }
    }
}
