//! Benchmark variant (c): the proxy-wasm floor. An HTTP filter whose callbacks all return
//! `Continue` and that makes no host call of its own; what remains is the cost of Envoy's wasm
//! filter, the V8 VM and the proxy-wasm SDK dispatch.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

proxy_wasm::main! {{
    proxy_wasm::set_http_context(|_, _| -> Box<dyn HttpContext> { Box::new(Noop) });
}}

struct Noop;

impl Context for Noop {}

impl HttpContext for Noop {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _: usize, _: bool) -> Action {
        Action::Continue
    }
}
