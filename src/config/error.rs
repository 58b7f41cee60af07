//! A configuration error: which key, which value, which rule. One line, so it reads well in
//! Envoy's log and in `cors-lint` output alike.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Path of the offending key, e.g. `policies[1].allow_origins[0]`.
    pub key: String,
    /// The offending value as JSON, when there is one.
    pub value: Option<String>,
    pub reason: String,
}

impl ConfigError {
    /// Control characters in any part (a hostile key can hold `\n`) are escaped, so the error
    /// stays one log line.
    pub fn new(key: impl Into<String>, value: Option<String>, reason: impl Into<String>) -> Self {
        ConfigError { key: one_line(key.into()), value: value.map(one_line), reason: one_line(reason.into()) }
    }

    /// An error about a string value, shown JSON-quoted.
    pub fn at(key: impl Into<String>, value: &str, reason: impl Into<String>) -> Self {
        let quoted = serde_json::to_string(value).unwrap_or_else(|_| value.to_owned());
        Self::new(key, Some(quoted), reason)
    }
}

fn one_line(s: String) -> String {
    if !s.chars().any(char::is_control) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid CORS configuration: `{}`", self.key)?;
        if let Some(v) = &self.value {
            write!(f, " = {v}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for ConfigError {}
