//! A tiny in-test upstream server: records every request it sees and answers by a handler.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::http::find;

/// What the upstream saw.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl SeenRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What the upstream does with one request.
#[derive(Clone, Debug)]
pub enum Reply {
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Sleep, then respond (for route timeouts).
    Delay(Duration, Box<Reply>),
    /// Close the connection without answering (upstream reset).
    Reset,
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::status(200, &[])
    }

    pub fn status(status: u16, headers: &[(&str, &str)]) -> Reply {
        Reply::Respond {
            status,
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: "upstream body\n".to_string(),
        }
    }
}

type Handler = dyn Fn(&SeenRequest) -> Reply + Send + Sync;

/// A small HTTP/1.1 server on 127.0.0.1 (one thread per connection, keep-alive), recording
/// every request it sees. Stopped on drop.
pub struct Upstream {
    pub port: u16,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
    stop: Arc<AtomicBool>,
    accept: Option<thread::JoinHandle<()>>,
}

impl Upstream {
    /// 200 with a small body, no extra headers.
    pub fn ok() -> Upstream {
        Upstream::fixed(Reply::ok())
    }

    /// Every request gets `status` and these headers.
    pub fn with_headers(status: u16, headers: &[(&str, &str)]) -> Upstream {
        Upstream::fixed(Reply::status(status, headers))
    }

    pub fn fixed(reply: Reply) -> Upstream {
        Upstream::start(move |_| reply.clone())
    }

    pub fn start(handler: impl Fn(&SeenRequest) -> Reply + Send + Sync + 'static) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("upstream bind");
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let accept = thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (seen, stop, handler) = (seen2.clone(), stop2.clone(), handler.clone());
                thread::spawn(move || serve_conn(conn, &seen, &stop, &*handler));
            }
        });
        Upstream { port, seen, stop, accept: Some(accept) }
    }

    /// Number of requests the upstream has seen.
    pub fn hits(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // wake the blocking accept()
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn serve_conn(mut conn: TcpStream, seen: &Mutex<Vec<SeenRequest>>, stop: &AtomicBool, handler: &Handler) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = conn.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        // read one request head
        let head_end = loop {
            if let Some(p) = find(&buf, b"\r\n\r\n") {
                break p;
            }
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if buf.len() > 1 << 20 {
                return;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or("").split(' ');
        let method = first.next().unwrap_or("").to_string();
        let path = first.next().unwrap_or("").to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let req = SeenRequest { method, path, headers };
        // consume a content-length body (Envoy re-frames chunked bodies; tests send none)
        let len = req.header("content-length").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
        while buf.len() < len {
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..len);
        seen.lock().unwrap().push(req.clone());
        let mut reply = handler(&req);
        while let Reply::Delay(d, next) = reply {
            thread::sleep(d);
            reply = *next;
        }
        match reply {
            Reply::Reset => {
                let _ = conn.shutdown(Shutdown::Both);
                return;
            }
            Reply::Respond { status, headers, body } => {
                let mut out = format!("HTTP/1.1 {status} Upstream\r\n");
                for (n, v) in &headers {
                    out.push_str(&format!("{n}: {v}\r\n"));
                }
                out.push_str(&format!("content-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}", body.len()));
                if conn.write_all(out.as_bytes()).is_err() {
                    return;
                }
            }
            Reply::Delay(..) => unreachable!(),
        }
    }
}
