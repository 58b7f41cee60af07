//! Runs the attack tables in `tests/attacks/`, one report line per case (`ok   <name>` or
//! `FAIL <name>: <why>`), and fails at the end with the number of failures. A positional
//! argument runs only the cases whose name contains it: `cargo test --test attacks -- 'path confusion'`.
//!
//! - `cases.json`: `configs` (name -> plugin configuration) and `cases`, each
//!   `config + request -> exact decision, headers and counters`, run through `simulate::run`
//!   (the plugin's own stream logic). After every case the invariants of `testkit::invariants`
//!   are checked: no origin reflected that the configuration does not list (the model is
//!   [`may_reflect`] below), never `*` with credentials, only valid header values, no header twice.
//! - `refused_configs.json`: configurations that must not load. `key` (if given) is the key the
//!   error names, `words` what its one-line reason must contain, `value` (if given) the value it
//!   quotes; every error is one line (no CR or LF).
//! - `loading_configs.json`: what the rules allow on purpose (loopback http with credentials,
//!   the loud opt-ins, bounds); each must load.
//!
//! A case is `{"name", "config", "request", "upstream", "expect", "counters"}`:
//! - `request`: the header lines in order, pseudo-headers included, as `[name, value]`;
//!   `upstream`: the upstream's response headers, used when the request goes upstream;
//! - `expect`: `{"reply": status, "headers": [...]}` (answered by the filter: status and exactly
//!   these headers) or `{"upstream": [...]}` (went upstream: exactly these response headers
//!   reach the client); header order does not matter, names are compared in lower case;
//! - `counters`: the counters incremented, in order, by metric name (`cors.actual_denied`).
//!
//! A header value is a JSON string (its UTF-8 bytes; control bytes as `\u` escapes, non-ASCII
//! as `\u` escapes so homographs stay visible) or an array of pieces, concatenated:
//! - a string;
//! - `{"hex": "e9ff"}`: raw bytes, for values that are not UTF-8;
//! - `{"repeat": "x-a,", "times": 4200}`: a string repeated;
//! - `{"seq": "x-h{i}", "count": 1000, "width": 5, "sep": ","}`: the string for i = 0..count,
//!   `{i}` replaced by i zero-padded to `width` (default 0), joined by `sep` (default "").
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::ExitCode;
use std::rc::Rc;

use cors_engine::counter::Counter;
use cors_engine::simulate::{self, Outcome};
use cors_engine::Config;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use testkit::invariants::{self, Lines};

const CASES: &str = include_str!("attacks/cases.json");
const REFUSED: &str = include_str!("attacks/refused_configs.json");
const LOADING: &str = include_str!("attacks/loading_configs.json");

/// Fewer rows than this means a table was truncated: lower it only when removing rows on purpose.
const MIN_CASES: usize = 320;
const MIN_REFUSED: usize = 186;
const MIN_LOADING: usize = 34;

// ---------------------------------------------------------------------------------------------
// The model: what each configuration of `cases.json` may reflect
// ---------------------------------------------------------------------------------------------

const CRED_ORIGINS: &[&str] = &[
    "https://example.com",
    "https://app.example.com",
    "http://localhost:3000",
    "http://[::1]:8080",
    "http://127.0.0.1:3000",
    "https://xn--80ak6aa92e.com",
];

/// Whether `config` (a name in `cases.json`) may reflect `origin`: the test's own model of the
/// policy, written independently of the engine. `None` for a configuration it does not know,
/// so a new configuration cannot be added without saying what it may reflect.
fn may_reflect(config: &str, origin: &str) -> Option<bool> {
    let sub = |suffix: &str| {
        origin.strip_prefix("https://").and_then(|h| h.strip_suffix(suffix)).is_some_and(|label| {
            !label.is_empty() && label.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b != b':'))
        })
    };
    Some(match config {
        "CRED" => CRED_ORIGINS.contains(&origin),
        // `*` only: nothing is ever reflected.
        "OPEN" | "OPEN_AUTH" => false,
        "SUB" => {
            sub(".example.com")
                || origin == "http://localhost"
                || origin.strip_prefix("http://localhost:").is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
        }
        "NULL_OK" => origin == "https://example.com" || origin == "null",
        // Anything syntactically an origin (the invariants check the syntax).
        "RE_ANY" => origin != "null",
        "RE_LOOSE" => {
            sub(".example.com")
                || (origin.starts_with("https://app") && origin.ends_with("example.org") && origin.len() == 23)
                || origin == "https://a.com"
                || origin == "https://b.com"
        }
        "HOSTS" => {
            ["https://admin.example.com", "https://ops.example.com", "https://root.example.com"].contains(&origin)
        }
        "SHADOW" | "FORWARD" | "PNA" | "CRED_ANY_METHOD" | "PATHS" | "GATEWAY" => origin == "https://example.com",
        "SHARED_GW" => origin == "https://app.example.com" || origin == "https://admin.example.com",
        "HOST_GW" => origin == "https://app.example.com",
        "NO_CACHE" => origin == "https://example.com" || origin == "http://[::ffff:7f7f:7f7f]:90",
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// The data
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    configs: BTreeMap<String, Box<RawValue>>,
    cases: Vec<CaseData>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseData {
    name: String,
    config: String,
    request: Vec<(String, Value)>,
    upstream: Vec<(String, Value)>,
    expect: ExpectData,
    counters: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectData {
    reply: Option<u32>,
    headers: Option<Vec<(String, Value)>>,
    upstream: Option<Vec<(String, Value)>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Refused {
    config: Box<RawValue>,
    key: Option<String>,
    /// The rule's name (`Rule`'s variant, e.g. `InsecureOrigin`): tests match rules, the
    /// words only check that the message says why.
    rule: String,
    #[serde(default)]
    words: String,
    value: Option<String>,
}

type Headers = Vec<(String, String)>;

#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// Answered by the filter itself: status and exactly these headers.
    Reply(u32, Headers),
    /// Went upstream; the client gets exactly these response headers.
    Upstream(Headers),
}

/// A case decoded (its name stays with the table).
struct Case {
    config: String,
    req: Lines,
    upstream: Headers,
    expect: Expect,
    counters: Vec<Counter>,
}

/// The bytes of a header value (see the module comment for the forms).
fn bytes(v: &Value) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    match v {
        Value::String(s) => out.extend_from_slice(s.as_bytes()),
        Value::Array(pieces) => {
            for piece in pieces {
                piece_bytes(piece, &mut out)?;
            }
        }
        other => return Err(format!("a header value is a string or an array of pieces, not {other}")),
    }
    Ok(out)
}

fn piece_bytes(piece: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    let field = |k: &str| piece.get(k);
    let count = |k: &str| field(k).and_then(Value::as_u64).and_then(|n| usize::try_from(n).ok());
    let text = |k: &str| field(k).and_then(Value::as_str);
    let keys: Vec<&str> = piece.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
    let only = |allowed: &[&str]| keys.iter().all(|k| allowed.contains(k));
    match (piece, text("hex"), text("repeat"), text("seq")) {
        (Value::String(s), ..) => out.extend_from_slice(s.as_bytes()),
        (_, Some(hex), None, None) if only(&["hex"]) => {
            if hex.len() % 2 != 0 {
                return Err(format!("odd hex length: {hex:?}"));
            }
            for pair in hex.as_bytes().chunks(2) {
                let pair = std::str::from_utf8(pair).map_err(|e| e.to_string())?;
                out.push(u8::from_str_radix(pair, 16).map_err(|e| format!("hex {hex:?}: {e}"))?);
            }
        }
        (_, None, Some(unit), None) if only(&["repeat", "times"]) => {
            let times = count("times").ok_or("`repeat` needs `times`")?;
            out.extend_from_slice(unit.repeat(times).as_bytes());
        }
        (_, None, None, Some(template)) if only(&["seq", "count", "width", "sep"]) => {
            let n = count("count").ok_or("`seq` needs `count`")?;
            let width = if field("width").is_some() { count("width").ok_or("`width` is a number")? } else { 0 };
            let sep = if field("sep").is_some() { text("sep").ok_or("`sep` is a string")? } else { "" };
            for i in 0..n {
                if i > 0 {
                    out.extend_from_slice(sep.as_bytes());
                }
                out.extend_from_slice(template.replace("{i}", &format!("{i:0width$}")).as_bytes());
            }
        }
        _ => return Err(format!("not a piece: {piece}")),
    }
    Ok(())
}

fn headers(list: &[(String, Value)]) -> Result<Headers, String> {
    list.iter()
        .map(|(k, v)| {
            let v = String::from_utf8(bytes(v)?).map_err(|_| format!("{k}: a response header value is UTF-8"))?;
            Ok((k.clone(), v))
        })
        .collect()
}

fn counter(name: &str) -> Result<Counter, String> {
    Counter::ALL.into_iter().find(|c| c.name() == name).ok_or_else(|| format!("unknown counter {name:?}"))
}

fn case(data: CaseData) -> Result<Case, String> {
    let req = data.request.iter().map(|(k, v)| Ok((k.clone(), bytes(v)?))).collect::<Result<Lines, String>>()?;
    let expect = match (data.expect.reply, data.expect.headers, data.expect.upstream) {
        (Some(status), Some(h), None) => Expect::Reply(status, headers(&h)?),
        (None, None, Some(h)) => Expect::Upstream(headers(&h)?),
        _ => return Err("`expect` is {\"reply\", \"headers\"} or {\"upstream\"}".into()),
    };
    Ok(Case {
        req,
        upstream: headers(&data.upstream)?,
        expect,
        counters: data.counters.iter().map(|c| counter(c)).collect::<Result<_, _>>()?,
        config: data.config,
    })
}

// ---------------------------------------------------------------------------------------------
// Running and reporting
// ---------------------------------------------------------------------------------------------

/// The command line, as libtest reads it: positional arguments select cases by name (substring,
/// or whole with `--exact`), `--skip NAME` leaves some out, `--list` lists them; libtest's other
/// options (`--test-threads 2`, `--nocapture`, ...) are accepted and ignored.
struct Filter {
    names: Vec<String>,
    skip: Vec<String>,
    exact: bool,
    list: bool,
}

impl Filter {
    fn from_args() -> Filter {
        let mut f = Filter { names: Vec::new(), skip: Vec::new(), exact: false, list: false };
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            match a.as_str() {
                "--skip" => f.skip.extend(args.next()),
                "--list" => f.list = true,
                "--exact" => f.exact = true,
                "--test-threads" | "--format" | "--color" | "--logfile" | "-Z" | "--shuffle-seed" => {
                    args.next();
                }
                _ if a.starts_with('-') => {}
                _ => f.names.push(a),
            }
        }
        f
    }

    fn selects(&self, name: &str) -> bool {
        let hit = |n: &String| if self.exact { name == n } else { name.contains(n.as_str()) };
        (self.names.is_empty() || self.names.iter().any(hit)) && !self.skip.iter().any(hit)
    }
}

#[derive(Default)]
struct Report {
    run: usize,
    failed: usize,
}

impl Report {
    fn line(&mut self, name: &str, result: Result<(), String>) {
        self.run += 1;
        match result {
            Ok(()) => println!("ok   {name}"),
            Err(why) => {
                self.failed += 1;
                println!("FAIL {name}: {why}");
            }
        }
    }
}

/// A value shortened for a report line.
fn short(s: &str) -> String {
    const MAX: usize = 160;
    if s.len() <= MAX {
        return format!("{s:?}");
    }
    let cut = (0..=MAX).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
    format!("{:?}... ({} bytes)", &s[..cut], s.len())
}

fn sorted(h: &[(String, String)]) -> Headers {
    let mut h: Headers = h.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect();
    h.sort();
    h
}

/// What differs between two header lists, on one line.
fn header_diff(want: &[(String, String)], got: &[(String, String)]) -> String {
    let (want, got) = (sorted(want), sorted(got));
    let list =
        |h: Vec<&(String, String)>| h.iter().map(|(k, v)| format!("{k}: {}", short(v))).collect::<Vec<_>>().join("; ");
    let missing: Vec<_> = want.iter().filter(|h| !got.contains(h)).collect();
    let unexpected: Vec<_> = got.iter().filter(|h| !want.contains(h)).collect();
    format!("missing [{}], unexpected [{}]", list(missing), list(unexpected))
}

/// Runs one case: the decision and headers expected, then the invariants.
fn run_case(config: Rc<Config>, case: &Case) -> Result<(), String> {
    let request = invariants::borrow(&case.req);
    let upstream: Vec<(&str, &str)> = case.upstream.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let out: Outcome = simulate::run(config, &request, &upstream);
    match (&case.expect, &out.local_reply) {
        (Expect::Reply(status, want), Some((got_status, got))) => {
            if status != got_status || sorted(want) != sorted(got) {
                return Err(format!("reply {got_status} (want {status}): {}", header_diff(want, got)));
            }
        }
        (Expect::Upstream(want), None) => {
            if sorted(want) != sorted(&out.response_headers) {
                return Err(format!("upstream response: {}", header_diff(want, &out.response_headers)));
            }
        }
        (Expect::Reply(status, _), None) => return Err(format!("went upstream, want a local reply {status}")),
        (Expect::Upstream(_), Some((status, _))) => return Err(format!("local reply {status}, want upstream")),
    }
    if out.counters != case.counters {
        let names = |c: &[Counter]| c.iter().map(|c| c.name()).collect::<Vec<_>>();
        return Err(format!("counters {:?}, want {:?}", names(&out.counters), names(&case.counters)));
    }
    let reflect = |o: &str| may_reflect(&case.config, o).unwrap_or(false);
    invariants::check(&request, &out, &reflect).map_err(|e| format!("invariant: {}", e.replace('\n', " ")))
}

fn attack_cases(filter: &Filter, report: &mut Report) -> Result<usize, String> {
    let table: Table = serde_json::from_str(CASES).map_err(|e| format!("attacks/cases.json: {e}"))?;
    let mut configs = HashMap::new();
    for (name, json) in &table.configs {
        let config = Config::from_json(json.get()).map_err(|e| format!("config {name}: {e}"))?;
        if may_reflect(name, "https://example.com").is_none() {
            return Err(format!("config {name}: `may_reflect` has no model of it"));
        }
        configs.insert(name.clone(), Rc::new(config));
    }
    let total = table.cases.len();
    if total < MIN_CASES {
        return Err(format!("attacks/cases.json holds {total} cases, fewer than {MIN_CASES}"));
    }
    let mut names = HashSet::new();
    let mut used = HashSet::new();
    for mut data in table.cases {
        let name = std::mem::take(&mut data.name);
        if !names.insert(name.clone()) {
            return Err(format!("two cases are named {name:?}"));
        }
        let case = case(data).map_err(|e| format!("case {name:?}: {e}"))?;
        let config = configs.get(&case.config).ok_or_else(|| format!("case {name:?}: no config {}", case.config))?;
        used.insert(case.config.clone());
        if filter.list {
            println!("{name}: test");
        } else if filter.selects(&name) {
            report.line(&name, run_case(config.clone(), &case));
        }
    }
    if let Some(unused) = configs.keys().find(|c| !used.contains(*c)) {
        return Err(format!("config {unused} is used by no case"));
    }
    Ok(total)
}

fn refused(entry: &Refused) -> Result<(), String> {
    let errors = match Config::from_json(entry.config.get()) {
        Ok(_) => return Err("accepted".into()),
        Err(e) => e,
    };
    for e in &errors {
        let line = e.to_string();
        if line.contains(['\n', '\r']) {
            return Err(format!("not one line: {line:?}"));
        }
    }
    // Every refusal is reported; the entry names the one it is about (by key), else the first.
    let e = match &entry.key {
        Some(key) => errors.iter().find(|e| e.key == *key),
        None => errors.first(),
    }
    .ok_or_else(|| format!("want key {:?}, got {errors}", entry.key))?;
    let line = e.to_string();
    if let Some(key) = &entry.key {
        if !line.contains(&format!("`{key}`")) {
            return Err(format!("want key {key}, got {line}"));
        }
    }
    if format!("{:?}", e.rule) != entry.rule {
        return Err(format!("want rule {}, got {:?}: {line}", entry.rule, e.rule));
    }
    if !line.contains(&entry.words) {
        return Err(format!("want {:?} in {line}", entry.words));
    }
    if entry.value.is_some() && e.value != entry.value {
        return Err(format!("want value {:?}, got {:?}", entry.value, e.value));
    }
    Ok(())
}

fn refused_configs(filter: &Filter, report: &mut Report) -> Result<usize, String> {
    let table: Vec<Refused> =
        serde_json::from_str(REFUSED).map_err(|e| format!("attacks/refused_configs.json: {e}"))?;
    if table.len() < MIN_REFUSED {
        return Err(format!("attacks/refused_configs.json holds {} entries, fewer than {MIN_REFUSED}", table.len()));
    }
    let mut seen = HashSet::new();
    for entry in &table {
        let json = entry.config.get();
        if !seen.insert(json) {
            return Err(format!("refused twice: {json}"));
        }
        let name = match &entry.key {
            Some(key) => format!("refused {json} ({key}: {:?})", entry.words),
            None => format!("refused {json}"),
        };
        if filter.list {
            println!("{name}: test");
        } else if filter.selects(&name) {
            report.line(&name, refused(entry));
        }
    }
    Ok(table.len())
}

fn loading_configs(filter: &Filter, report: &mut Report) -> Result<usize, String> {
    let table: Vec<Box<RawValue>> =
        serde_json::from_str(LOADING).map_err(|e| format!("attacks/loading_configs.json: {e}"))?;
    if table.len() < MIN_LOADING {
        return Err(format!("attacks/loading_configs.json holds {} entries, fewer than {MIN_LOADING}", table.len()));
    }
    for json in &table {
        let name = format!("loads {}", json.get());
        if filter.list {
            println!("{name}: test");
        } else if filter.selects(&name) {
            report.line(&name, Config::from_json(json.get()).map(drop).map_err(|e| e.to_string()));
        }
    }
    Ok(table.len())
}

fn main() -> ExitCode {
    let filter = Filter::from_args();
    let mut report = Report::default();
    let mut broken = Vec::new();
    let mut sizes = Vec::new();
    type Table = fn(&Filter, &mut Report) -> Result<usize, String>;
    let tables: [(&str, Table); 3] =
        [("attack cases", attack_cases), ("refused configs", refused_configs), ("loading configs", loading_configs)];
    for (what, run) in tables {
        match run(&filter, &mut report) {
            Ok(n) => sizes.push(format!("{n} {what}")),
            Err(e) => broken.push(format!("{what}: {e}")),
        }
    }
    if filter.list {
        return ExitCode::SUCCESS;
    }
    println!("\n{} run, {} failed (tables: {})", report.run, report.failed, sizes.join(", "));
    for e in &broken {
        println!("BROKEN TABLE: {e}");
    }
    if report.failed > 0 || !broken.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
