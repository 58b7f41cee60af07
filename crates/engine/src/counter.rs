//! The counters the filter keeps (Envoy shows them in `/stats` and `/stats/prometheus`).

/// The tag (Prometheus label) of the per-policy counters.
pub(crate) const POLICY_TAG: &str = "cors_policy";

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
    /// Shadow mode: a would-deny of an origin that is no scanner's: this policy allows the
    /// origin (the method or a header was refused) or an enforced policy elsewhere in the
    /// configuration does. The rollout signal that scanner traffic does not raise.
    ShadowWouldDenyKnownOrigin,
}

impl Counter {
    /// Every counter, in `index` order.
    pub const ALL: [Counter; 10] = [
        Counter::ActualAllowed,
        Counter::ActualDenied,
        Counter::PreflightAllowed,
        Counter::PreflightDeniedOrigin,
        Counter::PreflightDeniedMethod,
        Counter::PreflightDeniedHeaders,
        Counter::ShadowWouldDeny,
        Counter::PassedThrough,
        Counter::AmbiguousRequestDenied,
        Counter::ShadowWouldDenyKnownOrigin,
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
            Counter::ShadowWouldDenyKnownOrigin => "cors.shadow_would_deny_known_origin",
        }
    }

    /// The stat name of this counter for one policy: `cors.policy.<counter>` with the policy's
    /// label embedded as a tag in the form Envoy's `stats_tags` regex (and Istio's
    /// `extraStatTags`) extract: `cors_policy=.=<label>;.;cors.policy.actual_allowed`. With the
    /// tag extracted (docs/operations.md), Prometheus shows
    /// `cors_policy_actual_allowed{cors_policy="<label>"}`.
    pub fn policy_metric_name(self, label: &str) -> String {
        let short = self.name().strip_prefix("cors.").unwrap_or(self.name());
        format!("{POLICY_TAG}=.={label};.;cors.policy.{short}")
    }

    /// Position in `ALL`, for a table of metric ids.
    pub fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn per_policy_names_carry_the_tag() {
        assert_eq!(
            Counter::ShadowWouldDeny.policy_metric_name("beta"),
            "cors_policy=.=beta;.;cors.policy.shadow_would_deny"
        );
        for (i, c) in Counter::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
        }
    }
}
