//! The request path as `path_prefixes` compare it: RFC 3986 normalized, so that a path-scoped
//! policy cannot be aimed at a path the upstream resolves elsewhere (`/public/../admin`).
//!
//! Normalized (RFC 3986 §6.2.2): query and fragment dropped, percent-encoded unreserved
//! characters decoded (`%2e` is `.`, `%7E` is `~`), other percent-encodings' hex uppercased,
//! dot-segments removed. Ambiguous, so no path-scoped policy is selected at all: an encoded
//! slash or backslash (`%2F`, `%5C`: upstreams disagree on whether it separates segments), a raw
//! backslash (some upstreams read it as `/`), a malformed `%` escape, a dot-segment that would
//! climb above the root, and an empty segment (`//`) next to a dot-segment (`/a//../b` is
//! `/a/b` by RFC 3986 but `/b` to a proxy that merges slashes first).

use std::borrow::Cow;

/// `path` normalized for prefix matching, or `None` when it is ambiguous and must select no
/// path-scoped policy. Most paths need no change and are returned borrowed, without a copy.
pub fn normalize(path: &[u8]) -> Option<Cow<'_, [u8]>> {
    let path = match path.iter().position(|&b| b == b'?' || b == b'#') {
        Some(end) => path.get(..end)?,
        None => path,
    };
    if !needs_work(path) {
        return Some(Cow::Borrowed(path));
    }
    let decoded = decode_unreserved(path)?;
    remove_dot_segments(&decoded).map(Cow::Owned)
}

/// True when `path` has an escape, a backslash or a dot-segment: anything `normalize` changes
/// or refuses. The common path has none and costs one scan.
fn needs_work(path: &[u8]) -> bool {
    let mut previous = b'/';
    for &b in path {
        match b {
            b'%' | b'\\' => return true,
            // `.` at the start of a segment: `/./`, `/../`, or a name like `/.well-known/`
            // (looked at again by the slow path, which keeps it).
            b'.' if previous == b'/' => return true,
            _ => {}
        }
        previous = b;
    }
    false
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

/// Decodes `%XX` where it stands for an unreserved character and uppercases the hex of every
/// other escape; `None` for a malformed escape, an encoded `/` or `\`, or a raw `\`.
fn decode_unreserved(path: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(path.len());
    let mut rest = path;
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match b {
            b'\\' => return None,
            b'%' => {
                let (hi, lo) = match rest {
                    [hi, lo, ..] => (*hi, *lo),
                    _ => return None,
                };
                let value = hex_value(hi)? << 4 | hex_value(lo)?;
                rest = rest.get(2..)?;
                if value == b'/' || value == b'\\' {
                    return None;
                }
                if is_unreserved(value) {
                    out.push(value);
                } else {
                    out.extend_from_slice(&[b'%', hi.to_ascii_uppercase(), lo.to_ascii_uppercase()]);
                }
            }
            _ => out.push(b),
        }
    }
    Some(out)
}

/// RFC 3986 §5.2.4 for a path that starts with `/`, except that climbing above the root, or a
/// dot-segment in a path with empty segments, is refused (`None`) rather than resolved.
fn remove_dot_segments(path: &[u8]) -> Option<Vec<u8>> {
    let Some(body) = path.strip_prefix(b"/") else {
        // Not an origin-form path (`*`, or no leading slash): no prefix starts like it.
        return Some(path.to_vec());
    };
    let segments: Vec<&[u8]> = body.split(|&b| b == b'/').collect();
    let has_dot = segments.iter().any(|s| *s == b"." || *s == b"..");
    let last = segments.len().saturating_sub(1);
    let has_empty = segments.iter().enumerate().any(|(i, s)| s.is_empty() && i != last);
    if has_dot && has_empty {
        return None;
    }
    let mut kept: Vec<&[u8]> = Vec::with_capacity(segments.len());
    // A path that ends in a dot-segment names a directory: `/a/b/..` is `/a/`.
    let mut trailing_slash = false;
    for segment in &segments {
        trailing_slash = false;
        match *segment {
            b"." => trailing_slash = true,
            b".." => {
                kept.pop()?;
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
    Some(out)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn norm(path: &str) -> Option<String> {
        normalize(path.as_bytes()).map(|p| String::from_utf8_lossy(&p).into_owned())
    }

    #[test]
    fn plain_paths_are_borrowed_unchanged() {
        for p in ["/", "/public/x", "/a/b.c/d", "/a-b_c~d", "/api/v1.2/items", "*"] {
            assert!(matches!(normalize(p.as_bytes()), Some(Cow::Borrowed(_))), "{p}");
            assert_eq!(norm(p).as_deref(), Some(p));
        }
    }

    #[test]
    fn query_and_fragment_are_ignored() {
        assert_eq!(norm("/public/x?next=/admin").as_deref(), Some("/public/x"));
        assert_eq!(norm("/public/x#/../admin").as_deref(), Some("/public/x"));
        assert_eq!(norm("/admin?/public/").as_deref(), Some("/admin"));
        assert_eq!(norm("/public/..?x").as_deref(), Some("/"));
    }

    #[test]
    fn dot_segments_are_removed() {
        assert_eq!(norm("/public/../admin").as_deref(), Some("/admin"));
        assert_eq!(norm("/public/./x").as_deref(), Some("/public/x"));
        assert_eq!(norm("/a/b/..").as_deref(), Some("/a/"));
        assert_eq!(norm("/a/b/.").as_deref(), Some("/a/b/"));
        assert_eq!(norm("/a/../public/x").as_deref(), Some("/public/x"));
        assert_eq!(norm("/.well-known/x").as_deref(), Some("/.well-known/x"));
        assert_eq!(norm("/a/..b/c").as_deref(), Some("/a/..b/c"), "not a dot-segment");
    }

    #[test]
    fn unreserved_escapes_are_decoded_the_rest_uppercased() {
        assert_eq!(norm("/public/%2e%2e/admin").as_deref(), Some("/admin"));
        assert_eq!(norm("/public/%2E%2E/admin").as_deref(), Some("/admin"));
        assert_eq!(norm("/public/.%2e/admin").as_deref(), Some("/admin"));
        assert_eq!(norm("/%70ublic/x").as_deref(), Some("/public/x"));
        assert_eq!(norm("/caf%c3%a9").as_deref(), Some("/caf%C3%A9"));
        assert_eq!(norm("/a%20b").as_deref(), Some("/a%20b"));
    }

    #[test]
    fn ambiguous_paths_select_nothing() {
        for p in [
            "/public/..%2Fadmin",
            "/public/..%2fadmin",
            "/public/%2F..%2Fadmin",
            "/public/..%5Cadmin",
            "/public/..%5cadmin",
            "/public/..\\admin",
            "/public\\x",
            "/..",
            "/../admin",
            "/public/../../admin",
            "/%2e%2e/admin",
            "/public//../admin",
            "/public/x%",
            "/public/x%2",
            "/public/%zz",
        ] {
            assert_eq!(norm(p), None, "{p}");
        }
    }

    #[test]
    fn empty_segments_alone_are_kept() {
        assert_eq!(norm("/public//x").as_deref(), Some("/public//x"));
        assert_eq!(norm("//public/x").as_deref(), Some("//public/x"));
    }
}
