//! The synthesized-speech caches: a bounded in-memory LRU of shared prompts and
//! a directory of 8 kHz mono WAV files, both keyed by a SHA-256 of (engine and
//! its version, voice, text). A disk entry is written to a temporary name and
//! renamed, so a reader never sees half a file.

use std::collections::HashMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::media::Prompt;

/// The cache key of one utterance: hex SHA-256.
pub fn cache_key(engine: &str, voice: &str, text: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [engine, voice, text] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Prompts by key, the least recently used dropped past `capacity`.
#[derive(Debug)]
pub struct MemoryCache {
    /// Entries with the tick of their last use.
    entries: HashMap<String, (Arc<Prompt>, u64)>,
    /// Uses so far (the LRU clock).
    tick: u64,
    /// Most entries kept.
    capacity: usize,
}

impl MemoryCache {
    /// An empty cache of at most `capacity` prompts (0 keeps none).
    pub fn new(capacity: usize) -> MemoryCache {
        MemoryCache {
            entries: HashMap::new(),
            tick: 0,
            capacity,
        }
    }

    /// The prompt under `key`, marked as just used.
    pub fn get(&mut self, key: &str) -> Option<Arc<Prompt>> {
        self.tick += 1;
        let tick = self.tick;
        let (prompt, used) = self.entries.get_mut(key)?;
        *used = tick;
        Some(Arc::clone(prompt))
    }

    /// Keeps `prompt` under `key`, evicting the least recently used past capacity.
    pub fn put(&mut self, key: String, prompt: Arc<Prompt>) {
        if self.capacity == 0 {
            return;
        }
        self.tick += 1;
        self.entries.insert(key, (prompt, self.tick));
        while self.entries.len() > self.capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(key, _)| key.clone());
            match oldest {
                Some(key) => self.entries.remove(&key),
                None => break,
            };
        }
    }

    /// Prompts held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// WAV files under one directory.
#[derive(Clone, Debug)]
pub struct DiskCache {
    /// Where the files are.
    dir: PathBuf,
}

impl DiskCache {
    /// A cache in `dir`, created if missing.
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<DiskCache> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(DiskCache { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of `key`.
    pub fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.wav"))
    }

    /// The WAV bytes stored under `key`, if any.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path(key)).ok()
    }

    /// Stores `prompt`'s 8 kHz samples under `key`.
    pub fn put(&self, key: &str, prompt: &Prompt) -> std::io::Result<()> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut bytes = Cursor::new(Vec::with_capacity(44 + prompt.samples().len() * 2));
        {
            let mut writer =
                hound::WavWriter::new(&mut bytes, spec).map_err(std::io::Error::other)?;
            for &sample in prompt.samples() {
                writer.write_sample(sample).map_err(std::io::Error::other)?;
            }
            writer.finalize().map_err(std::io::Error::other)?;
        }
        let temporary = self.dir.join(format!(".{key}.{}.tmp", std::process::id()));
        std::fs::write(&temporary, bytes.get_ref())?;
        std::fs::rename(&temporary, self.path(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(id: &str) -> Arc<Prompt> {
        Arc::new(Prompt::from_samples(id, None, vec![100; 160]))
    }

    #[test]
    fn keys_separate_every_part() {
        let key = cache_key("espeak-ng 1.51", "en-us", "hello");
        assert_eq!(key.len(), 64);
        assert_eq!(key, cache_key("espeak-ng 1.51", "en-us", "hello"));
        assert_ne!(key, cache_key("espeak-ng 1.52", "en-us", "hello"));
        assert_ne!(key, cache_key("espeak-ng 1.51", "en-gb", "hello"));
        assert_ne!(key, cache_key("espeak-ng 1.51", "en-us", "hello."));
        // Lengths are hashed too: moving a boundary changes the key.
        assert_ne!(cache_key("a", "bc", "d"), cache_key("ab", "c", "d"));
    }

    #[test]
    fn memory_cache_drops_the_least_recently_used() {
        let mut cache = MemoryCache::new(2);
        cache.put("a".into(), prompt("a"));
        cache.put("b".into(), prompt("b"));
        assert!(cache.get("a").is_some());
        cache.put("c".into(), prompt("c"));
        assert_eq!(cache.len(), 2);
        assert!(cache.get("b").is_none(), "b was least recently used");
        assert!(cache.get("a").is_some() && cache.get("c").is_some());
        let mut none = MemoryCache::new(0);
        none.put("a".into(), prompt("a"));
        assert!(none.is_empty());
    }
}
