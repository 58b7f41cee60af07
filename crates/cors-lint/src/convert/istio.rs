//! Istio: a VirtualService's `spec.http` routes and their `corsPolicy`.

use serde_json::{Map, Value};

use super::routes::{hosts, path_match};
use super::{meta_id, scope, str_list, Flavor, Source};

/// Istio VirtualService: each `spec.http[i]` route is an entry, in order (first match wins).
pub(super) fn virtual_service(map: &Map<String, Value>, label: &str, out: &mut Vec<Source>) {
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
