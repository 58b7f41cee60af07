//! Origins: the request side (a serialized origin, parsed strictly and without allocation),
//! the config side (patterns, validated at load) and the compiled matcher.

mod matcher;
mod pattern;
mod public_suffix;
mod punycode;
mod regex_hosts;
mod serialized;

pub use matcher::{compile_regex, OriginMatcher, OriginMatcherBuilder, RegexError, REGEX_SIZE_LIMIT};
pub use pattern::{parse_pattern, OriginPattern, PatternError};
pub use public_suffix::{has_public_suffix_below, is_public_suffix};
pub use regex_hosts::{regex_origins, FixedHost, RegexOrigins};
pub use serialized::{is_domain, Host, Origin, MAX_ORIGIN_LEN};
