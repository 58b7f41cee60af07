//! Decisions: is this origin allowed, is this preflight allowed, and why not. Nothing here
//! allocates.

use super::Policy;
use crate::counter::Counter;
use crate::origin::Origin;

/// Why a request was denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// Missing from the policy, or not a valid serialized origin.
    Origin,
    /// The requested method is not allowed.
    Method,
    /// A requested header is not allowed.
    Headers,
}

impl DenyReason {
    /// The counter of preflights denied for this reason.
    pub(crate) fn preflight_counter(self) -> Counter {
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
    /// The header value.
    pub(crate) fn value(self) -> &'r str {
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
    /// `Access-Control-Request-Method` (empty when there were several lines).
    pub method: &'r [u8],
    /// Every `Access-Control-Request-Headers` line.
    pub request_headers: &'r [&'r [u8]],
    /// `Access-Control-Request-Private-Network: true` was sent.
    pub private_network: bool,
}

impl Policy {
    /// Checks one `Origin` value: strict syntax first, then the policy.
    pub fn check_origin<'r>(&self, origin: &'r [u8]) -> Option<AllowOrigin<'r>> {
        // A static policy answers `*` to every valid origin (and `null`).
        let open = self.is_static();
        if origin == b"null" {
            return if open {
                Some(AllowOrigin::Any)
            } else {
                self.origins.allows_null().then_some(AllowOrigin::Echo("null"))
            };
        }
        // Fast path: an exact origin is canonical, so byte equality is enough (and makes it
        // text: every exact entry is).
        if !open && self.origins.contains_exact(origin) {
            if let Ok(text) = std::str::from_utf8(origin) {
                return Some(AllowOrigin::Echo(text));
            }
        }
        // And an origin no exact entry names is denied, unless a pattern or a regex may allow it.
        if !open && self.origins.exact_only() {
            return None;
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
}
