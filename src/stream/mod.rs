//! What the filter does on one HTTP stream, written against a small `Host` trait so that it is
//! tested natively (with a fake host that also counts host calls) and the proxy-wasm adapter
//! stays a thin translation.

use std::fmt;
use std::rc::Rc;

use log::debug;

use crate::config::{Config, Mode, UnmatchedPreflight};
use crate::counter::Counter;
use crate::decision::{AllowOrigin, PreflightRequest};
use crate::header_list::HeaderList;
use crate::policy::Policy;
use crate::response::{ResponseHeaders, CORS_RESPONSE_HEADERS, VARY};
use crate::vary;

pub const ORIGIN: &str = "origin";
pub const REQUEST_METHOD: &str = "access-control-request-method";
pub const REQUEST_HEADERS: &str = "access-control-request-headers";
pub const REQUEST_PRIVATE_NETWORK: &str = "access-control-request-private-network";
pub const METHOD: &str = ":method";
pub const AUTHORITY: &str = ":authority";
pub const PATH: &str = ":path";

/// The host calls the filter needs. Values are bytes: header values need not be UTF-8.
pub trait Host {
    fn request_header(&self, name: &str) -> Option<Vec<u8>>;
    /// Every request header (pseudo-headers included), in one call.
    fn request_headers(&self) -> HeaderList;
    /// Every response header, in one call.
    fn response_headers(&self) -> HeaderList;
    /// Replaces every value of `name`, or removes it with `None`.
    fn set_response_header(&self, name: &str, value: Option<&str>);
    /// Adds a header line (the header is known to be absent: no lookup needed).
    fn add_response_header(&self, name: &str, value: &str);
    /// Replaces the whole response header map (one host call for many edits).
    fn replace_response_headers(&self, headers: &HeaderList);
    fn send_response(&self, status: u32, headers: &[(&str, &str)]);
    fn count(&self, counter: Counter);
}

/// Whether the host should go on with the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Continue,
    /// A local reply was sent; stop the request here.
    Stop,
}

/// What the request phase decided for the response phase.
#[derive(Debug, Default)]
enum State {
    /// Leave the response alone: shadow mode, forwarded preflight, or no CORS concern.
    #[default]
    Untouched,
    /// Our own local reply: it passes back through this filter and must not be touched twice.
    LocalReply,
    /// No `Origin`: only `Vary: Origin`.
    NoOrigin,
    Allowed {
        route: Option<usize>,
        /// The origin to echo; `None` for `*`.
        echo: Option<String>,
    },
    Denied {
        route: Option<usize>,
    },
}

/// One stream's filter.
pub struct StreamFilter {
    config: Rc<Config>,
    state: State,
}

impl StreamFilter {
    pub fn new(config: Rc<Config>) -> Self {
        StreamFilter { config, state: State::Untouched }
    }

    pub fn on_request_headers(&mut self, host: &impl Host) -> Verdict {
        let Some(origin) = host.request_header(ORIGIN) else {
            if self.config.vary_without_origin() {
                self.state = State::NoOrigin;
            }
            return Verdict::Continue;
        };
        // A preflight is an OPTIONS with Access-Control-Request-Method; any other request,
        // OPTIONS included, is an actual request. When ACRM is there, one call reads every
        // header (and every line of repeated ones) instead of one call per header.
        if host.request_header(REQUEST_METHOD).is_some() {
            let all = host.request_headers();
            if all.first(METHOD) == Some(b"OPTIONS") {
                return self.on_preflight(host, &all);
            }
        }
        self.on_actual(host, origin)
    }

    fn select(&self, host: &impl Host) -> (Option<usize>, &Policy) {
        let config = &self.config;
        if config.routes().is_empty() {
            return (None, config.default_policy());
        }
        let authority = config.needs_authority().then(|| host.request_header(AUTHORITY)).flatten();
        let path = config.needs_path().then(|| host.request_header(PATH)).flatten();
        config.select_indexed(authority.as_deref(), path.as_deref())
    }

    fn on_actual(&mut self, host: &impl Host, origin: Vec<u8>) -> Verdict {
        let (route, policy) = self.select(host);
        match policy.check_origin(&origin) {
            Some(allow) => {
                host.count(Counter::ActualAllowed);
                debug!("actual request allowed: origin {} by {}", Logged(&origin), policy.name);
                if policy.mode() == Mode::Enforce {
                    self.state = match allow {
                        AllowOrigin::Any => State::Allowed { route, echo: None },
                        // An echoed origin passed the ASCII syntax check; were it not text, deny
                        // rather than fall back to `*`.
                        AllowOrigin::Echo(_) => match String::from_utf8(origin) {
                            Ok(o) => State::Allowed { route, echo: Some(o) },
                            Err(_) => State::Denied { route },
                        },
                    };
                }
            }
            None => {
                host.count(Counter::ActualDenied);
                debug!("actual request denied: origin {} not allowed by {}", Logged(&origin), policy.name);
                if policy.mode() == Mode::Enforce {
                    self.state = State::Denied { route };
                } else {
                    host.count(Counter::ShadowWouldDeny);
                }
            }
        }
        Verdict::Continue
    }

    fn on_preflight(&mut self, host: &impl Host, all: &HeaderList) -> Verdict {
        let values = |name: &'static str| -> Vec<&[u8]> { all.values(name).collect() };
        let origins = values(ORIGIN);
        // A browser sends one method; several lines are ambiguous, so none is allowed.
        let method = match values(REQUEST_METHOD)[..] {
            [one] => one,
            _ => b"".as_slice(),
        };
        let request_headers = values(REQUEST_HEADERS);
        let private_network = values(REQUEST_PRIVATE_NETWORK).first().is_some_and(|v| v.eq_ignore_ascii_case(b"true"));
        let config = Rc::clone(&self.config);
        let (_, policy) = if config.routes().is_empty() {
            (None, config.default_policy())
        } else {
            let authority = values(AUTHORITY).first().copied();
            let path = values(PATH).first().copied();
            config.select_indexed(authority, path)
        };
        let request =
            PreflightRequest { origins: &origins, method, request_headers: &request_headers, private_network };
        let origin_text = || Logged(origins.first().copied().unwrap_or_default());
        match policy.check_preflight(&request) {
            Ok(allow) => {
                host.count(Counter::PreflightAllowed);
                debug!("preflight allowed: origin {} by {}", origin_text(), policy.name);
                if policy.mode() == Mode::Shadow {
                    return Verdict::Continue;
                }
                let headers = policy.preflight_headers(allow, private_network);
                self.reply(host, policy.preflight_status(), headers)
            }
            Err(reason) => {
                host.count(reason.preflight_counter());
                debug!("preflight denied: {} (origin {}, {})", reason.as_str(), origin_text(), policy.name);
                if policy.mode() == Mode::Shadow {
                    host.count(Counter::ShadowWouldDeny);
                    return Verdict::Continue;
                }
                match policy.unmatched_preflight() {
                    UnmatchedPreflight::Forward => Verdict::Continue,
                    UnmatchedPreflight::Reject => self.reply(host, 403, policy.rejected_preflight_headers()),
                }
            }
        }
    }

    fn reply(&mut self, host: &impl Host, status: u32, headers: ResponseHeaders<'_>) -> Verdict {
        self.state = State::LocalReply;
        host.send_response(status, headers.as_slice());
        Verdict::Stop
    }

    pub fn on_response_headers(&mut self, host: &impl Host) -> Verdict {
        let (route, echo, allowed) = match std::mem::take(&mut self.state) {
            State::Untouched | State::LocalReply => return Verdict::Continue,
            State::NoOrigin => {
                if let Some(v) = merged_vary(&host.response_headers()) {
                    host.set_response_header(VARY, Some(&v));
                }
                return Verdict::Continue;
            }
            State::Allowed { route, echo } => (route, echo, true),
            State::Denied { route } => (route, None, false),
        };
        let policy = self.config.policy(route);
        let existing = host.response_headers();
        let ours = if allowed {
            let allow = echo.as_deref().map_or(AllowOrigin::Any, AllowOrigin::Echo);
            policy.actual_headers(allow)
        } else {
            ResponseHeaders::default()
        };
        let vary = if policy.varies_by_origin() { merged_vary(&existing) } else { None };
        let stale = |k: &[u8]| CORS_RESPONSE_HEADERS.iter().any(|c| k.eq_ignore_ascii_case(c.as_bytes()));
        if !existing.iter().any(|(k, _)| stale(k)) {
            // The usual case: the upstream sent no CORS header, so ours are appended without a
            // lookup, and only Vary is replaced.
            for (name, value) in ours.as_slice() {
                host.add_response_header(name, value);
            }
            if let Some(v) = &vary {
                host.set_response_header(VARY, Some(v));
            }
        } else {
            // The upstream's own CORS headers are replaced by the policy's, never duplicated:
            // one call writes the whole map, in the upstream's order.
            let replaced = |k: &[u8]| stale(k) || (vary.is_some() && k.eq_ignore_ascii_case(VARY.as_bytes()));
            let mut pairs: Vec<(&[u8], &[u8])> = existing.iter().filter(|(k, _)| !replaced(k)).collect();
            pairs.extend(ours.as_slice().iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())));
            if let Some(v) = &vary {
                pairs.push((VARY.as_bytes(), v.as_bytes()));
            }
            host.replace_response_headers(&HeaderList::from_pairs(pairs.iter().copied()));
        }
        Verdict::Continue
    }
}

fn merged_vary(existing: &HeaderList) -> Option<String> {
    vary::merge(existing.values(VARY), "Origin")
}

/// Request bytes in a log line: quoted, at most 256 bytes, anything but printable ASCII
/// escaped, so a hostile header can neither forge log lines nor flood them.
struct Logged<'a>(&'a [u8]);

impl fmt::Display for Logged<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for &b in self.0.iter().take(256) {
            write!(f, "{}", std::ascii::escape_default(b))?;
        }
        f.write_str(if self.0.len() > 256 { "\"..." } else { "\"" })
    }
}

#[cfg(test)]
mod tests;
