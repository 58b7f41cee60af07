//! The peers' own CORS tests, as data (`tests/peers/cases.json`), run in real Envoy three times:
//!
//! - `envoy`: Envoy's own filter (`envoy.filters.http.cors`), its `CorsPolicy` on each route as
//!   the source system generates it (Istio's `TranslateCORSPolicy`, Envoy Gateway's translator).
//!   Every case must meet the peer's own expectation: this checks the translation of each case,
//!   and backs the notes of `cors-lint convert` that describe the source ("Istio forwards...").
//! - `converted`: the plugin with the configuration `cors-lint convert` writes from the
//!   manifest exactly as the peer wrote it (`tests/peers/manifests/`). A manifest that `convert`
//!   refuses (`"convert": {"refused": ...}`) must be refused with those words; its cases do not
//!   run in this pass.
//! - `hand`: the plugin with the configuration a person writes for the same intent (`hand`).
//!
//! Every plugin run must meet the peer's expectation, except where a case says the plugin
//! differs on purpose (`plugin.differs`, citing the Fetch Standard): then it must meet
//! `plugin.expect` instead, whose fields replace the peer's (`headers` key by key, less the names
//! it wants absent).
//!
//! Format of `cases.json`: `suites`, each `{name, source, manifests, cases}`; a manifest is
//! `{file, envoy: {by, vhost?, routes: [{prefix, cors?}]}, hand, convert?}`; a case is `{name,
//! source, manifest, method, path, host?, headers: [[name, value]], expect, plugin?}`; an expectation is
//! `{status?: [allowed codes], headers?: {name: [allowed values]}, absent?: [names],
//! ignore_whitespace?}` (values compared case-sensitively, names case-insensitively, as the
//! peers' harnesses do). A positional argument runs only the cases whose name contains it.
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use serde::Deserialize;
use serde_json::{json, Value};
use testkit::prelude::*;

const BIN: &str = env!("CARGO_BIN_EXE_cors-lint");
/// Fewer cases than this means the table was truncated: lower it only when removing cases on purpose.
const MIN_CASES: usize = 46;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    suites: Vec<Suite>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Suite {
    name: String,
    /// `owner/repo@commit path`: where the cases come from.
    source: String,
    manifests: BTreeMap<String, Manifest>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    /// From the repository root (`tests/peers/manifests/...`, `tests/cors-lint/...`).
    file: String,
    envoy: EnvoyPolicy,
    /// The plugin configuration written by hand for the same intent.
    hand: Value,
    #[serde(default)]
    convert: Option<Refusal>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvoyPolicy {
    /// The code that generates this CorsPolicy (`owner/repo@commit path function`).
    by: String,
    /// The virtual host's CorsPolicy, which Envoy merges field by field under the route's.
    #[serde(default)]
    vhost: Option<Value>,
    routes: Vec<EnvoyRoute>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvoyRoute {
    prefix: String,
    #[serde(default)]
    cors: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Refusal {
    /// What `convert`'s refusal must say.
    refused: String,
    /// Why the plugin refuses it, citing the Fetch Standard.
    differs: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    /// The test (and its file, when not the suite's) the case translates.
    source: String,
    manifest: String,
    method: String,
    path: String,
    /// The `Host` (default `service.local`).
    #[serde(default)]
    host: Option<String>,
    headers: Vec<(String, String)>,
    expect: Expect,
    #[serde(default)]
    plugin: Option<Difference>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Difference {
    /// Why the plugin answers otherwise, citing the Fetch Standard.
    differs: String,
    /// The request the plugin gets instead (e.g. an origin with its scheme), when it differs.
    #[serde(default)]
    headers: Option<Vec<(String, String)>>,
    expect: Expect,
}

#[derive(Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
struct Expect {
    status: Option<Vec<u16>>,
    #[serde(default)]
    headers: BTreeMap<String, Vec<String>>,
    absent: Option<Vec<String>>,
    ignore_whitespace: Option<bool>,
}

impl Expect {
    /// `over`'s fields replace these (`headers` key by key; a name `over` wants absent is no
    /// longer expected).
    fn with(&self, over: &Expect) -> Expect {
        let mut headers = self.headers.clone();
        headers.extend(over.headers.clone());
        headers.retain(|name, _| !over.absent.iter().flatten().any(|a| a.eq_ignore_ascii_case(name)));
        Expect {
            status: over.status.clone().or_else(|| self.status.clone()),
            headers,
            absent: over.absent.clone().or_else(|| self.absent.clone()),
            ignore_whitespace: over.ignore_whitespace.or(self.ignore_whitespace),
        }
    }

    fn check(&self, r: &Response) -> Result<(), String> {
        if let Some(codes) = &self.status {
            if !codes.contains(&r.status) {
                return Err(format!("status {} not in {codes:?}", r.status));
            }
        }
        let squash = |s: &str| -> String {
            if self.ignore_whitespace.unwrap_or(false) {
                s.chars().filter(|c| !c.is_whitespace()).collect()
            } else {
                s.to_owned()
            }
        };
        for (name, allowed) in &self.headers {
            let got = r.all(name);
            let [one] = &got[..] else {
                return Err(format!("{name}: {got:?}, want one of {allowed:?}"));
            };
            if !allowed.iter().any(|a| squash(a) == squash(one)) {
                return Err(format!("{name}: {one:?}, want one of {allowed:?}"));
            }
        }
        for name in self.absent.iter().flatten() {
            if r.has(name) {
                return Err(format!("{name} present: {:?}", r.all(name)));
            }
        }
        Ok(())
    }
}

/// Which configuration answers: Envoy's filter, the converted one, the hand-written one.
#[derive(Clone, Copy, PartialEq)]
enum Run {
    Envoy,
    Converted,
    Hand,
}

impl Run {
    fn name(self) -> &'static str {
        match self {
            Run::Envoy => "envoy",
            Run::Converted => "converted",
            Run::Hand => "hand",
        }
    }
}

fn cors_filter() -> Value {
    json!({
        "name": "envoy.filters.http.cors",
        "typed_config": { "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors" }
    })
}

/// Envoy's filter with each route's CorsPolicy, as the source system configures it.
fn envoy_listener(name: &str, policy: &EnvoyPolicy) -> ListenerSpec {
    let per_filter = |cors: &Value| {
        let mut cors = cors.clone();
        cors["@type"] = json!("type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy");
        json!({ "envoy.filters.http.cors": cors })
    };
    let routes = policy
        .routes
        .iter()
        .map(|r| {
            let mut route = route(&r.prefix, "upstream");
            if let Some(cors) = &r.cors {
                route["typed_per_filter_config"] = per_filter(cors);
            }
            route
        })
        .collect();
    let listener = ListenerSpec::without_plugin(name, "upstream").filter_before(cors_filter()).routes(routes);
    match &policy.vhost {
        Some(cors) => listener.vhost(json!({ "typed_per_filter_config": per_filter(cors) })),
        None => listener,
    }
}

/// `cors-lint convert` on the manifest as the peer wrote it: the configuration, or the refusal.
fn convert(file: &str) -> Result<String, String> {
    let path = root().join(file);
    let out = Command::new(BIN).arg("convert").arg(&path).output().expect("cors-lint runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(stderr)
    }
}

#[derive(Default)]
struct Tally {
    /// Per run: cases that met the peer's expectation, that met the documented difference
    /// instead, that failed, that did not run (manifest refused by convert).
    met: [usize; 3],
    differ: [usize; 3],
    failed: [usize; 3],
    not_run: [usize; 3],
}

fn index(run: Run) -> usize {
    match run {
        Run::Envoy => 0,
        Run::Converted => 1,
        Run::Hand => 2,
    }
}

fn run_suite(suite: &Suite, run: Run, filter: &[String], tally: &mut Tally) -> Result<(), String> {
    let selected: Vec<&Case> =
        suite.cases.iter().filter(|c| filter.is_empty() || filter.iter().any(|f| c.name.contains(f))).collect();
    if selected.is_empty() {
        return Ok(());
    }
    let upstream = Upstream::with_headers(200, &[("x-upstream", "1")]);
    let mut cfg = EnvoyConfig::new().cluster("upstream", upstream.port);
    let mut refused = BTreeMap::new();
    for (name, m) in &suite.manifests {
        let listener = match run {
            Run::Envoy => {
                println!("# {}: Envoy's filter as {}", m.file, m.envoy.by);
                envoy_listener(name, &m.envoy)
            }
            Run::Hand => ListenerSpec::new(name, &m.hand.to_string(), "upstream"),
            Run::Converted => match (convert(&m.file), &m.convert) {
                (Ok(json), None) => ListenerSpec::new(name, &json, "upstream"),
                (Err(msg), Some(r)) if msg.contains(&r.refused) => {
                    println!("ok   [converted] {}: {}: refused as documented ({})", suite.name, m.file, r.differs);
                    refused.insert(name.clone(), ());
                    continue;
                }
                (Ok(json), Some(r)) => {
                    return Err(format!("{}: convert accepted it, want refused ({:?}):\n{json}", m.file, r.refused))
                }
                (Err(msg), _) => return Err(format!("{}: convert refused it:\n{msg}", m.file)),
            },
        };
        cfg = cfg.listener(listener);
    }
    let envoy = Envoy::start(&cfg);
    for case in selected {
        let i = index(run);
        let label = format!("[{}] {}: {}", run.name(), suite.name, case.name);
        if refused.contains_key(&case.manifest) {
            tally.not_run[i] += 1;
            println!("skip {label}: its manifest is refused by convert (documented)");
            continue;
        }
        let difference = case.plugin.as_ref().filter(|_| run != Run::Envoy);
        let headers = difference.and_then(|d| d.headers.as_ref()).unwrap_or(&case.headers);
        let mut request = Request::new(&case.method, &case.path);
        if let Some(host) = &case.host {
            request = request.host(host);
        }
        for (k, v) in headers {
            request = request.header(k, v);
        }
        let response = request.send(envoy.port(&case.manifest));
        let peer = case.expect.check(&response);
        let result: Result<(), String> = match (difference, peer) {
            (None, Ok(())) => {
                tally.met[i] += 1;
                println!("ok   {label}");
                continue;
            }
            (None, Err(e)) => Err(e),
            (Some(d), _) => match case.expect.with(&d.expect).check(&response) {
                Ok(()) => {
                    tally.differ[i] += 1;
                    println!("diff {label}: as documented ({})", d.differs);
                    continue;
                }
                Err(e) => Err(format!("documented difference not met: {e}")),
            },
        };
        if let Err(e) = result {
            tally.failed[i] += 1;
            println!("FAIL {label}: {e}\n  (from {})\n{}", case.source, response.dump());
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    // Positional arguments select cases; libtest's options (`--test-threads 2`, as `make test`
    // passes them) are accepted and ignored, with their values.
    let mut filter = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--list" => return ExitCode::SUCCESS,
            "--test-threads" | "--format" | "--color" | "--logfile" | "--skip" | "-Z" | "--shuffle-seed" => {
                args.next();
            }
            _ if a.starts_with('-') => {}
            _ => filter.push(a),
        }
    }
    let text = std::fs::read_to_string(root().join("tests/peers/cases.json")).expect("tests/peers/cases.json");
    let table: Table = match serde_json::from_str(&text) {
        Ok(t) => t,
        Err(e) => {
            println!("BROKEN TABLE: tests/peers/cases.json: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut broken = Vec::new();
    let total: usize = table.suites.iter().map(|s| s.cases.len()).sum();
    if total < MIN_CASES {
        broken.push(format!("{total} cases, fewer than {MIN_CASES}"));
    }
    for s in &table.suites {
        for c in &s.cases {
            if !s.manifests.contains_key(&c.manifest) {
                broken.push(format!("{}: {}: no manifest {}", s.name, c.name, c.manifest));
            }
            if c.plugin.as_ref().is_some_and(|d| !d.differs.contains("Fetch") && !d.differs.contains("RFC")) {
                broken.push(format!("{}: {}: a difference cites its standard section", s.name, c.name));
            }
        }
    }
    let mut tally = Tally::default();
    if broken.is_empty() {
        for run in [Run::Envoy, Run::Converted, Run::Hand] {
            for suite in &table.suites {
                println!("# {} ({}): {}", suite.name, run.name(), suite.source);
                if let Err(e) = run_suite(suite, run, &filter, &mut tally) {
                    broken.push(format!("{} [{}]: {e}", suite.name, run.name()));
                }
            }
        }
    }
    println!();
    for run in [Run::Envoy, Run::Converted, Run::Hand] {
        let i = index(run);
        println!(
            "{:>9}: {} met the peer's expectation, {} documented differences, {} not run (manifest refused), {} failed",
            run.name(),
            tally.met[i],
            tally.differ[i],
            tally.not_run[i],
            tally.failed[i]
        );
    }
    for b in &broken {
        println!("BROKEN: {b}");
    }
    // Envoy's own filter, configured as the source generates it, must meet every expectation.
    let envoy_differs = tally.differ[0] + tally.not_run[0];
    if !broken.is_empty() || tally.failed.iter().sum::<usize>() > 0 || envoy_differs > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
