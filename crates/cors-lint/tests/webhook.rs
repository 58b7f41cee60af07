//! `cors-lint webhook` end to end: the built binary serving real `AdmissionReview` requests over
//! plain HTTP on loopback and over TLS. Every configuration of the refused-config table
//! (tests/attacks/refused_configs.json) wrapped in a WasmPlugin is denied with the plugin's own
//! words; every manifest of examples/ is allowed; malformed requests get a clear 4xx and the
//! server lives on; a bounded load test prints its figures.
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_cors-lint");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The webhook process, killed by pid on drop.
struct Webhook {
    child: Child,
    port: u16,
}

impl Webhook {
    fn start(args: &[&str]) -> Webhook {
        let mut child = Command::new(BIN)
            .arg("webhook")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().rsplit(':').next().unwrap().trim_end_matches("/validate").parse().unwrap();
        Webhook { child, port }
    }

    fn assert_alive(&mut self) {
        assert!(self.child.try_wait().unwrap().is_none(), "the webhook exited");
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends raw bytes, reads the whole answer (the server closes): (status, body).
fn exchange(mut stream: impl Read + Write, request: &[u8]) -> (u16, String) {
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

fn post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nhost: webhook\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn send(port: u16, request: &[u8]) -> (u16, String) {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    exchange(stream, request)
}

fn review_of(object: &Value, uid: &str) -> Vec<u8> {
    let kind = object["kind"].as_str().unwrap_or_default();
    let api = object["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api.split_once('/').unwrap_or(("", api));
    json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": uid, "kind": {"group": group, "version": version, "kind": kind},
            "operation": "CREATE", "namespace": object["metadata"]["namespace"], "object": object
        }
    })
    .to_string()
    .into_bytes()
}

fn wasm_plugin(config: &Value) -> Value {
    json!({
        "apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
        "metadata": {"name": "cors", "namespace": "istio-system"},
        "spec": {"url": "oci://registry.example/envoy-cors:v0.1.0", "pluginConfig": config}
    })
}

fn verdict(port: u16, object: &Value, uid: &str) -> (bool, String) {
    let (status, body) = send(port, &post("/validate", &review_of(object, uid)));
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(v["response"]["uid"], uid, "{body}");
    (v["response"]["allowed"].as_bool().unwrap(), v["response"]["status"]["message"].as_str().unwrap_or("").to_owned())
}

#[test]
fn denies_every_refused_configuration_and_allows_the_examples() {
    let webhook = Webhook::start(&["--plain-http"]);
    let table = std::fs::read_to_string(root().join("tests/attacks/refused_configs.json")).unwrap();
    let (mut denied, mut textual) = (0, 0);
    for (i, line) in table.lines().filter(|l| l.trim_start().starts_with('{')).enumerate() {
        let case: Value = serde_json::from_str(line.trim_end_matches(',')).unwrap();
        // The table's configurations are JSON objects; one written as a string (raw JSON text)
        // cannot be a pluginConfig mapping and is checked as the plugin reads it elsewhere.
        let Some(config) = case["config"].as_object() else { continue };
        let object = wasm_plugin(&Value::Object(config.clone()));
        let (allowed, message) = verdict(webhook.port, &object, &format!("u{i}"));
        // A refusal that lives in the JSON text (a duplicate key) cannot reach the API server,
        // which stores decoded objects: there the webhook agrees with the plugin on the object.
        if cors_engine::Config::from_json(&Value::Object(config.clone()).to_string()).is_ok() {
            assert!(allowed, "{line}\n{message}");
            textual += 1;
            continue;
        }
        assert!(!allowed, "allowed: {line}");
        if let Some(key) = case["key"].as_str() {
            assert!(message.contains(&format!("`{key}`")), "{line}\n{message}");
        }
        if let Some(words) = case["words"].as_str() {
            assert!(message.contains(words), "{line}\n{message}");
        }
        assert!(
            message.starts_with("WasmPlugin istio-system/cors spec.pluginConfig: invalid CORS configuration: "),
            "{message}"
        );
        denied += 1;
    }
    assert!(denied >= 40 && textual <= 3, "{denied} denied, {textual} only refusable as text");
    eprintln!("refused-config table: {denied} denied through the webhook, {textual} refusable only as JSON text");

    let mut allowed = 0;
    for dir in ["examples/istio", "examples/envoy-gateway"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for doc in cors_lint::kube_yaml::documents(&text).unwrap() {
                if cors_lint::admission::KINDS.contains(&doc.value["kind"].as_str().unwrap_or_default()) {
                    let (ok, message) = verdict(webhook.port, &doc.value, "example");
                    assert!(ok, "{message}");
                    allowed += 1;
                }
            }
        }
    }
    assert!(allowed >= 5, "{allowed}");
}

#[test]
fn envoy_filters_and_envoy_extension_policies_are_judged_too() {
    let webhook = Webhook::start(&["--plain-http"]);
    let envoy_filter = json!({
        "apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
        "metadata": {"name": "cors", "namespace": "istio-system"},
        "spec": {"configPatches": [{"applyTo": "HTTP_FILTER", "patch": {"operation": "INSERT_BEFORE", "value": {
            "name": "envoy.filters.http.wasm",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm", "config": {
                "root_id": "cors",
                "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                                  "value": "{\"allow_origins\":[\"https://a.example/\"]}"}
            }}
        }}}]}
    });
    let (allowed, message) = verdict(webhook.port, &envoy_filter, "ef");
    assert!(!allowed && message.contains("`allow_origins[0]` = \"https://a.example/\""), "{message}");
    let eep = json!({
        "apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "EnvoyExtensionPolicy",
        "metadata": {"name": "p", "namespace": "gw"},
        "spec": {"wasm": [{"name": "cors", "code": {"type": "Image", "image": {"url": "oci://x/cors:v1"}},
                           "config": {"allow_origins": ["https://a.example"], "mode": false}}]}
    });
    let (allowed, message) = verdict(webhook.port, &eep, "eep");
    assert!(!allowed && message.contains("quote it"), "{message}");
    // Another plugin's WasmPlugin and other kinds pass.
    let other = json!({"apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
        "metadata": {"name": "auth"}, "spec": {"url": "oci://x/authz:v1", "pluginConfig": {"rules": [1]}}});
    assert!(verdict(webhook.port, &other, "other").0);
}

#[test]
fn malformed_requests_get_a_clear_answer_and_the_server_lives_on() {
    let mut webhook = Webhook::start(&["--plain-http"]);
    let port = webhook.port;
    // A silent client holds one connection; the others are still served.
    let _silent = TcpStream::connect(("127.0.0.1", port)).unwrap();
    for (request, status) in [
        (post("/validate", b"{"), 400),
        (post("/validate", b"\x00\xff garbage"), 400),
        (post("/validate", br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#), 400),
        (
            post(
                "/validate",
                br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"a"}}"#,
            ),
            400,
        ),
        (post("/other", b"{}"), 404),
        (b"GET /validate HTTP/1.1\r\nhost: x\r\n\r\n".to_vec(), 405),
        (b"POST /validate HTTP/1.1\r\ncontent-length: 99999999999\r\n\r\n".to_vec(), 413),
        (b"POST /validate HTTP/1.1\r\ncontent-length: nope\r\n\r\n".to_vec(), 400),
        (b"POST /validate HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(), 400),
        (b"NOT HTTP AT ALL\r\n\r\n".to_vec(), 400),
        (format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(20_000)).into_bytes(), 400),
        (b"POST /validate HTTP/1.1\r\ncontent-length: 100\r\n\r\n{\"short\"".to_vec(), 400),
    ] {
        let (got, body) = send(port, &request);
        assert_eq!(got, status, "{}: {body}", String::from_utf8_lossy(&request[..request.len().min(60)]));
        assert!(!body.is_empty());
    }
    // A review of a judged kind without an object: denied, with why.
    let no_object = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"n","kind":{"kind":"WasmPlugin"},"operation":"UPDATE"}}"#;
    let (status, body) = send(port, &post("/validate", no_object));
    assert_eq!(status, 200);
    assert!(body.contains(r#""allowed":false"#) && body.contains("no object"), "{body}");
    assert_eq!(send(port, b"GET /healthz HTTP/1.1\r\n\r\n").0, 200);
    webhook.assert_alive();
}

#[test]
fn plain_http_is_refused_off_loopback() {
    let out = Command::new(BIN).args(["webhook", "--listen", "0.0.0.0:0", "--plain-http"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--plain-http is refused on 0.0.0.0"));
    let out = Command::new(BIN).args(["webhook", "--listen", "127.0.0.1:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "no TLS and no --plain-http");
}

#[test]
fn serves_over_tls_from_a_certificate_and_key() {
    let dir = std::env::temp_dir().join(format!("cors-webhook-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=cors-webhook", "-addext", "subjectAltName=DNS:cors-webhook,IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "openssl could not make a test certificate");
    let mut webhook = Webhook::start(&["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);

    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(&cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("cors-webhook").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", webhook.port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let bad = wasm_plugin(&json!({"allow_origins": ["*"], "allow_credentials": true}));
    let (status, body) = exchange(rustls::StreamOwned::new(conn, tcp), &post("/validate", &review_of(&bad, "tls")));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""allowed":false"#) && body.contains("allow_origins[0]"), "{body}");
    // Plain HTTP to the TLS port: no answer, no crash.
    let (status, _) = send(webhook.port, &post("/validate", b"{}"));
    assert_eq!(status, 0);
    webhook.assert_alive();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Bounded load: 8 clients x 250 reviews (half refused), 60 s at most; every answer right,
/// figures printed (not asserted: timing is the machine's).
#[test]
fn load_is_answered_right_and_bounded() {
    let mut webhook = Webhook::start(&["--plain-http"]);
    let port = webhook.port;
    let good = Arc::new(review_of(&wasm_plugin(&json!({"allow_origins": ["https://a.example"]})), "g"));
    let bad = Arc::new(review_of(&wasm_plugin(&json!({"allow_origins": ["https://a.example/"]})), "b"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let started = Instant::now();
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (good, bad) = (Arc::clone(&good), Arc::clone(&bad));
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                for i in 0..250 {
                    if Instant::now() > deadline {
                        break;
                    }
                    let refused = (i + w) % 2 == 0;
                    let t = Instant::now();
                    let (status, body) = send(port, &post("/validate", if refused { &bad } else { &good }));
                    latencies.push(t.elapsed());
                    assert_eq!(status, 200, "{body}");
                    assert_eq!(body.contains(r#""allowed":true"#), !refused, "{body}");
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    let elapsed = started.elapsed();
    latencies.sort();
    assert_eq!(latencies.len(), 2000, "the 60 s bound was hit");
    let p = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    eprintln!(
        "webhook load: {} reviews in {:.2?} ({:.0}/s, 8 clients, one connection each), p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        latencies.len(),
        elapsed,
        latencies.len() as f64 / elapsed.as_secs_f64(),
        p(0.5),
        p(0.99),
        latencies[latencies.len() - 1]
    );
    webhook.assert_alive();
}
