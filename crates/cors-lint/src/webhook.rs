//! `cors-lint webhook`: the admission guard as a Kubernetes validating webhook. HTTPS from a
//! certificate and key (rustls, ring provider; the files are re-read when they change, as
//! cert-manager rotates them), or plain HTTP on a loopback address only (tests). One request per
//! connection, bounded in size, time and concurrency; the decision is `cors_lint::admission`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use cors_lint::admission;

use super::{UsageError, EXIT_OK};

const USAGE: &str = "\
cors-lint webhook --listen ADDR (--tls-cert FILE --tls-key FILE | --plain-http) [--max-connections N]

Serves a Kubernetes validating admission webhook (AdmissionReview v1) at POST /validate: a
WasmPlugin, EnvoyExtensionPolicy or EnvoyFilter carrying this plugin's configuration is checked
with the plugin's loader and denied with the lines `cors-lint validate` prints; other objects
are allowed. GET /healthz answers 200 (probes).

--listen ADDR        address and port, e.g. 0.0.0.0:8443 (port 0: any free port, printed)
--tls-cert FILE      PEM certificate chain; with --tls-key, HTTPS (re-read when the file changes)
--tls-key FILE       PEM private key
--plain-http         plain HTTP, refused unless ADDR is a loopback address (tests only)
--max-connections N  connections served at once, the rest refused (default 64)";

/// Largest request accepted: Kubernetes objects are at most ~1.5 MiB, an AdmissionReview can
/// carry the old and the new one.
const MAX_BODY: usize = 4 << 20;
/// Largest request head (request line and headers).
const MAX_HEAD: usize = 16 << 10;
/// A client that sends nothing for this long is dropped.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

struct Args {
    listen: SocketAddr,
    tls: Option<(PathBuf, PathBuf)>,
    max_connections: usize,
}

fn parse(parser: &mut lexopt::Parser) -> Result<Option<Args>, UsageError> {
    use lexopt::prelude::*;
    let (mut listen, mut cert, mut key, mut plain, mut max) = (None, None, None, false, 64usize);
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => {
                println!("{USAGE}");
                return Ok(None);
            }
            Long("listen") => {
                let v = parser.value()?.string()?;
                listen = Some(v.parse::<SocketAddr>().map_err(|e| UsageError(format!("--listen {v:?}: {e}")))?);
            }
            Long("tls-cert") => cert = Some(PathBuf::from(parser.value()?)),
            Long("tls-key") => key = Some(PathBuf::from(parser.value()?)),
            Long("plain-http") => plain = true,
            Long("max-connections") => {
                let v = parser.value()?.string()?;
                max =
                    v.parse().ok().filter(|n| *n > 0).ok_or_else(|| UsageError(format!("--max-connections {v:?}")))?;
            }
            other => return Err(other.unexpected().into()),
        }
    }
    let listen = listen.ok_or_else(|| UsageError("webhook: --listen ADDR is required".into()))?;
    let tls = match (cert, key, plain) {
        (Some(c), Some(k), false) => Some((c, k)),
        (None, None, true) if listen.ip().is_loopback() => None,
        (None, None, true) => {
            return Err(UsageError(format!(
                "webhook: --plain-http is refused on {}: only a loopback address may serve plain HTTP (the API \
                 server calls webhooks over TLS); give --tls-cert and --tls-key",
                listen.ip()
            )))
        }
        (_, _, true) => return Err(UsageError("webhook: --plain-http or --tls-cert/--tls-key, not both".into())),
        _ => {
            return Err(UsageError(
                "webhook: give --tls-cert FILE and --tls-key FILE (or --plain-http on loopback)".into(),
            ))
        }
    };
    Ok(Some(Args { listen, tls, max_connections: max }))
}

pub fn command(parser: &mut lexopt::Parser) -> Result<u8, UsageError> {
    let Some(args) = parse(parser)? else { return Ok(EXIT_OK) };
    let certs = match &args.tls {
        Some((cert, key)) => Some(Arc::new(Certs::load(cert.clone(), key.clone()).map_err(UsageError)?)),
        None => None,
    };
    let listener = TcpListener::bind(args.listen).map_err(|e| UsageError(format!("--listen {}: {e}", args.listen)))?;
    let local = listener.local_addr().map_err(|e| UsageError(e.to_string()))?;
    let scheme = if certs.is_some() { "https" } else { "http" };
    println!("cors-lint webhook: listening on {scheme}://{local}/validate");
    let _ = std::io::stdout().flush();
    let active = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        let Ok(tcp) = conn else { continue };
        if active.fetch_add(1, Ordering::SeqCst) >= args.max_connections {
            active.fetch_sub(1, Ordering::SeqCst);
            drop(tcp);
            continue;
        }
        let (active, certs) = (Arc::clone(&active), certs.clone());
        let spawned = std::thread::Builder::new().name("webhook-conn".into()).spawn(move || {
            serve(tcp, certs.as_deref());
            active.fetch_sub(1, Ordering::SeqCst);
        });
        if spawned.is_err() {
            eprintln!("cors-lint webhook: cannot start a thread; connection dropped");
        }
    }
    Ok(EXIT_OK)
}

/// The certificate and key, re-read when the certificate file's modification time changes.
struct Certs {
    cert: PathBuf,
    key: PathBuf,
    current: Mutex<(Option<SystemTime>, Arc<ServerConfig>)>,
}

impl Certs {
    fn load(cert: PathBuf, key: PathBuf) -> Result<Certs, String> {
        let config = server_config(&cert, &key)?;
        let mtime = std::fs::metadata(&cert).and_then(|m| m.modified()).ok();
        Ok(Certs { cert, key, current: Mutex::new((mtime, config)) })
    }

    fn config(&self) -> Option<Arc<ServerConfig>> {
        let mut current = self.current.lock().ok()?;
        let mtime = std::fs::metadata(&self.cert).and_then(|m| m.modified()).ok();
        if mtime != current.0 {
            match server_config(&self.cert, &self.key) {
                Ok(config) => *current = (mtime, config),
                // Mid-rotation (a new certificate with the old key): keep serving the old pair.
                Err(e) => eprintln!("cors-lint webhook: keeping the previous certificate: {e}"),
            }
        }
        Some(Arc::clone(&current.1))
    }
}

fn server_config(cert: &std::path::Path, key: &std::path::Path) -> Result<Arc<ServerConfig>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect())
        .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("--tls-cert {}: no certificate in the file", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("--tls-key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("--tls-cert/--tls-key: {e}"))?;
    Ok(Arc::new(config))
}

fn serve(tcp: TcpStream, certs: Option<&Certs>) {
    let _ = tcp.set_read_timeout(Some(IO_TIMEOUT));
    let _ = tcp.set_write_timeout(Some(IO_TIMEOUT));
    match certs {
        None => exchange(tcp),
        Some(certs) => {
            let Some(conn) = certs.config().and_then(|c| ServerConnection::new(c).ok()) else { return };
            exchange(StreamOwned::new(conn, tcp));
        }
    }
}

/// One request, one response, then the connection closes.
fn exchange(mut stream: impl Read + Write) {
    let (status, content_type, body) = match read_request(&mut stream) {
        Ok(request) => route(&request),
        Err((status, message)) => (status, "text/plain", message.into_bytes()),
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&body)).and_then(|()| stream.flush());
}

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

fn route(r: &Request) -> (u16, &'static str, Vec<u8>) {
    let path = r.path.split('?').next().unwrap_or_default();
    match (r.method.as_str(), path) {
        ("POST", "/validate") => match admission::review(&r.body) {
            Ok(review) => (200, "application/json", review.to_string().into_bytes()),
            Err(bad) => (bad.status, "text/plain", format!("{}\n", bad.message).into_bytes()),
        },
        ("GET", "/healthz") => (200, "text/plain", b"ok\n".to_vec()),
        (_, "/validate" | "/healthz") => (405, "text/plain", b"method not allowed\n".to_vec()),
        _ => (404, "text/plain", b"not found: POST /validate\n".to_vec()),
    }
}

fn read_request(stream: &mut impl Read) -> Result<Request, (u16, String)> {
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    let (method, path, head_len, content_length) = loop {
        let n = stream.read(&mut chunk).map_err(|e| (400, format!("reading the request: {e}\n")))?;
        if n == 0 {
            return Err((400, "incomplete request\n".into()));
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(len)) if len > MAX_HEAD => {
                return Err((400, "request head too large\n".into()))
            }
            Ok(httparse::Status::Complete(len)) => {
                let mut content_length = 0usize;
                for h in req.headers.iter() {
                    if h.name.eq_ignore_ascii_case("content-length") {
                        content_length = std::str::from_utf8(h.value)
                            .ok()
                            .and_then(|v| v.trim().parse().ok())
                            .ok_or((400, "invalid content-length\n".to_owned()))?;
                    } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                        return Err((400, "send a content-length, not a transfer-encoding\n".into()));
                    }
                }
                break (
                    req.method.unwrap_or_default().to_owned(),
                    req.path.unwrap_or_default().to_owned(),
                    len,
                    content_length,
                );
            }
            Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD => continue,
            Ok(httparse::Status::Partial) => return Err((400, "request head too large\n".into())),
            Err(e) => return Err((400, format!("malformed request: {e}\n"))),
        }
    };
    if content_length > MAX_BODY {
        return Err((413, format!("body larger than {MAX_BODY} bytes\n")));
    }
    let mut body = buf.split_off(head_len.min(buf.len()));
    if body.len() > content_length {
        body.truncate(content_length);
    }
    while body.len() < content_length {
        let n = stream.read(&mut chunk).map_err(|e| (400, format!("reading the body: {e}\n")))?;
        if n == 0 {
            return Err((400, "body shorter than its content-length\n".into()));
        }
        let want = (content_length - body.len()).min(n);
        body.extend_from_slice(chunk.get(..want).unwrap_or_default());
    }
    Ok(Request { method, path, body })
}
