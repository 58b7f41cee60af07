//! `cors-lint`: check, explain and migrate CORS plugin configurations with the plugin's own
//! engine (`cargo install --path crates/cors-lint`).

mod convert;
mod explain;
mod validate;
mod webhook;

use cors_lint::extract;

use std::io::Read;
use std::process::ExitCode;

/// Exit statuses (also in docs/cors-lint.md).
pub const EXIT_OK: u8 = 0;
/// An invalid configuration, a refused conversion.
pub const EXIT_INVALID: u8 = 1;
/// Bad arguments, unreadable file.
pub const EXIT_USAGE: u8 = 2;
/// `explain`: the request is denied.
pub const EXIT_DENIED: u8 = 3;

const USAGE: &str = "\
cors-lint: check, explain and migrate configurations of the envoy-cors plugin

USAGE:
    cors-lint validate [-q] [--format text|json|sarif] FILE|DIR...
    cors-lint explain FILE --origin ORIGIN [--method M] [--header NAME]... [--preflight]
                      [--private-network] [--host HOST] [--path PATH]
                      [--upstream-header 'NAME: VALUE']... [--index N]
    cors-lint convert FILE [--index N] [--check [--envoy PATH] [--wasm PATH]]
    cors-lint webhook --listen ADDR (--tls-cert FILE --tls-key FILE | --plain-http)
    cors-lint schema

FILE is the plugin JSON, a YAML/JSON file holding it (Istio WasmPlugin `spec.pluginConfig`,
Envoy Gateway EnvoyExtensionPolicy `spec.wasm[].config`, Envoy `envoy.filters.http.wasm`
`configuration`), or `-` for standard input.

validate   Check every configuration in each FILE (or manifest under DIR) with the plugin's
           loader; print the error line the plugin would log, at the manifest line, YAML read
           as Kubernetes reads it. Exit 0 when all are valid, 1 otherwise.
explain    Run one request through the filter's stream logic: decision, policy, origin rule
           and the exact response headers. --preflight sends OPTIONS with
           Access-Control-Request-Method (--method, default GET) and -Headers (--header);
           without it the request is an actual request with method --method (default GET).
           Exit 0 allowed, 3 denied, 1 invalid configuration.
convert    Turn an Istio VirtualService `corsPolicy`, an Envoy `CorsPolicy`, a Gateway API
           HTTPRoute `CORS` filter or an Envoy Gateway SecurityPolicy `cors` into this
           plugin's JSON (stdout; every change of meaning as a note on stderr). A route's
           policy becomes a `policies` entry for its hosts and paths, the rest `mode: off`.
           Refuses (exit 1) what it cannot express safely, such as prefix or contains
           origin matches. --check runs probe requests in a real Envoy against Envoy's own
           CORS filter, configured as the source system generates it, and against the plugin
           with the converted configuration, and prints every answer that differs (stderr);
           exit 3 when a browser's outcome differs. Envoy: --envoy, $ENVOY_BIN or `envoy` on
           PATH; the plugin: --wasm, $CORS_WASM or dist/cors.wasm.
webhook    Serve a Kubernetes validating admission webhook (AdmissionReview v1, POST
           /validate) that denies WasmPlugin, EnvoyExtensionPolicy and EnvoyFilter objects
           whose plugin configuration `validate` refuses (`cors-lint webhook --help`).
schema     Print the JSON Schema of the configuration.

--index N  picks the Nth configuration (1-based) when FILE holds several.
`cors-lint COMMAND --help` prints one command's usage. Errors of usage go to standard error.
Exit status 2: usage or I/O error.";

/// The usage of one command: its synopsis line(s) and its paragraph of `USAGE`.
fn command_help(command: &str) -> Option<String> {
    let synopsis: Vec<&str> = USAGE
        .lines()
        .skip_while(|l| !l.starts_with("USAGE"))
        .skip(1)
        .skip_while(|l| !l.trim_start().starts_with(&format!("cors-lint {command}")))
        .take_while(|l| !l.trim().is_empty())
        .take_while(|l| {
            l.trim_start().starts_with(&format!("cors-lint {command}")) || l.starts_with("                 ")
        })
        .collect();
    if synopsis.is_empty() {
        return None;
    }
    let paragraph: Vec<&str> = USAGE
        .lines()
        .skip_while(|l| !l.starts_with(&format!("{command} ")))
        .take_while(|l| !l.trim().is_empty())
        .collect();
    Some(format!("{}\n\n{}", synopsis.join("\n"), paragraph.join("\n")))
}

/// A failure that is not about the configuration: exit 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl From<lexopt::Error> for UsageError {
    fn from(e: lexopt::Error) -> Self {
        UsageError(e.to_string())
    }
}

impl From<std::ffi::OsString> for UsageError {
    fn from(s: std::ffi::OsString) -> Self {
        UsageError(format!("argument is not valid UTF-8: {s:?}"))
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => ExitCode::from(code),
        Err(UsageError(msg)) => {
            eprintln!("cors-lint: {msg}");
            eprintln!("Try `cors-lint --help`.");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn run() -> Result<u8, UsageError> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let command = match parser.next()? {
        Some(Value(v)) => v.string()?,
        Some(Short('h') | Long("help")) => {
            println!("{USAGE}");
            return Ok(EXIT_OK);
        }
        Some(Short('V') | Long("version")) => {
            println!("cors-lint {}", env!("CARGO_PKG_VERSION"));
            return Ok(EXIT_OK);
        }
        Some(other) => return Err(other.unexpected().into()),
        None => return Err(UsageError("missing command: validate, explain, convert, webhook or schema".into())),
    };
    // `cors-lint COMMAND --help`: each command's part of the usage (validate and webhook print
    // their own, longer help).
    if !matches!(command.as_str(), "validate" | "webhook")
        && std::env::args().skip(2).any(|a| a == "--help" || a == "-h")
    {
        match command_help(&command) {
            Some(help) => {
                println!("{help}");
                return Ok(EXIT_OK);
            }
            None => return Err(UsageError(format!("unknown command `{command}`"))),
        }
    }
    match command.as_str() {
        "validate" => validate::command(&mut parser),
        "explain" => explain::command(&mut parser),
        "convert" => convert::command(&mut parser),
        "webhook" => webhook::command(&mut parser),
        "schema" => {
            if let Some(arg) = parser.next()? {
                return Err(arg.unexpected().into());
            }
            print!("{}", schema_json());
            Ok(EXIT_OK)
        }
        "help" => {
            println!("{USAGE}");
            Ok(EXIT_OK)
        }
        other => Err(UsageError(format!("unknown command `{other}`: validate, explain, convert, webhook or schema"))),
    }
}

/// The JSON Schema, as committed in `schema/cors-config.schema.json`.
fn schema_json() -> String {
    let mut schema = schemars::schema_for!(cors_engine::config::raw::RawPolicy);
    schema.insert("title".into(), "envoy-cors plugin configuration".into());
    schema.insert(
        "description".into(),
        "Configuration of the envoy-cors proxy-wasm plugin: the JSON in Envoy's `configuration` \
         (google.protobuf.StringValue) or Istio's WasmPlugin `spec.pluginConfig`. Generated from the \
         Rust types by `make schema`; the plugin also checks rules a schema cannot express \
         (origin syntax, `*` with credentials, regex syntax): run `cors-lint validate`."
            .into(),
    );
    // A JSON value always serializes; an empty string would fail the schema test loudly.
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Reads FILE, or standard input for `-`.
pub fn read_input(path: &str) -> Result<String, UsageError> {
    if path == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| UsageError(format!("standard input: {e}")))?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|e| UsageError(format!("{path}: {e}")))
}

/// `file: location: message`, without an empty location.
pub fn at(file: &str, location: &str, message: &str) -> String {
    if location.is_empty() {
        format!("{file}: {message}")
    } else {
        format!("{file}: {location}: {message}")
    }
}

/// `file:line: location: message` (the line in the manifest, when known).
pub fn at_line(file: &str, line: Option<usize>, location: &str, message: &str) -> String {
    match line {
        Some(n) => at(&format!("{file}:{n}"), location, message),
        None => at(file, location, message),
    }
}

/// The configuration to work on: the only one in the file, or the `--index`th.
pub fn pick_config(file: &str, text: &str, index: Option<usize>) -> Result<(String, String), (u8, String)> {
    let found = extract::extract(text).map_err(|e| (EXIT_INVALID, format!("{file}: {e}")))?;
    let configs = found.configs;
    let chosen = match (index, configs.len()) {
        (_, 0) => return Err((EXIT_INVALID, format!("{file}: no CORS plugin configuration found"))),
        (None, 1) => 0,
        (None, n) => {
            let list: Vec<String> =
                configs.iter().enumerate().map(|(i, c)| format!("  --index {}: {}", i + 1, c.location)).collect();
            return Err((EXIT_USAGE, format!("{file} holds {n} configurations; pick one:\n{}", list.join("\n"))));
        }
        (Some(i), n) if i == 0 || i > n => {
            return Err((EXIT_USAGE, format!("--index {i}: {file} holds {n} configuration(s)")));
        }
        (Some(i), _) => i - 1,
    };
    let Some(c) = configs.get(chosen) else {
        return Err((EXIT_USAGE, format!("--index: {file} has no configuration {}", chosen + 1)));
    };
    match &c.config {
        Ok(json) => Ok((c.location.clone(), json.clone())),
        Err(e) => Err((EXIT_INVALID, at(file, &c.location, e))),
    }
}
