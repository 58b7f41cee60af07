//! Runs the real stream logic on a request without a proxy: what the filter would answer.
//! Used by `cors-lint explain`, the attack-case suite and the fuzz targets, so all of them
//! exercise exactly the code the plugin runs.

use std::sync::Arc;

use crate::counter::Counter;
use crate::fake_host::FakeHost;
use crate::routing::Config;
use crate::stream::{StreamFilter, Verdict};

/// A reply the filter made itself: status and headers.
pub(crate) use crate::fake_host::Reply as LocalReply;

/// What the filter did with one request and the upstream's response to it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// A reply the filter made itself (preflights): status and headers. The upstream never saw the request.
    pub local_reply: Option<LocalReply>,
    /// The response headers the client receives when the request went upstream.
    pub response_headers: Vec<(String, String)>,
    /// Counters incremented, in order.
    pub counters: Vec<Counter>,
    /// Envoy's response code details of the local reply, when there was one.
    pub details: Option<String>,
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
    #[cfg(test)]
    pub(crate) fn values(&self, name: &str) -> Vec<&str> {
        self.client_headers().iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }
}

/// Runs one request through the filter. `request` holds header lines in order, pseudo-headers
/// included (`:method`, `:authority`, `:path`); values are bytes, as on the wire.
/// `upstream` is what the upstream answers when the request reaches it.
pub fn run(config: Arc<Config>, request: &[(&str, &[u8])], upstream: &[(&str, &str)]) -> Outcome {
    let host = FakeHost::from_lines(request);
    let mut filter = StreamFilter::new(config);
    if filter.on_request_headers(&host) == Verdict::Continue {
        let lower: Vec<(String, &str)> = upstream.iter().map(|(k, v)| (k.to_ascii_lowercase(), *v)).collect();
        host.upstream(&lower.iter().map(|(k, v)| (k.as_str(), *v)).collect::<Vec<_>>());
    }
    // A local reply passes back through the response phase too, as in Envoy.
    filter.on_response_headers(&host);
    let response_headers = std::mem::take(&mut *host.response.borrow_mut())
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
        .collect();
    Outcome {
        local_reply: host.sent.into_inner(),
        response_headers,
        counters: host.counted.into_inner(),
        details: host.details.into_inner(),
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn simulates_both_paths() {
        let config =
            Arc::new(Config::from_json(r#"{"allow_origins":["https://a.example"],"allow_methods":["PUT"]}"#).unwrap());
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
