//! Origins: the request side (a serialized origin, parsed strictly and without allocation),
//! the config side (patterns, validated at load) and the compiled matcher.

mod matcher;
mod pattern;
mod public_suffix;
mod punycode;
mod serialized;

pub use matcher::{OriginMatcher, OriginMatcherBuilder};
pub use pattern::{parse_pattern, OriginPattern, PatternError};
pub use public_suffix::is_public_suffix;
pub use serialized::{is_domain, Host, Origin, MAX_ORIGIN_LEN};
