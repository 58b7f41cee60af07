//! `Vary`, decided in one place (Fetch, "CORS protocol and HTTP caches"): what a cache must key
//! a response on so that it never hands one request's answer to a request it does not fit.

/// The token an actual response adds when its answer depends on the request's `Origin`.
pub(crate) const ORIGIN: &str = "Origin";

/// `Vary` of every preflight answer: it depends on all three request headers.
pub(crate) const PREFLIGHT_VARY: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
/// The same when the policy also answers Private Network Access requests.
pub(crate) const PREFLIGHT_VARY_PNA: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, Access-Control-Request-Private-Network";

/// `Vary` of an actual response, to a request with or without `Origin`: `Origin` when the
/// policy's answer depends on it (`Policy::varies_by_origin`); nothing for a static `*` answer (the same for everyone) or a
/// policy that allows no origin at all.
pub(crate) fn actual(varies_by_origin: bool) -> Option<&'static str> {
    varies_by_origin.then_some(ORIGIN)
}

/// `Vary` of a preflight reply, allowed or rejected: it depends on every request header the
/// decision read.
pub(crate) fn preflight(answers_private_network: bool) -> &'static str {
    if answers_private_network {
        PREFLIGHT_VARY_PNA
    } else {
        PREFLIGHT_VARY
    }
}
