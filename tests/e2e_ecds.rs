//! Issue 9 "ECDS, as istiod sends it": Envoy gets the plugin the way an Istio proxy gets a
//! WasmPlugin, by extension config discovery. The HTTP filter in the listener only names an
//! ECDS resource (`config_discovery`, `initial_fetch_timeout: 0s`, type URLs Wasm and RBAC, as
//! Istio builds it); the resource, a `TypedExtensionConfig` holding the Wasm filter, comes from a
//! watched file (filesystem xDS) that each update replaces atomically (temp file + rename).
//!
//! Counters are Envoy's `extension_config_discovery.http_filter.<resource>.*`.
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::{json, Value};
use std::path::PathBuf;
use std::thread;
use std::time::Duration;
use testkit::prelude::*;

/// The resource name istiod gives a WasmPlugin `cors` in `istio-system` (Istio <= 1.29 form).
const RES: &str = "extensions.istio.io/wasmplugin/istio-system.cors";
const V1_ORIGIN: &str = "https://v1.example";
const V2_ORIGIN: &str = "https://v2.example";

fn policy(origins: &[&str]) -> String {
    json!({ "allow_origins": origins, "allow_methods": ["PUT"] }).to_string()
}

/// The ECDS file with one plugin resource (`root_id` "cors", as `pluginName: cors` sets it).
fn doc(version: &str, origins: &[&str]) -> String {
    ecds_document(version, &[WasmResource::new(RES, &policy(origins)).root_id("cors").to_json()])
}

struct Ecds {
    // drop order: Envoy first, then its upstream, then the ECDS directory
    envoy: Envoy,
    up: Upstream,
    path: PathBuf,
    _dir: TempDir,
}

/// An Envoy whose listeners (each routing to one upstream) get the plugin from the ECDS file,
/// which holds `first` before Envoy starts. `hcm` adds HttpConnectionManager fields.
fn start(listeners: &[&str], first: &str, hcm: Option<Value>) -> Ecds {
    start_with_default(listeners, first, hcm, None)
}

/// Like `start`, with an Envoy `default_config` on the ECDS filter (Istio sets none).
fn start_with_default(listeners: &[&str], first: &str, hcm: Option<Value>, default_config: Option<Value>) -> Ecds {
    let up = Upstream::ok();
    let dir = TempDir::new("ecds");
    let path = dir.path().join("ecds.json");
    atomic_write(&path, first);
    let mut cfg = EnvoyConfig::new().cluster("upstream", up.port);
    for name in listeners {
        let mut filter = ecds_filter(RES, &path);
        if let Some(d) = &default_config {
            filter["config_discovery"]["default_config"] = d.clone();
        }
        let mut l = ListenerSpec::without_plugin(name, "upstream").filter_before(filter);
        if let Some(h) = &hcm {
            l = l.hcm(h.clone());
        }
        cfg = cfg.listener(l);
    }
    let envoy = Envoy::start(&cfg);
    Ecds { envoy, up, path, _dir: dir }
}

/// `extension_config_discovery.http_filter.<RES>.<stat>`; a missing stat fails the test.
fn ecds_stat(e: &Envoy, stat: &str) -> u64 {
    let name = format!("extension_config_discovery.http_filter.{RES}.{stat}");
    let stats = e.stats();
    stats.get(&name).copied().unwrap_or_else(|| {
        let mut known: Vec<&String> = stats.keys().filter(|n| n.starts_with("extension_config_discovery")).collect();
        known.sort();
        panic!("no stat {name}; ECDS stats: {known:#?}")
    })
}

fn version_text(e: &Envoy) -> String {
    let name = format!("extension_config_discovery.http_filter.{RES}.version_text");
    e.text_stat(&name).unwrap_or_else(|| panic!("no text readout {name}"))
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct Counts {
    update_attempt: u64,
    update_success: u64,
    update_rejected: u64,
    update_failure: u64,
    config_reload: u64,
    config_fail: u64,
    config_conflict: u64,
}

fn counts(e: &Envoy) -> Counts {
    Counts {
        update_attempt: ecds_stat(e, "update_attempt"),
        update_success: ecds_stat(e, "update_success"),
        update_rejected: ecds_stat(e, "update_rejected"),
        update_failure: ecds_stat(e, "update_failure"),
        config_reload: ecds_stat(e, "config_reload"),
        config_fail: ecds_stat(e, "config_fail"),
        config_conflict: ecds_stat(e, "config_conflict"),
    }
}

fn preflight(port: u16, origin: &str) -> Response {
    let r = Request::preflight("/", origin, "PUT", None).send(port);
    r.assert_well_formed();
    r
}

fn allowed_by(port: u16, origin: &str) -> bool {
    let r = preflight(port, origin);
    r.status == 204 && r.one("access-control-allow-origin").as_deref() == Some(origin)
}

/// The v1 policy answers: allowed preflight and actual request for V1, denied preflight for V2.
fn assert_v1_policy(port: u16) {
    let r = preflight(port, V1_ORIGIN);
    assert_eq!(r.status, 204, "{}", r.dump());
    assert_eq!(r.one("access-control-allow-origin").as_deref(), Some(V1_ORIGIN), "{}", r.dump());
    assert_eq!(r.one("access-control-allow-methods").as_deref(), Some("PUT"), "{}", r.dump());
    let r = Request::get("/").origin(V1_ORIGIN).send(port);
    r.assert_well_formed();
    assert_eq!(r.status, 200, "{}", r.dump());
    assert_eq!(r.one("access-control-allow-origin").as_deref(), Some(V1_ORIGIN), "{}", r.dump());
    let r = preflight(port, V2_ORIGIN);
    assert_eq!(r.status, 403, "{}", r.dump());
    r.assert_no_cors_headers();
}

/// Every response to V1 is the allowed answer (v1 policy, or any later one that keeps V1).
fn v1_allowed(preflight: bool, r: &Response) -> bool {
    r.status == if preflight { 204 } else { 200 } && r.one("access-control-allow-origin").as_deref() == Some(V1_ORIGIN)
}

/// A response to V2 is either the v1 answer (denied) or the v2 answer (allowed), never anything
/// else (no 5xx, no half-applied headers).
fn v2_either(preflight: bool, r: &Response) -> bool {
    let acao = r.one("access-control-allow-origin");
    if preflight {
        (r.status == 403 && r.cors_headers().is_empty()) || (r.status == 204 && acao.as_deref() == Some(V2_ORIGIN))
    } else {
        r.status == 200 && (acao.is_none() || acao.as_deref() == Some(V2_ORIGIN))
    }
}

fn assert_no_bad(what: &str, n: usize, bad: &[String]) {
    assert!(n > 10, "{what}: the load loop sent only {n} requests");
    assert!(
        bad.is_empty(),
        "{what}: {} of {n} requests failed or got an unexpected answer:\n{}",
        bad.len(),
        bad.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// (a) The first ECDS config is valid: the listener serves the policy. The resource has no
/// `root_id` (a WasmPlugin without `pluginName`): the plugin registers one root context and
/// does not read it.
#[test]
fn first_config_valid_is_served() {
    let first = ecds_document("1", &[WasmResource::new(RES, &policy(&[V1_ORIGIN])).to_json()]);
    let f = start(&["main"], &first, None);
    let port = f.envoy.port("main");
    assert_v1_policy(port);
    let r = Request::get("/").send(port);
    assert_eq!(r.status, 200, "{}", r.dump());
    assert!(r.vary_tokens().iter().any(|t| t.eq_ignore_ascii_case("origin")), "{}", r.dump());
    assert_eq!(
        counts(&f.envoy),
        Counts {
            update_attempt: 1,
            update_success: 1,
            update_rejected: 0,
            update_failure: 0,
            config_reload: 1,
            config_fail: 0,
            config_conflict: 0
        }
    );
    assert_eq!(version_text(&f.envoy), "1");
    assert_eq!(f.envoy.counter("cors.preflight_allowed"), 1);
    assert_eq!(f.envoy.counter("cors.preflight_denied_origin"), 1);
    assert_eq!(f.up.hits(), 2, "the upstream sees the two GETs, never a preflight");
}

/// (b) A valid update (a second allowed origin) takes effect while two load loops run: every
/// request from the origin both versions allow gets the allowed answer, every request from the
/// new origin gets the old or the new answer, none fails or is dropped.
#[test]
fn valid_update_applies_without_a_failed_request() {
    let f = start(&["main"], &doc("1", &[V1_ORIGIN]), None);
    let port = f.envoy.port("main");
    assert_v1_policy(port);
    let before = counts(&f.envoy);

    let load_v1 = Load::start(port, V1_ORIGIN, v1_allowed);
    let load_v2 = Load::start(port, V2_ORIGIN, v2_either);
    thread::sleep(Duration::from_millis(300));
    atomic_write(&f.path, &doc("2", &[V1_ORIGIN, V2_ORIGIN]));
    let applied = f.envoy.wait_for(Duration::from_secs(15), |_| allowed_by(port, V2_ORIGIN));
    thread::sleep(Duration::from_millis(300));
    let (n1, bad1) = load_v1.finish();
    let (n2, bad2) = load_v2.finish();
    assert!(applied, "the ECDS update never took effect\n{}", f.envoy.log());
    assert_no_bad("V1 (allowed before and after)", n1, &bad1);
    assert_no_bad("V2 (newly allowed)", n2, &bad2);
    assert!(allowed_by(port, V1_ORIGIN));
    let after = counts(&f.envoy);
    assert_eq!(
        after,
        Counts {
            update_attempt: before.update_attempt + 1,
            update_success: before.update_success + 1,
            config_reload: before.config_reload + 1,
            ..before
        }
    );
    assert_eq!(version_text(&f.envoy), "2");
    eprintln!("ecds valid update: {n1} + {n2} requests under load, none failed; {before:?} -> {after:?}");
}

/// (c) An update with one bad origin is rejected: `update_rejected` and `config_fail` grow, the
/// version stays, the plugin logs why, and the previous policy answers every request of a
/// continuous load. A later valid update still applies.
#[test]
fn invalid_update_is_rejected_and_previous_policy_keeps_answering() {
    let f = start(&["main"], &doc("1", &[V1_ORIGIN]), None);
    let port = f.envoy.port("main");
    assert_v1_policy(port);
    let before = counts(&f.envoy);

    let load = Load::start(port, V1_ORIGIN, v1_allowed);
    thread::sleep(Duration::from_millis(300));
    atomic_write(&f.path, &doc("2", &[V1_ORIGIN, "https://bad.example/"]));
    let rejected =
        f.envoy.wait_for(Duration::from_secs(15), |e| ecds_stat(e, "update_rejected") > before.update_rejected);
    thread::sleep(Duration::from_millis(500));
    let (n, bad) = load.finish();
    assert!(rejected, "update_rejected did not grow after an invalid plugin config\n{}", f.envoy.log());
    assert_no_bad("V1 during the rejected update", n, &bad);
    let after = counts(&f.envoy);
    assert_eq!(
        after,
        Counts {
            update_attempt: before.update_attempt + 1,
            update_rejected: before.update_rejected + 1,
            config_reload: before.config_reload + 1,
            config_fail: before.config_fail + 1,
            ..before
        },
        "counters after the rejected update"
    );
    assert_eq!(version_text(&f.envoy), "1", "the rejected version must not become current");
    // Measured with Envoy 1.40: the admin config dump of ECDS filters shows the *rejected*
    // resource and version, while the filter keeps serving version 1 (docs/istio.md warns).
    let dump: Value = serde_json::from_str(&f.envoy.admin("/config_dump?resource=ecds_filters")).unwrap();
    let entry = &dump["configs"][0];
    assert_eq!(entry["version_info"], "2", "{dump:#}");
    assert!(entry.to_string().contains("https://bad.example/"), "{dump:#}");
    let log = f.envoy.log();
    assert!(
        log.lines().any(|l| l.contains("[error]") && l.contains("wasm log") && l.contains("allow_origins[1]")),
        "the plugin did not log the key it refused\n{log}"
    );
    assert!(log.contains("Filesystem config update rejected"), "{log}");
    assert_v1_policy(port);
    eprintln!("ecds rejected update: {n} requests under load, none failed; {before:?} -> {after:?}");

    // the subscription keeps working: a valid update applies
    atomic_write(&f.path, &doc("3", &[V2_ORIGIN]));
    assert!(f.envoy.wait_for(Duration::from_secs(15), |_| allowed_by(port, V2_ORIGIN)), "{}", f.envoy.log());
    assert!(!allowed_by(port, V1_ORIGIN));
    assert_eq!(ecds_stat(&f.envoy, "update_success"), before.update_success + 1);
    assert_eq!(version_text(&f.envoy), "3");
}

/// (d) An Envoy that starts while the ECDS file holds an invalid plugin config (a new pod after
/// a bad WasmPlugin change): the config is rejected, the listener still becomes ready (the
/// rejection completes the listener's warming), and every request on it gets a 500 with an
/// empty body, no CORS header and the response flag NFCF (no filter config found); nothing
/// reaches the upstream. A fixed config then applies without a restart.
#[test]
fn start_with_invalid_config_serves_500_until_fixed() {
    let dir = TempDir::new("ecds-access");
    let access = dir.path().join("access.log");
    let hcm = json!({ "access_log": [ {
        "name": "envoy.access_loggers.file",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
            "path": access.to_string_lossy(),
            "log_format": { "text_format_source": { "inline_string": "%RESPONSE_CODE% %RESPONSE_CODE_DETAILS% %RESPONSE_FLAGS%\n" } }
        }
    } ] });
    let f = start(&["main"], &doc("1", &["https://bad.example/"]), Some(hcm));
    let port = f.envoy.port("main");
    assert_eq!(http_get(f.envoy.admin_port, "/ready").map(|(s, _)| s).ok(), Some(200));
    assert_eq!(
        counts(&f.envoy),
        Counts {
            update_attempt: 1,
            update_success: 0,
            update_rejected: 1,
            update_failure: 0,
            config_reload: 1,
            config_fail: 1,
            config_conflict: 0
        }
    );
    assert_eq!(version_text(&f.envoy), "");
    assert!(
        f.envoy.log().lines().any(|l| l.contains("[error]") && l.contains("allow_origins[0]")),
        "{}",
        f.envoy.log()
    );
    for req in [Request::preflight("/", V1_ORIGIN, "PUT", None), Request::get("/").origin(V1_ORIGIN), Request::get("/")]
    {
        let r = req.send(port);
        assert_eq!(r.status, 500, "{} {}\n{}", req.method, req.path, r.dump());
        assert!(r.body.is_empty(), "{}", r.dump());
        r.assert_no_cors_headers();
    }
    assert_eq!(f.up.hits(), 0, "a request reached the upstream without the filter");
    // Envoy flushes the access log file on a timer (10 s by default): wait for the first line.
    assert!(
        f.envoy.wait_for(Duration::from_secs(15), |_| {
            std::fs::read_to_string(&access).map(|s| s.lines().count() >= 1).unwrap_or(false)
        }),
        "access log not written"
    );
    let lines = std::fs::read_to_string(&access).unwrap();
    for l in lines.lines() {
        // NFCF: Envoy's response flag "no filter config found"
        assert_eq!(l.split_whitespace().collect::<Vec<_>>(), ["500", "NFCF"], "access log: {lines}");
    }
    eprintln!("ecds start with invalid config, access log:\n{lines}");

    // the fix arrives: served without a restart
    atomic_write(&f.path, &doc("2", &[V1_ORIGIN]));
    assert!(f.envoy.wait_for(Duration::from_secs(15), |_| allowed_by(port, V1_ORIGIN)), "{}", f.envoy.log());
    assert_v1_policy(port);
    assert_eq!(ecds_stat(&f.envoy, "update_success"), 1);
    assert_eq!(version_text(&f.envoy), "2");
}

/// Not what Istio does, for comparison: with an Envoy `default_config` on the ECDS filter (here
/// a deny-all RBAC), a rejected first config leaves the default in force instead of the 500.
#[test]
fn start_with_invalid_config_and_a_default_config_serves_the_default() {
    let deny_all = json!({ "@type": RBAC_HTTP_TYPE, "rules": {} });
    let f = start_with_default(&["main"], &doc("1", &["https://bad.example/"]), None, Some(deny_all));
    let port = f.envoy.port("main");
    assert_eq!(ecds_stat(&f.envoy, "update_rejected"), 1);
    let r = Request::get("/").origin(V1_ORIGIN).send(port);
    assert_eq!(r.status, 403, "{}", r.dump());
    assert_eq!(r.body_str(), "RBAC: access denied");
    assert_eq!(f.up.hits(), 0);
}

/// The rejection does not depend on the fail strategy: with `failure_policy` FAIL_OPEN or
/// FAIL_RELOAD (Istio's FAIL_OPEN, FAIL_RELOAD) an invalid plugin config is rejected the same
/// way, and requests get the same 500, never a pass-through without the plugin.
#[test]
fn invalid_config_is_rejected_whatever_the_failure_policy() {
    for policy_name in ["FAIL_OPEN", "FAIL_RELOAD"] {
        let bad = WasmResource::new(RES, &policy(&["https://bad.example/"])).failure_policy(policy_name);
        let f = start(&["main"], &ecds_document("1", &[bad.to_json()]), None);
        let port = f.envoy.port("main");
        assert_eq!(ecds_stat(&f.envoy, "update_rejected"), 1, "{policy_name}");
        assert_eq!(ecds_stat(&f.envoy, "update_success"), 0, "{policy_name}");
        let r = Request::get("/").origin(V1_ORIGIN).send(port);
        assert_eq!(r.status, 500, "{policy_name}\n{}", r.dump());
        r.assert_no_cors_headers();
        assert_eq!(f.up.hits(), 0, "{policy_name}: a request passed without the plugin");

        let good = WasmResource::new(RES, &policy(&[V1_ORIGIN])).failure_policy(policy_name);
        atomic_write(&f.path, &ecds_document("2", &[good.to_json()]));
        assert!(f.envoy.wait_for(Duration::from_secs(15), |_| allowed_by(port, V1_ORIGIN)), "{policy_name}");
        let bad = WasmResource::new(RES, &policy(&[V1_ORIGIN, "https://bad.example/"])).failure_policy(policy_name);
        atomic_write(&f.path, &ecds_document("3", &[bad.to_json()]));
        assert!(
            f.envoy.wait_for(Duration::from_secs(15), |e| ecds_stat(e, "update_rejected") == 2),
            "{policy_name}: invalid update not rejected"
        );
        assert_v1_policy(port);
        assert_eq!(version_text(&f.envoy), "2", "{policy_name}");
    }
}

fn v8_vms(e: &Envoy) -> (u64, u64) {
    (e.counter("wasm.envoy.wasm.runtime.v8.active"), e.counter("wasm.envoy.wasm.runtime.v8.created"))
}

/// (e) Two listeners whose HTTP filters name the same ECDS resource (one WasmPlugin on a
/// gateway with two ports): both serve the policy from one VM (as many V8 VMs as with one
/// listener), one subscription (counted once), and one update switches both.
#[test]
fn two_listeners_share_one_resource_and_one_vm() {
    let with_vm_id = |version: &str, origins: &[&str]| {
        ecds_document(version, &[WasmResource::new(RES, &policy(origins)).root_id("cors").vm_id("cors").to_json()])
    };
    let vms_one_listener = {
        let f = start(&["l1"], &with_vm_id("1", &[V1_ORIGIN]), None);
        assert_v1_policy(f.envoy.port("l1"));
        v8_vms(&f.envoy)
    };

    let f = start(&["l1", "l2"], &with_vm_id("1", &[V1_ORIGIN]), None);
    let (p1, p2) = (f.envoy.port("l1"), f.envoy.port("l2"));
    assert_ne!(p1, p2);
    assert_v1_policy(p1);
    assert_v1_policy(p2);
    let vms = v8_vms(&f.envoy);
    assert_eq!(vms, vms_one_listener, "(active, created) V8 VMs: two listeners vs one");
    assert_eq!(ecds_stat(&f.envoy, "update_success"), 1, "one subscription for both listeners");
    assert_eq!(f.envoy.counter("cors.preflight_allowed"), 2);

    atomic_write(&f.path, &with_vm_id("2", &[V2_ORIGIN]));
    assert!(
        f.envoy.wait_for(Duration::from_secs(15), |_| allowed_by(p1, V2_ORIGIN) && allowed_by(p2, V2_ORIGIN)),
        "{}",
        f.envoy.log()
    );
    assert!(!allowed_by(p1, V1_ORIGIN) && !allowed_by(p2, V1_ORIGIN));
    assert_eq!(ecds_stat(&f.envoy, "update_success"), 2);
    let vms_after = v8_vms(&f.envoy);
    assert_eq!(vms_after.0, vms.0, "active V8 VMs after the update");
    eprintln!("ecds two listeners: V8 VMs (active, created) one listener {vms_one_listener:?}, two {vms:?}, after update {vms_after:?}");
}

/// What pilot-agent substitutes when it cannot fetch the module (pkg/wasm/convert.go): with
/// FAIL_CLOSE (and FAIL_RELOAD) an RBAC filter with empty rules, which Envoy answers with 403
/// `RBAC: access denied` on every request, preflights included, nothing reaching the upstream;
/// with FAIL_OPEN an RBAC filter without rules, which lets everything through without the plugin
/// (no CORS header at all).
#[test]
fn module_fetch_failure_fallback_resources() {
    let deny = ecds_document("1", &[rbac_extension_config(RES, false)]);
    let f = start(&["main"], &deny, None);
    let port = f.envoy.port("main");
    for req in [Request::preflight("/", V1_ORIGIN, "PUT", None), Request::get("/").origin(V1_ORIGIN), Request::get("/")]
    {
        let r = req.send(port);
        assert_eq!(r.status, 403, "{}", r.dump());
        assert_eq!(r.body_str(), "RBAC: access denied", "{}", r.dump());
        r.assert_no_cors_headers();
    }
    assert_eq!(f.up.hits(), 0);
    assert_eq!(ecds_stat(&f.envoy, "update_success"), 1);

    atomic_write(&f.path, &ecds_document("2", &[rbac_extension_config(RES, true)]));
    assert!(
        f.envoy.wait_for(Duration::from_secs(15), |_| Request::get("/").send(port).status == 200),
        "{}",
        f.envoy.log()
    );
    let r = preflight(port, V1_ORIGIN);
    assert_eq!(r.status, 200, "FAIL_OPEN: the preflight goes to the upstream\n{}", r.dump());
    r.assert_no_cors_headers();
    let r = Request::get("/").origin(V1_ORIGIN).send(port);
    assert_eq!(r.status, 200);
    r.assert_no_cors_headers();
    assert!(f.up.requests().iter().any(|q| q.method == "OPTIONS"));
}
