//! The host adapter: root contexts compile the configuration, each HTTP stream runs the engine's
//! `StreamFilter` over `ProxyHost` calls made through `abi`. Host errors are never unwrapped: a
//! panic here would break every stream of the worker, so a failed read is "absent" and a failed
//! write is logged.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use log::{error, info, warn};

use cors_engine::counter::Counter;
use cors_engine::fast_hash::FastHashMap;
use cors_engine::header_map::HeaderMap;
use cors_engine::host::{HostError, LocalReply, ProxyHost};
use cors_engine::policy::Policy;
use cors_engine::routing::Config;
use cors_engine::stream::{StreamFilter, Verdict};

use crate::abi::exports::Callbacks;
use crate::abi::{self, Action, MapType};
use crate::logger;

/// How often the host's log level is re-read (`proxy_on_tick`): one host call a second per
/// root context, instead of one per request.
const LOG_LEVEL_REFRESH_MS: u32 = 1000;

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

/// A root's per-policy counter ids, by `Policy::slot` (`cors_policy=.=<label>;.;cors.policy.*`).
#[derive(Default)]
struct PolicyMetrics {
    ids: Vec<[Option<u32>; Counter::ALL.len()]>,
}

impl PolicyMetrics {
    /// Defines every counter of every policy of `config` (Envoy returns the existing id for a
    /// name already defined, so a reload with the same labels keeps counting on).
    fn define(config: &Config) -> PolicyMetrics {
        let mut ids = Vec::new();
        for policy in config.policies() {
            let mut slot = [None; Counter::ALL.len()];
            for c in Counter::ALL {
                let name = c.policy_metric_name(policy.label());
                match abi::define_counter(&name) {
                    Ok(id) => {
                        if let Some(s) = slot.get_mut(c.index()) {
                            *s = Some(id);
                        }
                    }
                    Err(status) => warn!("cannot define metric {name}: {status:?}"),
                }
            }
            ids.push(slot);
        }
        PolicyMetrics { ids }
    }

    fn id(&self, slot: usize, counter: Counter) -> Option<u32> {
        self.ids.get(slot).and_then(|s| s.get(counter.index()).copied().flatten())
    }
}

impl Metrics {
    fn define() -> Metrics {
        let mut m = Metrics::default();
        for c in Counter::ALL {
            match abi::define_counter(c.name()) {
                Ok(id) => {
                    if let Some(slot) = m.ids.get_mut(c.index()) {
                        *slot = Some(id);
                    }
                }
                Err(status) => warn!("cannot define metric {}: {status:?}", c.name()),
            }
        }
        m
    }
}

/// A configured root context: its configuration and its policies' counters.
struct Root {
    config: Arc<Config>,
    policy_metrics: Rc<PolicyMetrics>,
}

/// An HTTP stream and the counters of its root's policies.
struct Stream {
    filter: StreamFilter,
    policy_metrics: Rc<PolicyMetrics>,
}

#[derive(Default)]
struct Plugin {
    /// Root contexts (one per plugin configuration sharing this VM) and their configuration,
    /// `None` until configured.
    roots: FastHashMap<u32, Option<Root>>,
    /// HTTP streams of a configured root.
    streams: FastHashMap<u32, Stream>,
    metrics: Option<Metrics>,
}

impl Plugin {
    fn create_context(&mut self, context_id: u32, parent_context_id: u32) {
        if parent_context_id == 0 {
            self.roots.entry(context_id).or_default();
        } else if let Some(Some(root)) = self.roots.get(&parent_context_id) {
            // Without a configuration (never the case once on_configure succeeded) the stream
            // is not tracked, and every callback of it passes through.
            let filter = StreamFilter::new(Arc::clone(&root.config));
            self.streams.insert(context_id, Stream { filter, policy_metrics: Rc::clone(&root.policy_metrics) });
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
                let n = config.routes().len();
                info!(
                    "configuration loaded ({n} {} besides the top level)",
                    if n == 1 { "policy" } else { "policies" }
                );
                // Envoy's wasm log level can change at runtime (`POST /logging?wasm=debug`,
                // `istioctl proxy-config log`): re-read it every second, off the request path.
                if let Err(status) = abi::set_tick_period(LOG_LEVEL_REFRESH_MS) {
                    warn!("cannot set the tick period: {status:?}; the log level is read only at configuration");
                }
                if self.metrics.is_none() {
                    self.metrics = Some(Metrics::define());
                }
                let policy_metrics = Rc::new(PolicyMetrics::define(&config));
                self.roots.insert(root_context_id, Some(Root { config: Arc::new(config), policy_metrics }));
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

    fn on_request_headers(&mut self, context_id: u32) -> Action {
        let Some(stream) = self.streams.get_mut(&context_id) else {
            return Action::Continue;
        };
        let host = WasmHost { metrics: self.metrics.as_ref(), policy_metrics: &stream.policy_metrics };
        match stream.filter.on_request_headers(&host) {
            Verdict::Stop => Action::Pause,
            Verdict::Continue => Action::Continue,
        }
    }

    fn on_response_headers(&mut self, context_id: u32) -> Action {
        if let Some(stream) = self.streams.get_mut(&context_id) {
            let host = WasmHost { metrics: self.metrics.as_ref(), policy_metrics: &stream.policy_metrics };
            stream.filter.on_response_headers(&host);
        }
        Action::Continue
    }
}

/// `Host` over proxy-wasm host calls, for the stream Envoy is calling back for.
struct WasmHost<'a> {
    metrics: Option<&'a Metrics>,
    policy_metrics: &'a PolicyMetrics,
}

/// A host status, in the engine's terms (it logs failures).
fn failed(status: impl std::fmt::Debug) -> HostError {
    HostError(format!("{status:?}"))
}

impl ProxyHost for WasmHost<'_> {
    type Headers<'a>
        = HeaderMap
    where
        Self: 'a;

    fn request_headers(&self) -> Result<HeaderMap, HostError> {
        abi::get_header_map(MapType::HttpRequestHeaders).map_err(failed)
    }

    fn set_response_header(&self, name: &str, value: Option<&str>) -> Result<(), HostError> {
        abi::set_header(MapType::HttpResponseHeaders, name, value).map_err(failed)
    }

    fn add_response_header(&self, name: &str, value: &str) -> Result<(), HostError> {
        abi::add_header(MapType::HttpResponseHeaders, name, value).map_err(failed)
    }

    fn send_response(&self, reply: &LocalReply<'_>) -> Result<(), HostError> {
        let headers = reply.headers.as_slice();
        let headers = HeaderMap::from_pairs(headers.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())));
        abi::send_local_response(reply.status, reply.details, &headers).map_err(failed)
    }

    fn count(&self, counter: Counter, policy: &Policy) {
        // A failed increment only loses a count.
        if let Some(id) = self.metrics.and_then(|m| m.ids.get(counter.index()).copied().flatten()) {
            let _ = abi::increment_metric(id, 1);
        }
        if let Some(id) = self.policy_metrics.id(policy.slot(), counter) {
            let _ = abi::increment_metric(id, 1);
        }
    }
}

/// The plugin's side of the ABI: each callback runs on the plugin state (`with_plugin`, so a
/// re-entrant call gets a safe default, never a panic).
pub(crate) struct Exports;

impl Callbacks for Exports {
    fn initialize() {
        logger::install();
    }

    fn create_context(context_id: u32, parent_context_id: u32) {
        with_plugin((), |p| p.create_context(context_id, parent_context_id));
    }

    fn configure(root_context_id: u32, configuration_size: usize) -> bool {
        with_plugin(false, |p| p.configure(root_context_id, configuration_size))
    }

    fn on_request_headers(context_id: u32) -> Action {
        with_plugin(Action::Continue, |p| p.on_request_headers(context_id))
    }

    fn on_response_headers(context_id: u32) -> Action {
        with_plugin(Action::Continue, |p| p.on_response_headers(context_id))
    }

    fn on_tick(_root_context_id: u32) {
        logger::follow_host_level();
    }

    fn delete_context(context_id: u32) {
        with_plugin((), |p| p.delete_context(context_id));
    }
}
