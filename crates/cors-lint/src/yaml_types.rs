//! Where the plugin expects a string, and the finding for a bare YAML scalar there whose
//! meaning differs between YAML 1.1 (what Kubernetes sends) and YAML 1.2 (what most tools
//! read). The expected types come from the plugin's own type (`RawPolicy`, through its JSON
//! Schema), so there is no second list to drift.

use serde_json::Value;

use crate::extract::plugin_schema;
use crate::kube_yaml::Ambiguous;

/// The JSON types the plugin accepts at `key` (`policies[0].mode`, `allow_methods[2]`);
/// empty for a key the plugin does not know.
pub fn expected_types(key: &str) -> Vec<String> {
    let root = plugin_schema();
    let mut schemas = vec![root];
    for token in tokens(key) {
        let mut next = Vec::new();
        for s in schemas.iter().flat_map(|s| alternatives(root, s)) {
            let child = match &token {
                Token::Index => s.get("items"),
                Token::Key(k) => s.get("properties").and_then(|p| p.get(k.as_str())),
            };
            next.extend(child);
        }
        schemas = next;
    }
    let mut types: Vec<String> = Vec::new();
    for s in schemas.iter().flat_map(|s| alternatives(root, s)) {
        let listed = match s.get("type") {
            Some(Value::String(t)) => vec![t.clone()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        for t in listed {
            if !types.contains(&t) {
                types.push(t);
            }
        }
    }
    types
}

enum Token {
    Key(String),
    Index,
}

fn tokens(key: &str) -> Vec<Token> {
    let mut out = Vec::new();
    for part in key.split('.').filter(|p| !p.is_empty()) {
        let (name, rest) = part.split_once('[').unwrap_or((part, ""));
        if !name.is_empty() {
            out.push(Token::Key(name.to_owned()));
        }
        out.extend(rest.split('[').filter(|r| !r.is_empty()).map(|_| Token::Index));
    }
    out
}

/// A schema and what it stands for: `$ref`s followed, `anyOf`/`oneOf` branches expanded.
fn alternatives<'a>(root: &'a Value, schema: &'a Value) -> Vec<&'a Value> {
    let mut out = Vec::new();
    let mut todo = vec![schema];
    while let Some(s) = todo.pop() {
        if out.len() > 64 {
            break;
        }
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let target = if r == "#" { Some(root) } else { r.strip_prefix('#').and_then(|p| root.pointer(p)) };
            todo.extend(target);
            continue;
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(list) = s.get(key).and_then(Value::as_array) {
                todo.extend(list.iter());
            }
        }
        out.push(s);
    }
    out
}

fn yaml_text(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the string {s:?}"),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Null => "null".to_owned(),
        other => format!("the number {other}"),
    }
}

/// The last key of a path, as written in the manifest (`mode`, or `- on` for a list item).
fn written(key: &str, text: &str) -> String {
    match key.rsplit(['.', '[']).next() {
        Some(last) if !last.ends_with(']') && !last.is_empty() => format!("{last}: {text}"),
        _ => format!("- {text}"),
    }
}

/// A finding for an ambiguous scalar at plugin key `key`: `Err` where the plugin expects a
/// string (Kubernetes will send something else), `Ok` (a warning) where the two readings differ
/// but Kubernetes's is the one the plugin gets.
pub fn finding(key: &str, a: &Ambiguous) -> Result<String, String> {
    let expected = expected_types(key);
    let as_written = written(key, &a.text);
    if expected.iter().any(|t| t == "string") && !a.yaml11.is_string() {
        let quoted = written(key, &serde_json::to_string(&a.text).unwrap_or_default());
        return Err(format!(
            "`{as_written}`: Kubernetes reads YAML 1.1, where a bare {} is {}, but `{key}` takes a string \
             (YAML 1.2 tools read {}): quote it: `{quoted}`",
            a.text,
            yaml_text(&a.yaml11),
            yaml_text(&a.yaml12)
        ));
    }
    Ok(format!(
        "warning: `{as_written}`: Kubernetes (YAML 1.1) sends {}, YAML 1.2 tools read {}: write it so both agree",
        yaml_text(&a.yaml11),
        yaml_text(&a.yaml12)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_plugin_schema() {
        assert_eq!(expected_types("mode"), ["null", "string"]);
        assert_eq!(expected_types("policies[3].unmatched_preflight"), ["null", "string"]);
        assert_eq!(expected_types("policies[0].match.hosts[1]"), ["string"]);
        assert!(expected_types("allow_credentials").contains(&"boolean".to_owned()));
        assert!(expected_types("allow_methods").contains(&"array".to_owned()));
        assert_eq!(expected_types("allow_methods[0]"), ["string"]);
        assert!(expected_types("nope").is_empty());
    }

    #[test]
    fn mode_off_is_an_error_with_the_fix() {
        let a = Ambiguous {
            pointer: "/spec/pluginConfig/mode".into(),
            line: 9,
            text: "off".into(),
            yaml11: Value::Bool(false),
            yaml12: Value::String("off".into()),
        };
        let e = finding("mode", &a).unwrap_err();
        assert!(e.contains("the boolean false") && e.contains("quote it: `mode: \"off\"`"), "{e}");
        let w = finding("allow_credentials", &Ambiguous { text: "yes".into(), yaml11: Value::Bool(true), ..a.clone() });
        assert!(w.unwrap().starts_with("warning:"));
    }
}
