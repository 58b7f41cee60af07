//! Issue 3 "Faults, reloads": Envoy reads its listeners from a file (filesystem xDS). An update
//! whose plugin configuration is invalid is rejected (`update_rejected` grows) while the old
//! policy keeps serving every request; then a valid update takes effect.
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::json;
use std::thread;
use std::time::Duration;
use testkit::prelude::*;

const V1_ORIGIN: &str = "https://v1.example";
const V2_ORIGIN: &str = "https://v2.example";

fn listener(plugin: serde_json::Value, port: u16) -> ListenerSpec {
    ListenerSpec::new("main", &plugin.to_string(), "upstream").port(port)
}

fn acao(r: &Response) -> Option<String> {
    r.one("access-control-allow-origin")
}

fn allowed_by(port: u16, origin: &str) -> bool {
    let r = Request::preflight("/", origin, "PUT", None).send(port);
    r.assert_well_formed();
    r.status == 204 && acao(&r).as_deref() == Some(origin)
}

#[test]
fn invalid_update_is_rejected_old_policy_keeps_serving_then_valid_update_applies() {
    let up = Upstream::ok();
    let dir = TempDir::new("lds");
    let lds = dir.path().join("listeners.yaml");
    let port = free_port();
    let v1 = json!({ "allow_origins": [V1_ORIGIN], "allow_methods": ["PUT"] });
    atomic_write(&lds, &lds_document("1", &[listener(v1, port)]));
    let envoy = Envoy::start(&EnvoyConfig::new().cluster("upstream", up.port).lds(&lds));
    assert!(
        envoy.wait_for(Duration::from_secs(10), |_| Request::get("/").try_send(port).is_ok()),
        "LDS listener never came up\n{}",
        envoy.log()
    );
    assert!(allowed_by(port, V1_ORIGIN), "v1 policy not in force\n{}", envoy.log());
    assert!(!allowed_by(port, V2_ORIGIN));
    let rejected0 = envoy.counter_opt("lds.update_rejected").unwrap_or(0);
    let success0 = envoy.counter("lds.update_success");

    // 1. invalid plugin configuration: rejected, v1 keeps serving every request
    let load = Load::start(port, V1_ORIGIN, |preflight, r| {
        r.status == if preflight { 204 } else { 200 }
            && r.one("access-control-allow-origin").as_deref() == Some(V1_ORIGIN)
    });
    thread::sleep(Duration::from_millis(300));
    let invalid = json!({ "allow_origins": ["*"], "allow_credentials": true, "allow_methods": ["PUT"] });
    atomic_write(&lds, &lds_document("2", &[listener(invalid, port)]));
    let rejected =
        envoy.wait_for(Duration::from_secs(15), |e| e.counter_opt("lds.update_rejected").unwrap_or(0) > rejected0);
    thread::sleep(Duration::from_millis(500));
    let (n, bad) = load.finish();
    assert!(
        rejected,
        "listener_manager.lds.update_rejected did not grow after an invalid plugin config\n{}",
        envoy.log()
    );
    assert!(
        envoy.log().lines().any(|l| l.contains("[error]") && l.contains(artifact().log_marker())),
        "the plugin did not log why it refused the update\n{}",
        envoy.log()
    );
    assert!(n > 10, "load loop sent only {n} requests");
    assert!(
        bad.is_empty(),
        "{} of {n} requests failed or changed during the rejected update:\n{}",
        bad.len(),
        bad.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
    );
    assert_eq!(envoy.counter("lds.update_success"), success0);
    assert!(allowed_by(port, V1_ORIGIN), "v1 policy lost after the rejected update");

    // 2. valid update: takes effect; no transport error while the listener is replaced
    let load = Load::start(port, V2_ORIGIN, |_, r| matches!(r.status, 200 | 204 | 403));
    let v3 = json!({ "allow_origins": [V2_ORIGIN], "allow_methods": ["PUT"] });
    atomic_write(&lds, &lds_document("3", &[listener(v3, port)]));
    let applied = envoy.wait_for(Duration::from_secs(15), |_| allowed_by(port, V2_ORIGIN));
    thread::sleep(Duration::from_millis(300));
    let (n, bad) = load.finish();
    assert!(applied, "the valid update never took effect\n{}", envoy.log());
    assert!(envoy.counter("lds.update_success") > success0);
    assert!(!allowed_by(port, V1_ORIGIN), "v1 origin still allowed after the update");
    assert!(
        bad.is_empty(),
        "{} of {n} requests failed during the valid update:\n{}",
        bad.len(),
        bad.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
    );
}
