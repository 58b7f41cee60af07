//! YAML read as Kubernetes reads it: `kubectl` and the API server turn YAML into JSON with
//! `sigs.k8s.io/yaml`, which resolves plain scalars by YAML 1.1 rules (go-yaml v2): `on`, `off`,
//! `yes`, `no`, `y`, `n` are booleans, `0755` is octal, `1_000` is a number. A YAML 1.2 reader
//! (most tools) sees strings there, so a check made with one passes what the cluster breaks.
//!
//! The reader keeps, for every node, the line it was written on (`lines`, by JSON pointer), and
//! every plain scalar whose YAML 1.1 and 1.2 readings differ (`ambiguous`), so `validate` names
//! the manifest line and the fix. The resolution rules were read in go-yaml v2's `resolve.go`
//! (not run here); the tests below pin them.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde_json::{Map, Number, Value};

/// A plain scalar that YAML 1.1 (Kubernetes) and YAML 1.2 read differently.
#[derive(Debug, Clone, PartialEq)]
pub struct Ambiguous {
    /// JSON pointer of the value in its document (`/spec/pluginConfig/mode`).
    pub pointer: String,
    /// 1-based line in the file.
    pub line: usize,
    /// The scalar as written.
    pub text: String,
    /// What Kubernetes sends (YAML 1.1).
    pub yaml11: Value,
    /// What a YAML 1.2 reader sees.
    pub yaml12: Value,
}

/// One document: its JSON data (as the API server would store it), the line of each node, and
/// the ambiguous scalars.
#[derive(Debug, Clone, Default)]
pub struct Document {
    /// The data.
    pub value: Value,
    /// Line (1-based) of every node, by JSON pointer (`""` is the document itself).
    pub lines: HashMap<String, usize>,
    /// Plain scalars whose YAML 1.1 and 1.2 readings differ, in document order.
    pub ambiguous: Vec<Ambiguous>,
}

/// A parsed node, before anchors are expanded into JSON.
#[derive(Debug, Clone)]
enum Node {
    Scalar { text: String, style: ScalarStyle, tag: Option<Tag>, line: usize },
    Seq { items: Vec<Node>, line: usize },
    Map { entries: Vec<(Node, Node)>, line: usize },
}

impl Node {
    fn line(&self) -> usize {
        match self {
            Node::Scalar { line, .. } | Node::Seq { line, .. } | Node::Map { line, .. } => *line,
        }
    }
}

/// Every document of a YAML stream. `Err` names the line of a syntax error, an alias to an
/// unknown anchor, a duplicate key or a value JSON cannot hold.
pub fn documents(text: &str) -> Result<Vec<Document>, String> {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| format!("not valid YAML: {e}"))?;
        builder.event(event, span)?;
    }
    let mut out = Vec::with_capacity(builder.docs.len());
    for (i, node) in builder.docs.into_iter().enumerate() {
        let mut doc = Document::default();
        doc.value = to_json(&node, "", &mut doc).map_err(|e| format!("document {}: {e}", i + 1))?;
        out.push(doc);
    }
    Ok(out)
}

#[derive(Default)]
struct Builder {
    /// Open collections: the node and, for a mapping, a key waiting for its value.
    stack: Vec<(Node, usize, Option<Node>)>,
    anchors: HashMap<usize, Node>,
    docs: Vec<Node>,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), String> {
        let line = span.start.line();
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let node = Node::Scalar { text: text.into_owned(), style, tag: tag.map(|t| t.into_owned()), line };
                self.push(node, anchor)
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().ok_or_else(|| format!("line {line}: unknown alias"))?;
                self.push(node, 0)
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push((Node::Seq { items: Vec::new(), line }, anchor, None));
                Ok(())
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push((Node::Map { entries: Vec::new(), line }, anchor, None));
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some((node, anchor, _)) => self.push(node, anchor),
                None => Err(format!("line {line}: unbalanced YAML")),
            },
            _ => Ok(()),
        }
    }

    fn push(&mut self, node: Node, anchor: usize) -> Result<(), String> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some((Node::Seq { items, .. }, _, _)) => items.push(node),
            Some((Node::Map { entries, .. }, _, pending)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => entries.push((key, node)),
            },
            Some((Node::Scalar { .. }, _, _)) => return Err("internal: scalar on the stack".into()),
        }
        Ok(())
    }
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn to_json(node: &Node, pointer: &str, doc: &mut Document) -> Result<Value, String> {
    doc.lines.insert(pointer.to_owned(), node.line());
    match node {
        Node::Scalar { text, style, tag, line } => {
            let value = scalar(text, *style, tag.as_ref()).map_err(|e| format!("line {line}: {e}"))?;
            if *style == ScalarStyle::Plain && tag.is_none() {
                let yaml12 = resolve_yaml12(text);
                if yaml12 != value {
                    doc.ambiguous.push(Ambiguous {
                        pointer: pointer.to_owned(),
                        line: *line,
                        text: text.clone(),
                        yaml11: value.clone(),
                        yaml12,
                    });
                }
            }
            Ok(value)
        }
        Node::Seq { items, .. } => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(to_json(item, &format!("{pointer}/{i}"), doc)?);
            }
            Ok(Value::Array(out))
        }
        Node::Map { entries, line } => {
            let mut out = Map::new();
            let mut merged: Vec<&Node> = Vec::new();
            for (key, value) in entries {
                if is_merge_key(key) {
                    match value {
                        Node::Seq { items, .. } => merged.extend(items.iter()),
                        other => merged.push(other),
                    }
                    continue;
                }
                let name = key_text(key)?;
                if out.contains_key(&name) {
                    return Err(format!("line {}: duplicate key {name:?}", key.line()));
                }
                let v = to_json(value, &format!("{pointer}/{}", escape(&name)), doc)?;
                out.insert(name, v);
            }
            // `<<` merge keys: explicit keys win, then the merged maps in order.
            for source in merged {
                let Node::Map { entries, .. } = source else {
                    return Err(format!("line {line}: `<<` must merge a mapping or a list of mappings"));
                };
                for (key, value) in entries {
                    let name = key_text(key)?;
                    if !out.contains_key(&name) {
                        let v = to_json(value, &format!("{pointer}/{}", escape(&name)), doc)?;
                        out.insert(name, v);
                    }
                }
            }
            Ok(Value::Object(out))
        }
    }
}

fn is_merge_key(key: &Node) -> bool {
    matches!(key, Node::Scalar { text, style: ScalarStyle::Plain, tag: None, .. } if text == "<<")
}

/// A mapping key as JSON names it: `sigs.k8s.io/yaml` writes a non-string key (`on:`, `1:`)
/// as its value's text (`"true"`, `"1"`).
fn key_text(key: &Node) -> Result<String, String> {
    match key {
        Node::Scalar { text, style, tag, line } => {
            match scalar(text, *style, tag.as_ref()).map_err(|e| format!("line {line}: {e}"))? {
                Value::String(s) => Ok(s),
                Value::Null => Ok("null".into()),
                other => Ok(other.to_string()),
            }
        }
        other => Err(format!("line {}: a mapping key must be a scalar", other.line())),
    }
}

/// A scalar under YAML 1.1 resolution (go-yaml v2): quoted and block scalars are strings, a tag
/// decides when there is one, a plain scalar is resolved.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(tag) = tag {
        if tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!" {
            return match tag.suffix.as_str() {
                "str" => Ok(Value::String(text.to_owned())),
                "null" => Ok(Value::Null),
                "bool" | "int" | "float" => match resolve_yaml11(text)? {
                    Value::String(_) => Err(format!("{text:?} is not a valid !!{}", tag.suffix)),
                    v => Ok(v),
                },
                _ => Ok(Value::String(text.to_owned())),
            };
        }
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_owned()));
    }
    resolve_yaml11(text)
}

/// YAML 1.1 as go-yaml v2 resolves a plain scalar.
pub fn resolve_yaml11(text: &str) -> Result<Value, String> {
    const TRUE: &[&str] = &["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"];
    const FALSE: &[&str] = &["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"];
    if TRUE.contains(&text) {
        return Ok(Value::Bool(true));
    }
    if FALSE.contains(&text) {
        return Ok(Value::Bool(false));
    }
    if ["", "~", "null", "Null", "NULL"].contains(&text) {
        return Ok(Value::Null);
    }
    if is_special_float(text) {
        return Err(format!("{text} is a float JSON cannot hold: quote it"));
    }
    let first = text.chars().next().unwrap_or(' ');
    if !(first.is_ascii_digit() || matches!(first, '+' | '-' | '.')) {
        return Ok(Value::String(text.to_owned()));
    }
    let plain = text.replace('_', "");
    if let Some(n) = go_parse_int(&plain) {
        return Ok(n);
    }
    if is_float_syntax(&plain) {
        if let Ok(f) = plain.parse::<f64>() {
            return Ok(number_from_f64(f));
        }
    }
    Ok(Value::String(text.to_owned()))
}

/// YAML 1.2 core schema, as a YAML 1.2 reader resolves a plain scalar.
pub fn resolve_yaml12(text: &str) -> Value {
    match text {
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        _ => {}
    }
    let digits = |s: &str, radix: u32| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let negative = text.starts_with('-');
    let parsed = if digits(unsigned, 10) {
        unsigned.parse::<i128>().ok()
    } else if let Some(oct) = text.strip_prefix("0o").filter(|s| digits(s, 8)) {
        i128::from_str_radix(oct, 8).ok()
    } else if let Some(hex) = text.strip_prefix("0x").filter(|s| digits(s, 16)) {
        i128::from_str_radix(hex, 16).ok()
    } else {
        None
    };
    if let Some(n) = parsed {
        let n = if negative { -n } else { n };
        if let Some(v) = int_value(n) {
            return v;
        }
    }
    if is_float_syntax(text) {
        if let Ok(f) = text.parse::<f64>() {
            return number_from_f64(f);
        }
    }
    Value::String(text.to_owned())
}

fn is_special_float(text: &str) -> bool {
    let t = text.strip_prefix(['+', '-']).unwrap_or(text);
    [".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN"].contains(&t)
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_float_syntax(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let all_digits = |p: &str| p.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        None => !mantissa.is_empty() && all_digits(mantissa),
        Some(("", frac)) => !frac.is_empty() && all_digits(frac),
        Some((int, frac)) => !int.is_empty() && all_digits(int) && all_digits(frac),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint`: a sign, then `0x`, `0o`, `0b` or a
/// leading `0` (octal) prefix.
fn go_parse_int(s: &str) -> Option<Value> {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let n = i128::from_str_radix(digits, radix).ok()?;
    int_value(if negative { -n } else { n })
}

fn int_value(n: i128) -> Option<Value> {
    if let Ok(i) = i64::try_from(n) {
        Some(Value::Number(i.into()))
    } else {
        u64::try_from(n).ok().map(|u| Value::Number(u.into()))
    }
}

/// A float as the API server stores it: JSON has one number type, so `1e3` arrives as `1000`.
fn number_from_f64(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        return Value::Number((f as i64).into());
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kubernetes_reads_yaml_1_1_scalars() {
        for (text, expected) in [
            ("off", json!(false)),
            ("On", json!(true)),
            ("yes", json!(true)),
            ("n", json!(false)),
            ("Y", json!(true)),
            ("~", json!(null)),
            ("0755", json!(493)),
            ("0x1F", json!(31)),
            ("0b101", json!(5)),
            ("1_000", json!(1000)),
            ("1e3", json!(1000)),
            ("-12", json!(-12)),
            ("1.5", json!(1.5)),
            ("enforce", json!("enforce")),
            ("2001-12-14", json!("2001-12-14")),
            ("https://a.example", json!("https://a.example")),
            ("0x", json!("0x")),
            ("09", json!(9)),
        ] {
            assert_eq!(resolve_yaml11(text).unwrap(), expected, "{text}");
        }
        assert!(resolve_yaml11(".inf").is_err());
    }

    #[test]
    fn yaml_1_2_reads_them_otherwise() {
        assert_eq!(resolve_yaml12("off"), json!("off"));
        assert_eq!(resolve_yaml12("0755"), json!(755));
        assert_eq!(resolve_yaml12("1_000"), json!("1_000"));
        assert_eq!(resolve_yaml12("true"), json!(true));
        assert_eq!(resolve_yaml12("0o17"), json!(15));
    }

    #[test]
    fn lines_anchors_merge_keys_and_ambiguities() {
        let text = "a: 1\nbase: &b\n  mode: off\n  x: 'on'\nentry:\n  <<: *b\n  x: y\nlist:\n  - yes\n  - \"no\"\n";
        let docs = documents(text).unwrap();
        let [doc] = &docs[..] else { panic!("{docs:?}") };
        assert_eq!(
            doc.value,
            json!({"a": 1, "base": {"mode": false, "x": "on"}, "entry": {"x": true, "mode": false}, "list": [true, "no"]})
        );
        assert_eq!(doc.lines["/base/mode"], 3);
        assert_eq!(doc.lines["/list/1"], 10);
        let found: Vec<(&str, usize)> = doc.ambiguous.iter().map(|a| (a.pointer.as_str(), a.line)).collect();
        assert_eq!(found, [("/base/mode", 3), ("/entry/x", 7), ("/entry/mode", 3), ("/list/0", 9)]);
    }

    #[test]
    fn errors_name_the_line() {
        assert!(documents("a: 1\na: 2\n").unwrap_err().contains("line 2"));
        assert!(documents("a: [1\n").is_err());
        assert!(documents("a: *nope\n").is_err());
        assert_eq!(documents("---\na: 1\n---\nb: !!str on\n").unwrap()[1].value, json!({"b": "on"}));
    }
}
