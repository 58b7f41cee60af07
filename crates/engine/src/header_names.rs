//! Header names the rules speak of (Fetch's forbidden, request-only and response-only
//! names) and the validation of a configured name: shared by `allow_headers` and
//! `expose_headers`.

use crate::config::{ItemError, Rule};
use crate::token::is_token;

/// Fetch "forbidden request-header" names: a browser never lets a script set them.
pub(crate) const FORBIDDEN_REQUEST: [&str; 21] = [
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
pub(crate) const FORBIDDEN_RESPONSE: [&str; 2] = ["set-cookie", "set-cookie2"];

/// CORS response headers (Fetch, "HTTP responses"): no request needs them, so in
/// `allow_headers` they only let through a script that sets one by mistake.
pub(crate) const RESPONSE_ONLY: [&str; 7] = [
    "access-control-allow-credentials",
    "access-control-allow-headers",
    "access-control-allow-methods",
    "access-control-allow-origin",
    "access-control-allow-private-network",
    "access-control-expose-headers",
    "access-control-max-age",
];

/// Headers only ever on requests (set by the browser itself): no response carries them, so in
/// `expose_headers` they expose nothing.
pub(crate) const REQUEST_ONLY: [&str; 4] = [
    "access-control-request-headers",
    "access-control-request-method",
    "access-control-request-private-network",
    "origin",
];

/// Longest header name accepted, in the configuration and in requests (longer is denied).
pub(crate) const MAX_NAME_LEN: usize = 128;

/// Most bytes of `Access-Control-Request-Headers` the filter reads; larger is denied. Envoy's
/// default limit for all request headers is 60 KiB, so this only bites on raised limits.
pub(crate) const MAX_REQUEST_HEADERS_LEN: usize = 64 * 1024;

pub(crate) fn is_forbidden_request(name: &str) -> bool {
    is_forbidden_request_bytes(name.as_bytes())
}

/// `is_forbidden_request` for a lowercase name read from a request.
pub(crate) fn is_forbidden_request_bytes(lower: &[u8]) -> bool {
    FORBIDDEN_REQUEST.iter().any(|f| f.as_bytes() == lower)
        || lower.starts_with(b"proxy-")
        || lower.starts_with(b"sec-")
}

/// Validates a configured header name and returns it lowercased.
pub(crate) fn header_name(raw: &str) -> Result<String, String> {
    if !is_token(raw.as_bytes()) {
        return Err("not a header name (must be an RFC 9110 token)".into());
    }
    if raw.len() > MAX_NAME_LEN {
        return Err(format!("header names longer than {MAX_NAME_LEN} bytes are not accepted"));
    }
    Ok(raw.to_ascii_lowercase())
}

/// A configured list of header names (`allow_headers`, `expose_headers`), validated: names
/// lowercased and deduplicated, `*` kept in its place.
#[derive(Debug, Default)]
pub(crate) struct NameList {
    /// Lowercase names and `*`, in the order configured, each once.
    pub(crate) names: Vec<String>,
}

/// Validates every element of a configured list: each must be a header name or `*`, and
/// `refusal` (the list's own rules, given the lowercase name or `*`) must find nothing wrong
/// with it. Every refused element is reported.
pub(crate) fn validate_list(
    raw: &[String],
    refusal: impl Fn(&str) -> Option<(Rule, &'static str)>,
) -> Result<NameList, Vec<ItemError>> {
    let mut list = NameList::default();
    let mut errors = Vec::new();
    for (i, configured) in raw.iter().enumerate() {
        let name = if configured == "*" {
            "*".to_owned()
        } else {
            match header_name(configured) {
                Ok(name) => name,
                Err(reason) => {
                    errors.push(ItemError::new(i, Rule::HeaderName, reason));
                    continue;
                }
            }
        };
        if let Some((rule, reason)) = refusal(&name) {
            errors.push(ItemError::new(i, rule, reason));
        } else if !list.names.contains(&name) {
            list.names.push(name);
        }
    }
    if errors.is_empty() {
        Ok(list)
    } else {
        Err(errors)
    }
}
