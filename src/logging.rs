//! The server's logs: `tracing` with text or JSON lines, the level from
//! `--log-level`, else `RUST_LOG`, else `[log] level`, else `info`.
//!
//! The code logs through the `log` macros; tracing-subscriber's `tracing-log`
//! bridge turns those records into tracing events, so they carry the span
//! they were emitted in: a shard enters a call's span (`call_id`, `shard`)
//! while it works on that call, and every line of the call can be found by
//! its Call-ID.

use std::str::FromStr;

use serde::Deserialize;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines: time, level, spans with their fields, message.
    #[default]
    Text,
    /// One JSON object per line (time, level, fields, the spans' fields).
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<LogFormat, String> {
        match text {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("expected text or json, got {other:?}")),
        }
    }
}

/// `[log]`: the level and format when neither flag nor `RUST_LOG` sets them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A filter such as `info` or `info,callplane::call=debug`.
    pub level: Option<String>,
    /// `text` or `json`.
    pub format: LogFormat,
}

/// Checks a level filter as the server would read it.
pub fn parse_filter(filter: &str) -> Result<EnvFilter, String> {
    EnvFilter::try_new(filter).map_err(|err| format!("bad log level {filter:?}: {err}"))
}

/// The filter in force: the flag, else `RUST_LOG`, else the config, else `info`.
pub fn choose_filter(flag: Option<&str>, config: Option<&str>) -> Result<EnvFilter, String> {
    if let Some(flag) = flag {
        return parse_filter(flag);
    }
    if let Ok(env) = std::env::var("RUST_LOG") {
        if !env.trim().is_empty() {
            return parse_filter(&env).map_err(|err| format!("RUST_LOG: {err}"));
        }
    }
    parse_filter(config.unwrap_or("info"))
}

/// Installs the subscriber (and the `log` bridge) for the process, writing to stderr.
pub fn init(format: LogFormat, filter: EnvFilter) -> Result<(), String> {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    installed.map_err(|err| format!("cannot install the logger: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_bad_ones_are_named() {
        assert_eq!("json".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert_eq!("text".parse::<LogFormat>(), Ok(LogFormat::Text));
        let err = "xml".parse::<LogFormat>().unwrap_err();
        assert!(err.contains("\"xml\""), "{err}");
    }

    #[test]
    fn a_bad_level_is_refused_with_its_text() {
        assert!(parse_filter("info,callplane::call=debug").is_ok());
        let err = parse_filter("callplane=loud").unwrap_err();
        assert!(err.contains("callplane=loud"), "{err}");
    }

    #[test]
    fn the_flag_wins_over_the_config() {
        let filter = choose_filter(Some("warn"), Some("debug")).expect("valid");
        assert_eq!(filter.to_string(), "warn");
    }
}
