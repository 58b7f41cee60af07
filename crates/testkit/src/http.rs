//! A raw HTTP/1.1 client that keeps the exact, ordered list of response headers (so duplicates
//! are visible) and can send hostile bytes.

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Read/write timeout of every client socket.
pub const IO_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    /// Ordered, exactly as received; names lower-cased.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Response {
    /// Every value of `name`, in order (lossy UTF-8).
    pub fn all(&self, name: &str) -> Vec<String> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().filter(|(n, _)| *n == name).map(|(_, v)| String::from_utf8_lossy(v).into_owned()).collect()
    }

    /// The single value of `name`; fails the test when the header appears more than once.
    pub fn one(&self, name: &str) -> Option<String> {
        let all = self.all(name);
        assert!(all.len() <= 1, "header {name} appears {} times: {all:?}\n{}", all.len(), self.dump());
        all.into_iter().next()
    }

    /// The single value of `name`, which must be present.
    pub fn must(&self, name: &str) -> String {
        self.one(name).unwrap_or_else(|| panic!("header {name} missing\n{}", self.dump()))
    }

    pub fn has(&self, name: &str) -> bool {
        !self.all(name).is_empty()
    }

    /// The `access-control-*` headers, in order.
    pub fn cors_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .filter(|(n, _)| n.starts_with("access-control-"))
            .map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect()
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn dump(&self) -> String {
        let mut s = format!("HTTP {}\n", self.status);
        for (n, v) in &self.headers {
            s.push_str(&format!("  {}: {}\n", n, String::from_utf8_lossy(v)));
        }
        let body = self.body_str();
        if !body.is_empty() {
            s.push_str(&format!("  <body {} bytes> {:.200}\n", self.body.len(), body));
        }
        s
    }

    /// No header name appears twice, no value holds `*,*`-style repeats or invalid bytes.
    pub fn assert_well_formed(&self) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (n, v) in &self.headers {
            *seen.entry(n.as_str()).or_default() += 1;
            assert!(
                v.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f)),
                "header {n} carries a control byte: {v:?}\n{}",
                self.dump()
            );
        }
        let dups: Vec<_> = seen.iter().filter(|(_, &c)| c > 1).collect();
        assert!(dups.is_empty(), "duplicated headers {dups:?}\n{}", self.dump());
        // `Vary` is left out: the filter appends `Origin` without reading the upstream's list,
        // so an upstream that already names it gets it twice (same meaning to a cache).
        for (n, v) in self.cors_headers() {
            // methods are case-sensitive (`purge` and `PURGE` are two); header names are not
            let fold =
                |s: &str| if n == "access-control-allow-methods" { s.to_string() } else { s.to_ascii_lowercase() };
            let items: Vec<String> = v.split(',').map(|s| fold(s.trim())).filter(|s| !s.is_empty()).collect();
            for (i, it) in items.iter().enumerate() {
                assert!(!items[..i].contains(it), "{n} lists {it:?} twice: {v:?}\n{}", self.dump());
            }
        }
        assert!(
            !self.all("access-control-allow-origin").iter().any(|v| v.contains(',')),
            "ACAO holds a list\n{}",
            self.dump()
        );
    }

    pub fn assert_no_cors_headers(&self) {
        assert!(self.cors_headers().is_empty(), "expected no access-control-* headers\n{}", self.dump());
    }

    /// The comma-separated tokens of every `vary` header line, trimmed, in order.
    pub fn vary_tokens(&self) -> Vec<String> {
        list_tokens(&self.all("vary"))
    }
}

/// Split comma lists from several header lines into trimmed, non-empty tokens.
pub fn list_tokens(values: &[String]) -> Vec<String> {
    values.iter().flat_map(|v| v.split(',')).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

/// Case-insensitive membership in a comma list.
pub fn list_has(value: &str, item: &str) -> bool {
    value.split(',').any(|t| t.trim().eq_ignore_ascii_case(item))
}

#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub host: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn new(method: &str, path: &str) -> Request {
        Request {
            method: method.to_string(),
            path: path.to_string(),
            host: "service.local".to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn get(path: &str) -> Request {
        Request::new("GET", path)
    }

    pub fn options(path: &str) -> Request {
        Request::new("OPTIONS", path)
    }

    /// A browser preflight: OPTIONS + Origin + Access-Control-Request-Method (+ ACRH if given).
    pub fn preflight(path: &str, origin: &str, method: &str, acrh: Option<&str>) -> Request {
        let r = Request::options(path).header("origin", origin).header("access-control-request-method", method);
        match acrh {
            Some(h) => r.header("access-control-request-headers", h),
            None => r,
        }
    }

    pub fn host(mut self, host: &str) -> Request {
        self.host = host.to_string();
        self
    }

    pub fn header(self, name: &str, value: &str) -> Request {
        self.header_bytes(name, value.as_bytes())
    }

    pub fn header_bytes(mut self, name: &str, value: &[u8]) -> Request {
        self.headers.push((name.to_string(), value.to_vec()));
        self
    }

    pub fn origin(self, origin: &str) -> Request {
        self.header("origin", origin)
    }

    pub fn body(mut self, body: &[u8]) -> Request {
        self.body = body.to_vec();
        self
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.1\r\nhost: {}\r\n", self.method, self.path, self.host).into_bytes();
        for (n, v) in &self.headers {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        }
        if !self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PUT" | "PATCH") {
            out.extend_from_slice(format!("content-length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"connection: close\r\n\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    pub fn try_send(&self, port: u16) -> io::Result<Response> {
        send_raw(port, &self.to_bytes())
    }

    /// Sends the request; an I/O error fails the test.
    pub fn send(&self, port: u16) -> Response {
        self.try_send(port)
            .unwrap_or_else(|e| panic!("request {} {} to 127.0.0.1:{port} failed: {e}", self.method, self.path))
    }
}

/// Writes `bytes` on a fresh connection and reads the response until the peer closes it (the
/// request carries `connection: close`) or the response is complete.
pub fn send_raw(port: u16, bytes: &[u8]) -> io::Result<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.set_nodelay(true)?;
    s.write_all(bytes)?;
    read_response(&mut s)
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn read_response(s: &mut TcpStream) -> io::Result<Response> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(p) = find(&buf, b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                format!(
                    "connection closed before a full response head ({} bytes: {:?})",
                    buf.len(),
                    String::from_utf8_lossy(&buf)
                ),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = buf[..head_end].to_vec();
    let mut rest = buf[head_end + 4..].to_vec();
    let mut lines = head.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(ErrorKind::InvalidData, format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    for l in lines {
        let colon = l
            .iter()
            .position(|&b| b == b':')
            .ok_or_else(|| io::Error::new(ErrorKind::InvalidData, "header line without colon"))?;
        let name = String::from_utf8_lossy(&l[..colon]).trim().to_ascii_lowercase();
        let value = trim_ows(&l[colon + 1..]).to_vec();
        headers.push((name, value));
    }
    let get = |n: &str| headers.iter().find(|(h, _)| h == n).map(|(_, v)| String::from_utf8_lossy(v).into_owned());
    let no_body = status == 204 || status == 304 || (100..200).contains(&status);
    let body = if no_body {
        Vec::new()
    } else if let Some(len) = get("content-length").and_then(|v| v.trim().parse::<usize>().ok()) {
        while rest.len() < len {
            let n = s.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        rest.truncate(len);
        rest
    } else {
        // chunked or close-delimited: read to EOF (the request asked for connection: close)
        loop {
            match s.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => rest.extend_from_slice(&chunk[..n]),
                Err(e) if rest.is_empty() => return Err(e),
                Err(_) => break,
            }
        }
        if get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
            dechunk(&rest)
        } else {
            rest
        }
    };
    Ok(Response { status, headers, body })
}

fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(v.len());
    let end = v.iter().rposition(|&b| b != b' ' && b != b'\t').map_or(start, |e| e + 1);
    &v[start..end.max(start)]
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(p) = find(data, b"\r\n") {
        let size_str = String::from_utf8_lossy(&data[..p]);
        let size = usize::from_str_radix(size_str.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        data = &data[p + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    out
}

/// GET on the admin interface: (status, body).
pub fn http_get(port: u16, path: &str) -> io::Result<(u16, String)> {
    let r = Request::get(path).host("127.0.0.1").try_send(port)?;
    Ok((r.status, r.body_str()))
}
