//! How a policy acts on the requests it selects: its mode, and what it does with a preflight
//! it does not allow. Read from the configuration, acted on by the stream.

use serde::Deserialize;

/// What to do with a preflight the policy does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "serialize", derive(serde::Serialize))]
#[serde(rename_all = "snake_case")]
pub enum UnmatchedPreflight {
    /// Answer 403 without CORS headers; the upstream never sees it.
    Reject,
    /// Pass a preflight from an origin the policy does not allow to the upstream untouched
    /// (Istio's `FORWARD`, Envoy's `forward_not_matching_preflights`); one from an allowed origin
    /// whose method or headers are not allowed is still rejected, so the upstream's own answer
    /// can never grant an allowed origin more than the policy.
    Forward,
}

/// Whether decisions are applied (`enforce`, the default), only counted and logged (`shadow`),
/// or not made at all (`off`: the upstream's own CORS answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "serialize", derive(serde::Serialize))]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Apply every decision.
    Enforce,
    /// Evaluate, count and log; change nothing.
    Shadow,
    /// Pass through: no header added, replaced or removed, preflights go to the upstream; only
    /// `cors.passed_through` counts it. At the top level it covers the requests no entry
    /// matches and is not inherited by entries.
    Off,
}
