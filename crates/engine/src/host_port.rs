//! `host[:port]` split in one place, for an `Origin`'s host, an origin pattern's and an
//! `:authority`'s.

/// Splits `host[:port]`, keeping IPv6 brackets with the host. `None` when it is no
/// `host[:port]`: an unclosed bracket, anything but `:port` after one, or more than one colon
/// outside brackets (which a host never holds). The port is returned as written, unchecked.
pub(crate) fn split(text: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    if text.first() == Some(&b'[') {
        let end = text.iter().position(|&b| b == b']')?;
        let (host, after) = text.split_at(end + 1);
        return match after {
            [] => Some((host, None)),
            [b':', port @ ..] => Some((host, Some(port))),
            _ => None,
        };
    }
    let mut parts = text.splitn(3, |&b| b == b':');
    let host = parts.next()?;
    let port = parts.next();
    match parts.next() {
        Some(_) => None,
        None => Some((host, port)),
    }
}

/// `split` for text.
pub(crate) fn split_str(text: &str) -> Option<(&str, Option<&str>)> {
    let (host, port) = split(text.as_bytes())?;
    // Both parts end at ASCII bytes (`]`, `:` or the end), so they are char boundaries.
    let host = std::str::from_utf8(host).ok()?;
    let port = match port {
        Some(p) => Some(std::str::from_utf8(p).ok()?),
        None => None,
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn splits() {
        assert_eq!(split_str("a.com:8443"), Some(("a.com", Some("8443"))));
        assert_eq!(split_str("a.com"), Some(("a.com", None)));
        assert_eq!(split_str("[::1]:80"), Some(("[::1]", Some("80"))));
        assert_eq!(split_str("[::1]"), Some(("[::1]", None)));
        assert_eq!(split_str("a.com:"), Some(("a.com", Some(""))));
        assert_eq!(split_str("a:b:c"), None);
        assert_eq!(split_str("[::1"), None);
        assert_eq!(split_str("[::1]80"), None);
    }
}
