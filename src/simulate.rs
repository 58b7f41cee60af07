//! Runs the real stream logic on a request without a proxy: what the filter would answer.
//! Used by `cors-lint explain`, the attack-case suite and the fuzz targets, so all of them
//! exercise exactly the code the plugin runs.

use std::cell::RefCell;
use std::rc::Rc;

use crate::config::Config;
use crate::counter::Counter;
use crate::header_list::HeaderList;
use crate::stream::{Host, StreamFilter, Verdict};

/// A reply the filter made itself: status and headers.
pub type LocalReply = (u32, Vec<(String, String)>);

/// What the filter did with one request and the upstream's response to it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// A reply the filter made itself (preflights): status and headers. The upstream never saw the request.
    pub local_reply: Option<LocalReply>,
    /// The response headers the client receives when the request went upstream.
    pub response_headers: Vec<(String, String)>,
    pub counters: Vec<Counter>,
}

impl Outcome {
    /// The headers the client receives, whichever way the answer was made.
    pub fn client_headers(&self) -> &[(String, String)] {
        match &self.local_reply {
            Some((_, h)) => h,
            None => &self.response_headers,
        }
    }

    /// Every value of `name` the client receives.
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.client_headers().iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }
}

struct SimHost {
    request: Vec<(String, Vec<u8>)>,
    response: RefCell<HeaderLines>,
    reply: RefCell<Option<LocalReply>>,
    counters: RefCell<Vec<Counter>>,
}

impl Host for SimHost {
    fn request_headers(&self) -> HeaderList {
        HeaderList::from_pairs(self.request.iter().map(|(k, v)| (k.as_bytes(), v.as_slice())))
    }

    fn set_response_header(&self, name: &str, value: Option<&str>) {
        set_header(&mut self.response.borrow_mut(), name, value);
    }

    fn add_response_header(&self, name: &str, value: &str) {
        add_header(&mut self.response.borrow_mut(), name, value);
    }

    fn send_response(&self, status: u32, headers: &[(&str, &str)]) {
        let headers = headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        *self.reply.borrow_mut() = Some((status, headers));
    }

    fn count(&self, counter: Counter) {
        self.counters.borrow_mut().push(counter);
    }
}

/// A header map edited the way Envoy edits one: `set` replaces every line of `name` (or removes
/// them), `add` appends a line. Shared with the stream tests' fake host.
pub(crate) type HeaderLines = Vec<(String, Vec<u8>)>;

pub(crate) fn set_header(map: &mut HeaderLines, name: &str, value: Option<&str>) {
    map.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    if let Some(v) = value {
        map.push((name.to_owned(), v.as_bytes().to_vec()));
    }
}

pub(crate) fn add_header(map: &mut HeaderLines, name: &str, value: &str) {
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

/// Runs one request through the filter. `request` holds header lines in order, pseudo-headers
/// included (`:method`, `:authority`, `:path`); values are bytes, as on the wire.
/// `upstream` is what the upstream answers when the request reaches it.
pub fn run(config: Rc<Config>, request: &[(&str, &[u8])], upstream: &[(&str, &str)]) -> Outcome {
    let host = SimHost {
        request: request.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.to_vec())).collect(),
        response: RefCell::new(Vec::new()),
        reply: RefCell::new(None),
        counters: RefCell::new(Vec::new()),
    };
    let mut filter = StreamFilter::new(config);
    if filter.on_request_headers(&host) == Verdict::Continue {
        *host.response.borrow_mut() =
            upstream.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec())).collect();
    }
    // A local reply passes back through the response phase too, as in Envoy.
    filter.on_response_headers(&host);
    let response_headers = std::mem::take(&mut *host.response.borrow_mut())
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
        .collect();
    Outcome { local_reply: host.reply.into_inner(), response_headers, counters: host.counters.into_inner() }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn simulates_both_paths() {
        let config =
            Rc::new(Config::from_json(r#"{"allow_origins":["https://a.example"],"allow_methods":["PUT"]}"#).unwrap());
        let pre = run(
            config.clone(),
            &[(":method", b"OPTIONS"), ("origin", b"https://a.example"), ("access-control-request-method", b"PUT")],
            &[("x-upstream", "1")],
        );
        assert_eq!(pre.local_reply.as_ref().map(|r| r.0), Some(204));
        assert_eq!(pre.values("access-control-allow-methods"), ["PUT"]);
        assert_eq!(pre.values("x-upstream"), Vec::<&str>::new());
        let get = run(config, &[(":method", b"GET"), ("origin", b"https://a.example")], &[("vary", "accept")]);
        assert_eq!(get.local_reply, None);
        assert_eq!(get.values("access-control-allow-origin"), ["https://a.example"]);
        assert_eq!(get.values("vary"), ["accept,Origin"]);
        assert_eq!(get.counters, [Counter::ActualAllowed]);
    }
}
