//! "Is this domain a public suffix?" against Mozilla's Public Suffix List, bundled gzipped
//! (regenerate with `scripts/gen-public-suffix-list.py`). Only configuration validation asks,
//! so the list is inflated on first use, once per VM.

use std::sync::OnceLock;

use crate::fast_hash::FastHashSet;

static LIST_GZ: &[u8] = include_bytes!("public_suffix_list.txt.gz");

/// The rules, sorted, as written in the list (`com`, `*.ck`, `!www.ck`).
fn rules() -> &'static [&'static str] {
    static RULES: OnceLock<Vec<&'static str>> = OnceLock::new();
    RULES.get_or_init(|| {
        // The gzip header is 10 bytes (no optional fields: the generator writes none); the
        // trailer is 8. A damaged list reads as empty, and only TLDs count as suffixes then.
        let deflated = LIST_GZ.get(10..LIST_GZ.len().saturating_sub(8)).unwrap_or_default();
        let text = miniz_oxide::inflate::decompress_to_vec(deflated).unwrap_or_default();
        let text: &'static str = String::from_utf8(text).map(|s| &*Box::leak(s.into_boxed_str())).unwrap_or("");
        text.lines().collect()
    })
}

fn has_rule(rule: &str) -> bool {
    rules().binary_search(&rule).is_ok()
}

/// True when `domain` (lowercase, punycode, no trailing dot) is a public suffix: anyone can
/// register names directly under it (`com`, `co.uk`, `github.io`).
pub(crate) fn is_public_suffix(domain: &str) -> bool {
    if !domain.contains('.') {
        // The list's implicit `*` rule: every top-level domain.
        return true;
    }
    if has_rule(domain) {
        return true;
    }
    if has_rule(&format!("!{domain}")) {
        return false;
    }
    match domain.split_once('.') {
        Some((_, parent)) => has_rule(&format!("*.{parent}")),
        None => false,
    }
}

/// True when some public suffix lies beneath `domain`: a rule of the list (ICANN or private
/// section, a wildcard rule's name included) that ends in `.domain`. `*.amazonaws.com` is then
/// open to anyone, through `s3-website-us-east-1.amazonaws.com`, though `amazonaws.com` itself is
/// not a public suffix.
pub(crate) fn has_public_suffix_below(domain: &str) -> bool {
    static PARENTS: OnceLock<FastHashSet<&'static str>> = OnceLock::new();
    let parents = PARENTS.get_or_init(|| {
        let mut parents = FastHashSet::default();
        for rule in rules().iter().copied().filter(|r| !r.starts_with('!')) {
            // `*.foo.bar`: every `x.foo.bar` is a suffix, so `foo.bar` has one beneath it.
            if let Some(name) = rule.strip_prefix("*.") {
                parents.insert(name);
            }
            let mut rest = rule;
            while let Some((_, parent)) = rest.split_once('.') {
                parents.insert(parent);
                rest = parent;
            }
        }
        parents
    });
    parents.contains(domain)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn public_suffixes() {
        assert!(rules().len() > 9000, "the bundled list inflates");
        for s in ["com", "co.uk", "github.io", "s3.amazonaws.com", "anything.ck", "xn--p1ai", "localhost", "internal"] {
            assert!(is_public_suffix(s), "{s}");
        }
        for s in ["example.com", "example.co.uk", "user.github.io", "www.ck", "a.b.example.com"] {
            assert!(!is_public_suffix(s), "{s}");
        }
    }

    #[test]
    fn public_suffixes_beneath() {
        for s in ["amazonaws.com", "core.windows.net", "fastly.net", "digitaloceanspaces.com", "com", "uk", "ck"] {
            assert!(has_public_suffix_below(s), "{s}");
        }
        for s in ["example.com", "example.co.uk", "user.github.io", "a.b.example.com"] {
            assert!(!has_public_suffix_below(s), "{s}");
        }
    }
}
