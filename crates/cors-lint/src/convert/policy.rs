//! One CORS policy's fields to the plugin's keys, with a note for every change of meaning.

use serde_json::Value;

use cors_engine::mode::{Mode, UnmatchedPreflight};

use super::fields::{boolean, fraction, list, max_age};
use super::origins::{origin_matcher, regex, wildcard_origin};
use super::{norm, Converted, Flavor, Source};

/// Converts one policy: the configuration and notes, or every reason it cannot be done safely.
pub(super) fn convert(s: &Source) -> Result<(Converted, Vec<String>), Vec<String>> {
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
                             without CORS headers (Istio's Envoy answered 200 without Access-Control-Allow-Origin); \
                             browsers fail the request either way, and the upstream never sees it"
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
    let credentials = out.allow_credentials == Some(true);
    if credentials && out.allow_origins.as_deref().unwrap_or_default().iter().any(|o| o == "*") {
        refusals.push(format!(
            "every origin (\"*\") with allowCredentials: {who} echoed any Origin with \
             Access-Control-Allow-Credentials: true, so any website a user visits could read these responses with \
             the user's cookies or HTTP authentication (the classic CORS vulnerability); the plugin refuses it. \
             Safe alternatives: list the origins that need credentials (\"https://app.example.com\", \
             \"https://*.example.com\" for your own subdomains), or keep \"*\" and set allowCredentials to false \
             (browsers then send credentialed requests without reading their responses)"
        ));
    }
    if let Some(headers) = out.allow_headers.as_mut() {
        if headers.iter().any(|h| h == "*") && !headers.iter().any(|h| h.eq_ignore_ascii_case("authorization")) {
            headers.push("authorization".into());
            notes.push(format!(
                "allow_headers \"*\": {who} answered with the requested names (Envoy echoes \
                 Access-Control-Request-Headers for \"*\", with or without credentials), Authorization included; the \
                 plugin's \"*\" never covers Authorization (Fetch), so \"authorization\" is added to keep it allowed \
                 (remove it if requests must not carry it); without credentials the plugin answers \"*,authorization\", \
                 with credentials the requested names"
            ));
        }
    }
    if !credentials && out.allow_methods.as_deref().unwrap_or_default().iter().any(|m| m == "*") {
        notes.push(format!(
            "allow_methods \"*\": {who} answered with the requested method (Envoy echoes \
             Access-Control-Request-Method for \"*\"); without credentials the plugin answers \"*\", which browsers \
             read as every method (the same effect)"
        ));
    }
    if out.allow_origins.as_deref().unwrap_or_default().iter().any(|o| o == "*") && !credentials {
        notes.push(format!(
            "allow_origins \"*\": {who} answered with the request's Origin (Envoy echoes it); the plugin answers \
             \"*\" (Fetch: every origin, for requests without credentials), the same for every request, so caches \
             need no Vary: Origin"
        ));
    }
    if !preflight_rule_set {
        match s.flavor {
            Flavor::Istio | Flavor::Envoy => {
                out.unmatched_preflight = Some(UnmatchedPreflight::Forward);
                notes.push(format!(
                    "{who} forwards preflights from origins that do not match to the upstream by default: written as \
                     \"unmatched_preflight\": \"forward\", which does the same (set \"reject\" to answer them with \
                     403 here)"
                ));
            }
            Flavor::GatewayApi => notes.push(format!(
                "{who} has the gateway answer preflights from origins that do not match (200/204 without CORS \
                 headers, or 403; Envoy-based gateways answer 200 without Access-Control-Allow-Origin); the converted \
                 policy answers 403 without CORS headers; browsers fail the request either way"
            )),
            Flavor::EnvoyGateway => notes.push(format!(
                "{who} (since v1.1) programs Envoy's CORS filter with forward_not_matching_preflights: false, so Envoy \
                 answers preflights from origins that do not match itself, 200 without Access-Control-Allow-Origin; \
                 the converted policy answers 403 without CORS headers; browsers fail the request either way"
            )),
        }
    }
    let envoy = if s.flavor == Flavor::GatewayApi { "Envoy-based gateways" } else { who };
    notes.push(format!(
        "by design (docs/migration.md#behaviour-differences-that-need-no-field): a preflight from an allowed origin \
         asking for a method or header that is not listed gets 403 without CORS headers ({envoy} answered 200 with \
         the configured lists; browsers fail the request either way), an allowed preflight gets 204 ({envoy}: 200; \
         add \"preflight_success_status\": 200 to keep it), and header names are sent lowercase, lists without \
         spaces (`x-a,x-b`: the same to a browser)"
    ));
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
