//! A host in memory that behaves like Envoy's header maps and counts host calls: the stream
//! tests, `simulate` (cors-lint, the attack suite, the fuzz targets) and every other check that
//! runs the filter without a proxy use this one.

use std::cell::{Cell, RefCell};

use crate::counter::Counter;
use crate::header_map::HeaderMap;
use crate::host::{HostError, LocalReply, ProxyHost};
use crate::policy::Policy;

/// A local reply: status and headers.
pub(crate) type Reply = (u32, Vec<(String, String)>);

/// One stream's host in memory: the request it reads, the response it edits, the local reply and the counters, and how many host calls were made.
#[derive(Default)]
pub struct FakeHost {
    /// Request header lines (pseudo-headers included), names lowercase.
    pub(crate) request: Vec<(String, Vec<u8>)>,
    /// Response header lines, as the filter left them.
    pub(crate) response: RefCell<Vec<(String, Vec<u8>)>>,
    /// The local reply the filter sent, if any.
    pub(crate) sent: RefCell<Option<Reply>>,
    /// Its response code details.
    pub(crate) details: RefCell<Option<String>>,
    /// Counters incremented, in order.
    pub(crate) counted: RefCell<Vec<Counter>>,
    /// The same, with the label of the policy each was counted for.
    pub counted_by_policy: RefCell<Vec<(Counter, String)>>,
    /// Host calls that return a value (each makes the host allocate inside the VM).
    pub(crate) reads: Cell<usize>,
    /// Host calls that write (header edits, local replies).
    pub(crate) writes: Cell<usize>,
}

impl FakeHost {
    /// A request of text header lines.
    pub fn request(headers: &[(&str, &str)]) -> FakeHost {
        FakeHost {
            request: headers.iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())).collect(),
            ..FakeHost::default()
        }
    }

    /// A request as header lines with byte values; names are lowercased, as Envoy stores them.
    pub(crate) fn from_lines(headers: &[(&str, &[u8])]) -> FakeHost {
        FakeHost {
            request: headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.to_vec())).collect(),
            ..FakeHost::default()
        }
    }

    /// Sets the upstream's response headers (what the response phase then edits).
    pub(crate) fn upstream(&self, headers: &[(&str, &str)]) {
        *self.response.borrow_mut() = headers.iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())).collect();
    }

    /// Every value of response header `name`.
    #[cfg(test)]
    pub(crate) fn response_values(&self, name: &str) -> Vec<String> {
        self.response
            .borrow()
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    /// The one value of response header `name`; fails the test if there are several.
    #[cfg(test)]
    pub(crate) fn response_value(&self, name: &str) -> Option<String> {
        let values = self.response_values(name);
        assert!(values.len() <= 1, "{name} appears {} times", values.len());
        values.into_iter().next()
    }

    /// Names of the response's `access-control-*` headers.
    #[cfg(test)]
    pub(crate) fn cors_response_headers(&self) -> Vec<String> {
        self.response
            .borrow()
            .iter()
            .filter(|(k, _)| k.starts_with("access-control-"))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// A header of the local reply.
    #[cfg(test)]
    pub(crate) fn sent_header(&self, name: &str) -> Option<String> {
        self.sent.borrow().as_ref().and_then(|(_, h)| h.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    /// Every host call made: reads and writes.
    #[cfg(test)]
    pub(crate) fn calls(&self) -> usize {
        self.reads.get() + self.writes.get()
    }
}

impl ProxyHost for FakeHost {
    type Headers<'a> = HeaderMap;

    fn request_headers(&self) -> Result<HeaderMap, HostError> {
        self.reads.set(self.reads.get() + 1);
        Ok(HeaderMap::from_pairs(self.request.iter().map(|(k, v)| (k.as_bytes(), v.as_slice()))))
    }

    fn set_response_header(&self, name: &str, value: Option<&str>) -> Result<(), HostError> {
        self.writes.set(self.writes.get() + 1);
        set_header(&mut self.response.borrow_mut(), name, value);
        Ok(())
    }

    fn add_response_header(&self, name: &str, value: &str) -> Result<(), HostError> {
        self.writes.set(self.writes.get() + 1);
        add_header(&mut self.response.borrow_mut(), name, value);
        Ok(())
    }

    fn send_response(&self, reply: &LocalReply<'_>) -> Result<(), HostError> {
        self.writes.set(self.writes.get() + 1);
        *self.details.borrow_mut() = Some(reply.details.to_owned());
        let headers = reply.headers.as_slice().iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        *self.sent.borrow_mut() = Some((reply.status, headers));
        Ok(())
    }

    fn count(&self, counter: Counter, policy: &Policy) {
        self.counted.borrow_mut().push(counter);
        self.counted_by_policy.borrow_mut().push((counter, policy.label().to_owned()));
    }
}

/// A header map edited the way Envoy edits one: `set` replaces every line of `name` (or removes
/// them), `add` appends a line.
pub type HeaderLines = Vec<(String, Vec<u8>)>;

/// Replaces every line of `name` with `value`, or removes them: Envoy's `replace`/`remove`.
pub fn set_header(map: &mut HeaderLines, name: &str, value: Option<&str>) {
    map.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    if let Some(v) = value {
        map.push((name.to_owned(), v.as_bytes().to_vec()));
    }
}

/// Adds a line, as Envoy's `add` does (appending `,value` to an inline header such as `vary`).
pub fn add_header(map: &mut HeaderLines, name: &str, value: &str) {
    // Like Envoy: `vary` is an inline header, and adding to it appends ",value".
    if name == "vary" {
        if let Some((_, v)) = map.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            v.push(b',');
            v.extend_from_slice(value.as_bytes());
            return;
        }
    }
    map.push((name.to_owned(), value.as_bytes().to_vec()));
}
