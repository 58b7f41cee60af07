//! The compiled origin matcher: constant-time lookups for exact origins and `:*` hosts, a
//! suffix index for `*.` patterns, one regex set for all regexes. Matching never allocates.

use std::collections::{HashMap, HashSet};

use regex::bytes::{RegexSet, RegexSetBuilder};

use super::pattern::{OriginPattern, PortRule};
use super::serialized::{Host, Origin};

/// Cap on the compiled size of all regexes of one policy, so a hostile pattern cannot make
/// the worker allocate without bound at load time.
const REGEX_SIZE_LIMIT: usize = 4 << 20;

#[derive(Debug, Default)]
pub struct OriginMatcher {
    any: bool,
    null: bool,
    exact: HashSet<Box<str>>,
    /// `scheme://host` of `:*` patterns.
    any_port: HashSet<Box<str>>,
    /// Domain suffix of `*.` patterns -> (scheme, port rule).
    subdomains: HashMap<Box<str>, Vec<(Box<str>, PortRule)>>,
    regexes: Option<RegexSet>,
}

/// Collects patterns, then compiles them once.
#[derive(Debug, Default)]
pub struct OriginMatcherBuilder {
    matcher: OriginMatcher,
    regexes: Vec<String>,
}

impl OriginMatcherBuilder {
    pub fn pattern(&mut self, pattern: OriginPattern) {
        let m = &mut self.matcher;
        match pattern {
            OriginPattern::Any => m.any = true,
            OriginPattern::Exact(s) => {
                m.exact.insert(s.into_boxed_str());
            }
            OriginPattern::AnyPort { scheme, host } => {
                m.any_port.insert(format!("{scheme}://{host}").into_boxed_str());
            }
            OriginPattern::Subdomains { scheme, suffix, port } => {
                m.subdomains.entry(suffix.into_boxed_str()).or_default().push((scheme.into_boxed_str(), port));
            }
        }
    }

    pub fn null(&mut self, allowed: bool) {
        self.matcher.null = allowed;
    }

    /// Checks that `regex` compiles on its own, so the error names the right entry.
    pub fn regex(&mut self, regex: &str) -> Result<(), String> {
        let anchored = anchored(regex);
        RegexSetBuilder::new([&anchored]).size_limit(REGEX_SIZE_LIMIT).build().map_err(|e| e.to_string())?;
        self.regexes.push(anchored);
        Ok(())
    }

    pub fn build(mut self) -> Result<OriginMatcher, String> {
        if !self.regexes.is_empty() {
            let set =
                RegexSetBuilder::new(&self.regexes).size_limit(REGEX_SIZE_LIMIT).build().map_err(|e| e.to_string())?;
            self.matcher.regexes = Some(set);
        }
        Ok(self.matcher)
    }
}

/// Regexes match the whole origin, bytewise (origins are ASCII, so no Unicode tables are needed).
fn anchored(regex: &str) -> String {
    format!("(?-u)^(?:{regex})$")
}

impl OriginMatcher {
    /// True when every origin is allowed (`*`).
    pub fn allows_any(&self) -> bool {
        self.any
    }

    pub fn allows_null(&self) -> bool {
        self.null
    }

    /// True when no origin at all can match.
    pub fn is_empty(&self) -> bool {
        !self.any
            && !self.null
            && self.exact.is_empty()
            && self.any_port.is_empty()
            && self.subdomains.is_empty()
            && self.regexes.is_none()
    }

    /// Does the policy allow this (already syntax-checked) origin?
    pub fn matches(&self, origin: &Origin<'_>) -> bool {
        self.any
            || self.exact.contains(origin.serialized)
            || self.any_port.contains(origin.scheme_and_host())
            || self.matches_subdomain(origin)
            || self.regexes.as_ref().is_some_and(|set| set.is_match(origin.serialized.as_bytes()))
    }

    fn matches_subdomain(&self, origin: &Origin<'_>) -> bool {
        let Host::Domain(host) = origin.host else {
            return false;
        };
        if self.subdomains.is_empty() {
            return false;
        }
        // Every proper suffix after a dot: `a.b.example.com` -> `b.example.com`, `example.com`, `com`.
        host.match_indices('.').any(|(i, _)| {
            self.subdomains.get(&host[i + 1..]).is_some_and(|rules| {
                rules.iter().any(|(scheme, port)| **scheme == *origin.scheme && port.accepts(origin.port))
            })
        })
    }

    /// Index of every regex that matches (for `cors-lint explain`, not the hot path).
    pub fn matching_regexes(&self, origin: &str) -> Vec<usize> {
        self.regexes.as_ref().map(|set| set.matches(origin.as_bytes()).into_iter().collect()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::super::pattern::parse_pattern;
    use super::*;

    fn matcher(patterns: &[&str], regexes: &[&str]) -> OriginMatcher {
        let mut b = OriginMatcherBuilder::default();
        for p in patterns {
            b.pattern(parse_pattern(p).unwrap());
        }
        for r in regexes {
            b.regex(r).unwrap();
        }
        b.build().unwrap()
    }

    fn allows(m: &OriginMatcher, origin: &str) -> bool {
        Origin::parse(origin.as_bytes()).is_some_and(|o| m.matches(&o))
    }

    #[test]
    fn exact_origins() {
        let m = matcher(&["https://app.example.com", "http://localhost:3000"], &[]);
        assert!(allows(&m, "https://app.example.com"));
        assert!(allows(&m, "http://localhost:3000"));
        for denied in [
            "http://app.example.com",
            "https://app.example.com:8443",
            "https://app.example.com.evil.net",
            "https://evilapp.example.com",
            "https://app.example.co",
            "http://localhost:30000",
            "http://localhost",
        ] {
            assert!(!allows(&m, denied), "{denied}");
        }
    }

    #[test]
    fn subdomain_patterns() {
        let m = matcher(&["https://*.example.com", "http://*.test.local:8080"], &[]);
        assert!(allows(&m, "https://a.example.com"));
        assert!(allows(&m, "https://a.b.example.com"));
        assert!(!allows(&m, "https://example.com"), "apex excluded");
        assert!(!allows(&m, "https://evilexample.com"));
        assert!(!allows(&m, "https://example.com.evil.net"));
        assert!(!allows(&m, "http://a.example.com"), "scheme must match");
        assert!(!allows(&m, "https://a.example.com:444"), "port must match");
        assert!(allows(&m, "http://x.test.local:8080"));
        assert!(!allows(&m, "http://x.test.local"));
    }

    #[test]
    fn any_port_patterns() {
        let m = matcher(&["http://localhost:*"], &[]);
        assert!(allows(&m, "http://localhost:3000"));
        assert!(allows(&m, "http://localhost"));
        assert!(!allows(&m, "https://localhost:3000"));
        assert!(!allows(&m, "http://localhost.evil.net:3000"));
        assert!(!allows(&m, "http://sub.localhost:3000"));
    }

    #[test]
    fn regexes_are_anchored_and_only_see_valid_origins() {
        let m = matcher(&[], &[r"https://[a-z0-9-]+\.example\.com", r"https://pr-\d+\.preview\.example\.net"]);
        assert!(allows(&m, "https://app.example.com"));
        assert!(allows(&m, "https://pr-42.preview.example.net"));
        assert!(!allows(&m, "https://app.example.com.evil.net"), "anchored at the end");
        assert!(!allows(&m, "xhttps://app.example.com"));
        assert!(!allows(&m, "https://app.example.com/"), "not an origin");
        assert_eq!(m.matching_regexes("https://pr-1.preview.example.net"), vec![1]);
        // A careless regex still cannot reflect something that is not an origin.
        let careless = matcher(&[], &[".*"]);
        assert!(allows(&careless, "https://anything.example"));
        assert!(!allows(&careless, "https://a.com\r\nset-cookie: x"));
        assert!(!allows(&careless, "null"));
    }

    #[test]
    fn bad_regexes_are_refused() {
        let mut b = OriginMatcherBuilder::default();
        assert!(b.regex("(").is_err());
        assert!(b.regex(r"\p{L}").is_err(), "Unicode classes are not compiled in");
        assert!(b.regex("a{100000}{100000}").is_err(), "size limit");
    }

    #[test]
    fn any_and_null() {
        let m = matcher(&["*"], &[]);
        assert!(m.allows_any() && allows(&m, "https://x.y"));
        let mut b = OriginMatcherBuilder::default();
        b.null(true);
        let m = b.build().unwrap();
        assert!(m.allows_null() && !m.is_empty());
        assert!(OriginMatcherBuilder::default().build().unwrap().is_empty());
    }
}
