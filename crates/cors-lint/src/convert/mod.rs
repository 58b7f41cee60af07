//! `cors-lint convert`: a CORS policy of Istio (VirtualService `corsPolicy`), Envoy
//! (`CorsPolicy` on a virtual host or route), the Gateway API (HTTPRoute `CORS` filter,
//! experimental channel) or Envoy Gateway (`SecurityPolicy.spec.cors`) to this plugin's JSON.
//!
//! A policy that belongs to routes becomes an entry of `policies` matching those routes' hosts
//! and path prefixes, under a top-level `"mode": "off"` that leaves every other request alone,
//! as it was. Whatever has no safe equivalent (prefix and contains origin matches, suffixes that
//! are not whole labels, regex paths, fractional enablement...) is refused with the reason and a
//! replacement to write by hand; every other change of meaning is printed as a note. The result
//! is checked with `Config::from_json`. docs/migration.md lists every note and refusal.

use serde_json::{Map, Value};

use cors_engine::config::raw::{RawMatch, RawPolicy};
use cors_engine::config::Rule;
use cors_engine::mode::Mode;
use cors_engine::Config;

use super::{read_input, UsageError, EXIT_DENIED, EXIT_INVALID, EXIT_OK, EXIT_USAGE};
use cors_lint::extract::documents;

mod check;
mod envoy;
mod envoy_run;
mod fields;
mod gateway;
mod istio;
mod origins;
mod policy;
mod routes;

use envoy::virtual_host;
use gateway::{http_route, security_policy};
use istio::virtual_service;
use policy::convert;

/// Where a policy comes from: decides how origins are read and the wording of notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Istio,
    Envoy,
    /// Gateway API `HTTPRoute` `CORS` filter: origins are strings with `*` wildcards.
    GatewayApi,
    /// Envoy Gateway `SecurityPolicy.spec.cors`: origins are strings with `*` wildcards.
    EnvoyGateway,
}

impl Flavor {
    fn name(self) -> &'static str {
        match self {
            Flavor::Istio => "Istio",
            Flavor::Envoy => "Envoy",
            Flavor::GatewayApi => "the Gateway API",
            Flavor::EnvoyGateway => "Envoy Gateway",
        }
    }
}

/// The requests a policy applies to: an entry's `match`, the type the plugin reads.
type Match = RawMatch;

#[derive(Debug)]
struct Source {
    location: String,
    flavor: Flavor,
    /// `None`: a route without a CORS policy, kept as a `"mode": "off"` entry so that the
    /// routes after it keep their order (first match wins, as for the routes).
    policy: Option<Map<String, Value>>,
    /// `None`: the policy applies wherever the plugin runs (the top level).
    scope: Option<Match>,
    /// Notes and refusals about the scope (hosts, paths, merge with the virtual host).
    notes: Vec<String>,
    refusals: Vec<String>,
}

impl Source {
    fn top(location: String, flavor: Flavor, policy: Map<String, Value>) -> Source {
        Source { location, flavor, policy: Some(policy), scope: None, notes: vec![], refusals: vec![] }
    }
}

/// The converted configuration: the plugin's own configuration type, serialized (no second
/// copy of the schema to drift from it).
type Converted = RawPolicy;

/// A route left to its upstream (`{"match": ..., "mode": "off"}`) and nothing else.
fn is_off_only(entry: &Converted) -> bool {
    *entry == Converted { match_: entry.match_.clone(), mode: Some(Mode::Off), ..Converted::default() }
}

/// An entry's `match` from its hosts and path prefixes (an empty list is left out).
fn scope(hosts: Vec<String>, path_prefixes: Vec<String>) -> Match {
    let listed = |list: Vec<String>| (!list.is_empty()).then_some(list);
    Match { hosts: listed(hosts), path_prefixes: listed(path_prefixes) }
}

/// Appends to an optional list (the configuration's lists are absent until something is listed).
fn push(list: &mut Option<Vec<String>>, value: String) {
    list.get_or_insert_with(Vec::new).push(value);
}

pub fn command(parser: &mut lexopt::Parser) -> Result<u8, UsageError> {
    use lexopt::prelude::*;
    let (mut file, mut index) = (None, None);
    let (mut check, mut envoy, mut wasm) = (false, None, None);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("index") => {
                let v = parser.value()?.string()?;
                index = Some(v.parse::<usize>().map_err(|_| UsageError(format!("--index {v:?}: not a number")))?);
            }
            Long("check") => check = true,
            Long("envoy") => envoy = Some(std::path::PathBuf::from(parser.value()?)),
            Long("wasm") => wasm = Some(std::path::PathBuf::from(parser.value()?)),
            Value(v) if file.is_none() => file = Some(v.string()?),
            other => return Err(other.unexpected().into()),
        }
    }
    let Some(file) = file else {
        return Err(UsageError("convert: give the FILE holding the CORS policy".into()));
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
    let with_policy: Vec<&Source> = sources.iter().filter(|s| s.policy.is_some()).collect();
    let chosen: Vec<&Source> = match (index, with_policy.len()) {
        (_, 0) => {
            eprintln!(
                "{file}: no CORS policy found (an Istio VirtualService `corsPolicy`, an Envoy `cors` / CorsPolicy, \
                 a Gateway API HTTPRoute `CORS` filter, an Envoy Gateway SecurityPolicy `cors`, or such a policy \
                 on its own)"
            );
            return Ok(EXIT_INVALID);
        }
        (Some(i), n) if i == 0 || i > n => {
            eprintln!("cors-lint: --index {i}: {file} holds {n} CORS policies");
            return Ok(EXIT_USAGE);
        }
        (Some(i), _) => with_policy.get(i - 1).copied().into_iter().collect(),
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
            eprintln!("{file}{at}: cannot convert this {} policy safely:", s.flavor.name().trim_start_matches("the "));
            for reason in reasons {
                eprintln!("  - {reason}");
            }
        }
    }
    if failed {
        return Ok(EXIT_INVALID);
    }
    let outputs: Vec<(&Source, Converted, Vec<String>)> =
        results.into_iter().filter_map(|(s, r)| r.ok().map(|(c, n)| (*s, c, n))).collect();
    // What `--check` compares: each source policy and its converted entry.
    let checked: Vec<(&Source, Converted)> =
        outputs.iter().filter(|(s, _, _)| s.policy.is_some()).map(|(s, c, _)| (*s, c.clone())).collect();
    let scoped = outputs.iter().filter(|(s, _, _)| s.scope.is_some()).count();
    let mut notes: Vec<String> = Vec::new();
    let converted = if scoped == 0 {
        // Policies for wherever the plugin runs: one top-level configuration.
        if outputs.windows(2).any(|w| matches!(w, [a, b] if a.1 != b.1)) {
            eprintln!("{file}: holds {} different CORS policies; convert one at a time:", outputs.len());
            for (i, (s, _, _)) in outputs.iter().enumerate() {
                eprintln!("  --index {}: {}", i + 1, s.location);
            }
            eprintln!("then express the routes with `policies` (match hosts / path_prefixes), see docs/migration.md");
            return Ok(EXIT_USAGE);
        }
        if outputs.len() > 1 {
            notes.push(format!("{} identical CORS policies found; converted once", outputs.len()));
        }
        let Some((_, converted, own)) = outputs.into_iter().next() else {
            eprintln!("{file}: no CORS policy found to convert");
            return Ok(EXIT_INVALID);
        };
        notes.extend(own);
        converted
    } else if scoped != outputs.len() {
        eprintln!(
            "{file}: holds CORS policies of routes and policies without routes; convert them one at a time \
             (--index N):"
        );
        for (i, s) in chosen.iter().filter(|s| s.policy.is_some()).enumerate() {
            eprintln!("  --index {}: {}", i + 1, s.location);
        }
        return Ok(EXIT_USAGE);
    } else {
        // Policies of routes: one entry each, in route order, the rest left alone.
        let prefix = outputs.iter().filter(|(s, _, _)| s.policy.is_some()).count() > 1;
        // A route with neither a host nor a path condition matches every request: the routes
        // after it are never reached (first match wins, as in the source).
        let catch_all = outputs.iter().position(|(s, _, _)| s.scope.as_ref().is_none_or(|m| *m == Match::default()));
        let reached = catch_all.map_or(outputs.len(), |k| k + 1);
        if let Some((last, _, _)) = outputs.get(reached - 1).filter(|_| reached < outputs.len()) {
            notes.push(format!(
                "{} matches every request, so the {} route(s) after it were never reached: not converted",
                last.location,
                outputs.len() - reached
            ));
        }
        let mut entries = Vec::new();
        for (s, mut converted, own) in outputs.into_iter().take(reached) {
            let at = if prefix && !s.location.is_empty() { format!("{}: ", s.location) } else { String::new() };
            notes.extend(own.into_iter().map(|n| format!("{at}{n}")));
            converted.match_ = s.scope.clone();
            entries.push(converted);
        }
        match (catch_all, entries.len()) {
            // The only route matches everything: its policy is the top level.
            (Some(_), 1) => {
                let mut only = entries.pop().unwrap_or_default();
                only.match_ = None;
                only
            }
            _ => {
                if let Some(last) = entries.last_mut().filter(|_| catch_all.is_some()) {
                    // An entry needs a condition: every request path starts with `/`.
                    last.match_ = Some(Match { hosts: None, path_prefixes: Some(vec!["/".into()]) });
                }
                // Off entries after the last policy change nothing: the top level is off too.
                while entries.last().is_some_and(is_off_only) {
                    entries.pop();
                }
                notes.push(
                    "top-level \"mode\": \"off\": requests that match none of the converted routes are left alone (no \
                     CORS header added or removed, preflights forwarded), as they were"
                        .into(),
                );
                Converted { mode: Some(Mode::Off), policies: Some(entries), ..Converted::default() }
            }
        }
    };
    let json = match serde_json::to_string_pretty(&converted) {
        Ok(json) => json,
        Err(e) => {
            eprintln!("{file}: cannot write the converted configuration: {e}");
            return Ok(EXIT_INVALID);
        }
    };
    if let Err(e) = Config::from_json(&json) {
        eprintln!("{file}: the converted configuration is refused by the plugin:");
        for line in &e {
            eprintln!("  {line}");
        }
        let who = chosen.first().map_or("the source", |s| s.flavor.name());
        let mut rules: Vec<Rule> = e.iter().map(|line| line.rule).collect();
        rules.dedup();
        for rule in rules {
            if let Some(hint) = credential_hint(rule, who) {
                eprintln!("  ({hint})");
            }
        }
        return Ok(EXIT_INVALID);
    }
    for n in notes {
        eprintln!("note: {n}");
    }
    println!("{json}");
    if check {
        // The Envoy and the plugin module to run: flags, else ENVOY_BIN / CORS_WASM, else `envoy`
        // on PATH and dist/cors.wasm.
        let envoy = envoy.or_else(|| std::env::var_os("ENVOY_BIN").map(Into::into)).unwrap_or_else(|| "envoy".into());
        let wasm =
            wasm.or_else(|| std::env::var_os("CORS_WASM").map(Into::into)).unwrap_or_else(|| "dist/cors.wasm".into());
        match check::run(&checked, &json, &envoy, &wasm) {
            Err(e) => {
                eprintln!("{file}: --check could not run: {e}");
                return Ok(EXIT_INVALID);
            }
            // A browser would see a different outcome for some request: worth a look in CI.
            Ok((_, outcome_differs)) if outcome_differs > 0 => return Ok(EXIT_DENIED),
            Ok(_) => {}
        }
    }
    Ok(EXIT_OK)
}

/// What to do about a credential rule the converted configuration broke: the rule's own fix.
fn credential_hint(rule: Rule, who: &str) -> Option<String> {
    Some(match rule {
        Rule::InsecureOrigin => format!(
            "{who} sent credentialed responses to this http:// origin; its scheme is the problem: anyone on the \
             network path can impersonate an http:// origin and read them. List its https:// origin instead, or, \
             if it must stay http, add \"dangerously_allow_insecure_origins_with_credentials\": true by hand"
        ),
        Rule::PublicSuffixWildcard => format!(
            "{who} sent credentialed responses to every subdomain of a public suffix, which anyone can register: \
             list your own origins, or add \"dangerously_allow_public_suffix_wildcards_with_credentials\": true by \
             hand"
        ),
        Rule::WildcardWithCredentials => format!(
            "browsers refuse \"*\" with credentials, where {who} echoed the request instead: list the values \
             (origins, exposed headers) that credentialed requests need"
        ),
        _ => return None,
    })
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

/// Collects every CORS policy in a document, with the routes it belongs to when known.
fn find(v: &Value, label: &str, path: &str, hint: Option<Flavor>, out: &mut Vec<Source>) {
    let here = |p: &str| format!("{label}{p}").trim_end_matches([':', ' ']).to_owned();
    match v {
        Value::Object(map) => {
            let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
            let api = map.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
            match kind {
                "VirtualService" if api.starts_with("networking.istio.io/") => {
                    return virtual_service(map, label, out);
                }
                "HTTPRoute" if api.starts_with("gateway.networking.k8s.io/") => {
                    return http_route(map, label, out);
                }
                "SecurityPolicy" if api.starts_with("gateway.envoyproxy.io/") => {
                    return security_policy(map, label, out);
                }
                _ => {}
            }
            if let Some(Value::Array(vhosts)) = map.get("virtual_hosts").or(map.get("virtualHosts")) {
                let base = if path.is_empty() { String::new() } else { format!("{path}.") };
                for (i, vh) in vhosts.iter().enumerate() {
                    if let Value::Object(vh) = vh {
                        virtual_host(vh, &here(&format!("{base}virtual_hosts[{i}]")), out);
                    }
                }
                return;
            }
            let hint =
                if kind == "VirtualService" || map.contains_key("apiVersion") { Some(Flavor::Istio) } else { hint };
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
                out.push(Source::top(here(path), flavor, policy));
                return;
            }
            for (k, child) in map {
                let child_path = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                let nk = norm(k);
                if let Value::Object(c) = child {
                    if nk == "corspolicy" {
                        out.push(Source::top(here(&child_path), Flavor::Istio, c.clone()));
                        continue;
                    }
                    if nk == "cors" && !c.contains_key("@type") {
                        out.push(Source::top(here(&child_path), Flavor::Envoy, c.clone()));
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

fn str_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
}

fn meta_id(map: &Map<String, Value>) -> String {
    let meta = map.get("metadata");
    let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("?");
    match meta.and_then(|m| m.get("namespace")).and_then(Value::as_str) {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_owned(),
    }
}

fn policy_like(map: &Map<String, Value>) -> bool {
    !map.is_empty()
        && map.keys().all(|k| {
            let n = norm(k);
            ISTIO_ONLY.contains(&n.as_str()) || ENVOY_ONLY.contains(&n.as_str()) || COMMON.contains(&n.as_str())
        })
}
