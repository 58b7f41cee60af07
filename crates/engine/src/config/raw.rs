//! The configuration exactly as written (JSON): every key optional here, checked in `compile`.
//! Unknown keys are errors, so a typo can never silently weaken a policy.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{value::MapAccessDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::mode::{Mode, UnmatchedPreflight};

/// `T` read only from a JSON object: serde's derive would also read a struct positionally from
/// an array of the right length, which no one means in a configuration.
pub(crate) struct ObjectOnly<T>(pub(crate) T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }
        deserializer.deserialize_map(ObjectVisitor(PhantomData)).map(ObjectOnly)
    }
}

fn match_object<'de, D: Deserializer<'de>>(d: D) -> Result<Option<RawMatch>, D::Error> {
    Ok(Option::<ObjectOnly<RawMatch>>::deserialize(d)?.map(|m| m.0))
}

fn policy_objects<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<RawPolicy>>, D::Error> {
    Ok(Option::<Vec<ObjectOnly<RawPolicy>>>::deserialize(d)?.map(|list| list.into_iter().map(|p| p.0).collect()))
}

/// The request attributes that select a policy.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "serialize", derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
pub struct RawMatch {
    /// `:authority` hosts (port ignored): exact (`api.example.com`) or `*.example.com` (subdomains only).
    #[cfg_attr(feature = "serialize", serde(skip_serializing_if = "Option::is_none"))]
    pub hosts: Option<Vec<String>>,
    /// `:path` prefixes, each starting with `/`.
    #[cfg_attr(feature = "serialize", serde(skip_serializing_if = "Option::is_none"))]
    pub path_prefixes: Option<Vec<String>>,
}

/// One policy: the top level, or an entry of `policies` (which also has `match`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "serialize", derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// Only in entries of `policies`: the entry's name in logs and in the `cors_policy` label of
    /// its counters (lowercase letters, digits, `-` and `_`, starting with a letter, at most 63;
    /// unique). Default: its index (`0`, `1`, ...); the top level is `top_level`.
    #[cfg_attr(feature = "serialize", serde(skip_serializing_if = "Option::is_none"))]
    pub name: Option<String>,
    /// Only in entries of `policies`: the requests the entry applies to (first match wins).
    #[cfg_attr(feature = "serialize", serde(skip_serializing_if = "Option::is_none"))]
    #[serde(rename = "match", default, deserialize_with = "match_object")]
    pub match_: Option<RawMatch>,
    /// Allowed origins: `https://app.example.com`, `*`, `https://*.example.com` (subdomains, not the
    /// apex), `http://localhost:*` (any port).
    #[cfg_attr(feature = "serialize", serde(skip_serializing_if = "Option::is_none"))]
    pub allow_origins: Option<Vec<String>>,
    /// Regexes (regex-lite syntax) matched against the whole `Origin`; implicitly anchored.
    #[cfg_attr(feature = "serialize", serde(skip_serializing_if = "Option::is_none"))]
    pub allow_origin_regexes: Option<Vec<String>>,
    /// Allow `Origin: null` (sandboxed iframes, `file:` pages).
    #[cfg_attr(feature = "serialize", serde(skip_serializing_if = "Option::is_none"))]
    pub allow_null_origin: Option<bool>,

    /// Methods a preflight may ask for (case-sensitive); `*` for any (with credentials, the
    /// requested method is echoed).
    #[cfg_attr(feature = "serialize", serde(skip_serializing_if = "Option::is_none"))]
    pub allow_methods: Option<Vec<String>>,
    /// Request headers a preflight may ask for, CORS-safelisted names too (`content-type`); `*` for
    /// any but Authorization (with credentials, the requested names are echoed).
    #[cfg_attr(feature = "serialize", serde(skip_serializing_if = "Option::is_none"))]
    pub allow_headers: Option<Vec<String>>,
    /// Response headers the page may read (`Access-Control-Expose-Headers`); `*` without credentials.
    #[cfg_attr(feature = "serialize", serde(skip_serializing_if = "Option::is_none"))]
    pub expose_headers: Option<Vec<String>>,
    /// Send `Access-Control-Allow-Credentials: true` (cookies, HTTP auth); forbids `*` everywhere.
    #[cfg_attr(feature = "serialize", serde(skip_serializing_if = "Option::is_none"))]
    pub allow_credentials: Option<bool>,
    /// `Access-Control-Max-Age` in seconds; 0 disables caching, and -1 is the same as 0 (sent as `0`).
    #[cfg_attr(feature = "schema", schemars(range(min = -1, max = 86400)))]
    #[cfg_attr(feature = "serialize", serde(skip_serializing_if = "Option::is_none"))]
    pub max_age: Option<i64>,
    /// Answer Private Network Access preflights (`Access-Control-Allow-Private-Network: true`).
    #[cfg_attr(feature = "serialize", serde(skip_serializing_if = "Option::is_none"))]
    pub allow_private_network: Option<bool>,
    /// Status of an allowed preflight's reply: 204 (default) or 200.
    #[cfg_attr(feature = "schema", schemars(extend("enum" = [200, 204, null])))]
    #[cfg_attr(feature = "serialize", serde(skip_serializing_if = "Option::is_none"))]
    pub preflight_success_status: Option<u16>,
    /// A preflight the policy does not allow: `reject` (default: 403, never reaches the upstream)
    /// or `forward` (one from an origin the policy does not allow goes to the upstream, untouched,
    /// as Istio's FORWARD; a method or header denial from an allowed origin is still a 403).
    #[cfg_attr(feature = "serialize", serde(skip_serializing_if = "Option::is_none"))]
    pub unmatched_preflight: Option<UnmatchedPreflight>,
    /// `enforce` (default), `shadow` or `off`. A top-level `off` is not inherited by entries.
    #[cfg_attr(feature = "serialize", serde(skip_serializing_if = "Option::is_none"))]
    pub mode: Option<Mode>,

    /// Opt-in for credentialed `http://` origins other than loopback (readable by any network attacker).
    #[cfg_attr(feature = "serialize", serde(skip_serializing_if = "Option::is_none"))]
    pub dangerously_allow_insecure_origins_with_credentials: Option<bool>,
    /// Opt-in for credentialed `*.` patterns over a public suffix (`https://*.github.io`).
    #[cfg_attr(feature = "serialize", serde(skip_serializing_if = "Option::is_none"))]
    pub dangerously_allow_public_suffix_wildcards_with_credentials: Option<bool>,
    /// Opt-in for `allow_null_origin` with credentials (every sandboxed iframe and `file:` page,
    /// on any site, sends `Origin: null`).
    #[cfg_attr(feature = "serialize", serde(skip_serializing_if = "Option::is_none"))]
    pub dangerously_allow_null_origin_with_credentials: Option<bool>,

    /// Only at the top level: policies per host and path; each inherits the keys it does not set
    /// (the three origin keys as one group).
    #[cfg_attr(feature = "serialize", serde(skip_serializing_if = "Option::is_none"))]
    #[serde(default, deserialize_with = "policy_objects")]
    pub policies: Option<Vec<RawPolicy>>,
}

impl RawPolicy {
    /// This policy's keys over `parent`'s: each key inherits on its own, except the origin keys,
    /// which are one group (a policy that names origins replaces all of the parent's).
    pub fn inherit_from(&self, parent: &RawPolicy) -> RawPolicy {
        let own_origins =
            self.allow_origins.is_some() || self.allow_origin_regexes.is_some() || self.allow_null_origin.is_some();
        let origins_from = if own_origins { self } else { parent };
        RawPolicy {
            name: self.name.clone(),
            match_: self.match_.clone(),
            policies: None,
            allow_origins: origins_from.allow_origins.clone(),
            allow_origin_regexes: origins_from.allow_origin_regexes.clone(),
            allow_null_origin: origins_from.allow_null_origin,
            allow_methods: self.allow_methods.clone().or_else(|| parent.allow_methods.clone()),
            allow_headers: self.allow_headers.clone().or_else(|| parent.allow_headers.clone()),
            expose_headers: self.expose_headers.clone().or_else(|| parent.expose_headers.clone()),
            allow_credentials: self.allow_credentials.or(parent.allow_credentials),
            max_age: self.max_age.or(parent.max_age),
            allow_private_network: self.allow_private_network.or(parent.allow_private_network),
            preflight_success_status: self.preflight_success_status.or(parent.preflight_success_status),
            unmatched_preflight: self.unmatched_preflight.or(parent.unmatched_preflight),
            // A top-level `off` leaves alone what no entry covers; an entry is enforced unless it
            // says otherwise, or a shared gateway's `{"mode": "off", "policies": [...]}` would
            // switch every entry off.
            mode: self.mode.or(parent.mode.filter(|m| *m != Mode::Off)),
            dangerously_allow_insecure_origins_with_credentials: self
                .dangerously_allow_insecure_origins_with_credentials
                .or(parent.dangerously_allow_insecure_origins_with_credentials),
            dangerously_allow_public_suffix_wildcards_with_credentials: self
                .dangerously_allow_public_suffix_wildcards_with_credentials
                .or(parent.dangerously_allow_public_suffix_wildcards_with_credentials),
            dangerously_allow_null_origin_with_credentials: self
                .dangerously_allow_null_origin_with_credentials
                .or(parent.dangerously_allow_null_origin_with_credentials),
        }
    }
}
