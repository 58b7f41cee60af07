//! Where a route-scoped policy applies: a route's hosts and path condition as an entry's `match`
//! (shared by every source format).

use serde_json::Value;

/// Hosts of a route as `match.hosts`: `*` (every host) is no host condition, `*.example.com`
/// stays, a port is dropped (the plugin ignores ports), other wildcard forms are refused.
pub(super) fn hosts(
    who: &str,
    field: &str,
    list: &[String],
    notes: &mut Vec<String>,
    refusals: &mut Vec<String>,
) -> Vec<String> {
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

/// A route's path condition as `path_prefixes` (plain string prefixes, as Envoy's `prefix`).
/// `segment`: the source's prefix matches whole path segments (Gateway API `PathPrefix`,
/// Envoy `path_separated_prefix`).
#[allow(clippy::too_many_arguments)]
pub(super) fn path_match(
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
