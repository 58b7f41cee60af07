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
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
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

/// Installs the logger and a panic hook that logs a panic in Envoy's log (the hooks catch it;
/// Envoy goes on). Called once, when Envoy loads the module.
pub fn install() {
    // Only fails if a logger is already set, which then keeps working.
    let _ = log::set_logger(&LOGGER);
    follow_host_level();
    std::panic::set_hook(Box::new(|info| {
        abi::log(LogLevel::Critical, &format!("envoy-cors: {info}"));
    }));
}

/// Follows Envoy's level for dynamic modules (`--component-log-level dynamic_modules:debug`
/// shows every decision), read when a configuration is created.
pub fn follow_host_level() {
    let level = [Level::Trace, Level::Debug, Level::Info, Level::Warn, Level::Error]
        .into_iter()
        .find(|&l| abi::log_enabled(host_level(l)))
        .map_or(LevelFilter::Off, |l| l.to_level_filter());
    log::set_max_level(level);
}
