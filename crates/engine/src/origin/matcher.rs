//! The compiled origin matcher: constant-time lookups for exact origins and `:*` hosts, a
//! suffix index for `*.` patterns, then the regexes, whose verdicts are cached per origin.
//! Matching allocates only to remember a regex verdict for an origin not seen before.

use regex_lite::{Regex, RegexBuilder};

use crate::fast_hash::{FastHashMap, FastHashSet};
use crate::worker_cache::VerdictCache;

use super::pattern::{OriginPattern, PortRule};
use super::serialized::{Host, Origin};

/// Cap on the compiled size (regex-lite's measure, bytes) of all regexes of one policy
/// together. regex-lite matches with a PikeVM, whose time is linear in the input and in the
/// compiled program, so this caps the worst-case cost of one new origin (at most
/// `MAX_ORIGIN_LEN` bytes) against the policy: README, "Regex cost", has the measured figure.
/// It admits twenty typical patterns (`https://[a-z0-9-]+\.rN\.example\.net`, 17 KiB).
pub(crate) const REGEX_SIZE_LIMIT: usize = 32 * 1024;

/// Most regex verdicts remembered per policy and worker; the cache starts over when full, so
/// hostile origins cost regex time, never unbounded memory (at most 256 x 512 bytes).
const REGEX_CACHE_ENTRIES: usize = 256;

/// Every origin rule of a policy, compiled for lookups: exact origins, any-port hosts, subdomain suffixes, regexes, `*` and `null`.
#[derive(Debug, Default)]
pub struct OriginMatcher {
    any: bool,
    null: bool,
    exact: FastHashSet<Box<[u8]>>,
    /// `scheme://host` of `:*` patterns.
    any_port: FastHashSet<Box<str>>,
    /// Domain suffix of `*.` patterns -> (scheme, port rule).
    subdomains: FastHashMap<Box<str>, Vec<(Box<str>, PortRule)>>,
    /// Each regex, anchored (for `matching_regexes`).
    regexes: Vec<Regex>,
    /// All of them as one alternation: one pass per origin on the request path.
    any_regex: Option<Regex>,
    /// Origin -> did some regex match, per worker thread.
    regex_verdicts: VerdictCache<REGEX_CACHE_ENTRIES>,
}

/// Collects patterns, then compiles them once.
#[derive(Debug, Default)]
pub(crate) struct OriginMatcherBuilder {
    matcher: OriginMatcher,
}

impl OriginMatcherBuilder {
    /// Adds a parsed `allow_origins` entry.
    pub(crate) fn pattern(&mut self, pattern: OriginPattern) {
        let m = &mut self.matcher;
        match pattern {
            OriginPattern::Any => m.any = true,
            OriginPattern::Exact(s) => {
                m.exact.insert(s.into_bytes().into_boxed_slice());
            }
            OriginPattern::AnyPort { scheme, host } => {
                m.any_port.insert(format!("{scheme}://{host}").into_boxed_str());
            }
            OriginPattern::Subdomains { scheme, suffix, port } => {
                m.subdomains.entry(suffix.into_boxed_str()).or_default().push((scheme.into_boxed_str(), port));
            }
        }
    }

    /// Whether `Origin: null` is allowed (`allow_null_origin`).
    pub(crate) fn null(&mut self, allowed: bool) {
        self.matcher.null = allowed;
    }

    /// Adds a regex compiled by `compile_regex`.
    pub(crate) fn regex(&mut self, compiled: Regex) {
        self.matcher.regexes.push(compiled);
    }

    /// The matcher; an error when the policy's regexes together exceed `REGEX_SIZE_LIMIT`.
    pub(crate) fn build(mut self) -> Result<OriginMatcher, String> {
        if !self.matcher.regexes.is_empty() {
            let all: Vec<&str> = self.matcher.regexes.iter().map(Regex::as_str).collect();
            let any = RegexBuilder::new(&all.join("|")).size_limit(REGEX_SIZE_LIMIT).build().map_err(|_| {
                format!(
                    "together the regexes exceed {} KiB compiled, the bound on their worst-case cost per \
                     new origin (README, \"Regex cost\"): use fewer or simpler ones (bounded repeats \
                     such as {{1,200}} of a group compile to one copy per repeat)",
                    REGEX_SIZE_LIMIT / 1024
                )
            })?;
            self.matcher.any_regex = Some(any);
        }
        Ok(self.matcher)
    }
}

/// Why a regex was refused: it does not compile, or it exceeds the cost bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RegexError {
    /// regex-lite's own message (one line per error in the log).
    Syntax(String),
    /// Larger than `REGEX_SIZE_LIMIT` compiled: the words say why that matters.
    Cost(String),
}

/// Compiles one `allow_origin_regexes` entry: first alone, so that it cannot escape the anchors
/// it is then put between (`a)|(.*` does not compile alone), then anchored at both ends so it
/// matches the whole origin, within `REGEX_SIZE_LIMIT`.
pub(crate) fn compile_regex(regex: &str) -> Result<Regex, RegexError> {
    let build = |pattern: &str| {
        RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).build().map_err(|e| match e.to_string() {
            m if m.contains("size limit") || m.contains("exceeds") => RegexError::Cost(format!(
                "compiles to more than {} KiB, the bound on a regex's worst-case cost per new origin (README, \
                 \"Regex cost\"): bounded repeats such as {{1,200}} of a group compile to one copy per repeat",
                REGEX_SIZE_LIMIT / 1024
            )),
            m => RegexError::Syntax(m),
        })
    };
    build(regex)?;
    build(&format!("^(?:{regex})$"))
}

impl OriginMatcher {
    /// True when every origin is allowed (`*`).
    pub(crate) fn allows_any(&self) -> bool {
        self.any
    }

    /// True when `Origin: null` is allowed.
    pub(crate) fn allows_null(&self) -> bool {
        self.null
    }

    /// True when no origin at all can match.
    pub(crate) fn is_empty(&self) -> bool {
        !self.any
            && !self.null
            && self.exact.is_empty()
            && self.any_port.is_empty()
            && self.subdomains.is_empty()
            && self.regexes.is_empty()
    }

    /// Is `origin` one of the exact origins? Those are canonical serialized origins, so a
    /// byte-equal request origin is valid without parsing it (nor checking it is text).
    pub(crate) fn contains_exact(&self, origin: &[u8]) -> bool {
        self.exact.contains(origin)
    }

    /// True when only the exact origins (and `null`) can match: `matches` compares a parsed
    /// origin's bytes with them and nothing else, so an origin they lack is denied whatever its
    /// syntax, and need not be parsed.
    pub(crate) fn exact_only(&self) -> bool {
        !self.any && self.any_port.is_empty() && self.subdomains.is_empty() && self.regexes.is_empty()
    }

    /// Does the policy allow this (already syntax-checked) origin?
    pub(crate) fn matches(&self, origin: &Origin<'_>) -> bool {
        self.any
            || self.exact.contains(origin.serialized.as_bytes())
            || self.any_port.contains(origin.scheme_and_host())
            || self.matches_subdomain(origin)
            || self.matches_regex(origin.serialized)
    }

    fn matches_regex(&self, origin: &str) -> bool {
        if self.regexes.is_empty() {
            return false;
        }
        self.regex_verdicts
            .get_or_compute(origin.as_bytes(), || self.any_regex.as_ref().is_some_and(|r| r.is_match(origin)))
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
        self.regexes.iter().enumerate().filter(|(_, r)| r.is_match(origin)).map(|(i, _)| i).collect()
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
            b.regex(compile_regex(r).unwrap());
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
    fn regex_verdicts_are_cached_and_bounded() {
        let m = matcher(&[], &[r"https://[a-z]+\.example\.com"]);
        for _ in 0..2 {
            assert!(allows(&m, "https://app.example.com"));
            assert!(!allows(&m, "https://app.example.net"));
        }
        assert_eq!(m.regex_verdicts.len(), 2);
        for i in 0..(REGEX_CACHE_ENTRIES * 3) {
            assert!(!allows(&m, &format!("https://h{i}.example.org")));
        }
        assert!(m.regex_verdicts.len() <= REGEX_CACHE_ENTRIES);
        assert!(allows(&m, "https://app.example.com"));
    }

    #[test]
    fn bad_regexes_are_refused() {
        assert!(compile_regex("(").is_err());
        assert!(compile_regex(r"\p{L}").is_err(), "Unicode classes are not compiled in");
        assert!(
            matches!(compile_regex("(a{1000}){1000}"), Err(RegexError::Cost(m)) if m.contains("KiB")),
            "size limit"
        );
        let hostile = r"https://([a-z0-9-]{0,63}\.?){1,200}\.example\.com";
        assert!(matches!(compile_regex(hostile), Err(RegexError::Cost(m)) if m.contains("worst-case cost")));
    }

    #[test]
    fn regexes_cannot_escape_their_anchors() {
        let escape = r"https://admin\.example\.com)|(https://.*";
        assert!(compile_regex(escape).is_err(), "does not compile alone");
        let m = matcher(&[], &[r"https://a\.example\.com|https://b\.example\.com"]);
        assert!(allows(&m, "https://b.example.com"));
        assert!(!allows(&m, "https://b.example.com.evil.net"), "the alternation is anchored as a whole");
    }

    #[test]
    fn the_policy_regexes_together_are_bounded() {
        let typical: Vec<String> = (0..20).map(|i| format!(r"https://[a-z0-9-]+\.r{i}\.example\.net")).collect();
        let mut b = OriginMatcherBuilder::default();
        for r in &typical {
            b.regex(compile_regex(r).unwrap());
        }
        assert!(b.build().is_ok(), "twenty typical patterns fit");
        let mut b = OriginMatcherBuilder::default();
        for _ in 0..4 {
            b.regex(compile_regex(r"https://([a-z0-9-]{0,63}\.?){1,3}\.example\.com").unwrap());
        }
        assert!(b.build().unwrap_err().contains("together"));
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
