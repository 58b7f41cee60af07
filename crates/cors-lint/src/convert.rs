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
use cors_engine::config::{ConfigErrors, Rule};
use cors_engine::mode::{Mode, UnmatchedPreflight};
use cors_engine::policy::MAX_AGE_LIMIT;
use cors_engine::Config;

use super::{read_input, UsageError, EXIT_INVALID, EXIT_OK, EXIT_USAGE};
use cors_lint::extract::documents;

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
            eprintln!("{file}{at}: cannot convert this {} policy safely:", s.flavor.name());
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
        let mut entries = Vec::new();
        for (s, mut converted, own) in outputs {
            let at = if prefix && !s.location.is_empty() { format!("{}: ", s.location) } else { String::new() };
            notes.extend(own.into_iter().map(|n| format!("{at}{n}")));
            converted.match_ = s.scope.clone();
            entries.push(converted);
        }
        // Off entries after the last policy change nothing: the top level is off too.
        while entries.last().is_some_and(is_off_only) {
            entries.pop();
        }
        notes.push(
            "top-level \"mode\": \"off\": requests that match none of the converted routes are left alone (no CORS \
             header added or removed, preflights forwarded), as they were"
                .into(),
        );
        Converted { mode: Some(Mode::Off), policies: Some(entries), ..Converted::default() }
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
        let credentials = [Rule::WildcardWithCredentials, Rule::InsecureOrigin, Rule::PublicSuffixWildcard];
        if e.iter().any(|line| credentials.contains(&line.rule)) {
            eprintln!(
                "  ({} would send Access-Control-Allow-Credentials with this, which exposes credentialed \
                 responses; list the origins that need credentials)",
                chosen.first().map_or("the source", |s| s.flavor.name())
            );
        }
        return Ok(EXIT_INVALID);
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

/// Hosts of a route as `match.hosts`: `*` (every host) is no host condition, `*.example.com`
/// stays, a port is dropped (the plugin ignores ports), other wildcard forms are refused.
fn hosts(who: &str, field: &str, list: &[String], notes: &mut Vec<String>, refusals: &mut Vec<String>) -> Vec<String> {
    if list.is_empty() || list.iter().any(|h| h == "*") {
        return Vec::new();
    }
    let mut out = Vec::new();
    for h in list {
        let mut host = h.to_ascii_lowercase();
        if let Some((name, port)) = host.rsplit_once(':') {
            if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit() || b == b'*') {
                notes.push(format!(
                    "{field} {h:?}: the port is dropped (the plugin matches the host whatever the port)"
                ));
                host = name.to_owned();
            }
        }
        let rest = host.strip_prefix("*.").unwrap_or(&host);
        if rest.contains('*') {
            refusals.push(format!(
                "{field} {h:?}: {who}'s wildcard form has no equivalent in match.hosts (exact names or \
                 `*.example.com`); list the hosts"
            ));
            continue;
        }
        if !host.contains('.') {
            notes.push(format!(
                "{field} {h:?} is a short name: the entry matches the :authority {host:?} exactly; add the other \
                 names clients use (e.g. {host}.NAMESPACE.svc.cluster.local) to match.hosts"
            ));
        }
        if !out.contains(&host) {
            out.push(host);
        }
    }
    out
}

/// Istio VirtualService: each `spec.http[i]` route is an entry, in order (first match wins).
fn virtual_service(map: &Map<String, Value>, label: &str, out: &mut Vec<Source>) {
    let id = meta_id(map);
    let spec = map.get("spec");
    let vs_hosts = str_list(spec.and_then(|s| s.get("hosts")));
    let routes = spec.and_then(|s| s.get("http")).and_then(Value::as_array).cloned().unwrap_or_default();
    if !routes.iter().any(|r| r.get("corsPolicy").or(r.get("cors_policy")).is_some()) {
        return;
    }
    let (mut host_notes, mut host_refusals) = (Vec::new(), Vec::new());
    let hosts = hosts("Istio", "spec.hosts", &vs_hosts, &mut host_notes, &mut host_refusals);
    for (i, route) in routes.iter().enumerate() {
        let location = format!("{label}VirtualService {id} spec.http[{i}]");
        // The notes and refusals about the hosts go with the first route only.
        let (mut notes, mut refusals) = (std::mem::take(&mut host_notes), std::mem::take(&mut host_refusals));
        let hosts = hosts.clone();
        let mut prefixes = Vec::new();
        let matches = route.get("match").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut all_paths = matches.is_empty();
        for (j, m) in matches.iter().enumerate() {
            let field = format!("spec.http[{i}].match[{j}]");
            let others: Vec<&String> =
                m.as_object().into_iter().flat_map(|o| o.keys()).filter(|k| *k != "uri" && *k != "name").collect();
            if !others.is_empty() {
                notes.push(format!(
                    "{field}: {others:?} have no equivalent in `match` (hosts and path prefixes only): the entry \
                     applies whatever they are"
                ));
            }
            match m.get("uri") {
                None => all_paths = true,
                Some(uri) => path_match(
                    &field,
                    "Istio",
                    uri.get("prefix"),
                    uri.get("exact"),
                    uri.get("regex"),
                    false,
                    &mut prefixes,
                    &mut all_paths,
                    &mut notes,
                    &mut refusals,
                ),
            }
        }
        let path_prefixes = if all_paths { Vec::new() } else { prefixes };
        let policy = route.get("corsPolicy").or(route.get("cors_policy")).and_then(Value::as_object).cloned();
        let location = if policy.is_some() { format!("{location}.corsPolicy") } else { location };
        out.push(Source {
            location,
            flavor: Flavor::Istio,
            policy,
            scope: Some(scope(hosts, path_prefixes)),
            notes,
            refusals,
        });
    }
}

/// A route's path condition as `path_prefixes` (plain string prefixes, as Envoy's `prefix`).
/// `segment`: the source's prefix matches whole path segments (Gateway API `PathPrefix`,
/// Envoy `path_separated_prefix`).
#[allow(clippy::too_many_arguments)]
fn path_match(
    field: &str,
    who: &str,
    prefix: Option<&Value>,
    exact: Option<&Value>,
    regex: Option<&Value>,
    segment: bool,
    prefixes: &mut Vec<String>,
    all_paths: &mut bool,
    notes: &mut Vec<String>,
    refusals: &mut Vec<String>,
) {
    if let Some(p) = prefix.and_then(Value::as_str) {
        if p.is_empty() || p == "/" {
            *all_paths = true;
            return;
        }
        if segment && !p.ends_with('/') {
            notes.push(format!(
                "{field}: {who}'s prefix {p:?} matches whole path segments ({p} and {p}/...); path_prefixes \
                 [{p:?}] also matches e.g. {p}x"
            ));
        }
        prefixes.push(p.to_owned());
    } else if let Some(p) = exact.and_then(Value::as_str) {
        notes.push(format!(
            "{field}: the exact path {p:?} becomes the prefix {p:?}: the entry also covers the paths that start \
             with it"
        ));
        prefixes.push(p.to_owned());
    } else if let Some(re) = regex {
        let re = re.get("regex").unwrap_or(re);
        refusals.push(format!(
            "{field}: the path regex {re} has no equivalent in match.path_prefixes; list the prefixes it covers"
        ));
    } else {
        *all_paths = true;
    }
}

const ORIGIN_GROUP: &[&str] = &["alloworigins", "alloworiginstringmatch", "alloworigin", "alloworiginregex"];

/// Envoy's CORS filter takes each field from the route's policy, else the virtual host's (the
/// origin matchers as one field).
fn merge(route: &Map<String, Value>, vhost: &Map<String, Value>) -> (Map<String, Value>, Vec<String>) {
    let route_keys: Vec<String> = route.keys().map(|k| norm(k)).collect();
    let route_origins = route_keys.iter().any(|k| ORIGIN_GROUP.contains(&k.as_str()));
    let mut merged = Map::new();
    let mut inherited = Vec::new();
    for (k, v) in vhost {
        let n = norm(k);
        let origin = ORIGIN_GROUP.contains(&n.as_str());
        if route_keys.contains(&n) || (origin && route_origins) {
            continue;
        }
        inherited.push(k.clone());
        merged.insert(k.clone(), v.clone());
    }
    for (k, v) in route {
        merged.insert(k.clone(), v.clone());
    }
    (merged, inherited)
}

/// A CorsPolicy in `typed_per_filter_config` (any filter name, by its `@type`) or the legacy
/// `cors` field.
fn cors_of(map: Option<&Value>) -> Option<(String, Map<String, Value>)> {
    let map = map?.as_object()?;
    for key in ["typed_per_filter_config", "typedPerFilterConfig"] {
        if let Some(Value::Object(per)) = map.get(key) {
            for (name, c) in per {
                if let Value::Object(c) = c {
                    let ty = c.get("@type").and_then(Value::as_str).unwrap_or_default();
                    if ty.ends_with("CorsPolicy") {
                        let mut policy = c.clone();
                        policy.remove("@type");
                        return Some((format!("{key}.{name}"), policy));
                    }
                }
            }
        }
    }
    match map.get("cors") {
        Some(Value::Object(c)) => Some(("cors".into(), c.clone())),
        _ => None,
    }
}

/// Envoy virtual host: its policy and its routes' policies, merged field by field as Envoy does;
/// one entry per route, in order.
fn virtual_host(vh: &Map<String, Value>, location: &str, out: &mut Vec<Source>) {
    let vh_value = Value::Object(vh.clone());
    let vhost_policy = cors_of(Some(&vh_value));
    let routes = vh.get("routes").and_then(Value::as_array).cloned().unwrap_or_default();
    let route_policies: Vec<Option<(String, Map<String, Value>)>> =
        routes.iter().map(|r| cors_of(Some(r)).or_else(|| cors_of(r.get("route")))).collect();
    if vhost_policy.is_none() && route_policies.iter().all(Option::is_none) {
        return;
    }
    let domains = str_list(vh.get("domains"));
    let (mut host_notes, mut host_refusals) = (Vec::new(), Vec::new());
    let hosts = hosts("Envoy", "domains", &domains, &mut host_notes, &mut host_refusals);
    for (i, (route, own)) in routes.iter().zip(route_policies).enumerate() {
        let field = format!("routes[{i}].match");
        let (mut notes, mut refusals) = (std::mem::take(&mut host_notes), std::mem::take(&mut host_refusals));
        let hosts = hosts.clone();
        let m = route.get("match");
        let get = |k: &str| m.and_then(|m| m.get(k));
        let (mut prefixes, mut all_paths) = (Vec::new(), false);
        if let Some(p) = get("path_separated_prefix") {
            path_match(
                &field,
                "Envoy",
                Some(p),
                None,
                None,
                true,
                &mut prefixes,
                &mut all_paths,
                &mut notes,
                &mut refusals,
            );
        } else {
            path_match(
                &field,
                "Envoy",
                get("prefix"),
                get("path"),
                get("safe_regex").or(get("path_match_policy")),
                false,
                &mut prefixes,
                &mut all_paths,
                &mut notes,
                &mut refusals,
            );
        }
        let others: Vec<&String> = m
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|o| o.keys())
            .filter(|k| {
                !["prefix", "path", "safe_regex", "path_separated_prefix", "case_sensitive"].contains(&k.as_str())
            })
            .collect();
        if !others.is_empty() {
            notes.push(format!(
                "{location}.{field}: {others:?} have no equivalent in `match` (hosts and path prefixes only): the \
                 entry applies whatever they are"
            ));
        }
        if get("case_sensitive").and_then(Value::as_bool) == Some(false) && !all_paths {
            notes.push(format!(
                "{location}.{field}: case_sensitive false: Envoy matched the path in any case, path_prefixes match \
                 it exactly (add the other spellings clients use)"
            ));
        }
        let path_prefixes = if all_paths { Vec::new() } else { prefixes };
        let (policy, where_) = match (own, &vhost_policy) {
            (Some((at, r)), Some((_, v))) => {
                let (merged, inherited) = merge(&r, v);
                if !inherited.is_empty() {
                    notes.push(format!(
                        "routes[{i}] and its virtual host both have a CORS policy: merged field by field as Envoy \
                         does (route first); from the virtual host: {}",
                        inherited.join(", ")
                    ));
                }
                (Some(merged), format!("routes[{i}].{at}"))
            }
            (Some((at, r)), None) => (Some(r), format!("routes[{i}].{at}")),
            (None, Some((at, v))) => (Some(v.clone()), format!("{at} (for routes[{i}])")),
            (None, None) => (None, format!("routes[{i}]")),
        };
        out.push(Source {
            location: format!("{location}.{where_}"),
            flavor: Flavor::Envoy,
            policy,
            scope: Some(scope(hosts, path_prefixes)),
            notes,
            refusals,
        });
    }
}

/// Gateway API HTTPRoute: one entry per (rule, match), most specific path first, as the Gateway
/// API orders matches (exact, then the longest prefix), whatever the rule order.
fn http_route(map: &Map<String, Value>, label: &str, out: &mut Vec<Source>) {
    let id = meta_id(map);
    let spec = map.get("spec");
    let names = str_list(spec.and_then(|s| s.get("hostnames")));
    let rules = spec.and_then(|s| s.get("rules")).and_then(Value::as_array).cloned().unwrap_or_default();
    let cors_of_rule = |rule: &Value| -> Option<Map<String, Value>> {
        rule.get("filters")?
            .as_array()?
            .iter()
            .find(|f| f.get("type").and_then(Value::as_str) == Some("CORS"))
            .and_then(|f| f.get("cors"))
            .and_then(Value::as_object)
            .cloned()
    };
    if !rules.iter().any(|r| cors_of_rule(r).is_some()) {
        return;
    }
    // (specificity: exact first, then longer prefixes; rule order breaks ties)
    let mut found: Vec<((u8, usize), Source)> = Vec::new();
    let (mut host_notes, mut host_refusals) = (Vec::new(), Vec::new());
    let hosts = hosts("The Gateway API", "spec.hostnames", &names, &mut host_notes, &mut host_refusals);
    for (i, rule) in rules.iter().enumerate() {
        let policy = cors_of_rule(rule);
        let backend_filters = rule.get("backendRefs").and_then(Value::as_array).is_some_and(|b| {
            b.iter().any(|b| {
                b.get("filters")
                    .and_then(Value::as_array)
                    .is_some_and(|f| f.iter().any(|f| f.get("type").and_then(Value::as_str) == Some("CORS")))
            })
        });
        let default_match = [serde_json::json!({"path": {"type": "PathPrefix", "value": "/"}})];
        let matches = rule.get("matches").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&default_match);
        let matches = if matches.is_empty() { &default_match[..] } else { matches };
        for (j, m) in matches.iter().enumerate() {
            let field = format!("spec.rules[{i}].matches[{j}]");
            let (mut notes, mut refusals) = (std::mem::take(&mut host_notes), std::mem::take(&mut host_refusals));
            let hosts = hosts.clone();
            if backend_filters {
                notes.push(format!(
                    "spec.rules[{i}].backendRefs[].filters: a CORS filter on a backend is not converted"
                ));
            }
            let others: Vec<&String> =
                m.as_object().into_iter().flat_map(|o| o.keys()).filter(|k| *k != "path").collect();
            if !others.is_empty() {
                notes.push(format!(
                    "{field}: {others:?} have no equivalent in `match` (hosts and path prefixes only): the entry \
                     applies whatever they are"
                ));
            }
            let path = m.get("path");
            let ty = path.and_then(|p| p.get("type")).and_then(Value::as_str).unwrap_or("PathPrefix");
            let value = path.and_then(|p| p.get("value")).cloned().unwrap_or(Value::String("/".into()));
            let (mut prefixes, mut all_paths) = (Vec::new(), false);
            let (p, e, r) = match ty {
                "Exact" => (None, Some(&value), None),
                "RegularExpression" => (None, None, Some(&value)),
                _ => (Some(&value), None, None),
            };
            path_match(
                &field,
                "the Gateway API",
                p,
                e,
                r,
                true,
                &mut prefixes,
                &mut all_paths,
                &mut notes,
                &mut refusals,
            );
            let rank = match (ty, value.as_str()) {
                ("Exact", Some(v)) => (0, usize::MAX - v.len()),
                (_, Some(v)) => (1, usize::MAX - v.len()),
                _ => (2, 0),
            };
            let location = format!(
                "{label}HTTPRoute {id} spec.rules[{i}]{}",
                if policy.is_some() { ".filters[CORS].cors" } else { "" }
            );
            let path_prefixes = if all_paths { Vec::new() } else { prefixes };
            let source = Source {
                location: if matches.len() > 1 { format!("{location} (matches[{j}])") } else { location },
                flavor: Flavor::GatewayApi,
                policy: policy.clone(),
                scope: Some(scope(hosts, path_prefixes)),
                notes,
                refusals,
            };
            found.push((rank, source));
        }
    }
    let in_rule_order = found.windows(2).all(|w| matches!(w, [a, b] if a.0 <= b.0));
    found.sort_by_key(|(rank, _)| *rank);
    if !in_rule_order {
        if let Some((_, first)) = found.iter_mut().find(|(_, s)| s.policy.is_some()) {
            first.notes.push(
                "the entries are ordered as the Gateway API ranks matches (exact paths, then longer prefixes first), \
                 not in rule order"
                    .into(),
            );
        }
    }
    out.extend(found.into_iter().map(|(_, s)| s));
}

/// Envoy Gateway SecurityPolicy: `spec.cors` applies to its targets, which a plugin
/// configuration cannot name: the top level, with a note to attach the plugin to the same targets.
fn security_policy(map: &Map<String, Value>, label: &str, out: &mut Vec<Source>) {
    let spec = map.get("spec");
    let Some(Value::Object(cors)) = spec.and_then(|s| s.get("cors")) else { return };
    let id = meta_id(map);
    let mut targets: Vec<String> = spec
        .and_then(|s| s.get("targetRefs"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .chain(spec.and_then(|s| s.get("targetRef")))
        .map(|t| {
            format!(
                "{} {}",
                t.get("kind").and_then(Value::as_str).unwrap_or("?"),
                t.get("name").and_then(Value::as_str).unwrap_or("?")
            )
        })
        .collect();
    if spec.and_then(|s| s.get("targetSelectors")).is_some() {
        targets.push("the resources of spec.targetSelectors".into());
    }
    let mut source = Source::top(format!("{label}SecurityPolicy {id} spec.cors"), Flavor::EnvoyGateway, cors.clone());
    source.notes.push(format!(
        "a SecurityPolicy applies to its targets ({}): attach the plugin to the same targets (an \
         EnvoyExtensionPolicy with the same targetRefs, see examples/envoy-gateway/), or it applies to every \
         route of the Gateway it is attached to",
        targets.join(", ")
    ));
    out.push(source);
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
    let mut notes = s.notes.clone();
    let mut refusals = s.refusals.clone();
    let Some(policy) = &s.policy else {
        // A route without a CORS policy: left alone, as it was.
        out.mode = Some(Mode::Off);
        return if refusals.is_empty() { Ok((out, notes)) } else { Err(refusals) };
    };
    let who = s.flavor.name();
    let (mut filter_enabled, mut shadow_enabled) = (None, None);
    let mut preflight_rule_set = false;
    for (key, value) in policy {
        match norm(key).as_str() {
            // Gateway API and Envoy Gateway: origins are strings with `*` wildcards.
            "alloworigins" if matches!(s.flavor, Flavor::GatewayApi | Flavor::EnvoyGateway) => match value {
                Value::Array(items) => {
                    for (i, o) in items.iter().enumerate() {
                        match o.as_str() {
                            Some(o) => wildcard_origin(&format!("{key}[{i}]"), o, who, &mut out, &mut refusals),
                            None => refusals.push(format!("`{key}[{i}]` must be a string")),
                        }
                    }
                }
                _ => refusals.push(format!("`{key}` must be a list of origins")),
            },
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
                out.unmatched_preflight = boolean(key, value, &mut refusals).map(|forward| {
                    if forward {
                        UnmatchedPreflight::Forward
                    } else {
                        UnmatchedPreflight::Reject
                    }
                });
                if out.unmatched_preflight == Some(UnmatchedPreflight::Reject) {
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
                    Some("FORWARD") => out.unmatched_preflight = Some(UnmatchedPreflight::Forward),
                    Some("IGNORE") => {
                        out.unmatched_preflight = Some(UnmatchedPreflight::Reject);
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
    if let Some(headers) = out.allow_headers.as_mut() {
        if headers.iter().any(|h| h == "*") && !headers.iter().any(|h| h.eq_ignore_ascii_case("authorization")) {
            headers.push("authorization".into());
            notes.push(format!(
                "allow_headers \"*\": {who} echoed every requested header, Authorization included; the plugin's \"*\" \
                 never covers Authorization (Fetch), so \"authorization\" is added to keep it allowed (remove it if \
                 requests must not carry it)"
            ));
        }
    }
    if !preflight_rule_set {
        notes.push(match s.flavor {
            Flavor::Istio | Flavor::Envoy => format!(
                "{who} forwards preflights that do not match to the upstream by default; the converted policy \
                 rejects them (403, no CORS headers). Add \"unmatched_preflight\": \"forward\" to keep the old \
                 behaviour"
            ),
            Flavor::GatewayApi => format!(
                "{who} leaves preflights that do not match to the implementation (Envoy-based gateways forward them \
                 to the backend); the converted policy rejects them (403, no CORS headers). Add \
                 \"unmatched_preflight\": \"forward\" to forward them"
            ),
            Flavor::EnvoyGateway => format!(
                "{who} programs Envoy's CORS filter, which forwards preflights that do not match to the backend; the \
                 converted policy rejects them (403, no CORS headers). Add \"unmatched_preflight\": \"forward\" to \
                 keep forwarding them"
            ),
        });
    }
    match (filter_enabled.flatten(), shadow_enabled.flatten()) {
        (None | Some(100.0), None | Some(0.0)) => {}
        (Some(0.0), Some(100.0)) => {
            out.mode = Some(Mode::Shadow);
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

/// A Gateway API / Envoy Gateway origin: `*`, an origin, `https://*.example.com`. The plugin's
/// `allow_origins` has the same forms; a `*` host (`https://*`, any host) has none.
fn wildcard_origin(key: &str, text: &str, who: &str, out: &mut Converted, refusals: &mut Vec<String>) {
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
fn check_origin_entry(entry: &str) -> Result<(), String> {
    let json = serde_json::json!({ "allow_origins": [entry] }).to_string();
    Config::from_json(&json).map(|_| ()).map_err(first_reason)
}

fn exact(key: &str, text: &str, who: &str, out: &mut Converted, notes: &mut Vec<String>, refusals: &mut Vec<String>) {
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
fn first_reason(errors: ConfigErrors) -> String {
    errors.into_vec().into_iter().next().map(|e| e.reason).unwrap_or_default()
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
        refusals.push(format!("`{key}`: {value} is not a duration (\"24h\", \"600s\"), a number of seconds or -1"));
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
