//! Decisions: is this origin allowed, is this preflight allowed, and which headers answer it.
//! Nothing here allocates.

use crate::counter::Counter;
use crate::header::AllowedHeaders;
use crate::origin::Origin;
use crate::policy::Policy;
use crate::response::*;

/// Why a request was denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// Missing from the policy, or not a valid serialized origin.
    Origin,
    Method,
    Headers,
}

impl DenyReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DenyReason::Origin => "origin not allowed",
            DenyReason::Method => "method not allowed",
            DenyReason::Headers => "request headers not allowed",
        }
    }

    pub fn preflight_counter(self) -> Counter {
        match self {
            DenyReason::Origin => Counter::PreflightDeniedOrigin,
            DenyReason::Method => Counter::PreflightDeniedMethod,
            DenyReason::Headers => Counter::PreflightDeniedHeaders,
        }
    }
}

/// The `Access-Control-Allow-Origin` of an allowed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowOrigin<'r> {
    /// `*`: a policy open to every origin, without credentials.
    Any,
    /// The request's origin, echoed (it passed the strict syntax check).
    Echo(&'r str),
}

impl<'r> AllowOrigin<'r> {
    pub fn value(self) -> &'r str {
        match self {
            AllowOrigin::Any => "*",
            AllowOrigin::Echo(o) => o,
        }
    }
}

/// What a preflight asks for.
#[derive(Debug, Clone, Copy)]
pub struct PreflightRequest<'r> {
    /// Every `Origin` line; more than one is denied.
    pub origins: &'r [&'r [u8]],
    pub method: &'r [u8],
    /// Every `Access-Control-Request-Headers` line.
    pub request_headers: &'r [&'r [u8]],
    /// `Access-Control-Request-Private-Network: true` was sent.
    pub private_network: bool,
}

impl Policy {
    /// Checks one `Origin` value: strict syntax first, then the policy.
    pub fn check_origin<'r>(&self, origin: &'r [u8]) -> Option<AllowOrigin<'r>> {
        let open = self.origins.allows_any() && !self.credentials;
        if origin == b"null" {
            return if open {
                Some(AllowOrigin::Any)
            } else {
                self.origins.allows_null().then_some(AllowOrigin::Echo("null"))
            };
        }
        // Fast path: an exact origin is canonical, so byte equality is enough.
        if let Ok(text) = std::str::from_utf8(origin) {
            if !open && self.origins.contains_exact(text) {
                return Some(AllowOrigin::Echo(text));
            }
        }
        let parsed = Origin::parse(origin)?;
        if open {
            return Some(AllowOrigin::Any);
        }
        self.origins.matches(&parsed).then_some(AllowOrigin::Echo(parsed.serialized))
    }

    /// Decides a preflight: origin, then method, then every requested header.
    pub fn check_preflight<'r>(&self, req: &PreflightRequest<'r>) -> Result<AllowOrigin<'r>, DenyReason> {
        let [origin] = req.origins else {
            return Err(DenyReason::Origin);
        };
        let allow = self.check_origin(origin).ok_or(DenyReason::Origin)?;
        if !self.methods.allows(req.method) {
            return Err(DenyReason::Method);
        }
        if !self.headers.allows_request(req.request_headers) {
            return Err(DenyReason::Headers);
        }
        Ok(allow)
    }

    /// The `Access-Control-Allow-Headers` of an allowed preflight when it echoes the request
    /// (`allow_headers: ["*"]` with credentials); `None` when the policy's value is fixed.
    pub fn echoed_request_headers(&self, request_headers: &[&[u8]]) -> Option<String> {
        self.headers.echoes().then(|| AllowedHeaders::echo_value(request_headers))
    }

    /// Headers of an allowed preflight's local reply; `echoed` is `echoed_request_headers`.
    pub fn preflight_headers<'a>(
        &'a self,
        allow: AllowOrigin<'a>,
        private_network_requested: bool,
        echoed: Option<&'a str>,
    ) -> ResponseHeaders<'a> {
        let mut h = ResponseHeaders::default();
        h.push(ALLOW_ORIGIN, allow.value());
        if self.credentials {
            h.push(ALLOW_CREDENTIALS, "true");
        }
        if let Some(v) = self.methods.header_value() {
            h.push(ALLOW_METHODS, v);
        }
        if let Some(v) = echoed.or(self.headers.header_value()).filter(|v| !v.is_empty()) {
            h.push(ALLOW_HEADERS, v);
        }
        if let Some(v) = self.max_age.as_deref() {
            h.push(MAX_AGE, v);
        }
        if private_network_requested && self.private_network {
            h.push(ALLOW_PRIVATE_NETWORK, "true");
        }
        h.push(VARY, self.preflight_vary());
        h.push(CONTENT_LENGTH, "0");
        h
    }

    /// Headers of a rejected preflight's local reply: no CORS headers at all.
    pub fn rejected_preflight_headers(&self) -> ResponseHeaders<'static> {
        let mut h = ResponseHeaders::default();
        h.push(VARY, self.preflight_vary());
        h.push(CONTENT_LENGTH, "0");
        h
    }

    fn preflight_vary(&self) -> &'static str {
        if self.private_network {
            PREFLIGHT_VARY_PNA
        } else {
            PREFLIGHT_VARY
        }
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
    pub fn preflight_status(&self) -> u32 {
        self.success_status
    }
}
