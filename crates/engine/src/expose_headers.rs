//! `expose_headers`: validation at load and the precomputed `Access-Control-Expose-Headers`.

use crate::config::{ItemError, Rule};
use crate::header_names::{validate_list, FORBIDDEN_RESPONSE, REQUEST_ONLY};

/// Compiles `expose_headers` into the `Access-Control-Expose-Headers` value.
/// Every refused element is reported.
pub(crate) fn compile_expose(raw: &[String], credentials: bool) -> Result<Option<Box<str>>, Vec<ItemError>> {
    let refusal = |name: &str| {
        if name == "*" && credentials {
            // A wildcard only without credentials (Fetch); with them, a literal name no one sends.
            Some((
                Rule::WildcardWithCredentials,
                "`*` is a literal header name when credentials are allowed: list the headers",
            ))
        } else if FORBIDDEN_RESPONSE.contains(&name) {
            Some((Rule::HeaderName, "forbidden response header: browsers never expose Set-Cookie"))
        } else if REQUEST_ONLY.contains(&name) {
            Some((Rule::HeaderName, "request-only header: no response carries it, so there is nothing to expose"))
        } else {
            None
        }
    };
    let list = validate_list(raw, refusal)?;
    Ok((!list.names.is_empty()).then(|| list.names.join(",").into_boxed_str()))
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn expose_headers() {
        assert_eq!(
            compile_expose(&strings(&["X-Total", "x-total", "ETag"]), false).unwrap().as_deref(),
            Some("x-total,etag")
        );
        assert_eq!(compile_expose(&[], false).unwrap(), None);
        assert_eq!(compile_expose(&strings(&["*"]), false).unwrap().as_deref(), Some("*"));
        assert!(compile_expose(&strings(&["*"]), true).is_err());
        assert!(compile_expose(&strings(&["Set-Cookie"]), false).unwrap_err()[0].reason.contains("forbidden"));
        assert!(compile_expose(&strings(&["a b"]), false).is_err());
        for name in REQUEST_ONLY {
            let e = compile_expose(&strings(&["x-ok", &name.to_uppercase()]), false).unwrap_err().remove(0);
            assert!(e.index == 1 && e.rule == Rule::HeaderName && e.reason.contains("request-only"), "{name}: {e:?}");
        }
        // The response's own CORS headers may be exposed (a script reads them like any other).
        assert!(compile_expose(&strings(&["access-control-allow-origin"]), false).is_ok());
    }
}
