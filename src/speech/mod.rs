//! Free-text speech: sentences a flow says (`say`, `talk`, `promptText`) that no
//! catalog prompt speaks, synthesized offline by espeak-ng on a pool of worker
//! threads off the shards, resampled to 8 kHz and encoded once per codec like a
//! catalog prompt, and cached in memory (a bounded LRU of shared prompts) and on
//! disk (under the data directory), keyed by (engine, voice, text).
//!
//! This is IO (processes, files, threads): it lives beside `shard`, not in the
//! sans-IO cores. A shard submits a [`SpeechRequest`] with a reply callback and
//! never waits; the callback posts the result back as an input to the call.
//! The queue is bounded: when it is full a request fails at once rather than
//! piling up behind a slow engine.

mod cache;
mod config;
mod espeak;
pub mod language;
mod pool;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use cache::{cache_key, DiskCache, MemoryCache};
pub use config::SpeechConfig;
pub use espeak::Espeak;
pub use pool::{SpeechPool, SpeechReply, SpeechWorkers};

use crate::media::Prompt;

/// Longest text synthesized, in bytes (a few minutes of speech).
pub const MAX_TEXT_BYTES: usize = 4096;
/// Prompts kept in memory by default.
pub const DEFAULT_MEMORY_ENTRIES: usize = 512;
/// Longest synthesis allowed by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One utterance to synthesize, as a flow gave it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SpeechRequest {
    /// The words.
    pub text: String,
    /// The flow's language (`en-US`), if any.
    pub language: Option<String>,
    /// The flow's voice, if any.
    pub voice: Option<String>,
}

/// Why speech could not be synthesized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpeechError {
    /// No voice for the language.
    #[error("{0}")]
    Language(String),
    /// Nothing to say, or too much.
    #[error("{0}")]
    Text(String),
    /// The engine could not run or failed.
    #[error("speech engine: {0}")]
    Engine(String),
    /// The engine overran its deadline and was stopped.
    #[error("speech synthesis took longer than {0:?}")]
    Timeout(Duration),
    /// The engine's output was not audio.
    #[error("speech engine output: {0}")]
    Output(String),
    /// Every worker is busy and the queue is full.
    #[error("speech queue full ({0} waiting)")]
    QueueFull(usize),
    /// The pool has stopped.
    #[error("speech workers have stopped")]
    Stopped,
}

/// Where an utterance came from (counted, and shown by the benchmarks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The in-memory cache.
    Memory,
    /// The disk cache.
    Disk,
    /// A fresh synthesis.
    Engine,
}

impl Source {
    /// How logs name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Memory => "the memory cache",
            Source::Disk => "the disk cache",
            Source::Engine => "the engine",
        }
    }
}

/// The engine with its caches; shared by every worker.
#[derive(Debug)]
pub struct Synthesizer {
    /// The engine.
    engine: Espeak,
    /// Recently spoken prompts.
    memory: Mutex<MemoryCache>,
    /// Every prompt spoken, if a directory was given.
    disk: Option<DiskCache>,
    /// Engine runs so far.
    engine_runs: AtomicU64,
    /// Utterances served from the memory or disk cache.
    cache_hits: AtomicU64,
    /// Names temporary files uniquely.
    sequence: AtomicU64,
    /// Where temporary output goes when there is no disk cache.
    scratch: PathBuf,
}

impl Synthesizer {
    /// A synthesizer over `engine`, caching `memory_entries` prompts in memory and
    /// every prompt in `disk` if given.
    pub fn new(engine: Espeak, memory_entries: usize, disk: Option<DiskCache>) -> Synthesizer {
        let scratch = disk
            .as_ref()
            .map(|disk| disk.dir().to_path_buf())
            .unwrap_or_else(std::env::temp_dir);
        Synthesizer {
            engine,
            memory: Mutex::new(MemoryCache::new(memory_entries)),
            disk,
            engine_runs: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            sequence: AtomicU64::new(0),
            scratch,
        }
    }

    /// Times the engine has run.
    pub fn engine_runs(&self) -> u64 {
        self.engine_runs.load(Ordering::Relaxed)
    }

    /// Utterances served from a cache so far.
    pub fn cache_hits(&self) -> u64 {
        self.cache_hits.load(Ordering::Relaxed)
    }

    /// The prompt speaking `request`, from a cache or freshly synthesized.
    pub fn speak(&self, request: &SpeechRequest) -> Result<Arc<Prompt>, SpeechError> {
        self.speak_from(request).map(|(prompt, _)| prompt)
    }

    /// [`Synthesizer::speak`], saying where the prompt came from.
    pub fn speak_from(
        &self,
        request: &SpeechRequest,
    ) -> Result<(Arc<Prompt>, Source), SpeechError> {
        let text = request.text.trim();
        if text.is_empty() {
            return Err(SpeechError::Text(
                "nothing to say: the text is empty".into(),
            ));
        }
        if text.len() > MAX_TEXT_BYTES {
            return Err(SpeechError::Text(format!(
                "text of {} bytes is longer than {MAX_TEXT_BYTES}",
                text.len()
            )));
        }
        let voice = self
            .engine
            .voice(request.language.as_deref(), request.voice.as_deref())?;
        let key = cache_key(self.engine.version(), &voice, text);
        let id = format!("speech:{}", &key[..16]);
        if let Some(prompt) = self.memory_cache().get(&key) {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok((prompt, Source::Memory));
        }
        if let Some(bytes) = self.disk.as_ref().and_then(|disk| disk.get(&key)) {
            match Prompt::from_wav_bytes(&id, Some(text.to_owned()), &bytes) {
                Ok(prompt) => {
                    let prompt = Arc::new(prompt);
                    self.memory_cache().put(key, Arc::clone(&prompt));
                    self.cache_hits.fetch_add(1, Ordering::Relaxed);
                    return Ok((prompt, Source::Disk));
                }
                Err(err) => log::warn!("speech cache entry {key}: {err}; synthesizing again"),
            }
        }
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let scratch = self
            .scratch
            .join(format!(".speech-{}-{sequence}.wav", std::process::id()));
        self.engine_runs.fetch_add(1, Ordering::Relaxed);
        let wav = self.engine.synthesize(text, &voice, &scratch)?;
        let prompt = Prompt::from_wav_bytes(&id, Some(text.to_owned()), &wav)
            .map_err(|err| SpeechError::Output(err.to_string()))?;
        if prompt.samples().is_empty() {
            return Err(SpeechError::Output(format!("no audio for {text:?}")));
        }
        if let Some(disk) = &self.disk {
            if let Err(err) = disk.put(&key, &prompt) {
                log::warn!("speech cache {}: {err}", disk.dir().display());
            }
        }
        let prompt = Arc::new(prompt);
        self.memory_cache().put(key, Arc::clone(&prompt));
        Ok((prompt, Source::Engine))
    }

    /// The memory cache, even if a worker panicked holding it.
    fn memory_cache(&self) -> std::sync::MutexGuard<'_, MemoryCache> {
        self.memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests;
