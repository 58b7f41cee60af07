//! The response headers of an answer: an allowed or rejected preflight's local reply, an
//! allowed actual request's headers. Values were computed at load; nothing here allocates but
//! an echoed `Access-Control-Allow-Headers`.

use super::{AllowOrigin, Policy};
use crate::allow_headers::AllowedHeaders;
use crate::response_headers::*;
use crate::vary;

/// Headers of a rejected preflight's local reply, also when no policy was selected (an
/// ambiguous request): no CORS headers at all.
pub(crate) fn rejected_preflight_headers(answers_private_network: bool) -> ResponseHeaders<'static> {
    let mut h = ResponseHeaders::default();
    h.push(VARY, vary::preflight(answers_private_network));
    h
}

impl Policy {
    /// The `Access-Control-Allow-Headers` of an allowed preflight when it echoes the request
    /// (`allow_headers: ["*"]` with credentials); `None` when the policy's value is fixed.
    pub(crate) fn echoed_request_headers(&self, request_headers: &[&[u8]]) -> Option<String> {
        self.headers.echoes().then(|| AllowedHeaders::echo_value(request_headers))
    }

    /// Headers of an allowed preflight's local reply; `echoed` is `echoed_request_headers`,
    /// `method` the request's `Access-Control-Request-Method` (already allowed), echoed when the
    /// policy allows any method with credentials.
    pub fn preflight_headers<'a>(
        &'a self,
        allow: AllowOrigin<'a>,
        private_network_requested: bool,
        echoed: Option<&'a str>,
        method: &'a [u8],
    ) -> ResponseHeaders<'a> {
        let mut h = ResponseHeaders::default();
        h.push(ALLOW_ORIGIN, allow.value());
        if self.credentials {
            h.push(ALLOW_CREDENTIALS, "true");
        }
        if self.methods.echoes() {
            // An allowed method is a token: ASCII, so text.
            if let Some(method) = std::str::from_utf8(method).ok().filter(|m| !m.is_empty()) {
                h.push(ALLOW_METHODS, method);
            }
        } else if let Some(v) = self.methods.header_value() {
            h.push(ALLOW_METHODS, v);
        }
        if let Some(v) = echoed.or(self.headers.header_value()).filter(|v| !v.is_empty()) {
            h.push(ALLOW_HEADERS, v);
        }
        // Fetch reads Access-Control-Expose-Headers only on actual responses; Envoy's filter also
        // sends it on preflights and the Gateway API's conformance test expects it there. It
        // grants nothing on a preflight, so it is sent for the same answer as theirs.
        if let Some(v) = self.expose_headers.as_deref() {
            h.push(EXPOSE_HEADERS, v);
        }
        if let Some(v) = self.max_age.as_deref() {
            h.push(MAX_AGE, v);
        }
        if private_network_requested && self.private_network {
            h.push(ALLOW_PRIVATE_NETWORK, "true");
        }
        h.push(VARY, vary::preflight(self.private_network));
        h
    }

    /// Headers of a rejected preflight's local reply: no CORS headers at all.
    pub(crate) fn rejected_preflight_headers(&self) -> ResponseHeaders<'static> {
        rejected_preflight_headers(self.private_network)
    }

    /// CORS headers added to the response of an allowed actual request (`Vary` is merged separately).
    pub fn actual_headers<'a>(&'a self, allow: AllowOrigin<'a>) -> ResponseHeaders<'a> {
        let mut h = ResponseHeaders::default();
        h.push(ALLOW_ORIGIN, allow.value());
        if self.credentials {
            h.push(ALLOW_CREDENTIALS, "true");
        }
        if let Some(v) = self.expose_headers.as_deref() {
            h.push(EXPOSE_HEADERS, v);
        }
        h
    }

    /// Status of an allowed preflight's reply.
    pub(crate) fn preflight_status(&self) -> u32 {
        self.success_status
    }
}
