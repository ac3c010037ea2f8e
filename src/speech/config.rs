//! `[speech]`: the free-text speech engine's settings, their defaults and
//! their checks (one line naming the key and the allowed range).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// `[speech]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpeechConfig {
    /// Synthesize free text at all; off, free text that no catalog prompt
    /// speaks takes its node's failure outcome at once.
    pub enabled: bool,
    /// The espeak-ng program (looked up in `PATH` unless a path).
    pub engine: PathBuf,
    /// Worker threads running the engine.
    pub workers: usize,
    /// Requests waiting for a worker before new ones are refused.
    pub queue: usize,
    /// Spoken prompts kept in memory.
    pub memory_entries: usize,
    /// How long a play or gather waits for its speech before it fails (also
    /// the longest one engine run may take).
    pub timeout_ms: u64,
    /// The disk cache; unset: `<data_dir>/speech`.
    pub cache_dir: Option<PathBuf>,
}

impl Default for SpeechConfig {
    fn default() -> Self {
        SpeechConfig {
            enabled: true,
            engine: PathBuf::from("espeak-ng"),
            workers: 2,
            queue: 64,
            memory_entries: super::DEFAULT_MEMORY_ENTRIES,
            timeout_ms: 5000,
            cache_dir: None,
        }
    }
}

impl SpeechConfig {
    /// The wait for one utterance.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The disk cache directory under `data_dir` unless set.
    pub fn cache_dir(&self, data_dir: &Path) -> PathBuf {
        self.cache_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("speech"))
    }

    /// `Err("speech.KEY: …")` for a value out of range.
    pub fn validate(&self) -> Result<(), String> {
        let range = |key: &str, value: u64, min: u64, max: u64| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(format!(
                    "speech.{key}: {value} is not between {min} and {max}"
                ))
            }
        };
        range("workers", self.workers as u64, 1, 64)?;
        range("queue", self.queue as u64, 1, 100_000)?;
        range("memory_entries", self.memory_entries as u64, 0, 1_000_000)?;
        range("timeout_ms", self.timeout_ms, 100, 120_000)?;
        if self.engine.as_os_str().is_empty() {
            return Err("speech.engine: must name the espeak-ng program".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_key() {
        let config = SpeechConfig::default();
        assert!(config.validate().is_ok());
        assert_eq!(
            config.cache_dir(Path::new("/var/lib/callplane")),
            Path::new("/var/lib/callplane/speech")
        );
        let bad = SpeechConfig {
            workers: 0,
            ..SpeechConfig::default()
        };
        assert_eq!(
            bad.validate().unwrap_err(),
            "speech.workers: 0 is not between 1 and 64"
        );
        let bad = SpeechConfig {
            timeout_ms: 5,
            ..SpeechConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .starts_with("speech.timeout_ms:"));
    }
}
