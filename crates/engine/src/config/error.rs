//! A configuration error: which key, which value, which rule. One line, so it reads well in
//! Envoy's log and in `cors-lint` output alike.

use std::fmt;

/// The rule a configuration broke: tests and tools match on it, people read the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Not a JSON object of the documented keys: bad JSON, a wrong type, an unknown or
    /// duplicate key, trailing characters.
    Syntax,
    /// Empty, or larger than `MAX_CONFIG_LEN`.
    Size,
    /// A key that must be set is missing or empty.
    Required,
    /// A key where it does not belong: `match` or `name` at the top level, `policies` inside an
    /// entry.
    Placement,
    /// An origin pattern browsers never send (path, default port, non-canonical host, ...).
    Origin,
    /// A regex that does not compile.
    Regex,
    /// `*` with `allow_credentials` (origins, methods, expose headers).
    WildcardWithCredentials,
    /// A credentialed `http://` origin that is not loopback.
    InsecureOrigin,
    /// A credentialed `*.` pattern (or regex) over a public suffix, or over a domain with a
    /// public suffix beneath it.
    PublicSuffixWildcard,
    /// A credentialed regex whose matches' host is not pinned to a fixed domain.
    UnpinnedRegex,
    /// `allow_null_origin` with credentials.
    NullWithCredentials,
    /// A regex whose worst-case match cost exceeds the bound.
    RegexCost,
    /// Not a method token, or one browsers never send.
    Method,
    /// Not a header name, or a name that can never apply (forbidden, response-only, request-only).
    HeaderName,
    /// `max_age` out of range.
    MaxAge,
    /// `preflight_success_status` neither 200 nor 204.
    Status,
    /// A `match.hosts` entry that is no host name.
    Host,
    /// A `match.path_prefixes` entry that no request could select as written.
    PathPrefix,
    /// A `policies[].name` that is not a valid, unique metric label.
    Name,
}

/// One refusal: which key, which value, which rule, and why in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Path of the offending key, e.g. `policies[1].allow_origins[0]`.
    pub key: String,
    /// The offending value as JSON, when there is one.
    pub value: Option<String>,
    /// The rule broken, for tools and tests.
    pub rule: Rule,
    /// Why, in words, for people.
    pub reason: String,
}

impl ConfigError {
    /// Control characters in any part (a hostile key can hold `\n`) are escaped, so the error
    /// stays one log line.
    pub(crate) fn new(rule: Rule, key: impl Into<String>, value: Option<String>, reason: impl Into<String>) -> Self {
        ConfigError { key: one_line(key.into()), value: value.map(one_line), rule, reason: one_line(reason.into()) }
    }

    /// An error about a string value, shown JSON-quoted.
    pub(crate) fn at(rule: Rule, key: impl Into<String>, value: &str, reason: impl Into<String>) -> Self {
        let quoted = serde_json::to_string(value).unwrap_or_else(|_| value.to_owned());
        Self::new(rule, key, Some(quoted), reason)
    }
}

/// A refusal of one element of a list key (`allow_methods[2]`), before its key path is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ItemError {
    /// Position of the element in its list.
    pub(crate) index: usize,
    /// The rule broken.
    pub(crate) rule: Rule,
    /// Why, in words.
    pub(crate) reason: String,
}

impl ItemError {
    /// A refusal of element `index`.
    pub(crate) fn new(index: usize, rule: Rule, reason: impl Into<String>) -> Self {
        ItemError { index, rule, reason: reason.into() }
    }

    /// The full error, naming `key[index]` and the element's value.
    pub(crate) fn at(self, key: &str, list: &[String]) -> ConfigError {
        let value = list.get(self.index).map(String::as_str).unwrap_or_default();
        ConfigError::at(self.rule, format!("{key}[{}]", self.index), value, self.reason)
    }
}

/// Every refusal of one configuration, in the order of its keys; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(Vec<ConfigError>);

impl ConfigErrors {
    /// `None` when there is no error.
    pub(crate) fn from_vec(errors: Vec<ConfigError>) -> Option<ConfigErrors> {
        (!errors.is_empty()).then_some(ConfigErrors(errors))
    }

    /// A single refusal.
    pub(crate) fn one(error: ConfigError) -> ConfigErrors {
        ConfigErrors(vec![error])
    }

    /// The refusals, in key order.
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }

    /// How many refusals.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true for a value built by `from_vec` or `one`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first refusal (there always is one).
    pub fn first(&self) -> Option<&ConfigError> {
        self.0.first()
    }

    /// The refusals, owned.
    pub fn into_vec(self) -> Vec<ConfigError> {
        self.0
    }
}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// One line per error.
impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

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
