//! Merging a field name into an upstream's `Vary`, without duplicates and without dropping
//! what the upstream said.

use crate::token::is_token;

/// The `Vary` value to set so that it also names `field`, given every `Vary` line the
/// response has. `None` when nothing needs to change (already listed, or `*`).
pub fn merge<'a>(lines: impl IntoIterator<Item = &'a [u8]>, field: &str) -> Option<String> {
    let mut merged = String::new();
    for line in lines {
        for item in line.split(|&b| b == b',') {
            let item = item.trim_ascii();
            if item == b"*" || item.eq_ignore_ascii_case(field.as_bytes()) {
                return None;
            }
            // Elements of Vary are field names; anything else means nothing to a cache.
            if is_token(item) {
                if !merged.is_empty() {
                    merged.push_str(", ");
                }
                // A token is ASCII.
                merged.push_str(std::str::from_utf8(item).unwrap_or_default());
            }
        }
    }
    if !merged.is_empty() {
        merged.push_str(", ");
    }
    merged.push_str(field);
    Some(merged)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn m(lines: &[&str]) -> Option<String> {
        merge(lines.iter().map(|l| l.as_bytes()), "Origin")
    }

    #[test]
    fn merges() {
        assert_eq!(m(&[]).as_deref(), Some("Origin"));
        assert_eq!(m(&["Accept-Encoding"]).as_deref(), Some("Accept-Encoding, Origin"));
        assert_eq!(
            m(&["accept-encoding", "Accept-Language"]).as_deref(),
            Some("accept-encoding, Accept-Language, Origin")
        );
        assert_eq!(m(&[" a ,, b "]).as_deref(), Some("a, b, Origin"));
        assert_eq!(m(&["a, bad value"]).as_deref(), Some("a, Origin"));
        assert_eq!(m(&[""]).as_deref(), Some("Origin"));
    }

    #[test]
    fn no_duplicates() {
        assert_eq!(m(&["Origin"]), None);
        assert_eq!(m(&["accept-encoding, origin"]), None);
        assert_eq!(m(&["x", "ORIGIN"]), None);
        assert_eq!(m(&["*"]), None);
    }
}
