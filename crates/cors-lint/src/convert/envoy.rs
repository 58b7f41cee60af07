//! Envoy: `CorsPolicy` on virtual hosts and routes (typed_per_filter_config or the legacy
//! `cors` field), merged field by field as Envoy's filter does.

use serde_json::{Map, Value};

use super::routes::{hosts, path_match};
use super::{norm, scope, str_list, Flavor, Source};

pub(super) const ORIGIN_GROUP: &[&str] = &["alloworigins", "alloworiginstringmatch", "alloworigin", "alloworiginregex"];

/// Envoy's CORS filter takes each field from the route's policy, else the virtual host's (the
/// origin matchers as one field).
pub(super) fn merge(route: &Map<String, Value>, vhost: &Map<String, Value>) -> (Map<String, Value>, Vec<String>) {
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
pub(super) fn cors_of(map: Option<&Value>) -> Option<(String, Map<String, Value>)> {
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
pub(super) fn virtual_host(vh: &Map<String, Value>, location: &str, out: &mut Vec<Source>) {
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
