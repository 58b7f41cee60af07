//! Benchmark variant (d): the minimal reference CORS filter, the least any correct wasm CORS
//! filter does. It knows one origin and nothing else (no credentials, no expose headers, no
//! Vary merging, no header or method checks):
//!
//! - request without `origin`: one host call (read `origin`), nothing else;
//! - request with `origin`: also reads `:method` (a filter must tell a preflight from an actual
//!   request); preflight (`OPTIONS`): a local reply by `send_http_response`, 204 with five fixed
//!   headers when the origin is the constant, 403 without headers otherwise;
//! - actual request from the constant origin: on the response, set ACAO and add `vary: Origin`
//!   (two host calls). A local reply made by `send_http_response` passes back through this
//!   context's `on_http_response_headers`; the `allowed` flag is only set for actual requests,
//!   so that reply is never decorated twice.
//!
//! Header reads use the bytes variants: the String ones panic on non-UTF-8 values.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

const ORIGIN: &[u8] = b"https://app.example.com";
const ORIGIN_STR: &str = "https://app.example.com";

proxy_wasm::main! {{
    proxy_wasm::set_http_context(|_, _| -> Box<dyn HttpContext> { Box::new(Reference { allowed: false }) });
}}

struct Reference {
    allowed: bool,
}

impl Context for Reference {}

impl HttpContext for Reference {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        let origin = match self.get_http_request_header_bytes("origin") {
            Some(origin) => origin,
            None => return Action::Continue,
        };
        let matches = origin == ORIGIN;
        let preflight = self.get_http_request_header_bytes(":method").is_some_and(|m| m == b"OPTIONS");
        if preflight {
            if matches {
                self.send_http_response(
                    204,
                    vec![
                        ("access-control-allow-origin", ORIGIN_STR),
                        ("access-control-allow-methods", "GET, POST, PUT, DELETE"),
                        ("access-control-allow-headers", "content-type, x-requested-with"),
                        ("access-control-max-age", "600"),
                        ("vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
                    ],
                    None,
                );
            } else {
                self.send_http_response(403, vec![], None);
            }
            return Action::Pause;
        }
        self.allowed = matches;
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _: usize, _: bool) -> Action {
        if self.allowed {
            self.set_http_response_header("access-control-allow-origin", Some(ORIGIN_STR));
            self.add_http_response_header("vary", "Origin");
        }
        Action::Continue
    }
}
