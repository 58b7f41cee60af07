//! What the filter does on one HTTP stream, written against the `ProxyHost` trait so that it is
//! tested natively (with a fake host that also counts host calls) and the proxy-wasm adapter
//! stays a thin translation.

use std::sync::Arc;

use log::{debug, warn};

use crate::counter::Counter;
use crate::header_map::{RequestHeaders, METHOD, ORIGIN, REQUEST_HEADERS, REQUEST_METHOD, REQUEST_PRIVATE_NETWORK};
use crate::host::{Edit, LocalReply, ProxyHost, ResponseEdits};
use crate::logged::Logged;
use crate::mode::{Mode, UnmatchedPreflight};
use crate::policy::{rejected_preflight_headers, AllowOrigin, DenyReason, Policy, PreflightRequest};
use crate::response_headers::{ResponseHeaders, ALLOW_CREDENTIALS, CORS_RESPONSE_HEADERS, EXPOSE_HEADERS, VARY};
use crate::routing::{Ambiguous, AmbiguousPart, Config, PolicyId};
use crate::vary;

/// Envoy's response code details of an allowed preflight's local reply (a denied one names
/// its refusal: `Denial::response_details`).
pub(crate) const PREFLIGHT_ALLOWED_DETAILS: &str = "cors_preflight_allowed";

/// The details of a denied preflight's local reply for a host that does not record details
/// (`ProxyHost::records_reply_details`).
pub(crate) const PREFLIGHT_DENIED_DETAILS: &str = "cors_preflight_denied";

/// Whether the host should go on with the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go on: the request continues to the next filter.
    Continue,
    /// A local reply was sent; stop the request here.
    Stop,
}

/// What the request phase decided for the response phase.
#[derive(Debug, Default)]
enum State {
    /// Leave the response alone: mode off or shadow, a forwarded preflight.
    #[default]
    Untouched,
    /// Our own local reply: it passes back through this filter and must not be touched twice.
    LocalReply,
    /// The answer depends on `Origin` but this request granted nothing: only `Vary: Origin`.
    VaryOnly,
    Allowed {
        policy: PolicyId,
        /// The origin to echo; `None` for `*`.
        echo: Option<Box<str>>,
    },
    Denied {
        policy: PolicyId,
    },
    /// The request's readings select different policies: no CORS header at all, whatever the
    /// upstream sent, and `Vary: Origin` as for any denial.
    Ambiguous,
}

/// One stream's filter.
pub struct StreamFilter {
    config: Arc<Config>,
    state: State,
}

impl StreamFilter {
    /// A filter for one stream, under `config`.
    pub fn new(config: Arc<Config>) -> Self {
        StreamFilter { config, state: State::Untouched }
    }

    /// One host call reads every request header: fewer calls than reading `origin`, then
    /// `access-control-request-method`, then the rest of a preflight one by one, and every line
    /// of a repeated header is seen.
    pub fn on_request_headers(&mut self, host: &impl ProxyHost) -> Verdict {
        let (verdict, state) = self.decide(host);
        self.state = state;
        verdict
    }

    /// What the request phase decides, and what the response phase is to do. Everything here
    /// borrows the configuration; the caller records the state afterwards.
    fn decide(&self, host: &impl ProxyHost) -> (Verdict, State) {
        // A host that cannot hand the headers over makes this a request without any.
        let all = host.request_headers().unwrap_or_else(|e| {
            debug!("cannot read the request headers: {e}");
            Default::default()
        });
        let (id, policy) = match self.config.select_request(&all) {
            Ok(selected) => selected,
            Err(ambiguous) => return self.on_ambiguous(host, &all, &ambiguous),
        };
        if policy.mode() == Mode::Off {
            host.count(Counter::PassedThrough, policy);
            return (Verdict::Continue, State::Untouched);
        }
        let origins = all.all_values(ORIGIN);
        let origins = origins.as_slice();
        let Some(&first) = origins.first() else {
            // Not a CORS request, but a cache may serve its response to one (Fetch, "CORS
            // protocol and HTTP caches"): a static answer is sent anyway, any other says
            // `Vary: Origin`.
            let state = if policy.mode() != Mode::Enforce {
                State::Untouched
            } else if policy.is_static() {
                State::Allowed { policy: id, echo: None }
            } else if policy.varies_by_origin() {
                State::VaryOnly
            } else {
                State::Untouched
            };
            return (Verdict::Continue, state);
        };
        if is_preflight(&all) {
            return self.on_preflight(host, &all, origins, policy);
        }
        // Several Origin lines are read as one value joined with ",", as Envoy joins them: never
        // a valid origin, so never allowed.
        let joined: Vec<u8>;
        let origin = match origins {
            [_] => first,
            _ => {
                joined = origins.join(&b","[..]);
                &joined
            }
        };
        (Verdict::Continue, self.on_actual(host, id, policy, origin))
    }

    /// The answer must not depend on how the upstream reads the host or path, so a CORS
    /// request is denied: a preflight answered 403 here, an actual request's response stripped
    /// of every CORS header. So is the response to a request without `Origin`, which a cache
    /// may hand to a CORS request. Under shadow only, nothing changes.
    fn on_ambiguous(
        &self,
        host: &impl ProxyHost,
        all: &impl RequestHeaders,
        ambiguous: &Ambiguous,
    ) -> (Verdict, State) {
        let origin = all.first(ORIGIN);
        // Counted under the first policy a reading selected: the request belongs to none.
        let config = &self.config;
        let counted_for = ambiguous.candidates.first().map_or(config.default_policy(), |id| config.policy(*id));
        if ambiguous.mode != Mode::Enforce {
            if let Some(origin) = origin {
                host.count(Counter::ShadowWouldDeny, counted_for);
                debug!(
                    "shadow: request would be denied: {} (origin {})",
                    ambiguous.describe(&self.config),
                    Logged(origin)
                );
            }
            return (Verdict::Continue, State::Untouched);
        }
        let Some(origin) = origin else {
            return (Verdict::Continue, State::Ambiguous);
        };
        host.count(Counter::AmbiguousRequestDenied, counted_for);
        debug!("request denied: {} (origin {})", ambiguous.describe(&self.config), Logged(origin));
        if is_preflight(all) {
            let details = match ambiguous.part {
                AmbiguousPart::Host => "cors_preflight_denied{ambiguous_host}",
                AmbiguousPart::Path => "cors_preflight_denied{ambiguous_path}",
                AmbiguousPart::HostAndPath => "cors_preflight_denied{ambiguous_host_and_path}",
            };
            return self.reply(host, 403, rejected_preflight_headers(false), details);
        }
        (Verdict::Continue, State::Ambiguous)
    }

    fn on_actual(&self, host: &impl ProxyHost, id: PolicyId, policy: &Policy, origin: &[u8]) -> State {
        // A static policy's response is the same for every request, a malformed `Origin`
        // included: it is what a cache may hand to any later request.
        let decision = if policy.is_static() { Some(AllowOrigin::Any) } else { policy.check_origin(origin) };
        match decision {
            Some(allow) => {
                host.count(Counter::ActualAllowed, policy);
                debug!("actual request allowed: origin {} by {}", Logged(origin), policy.name());
                if policy.mode() != Mode::Enforce {
                    return State::Untouched;
                }
                let echo = match allow {
                    AllowOrigin::Any => None,
                    AllowOrigin::Echo(origin) => Some(origin.into()),
                };
                State::Allowed { policy: id, echo }
            }
            None => {
                host.count(Counter::ActualDenied, policy);
                if policy.mode() == Mode::Enforce {
                    debug!("actual request denied: {}", policy.origin_denial(origin));
                    return State::Denied { policy: id };
                }
                debug!("shadow: actual request would be denied: {}", policy.origin_denial(origin));
                host.count(Counter::ShadowWouldDeny, policy);
                if self.config.allowed_elsewhere(origin, policy) {
                    host.count(Counter::ShadowWouldDenyKnownOrigin, policy);
                }
                State::Untouched
            }
        }
    }

    fn on_preflight(
        &self,
        host: &impl ProxyHost,
        all: &impl RequestHeaders,
        origins: &[&[u8]],
        policy: &Policy,
    ) -> (Verdict, State) {
        // A browser sends one method; several lines are ambiguous, so none is allowed.
        let method = match *all.all_values(REQUEST_METHOD).as_slice() {
            [one] => one,
            _ => b"".as_slice(),
        };
        let request_headers = all.all_values(REQUEST_HEADERS);
        let request_headers = request_headers.as_slice();
        let private_network = all.first(REQUEST_PRIVATE_NETWORK).is_some_and(|v| v.eq_ignore_ascii_case(b"true"));
        let request = PreflightRequest { origins, method, request_headers, private_network };
        let origin_text = || Logged(origins.first().copied().unwrap_or_default());
        match policy.check_preflight(&request) {
            Ok(allow) => {
                host.count(Counter::PreflightAllowed, policy);
                debug!("preflight allowed: origin {} by {}", origin_text(), policy.name());
                if policy.mode() == Mode::Shadow {
                    return (Verdict::Continue, State::Untouched);
                }
                let echoed = policy.echoed_request_headers(request_headers);
                let headers = policy.preflight_headers(allow, private_network, echoed.as_deref(), method);
                self.reply(host, policy.preflight_status(), headers, PREFLIGHT_ALLOWED_DETAILS)
            }
            Err(reason) => {
                host.count(reason.preflight_counter(), policy);
                if policy.mode() == Mode::Shadow {
                    debug!("shadow: preflight would be denied: {}", policy.preflight_denial(&request, reason));
                    host.count(Counter::ShadowWouldDeny, policy);
                    // Refused for its method or headers, the origin is one this policy allows.
                    let known = match *origins {
                        [one] => reason != DenyReason::Origin || self.config.allowed_elsewhere(one, policy),
                        _ => false,
                    };
                    if known {
                        host.count(Counter::ShadowWouldDenyKnownOrigin, policy);
                    }
                    return (Verdict::Continue, State::Untouched);
                }
                // Named once, and only for the debug line or a host that records details: naming
                // may parse the origin again.
                let denial = (host.records_reply_details() || log::log_enabled!(log::Level::Debug))
                    .then(|| policy.preflight_denial(&request, reason));
                if let Some(denial) = &denial {
                    debug!("preflight denied: {denial}");
                }
                match (policy.unmatched_preflight(), reason) {
                    (UnmatchedPreflight::Forward, DenyReason::Origin) => (Verdict::Continue, State::Untouched),
                    _ => {
                        let details = denial.filter(|_| host.records_reply_details()).map(|d| d.response_details());
                        let details = details.as_deref().unwrap_or(PREFLIGHT_DENIED_DETAILS);
                        self.reply(host, 403, policy.rejected_preflight_headers(), details)
                    }
                }
            }
        }
    }

    /// Sends a local reply: status, headers and Envoy's response code details, all decided
    /// here (the adapters apply them as they are). The reply passes back through the response
    /// phase, inside this call or after it: either way it finds no edit to make.
    fn reply(
        &self,
        host: &impl ProxyHost,
        status: u32,
        headers: ResponseHeaders<'_>,
        details: &str,
    ) -> (Verdict, State) {
        if let Err(e) = host.send_response(&LocalReply { status, headers, details }) {
            warn!("cannot send the local reply: {e}");
        }
        (Verdict::Stop, State::LocalReply)
    }

    /// Writes the policy's answer into the upstream's response (`response_edits`), and leaves
    /// the stream untouched afterwards.
    pub fn on_response_headers(&mut self, host: &impl ProxyHost) -> Verdict {
        host.apply(&self.response_edits());
        self.state = State::Untouched;
        Verdict::Continue
    }

    /// The edits of the upstream's response, made without reading it: reading the response map
    /// is a host call that also makes a wasm host allocate inside the VM, and on the hot path it
    /// is never needed. Replacing (not appending) the policy's headers overrides whatever the
    /// upstream sent under the same names; appending `Vary: Origin` keeps every `Vary` the
    /// upstream sent (RFC 9110 §5.3: several lines are one comma-separated list).
    pub(crate) fn response_edits(&self) -> ResponseEdits<'_> {
        let mut edits = ResponseEdits::default();
        let (id, allow) = match &self.state {
            State::Untouched | State::LocalReply => return edits,
            State::VaryOnly => {
                edits.push(Edit::Append(VARY, vary::ORIGIN));
                return edits;
            }
            State::Allowed { policy, echo } => {
                (*policy, Some(echo.as_deref().map_or(AllowOrigin::Any, AllowOrigin::Echo)))
            }
            State::Denied { policy } => (*policy, None),
            State::Ambiguous => {
                strip_cors_headers(&mut edits);
                edits.push(Edit::Append(VARY, vary::ORIGIN));
                return edits;
            }
        };
        let policy = self.config.policy(id);
        if let Some(allow) = allow {
            let ours = policy.actual_headers(allow);
            for &(name, value) in ours.as_slice() {
                edits.push(Edit::Set(name, value));
            }
            // An upstream's own credentials or exposed headers must not widen what the policy
            // grants to an origin it allows. Its preflight-only headers (methods, headers,
            // max-age) mean nothing to a browser on an actual response and are left alone.
            for name in [ALLOW_CREDENTIALS, EXPOSE_HEADERS] {
                if !ours.has(name) {
                    edits.push(Edit::Remove(name));
                }
            }
        } else {
            strip_cors_headers(&mut edits);
        }
        if let Some(value) = vary::actual(policy.varies_by_origin()) {
            edits.push(Edit::Append(VARY, value));
        }
        edits
    }
}

/// A preflight is an OPTIONS with Access-Control-Request-Method; any other request, OPTIONS
/// included, is an actual request.
fn is_preflight(all: &impl RequestHeaders) -> bool {
    all.first(METHOD) == Some(b"OPTIONS") && all.contains(REQUEST_METHOD)
}

/// A denied response carries no CORS header at all, whatever the upstream sent. Denials are
/// rare, so the extra calls are not on the hot path.
fn strip_cors_headers(edits: &mut ResponseEdits<'_>) {
    for name in CORS_RESPONSE_HEADERS {
        edits.push(Edit::Remove(name));
    }
}

#[cfg(test)]
mod tests;
