//! RFC 9110 token and field-value syntax, shared by methods, header names and values.

/// `tchar` of RFC 9110 section 5.6.2.
pub(crate) const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
        | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// `LOWER_TCHAR[b]` is `b` lowercased when `b` is a tchar, 0 otherwise: one table lookup per
/// byte both checks and folds a header name.
// Indexing in a constant is checked when it is evaluated, at compile time: it cannot panic.
#[allow(clippy::indexing_slicing)]
pub(crate) static LOWER_TCHAR: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        if is_tchar(b as u8) {
            table[b] = (b as u8).to_ascii_lowercase();
        }
        b += 1;
    }
    table
};

/// True when `s` is a non-empty RFC 9110 token (a valid method or header name).
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// True when `s` can be sent as a header value: visible ASCII, space and tab, no
/// leading or trailing whitespace. Stricter than RFC 9110 (no obs-text) on purpose:
/// everything the filter emits is ASCII.
pub(crate) fn is_header_value(s: &[u8]) -> bool {
    let visible = |b: &u8| matches!(*b, b'\t' | b' ' | 0x21..=0x7e);
    s.iter().all(visible)
        && !s.first().is_some_and(|b| matches!(b, b' ' | b'\t'))
        && !s.last().is_some_and(|b| matches!(b, b' ' | b'\t'))
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn tokens() {
        for ok in ["GET", "x-custom", "PATCH", "m!#$%&'*+-.^_`|~9"] {
            assert!(is_token(ok.as_bytes()), "{ok}");
        }
        for bad in ["", "GET, DELETE", "a b", "a\r\nb", "caf\u{e9}", "x:y", "(x)", "a\"b"] {
            assert!(!is_token(bad.as_bytes()), "{bad:?}");
        }
    }

    #[test]
    fn header_values() {
        assert!(is_header_value(b"https://a.example"));
        assert!(is_header_value(b""));
        assert!(is_header_value(b"a, b"));
        assert!(!is_header_value(b" a"));
        assert!(!is_header_value(b"a\r\nSet-Cookie: x"));
        assert!(!is_header_value(b"a\0"));
        assert!(!is_header_value(&[b'a', 0xff]));
    }
}
