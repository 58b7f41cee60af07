//! Origin matchers: Istio's `StringMatch`, Envoy's `StringMatcher`, the Gateway API's wildcard
//! strings; each becomes an `allow_origins` entry or regex, or a refusal naming a safe
//! replacement.

use serde_json::Value;

use cors_engine::config::ConfigErrors;
use cors_engine::Config;

use super::{norm, push, Converted};

/// One Istio `StringMatch` / Envoy `StringMatcher` of allowed origins.
pub(super) fn origin_matcher(
    key: &str,
    m: &Value,
    who: &str,
    out: &mut Converted,
    notes: &mut Vec<String>,
    refusals: &mut Vec<String>,
) {
    let Value::Object(map) = m else {
        refusals.push(format!("`{key}` must be a string matcher (exact, prefix, suffix, regex...)"));
        return;
    };
    let mut kinds = map.iter().filter(|(k, _)| norm(k) != "ignorecase");
    let (Some((kind, value)), None) = (kinds.next(), kinds.next()) else {
        refusals.push(format!("`{key}` must have exactly one of exact, prefix, suffix, regex / safe_regex, contains"));
        return;
    };
    let text = match (norm(kind).as_str(), value) {
        ("saferegex", Value::Object(r)) => r.get("regex").and_then(Value::as_str).unwrap_or_default().to_owned(),
        (_, Value::String(s)) => s.clone(),
        _ => {
            refusals.push(format!("`{key}.{kind}` must be a string"));
            return;
        }
    };
    match norm(kind).as_str() {
        "exact" => exact(key, &text, who, out, notes, refusals),
        "prefix" => refusals.push(prefix_refusal(key, &text)),
        "suffix" => suffix(key, &text, who, out, notes, refusals),
        "regex" | "saferegex" => regex(key, &text, out, refusals),
        "contains" => refusals.push(format!(
            "`{key}`: contains {text:?} matches any origin holding that text, e.g. `https://{}.attacker.example`: \
             list the origins in allow_origins (or `https://*.example.com` for subdomains)",
            text.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        )),
        other => refusals.push(format!("`{key}`: matcher `{other}` is not supported for origins")),
    }
}

/// A Gateway API / Envoy Gateway origin: `*`, an origin, `https://*.example.com`. The plugin's
/// `allow_origins` has the same forms; a `*` host (`https://*`, any host) has none.
pub(super) fn wildcard_origin(key: &str, text: &str, who: &str, out: &mut Converted, refusals: &mut Vec<String>) {
    if text == "*" {
        push(&mut out.allow_origins, "*".into());
        return;
    }
    let host = text.split_once("://").map_or("", |(_, rest)| rest);
    if host == "*" || host.starts_with("*:") {
        refusals.push(format!(
            "`{key}`: {text:?} allows every host over that scheme for {who}; the plugin has no such pattern: list \
             the origins, use `https://*.example.com` for subdomains, or \"*\" (without credentials)"
        ));
        return;
    }
    match check_origin_entry(text) {
        Ok(()) => push(&mut out.allow_origins, text.to_owned()),
        Err(why) => refusals.push(format!("`{key}`: {text:?}: {why}")),
    }
}

/// Does the plugin accept this as an `allow_origins` entry? Its error otherwise.
pub(super) fn check_origin_entry(entry: &str) -> Result<(), String> {
    let json = serde_json::json!({ "allow_origins": [entry] }).to_string();
    Config::from_json(&json).map(|_| ()).map_err(first_reason)
}

pub(super) fn exact(
    key: &str,
    text: &str,
    who: &str,
    out: &mut Converted,
    notes: &mut Vec<String>,
    refusals: &mut Vec<String>,
) {
    if text == "*" {
        push(&mut out.allow_origins, "*".into());
        return;
    }
    if text == "null" {
        out.allow_null_origin = Some(true);
        notes.push(format!("`{key}` exact \"null\" -> allow_null_origin: true"));
        return;
    }
    if text.contains('*') {
        refusals.push(format!(
            "`{key}`: exact {text:?} is a literal string for {who}, so it never matched a real origin; \
             here `*` is a wildcard. If you mean that wildcard, write {text:?} in allow_origins by hand"
        ));
        return;
    }
    match check_origin_entry(text) {
        Ok(()) => push(&mut out.allow_origins, text.to_owned()),
        Err(why) => refusals.push(format!("`{key}`: exact {text:?}: {why}")),
    }
}

/// A prefix match is never safe on origins: `https://app.example.com` also matches
/// `https://app.example.com.attacker.net`.
pub(super) fn prefix_refusal(key: &str, text: &str) -> String {
    if let Some(host) = text.strip_suffix(':') {
        if check_origin_entry(host).is_ok() {
            return format!(
                "`{key}`: prefix {text:?}: prefix matches are refused; for any port of that host write \
                 allow_origins [\"{host}:*\"]"
            );
        }
    }
    let base = format!(
        "`{key}`: prefix {text:?} also matches origins that merely start with it (e.g. `{}.attacker.net`)",
        text.trim_end_matches(['.', '/'])
    );
    if check_origin_entry(text).is_ok() {
        return format!(
            "{base}; write the exact origin allow_origins [\"{text}\"] (add \"{text}:*\" for other ports), \
             or the regex allow_origin_regexes [\"{}(:[0-9]+)?\"]",
            regex_escape(text)
        );
    }
    format!(
        "{base}; list the exact origins in allow_origins, or write a regex that ends at a host boundary, \
         e.g. allow_origin_regexes [\"{}[a-z0-9-]*\\\\.example\\\\.com\"]",
        regex_escape(text)
    )
}

pub(super) fn suffix(
    key: &str,
    text: &str,
    who: &str,
    out: &mut Converted,
    notes: &mut Vec<String>,
    refusals: &mut Vec<String>,
) {
    // A suffix holding a whole origin can only match that origin.
    if text.contains("://") {
        match check_origin_entry(text) {
            Ok(()) => {
                push(&mut out.allow_origins, text.to_ascii_lowercase());
                notes.push(format!("`{key}`: suffix {text:?} can only match that origin -> exact"));
            }
            Err(why) => refusals.push(format!("`{key}`: suffix {text:?}: {why}")),
        }
        return;
    }
    let domain = text.strip_prefix('.').unwrap_or_default().to_ascii_lowercase();
    let whole_labels = !domain.is_empty()
        && domain.contains('.')
        && domain
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if !whole_labels {
        let d = text.trim_start_matches('.');
        refusals.push(format!(
            "`{key}`: suffix {text:?} is not a whole-label domain suffix like \".example.com\": it also matches \
             e.g. `https://attacker{d}`; write allow_origins [\"https://{d}\", \"https://*.{d}\"] \
             for the domain and its subdomains"
        ));
        return;
    }
    let pattern = format!("https://*.{domain}");
    match check_origin_entry(&pattern) {
        Ok(()) => {
            push(&mut out.allow_origins, pattern.clone());
            notes.push(format!(
                "`{key}`: suffix {text:?} -> {pattern:?} (subdomains over https on the default port). {who}'s suffix \
                 also matched http:// origins; add \"http://*.{domain}\" only if you must"
            ));
        }
        Err(why) => refusals.push(format!("`{key}`: suffix {text:?} -> {pattern:?}: {why}")),
    }
}

/// Origins no legitimate allow-list contains: a regex matching them allows everyone.
pub(super) const HOSTILE_ORIGINS: &[&str] = &["https://attacker.invalid", "http://attacker.invalid:8080"];

pub(super) fn regex(key: &str, re: &str, out: &mut Converted, refusals: &mut Vec<String>) {
    let json = serde_json::json!({ "allow_origin_regexes": [re] }).to_string();
    match Config::from_json(&json) {
        Ok(config) => {
            let policy = config.default_policy();
            if let Some(o) = HOSTILE_ORIGINS.iter().find(|o| policy.check_origin(o.as_bytes()).is_some()) {
                refusals.push(format!(
                    "`{key}`: regex {re:?} matches every origin (e.g. {o}); if that is intended, write \
                     allow_origins [\"*\"] (which refuses credentials)"
                ));
            } else {
                push(&mut out.allow_origin_regexes, re.to_owned());
            }
        }
        Err(e) => refusals.push(format!(
            "`{key}`: regex {re:?} does not compile in the plugin: {}. Envoy and Istio use RE2; the plugin uses \
             regex-lite: no Unicode classes (\\p{{..}}, \\pL), and \\d \\w \\s \\b are ASCII-only. Rewrite it with \
             ASCII classes such as [0-9] and [a-z0-9-]",
            first_reason(e)
        )),
    }
}

/// The words of the plugin's first refusal (a one-key configuration has one).
pub(super) fn first_reason(errors: ConfigErrors) -> String {
    errors.into_vec().into_iter().next().map(|e| e.reason).unwrap_or_default()
}

pub(super) fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push_str("\\\\");
        }
        out.push(c);
    }
    out
}
