//! `cors-lint validate`: every configuration in each FILE (or every manifest under a
//! directory) through the plugin's loader. Findings are collected, then printed as text (one
//! line each, as the plugin logs them), JSON or SARIF 2.1.0 (for CI annotations).

use std::path::Path;

use serde_json::{json, Value};

use cors_engine::mode::Mode;
use cors_engine::Config;
use cors_lint::{extract, yaml_types};

use super::{at_line, read_input, UsageError, EXIT_INVALID, EXIT_OK, EXIT_USAGE};

pub const HELP: &str = "\
cors-lint validate [-q] [--format text|json|sarif] FILE|DIR...

Checks every configuration in each FILE with the plugin's loader and prints the error line the
plugin would log, at the manifest line of its key. YAML is read as Kubernetes reads it (YAML
1.1: a bare `off` is the boolean false): a bare scalar the two YAML versions read differently is
an error where the plugin takes a string, with the fix. A DIR is searched for *.yaml, *.yml
and *.json files; those holding no plugin configuration are left out. `-` reads standard input.

-q, --quiet     print errors and warnings only
--format F      text (default), json (one document: files, configurations, findings) or sarif
                (SARIF 2.1.0, for code-scanning annotations)

Exit status: 0 all valid, 1 any error (or a FILE without a configuration), 2 usage or I/O error.";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Text,
    Json,
    Sarif,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warning,
    Error,
}

/// One line of output: a configuration found valid, a warning or an error.
struct Finding {
    file: String,
    line: Option<usize>,
    location: String,
    level: Level,
    /// The plugin's rule (`Origin`, `Syntax`, ...: `config::Rule`'s names), or this tool's
    /// (`YamlAmbiguity`, `NoConfig`, `NoEffect`, `Valid`, `Skipped`).
    rule: String,
    /// The configuration key, when the finding is about one.
    key: Option<String>,
    message: String,
}

pub fn command(parser: &mut lexopt::Parser) -> Result<u8, UsageError> {
    use lexopt::prelude::*;
    let (mut inputs, mut quiet, mut format) = (Vec::new(), false, Format::Text);
    while let Some(arg) = parser.next()? {
        match arg {
            Short('q') | Long("quiet") => quiet = true,
            Short('h') | Long("help") => {
                println!("{HELP}");
                return Ok(EXIT_OK);
            }
            Long("format") => {
                format = match parser.value()?.string()?.as_str() {
                    "text" => Format::Text,
                    "json" => Format::Json,
                    "sarif" => Format::Sarif,
                    other => return Err(UsageError(format!("--format {other:?}: text, json or sarif"))),
                }
            }
            Value(v) => inputs.push(v.string()?),
            other => return Err(other.unexpected().into()),
        }
    }
    if inputs.is_empty() {
        return Err(UsageError("validate: give at least one FILE or DIR".into()));
    }
    let (mut findings, mut checked, mut io_error) = (Vec::new(), 0usize, false);
    for input in &inputs {
        let (files, from_dir) = match expand(input) {
            Ok(files) => files,
            Err(e) => {
                eprintln!("cors-lint: {e}");
                io_error = true;
                continue;
            }
        };
        let before = checked;
        for file in &files {
            match read_input(file) {
                Ok(text) => checked += check_file(file, &text, from_dir, &mut findings),
                Err(UsageError(e)) => {
                    eprintln!("cors-lint: {e}");
                    io_error = true;
                }
            }
        }
        if from_dir && checked == before {
            findings.push(finding(
                input,
                None,
                "",
                Level::Error,
                "NoConfig",
                None,
                "no CORS plugin configuration found in any *.yaml, *.yml or *.json file under it".into(),
            ));
        }
    }
    let errors = findings.iter().filter(|f| f.level == Level::Error).count();
    match format {
        Format::Text => {
            for f in findings.iter().filter(|f| !(quiet && f.level == Level::Ok)) {
                println!("{}", at_line(&f.file, f.line, &f.location, &f.message));
            }
            if !quiet || errors > 0 {
                println!("{checked} configuration(s) checked, {errors} error(s)");
            }
        }
        Format::Json => println!("{}", to_json(&findings, checked, errors)),
        Format::Sarif => println!("{}", to_sarif(&findings)),
    }
    Ok(if io_error {
        EXIT_USAGE
    } else if errors > 0 {
        EXIT_INVALID
    } else {
        EXIT_OK
    })
}

/// The files to read for one argument; `true` when it was a directory.
fn expand(input: &str) -> Result<(Vec<String>, bool), String> {
    let path = Path::new(input);
    if input == "-" || !path.is_dir() {
        return Ok((vec![input.to_owned()], false));
    }
    let mut files = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                dirs.push(p);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")) {
                files.push(p.to_string_lossy().into_owned());
            }
        }
    }
    files.sort();
    Ok((files, true))
}

fn finding(
    file: &str,
    line: Option<usize>,
    location: &str,
    level: Level,
    rule: &str,
    key: Option<String>,
    message: String,
) -> Finding {
    Finding { file: file.to_owned(), line, location: location.to_owned(), level, rule: rule.to_owned(), key, message }
}

/// Checks one file; returns how many configurations it held.
fn check_file(file: &str, text: &str, from_dir: bool, out: &mut Vec<Finding>) -> usize {
    let found = match extract::extract(text) {
        Ok(f) => f,
        // In a directory, a file that is neither JSON nor YAML is not a manifest of ours.
        Err(_) if from_dir => return 0,
        Err(e) => {
            out.push(finding(file, None, "", Level::Error, "Syntax", None, e));
            return 0;
        }
    };
    if found.configs.is_empty() {
        if !from_dir {
            let message = "no CORS plugin configuration found (plugin JSON, WasmPlugin pluginConfig or Envoy wasm filter configuration)";
            out.push(finding(file, None, "", Level::Error, "NoConfig", None, message.into()));
        }
        return 0;
    }
    for skipped in &found.skipped {
        out.push(finding(file, None, skipped, Level::Ok, "Skipped", None, "skipped: not this plugin".into()));
    }
    for c in &found.configs {
        // A bare scalar Kubernetes reads otherwise than a YAML 1.2 tool: an error where the
        // plugin expects a string, else a warning.
        for (key, a) in &c.ambiguous {
            let (level, message) = match yaml_types::finding(key, a) {
                Err(e) => (Level::Error, e),
                Ok(w) => (Level::Warning, w),
            };
            out.push(finding(file, Some(a.line), &c.location, level, "YamlAmbiguity", Some(key.clone()), message));
        }
        let json = match &c.config {
            Ok(json) => json,
            Err(e) => {
                out.push(finding(file, c.line, &c.location, Level::Error, "Syntax", None, e.clone()));
                continue;
            }
        };
        match Config::from_json(json) {
            Ok(config) => {
                // Valid, but almost certainly not what was meant.
                if config.routes().is_empty() && config.default_policy().mode() == Mode::Off {
                    let message = "warning: `mode` is \"off\" and there are no `policies`: the filter does nothing";
                    out.push(finding(file, c.line, &c.location, Level::Warning, "NoEffect", None, message.into()));
                }
                let message = match config.routes().len() {
                    0 => "ok".to_owned(),
                    1 => "ok (1 policy besides the top level)".to_owned(),
                    n => format!("ok ({n} policies besides the top level)"),
                };
                out.push(finding(file, None, &c.location, Level::Ok, "Valid", None, message));
            }
            Err(errors) => {
                for e in &errors {
                    let message = did_you_mean(&in_manifest(c, e.to_string()));
                    let rule = format!("{:?}", e.rule);
                    out.push(finding(
                        file,
                        c.line_of(&e.key),
                        &c.location,
                        Level::Error,
                        &rule,
                        Some(e.key.clone()),
                        message,
                    ));
                }
            }
        }
    }
    found.configs.len()
}

/// A configuration taken from YAML is re-serialized JSON: serde's "at line 1 column 57" would
/// point into text no one wrote, so it goes; the manifest line is printed instead.
fn in_manifest(c: &extract::Found, message: String) -> String {
    if c.line.is_none() {
        return message;
    }
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => message[..i].to_owned(),
        _ => message,
    }
}

/// "unknown field `alow_origins`": the plugin key it most likely meant (edit distance at most
/// 2, or one a prefix of the other).
fn did_you_mean(message: &str) -> String {
    let Some(rest) = message.split("unknown field `").nth(1) else { return message.to_owned() };
    let Some(unknown) = rest.split('`').next() else { return message.to_owned() };
    let best = extract::plugin_keys()
        .iter()
        .map(String::as_str)
        .chain(["hosts", "path_prefixes"])
        .map(|k| (distance(unknown, k), k))
        .filter(|(d, _)| *d <= 2)
        .min();
    match best {
        Some((_, key)) => format!("{message} (did you mean `{key}`?)"),
        None => message.to_owned(),
    }
}

/// Levenshtein distance, for short keys.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row.first().copied().unwrap_or(0);
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let above = row.get(j + 1).copied().unwrap_or(usize::MAX);
            let left = row.get(j).copied().unwrap_or(usize::MAX);
            let value = (prev + usize::from(ca != *cb)).min(above + 1).min(left + 1);
            prev = above;
            if let Some(cell) = row.get_mut(j + 1) {
                *cell = value;
            }
        }
    }
    row.last().copied().unwrap_or(0)
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Ok => "ok",
        Level::Warning => "warning",
        Level::Error => "error",
    }
}

fn to_json(findings: &[Finding], checked: usize, errors: usize) -> Value {
    let list: Vec<Value> = findings
        .iter()
        .map(|f| {
            json!({
                "file": f.file, "line": f.line, "location": f.location, "level": level_name(f.level),
                "rule": f.rule, "key": f.key, "message": f.message,
            })
        })
        .collect();
    json!({ "checked": checked, "errors": errors, "findings": list })
}

fn to_sarif(findings: &[Finding]) -> Value {
    let results: Vec<Value> = findings
        .iter()
        .filter(|f| f.level != Level::Ok)
        .map(|f| {
            let location = match f.line {
                Some(line) => json!({ "physicalLocation": {
                    "artifactLocation": { "uri": f.file }, "region": { "startLine": line } } }),
                None => json!({ "physicalLocation": { "artifactLocation": { "uri": f.file } } }),
            };
            let text = if f.location.is_empty() { f.message.clone() } else { format!("{}: {}", f.location, f.message) };
            json!({
                "ruleId": f.rule,
                "level": if f.level == Level::Error { "error" } else { "warning" },
                "message": { "text": text },
                "locations": [location],
            })
        })
        .collect();
    let mut rules: Vec<&str> = findings.iter().filter(|f| f.level != Level::Ok).map(|f| f.rule.as_str()).collect();
    rules.sort_unstable();
    rules.dedup();
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": { "driver": {
                "name": "cors-lint",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.iter().map(|r| json!({ "id": r })).collect::<Vec<_>>(),
            } },
            "results": results,
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_for_typos() {
        assert_eq!(distance("alow_origins", "allow_origins"), 1);
        let m = did_you_mean("invalid CORS configuration: `(root)`: unknown field `alow_origins`, expected one of ...");
        assert!(m.ends_with("(did you mean `allow_origins`?)"), "{m}");
        assert!(!did_you_mean("unknown field `zzzzzz`, expected").contains("did you mean"));
    }
}
