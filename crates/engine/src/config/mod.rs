//! The configuration as written: the JSON (Envoy `configuration`, Istio `pluginConfig`) read
//! into the serde types of `raw`, strictly (objects only, unknown and duplicate keys refused),
//! and the error every rule reports. Compiling it is `routing::Config`'s job.

mod error;
pub mod raw;

pub(crate) use error::ItemError;
pub use error::{ConfigError, ConfigErrors, Rule};

use raw::{ObjectOnly, RawPolicy};

/// Largest configuration accepted, so a hostile config cannot exhaust the VM at load.
pub(crate) const MAX_CONFIG_LEN: usize = 16 << 20;

/// Reads the configuration text into its serde types; no rule beyond the JSON's shape is
/// checked here.
pub(crate) fn parse(text: &str) -> Result<RawPolicy, ConfigError> {
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
            let message = keys_allowed_here(&key, e.into_inner().to_string());
            ConfigError::new(Rule::Syntax, key, None, message)
        })?
        .0;
    de.end().map_err(|e| {
        ConfigError::new(Rule::Syntax, "(root)", None, format!("trailing characters after the JSON object: {e}"))
    })?;
    Ok(raw)
}

/// serde lists every field of `RawPolicy` as expected after an unknown key, but `name` and
/// `match` belong only to entries of `policies`, and `policies` only to the top level: the list
/// names the keys allowed where the unknown one was written.
fn keys_allowed_here(key: &str, message: String) -> String {
    const ENTRY_ONLY: &str = "`name`, `match`, ";
    const TOP_ONLY: &str = ", `policies`";
    if !message.starts_with("unknown field") || !message.contains(ENTRY_ONLY) {
        return message;
    }
    let in_entry = key.starts_with("policies[") && key.matches('.').count() == 1;
    if in_entry {
        message.replacen(TOP_ONLY, "", 1)
    } else {
        message.replacen(ENTRY_ONLY, "", 1)
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::parse;

    #[test]
    fn unknown_keys_list_what_is_allowed_where_they_were_written() {
        let top = parse(r#"{"alow_origins":[]}"#).unwrap_err().reason;
        assert!(top.contains("expected one of `allow_origins`") && top.contains("`policies`"), "{top}");
        assert!(!top.contains("`match`") && !top.contains("`name`"), "{top}");
        let entry = parse(r#"{"policies":[{"alow":1}]}"#).unwrap_err().reason;
        assert!(entry.contains("expected one of `name`, `match`") && !entry.contains("`policies`"), "{entry}");
    }
}
