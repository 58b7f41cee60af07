//! The native adapter: a filter configuration compiles the JSON once into a `Config` shared by
//! every worker (`Arc`), a per-route configuration replaces it on its routes, and each stream
//! runs the engine's `StreamFilter` over `ProxyHost` calls made through `abi`. Host failures are
//! never unwrapped: a failed read is "absent", a failed write is logged.

use std::cell::RefCell;
use std::sync::Arc;

use log::{error, info, warn};

use cors_engine::counter::Counter;
use cors_engine::header_map::RequestHeaders;
use cors_engine::host::{Edit, HostError, LocalReply, ProxyHost, ResponseEdits};
use cors_engine::policy::Policy;
use cors_engine::routing::Config;
use cors_engine::stream::{StreamFilter, Verdict};

use crate::abi::exports::Callbacks;
use crate::abi::{self, ConfigHandle, HeaderLines, HeaderType, HeadersStatus, StreamHandle};
use crate::logger;

/// The one filter this module has (`filter_name`, and `per_route_config_name` on a route).
const FILTER_NAME: &[u8] = b"cors";

/// Counter ids, by `Counter::index`.
type CounterIds = [Option<usize>; Counter::ALL.len()];

/// A filter configuration: the compiled policy and its counters' ids: the totals, and each
/// policy's by `Policy::slot` (the wasm build's names, `cors_policy=.=<label>;.;cors.policy.*`,
/// which Envoy's `stats_tags` turn into a `cors_policy` label).
pub struct Shared {
    config: Arc<Config>,
    counters: CounterIds,
    policy_counters: Vec<CounterIds>,
}

/// Defines every counter under `name_of(counter)`.
fn define_counters(handle: ConfigHandle, name_of: impl Fn(Counter) -> String) -> CounterIds {
    let mut ids = [None; Counter::ALL.len()];
    for c in Counter::ALL {
        let name = name_of(c);
        match abi::define_counter(handle, &name, &[]) {
            Ok(id) => {
                if let Some(slot) = ids.get_mut(c.index()) {
                    *slot = Some(id);
                }
            }
            Err(failure) => warn!("cannot define metric {name}: {failure:?}"),
        }
    }
    ids
}

/// One stream: once the request headers chose a `Config` (the route's or the filter's), the
/// engine's stream filter (the ABI layer hands each hook the filter configuration). Envoy may
/// run this stream's response hook while its request hook sends a local reply: the state sits
/// in a `RefCell` and a hook that finds it borrowed leaves the stream alone.
pub struct Stream {
    filter: RefCell<Option<StreamFilter>>,
}

/// `ProxyHost` over the dynamic-module callbacks, for the stream Envoy is calling back for.
struct NativeHost<'a> {
    handle: StreamHandle,
    shared: &'a Shared,
    /// The per-policy counters of the stream's configuration: the filter's; none under a
    /// per-route configuration (Envoy freezes counter definitions once the filter
    /// configuration is made, so a per-route one cannot define its policies').
    policy_counters: &'a [CounterIds],
}

/// A callback's failure, in the engine's terms (it logs failures).
fn failed(failure: abi::Failure) -> HostError {
    HostError(format!("{failure:?}"))
}

/// The request headers, every line read from Envoy's own map in one call and searched here: a
/// lookup by name would make Envoy copy and lowercase the name and search its map, once per
/// name the filter reads (up to seven on a preflight). Nothing is copied. Names are compared as
/// bytes: Envoy keeps every key of its maps lowercase (its codecs lowercase what they read, and
/// every insertion takes a lowercase key), as are the names the engine asks for, so this is the
/// comparison Envoy's own lookups make.
#[derive(Default)]
pub struct NativeHeaders<'h> {
    lines: HeaderLines<'h>,
}

impl RequestHeaders for NativeHeaders<'_> {
    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.lines.values(name.as_bytes())
    }
}

impl ProxyHost for NativeHost<'_> {
    type Headers<'a>
        = NativeHeaders<'a>
    where
        Self: 'a;

    fn request_headers(&self) -> Result<NativeHeaders<'_>, HostError> {
        // The filter never writes a request header, so the lines stay valid for the hook.
        self.handle.header_lines(HeaderType::Request).map(|lines| NativeHeaders { lines }).map_err(failed)
    }

    fn set_response_header(&self, name: &str, value: Option<&str>) -> Result<(), HostError> {
        self.handle.set_response_header(name, value).map_err(failed)
    }

    fn add_response_header(&self, name: &str, value: &str) -> Result<(), HostError> {
        self.handle.add_response_header(name, value).map_err(failed)
    }

    /// Every local reply goes straight to the encoder filters, as Envoy's own CORS filter sends
    /// its preflight answers: Envoy's local-reply path (which would record the details) costs
    /// a rejected preflight about 5% more CPU (BENCHMARKS.md, "Native module").
    fn send_response(&self, reply: &LocalReply<'_>) -> Result<(), HostError> {
        self.handle.send_headers_only(reply.status, reply.headers.as_slice());
        Ok(())
    }

    /// Headers-only replies record no response-code details.
    fn records_reply_details(&self) -> bool {
        false
    }

    /// A removal is a search of Envoy's map after it copies and lowercases the name; a response
    /// rarely has the headers a denial strips. With two or more removals, one read of the
    /// response's lines (about the cost of one removal) tells which the upstream sent: only
    /// those are removed, and an absent header is added instead of replaced. When the read
    /// fails, every edit is applied as it is. The engine edits each header at most once
    /// (`ResponseEdits`), so what the read found holds for every edit.
    fn apply(&self, edits: &ResponseEdits<'_>) {
        let edits = edits.as_slice();
        // One pass over the edits: how many remove a header, and bit n set when an edit's name
        // is n bytes long (most of a response's lines have no such length and are passed over
        // without comparing names).
        let (removals, lengths) = edits.iter().fold((0usize, 0u64), |(removals, lengths), e| {
            (removals + usize::from(matches!(e, Edit::Remove(_))), lengths | length_bit(e.name().len()))
        });
        // Bit i: the response has `edits[i]`'s header (every bit while unknown).
        let mut present = u32::MAX;
        if removals >= 2 {
            if let Ok(lines) = self.handle.header_lines(HeaderType::Response) {
                present = 0;
                for name in lines.names() {
                    if lengths & length_bit(name.len()) == 0 {
                        continue;
                    }
                    // Lowercase on both sides, as in `NativeHeaders`.
                    if let Some(i) = edits.iter().position(|e| name == e.name().as_bytes()) {
                        present |= bit(i);
                    }
                }
            }
        }
        // From here on the lines are gone: every write below may move Envoy's map.
        for (i, edit) in edits.iter().enumerate() {
            // (An edit past the 32nd, which the engine never makes, counts as sent.)
            let upstream_sent = bit(i) == 0 || present & bit(i) != 0;
            let result = match *edit {
                Edit::Set(name, value) if upstream_sent => self.set_response_header(name, Some(value)),
                Edit::Set(name, value) | Edit::Append(name, value) => self.add_response_header(name, value),
                Edit::Remove(name) if upstream_sent => self.set_response_header(name, None),
                Edit::Remove(_) => Ok(()),
            };
            if let Err(e) = result {
                warn!("cannot edit response header {}: {e}", edit.name());
            }
        }
    }

    /// The total and the policy's own counter.
    fn count(&self, counter: Counter, policy: &Policy) {
        // A failed increment only loses a count.
        if let Some(id) = self.shared.counters.get(counter.index()).copied().flatten() {
            let _ = self.handle.increment_counter(id, &[]);
        }
        let per_policy = self.policy_counters.get(policy.slot()).and_then(|ids| ids.get(counter.index()));
        if let Some(id) = per_policy.copied().flatten() {
            let _ = self.handle.increment_counter(id, &[]);
        }
    }
}

/// Bit `i` of a `u32`, none from 32 on.
fn bit(i: usize) -> u32 {
    u32::try_from(i).ok().and_then(|i| 1u32.checked_shl(i)).unwrap_or(0)
}

/// The bit of a name `len` bytes long: bit `len`, and every length from 63 on shares bit 63.
fn length_bit(len: usize) -> u64 {
    1u64 << len.min(63)
}

/// Compiles a configuration's JSON (a `StringValue`'s text, or the JSON Envoy prints for a
/// `Struct`), logging every refusal on its own line as the wasm build does.
fn compile(json: &[u8]) -> Option<Config> {
    let Ok(text) = std::str::from_utf8(json) else {
        error!("invalid CORS configuration: `(root)`: not UTF-8 text");
        return None;
    };
    match Config::from_json(text) {
        Ok(config) => Some(config),
        Err(errors) => {
            for e in &errors {
                error!("{e}");
            }
            None
        }
    }
}

/// A filter or per-route configuration (`noun`): its name (`named_us`: one this module answers
/// to under `key`) checked, then compiled and announced in Envoy's log.
fn load(key: &str, noun: &str, named_us: bool, name: &[u8], json: &[u8]) -> Option<Config> {
    if !named_us {
        error!(
            "invalid CORS configuration: unknown {key} {:?}: this module has one filter, \"cors\"",
            String::from_utf8_lossy(name)
        );
        return None;
    }
    let config = compile(json)?;
    info!("{noun} loaded ({} policies besides the top level)", config.routes().len());
    Some(config)
}

/// The metric name: the wasm build's (`cors.actual_allowed`). Envoy prefixes the module's
/// metrics namespace (`dynamicmodulescustom.` by default, as the wasm build's `wasmcustom.`);
/// with the runtime flag `envoy.reloadable_features.dynamic_modules_strip_custom_stat_prefix`
/// Prometheus shows the wasm build's names exactly (`cors_actual_allowed`).
fn counter_name(counter: Counter) -> &'static str {
    counter.name()
}

pub struct Adapter;

impl Callbacks for Adapter {
    type Config = Arc<Shared>;
    type RouteConfig = Arc<Config>;
    type Stream = Stream;

    fn program_init() {
        logger::install();
    }

    fn new_config(handle: ConfigHandle, name: &[u8], json: &[u8]) -> Option<Arc<Shared>> {
        let config = load("filter_name", "configuration", name == FILTER_NAME, name, json)?;
        let counters = define_counters(handle, |c| counter_name(c).to_owned());
        let policy_counters =
            config.policies().map(|p| define_counters(handle, |c| c.policy_metric_name(p.label()))).collect();
        Some(Arc::new(Shared { config: Arc::new(config), counters, policy_counters }))
    }

    fn new_route_config(name: &[u8], json: &[u8]) -> Option<Arc<Config>> {
        // A per-route configuration may leave its name out.
        let named_us = name.is_empty() || name == FILTER_NAME;
        load("per_route_config_name", "per-route configuration", named_us, name, json).map(Arc::new)
    }

    fn new_stream() -> Option<Stream> {
        Some(Stream { filter: RefCell::new(None) })
    }

    fn on_request_headers(
        shared: &Arc<Shared>,
        stream: &Stream,
        handle: StreamHandle,
        route: Option<&Arc<Config>>,
    ) -> HeadersStatus {
        logger::follow_host_level();
        let config = Arc::clone(route.unwrap_or(&shared.config));
        let mut filter = StreamFilter::new(config);
        // The filter is stored only after the call: a local reply runs this stream's response
        // hook inside it, which then finds no filter and leaves the reply alone.
        let policy_counters = if route.is_some() { &[][..] } else { &shared.policy_counters[..] };
        let verdict = filter.on_request_headers(&NativeHost { handle, shared, policy_counters });
        match stream.filter.try_borrow_mut() {
            Ok(mut slot) => *slot = Some(filter),
            Err(_) => warn!("re-entrant request headers hook ignored"),
        }
        match verdict {
            Verdict::Stop => HeadersStatus::StopIteration,
            Verdict::Continue => HeadersStatus::Continue,
        }
    }

    fn on_response_headers(shared: &Arc<Shared>, stream: &Stream, handle: StreamHandle) -> HeadersStatus {
        if let Ok(mut slot) = stream.filter.try_borrow_mut() {
            if let Some(filter) = slot.as_mut() {
                // The response phase counts nothing.
                filter.on_response_headers(&NativeHost { handle, shared, policy_counters: &[] });
            }
        }
        HeadersStatus::Continue
    }
}
