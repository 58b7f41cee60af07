//! What an origin pattern must be to read credentialed responses: never `*`, https unless
//! loopback, never every subdomain of a public suffix (each unless its `dangerously_` opt-in).

use crate::config::raw::RawPolicy;
use crate::config::Rule;
use crate::origin::{is_public_suffix, OriginPattern};

/// Rules for origins that may read credentialed responses.
pub(super) fn check(pattern: &OriginPattern, raw: &RawPolicy) -> Result<(), (Rule, String)> {
    let insecure_ok = raw.dangerously_allow_insecure_origins_with_credentials.unwrap_or(false);
    let suffix_ok = raw.dangerously_allow_public_suffix_wildcards_with_credentials.unwrap_or(false);
    let Some(host) = pattern.host() else {
        return Err((
            Rule::WildcardWithCredentials,
            "`*` cannot be used with allow_credentials (browsers refuse it): list the origins".into(),
        ));
    };
    let loopback = is_loopback(host);
    if pattern.scheme() == Some("http") && !loopback && !insecure_ok {
        return Err((
            Rule::InsecureOrigin,
            "credentialed http:// origins can be impersonated by anyone on the network; use https, \
             or set dangerously_allow_insecure_origins_with_credentials"
                .into(),
        ));
    }
    if let OriginPattern::Subdomains { suffix, .. } = pattern {
        if !loopback && is_public_suffix(suffix) && !suffix_ok {
            return Err((
                Rule::PublicSuffixWildcard,
                format!(
                    "`{suffix}` is a public suffix: anyone can register a subdomain of it; list the origins, \
                     or set dangerously_allow_public_suffix_wildcards_with_credentials"
                ),
            ));
        }
    }
    Ok(())
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host == "[::1]"
        || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}
