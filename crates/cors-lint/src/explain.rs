//! `cors-lint explain`: one request through the plugin's real stream logic
//! (`cors_engine::simulate::run`), so the headers printed are the ones the filter sends.

use std::sync::Arc;

use cors_engine::config::raw::RawPolicy;
use cors_engine::counter::Counter;
use cors_engine::mode::{Mode, UnmatchedPreflight};
use cors_engine::origin::Origin;
use cors_engine::policy::PreflightRequest;
use cors_engine::routing::PolicyId;
use cors_engine::simulate;
use cors_engine::Config;

use super::{at, pick_config, read_input, UsageError, EXIT_DENIED, EXIT_INVALID, EXIT_OK, EXIT_USAGE};

#[derive(Debug, Default)]
struct Request {
    file: Option<String>,
    origin: Option<String>,
    method: Option<String>,
    headers: Vec<String>,
    preflight: bool,
    private_network: bool,
    host: Option<String>,
    path: Option<String>,
    upstream: Vec<(String, String)>,
    index: Option<usize>,
}

fn parse(parser: &mut lexopt::Parser) -> Result<Request, UsageError> {
    use lexopt::prelude::*;
    let mut r = Request::default();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("origin") => r.origin = Some(parser.value()?.string()?),
            Long("method") => r.method = Some(parser.value()?.string()?),
            Long("header") => {
                let v = parser.value()?.string()?;
                r.headers.extend(v.split(',').map(str::trim).filter(|h| !h.is_empty()).map(str::to_owned));
            }
            Long("preflight") => r.preflight = true,
            Long("private-network") => r.private_network = true,
            Long("host") => r.host = Some(parser.value()?.string()?),
            Long("path") => r.path = Some(parser.value()?.string()?),
            Long("upstream-header") => {
                let v = parser.value()?.string()?;
                let Some((name, value)) = v.split_once(':') else {
                    return Err(UsageError(format!("--upstream-header {v:?}: write it as 'name: value'")));
                };
                r.upstream.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
            Long("index") => {
                let v = parser.value()?.string()?;
                r.index = Some(v.parse().map_err(|_| UsageError(format!("--index {v:?}: not a number")))?);
            }
            Value(v) if r.file.is_none() => r.file = Some(v.string()?),
            other => return Err(other.unexpected().into()),
        }
    }
    if r.file.is_none() {
        return Err(UsageError("explain: give the configuration FILE".into()));
    }
    if r.origin.is_none() {
        return Err(UsageError("explain: --origin is required (the request's Origin header)".into()));
    }
    if !r.preflight && !r.headers.is_empty() {
        return Err(UsageError(
            "explain: --header lists the headers a preflight asks for (Access-Control-Request-Headers): add --preflight"
                .into(),
        ));
    }
    if !r.preflight && r.private_network {
        return Err(UsageError(
            "explain: --private-network is asked in a preflight (Access-Control-Request-Private-Network): add --preflight"
                .into(),
        ));
    }
    Ok(r)
}

pub fn command(parser: &mut lexopt::Parser) -> Result<u8, UsageError> {
    let r = parse(parser)?;
    let file = r.file.as_deref().unwrap_or_default();
    let text = read_input(file)?;
    let (location, json) = match pick_config(file, &text, r.index) {
        Ok(found) => found,
        Err((code, msg)) if code == EXIT_USAGE => return Err(UsageError(msg)),
        Err((code, msg)) => {
            println!("{msg}");
            return Ok(code);
        }
    };
    let config = match Config::from_json(&json) {
        Ok(c) => Arc::new(c),
        Err(errors) => {
            for e in &errors {
                println!("{}", at(file, &location, &e.to_string()));
            }
            return Ok(EXIT_INVALID);
        }
    };
    let raw: RawPolicy = serde_json::from_str(&json).unwrap_or_default();
    Ok(explain(&r, file, &location, config, &raw))
}

fn explain(r: &Request, file: &str, location: &str, config: Arc<Config>, raw: &RawPolicy) -> u8 {
    let origin = r.origin.as_deref().unwrap_or_default();
    let method = r.method.as_deref().unwrap_or("GET");
    let mut request: Vec<(&str, String)> =
        vec![(":method", if r.preflight { "OPTIONS".into() } else { method.into() })];
    if let Some(h) = &r.host {
        request.push((":authority", h.clone()));
    }
    request.push((":path", r.path.clone().unwrap_or_else(|| "/".into())));
    request.push(("origin", origin.into()));
    if r.preflight {
        request.push(("access-control-request-method", method.into()));
        if !r.headers.is_empty() {
            // As browsers send it: lowercase, sorted, comma-separated.
            let mut names: Vec<String> = r.headers.iter().map(|h| h.to_ascii_lowercase()).collect();
            names.sort();
            names.dedup();
            request.push(("access-control-request-headers", names.join(",")));
        }
        if r.private_network {
            request.push(("access-control-request-private-network", "true".into()));
        }
    }

    let lines: Vec<(&str, &[u8])> = request.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
    let upstream: Vec<(&str, &str)> = r.upstream.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let outcome = simulate::run(Arc::clone(&config), &lines, &upstream);

    let authority = r.host.as_deref().map(str::as_bytes);
    let path = r.path.as_deref().unwrap_or("/").as_bytes();
    let selected = config.select(authority, Some(path));

    println!("config:    {}", at(file, location, "").trim_end_matches([' ', ':']));
    println!("request:   {}", if r.preflight { "preflight" } else { "actual request" });
    for (k, v) in &request {
        println!("  {k}: {v}");
    }
    let (id, policy) = match selected {
        Ok(selected) => selected,
        Err(ambiguous) => {
            println!("policy:    none: {}", ambiguous.describe(&config));
            let enforced = ambiguous.mode == Mode::Enforce;
            if enforced {
                println!("decision:  denied: the answer must not depend on how the upstream reads the host or path");
            } else {
                println!("decision:  would be denied (no policy it selects enforces: shadow)");
            }
            let counters: Vec<&str> = outcome.counters.iter().map(|c| c.name()).collect();
            if !counters.is_empty() {
                println!("counter:   {}", counters.join(", "));
            }
            print_response(&outcome, r, false, false);
            return if enforced { EXIT_DENIED } else { EXIT_OK };
        }
    };
    let policy_line = match id {
        PolicyId::TopLevel if config.routes().is_empty() => "top level".to_owned(),
        PolicyId::TopLevel => "top level (no entry of `policies` matches this host and path)".to_owned(),
        PolicyId::Entry(i) => format!("{} (the first entry of `policies` whose match fits)", policy_name(i)),
    };
    println!("policy:    {policy_line}");
    if r.host.is_none() && config.needs_authority() {
        println!("           note: no --host given, so policies that match on hosts cannot apply");
    }

    if policy.mode() == Mode::Off {
        let chosen_by = match id {
            PolicyId::TopLevel => "the top level".to_owned(),
            PolicyId::Entry(i) => policy_name(i),
        };
        println!("decision:  passed through (mode off, chosen by {chosen_by})");
        println!("counter:   {}", Counter::PassedThrough.name());
        println!(
            "response:  the request goes to the upstream untouched, preflight or not; its response arrives as sent"
        );
        return EXIT_OK;
    }

    let effective = match id {
        PolicyId::Entry(i) => raw.policies.as_deref().and_then(|p| p.get(i)).map(|p| p.inherit_from(raw)),
        PolicyId::TopLevel => Some(raw.clone()),
    }
    .unwrap_or_default();
    println!("origin:    {}", origin_rule(origin, &effective, policy.origins().matching_regexes(origin)));

    let counter = outcome.counters.iter().copied().find(|c| *c != Counter::ShadowWouldDeny);
    let shadow = policy.mode() == Mode::Shadow;
    let allowed = matches!(counter, Some(Counter::ActualAllowed | Counter::PreflightAllowed));
    if allowed {
        println!("decision:  allowed");
    } else {
        // The words the plugin logs at debug level, naming the refused item.
        let header_lines: Vec<&[u8]> =
            request.iter().filter(|(k, _)| *k == "access-control-request-headers").map(|(_, v)| v.as_bytes()).collect();
        let origins = [origin.as_bytes()];
        let preflight = PreflightRequest {
            origins: &origins,
            method: method.as_bytes(),
            request_headers: &header_lines,
            private_network: r.private_network,
        };
        let denial = match policy.check_preflight(&preflight) {
            Err(reason) if r.preflight => policy.preflight_denial(&preflight, reason),
            _ => policy.origin_denial(origin.as_bytes()),
        };
        let verb = if shadow { "would be denied" } else { "denied" };
        println!("decision:  {verb}: {denial}");
    }
    if let Some(c) = counter {
        let extra = if outcome.counters.contains(&Counter::ShadowWouldDeny) { ", cors.shadow_would_deny" } else { "" };
        println!("counter:   {}{extra}", c.name());
    }
    if shadow {
        println!("mode:      shadow: the decision is only counted and logged; the request and response are untouched");
    }

    let forwarded = r.preflight && !allowed && !shadow && policy.unmatched_preflight() == UnmatchedPreflight::Forward;
    print_response(&outcome, r, allowed, forwarded);
    if allowed {
        EXIT_OK
    } else {
        EXIT_DENIED
    }
}

/// The client's side of the outcome: a local reply, or the upstream's response headers as the
/// filter left them; `allowed` tells an allowed preflight's local reply from a rejected one's,
/// `forwarded` a preflight from an origin not allowed sent on by `unmatched_preflight: forward`.
fn print_response(outcome: &simulate::Outcome, r: &Request, allowed: bool, forwarded: bool) {
    match &outcome.local_reply {
        Some((status, headers)) => {
            let why = if allowed { "allowed preflight" } else { "rejected preflight" };
            println!("response:  local reply {status} ({why}; the upstream never sees it)");
            for (k, v) in headers {
                println!("  {k}: {v}");
            }
            if let Some(details) = &outcome.details {
                println!("details:   {details}   (Envoy's %RESPONSE_CODE_DETAILS%; the wasm plugin's)");
            }
        }
        None => {
            if forwarded {
                println!(
                    "response:  the preflight goes to the upstream (unmatched_preflight: forward, origin not allowed)"
                );
            } else {
                println!("response:  the request goes to the upstream; the client receives these response headers");
            }
            if r.upstream.is_empty() {
                println!("           (upstream headers: none given; add --upstream-header 'name: value')");
            }
            if outcome.response_headers.is_empty() {
                println!("  (none)");
            }
            for (k, v) in &outcome.response_headers {
                let from_upstream = r.upstream.iter().find(|(uk, _)| uk.eq_ignore_ascii_case(k));
                let mark = match from_upstream {
                    None => "   (added by the filter)",
                    Some((_, uv)) if uv != v => "   (changed by the filter)",
                    Some(_) => "",
                };
                println!("  {k}: {v}{mark}");
            }
            for (k, v) in &r.upstream {
                if !outcome.response_headers.iter().any(|(rk, _)| rk.eq_ignore_ascii_case(k)) {
                    println!("  (removed by the filter: {k}: {v})");
                }
            }
        }
    }
}

fn policy_name(i: usize) -> String {
    format!("policies[{i}]")
}

/// Which rule of the (inherited) policy lets `origin` in, each rule checked on its own with
/// the plugin's matcher.
fn origin_rule(origin: &str, p: &RawPolicy, regex_hits: Vec<usize>) -> String {
    if origin != "null" && Origin::parse(origin.as_bytes()).is_none() {
        return format!("invalid origin: {} (no rule can match it)", Origin::invalid_reason(origin.as_bytes()));
    }
    let mut hits = Vec::new();
    if origin == "null" && p.allow_null_origin == Some(true) {
        hits.push("allow_null_origin".to_owned());
    }
    for (i, pattern) in p.allow_origins.iter().flatten().enumerate() {
        let single = serde_json::json!({ "allow_origins": [pattern] }).to_string();
        let matched = Config::from_json(&single)
            .map(|c| c.default_policy().check_origin(origin.as_bytes()).is_some())
            .unwrap_or(false);
        if matched {
            hits.push(format!("allow_origins[{i}] {pattern:?}"));
        }
    }
    let regexes = p.allow_origin_regexes.as_deref().unwrap_or_default();
    for i in regex_hits {
        if let Some(re) = regexes.get(i) {
            hits.push(format!("allow_origin_regexes[{i}] {re:?}"));
        }
    }
    if hits.is_empty() {
        "matches none of the policy's origin rules".to_owned()
    } else {
        format!("matches {}", hits.join(", "))
    }
}
