//! Writes recordings off the shard threads: one writer thread fed by a
//! bounded channel of [`RecordingWork`] from every shard.
//!
//! A shard never waits on the disk: [`RecordingSink::submit`] does not block;
//! when the channel is full the work is dropped and counted
//! ([`RecordingStats::dropped`]) — an `Append` lost is 200 ms of audio missing
//! from one file, never a stalled call. Files are created 0640 (never
//! overwritten) under the data directory, at the relative paths the call
//! layer made from generated ids; a path that is absolute or climbs out is
//! refused.
//!
//! Every open file is flushed at least every [`FLUSH_EVERY`] — for WAV the
//! RIFF and data sizes are rewritten each time — so a crash or `kill -9`
//! leaves a playable file missing at most that much plus the chunk that was
//! on its way (200 ms). A file whose `Close` never came (dropped) is closed
//! after [`IDLE_CLOSE`] without data. A write that fails (disk full,
//! directory unwritable) ends that file with a log line and a count
//! ([`RecordingStats::failed`]); later work for it is ignored.

mod lame;
mod mp3;
mod ogg_opus;
#[cfg(test)]
mod tests;
mod wav;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::call::{RecordingFormat, RecordingWork};

/// The longest an open file goes without a flush.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(500);
/// A file without data for this long is closed (its `Close` was lost).
pub(crate) const IDLE_CLOSE: Duration = Duration::from_secs(60);
/// Work items the channel holds: at 5 chunks a second per call, 8192 is
/// over 1 s of backlog for 1600 recording calls.
pub(crate) const CHANNEL_CAPACITY: usize = 8192;

/// Counters of the writer, shared with whoever reports them.
#[derive(Debug, Default)]
pub struct RecordingStats {
    /// Work dropped because the channel was full or the writer gone.
    pub dropped: AtomicU64,
    /// Files that could not be created or written (disk full, unwritable).
    pub failed: AtomicU64,
    /// Files opened.
    pub opened: AtomicU64,
    /// Files finished.
    pub closed: AtomicU64,
    /// Bytes in finished files.
    pub bytes: AtomicU64,
}

/// The sending side, cloned into every shard.
#[derive(Clone)]
pub struct RecordingSink {
    sender: SyncSender<RecordingWork>,
    stats: Arc<RecordingStats>,
}

impl RecordingSink {
    /// Queues work without waiting; full or gone: dropped and counted.
    pub fn submit(&self, work: RecordingWork) {
        match self.sender.try_send(work) {
            Ok(()) => {}
            Err(TrySendError::Full(work)) | Err(TrySendError::Disconnected(work)) => {
                let dropped = self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                if dropped.is_power_of_two() || dropped == 0 {
                    log::warn!(
                        "recording writer behind: work for {} dropped ({} so far)",
                        file_of(&work),
                        dropped + 1
                    );
                }
            }
        }
    }

    /// The writer's counters.
    pub fn stats(&self) -> &Arc<RecordingStats> {
        &self.stats
    }
}

/// The writer thread.
pub struct RecordingWriter {
    thread: Option<JoinHandle<()>>,
    stats: Arc<RecordingStats>,
}

impl RecordingWriter {
    /// Starts the writer for files under `data_dir`.
    pub fn start(data_dir: &Path) -> io::Result<(RecordingWriter, RecordingSink)> {
        Self::with_capacity(data_dir, CHANNEL_CAPACITY)
    }

    /// As [`RecordingWriter::start`] with a channel of `capacity` items.
    pub fn with_capacity(
        data_dir: &Path,
        capacity: usize,
    ) -> io::Result<(RecordingWriter, RecordingSink)> {
        let (sender, receiver) = sync_channel(capacity.max(1));
        let stats = Arc::new(RecordingStats::default());
        let files = Files {
            root: data_dir.to_path_buf(),
            open: HashMap::new(),
            stats: stats.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("recording-writer".into())
            .spawn(move || files.run(receiver))?;
        Ok((
            RecordingWriter {
                thread: Some(thread),
                stats: stats.clone(),
            },
            RecordingSink { sender, stats },
        ))
    }

    /// The writer's counters.
    pub fn stats(&self) -> &Arc<RecordingStats> {
        &self.stats
    }

    /// Waits until every sink is dropped and every file finished.
    pub fn finish(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A file being written in one format.
trait Encoder: Send {
    /// Appends 8 kHz samples (interleaved when two channels).
    fn append(&mut self, samples: &[i16]) -> io::Result<()>;
    /// Makes everything so far durable and readable (headers valid).
    fn flush(&mut self) -> io::Result<()>;
    /// Finishes the file; its size in bytes.
    fn finish(self: Box<Self>) -> io::Result<u64>;
}

struct OpenFile {
    encoder: Box<dyn Encoder>,
    last_flush: Instant,
    last_data: Instant,
}

struct Files {
    root: PathBuf,
    open: HashMap<Arc<str>, OpenFile>,
    stats: Arc<RecordingStats>,
}

impl Files {
    fn run(mut self, receiver: Receiver<RecordingWork>) {
        loop {
            match receiver.recv_timeout(FLUSH_EVERY / 2) {
                Ok(work) => self.handle(work),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            self.flush_due(Instant::now());
        }
        let files: Vec<Arc<str>> = self.open.keys().cloned().collect();
        for file in files {
            self.close(&file, None);
        }
    }

    fn handle(&mut self, work: RecordingWork) {
        match work {
            RecordingWork::Open {
                file,
                format,
                channels,
            } => self.open(file, format, channels),
            RecordingWork::Append { file, samples } => {
                let Some(open) = self.open.get_mut(&file) else {
                    return;
                };
                open.last_data = Instant::now();
                if let Err(err) = open.encoder.append(&samples) {
                    self.fail(&file, "write", &err);
                }
            }
            RecordingWork::Close { file, metadata } => self.close(&file, metadata),
        }
    }

    fn open(&mut self, file: Arc<str>, format: RecordingFormat, channels: u16) {
        let encoder = match self.path_of(&file).and_then(|path| {
            let handle = create(&path)?;
            new_encoder(handle, format, channels)
        }) {
            Ok(encoder) => encoder,
            Err(err) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                log::error!("recording {file}: cannot create: {err}");
                return;
            }
        };
        self.stats.opened.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        self.open.insert(
            file,
            OpenFile {
                encoder,
                last_flush: now,
                last_data: now,
            },
        );
    }

    fn close(&mut self, file: &str, metadata: Option<(String, String)>) {
        let Some(open) = self.open.remove(file) else {
            return;
        };
        match open.encoder.finish() {
            Ok(bytes) => {
                self.stats.closed.fetch_add(1, Ordering::Relaxed);
                self.stats.bytes.fetch_add(bytes, Ordering::Relaxed);
                log::info!("recording {file}: {bytes} bytes");
            }
            Err(err) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                log::error!("recording {file}: cannot finish: {err}");
            }
        }
        if let Some((path, json)) = metadata {
            let written = self.path_of(&path).and_then(|path| {
                use std::io::Write;
                let mut handle = create(&path)?;
                handle.write_all(json.as_bytes())?;
                handle.write_all(b"\n")?;
                handle.sync_all()
            });
            if let Err(err) = written {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                log::error!("recording {file}: cannot write its metadata {path}: {err}");
            }
        }
    }

    fn fail(&mut self, file: &str, what: &str, err: &io::Error) {
        self.stats.failed.fetch_add(1, Ordering::Relaxed);
        log::error!("recording {file}: cannot {what}: {err}; the recording ends here");
        if let Some(open) = self.open.remove(file) {
            let _ = open.encoder.finish();
        }
    }

    fn flush_due(&mut self, now: Instant) {
        let mut failed = Vec::new();
        let mut idle = Vec::new();
        for (file, open) in &mut self.open {
            if now.duration_since(open.last_data) >= IDLE_CLOSE {
                idle.push(file.clone());
            } else if now.duration_since(open.last_flush) >= FLUSH_EVERY {
                open.last_flush = now;
                if let Err(err) = open.encoder.flush() {
                    failed.push((file.clone(), err));
                }
            }
        }
        for (file, err) in failed {
            self.fail(&file, "flush", &err);
        }
        for file in idle {
            log::warn!("recording {file}: no data for {IDLE_CLOSE:?}; closed");
            self.close(&file, None);
        }
    }

    /// `relative` under the root, its directories created; refused when it is
    /// absolute or has anything but plain names.
    fn path_of(&self, relative: &str) -> io::Result<PathBuf> {
        let path = Path::new(relative);
        let plain = path.components().all(|c| matches!(c, Component::Normal(_)));
        if !plain || relative.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not a plain relative path: {relative:?}"),
            ));
        }
        let full = self.root.join(path);
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir)?;
        }
        Ok(full)
    }
}

/// A new file, 0640, never one that exists.
fn create(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o640)
        .open(path)
}

fn new_encoder(file: File, format: RecordingFormat, channels: u16) -> io::Result<Box<dyn Encoder>> {
    Ok(match format {
        RecordingFormat::Wav => Box::new(wav::WavEncoder::new(file, channels)?),
        RecordingFormat::Mp3 => Box::new(mp3::Mp3Encoder::new(file, channels)?),
        RecordingFormat::Ogg => Box::new(ogg_opus::OggOpusEncoder::new(file, channels)?),
    })
}

fn file_of(work: &RecordingWork) -> &str {
    match work {
        RecordingWork::Open { file, .. }
        | RecordingWork::Append { file, .. }
        | RecordingWork::Close { file, .. } => file,
    }
}

/// The sample rate every recording is written at.
const SAMPLE_RATE: u32 = 8000;
