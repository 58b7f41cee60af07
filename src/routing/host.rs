//! The host of an `:authority` as browsers and Envoy compare it.

use crate::host_port;

/// The host of an `:authority`, without its port (`[v6]:port` keeps its brackets) and without a
/// trailing dot: `api.example.com.` is the same host and must not escape its policy. Case is
/// left to the patterns, which ignore it. `None` for an authority that is no `host[:port]`.
pub fn host_of(authority: &[u8]) -> Option<&[u8]> {
    let (host, _) = host_port::split(authority)?;
    Some(host.strip_suffix(b".").unwrap_or(host))
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn host_of_strips_ports() {
        assert_eq!(host_of(b"api.example.com:8443"), Some(&b"api.example.com"[..]));
        assert_eq!(host_of(b"api.example.com"), Some(&b"api.example.com"[..]));
        assert_eq!(host_of(b"[::1]:80"), Some(&b"[::1]"[..]));
        assert_eq!(host_of(b"[::1]"), Some(&b"[::1]"[..]));
        assert_eq!(host_of(b"api.example.com."), Some(&b"api.example.com"[..]));
        assert_eq!(host_of(b"api.example.com.:8443"), Some(&b"api.example.com"[..]));
    }

    #[test]
    fn not_an_authority() {
        assert_eq!(host_of(b"a.com:80:90"), None);
        assert_eq!(host_of(b"[::1"), None);
        assert_eq!(host_of(b"[::1]x"), None);
    }
}
