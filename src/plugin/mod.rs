//! The proxy-wasm adapter: root contexts compile the configuration, each HTTP stream runs a
//! `StreamFilter` over host calls. No proxy-wasm SDK: `exports.rs` is the ABI Envoy calls,
//! `abi.rs` the host calls made. Host errors are never unwrapped: a panic here would break every
//! stream of the worker, so a failed read is "absent" and a failed write is logged.

use std::cell::RefCell;
use std::rc::Rc;

use log::{error, info, warn};

mod abi;
mod exports;
mod logger;

use crate::counter::Counter;
use crate::fast_hash::FastHashMap;
use crate::header_map::HeaderMap;
use crate::host::ProxyHost;
use crate::routing::Config;
use crate::stream::{StreamFilter, Verdict};
use abi::MapType;
use exports::{CONTINUE, PAUSE};

thread_local! {
    // The VM runs one thread; Envoy calls in one callback at a time.
    static PLUGIN: RefCell<Plugin> = RefCell::new(Plugin::default());
}

/// Runs `f` on the plugin state. Were the host to call back while a callback is running (it
/// defers local replies until the callback returns, so it does not), the nested call gets
/// `fallback` instead of a panic.
fn with_plugin<R>(fallback: R, f: impl FnOnce(&mut Plugin) -> R) -> R {
    PLUGIN.with(|cell| match cell.try_borrow_mut() {
        Ok(mut plugin) => f(&mut plugin),
        Err(_) => {
            warn!("re-entrant host callback ignored");
            fallback
        }
    })
}

/// Metric ids, defined once per VM.
#[derive(Default)]
struct Metrics {
    ids: [Option<u32>; Counter::ALL.len()],
}

impl Metrics {
    fn define() -> Metrics {
        let mut m = Metrics::default();
        for c in Counter::ALL {
            match abi::define_counter(c.name()) {
                Ok(id) => m.ids[c.index()] = Some(id),
                Err(status) => warn!("cannot define metric {}: {status:?}", c.name()),
            }
        }
        m
    }
}

#[derive(Default)]
struct Plugin {
    /// Root contexts (one per plugin configuration sharing this VM) and their configuration,
    /// `None` until configured.
    roots: FastHashMap<u32, Option<Rc<Config>>>,
    /// HTTP streams of a configured root.
    streams: FastHashMap<u32, StreamFilter>,
    metrics: Option<Metrics>,
}

impl Plugin {
    fn create_context(&mut self, context_id: u32, parent_context_id: u32) {
        if parent_context_id == 0 {
            self.roots.entry(context_id).or_default();
        } else if let Some(Some(config)) = self.roots.get(&parent_context_id) {
            // Without a configuration (never the case once on_configure succeeded) the stream
            // is not tracked, and every callback of it passes through.
            self.streams.insert(context_id, StreamFilter::new(Rc::clone(config)));
        }
    }

    fn delete_context(&mut self, context_id: u32) {
        if self.streams.remove(&context_id).is_none() {
            self.roots.remove(&context_id);
        }
    }

    fn configure(&mut self, root_context_id: u32, configuration_size: usize) -> bool {
        logger::follow_host_level();
        let bytes = match abi::plugin_configuration(configuration_size) {
            Ok(bytes) => bytes,
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
                self.roots.insert(root_context_id, Some(Rc::new(config)));
                if self.metrics.is_none() {
                    self.metrics = Some(Metrics::define());
                }
                true
            }
            Err(errors) => {
                // One line per refusal, so every broken key shows in Envoy's log at once.
                for e in &errors {
                    error!("{e}");
                }
                false
            }
        }
    }

    fn on_request_headers(&mut self, context_id: u32) -> u32 {
        let Some(filter) = self.streams.get_mut(&context_id) else {
            return CONTINUE;
        };
        match filter.on_request_headers(&WasmHost { metrics: self.metrics.as_ref() }) {
            Verdict::Stop => PAUSE,
            Verdict::Continue => CONTINUE,
        }
    }

    fn on_response_headers(&mut self, context_id: u32) -> u32 {
        if let Some(filter) = self.streams.get_mut(&context_id) {
            filter.on_response_headers(&WasmHost { metrics: self.metrics.as_ref() });
        }
        CONTINUE
    }
}

/// `Host` over proxy-wasm host calls, for the stream Envoy is calling back for.
struct WasmHost<'a> {
    metrics: Option<&'a Metrics>,
}

impl ProxyHost for WasmHost<'_> {
    fn request_headers(&self) -> HeaderMap {
        abi::get_header_map(MapType::HttpRequestHeaders).unwrap_or_default()
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

    fn send_response(&self, status: u32, headers: &[(&str, &str)]) {
        let details = if status < 300 { "cors_preflight_allowed" } else { "cors_preflight_denied" };
        let headers = HeaderMap::from_pairs(headers.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())));
        if let Err(e) = abi::send_local_response(status, details, &headers) {
            warn!("cannot send the local reply: {e:?}");
        }
    }

    fn count(&self, counter: Counter) {
        if let Some(id) = self.metrics.and_then(|m| m.ids[counter.index()]) {
            // A failed increment only loses a count.
            let _ = abi::increment_metric(id, 1);
        }
    }
}
