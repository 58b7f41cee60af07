//! The admission guard's decision: an `AdmissionReview` (admission.k8s.io/v1) in, its response
//! out. A `WasmPlugin`, `EnvoyExtensionPolicy` or `EnvoyFilter` that carries this plugin's
//! configuration is checked with the plugin's own loader, found exactly as `cors-lint validate`
//! finds it, and denied with the same lines; anything else is allowed (the guard only judges
//! what it knows). Pure: the HTTP and TLS side is the `webhook` command's.

use serde_json::{json, Value};

use cors_engine::Config;

use crate::extract;

/// The kinds the guard judges; every other kind is allowed untouched.
pub const KINDS: [&str; 3] = ["WasmPlugin", "EnvoyExtensionPolicy", "EnvoyFilter"];

/// A request that is no `AdmissionReview` v1: the HTTP status to answer and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadReview {
    /// 400: the API server treats it as a webhook failure (its `failurePolicy` decides).
    pub status: u16,
    /// Why, for the API server's log.
    pub message: String,
}

fn bad(message: impl Into<String>) -> BadReview {
    BadReview { status: 400, message: message.into() }
}

/// The `AdmissionReview` answering `body`, or why `body` is not one.
pub fn review(body: &[u8]) -> Result<Value, BadReview> {
    let review: Value = serde_json::from_slice(body).map_err(|e| bad(format!("not JSON: {e}")))?;
    if review.get("apiVersion").and_then(Value::as_str) != Some("admission.k8s.io/v1")
        || review.get("kind").and_then(Value::as_str) != Some("AdmissionReview")
    {
        return Err(bad("not an admission.k8s.io/v1 AdmissionReview"));
    }
    let request = review.get("request").filter(|r| r.is_object()).ok_or_else(|| bad("no `request`"))?;
    let uid =
        request.get("uid").and_then(Value::as_str).filter(|u| !u.is_empty()).ok_or_else(|| bad("no `request.uid`"))?;
    let (allowed, message) = match decide(request) {
        Ok(()) => (true, None),
        Err(lines) => (false, Some(lines.join("\n"))),
    };
    let mut response = json!({ "uid": uid, "allowed": allowed });
    if let Some(message) = message {
        if let Some(r) = response.as_object_mut() {
            r.insert("status".into(), json!({ "code": 403, "reason": "Invalid", "message": message }));
        }
    }
    Ok(json!({ "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response }))
}

/// `Err` with one line per refusal, as `cors-lint validate` prints them (without a file name).
fn decide(request: &Value) -> Result<(), Vec<String>> {
    let kind = request.get("kind").and_then(|k| k.get("kind")).and_then(Value::as_str).unwrap_or_default();
    let operation = request.get("operation").and_then(Value::as_str).unwrap_or_default();
    if !KINDS.contains(&kind) || !matches!(operation, "CREATE" | "UPDATE") {
        return Ok(());
    }
    let object = match request.get("object") {
        Some(o @ Value::Object(_)) => o,
        _ => return Err(vec![format!("{operation} {kind}: the request has no object to check")]),
    };
    let mut refusals = Vec::new();
    for found in extract::from_object(object).configs {
        let errors = match &found.config {
            Err(e) => vec![e.clone()],
            Ok(json) => match Config::from_json(json) {
                Ok(_) => continue,
                Err(errors) => errors.iter().map(|e| with_hint(&e.to_string())).collect(),
            },
        };
        refusals.extend(errors.into_iter().map(|e| format!("{}: {e}", found.location)));
    }
    if refusals.is_empty() {
        Ok(())
    } else {
        Err(refusals)
    }
}

/// A boolean where the plugin takes a string is almost always a bare YAML 1.1 `on`/`off`/
/// `yes`/`no` that kubectl turned into one: say so.
fn with_hint(message: &str) -> String {
    if message.contains("invalid type: boolean") && message.contains("(a string)") {
        format!("{message} (a bare on/off/yes/no in YAML is a boolean to Kubernetes: quote it)")
    } else {
        message.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wasm_plugin(config: Value) -> Vec<u8> {
        json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
                "kind": {"group": "extensions.istio.io", "version": "v1alpha1", "kind": "WasmPlugin"},
                "operation": "CREATE",
                "object": {
                    "apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
                    "metadata": {"name": "cors", "namespace": "istio-system"},
                    "spec": {"url": "oci://registry.example/envoy-cors:v0.1.0", "pluginConfig": config}
                }
            }
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn allows_valid_denies_invalid_with_validate_s_lines() {
        let ok = review(&wasm_plugin(json!({"allow_origins": ["https://a.example"]}))).unwrap();
        assert_eq!(ok["response"], json!({"uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "allowed": true}));
        let denied = review(&wasm_plugin(json!({"allow_origins": ["https://a.example"], "mode": false}))).unwrap();
        assert_eq!(denied["response"]["allowed"], json!(false));
        let message = denied["response"]["status"]["message"].as_str().unwrap();
        assert!(message.starts_with("WasmPlugin istio-system/cors spec.pluginConfig: invalid CORS configuration: `mode`: invalid type: boolean `false`"), "{message}");
        assert!(message.ends_with("quote it)"), "{message}");
    }

    #[test]
    fn malformed_reviews_are_400s() {
        for body in [
            &b"{"[..],
            b"[]",
            br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}"#,
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#,
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":""}}"#,
        ] {
            assert_eq!(review(body).unwrap_err().status, 400, "{}", String::from_utf8_lossy(body));
        }
        // A review of a judged kind without an object is denied, not crashed on.
        let no_object = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"kind":"WasmPlugin"},"operation":"CREATE"}}"#;
        assert_eq!(review(no_object).unwrap()["response"]["allowed"], json!(false));
        // Other kinds and deletions are none of its business.
        let delete = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"kind":"WasmPlugin"},"operation":"DELETE","object":null}}"#;
        assert_eq!(review(delete).unwrap()["response"]["allowed"], json!(true));
    }
}
