//! The counters the filter keeps (Envoy shows them in `/stats` and `/stats/prometheus`).

/// A counter of decisions, defined in Envoy as `cors.<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// An actual request from an allowed origin.
    ActualAllowed,
    /// An actual request from an origin the policy does not allow (or a malformed one).
    ActualDenied,
    /// A preflight answered as allowed.
    PreflightAllowed,
    /// A preflight denied for its origin.
    PreflightDeniedOrigin,
    /// A preflight denied for its requested method.
    PreflightDeniedMethod,
    /// A preflight denied for one of its requested headers.
    PreflightDeniedHeaders,
    /// Shadow mode: a request enforce mode would have denied.
    ShadowWouldDeny,
    /// A request whose policy has `mode: "off"`: left to the upstream.
    PassedThrough,
    /// A CORS request denied because its host or path can be read several ways that select
    /// different policies (docs/security.md).
    AmbiguousRequestDenied,
}

impl Counter {
    /// Every counter, in `index` order.
    pub const ALL: [Counter; 9] = [
        Counter::ActualAllowed,
        Counter::ActualDenied,
        Counter::PreflightAllowed,
        Counter::PreflightDeniedOrigin,
        Counter::PreflightDeniedMethod,
        Counter::PreflightDeniedHeaders,
        Counter::ShadowWouldDeny,
        Counter::PassedThrough,
        Counter::AmbiguousRequestDenied,
    ];

    /// The metric name (`cors.actual_allowed`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Counter::ActualAllowed => "cors.actual_allowed",
            Counter::ActualDenied => "cors.actual_denied",
            Counter::PreflightAllowed => "cors.preflight_allowed",
            Counter::PreflightDeniedOrigin => "cors.preflight_denied_origin",
            Counter::PreflightDeniedMethod => "cors.preflight_denied_method",
            Counter::PreflightDeniedHeaders => "cors.preflight_denied_headers",
            Counter::ShadowWouldDeny => "cors.shadow_would_deny",
            Counter::PassedThrough => "cors.passed_through",
            Counter::AmbiguousRequestDenied => "cors.ambiguous_request_denied",
        }
    }

    /// Position in `ALL`, for a table of metric ids.
    pub fn index(self) -> usize {
        self as usize
    }
}
