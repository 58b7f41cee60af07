//! `cors-lint convert`: an Istio VirtualService `corsPolicy` or an Envoy `CorsPolicy` to this
//! plugin's JSON. Whatever has no safe equivalent (prefix and contains origin matches, suffixes
//! that are not whole labels, fractional enablement...) is refused with the reason and a
//! replacement to write by hand; the result is checked with `Config::from_json`.

use serde::Serialize;
use serde_json::{Map, Value};

use envoy_cors::policy::MAX_AGE_LIMIT;
use envoy_cors::Config;

use super::extract::documents;
use super::{read_input, UsageError, EXIT_INVALID, EXIT_OK, EXIT_USAGE};

/// Where a policy comes from: decides the wording of notes, never the mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Istio,
    Envoy,
}

impl Flavor {
    fn name(self) -> &'static str {
        match self {
            Flavor::Istio => "Istio",
            Flavor::Envoy => "Envoy",
        }
    }
}

#[derive(Debug)]
struct Source {
    location: String,
    flavor: Flavor,
    policy: Map<String, Value>,
}

/// The converted configuration, keys in the order the README documents them.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Converted {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allow_origins: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allow_origin_regexes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_null_origin: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_methods: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_headers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expose_headers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_credentials: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_age: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_private_network: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unmatched_preflight: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<&'static str>,
}

pub fn command(parser: &mut lexopt::Parser) -> Result<u8, UsageError> {
    use lexopt::prelude::*;
    let (mut file, mut index) = (None, None);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("index") => {
                let v = parser.value()?.string()?;
                index = Some(v.parse::<usize>().map_err(|_| UsageError(format!("--index {v:?}: not a number")))?);
            }
            Value(v) if file.is_none() => file = Some(v.string()?),
            other => return Err(other.unexpected().into()),
        }
    }
    let Some(file) = file else {
        return Err(UsageError("convert: give the FILE holding the Istio or Envoy CORS policy".into()));
    };
    let text = read_input(&file)?;
    let docs = match documents(&text) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{file}: {e}");
            return Ok(EXIT_INVALID);
        }
    };
    let many = docs.iter().filter(|d| !d.is_null()).count() > 1;
    let mut sources = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let label = if many { format!("document {}: ", i + 1) } else { String::new() };
        find(doc, &label, "", None, &mut sources);
    }
    let chosen: Vec<&Source> = match (index, sources.len()) {
        (_, 0) => {
            eprintln!(
                "{file}: no CORS policy found (an Istio VirtualService `corsPolicy`, an Envoy `cors` / CorsPolicy, \
                 or such a policy on its own)"
            );
            return Ok(EXIT_INVALID);
        }
        (Some(i), n) if i == 0 || i > n => {
            eprintln!("cors-lint: --index {i}: {file} holds {n} CORS policies");
            return Ok(EXIT_USAGE);
        }
        (Some(i), _) => vec![&sources[i - 1]],
        (None, _) => sources.iter().collect(),
    };

    let mut results = Vec::new();
    for s in &chosen {
        results.push((s, convert(s)));
    }
    let mut failed = false;
    for (s, r) in &results {
        if let Err(reasons) = r {
            failed = true;
            let at = if s.location.is_empty() { String::new() } else { format!(" ({})", s.location) };
            eprintln!("{file}{at}: cannot convert this {} policy safely:", s.flavor.name());
            for reason in reasons {
                eprintln!("  - {reason}");
            }
        }
    }
    if failed {
        return Ok(EXIT_INVALID);
    }
    let outputs: Vec<&(Converted, Vec<String>)> = results.iter().filter_map(|(_, r)| r.as_ref().ok()).collect();
    if outputs.windows(2).any(|w| w[0].0 != w[1].0) {
        eprintln!("{file}: holds {} different CORS policies; convert one at a time:", outputs.len());
        for (i, s) in chosen.iter().enumerate() {
            eprintln!("  --index {}: {}", i + 1, s.location);
        }
        eprintln!("then express the routes with `policies` (match hosts / path_prefixes), see docs/migration.md");
        return Ok(EXIT_USAGE);
    }
    let Some(&(converted, notes)) = outputs.first().map(|o| (&o.0, &o.1)).as_ref() else {
        eprintln!("{file}: no CORS policy found to convert");
        return Ok(EXIT_INVALID);
    };
    let json = match serde_json::to_string_pretty(converted) {
        Ok(json) => json,
        Err(e) => {
            eprintln!("{file}: cannot write the converted configuration: {e}");
            return Ok(EXIT_INVALID);
        }
    };
    if let Err(e) = Config::from_json(&json) {
        eprintln!("{file}: the converted configuration is refused by the plugin:");
        eprintln!("  {e}");
        if e.reason.contains("credentials") {
            eprintln!(
                "  ({} would send Access-Control-Allow-Credentials with this, which exposes credentialed \
                 responses; list the origins that need credentials)",
                chosen[0].flavor.name()
            );
        }
        return Ok(EXIT_INVALID);
    }
    if outputs.len() > 1 {
        eprintln!("note: {} identical CORS policies found; converted once", outputs.len());
    }
    for n in notes {
        eprintln!("note: {n}");
    }
    println!("{json}");
    Ok(EXIT_OK)
}

/// Lowercase without `_`: proto JSON accepts both `allow_origins` and `allowOrigins`.
fn norm(key: &str) -> String {
    key.chars().filter(|c| *c != '_').flat_map(char::to_lowercase).collect()
}

const ISTIO_ONLY: &[&str] = &["alloworigins", "unmatchedpreflights"];
const ENVOY_ONLY: &[&str] = &[
    "alloworiginstringmatch",
    "alloworiginregex",
    "allowprivatenetworkaccess",
    "forwardnotmatchingpreflights",
    "filterenabled",
    "shadowenabled",
];
const COMMON: &[&str] = &["alloworigin", "allowmethods", "allowheaders", "exposeheaders", "maxage", "allowcredentials"];

fn has_any(map: &Map<String, Value>, keys: &[&str]) -> bool {
    map.keys().any(|k| keys.contains(&norm(k).as_str()))
}

/// Collects every CORS policy in a document.
fn find(v: &Value, label: &str, path: &str, hint: Option<Flavor>, out: &mut Vec<Source>) {
    let here = |p: &str| format!("{label}{p}").trim_end_matches([':', ' ']).to_owned();
    match v {
        Value::Object(map) => {
            let is_vs = map.get("kind").and_then(Value::as_str) == Some("VirtualService");
            let hint = if is_vs || map.contains_key("apiVersion") { Some(Flavor::Istio) } else { hint };
            let ty = map.get("@type").and_then(Value::as_str).unwrap_or_default();
            if ty.ends_with("CorsPolicy") || (path.is_empty() && policy_like(map)) {
                let flavor = if has_any(map, ISTIO_ONLY) {
                    Flavor::Istio
                } else if has_any(map, ENVOY_ONLY) || !ty.is_empty() {
                    Flavor::Envoy
                } else {
                    hint.unwrap_or(Flavor::Envoy)
                };
                let mut policy = map.clone();
                policy.remove("@type");
                out.push(Source { location: here(path), flavor, policy });
                return;
            }
            for (k, child) in map {
                let child_path = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                let nk = norm(k);
                if let Value::Object(c) = child {
                    if nk == "corspolicy" {
                        out.push(Source { location: here(&child_path), flavor: Flavor::Istio, policy: c.clone() });
                        continue;
                    }
                    if nk == "cors" && !c.contains_key("@type") {
                        out.push(Source { location: here(&child_path), flavor: Flavor::Envoy, policy: c.clone() });
                        continue;
                    }
                }
                find(child, label, &child_path, hint, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                find(child, label, &format!("{path}[{i}]"), hint, out);
            }
        }
        _ => {}
    }
}

fn policy_like(map: &Map<String, Value>) -> bool {
    !map.is_empty()
        && map.keys().all(|k| {
            let n = norm(k);
            ISTIO_ONLY.contains(&n.as_str()) || ENVOY_ONLY.contains(&n.as_str()) || COMMON.contains(&n.as_str())
        })
}

/// Converts one policy: the configuration and notes, or every reason it cannot be done safely.
fn convert(s: &Source) -> Result<(Converted, Vec<String>), Vec<String>> {
    let mut out = Converted::default();
    let mut notes = Vec::new();
    let mut refusals = Vec::new();
    let who = s.flavor.name();
    let (mut filter_enabled, mut shadow_enabled) = (None, None);
    let mut preflight_rule_set = false;
    for (key, value) in &s.policy {
        match norm(key).as_str() {
            "alloworigins" | "alloworiginstringmatch" => match value {
                Value::Array(items) => {
                    for (i, m) in items.iter().enumerate() {
                        origin_matcher(&format!("{key}[{i}]"), m, who, &mut out, &mut notes, &mut refusals);
                    }
                }
                _ => refusals.push(format!("`{key}` must be a list of string matchers")),
            },
            // Deprecated lists of exact origins (Istio `allowOrigin`, Envoy v2 `allow_origin`).
            "alloworigin" => match value {
                Value::Array(items) => {
                    for (i, m) in items.iter().enumerate() {
                        let m = match m {
                            Value::String(s) => serde_json::json!({ "exact": s }),
                            other => other.clone(),
                        };
                        origin_matcher(&format!("{key}[{i}]"), &m, who, &mut out, &mut notes, &mut refusals);
                    }
                }
                _ => refusals.push(format!("`{key}` must be a list of origins")),
            },
            "alloworiginregex" => match value {
                Value::Array(items) => {
                    for (i, re) in items.iter().enumerate() {
                        match re.as_str() {
                            Some(re) => regex(&format!("{key}[{i}]"), re, &mut out, &mut refusals),
                            None => refusals.push(format!("`{key}[{i}]` must be a string")),
                        }
                    }
                }
                _ => refusals.push(format!("`{key}` must be a list of regexes")),
            },
            "allowmethods" => out.allow_methods = list(key, value, &mut refusals),
            "allowheaders" => out.allow_headers = list(key, value, &mut refusals),
            "exposeheaders" => out.expose_headers = list(key, value, &mut refusals),
            "maxage" => out.max_age = max_age(key, value, &mut notes, &mut refusals),
            "allowcredentials" => out.allow_credentials = boolean(key, value, &mut refusals),
            "allowprivatenetworkaccess" => out.allow_private_network = boolean(key, value, &mut refusals),
            "forwardnotmatchingpreflights" => {
                preflight_rule_set = true;
                out.unmatched_preflight =
                    boolean(key, value, &mut refusals).map(|forward| if forward { "forward" } else { "reject" });
                if out.unmatched_preflight == Some("reject") {
                    notes.push(
                        "forward_not_matching_preflights: false -> unmatched_preflight \"reject\": the plugin answers \
                         403 without CORS headers (Envoy answered 200 without Access-Control-Allow-Origin); \
                         browsers fail the request either way"
                            .into(),
                    );
                }
            }
            "unmatchedpreflights" => {
                preflight_rule_set = true;
                match value.as_str().map(str::to_ascii_uppercase).as_deref() {
                    Some("FORWARD") => out.unmatched_preflight = Some("forward"),
                    Some("IGNORE") => {
                        out.unmatched_preflight = Some("reject");
                        notes.push(
                            "unmatchedPreflights: IGNORE -> unmatched_preflight \"reject\": the plugin answers 403 \
                             without CORS headers and the upstream never sees the preflight"
                                .into(),
                        );
                    }
                    Some("UNSPECIFIED") => preflight_rule_set = false,
                    _ => refusals.push(format!("`{key}`: {value} is not FORWARD or IGNORE")),
                }
            }
            "filterenabled" => filter_enabled = Some(fraction(key, value, &mut notes, &mut refusals)),
            "shadowenabled" => shadow_enabled = Some(fraction(key, value, &mut notes, &mut refusals)),
            _ => refusals.push(format!(
                "unknown field `{key}`: it has no equivalent here, so converting without it could change the policy"
            )),
        }
    }
    if !preflight_rule_set {
        notes.push(format!(
            "{who} forwards preflights that do not match to the upstream by default; the converted policy rejects \
             them (403, no CORS headers). Add \"unmatched_preflight\": \"forward\" to keep the old behaviour"
        ));
    }
    match (filter_enabled.flatten(), shadow_enabled.flatten()) {
        (None | Some(100.0), None | Some(0.0)) => {}
        (Some(0.0), Some(100.0)) => {
            out.mode = Some("shadow");
            notes.push("filter_enabled 0% with shadow_enabled 100% -> mode \"shadow\"".into());
        }
        (Some(0.0), None | Some(0.0)) => {
            refusals.push("filter_enabled is 0%: the policy is switched off, there is nothing to convert".into())
        }
        (f, sh) => refusals.push(format!(
            "filter_enabled {}% / shadow_enabled {}%: a fraction of requests cannot be expressed; the plugin \
             enforces (mode \"enforce\") or only observes (mode \"shadow\") every request",
            f.unwrap_or(100.0),
            sh.unwrap_or(0.0)
        )),
    }
    if refusals.is_empty() {
        Ok((out, notes))
    } else {
        Err(refusals)
    }
}

/// One Istio `StringMatch` / Envoy `StringMatcher` of allowed origins.
fn origin_matcher(
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

/// Does the plugin accept this as an `allow_origins` entry? Its error otherwise.
fn check_origin_entry(entry: &str) -> Result<(), String> {
    let json = serde_json::json!({ "allow_origins": [entry] }).to_string();
    Config::from_json(&json).map(|_| ()).map_err(|e| e.reason)
}

fn exact(key: &str, text: &str, who: &str, out: &mut Converted, notes: &mut Vec<String>, refusals: &mut Vec<String>) {
    if text == "*" {
        out.allow_origins.push("*".into());
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
        Ok(()) => out.allow_origins.push(text.to_owned()),
        Err(why) => refusals.push(format!("`{key}`: exact {text:?}: {why}")),
    }
}

/// A prefix match is never safe on origins: `https://app.example.com` also matches
/// `https://app.example.com.attacker.net`.
fn prefix_refusal(key: &str, text: &str) -> String {
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

fn suffix(key: &str, text: &str, who: &str, out: &mut Converted, notes: &mut Vec<String>, refusals: &mut Vec<String>) {
    // A suffix holding a whole origin can only match that origin.
    if text.contains("://") {
        match check_origin_entry(text) {
            Ok(()) => {
                out.allow_origins.push(text.to_ascii_lowercase());
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
            out.allow_origins.push(pattern.clone());
            notes.push(format!(
                "`{key}`: suffix {text:?} -> {pattern:?} (subdomains over https on the default port). {who}'s suffix \
                 also matched http:// origins; add \"http://*.{domain}\" only if you must"
            ));
        }
        Err(why) => refusals.push(format!("`{key}`: suffix {text:?} -> {pattern:?}: {why}")),
    }
}

/// Origins no legitimate allow-list contains: a regex matching them allows everyone.
const HOSTILE_ORIGINS: &[&str] = &["https://attacker.invalid", "http://attacker.invalid:8080"];

fn regex(key: &str, re: &str, out: &mut Converted, refusals: &mut Vec<String>) {
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
                out.allow_origin_regexes.push(re.to_owned());
            }
        }
        Err(e) => refusals.push(format!(
            "`{key}`: regex {re:?} does not compile in the plugin: {}. Envoy and Istio use RE2; the plugin uses \
             regex-lite: no Unicode classes (\\p{{..}}, \\pL), and \\d \\w \\s \\b are ASCII-only. Rewrite it with \
             ASCII classes such as [0-9] and [a-z0-9-]",
            e.reason
        )),
    }
}

fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push_str("\\\\");
        }
        out.push(c);
    }
    out
}

/// A list (Istio) or a comma-separated string (Envoy).
fn list(key: &str, value: &Value, refusals: &mut Vec<String>) -> Option<Vec<String>> {
    let items: Vec<String> = match value {
        Value::String(s) => s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        Value::Array(items) if items.iter().all(Value::is_string) => {
            items.iter().filter_map(Value::as_str).map(|s| s.trim().to_owned()).collect()
        }
        _ => {
            refusals.push(format!("`{key}` must be a list of strings or a comma-separated string"));
            return None;
        }
    };
    (!items.is_empty()).then_some(items)
}

fn boolean(key: &str, value: &Value, refusals: &mut Vec<String>) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        // google.protobuf.BoolValue written as an object.
        Value::Object(m) if m.get("value").is_some_and(Value::is_boolean) => m.get("value").and_then(Value::as_bool),
        _ => {
            refusals.push(format!("`{key}` must be true or false"));
            None
        }
    }
}

/// Istio: a Duration (`24h`, `1h30m`, `600s`); Envoy: seconds as a string (`"86400"`).
fn max_age(key: &str, value: &Value, notes: &mut Vec<String>, refusals: &mut Vec<String>) -> Option<i64> {
    let seconds = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) if s.trim().is_empty() => return None,
        Value::String(s) => parse_duration(s.trim()),
        _ => None,
    };
    if seconds == Some(-1.0) {
        notes.push(format!(
            "`{key}`: -1 was sent as is, which is not a valid Access-Control-Max-Age (Safari and the \
             Fetch Standard then cache for the default 5 s); max_age 0, which every browser reads as \"do not cache\""
        ));
        return Some(0);
    }
    let Some(seconds) = seconds.filter(|s| s.is_finite() && *s >= 0.0) else {
        refusals.push(format!("`{key}`: {value} is not a duration (\"24h\", \"600s\") or a number of seconds"));
        return None;
    };
    let whole = seconds.floor();
    if whole != seconds {
        notes.push(format!("`{key}`: {seconds} s rounded down to {whole} s (max_age is whole seconds)"));
    }
    if whole > MAX_AGE_LIMIT as f64 {
        notes.push(format!(
            "`{key}`: {whole} s is more than browsers honour (Chromium caps at 7200, Firefox at 86400): \
             max_age {MAX_AGE_LIMIT}"
        ));
        return Some(MAX_AGE_LIMIT);
    }
    Some(whole as i64)
}

/// Seconds in a Go / protobuf duration: `24h`, `1h30m`, `1.5s`, `500ms`, or plain seconds.
fn parse_duration(s: &str) -> Option<f64> {
    if let Ok(n) = s.parse::<f64>() {
        return Some(n);
    }
    let mut total = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// Percent of a `RuntimeFractionalPercent` (`default_value: {numerator, denominator}`).
fn fraction(key: &str, value: &Value, notes: &mut Vec<String>, refusals: &mut Vec<String>) -> Option<f64> {
    if value.get("runtime_key").or(value.get("runtimeKey")).is_some() {
        notes.push(format!("`{key}`: its runtime key is not carried over (the plugin has no runtime overrides)"));
    }
    let dv = value.get("default_value").or(value.get("defaultValue"));
    let Some(dv) = dv else {
        refusals.push(format!("`{key}` without default_value"));
        return None;
    };
    let numerator = dv.get("numerator").and_then(Value::as_f64).unwrap_or(0.0);
    let denominator = match dv.get("denominator").and_then(Value::as_str).unwrap_or("HUNDRED") {
        "HUNDRED" => 100.0,
        "TEN_THOUSAND" => 10_000.0,
        "MILLION" => 1_000_000.0,
        other => {
            refusals.push(format!("`{key}`: denominator {other:?}"));
            return None;
        }
    };
    Some((numerator / denominator * 100.0).min(100.0))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Some(86400.0));
        assert_eq!(parse_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_duration("600s"), Some(600.0));
        assert_eq!(parse_duration("86400"), Some(86400.0));
        assert_eq!(parse_duration("1.5s"), Some(1.5));
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("10x"), None);
    }
}
