//! `log` records go to Envoy's log through `proxy_log`, at the level Envoy sets for wasm.

use std::fmt::Write as _;

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::abi::{self, LogLevel};

struct HostLogger;

static LOGGER: HostLogger = HostLogger;

impl Log for HostLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        let mut message = String::new();
        if write!(message, "{}", record.args()).is_ok() {
            // Nowhere to report a failed log call.
            let _ = abi::log(level, &message);
        }
    }

    fn flush(&self) {}
}

/// Installs the logger and a panic hook that logs the panic before the VM aborts. Called once,
/// when the VM starts.
pub fn install() {
    // Only fails if a logger is already set, which then keeps working.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(LevelFilter::Info);
    std::panic::set_hook(Box::new(|info| {
        let _ = abi::log(LogLevel::Critical, &info.to_string());
    }));
}

/// Follows the host's level (`--component-log-level wasm:debug` shows every decision).
pub fn follow_host_level() {
    if let Ok(level) = abi::log_level() {
        log::set_max_level(match level {
            LogLevel::Trace => LevelFilter::Trace,
            LogLevel::Debug => LevelFilter::Debug,
            LogLevel::Info => LevelFilter::Info,
            LogLevel::Warn => LevelFilter::Warn,
            LogLevel::Error => LevelFilter::Error,
            LogLevel::Critical => LevelFilter::Off,
        });
    }
}
