//! `log` records go to Envoy's log (component `dynamic_modules`), with the wasm build's lines.

use std::fmt::Write as _;

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::abi::{self, LogLevel};

struct HostLogger;

static LOGGER: HostLogger = HostLogger;

fn host_level(level: Level) -> LogLevel {
    match level {
        Level::Trace => LogLevel::Trace,
        Level::Debug => LogLevel::Debug,
        Level::Info => LogLevel::Info,
        Level::Warn => LogLevel::Warn,
        Level::Error => LogLevel::Error,
    }
}

impl Log for HostLogger {
    /// Asks Envoy, whose level can change at runtime (`POST /logging?dynamic_modules=debug`):
    /// one cheap call per record that passes the static filter, and nothing formatted for a
    /// level Envoy does not log.
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        abi::log_enabled(host_level(metadata.level()))
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut message = String::new();
        if write!(message, "{}", record.args()).is_ok() {
            abi::log(host_level(record.level()), &message);
        }
    }

    fn flush(&self) {}
}

/// Sets the `log` macros' own filter from Envoy's current level, once per request: when Envoy
/// logs no debug lines, a debug record is dropped before its arguments are evaluated (a
/// denial's description is built only to be logged), with no call into Envoy per record.
pub fn follow_host_level() {
    let max = if abi::log_enabled(LogLevel::Debug) { LevelFilter::Trace } else { LevelFilter::Info };
    if log::max_level() != max {
        log::set_max_level(max);
    }
}

/// Installs the logger and a panic hook that logs a panic in Envoy's log (the hooks catch it;
/// Envoy goes on). Called once, when Envoy loads the module.
pub fn install() {
    // Only fails if a logger is already set, which then keeps working.
    let _ = log::set_logger(&LOGGER);
    // Every record reaches `enabled`, which follows Envoy's current level, until the first
    // request sets the filter (`follow_host_level`).
    log::set_max_level(LevelFilter::Trace);
    std::panic::set_hook(Box::new(|info| {
        abi::log(LogLevel::Critical, &format!("envoy-cors: {info}"));
    }));
}
