//! What may read credentialed responses, for every way of allowing an origin: never `*`, https
//! unless loopback, never every subdomain of a public suffix or of a domain with one beneath
//! it, a regex only when its host is pinned to such a domain, `null` never (each unless its
//! `dangerously_` opt-in says so).

use regex_lite::Regex;

use crate::config::raw::RawPolicy;
use crate::config::Rule;
use crate::origin::{has_public_suffix_below, is_public_suffix, regex_origins, FixedHost, OriginPattern};

/// Rules for origin patterns that may read credentialed responses.
pub(super) fn check(pattern: &OriginPattern, raw: &RawPolicy) -> Result<(), (Rule, String)> {
    let Some(host) = pattern.host() else {
        return Err((
            Rule::WildcardWithCredentials,
            "`*` cannot be used with allow_credentials (browsers refuse it): list the origins".into(),
        ));
    };
    check_scheme(pattern.scheme().unwrap_or_default(), host, raw)?;
    if let OriginPattern::Subdomains { suffix, .. } = pattern {
        check_subdomains_of(suffix, raw)?;
    }
    Ok(())
}

/// Rules for a regex that may read credentialed responses: every top-level alternative must
/// start with a literal scheme (https, or http on loopback) and pin its host to a fixed domain
/// (`FixedHost`), which the subdomain rules then check. `compiled` is the anchored regex, probed
/// with origins it must never match, in case the pattern was read wrong.
pub(super) fn check_regex(regex: &str, compiled: &Regex, raw: &RawPolicy) -> Result<(), (Rule, String)> {
    for alternative in regex_origins(regex) {
        let (host, domain) = match (&alternative.host, alternative.scheme.as_deref()) {
            (FixedHost::Unpinned, _) => {
                return Err((
                    Rule::UnpinnedRegex,
                    "with allow_credentials a regex must pin the host: start with a literal `https://` and \
                     end the host with a fixed domain after `\\.` (`https://[a-z0-9-]+\\.example\\.com`), \
                     optionally followed by a port; this one can match hosts outside any fixed domain"
                        .into(),
                ));
            }
            (_, None) => {
                return Err((
                    Rule::InsecureOrigin,
                    "with allow_credentials a regex must start with a literal `https://` (this one can match \
                     `http://` or any scheme)"
                        .into(),
                ));
            }
            (FixedHost::Exact(host), Some(_)) => (host.as_str(), None),
            (FixedHost::Under(domain), Some(_)) => (domain.as_str(), Some(domain.as_str())),
        };
        let scheme = alternative.scheme.as_deref().unwrap_or_default();
        check_scheme(scheme, host, raw)?;
        if let Some(domain) = domain {
            check_subdomains_of(domain, raw)?;
        }
        for witness in witnesses(domain, http_allowed(host, raw)) {
            if compiled.is_match(&witness) {
                return Err((
                    Rule::UnpinnedRegex,
                    format!("with allow_credentials a regex must pin the host; this one matches `{witness}`"),
                ));
            }
        }
    }
    Ok(())
}

/// `allow_null_origin` with credentials: any page in a sandboxed iframe, on any site, sends
/// `Origin: null`.
pub(super) fn check_null(raw: &RawPolicy) -> Result<(), (Rule, String)> {
    if raw.dangerously_allow_null_origin_with_credentials == Some(true) {
        return Ok(());
    }
    Err((
        Rule::NullWithCredentials,
        "with allow_credentials, `Origin: null` is sent by every sandboxed iframe and `file:` page on any \
         site, so any of them could read credentialed responses; set \
         dangerously_allow_null_origin_with_credentials to accept that"
            .into(),
    ))
}

/// Whether a credentialed `http://` origin on `host` is allowed: loopback, or the opt-in.
fn http_allowed(host: &str, raw: &RawPolicy) -> bool {
    is_loopback(host) || raw.dangerously_allow_insecure_origins_with_credentials == Some(true)
}

fn check_scheme(scheme: &str, host: &str, raw: &RawPolicy) -> Result<(), (Rule, String)> {
    if scheme == "http" && !http_allowed(host, raw) {
        return Err((
            Rule::InsecureOrigin,
            "the scheme is the problem: a credentialed http:// origin can be impersonated by anyone on the \
             network; use https, or set dangerously_allow_insecure_origins_with_credentials"
                .into(),
        ));
    }
    Ok(())
}

/// Every subdomain of `domain`: refused when anyone can register one, directly (a public
/// suffix) or beneath a public suffix under it (`*.amazonaws.com` through
/// `s3-website-us-east-1.amazonaws.com`).
fn check_subdomains_of(domain: &str, raw: &RawPolicy) -> Result<(), (Rule, String)> {
    if is_loopback(domain) || raw.dangerously_allow_public_suffix_wildcards_with_credentials == Some(true) {
        return Ok(());
    }
    let why = if is_public_suffix(domain) {
        format!("`{domain}` is a public suffix: anyone can register a subdomain of it")
    } else if has_public_suffix_below(domain) {
        format!(
            "the Public Suffix List has public suffixes beneath `{domain}`: anyone can register a subdomain \
             of one of them"
        )
    } else {
        return Ok(());
    };
    Err((
        Rule::PublicSuffixWildcard,
        format!("{why}; list the origins, or set dangerously_allow_public_suffix_wildcards_with_credentials"),
    ))
}

/// Origins a credentialed regex pinned to `domain` must not match.
fn witnesses(domain: Option<&str>, insecure_ok: bool) -> Vec<String> {
    let mut w = vec!["https://evil.invalid".to_owned(), "https://a.evil.invalid".to_owned()];
    if !insecure_ok {
        w.push("http://evil.invalid".to_owned());
    }
    if let Some(d) = domain {
        w.push(format!("https://x.{d}.evil.invalid"));
        w.push(format!("https://evil{d}"));
        w.push(format!("https://x.{d}x"));
        if !insecure_ok {
            w.push(format!("http://x.{d}"));
        }
    }
    w
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host == "[::1]"
        || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}
