//! `convert --check`: the migration's behavioural diff. The same requests go to Envoy's own CORS
//! filter, configured as the source system generates it (Istio's `TranslateCORSPolicy`, Envoy
//! Gateway's translator, Envoy's CorsPolicy as written), and to the plugin with the converted
//! configuration, both in one real Envoy; every request whose answer differs is printed, with
//! whether a browser's outcome differs too. The translations were read in the sources
//! (tests/peers/cases.json cites them) and are checked by the peers' suites.

use std::path::Path;

use serde_json::{json, Map, Value};

use super::envoy_run::{send, Answer, Envoy, Listener};
use super::{norm, Converted, Flavor, Source};

/// One request of the diff.
struct Probe {
    what: String,
    method: &'static str,
    host: String,
    path: String,
    headers: Vec<(String, String)>,
    /// For the browser's verdict: a preflight's method and names, an actual request's origin.
    origin: String,
    preflight: Option<(String, Vec<String>)>,
}

/// Envoy's CorsPolicy as the source system generates it from `policy`.
fn envoy_policy(flavor: Flavor, policy: &Map<String, Value>) -> Value {
    let get = |key: &str| policy.iter().find(|(k, _)| norm(k) == key).map(|(_, v)| v);
    let strings = |key: &str| -> Vec<String> {
        match get(key) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect(),
            _ => Vec::new(),
        }
    };
    if flavor == Flavor::Envoy {
        let mut out = policy.clone();
        out.remove("@type");
        return Value::Object(out);
    }
    let gateway = matches!(flavor, Flavor::GatewayApi | Flavor::EnvoyGateway);
    let (sep, star) = if gateway { (", ", true) } else { (",", false) };
    let join = |list: Vec<String>| {
        if star && list.iter().any(|m| m == "*") {
            "*".to_owned()
        } else {
            list.join(sep)
        }
    };
    let mut origins = Vec::new();
    if gateway {
        // Envoy Gateway's wildcard2regex: metacharacters escaped, `*` -> `.*`.
        for o in strings("alloworigins") {
            if o.contains('*') {
                let mut re = String::new();
                for c in o.chars() {
                    match c {
                        '*' => re.push_str(".*"),
                        c if "\\.+?()|[]{}^$".contains(c) => {
                            re.push('\\');
                            re.push(c);
                        }
                        c => re.push(c),
                    }
                }
                origins.push(json!({ "safe_regex": { "regex": re } }));
            } else {
                origins.push(json!({ "exact": o }));
            }
        }
    } else {
        // Istio: StringMatch -> StringMatcher (regex -> safe_regex); the deprecated allowOrigin is exact.
        for m in get("alloworigins").and_then(Value::as_array).into_iter().flatten() {
            let Some(m) = m.as_object() else { continue };
            for (k, v) in m {
                match norm(k).as_str() {
                    "regex" => origins.push(json!({ "safe_regex": { "regex": v } })),
                    kind @ ("exact" | "prefix" | "suffix") => {
                        let mut matcher = Map::new();
                        matcher.insert(kind.to_owned(), v.clone());
                        origins.push(Value::Object(matcher));
                    }
                    _ => {}
                }
            }
        }
        for o in strings("alloworigin") {
            origins.push(json!({ "exact": o }));
        }
    }
    let mut out = json!({
        "allow_origin_string_match": origins,
        "allow_methods": join(strings("allowmethods")),
        "allow_headers": join(strings("allowheaders")),
        "expose_headers": join(strings("exposeheaders")),
        "allow_credentials": get("allowcredentials").and_then(Value::as_bool).unwrap_or(false),
        // Istio forwards unless IGNORE; the Gateway API implementations answer them.
        "forward_not_matching_preflights": !gateway
            && get("unmatchedpreflights").and_then(Value::as_str).is_none_or(|v| !v.eq_ignore_ascii_case("IGNORE")),
    });
    let seconds = match get("maxage") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => super::fields::parse_duration(s.trim()).map(|f| f as i64),
        _ => None,
    };
    if let (Some(s), Value::Object(fields)) = (seconds, &mut out) {
        fields.insert("max_age".into(), json!(s.to_string()));
    }
    out
}

/// An origin the pattern allows, for probing: `https://*.x` -> `https://probe.x`.
fn sample(pattern: &str) -> Option<String> {
    if pattern == "*" {
        return Some("https://any-origin.example".into());
    }
    if let Some(base) = pattern.strip_suffix(":*") {
        return Some(format!("{base}:8080"));
    }
    Some(pattern.replacen("://*.", "://probe.", 1))
}

fn probes(converted: &Converted, host: &str, path: &str) -> Vec<Probe> {
    let origins: Vec<String> = converted.allow_origins.iter().flatten().filter_map(|o| sample(o)).collect();
    let methods: Vec<String> = converted.allow_methods.iter().flatten().filter(|m| *m != "*").cloned().collect();
    let headers: Vec<String> = converted.allow_headers.iter().flatten().filter(|h| *h != "*").cloned().collect();
    let mut tried: Vec<String> = origins.iter().take(3).cloned().collect();
    // The same hosts over http://: a source's suffix or regex may have allowed them.
    tried.extend(origins.iter().take(2).filter_map(|o| o.strip_prefix("https://")).map(|h| format!("http://{h}")));
    tried.push("https://cors-check.invalid".into());
    let first_method = methods.first().cloned().unwrap_or_else(|| "GET".into());
    let mut out = Vec::new();
    let mut preflight = |what: String, origin: &str, method: &str, names: Vec<String>| {
        let mut h =
            vec![("origin".to_owned(), origin.to_owned()), ("access-control-request-method".into(), method.into())];
        if !names.is_empty() {
            h.push(("access-control-request-headers".into(), names.join(", ")));
        }
        out.push(Probe {
            what,
            method: "OPTIONS",
            host: host.into(),
            path: path.into(),
            headers: h,
            origin: origin.into(),
            preflight: Some((method.into(), names)),
        });
    };
    for o in &tried {
        preflight(format!("preflight {first_method} from {o}"), o, &first_method, Vec::new());
    }
    if let Some(o) = origins.first() {
        for m in methods.iter().skip(1).chain(["PURGE".to_owned()].iter()) {
            preflight(format!("preflight {m} from {o}"), o, m, Vec::new());
        }
        let mut names = headers.clone();
        for extra in ["content-type", "authorization", "x-cors-check"] {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(extra)) {
                names.push(extra.to_owned());
            }
        }
        for n in names {
            preflight(format!("preflight {first_method} with header {n} from {o}"), o, &first_method, vec![n.clone()]);
        }
    }
    for o in &tried {
        out.push(Probe {
            what: format!("GET from {o}"),
            method: "GET",
            host: host.into(),
            path: path.into(),
            headers: vec![("origin".into(), o.clone())],
            origin: o.clone(),
            preflight: None,
        });
    }
    out
}

/// Would a browser accept this answer (Fetch: the CORS check, and for a preflight the method and
/// header checks)? `credentials`: the request is credentialed when the policy allows credentials.
fn browser_allows(a: &Answer, p: &Probe, credentials: bool) -> bool {
    let acao = a.get("access-control-allow-origin");
    let origin_ok = acao == Some(p.origin.as_str()) || (acao == Some("*") && !credentials);
    let cred_ok = !credentials || a.get("access-control-allow-credentials") == Some("true");
    if !origin_ok || !cred_ok {
        return false;
    }
    let Some((method, names)) = &p.preflight else { return true };
    if !(200..300).contains(&a.status) {
        return false;
    }
    let list = |name: &str| -> Vec<String> {
        a.get(name).unwrap_or_default().split(',').map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect()
    };
    let methods = list("access-control-allow-methods");
    let method_ok = ["GET", "HEAD", "POST"].contains(&method.as_str())
        || methods.iter().any(|m| m == method)
        || (!credentials && methods.iter().any(|m| m == "*"));
    let allowed = list("access-control-allow-headers");
    let headers_ok = names.iter().all(|n| {
        allowed.iter().any(|h| h.eq_ignore_ascii_case(n))
            || (!credentials && !n.eq_ignore_ascii_case("authorization") && allowed.iter().any(|h| h == "*"))
    });
    method_ok && headers_ok
}

/// The status, where the answer came from and the CORS headers (sorted), as compared.
fn summary(a: &Answer) -> String {
    let mut cors: Vec<String> = a
        .headers
        .iter()
        .filter(|(k, _)| k.starts_with("access-control-"))
        .map(|(k, v)| format!("{}: {v}", k.trim_start_matches("access-control-")))
        .collect();
    cors.sort();
    let mut parts = vec![a.status.to_string()];
    if a.get("x-upstream").is_some() {
        parts.push("(upstream)".into());
    }
    parts.extend(cors);
    parts.join(", ")
}

/// Runs the diff for every source policy; prints to standard error. `Err` when the run itself
/// failed (Envoy missing, not starting).
pub(super) fn run(
    sources: &[(&Source, Converted)],
    converted_json: &str,
    envoy: &Path,
    wasm: &Path,
) -> Result<(usize, usize), String> {
    let mut listeners = vec![Listener::Plugin(converted_json.to_owned())];
    for (s, _) in sources {
        let policy = s.policy.as_ref().ok_or("a source without a policy")?;
        listeners.push(Listener::EnvoyCors(envoy_policy(s.flavor, policy)));
    }
    let proxy = Envoy::start(envoy, wasm, &listeners)?;
    let plugin_port = *proxy.ports.first().ok_or("no plugin listener")?;
    let (mut differ, mut outcome_differs) = (0, 0);
    for (i, (s, converted)) in sources.iter().enumerate() {
        let source_port = *proxy.ports.get(i + 1).ok_or("no source listener")?;
        let scope = s.scope.clone().unwrap_or_default();
        let host = scope
            .hosts
            .as_ref()
            .and_then(|h| h.first())
            .map_or("check.local".to_owned(), |h| h.strip_prefix("*.").map_or(h.clone(), |d| format!("probe.{d}")));
        let path = scope.path_prefixes.as_ref().and_then(|p| p.first()).cloned().unwrap_or_else(|| "/".into());
        let credentials = converted.allow_credentials == Some(true);
        eprintln!("check: {} ({}), {} {path}", s.location, s.flavor.name(), host);
        for p in probes(converted, &host, &path) {
            let theirs = send(source_port, p.method, &p.path, &p.host, &p.headers)?;
            let ours = send(plugin_port, p.method, &p.path, &p.host, &p.headers)?;
            let (a, b) = (summary(&theirs), summary(&ours));
            if a == b {
                continue;
            }
            differ += 1;
            let (was, now) = (browser_allows(&theirs, &p, credentials), browser_allows(&ours, &p, credentials));
            let verdict = match (was, now) {
                (true, true) => "browser: allowed by both".to_owned(),
                (false, false) => "browser: denied by both".to_owned(),
                (true, false) => {
                    outcome_differs += 1;
                    format!("BROWSER OUTCOME DIFFERS: allowed by {}, denied by the plugin", s.flavor.name())
                }
                (false, true) => {
                    outcome_differs += 1;
                    format!("BROWSER OUTCOME DIFFERS: denied by {}, allowed by the plugin", s.flavor.name())
                }
            };
            eprintln!("  {}: {verdict}\n    {}: {a}\n    plugin: {b}", p.what, s.flavor.name());
        }
    }
    eprintln!(
        "check: {differ} answer(s) differ, {outcome_differs} with a different browser outcome (notes above say why)"
    );
    Ok((differ, outcome_differs))
}
