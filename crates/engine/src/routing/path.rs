//! The request path as `path_prefixes` compare it, read every way an upstream might read it.
//!
//! A path-scoped policy must not be aimed at one path while the upstream serves another, so a
//! path is not read once but once per plausible interpretation (docs/security.md has the
//! table), and `Config::select` denies when the readings select different policies:
//!
//! | reading | what it does before RFC 3986 normalization |
//! | --- | --- |
//! | as sent | no normalization at all: the path as routers that match the raw path (Express) see it |
//! | RFC 3986 | nothing (§6.2.2: unreserved escapes decoded, other escapes' hex uppercased, dot-segments removed, climbing above the root clamped) |
//! | segment parameters | `;…` removed from every segment (Tomcat, Jetty, Spring) |
//! | backslash | `\` and `%5C` read as `/` (IIS, some Windows and Node servers) |
//! | encoded slash | `%2F` read as `/` (servers that decode before routing) |
//! | merged slashes | runs of `/` read as one, before dot-segments are removed |
//! | all of these | together |
//!
//! Each reading is also compared with case folded (case-insensitive upstreams), where the path
//! or a prefix has an uppercase letter. A path with a malformed escape (`%zz`, `%`, `%2`) has
//! no reading at all: it is `Uninterpretable`. Query and fragment never take part.

/// How a path can be read. `has_upper` when a reading holds an ASCII uppercase letter, so
/// comparing with case folded could differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathReadings<'a> {
    /// The common path: every reading is the path itself (one scan, no copy).
    Plain {
        /// The path without query and fragment.
        path: &'a [u8],
        /// It has an ASCII uppercase letter.
        has_upper: bool,
    },
    /// The distinct readings of a path some reading changes.
    Several {
        /// Each reading, normalized, without duplicates.
        paths: Vec<Vec<u8>>,
        /// A reading has an ASCII uppercase letter.
        has_upper: bool,
    },
    /// A malformed escape: no upstream reads it in a way the filter can know.
    Uninterpretable,
}

impl PathReadings<'_> {
    /// The one reading of an unambiguous path, or `None` when there are several or none.
    pub(crate) fn single(&self) -> Option<&[u8]> {
        match self {
            PathReadings::Plain { path, .. } => Some(path),
            PathReadings::Several { paths, .. } => match paths.as_slice() {
                [one] => Some(one),
                _ => None,
            },
            PathReadings::Uninterpretable => None,
        }
    }

    /// True when some reading has an ASCII uppercase letter.
    pub(crate) fn has_upper(&self) -> bool {
        match self {
            PathReadings::Plain { has_upper, .. } | PathReadings::Several { has_upper, .. } => *has_upper,
            PathReadings::Uninterpretable => false,
        }
    }
}

/// Every reading of `path` (a raw `:path`).
pub(crate) fn readings(path: &[u8]) -> PathReadings<'_> {
    let path = without_query(path);
    let scan = scan(path);
    if !scan.needs_work {
        return PathReadings::Plain { path, has_upper: scan.has_upper };
    }
    let mut paths: Vec<Vec<u8>> = Vec::with_capacity(READINGS.len());
    for rules in READINGS {
        let Some(read) = read(path, rules) else {
            return PathReadings::Uninterpretable;
        };
        if !paths.contains(&read) {
            paths.push(read);
        }
    }
    let has_upper = paths.iter().any(|p| p.iter().any(u8::is_ascii_uppercase));
    PathReadings::Several { paths, has_upper }
}

/// `path` under the RFC 3986 reading alone, for a configured prefix (which must be written so);
/// `None` for a malformed escape.
pub(crate) fn normalize(path: &[u8]) -> Option<Vec<u8>> {
    read(without_query(path), RFC_3986)
}

fn without_query(path: &[u8]) -> &[u8] {
    match path.iter().position(|&b| b == b'?' || b == b'#') {
        Some(end) => path.get(..end).unwrap_or_default(),
        None => path,
    }
}

struct Scan {
    /// An escape, a backslash, a `;`, an empty segment or a dot at a segment's start: anything
    /// some reading changes.
    needs_work: bool,
    has_upper: bool,
}

fn scan(path: &[u8]) -> Scan {
    let mut has_upper = false;
    let mut previous = 0u8;
    for &b in path {
        match b {
            b'%' | b'\\' | b';' => return Scan { needs_work: true, has_upper },
            // `/./`, `/../`, or a name like `/.well-known/` (kept by the slow path), and `//`.
            b'.' | b'/' if previous == b'/' => return Scan { needs_work: true, has_upper },
            b'A'..=b'Z' => has_upper = true,
            _ => {}
        }
        previous = b;
    }
    Scan { needs_work: false, has_upper }
}

/// What one reading does besides RFC 3986 normalization (`resolve`).
#[derive(Clone, Copy)]
struct Rules {
    resolve: bool,
    segment_parameters: bool,
    backslash: bool,
    encoded_slash: bool,
    merge_slashes: bool,
}

const RFC_3986: Rules =
    Rules { resolve: true, segment_parameters: false, backslash: false, encoded_slash: false, merge_slashes: false };

const READINGS: [Rules; 7] = [
    Rules { resolve: false, ..RFC_3986 },
    RFC_3986,
    Rules { segment_parameters: true, ..RFC_3986 },
    Rules { backslash: true, ..RFC_3986 },
    Rules { encoded_slash: true, ..RFC_3986 },
    Rules { merge_slashes: true, ..RFC_3986 },
    Rules { resolve: true, segment_parameters: true, backslash: true, encoded_slash: true, merge_slashes: true },
];

/// `path` read under `rules`; `None` for a malformed escape.
fn read(path: &[u8], rules: Rules) -> Option<Vec<u8>> {
    if !rules.resolve {
        // As sent; a malformed escape still has no reading (some upstreams refuse it, others
        // decode around it).
        decode(path, rules)?;
        return Some(path.to_vec());
    }
    let without_parameters;
    let path = if rules.segment_parameters {
        without_parameters = remove_segment_parameters(path);
        &without_parameters[..]
    } else {
        path
    };
    let mut decoded = decode(path, rules)?;
    if rules.merge_slashes {
        decoded.dedup_by(|a, b| *a == b'/' && *b == b'/');
    }
    Some(remove_dot_segments(&decoded))
}

/// `/a;x=1/b;y` is `/a/b` to a Java servlet container: parameters go before decoding, so an
/// encoded `%3B` stays a literal `;`.
fn remove_segment_parameters(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    let mut in_parameter = false;
    for &b in path {
        match b {
            b'/' => {
                in_parameter = false;
                out.push(b);
            }
            b';' => in_parameter = true,
            _ if in_parameter => {}
            _ => out.push(b),
        }
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Decodes `%XX` where it stands for an unreserved character (and, as `rules` say, `/` and
/// `\`), uppercases the hex of every other escape, maps `\` to `/` when `rules.backslash`;
/// `None` for a malformed escape.
fn decode(path: &[u8], rules: Rules) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(path.len());
    let mut rest = path;
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match b {
            b'\\' if rules.backslash => out.push(b'/'),
            b'%' => {
                let (hi, lo) = match rest {
                    [hi, lo, ..] => (*hi, *lo),
                    _ => return None,
                };
                let value = hex_value(hi)? << 4 | hex_value(lo)?;
                rest = rest.get(2..)?;
                match value {
                    b'/' if rules.encoded_slash => out.push(b'/'),
                    b'\\' if rules.backslash => out.push(b'/'),
                    v if is_unreserved(v) => out.push(v),
                    _ => out.extend_from_slice(&[b'%', hi.to_ascii_uppercase(), lo.to_ascii_uppercase()]),
                }
            }
            _ => out.push(b),
        }
    }
    Some(out)
}

/// RFC 3986 §5.2.4 for a path that starts with `/`: `..` above the root stays at the root, as
/// the RFC, browsers and Envoy's `normalize_path` have it.
fn remove_dot_segments(path: &[u8]) -> Vec<u8> {
    let Some(body) = path.strip_prefix(b"/") else {
        // Not an origin-form path (`*`, or no leading slash): no prefix starts like it.
        return path.to_vec();
    };
    let mut kept: Vec<&[u8]> = Vec::new();
    // A path that ends in a dot-segment names a directory: `/a/b/..` is `/a/`.
    let mut trailing_slash = false;
    for segment in body.split(|&b| b == b'/') {
        trailing_slash = false;
        match segment {
            b"." => trailing_slash = true,
            b".." => {
                kept.pop();
                trailing_slash = true;
            }
            other => kept.push(other),
        }
    }
    let mut out = Vec::with_capacity(path.len());
    for segment in &kept {
        out.push(b'/');
        out.extend_from_slice(segment);
    }
    if trailing_slash || out.is_empty() {
        out.push(b'/');
    }
    out
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    /// Every reading of `path`, as text; `None` when it has none.
    fn all(path: &str) -> Option<Vec<String>> {
        let text = |p: &[u8]| String::from_utf8_lossy(p).into_owned();
        match readings(path.as_bytes()) {
            PathReadings::Plain { path, .. } => Some(vec![text(path)]),
            PathReadings::Several { paths, .. } => Some(paths.iter().map(|p| text(p)).collect()),
            PathReadings::Uninterpretable => None,
        }
    }

    /// The RFC 3986 reading alone.
    fn rfc(path: &str) -> Option<String> {
        normalize(path.as_bytes()).map(|p| String::from_utf8_lossy(&p).into_owned())
    }

    fn one(path: &str) -> Option<String> {
        readings(path.as_bytes()).single().map(|p| String::from_utf8_lossy(p).into_owned())
    }

    #[test]
    fn plain_paths_are_one_borrowed_reading() {
        for p in ["/", "/public/x", "/a/b.c/d", "/a-b_c~d", "/api/v1.2/items", "*", "/API/X"] {
            assert!(matches!(readings(p.as_bytes()), PathReadings::Plain { .. }), "{p}");
            assert_eq!(one(p).as_deref(), Some(p));
        }
    }

    #[test]
    fn uppercase_is_noted() {
        assert!(readings(b"/Api/x").has_upper());
        assert!(!readings(b"/api/x").has_upper());
        assert!(readings(b"/%41pi/./x").has_upper(), "decoded A");
    }

    #[test]
    fn query_and_fragment_are_ignored() {
        assert_eq!(one("/public/x?next=/admin").as_deref(), Some("/public/x"));
        assert_eq!(rfc("/public/x#/../admin").as_deref(), Some("/public/x"));
        assert_eq!(one("/admin?/public/").as_deref(), Some("/admin"));
        assert_eq!(rfc("/public/..?x").as_deref(), Some("/"));
        assert_eq!(one("/public/x?%zz").as_deref(), Some("/public/x"));
    }

    #[test]
    fn dot_segments_are_removed() {
        assert_eq!(rfc("/public/../admin").as_deref(), Some("/admin"));
        assert_eq!(rfc("/public/./x").as_deref(), Some("/public/x"));
        assert_eq!(rfc("/a/b/..").as_deref(), Some("/a/"));
        assert_eq!(rfc("/a/b/.").as_deref(), Some("/a/b/"));
        assert_eq!(rfc("/a/../public/x").as_deref(), Some("/public/x"));
        assert_eq!(rfc("/.well-known/x").as_deref(), Some("/.well-known/x"));
        assert_eq!(rfc("/a/..b/c").as_deref(), Some("/a/..b/c"), "not a dot-segment");
        assert_eq!(rfc("/../admin").as_deref(), Some("/admin"), "clamped at the root (RFC 3986 §5.2.4)");
        assert_eq!(rfc("/..").as_deref(), Some("/"));
    }

    #[test]
    fn unreserved_escapes_are_decoded_the_rest_uppercased() {
        assert_eq!(rfc("/public/%2e%2e/admin").as_deref(), Some("/admin"));
        assert_eq!(rfc("/public/%2E%2E/admin").as_deref(), Some("/admin"));
        assert_eq!(rfc("/public/.%2e/admin").as_deref(), Some("/admin"));
        assert_eq!(rfc("/%70ublic/x").as_deref(), Some("/public/x"));
        assert_eq!(rfc("/caf%c3%a9").as_deref(), Some("/caf%C3%A9"));
        assert_eq!(rfc("/a%20b").as_deref(), Some("/a%20b"));
    }

    #[test]
    fn each_reading_of_an_ambiguous_path() {
        let cases: &[(&str, &[&str])] = &[
            ("/api/x%2Fy", &["/api/x%2Fy", "/api/x/y"]),
            ("/public/..%2Fadmin", &["/public/..%2Fadmin", "/admin"]),
            ("/public/..%5cadmin", &["/public/..%5cadmin", "/public/..%5Cadmin", "/admin"]),
            ("/public/..\\admin", &["/public/..\\admin", "/admin"]),
            ("/public/..;/admin", &["/public/..;/admin", "/admin"]),
            ("/admin;/x", &["/admin;/x", "/admin/x"]),
            ("/public/%2e%2e;/admin", &["/public/%2e%2e;/admin", "/public/..;/admin", "/admin"]),
            ("/a;b=1/c", &["/a;b=1/c", "/a/c"]),
            ("/public//../admin", &["/public//../admin", "/public/admin", "/admin"]),
            ("/public//x", &["/public//x", "/public/x"]),
            ("/a%3Bb/c", &["/a%3Bb/c"]),
            ("/public/../admin", &["/public/../admin", "/admin"]),
            ("/../public/x", &["/../public/x", "/public/x"]),
            ("/%70ublic/x", &["/%70ublic/x", "/public/x"]),
            ("/.well-known/x", &["/.well-known/x"]),
        ];
        for (path, expected) in cases {
            let mut got = all(path).unwrap_or_else(|| panic!("{path}: no reading"));
            got.sort();
            let mut expected: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
            expected.sort();
            assert_eq!(got, expected, "{path}");
        }
    }

    #[test]
    fn malformed_escapes_have_no_reading() {
        for p in ["/public/x%", "/public/x%2", "/public/%zz", "/api/%g0", "/api/x%2"] {
            assert_eq!(all(p), None, "{p}");
        }
    }
}
