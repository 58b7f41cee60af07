//! `allow_headers`: validation at load, the precomputed `Access-Control-Allow-Headers`, and the
//! bounded scan of `Access-Control-Request-Headers`.

use crate::config::{ItemError, Rule};
use crate::fast_hash::FastHashSet;
use crate::header_names::{
    is_forbidden_request, is_forbidden_request_bytes, validate_list, MAX_NAME_LEN, MAX_REQUEST_HEADERS_LEN,
    RESPONSE_ONLY,
};
use crate::token::LOWER_TCHAR;
use crate::worker_cache::VerdictCache;

/// Values at least this long have their verdict cached; shorter ones are cheaper to scan.
const CACHE_MIN_LEN: usize = 1024;
/// Verdicts kept per policy and worker: at most 4 x 64 KiB.
const CACHE_ENTRIES: usize = 4;

/// Longest name stored inline; nearly every real header name fits.
const INLINE_LEN: usize = 31;

/// A lowercase header name of at most `INLINE_LEN` bytes, stored in the table itself: a lookup
/// touches one cache line instead of chasing a pointer per probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InlineName {
    len: u8,
    /// Zero past `len`, so the derived equality compares names.
    bytes: [u8; INLINE_LEN],
}

impl std::hash::Hash for InlineName {
    /// Only the name's bytes: most names are short and take the hasher's fast path.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write(self.bytes.get(..usize::from(self.len)).unwrap_or(&self.bytes));
    }
}

impl InlineName {
    fn new(lower: &[u8]) -> Option<InlineName> {
        let mut bytes = [0u8; INLINE_LEN];
        bytes.get_mut(..lower.len())?.copy_from_slice(lower);
        Some(InlineName { len: lower.len() as u8, bytes })
    }
}

/// A lowercase name being read, inline while short.
struct NameBuffer {
    inline: InlineName,
    long: [u8; MAX_NAME_LEN],
    len: usize,
}

impl Default for NameBuffer {
    fn default() -> Self {
        NameBuffer { inline: InlineName { len: 0, bytes: [0; INLINE_LEN] }, long: [0; MAX_NAME_LEN], len: 0 }
    }
}

impl NameBuffer {
    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn clear(&mut self) {
        // Zero what was written, so the inline form compares equal to the table's.
        let inline_len = self.len.min(INLINE_LEN);
        if let Some(written) = self.inline.bytes.get_mut(..inline_len) {
            written.fill(0);
        }
        self.inline.len = 0;
        self.len = 0;
    }

    /// Appends a byte; false when the name is longer than any name the filter accepts.
    fn push(&mut self, b: u8) -> bool {
        let Some(slot) = self.long.get_mut(self.len) else {
            return false;
        };
        *slot = b;
        if let Some(inline) = self.inline.bytes.get_mut(self.len) {
            *inline = b;
            self.inline.len += 1;
        }
        self.len += 1;
        true
    }

    fn as_bytes(&self) -> &[u8] {
        self.long.get(..self.len).unwrap_or_default()
    }

    fn inline(&self) -> Option<&InlineName> {
        (self.len <= INLINE_LEN).then_some(&self.inline)
    }
}

/// `allow_headers`, compiled: the names a preflight may ask for and the `Access-Control-Allow-Headers` that answers it.
#[derive(Debug, Default)]
pub(crate) struct AllowedHeaders {
    any: bool,
    /// `*` with credentials: browsers read a `*` answer as the literal name `*`, so an allowed
    /// preflight is answered with the names it asked for instead of a precomputed value.
    echo: bool,
    /// The configured lowercase names, up to `INLINE_LEN` bytes...
    short_names: FastHashSet<InlineName>,
    /// ...and the longer ones.
    long_names: FastHashSet<Box<[u8]>>,
    header_value: Option<Box<str>>,
    /// Recent verdicts for long `Access-Control-Request-Headers` values.
    verdicts: VerdictCache<CACHE_ENTRIES>,
}

impl AllowedHeaders {
    /// Validates `allow_headers`; every refused element is reported.
    pub(crate) fn compile(raw: &[String], credentials: bool) -> Result<Self, Vec<ItemError>> {
        let refusal = |name: &str| {
            if is_forbidden_request(name) {
                Some((Rule::HeaderName, "forbidden request header: browsers never let scripts set it"))
            } else if RESPONSE_ONLY.contains(&name) {
                Some((
                    Rule::HeaderName,
                    "response-only CORS header: no request needs it (a script that sends it does so by mistake)",
                ))
            } else {
                None
            }
        };
        let names = validate_list(raw, refusal)?.names;
        let any = names.iter().any(|n| n == "*");
        let listed: Vec<String> = names.into_iter().filter(|n| n != "*").collect();
        let echo = any && credentials;
        let header_value = if echo {
            None
        } else if any {
            // `*` never covers Authorization (Fetch): it must be named to be allowed.
            Some(if listed.iter().any(|n| n == "authorization") { "*,authorization" } else { "*" }.into())
        } else {
            // The configured names only: a browser lists a safelisted name (`content-type`) in
            // the request exactly when its value is not safelisted, so allowing it unlisted
            // would grant what no one configured.
            (!listed.is_empty()).then(|| listed.join(",").into_boxed_str())
        };
        let mut short_names = FastHashSet::default();
        let mut long_names = FastHashSet::default();
        for name in listed.iter().map(String::as_str) {
            match InlineName::new(name.as_bytes()) {
                Some(inline) => short_names.insert(inline),
                None => long_names.insert(Box::from(name.as_bytes())),
            };
        }
        Ok(AllowedHeaders { any, echo, short_names, long_names, header_value, verdicts: VerdictCache::default() })
    }

    /// Checks every name of every `Access-Control-Request-Headers` line. Accepts any case,
    /// optional whitespace around names and empty elements; refuses non-tokens. One pass over
    /// the bytes, one lookup per name, no allocation; stops at the first name not allowed.
    /// Long single-line values (browsers repeat the same list) are answered from a small cache.
    pub(crate) fn allows_request(&self, lines: &[&[u8]]) -> bool {
        match lines {
            [line] if line.len() >= CACHE_MIN_LEN => self.cached_scan(line),
            _ => self.scan(lines),
        }
    }

    fn scan(&self, lines: &[&[u8]]) -> bool {
        let total: usize = lines.iter().map(|l| l.len()).sum();
        total <= MAX_REQUEST_HEADERS_LEN && lines.iter().all(|line| self.scan_line(line))
    }

    fn cached_scan(&self, line: &[u8]) -> bool {
        self.verdicts.get_or_compute(line, || self.scan(&[line]))
    }

    /// One pass: `name *( OWS "," OWS name )` with empty elements allowed.
    fn scan_line(&self, line: &[u8]) -> bool {
        let mut name = NameBuffer::default();
        // After a name, only whitespace may come before the next comma.
        let mut name_ended = false;
        for &b in line {
            match b {
                b',' => {
                    if !name.is_empty() && !self.allows(&name) {
                        return false;
                    }
                    name.clear();
                    name_ended = false;
                }
                b' ' | b'\t' => name_ended = !name.is_empty(),
                _ => {
                    let lower = LOWER_TCHAR.get(usize::from(b)).copied().unwrap_or(0);
                    if lower == 0 || name_ended || !name.push(lower) {
                        return false;
                    }
                }
            }
        }
        name.is_empty() || self.allows(&name)
    }

    /// The first requested name `allows_request` refused (trimmed, as sent), for a denial that
    /// names it; `None` when the value was refused as a whole (longer than
    /// `MAX_REQUEST_HEADERS_LEN`). Only on the denial path: it rescans.
    pub(crate) fn first_refused<'r>(&self, lines: &[&'r [u8]]) -> Option<&'r [u8]> {
        if lines.iter().map(|l| l.len()).sum::<usize>() > MAX_REQUEST_HEADERS_LEN {
            return None;
        }
        let names = lines.iter().flat_map(|l| l.split(|&b| b == b',')).map(|n| n.trim_ascii());
        names.filter(|n| !n.is_empty()).find(|n| !self.scan_line(n))
    }

    fn allows(&self, name: &NameBuffer) -> bool {
        let lower = name.as_bytes();
        // `*` covers every name a script may set: never Authorization (Fetch: it must be
        // named), never a forbidden request-header (a browser never asks for one).
        if self.any && lower != b"authorization" {
            return !is_forbidden_request_bytes(lower);
        }
        match name.inline() {
            Some(inline) => self.short_names.contains(inline),
            None => self.long_names.contains(lower),
        }
    }

    /// The `Access-Control-Allow-Headers` value sent on allowed preflights, when it does not
    /// depend on the request (see `echoes`).
    pub(crate) fn header_value(&self) -> Option<&str> {
        self.header_value.as_deref()
    }

    /// True when an allowed preflight is answered with the names it requested (`*` with
    /// credentials), built by `echo_value`.
    pub(crate) fn echoes(&self) -> bool {
        self.echo
    }

    /// The requested names of an allowed preflight, lowercased and comma-separated, without
    /// whitespace or empty elements. Call it only after `allows_request` accepted `lines`: the
    /// names are then tokens and their total length is bounded by `MAX_REQUEST_HEADERS_LEN`.
    /// One allocation, of at most the request's own size.
    pub(crate) fn echo_value(lines: &[&[u8]]) -> String {
        let mut out = String::with_capacity(lines.iter().map(|l| l.len()).sum());
        for name in lines.iter().flat_map(|l| l.split(|&b| b == b',')) {
            let name = name.trim_ascii();
            if name.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push(',');
            }
            out.extend(name.iter().map(|&b| char::from(b.to_ascii_lowercase())));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn compile(list: &[&str], credentials: bool) -> AllowedHeaders {
        AllowedHeaders::compile(&strings(list), credentials).unwrap()
    }

    fn allows(h: &AllowedHeaders, lines: &[&str]) -> bool {
        h.allows_request(&lines.iter().map(|l| l.as_bytes()).collect::<Vec<_>>())
    }

    #[test]
    fn parsing_is_lenient_in_form_strict_in_content() {
        let h = compile(&["X-Custom", "x-other"], false);
        assert!(allows(&h, &["x-custom"]));
        assert!(allows(&h, &["X-CUSTOM,X-Other"]));
        assert!(allows(&h, &[" x-custom ,\tx-other\t"]));
        assert!(allows(&h, &[",,x-custom,,"]));
        assert!(allows(&h, &["x-custom", "x-other"]), "several header lines");
        assert!(allows(&h, &[""]), "empty list");
        assert!(!allows(&h, &["content-type"]), "a safelisted name is listed only for a non-safelisted value");
        assert!(!allows(&h, &["x-custom,accept"]));
        assert!(!allows(&h, &["x-custom,x-evil"]));
        assert!(!allows(&h, &["x-custom", "x-evil"]));
        assert!(!allows(&h, &["x custom"]), "not a token");
        assert!(!allows(&h, &["x-custom\r\nx-evil"]));
        assert!(!allows(&h, &["authorization"]));
        assert_eq!(h.header_value(), Some("x-custom,x-other"), "the configuration, nothing appended");
        let typed = compile(&["Content-Type"], false);
        assert!(allows(&typed, &["content-type"]) && !allows(&typed, &["content-type,accept"]));
        assert_eq!(typed.header_value(), Some("content-type"));
        assert_eq!(compile(&[], false).header_value(), None, "no name listed: no header");
        assert!(allows(&compile(&[], false), &[""]) && !allows(&compile(&[], false), &["accept"]));
    }

    #[test]
    fn scanner_edge_cases() {
        let long = "x-a-very-long-header-name-beyond-the-inline-size";
        let h = compile(&["x-custom", long], false);
        assert!(allows(&h, &["x-custom,"]));
        assert!(allows(&h, &[",x-custom"]));
        assert!(allows(&h, &["\tx-custom\t,  "]));
        assert!(allows(&h, &[&long.to_uppercase()]), "names longer than the inline size");
        assert!(!allows(&h, &[&long[..long.len() - 1]]));
        assert!(!allows(&h, &["x-custom x-custom"]), "whitespace inside an element");
        assert!(!allows(&h, &["x-cust om"]));
        assert!(!allows(&h, &["x-custom;"]));
        assert!(!allows(&h, &["x-custom\r\n"]));
        assert!(!allows(&h, &["x-custo"]), "prefix of an allowed name");
        assert!(!allows(&h, &["x-customs"]), "extension of an allowed name");
        let star = compile(&["*"], false);
        assert!(!allows(&star, &[&"x".repeat(MAX_NAME_LEN + 1)]), "names beyond 128 bytes are refused");
        assert!(!allows(&star, &["authorization,x-a"]));
        assert!(!allows(&star, &["x-a,AUTHORIZATION"]));
    }

    #[test]
    fn long_values_are_cached_per_value() {
        let h = compile(&["x-a", "x-b"], false);
        let allowed = ["x-a,x-b"; 200].join(",");
        let denied = format!("{allowed},x-c");
        for _ in 0..3 {
            assert!(allows(&h, &[&allowed]));
            assert!(!allows(&h, &[&denied]));
        }
        assert_eq!(h.verdicts.len(), 2);
        for i in 0..10 {
            assert!(!allows(&h, &[&format!("{allowed},x-{i}")]));
        }
        assert!(h.verdicts.len() <= CACHE_ENTRIES);
        assert!(allows(&h, &[&allowed]));
        // Split over lines, the same names are checked line by line.
        assert!(allows(&h, &[&allowed, "x-b"]));
        assert!(!allows(&h, &[&allowed, "x-c"]));
    }

    #[test]
    fn wildcard_never_covers_authorization() {
        let h = compile(&["*"], false);
        assert!(allows(&h, &["x-anything,x-else"]));
        assert!(!allows(&h, &["x-anything,Authorization"]));
        assert_eq!(h.header_value(), Some("*"));
        let h = compile(&["*", "authorization"], false);
        assert!(allows(&h, &["x-anything,authorization"]));
        assert_eq!(h.header_value(), Some("*,authorization"));
    }

    #[test]
    fn wildcard_with_credentials_echoes_the_request() {
        let h = compile(&["*"], true);
        assert!(h.echoes());
        assert_eq!(h.header_value(), None, "`*` is a literal name to a credentialed request");
        assert!(allows(&h, &["X-Anything, x-else", "content-type"]));
        assert!(!allows(&h, &["x-anything,Authorization"]), "Authorization must still be named");
        assert!(!allows(&h, &["x a"]), "still only tokens");
        assert!(!allows(&h, &["x-a,Cookie"]) && !allows(&h, &["sec-fetch-mode"]), "never a forbidden name");
        assert!(!allows(&h, &[&"x".repeat(MAX_NAME_LEN + 1)]));
        assert!(!allows(&h, &[&"x-a,".repeat(MAX_REQUEST_HEADERS_LEN / 4 + 1)]), "same byte bound");
        let named = compile(&["*", "Authorization"], true);
        assert!(allows(&named, &["authorization,x-a"]));
        assert_eq!(
            AllowedHeaders::echo_value(&[b" X-Anything ,,x-ELSE\t", b"", b"Authorization"]),
            "x-anything,x-else,authorization"
        );
        assert_eq!(AllowedHeaders::echo_value(&[]), "");
        assert!(!compile(&["*"], false).echoes() && !compile(&["x-a"], true).echoes());
    }

    #[test]
    fn work_is_bounded() {
        let h = compile(&["x-a"], false);
        let many = vec!["x-a"; 1000].join(",");
        assert!(allows(&h, &[&many]));
        let huge = "x-a,".repeat(MAX_REQUEST_HEADERS_LEN / 4 + 1);
        assert!(!allows(&h, &[&huge]));
        let long_name = "x".repeat(MAX_NAME_LEN + 1);
        assert!(!allows(&h, &[&long_name]));
    }

    #[test]
    fn config_errors() {
        let all = |list: &[&str]| AllowedHeaders::compile(&strings(list), false).unwrap_err();
        let e = |list: &[&str]| {
            let first = all(list).remove(0);
            (first.index, first.reason)
        };
        assert_eq!(e(&["x-ok", "bad name"]).0, 1);
        assert_eq!(all(&["cookie", "x-ok", "bad name", "origin"]).len(), 3, "every element reported");
        assert!(e(&["Cookie"]).1.contains("forbidden"));
        assert!(e(&["proxy-authorization"]).1.contains("forbidden"));
        assert!(e(&["Sec-Fetch-Mode"]).1.contains("forbidden"));
        assert!(e(&["origin"]).1.contains("forbidden"));
        assert!(e(&[&"x".repeat(200)]).1.contains("longer"));
        for name in RESPONSE_ONLY {
            assert!(e(&["x-ok", &name.to_uppercase()]).1.contains("response-only"), "{name}");
        }
        assert!(e(&["*", "Access-Control-Allow-Origin"]).1.contains("response-only"));
    }
}
