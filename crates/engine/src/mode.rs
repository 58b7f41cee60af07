//! How a policy acts on the requests it selects: its mode, and what it does with a preflight
//! it does not allow. Read from the configuration, acted on by the stream.

use std::fmt;

use serde::de::{Deserializer, Error, Unexpected, Visitor};
use serde::Deserialize;

/// Reads one of `names` (a string) and returns its position. serde's derive for an enum gives
/// "expected value at line 1 column 10" for `"mode": false`; this names what it got and what
/// it accepts: `invalid type: boolean `false`, expected one of "enforce", "shadow", "off"`.
fn one_of<'de, D: Deserializer<'de>>(d: D, names: &'static [&'static str]) -> Result<usize, D::Error> {
    struct Names(&'static [&'static str]);
    impl Visitor<'_> for Names {
        type Value = usize;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("one of ")?;
            for (i, n) in self.0.iter().enumerate() {
                write!(f, "{}\"{n}\"", if i > 0 { ", " } else { "" })?;
            }
            f.write_str(" (a string)")
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<usize, E> {
            self.0.iter().position(|n| *n == v).ok_or_else(|| E::invalid_value(Unexpected::Str(v), &self))
        }
    }
    d.deserialize_any(Names(names))
}

/// What to do with a preflight the policy does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "serialize", derive(serde::Serialize))]
#[cfg_attr(any(feature = "schema", feature = "serialize"), serde(rename_all = "snake_case"))]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "serialize", derive(serde::Serialize))]
#[cfg_attr(any(feature = "schema", feature = "serialize"), serde(rename_all = "snake_case"))]
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

impl<'de> Deserialize<'de> for UnmatchedPreflight {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match one_of(d, &["reject", "forward"])? {
            0 => UnmatchedPreflight::Reject,
            _ => UnmatchedPreflight::Forward,
        })
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match one_of(d, &["enforce", "shadow", "off"])? {
            0 => Mode::Enforce,
            1 => Mode::Shadow,
            _ => Mode::Off,
        })
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use crate::config::parse;

    #[test]
    fn a_wrong_type_names_the_key_what_it_got_and_what_it_accepts() {
        let e = parse(r#"{"mode": false}"#).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid CORS configuration: `mode`: invalid type: boolean `false`, expected one of \"enforce\", \"shadow\", \"off\" (a string) at line 1 column 14"
        );
        let e = parse(r#"{"policies": [{"unmatched_preflight": "drop"}]}"#).unwrap_err().to_string();
        assert!(e.contains("`policies[0].unmatched_preflight`: invalid value: string \"drop\", expected one of \"reject\", \"forward\""), "{e}");
        assert_eq!(
            parse(r#"{"mode": "shadow", "unmatched_preflight": "forward"}"#).unwrap().mode,
            Some(crate::mode::Mode::Shadow)
        );
    }
}
