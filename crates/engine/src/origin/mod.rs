//! Origins: the request side (a serialized origin, parsed strictly and without allocation),
//! the config side (patterns, validated at load) and the compiled matcher.

mod matcher;
mod pattern;
mod public_suffix;
mod punycode;
mod regex_hosts;
mod serialized;

pub use matcher::OriginMatcher;
pub(crate) use matcher::{compile_regex, OriginMatcherBuilder, RegexError};
pub(crate) use pattern::{parse_pattern, OriginPattern};
pub(crate) use public_suffix::{has_public_suffix_below, is_public_suffix};
pub(crate) use regex_hosts::{regex_origins, FixedHost};
pub(crate) use serialized::is_domain;
pub use serialized::Origin;
