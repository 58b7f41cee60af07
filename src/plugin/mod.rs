//! The proxy-wasm adapter: the root context compiles the configuration, each HTTP context runs
//! a `StreamFilter` over host calls. Host errors are never unwrapped: a panic here would break
//! every stream of the worker, so a failed call reads as "absent" and a failed write is logged.

use std::rc::Rc;

use log::{error, info, warn};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MapType, MetricType};

mod abi;

use crate::config::Config;
use crate::counter::Counter;
use crate::header_list::HeaderList;
use crate::stream::{Host, StreamFilter, Verdict};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(CorsRoot::default()) });
}}

/// Metric ids, defined once per VM.
#[derive(Default)]
struct Metrics {
    ids: [Option<u32>; Counter::ALL.len()],
}

impl Metrics {
    fn define() -> Metrics {
        let mut m = Metrics::default();
        for c in Counter::ALL {
            match hostcalls::define_metric(MetricType::Counter, c.name()) {
                Ok(id) => m.ids[c.index()] = Some(id),
                Err(status) => warn!("cannot define metric {}: {status:?}", c.name()),
            }
        }
        m
    }
}

#[derive(Default)]
struct CorsRoot {
    config: Option<Rc<Config>>,
    metrics: Rc<Metrics>,
}

impl Context for CorsRoot {}

impl RootContext for CorsRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        // Follow the host's log level (`--component-log-level wasm:debug` shows decisions).
        if let Ok(level) = hostcalls::get_log_level() {
            proxy_wasm::set_log_level(level);
        }
        let bytes = match hostcalls::get_buffer(proxy_wasm::types::BufferType::PluginConfiguration, 0, usize::MAX) {
            Ok(b) => b.unwrap_or_default(),
            Err(status) => {
                error!("invalid CORS configuration: cannot read the plugin configuration: {status:?}");
                return false;
            }
        };
        let Ok(text) = std::str::from_utf8(&bytes) else {
            error!("invalid CORS configuration: `(root)`: not UTF-8 text");
            return false;
        };
        match Config::from_json(text) {
            Ok(config) => {
                info!("configuration loaded ({} policies besides the top level)", config.routes().len());
                self.config = Some(Rc::new(config));
                if self.metrics.ids.iter().all(Option::is_none) {
                    self.metrics = Rc::new(Metrics::define());
                }
                true
            }
            Err(e) => {
                error!("{e}");
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(CorsStream {
            // Without a configuration (never the case once on_configure succeeded) pass through.
            filter: self.config.clone().map(StreamFilter::new),
            host: WasmHost { metrics: Rc::clone(&self.metrics) },
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct CorsStream {
    filter: Option<StreamFilter>,
    host: WasmHost,
}

impl Context for CorsStream {}

impl HttpContext for CorsStream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        match self.filter.as_mut().map(|f| f.on_request_headers(&self.host)) {
            Some(Verdict::Stop) => Action::Pause,
            _ => Action::Continue,
        }
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if let Some(f) = self.filter.as_mut() {
            f.on_response_headers(&self.host);
        }
        Action::Continue
    }
}

/// `Host` over proxy-wasm host calls.
struct WasmHost {
    metrics: Rc<Metrics>,
}

impl Host for WasmHost {
    fn request_header(&self, name: &str) -> Option<Vec<u8>> {
        abi::get_header(MapType::HttpRequestHeaders, name).ok().flatten()
    }

    fn request_headers(&self) -> HeaderList {
        abi::get_header_map(MapType::HttpRequestHeaders).unwrap_or_default()
    }

    fn response_headers(&self) -> HeaderList {
        abi::get_header_map(MapType::HttpResponseHeaders).unwrap_or_default()
    }

    fn set_response_header(&self, name: &str, value: Option<&str>) {
        if let Err(status) = abi::set_header(MapType::HttpResponseHeaders, name, value) {
            warn!("cannot set response header {name}: {status:?}");
        }
    }

    fn add_response_header(&self, name: &str, value: &str) {
        if let Err(status) = abi::add_header(MapType::HttpResponseHeaders, name, value) {
            warn!("cannot add response header {name}: {status:?}");
        }
    }

    fn replace_response_headers(&self, headers: &HeaderList) {
        if let Err(status) = abi::set_header_map(MapType::HttpResponseHeaders, headers) {
            warn!("cannot replace the response headers: {status:?}");
        }
    }

    fn send_response(&self, status: u32, headers: &[(&str, &str)]) {
        let details = if status < 300 { "cors_preflight_allowed" } else { "cors_preflight_denied" };
        let headers = HeaderList::from_pairs(headers.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())));
        if let Err(e) = abi::send_local_response(status, details, &headers) {
            warn!("cannot send the local reply: {e:?}");
        }
    }

    fn count(&self, counter: Counter) {
        if let Some(id) = self.metrics.ids[counter.index()] {
            // A failed increment only loses a count.
            let _ = abi::increment_metric(id, 1);
        }
    }
}
