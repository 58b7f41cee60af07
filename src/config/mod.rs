//! The configuration as written: the JSON (Envoy `configuration`, Istio `pluginConfig`) read
//! into the serde types of `raw`, strictly (objects only, unknown and duplicate keys refused),
//! and the error every rule reports. Compiling it is `routing::Config`'s job.

mod error;
pub mod raw;

pub use error::{ConfigError, ConfigErrors, ItemError, Rule};

use raw::{ObjectOnly, RawPolicy};

/// Largest configuration accepted, so a hostile config cannot exhaust the VM at load.
pub const MAX_CONFIG_LEN: usize = 16 << 20;

/// Reads the configuration text into its serde types; no rule beyond the JSON's shape is
/// checked here.
pub fn parse(text: &str) -> Result<RawPolicy, ConfigError> {
    if text.len() > MAX_CONFIG_LEN {
        return Err(ConfigError::new(
            Rule::Size,
            "(root)",
            None,
            format!("configuration larger than {MAX_CONFIG_LEN} bytes"),
        ));
    }
    if text.trim().is_empty() {
        return Err(ConfigError::new(
            Rule::Size,
            "(root)",
            None,
            "the configuration is empty: give a JSON object with at least `allow_origins`",
        ));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let raw = serde_path_to_error::deserialize::<_, ObjectOnly<RawPolicy>>(&mut de)
        .map_err(|e| {
            let path = e.path().to_string();
            let key = if path == "." || path == "?" { "(root)".to_owned() } else { path };
            ConfigError::new(Rule::Syntax, key, None, e.into_inner().to_string())
        })?
        .0;
    de.end().map_err(|e| {
        ConfigError::new(Rule::Syntax, "(root)", None, format!("trailing characters after the JSON object: {e}"))
    })?;
    Ok(raw)
}
