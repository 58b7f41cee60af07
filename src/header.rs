//! `allow_headers` and `expose_headers`: validation at load, precomputed header values, and
//! the bounded scan of `Access-Control-Request-Headers`.

use std::collections::HashSet;

use crate::token::is_token;

/// Names whose safelisting depends only on their value (Fetch "CORS-safelisted request-header").
/// A browser lists them in ACRH only for an unusual value; for an allowed origin we accept them
/// without configuration, as most CORS libraries do.
pub const SAFELISTED_REQUEST: [&str; 4] = ["accept", "accept-language", "content-language", "content-type"];

/// Fetch "forbidden request-header" names: a browser never lets a script set them.
const FORBIDDEN_REQUEST: [&str; 21] = [
    "accept-charset",
    "accept-encoding",
    "access-control-request-headers",
    "access-control-request-method",
    "connection",
    "content-length",
    "cookie",
    "cookie2",
    "date",
    "dnt",
    "expect",
    "host",
    "keep-alive",
    "origin",
    "referer",
    "set-cookie",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "via",
];

/// Fetch "forbidden response-header" names: never exposed to scripts.
const FORBIDDEN_RESPONSE: [&str; 2] = ["set-cookie", "set-cookie2"];

/// Longest header name accepted in the configuration (and so the only lengths worth looking up).
pub const MAX_NAME_LEN: usize = 128;

/// Most bytes of `Access-Control-Request-Headers` the filter reads; larger is denied. Envoy's
/// default limit for all request headers is 60 KiB, so this only bites on raised limits.
pub const MAX_REQUEST_HEADERS_LEN: usize = 64 * 1024;

fn is_forbidden_request(name: &str) -> bool {
    FORBIDDEN_REQUEST.contains(&name) || name.starts_with("proxy-") || name.starts_with("sec-")
}

/// Validates a configured header name and returns it lowercased.
fn header_name(raw: &str) -> Result<String, String> {
    if !is_token(raw.as_bytes()) {
        return Err("not a header name (must be an RFC 9110 token)".into());
    }
    if raw.len() > MAX_NAME_LEN {
        return Err(format!("header names longer than {MAX_NAME_LEN} bytes are not accepted"));
    }
    Ok(raw.to_ascii_lowercase())
}

#[derive(Debug, Default)]
pub struct AllowedHeaders {
    any: bool,
    /// Lowercase names, the safelisted ones included.
    names: HashSet<Box<str>>,
    header_value: Option<Box<str>>,
}

impl AllowedHeaders {
    pub fn compile(raw: &[String], credentials: bool) -> Result<Self, (usize, String)> {
        let mut any = false;
        let mut listed: Vec<String> = Vec::new();
        for (i, h) in raw.iter().enumerate() {
            if h == "*" {
                if credentials {
                    return Err((
                        i,
                        "`*` is a literal header name when credentials are allowed: list the headers".into(),
                    ));
                }
                any = true;
                continue;
            }
            let name = header_name(h).map_err(|e| (i, e))?;
            if is_forbidden_request(&name) {
                return Err((i, "forbidden request header: browsers never let scripts set it".into()));
            }
            if !listed.contains(&name) {
                listed.push(name);
            }
        }
        let header_value = if any {
            // `*` never covers Authorization (Fetch): it must be named to be allowed.
            Some(if listed.iter().any(|n| n == "authorization") { "*,authorization" } else { "*" }.into())
        } else {
            let mut all: Vec<&str> = listed.iter().map(String::as_str).collect();
            for s in SAFELISTED_REQUEST {
                if !all.contains(&s) {
                    all.push(s);
                }
            }
            Some(all.join(",").into_boxed_str())
        };
        let mut names: HashSet<Box<str>> = listed.into_iter().map(String::into_boxed_str).collect();
        names.extend(SAFELISTED_REQUEST.iter().map(|s| Box::from(*s)));
        Ok(AllowedHeaders { any, names, header_value })
    }

    /// Checks every name of every `Access-Control-Request-Headers` line. Accepts any case,
    /// optional whitespace and empty elements; refuses non-tokens. One pass, one lookup per
    /// name, no allocation; stops at the first name that is not allowed.
    pub fn allows_request<'a>(&self, lines: impl IntoIterator<Item = &'a [u8]>) -> bool {
        let mut seen = 0usize;
        for line in lines {
            seen += line.len();
            if seen > MAX_REQUEST_HEADERS_LEN {
                return false;
            }
            for item in line.split(|&b| b == b',') {
                let name = item.trim_ascii();
                if name.is_empty() {
                    continue;
                }
                if !is_token(name) || !self.allows_name(name) {
                    return false;
                }
            }
        }
        true
    }

    fn allows_name(&self, name: &[u8]) -> bool {
        if self.any && !name.eq_ignore_ascii_case(b"authorization") {
            return true;
        }
        if name.len() > MAX_NAME_LEN {
            return false;
        }
        let mut buf = [0u8; MAX_NAME_LEN];
        let lower = &mut buf[..name.len()];
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        // Tokens are ASCII, so this never fails.
        std::str::from_utf8(lower).is_ok_and(|n| self.names.contains(n))
    }

    /// The `Access-Control-Allow-Headers` value sent on allowed preflights.
    pub fn header_value(&self) -> Option<&str> {
        self.header_value.as_deref()
    }
}

/// Compiles `expose_headers` into the `Access-Control-Expose-Headers` value.
pub fn compile_expose(raw: &[String], credentials: bool) -> Result<Option<Box<str>>, (usize, String)> {
    let mut listed: Vec<String> = Vec::new();
    for (i, h) in raw.iter().enumerate() {
        if h == "*" {
            if credentials {
                return Err((i, "`*` is a literal header name when credentials are allowed: list the headers".into()));
            }
            listed.push("*".into());
            continue;
        }
        let name = header_name(h).map_err(|e| (i, e))?;
        if FORBIDDEN_RESPONSE.contains(&name.as_str()) {
            return Err((i, "forbidden response header: browsers never expose Set-Cookie".into()));
        }
        if !listed.contains(&name) {
            listed.push(name);
        }
    }
    Ok((!listed.is_empty()).then(|| listed.join(",").into_boxed_str()))
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn compile(list: &[&str], credentials: bool) -> AllowedHeaders {
        AllowedHeaders::compile(&strings(list), credentials).unwrap()
    }

    fn allows(h: &AllowedHeaders, lines: &[&str]) -> bool {
        h.allows_request(lines.iter().map(|l| l.as_bytes()))
    }

    #[test]
    fn parsing_is_lenient_in_form_strict_in_content() {
        let h = compile(&["X-Custom", "x-other"], false);
        assert!(allows(&h, &["x-custom"]));
        assert!(allows(&h, &["X-CUSTOM,X-Other"]));
        assert!(allows(&h, &[" x-custom ,\tx-other\t"]));
        assert!(allows(&h, &[",,x-custom,,"]));
        assert!(allows(&h, &["x-custom", "x-other"]), "several header lines");
        assert!(allows(&h, &[""]), "empty list");
        assert!(allows(&h, &["content-type,accept"]), "safelisted names");
        assert!(!allows(&h, &["x-custom,x-evil"]));
        assert!(!allows(&h, &["x-custom", "x-evil"]));
        assert!(!allows(&h, &["x custom"]), "not a token");
        assert!(!allows(&h, &["x-custom\r\nx-evil"]));
        assert!(!allows(&h, &["authorization"]));
        assert_eq!(h.header_value(), Some("x-custom,x-other,accept,accept-language,content-language,content-type"));
    }

    #[test]
    fn wildcard_never_covers_authorization() {
        let h = compile(&["*"], false);
        assert!(allows(&h, &["x-anything,x-else"]));
        assert!(!allows(&h, &["x-anything,Authorization"]));
        assert_eq!(h.header_value(), Some("*"));
        let h = compile(&["*", "authorization"], false);
        assert!(allows(&h, &["x-anything,authorization"]));
        assert_eq!(h.header_value(), Some("*,authorization"));
        assert!(AllowedHeaders::compile(&strings(&["*"]), true).is_err());
    }

    #[test]
    fn work_is_bounded() {
        let h = compile(&["x-a"], false);
        let many = vec!["x-a"; 1000].join(",");
        assert!(allows(&h, &[&many]));
        let huge = "x-a,".repeat(MAX_REQUEST_HEADERS_LEN / 4 + 1);
        assert!(!allows(&h, &[&huge]));
        let long_name = "x".repeat(MAX_NAME_LEN + 1);
        assert!(!allows(&h, &[&long_name]));
    }

    #[test]
    fn config_errors() {
        let e = |list: &[&str]| AllowedHeaders::compile(&strings(list), false).unwrap_err();
        assert_eq!(e(&["x-ok", "bad name"]).0, 1);
        assert!(e(&["Cookie"]).1.contains("forbidden"));
        assert!(e(&["proxy-authorization"]).1.contains("forbidden"));
        assert!(e(&["Sec-Fetch-Mode"]).1.contains("forbidden"));
        assert!(e(&["origin"]).1.contains("forbidden"));
        assert!(e(&[&"x".repeat(200)]).1.contains("longer"));
    }

    #[test]
    fn expose_headers() {
        assert_eq!(
            compile_expose(&strings(&["X-Total", "x-total", "ETag"]), false).unwrap().as_deref(),
            Some("x-total,etag")
        );
        assert_eq!(compile_expose(&[], false).unwrap(), None);
        assert_eq!(compile_expose(&strings(&["*"]), false).unwrap().as_deref(), Some("*"));
        assert!(compile_expose(&strings(&["*"]), true).is_err());
        assert!(compile_expose(&strings(&["Set-Cookie"]), false).unwrap_err().1.contains("forbidden"));
        assert!(compile_expose(&strings(&["a b"]), false).is_err());
    }
}
