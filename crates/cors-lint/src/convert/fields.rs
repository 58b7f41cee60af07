//! Scalar fields: lists, booleans, durations, runtime fractions.

use serde_json::Value;

use cors_engine::policy::MAX_AGE_LIMIT;

/// A list (Istio) or a comma-separated string (Envoy).
pub(super) fn list(key: &str, value: &Value, refusals: &mut Vec<String>) -> Option<Vec<String>> {
    let items: Vec<String> = match value {
        Value::String(s) => s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        Value::Array(items) if items.iter().all(Value::is_string) => {
            items.iter().filter_map(Value::as_str).map(|s| s.trim().to_owned()).collect()
        }
        _ => {
            refusals.push(format!("`{key}` must be a list of strings or a comma-separated string"));
            return None;
        }
    };
    (!items.is_empty()).then_some(items)
}

pub(super) fn boolean(key: &str, value: &Value, refusals: &mut Vec<String>) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        // google.protobuf.BoolValue written as an object.
        Value::Object(m) if m.get("value").is_some_and(Value::is_boolean) => m.get("value").and_then(Value::as_bool),
        _ => {
            refusals.push(format!("`{key}` must be true or false"));
            None
        }
    }
}

/// Istio: a Duration (`24h`, `1h30m`, `600s`); Envoy: seconds as a string (`"86400"`).
pub(super) fn max_age(key: &str, value: &Value, notes: &mut Vec<String>, refusals: &mut Vec<String>) -> Option<i64> {
    let seconds = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) if s.trim().is_empty() => return None,
        Value::String(s) => parse_duration(s.trim()),
        _ => None,
    };
    if seconds == Some(-1.0) {
        notes.push(format!(
            "`{key}`: -1 was sent as is, which is not a valid Access-Control-Max-Age (Safari and the \
             Fetch Standard then cache for the default 5 s); max_age 0, which every browser reads as \"do not cache\""
        ));
        return Some(0);
    }
    let Some(seconds) = seconds.filter(|s| s.is_finite() && *s >= 0.0) else {
        refusals.push(format!("`{key}`: {value} is not a duration (\"24h\", \"600s\"), a number of seconds or -1"));
        return None;
    };
    let whole = seconds.floor();
    if whole != seconds {
        notes.push(format!("`{key}`: {seconds} s rounded down to {whole} s (max_age is whole seconds)"));
    }
    if whole > MAX_AGE_LIMIT as f64 {
        notes.push(format!(
            "`{key}`: {whole} s is more than browsers honour (Chromium caps at 7200, Firefox at 86400): \
             max_age {MAX_AGE_LIMIT}"
        ));
        return Some(MAX_AGE_LIMIT);
    }
    Some(whole as i64)
}

/// Seconds in a Go / protobuf duration: `24h`, `1h30m`, `1.5s`, `500ms`, or plain seconds.
pub(super) fn parse_duration(s: &str) -> Option<f64> {
    if let Ok(n) = s.parse::<f64>() {
        return Some(n);
    }
    let mut total = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// Percent of a `RuntimeFractionalPercent` (`default_value: {numerator, denominator}`).
pub(super) fn fraction(key: &str, value: &Value, notes: &mut Vec<String>, refusals: &mut Vec<String>) -> Option<f64> {
    if value.get("runtime_key").or(value.get("runtimeKey")).is_some() {
        notes.push(format!("`{key}`: its runtime key is not carried over (the plugin has no runtime overrides)"));
    }
    let dv = value.get("default_value").or(value.get("defaultValue"));
    let Some(dv) = dv else {
        refusals.push(format!("`{key}` without default_value"));
        return None;
    };
    let numerator = dv.get("numerator").and_then(Value::as_f64).unwrap_or(0.0);
    let denominator = match dv.get("denominator").and_then(Value::as_str).unwrap_or("HUNDRED") {
        "HUNDRED" => 100.0,
        "TEN_THOUSAND" => 10_000.0,
        "MILLION" => 1_000_000.0,
        other => {
            refusals.push(format!("`{key}`: denominator {other:?}"));
            return None;
        }
    };
    Some((numerator / denominator * 100.0).min(100.0))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Some(86400.0));
        assert_eq!(parse_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_duration("600s"), Some(600.0));
        assert_eq!(parse_duration("86400"), Some(86400.0));
        assert_eq!(parse_duration("1.5s"), Some(1.5));
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("10x"), None);
    }
}
