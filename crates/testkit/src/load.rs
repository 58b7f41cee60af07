//! The bounded load loop run while a configuration changes underneath.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::http::{Request, Response};

/// Drives preflights and GETs from `origin` at one port in a loop, bounded in count (20 000) and
/// time (60 s), and records every response that `ok` rejects and every transport error. Used
/// while a configuration changes underneath (`ok(preflight, response)`).
pub struct Load {
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<(usize, Vec<String>)>>,
}

impl Load {
    pub fn start(port: u16, origin: &'static str, ok: fn(bool, &Response) -> bool) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut n = 0;
            let mut bad = Vec::new();
            while !stop2.load(Ordering::SeqCst) && Instant::now() < deadline && n < 20_000 {
                let preflight = n % 2 == 0;
                let req = if preflight {
                    Request::preflight("/", origin, "PUT", None)
                } else {
                    Request::get("/").origin(origin)
                };
                n += 1;
                match req.try_send(port) {
                    Ok(r) if ok(preflight, &r) => {}
                    Ok(r) => bad.push(format!("request {n}: unexpected\n{}", r.dump())),
                    Err(e) => bad.push(format!("request {n}: transport error {e}")),
                }
            }
            (n, bad)
        });
        Load { stop, handle: Some(handle) }
    }

    /// Stops the loop; (requests sent, failures).
    pub fn finish(mut self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.take().unwrap().join().expect("load thread")
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}
