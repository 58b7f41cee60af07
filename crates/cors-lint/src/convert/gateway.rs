//! The Gateway API (`HTTPRoute` `CORS` filter) and Envoy Gateway (`SecurityPolicy.spec.cors`).

use serde_json::{Map, Value};

use super::routes::{hosts, path_match};
use super::{meta_id, scope, str_list, Flavor, Source};

/// Gateway API HTTPRoute: one entry per (rule, match), most specific path first, as the Gateway
/// API orders matches (exact, then the longest prefix), whatever the rule order.
pub(super) fn http_route(map: &Map<String, Value>, label: &str, out: &mut Vec<Source>) {
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
pub(super) fn security_policy(map: &Map<String, Value>, label: &str, out: &mut Vec<Source>) {
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
