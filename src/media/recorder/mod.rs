//! The recorder of one call: fed the 20 ms frames the jitter buffer plays out
//! (decoded, concealed or silence, so the call's timeline is kept under loss
//! and reordering), it decides when the recording ends — stopped, max
//! duration, a run of silence, a key — and hands out the samples in chunks
//! for a writer off the shard.
//!
//! Sans-IO: no file, no clock. Frames carry the instant they were played out;
//! the recording's length is counted in frames. The caller's frame drives the
//! timeline; the other party's (a bridge's far leg) is kept until the next
//! caller frame, which writes it as the right channel ([`Layout::Dual`]) or
//! mixed in ([`Layout::Mono`]).
//!
//! Chunks are [`CHUNK_FRAMES`] frames (200 ms) long: a writer gets a few
//! messages a second per call, not one per frame. Their buffers are taken
//! from a free list that [`Recorder::recycle`] refills, so a writer that
//! hands buffers back makes the recorder allocate nothing in steady state.

mod settings;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::Duration;

use crate::time::Time;

pub use settings::{Layout, RecorderSettings, DEFAULT_SILENCE_THRESHOLD};

/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;
/// The length of one frame.
pub const FRAME: Duration = Duration::from_millis(20);
/// Frames per chunk handed to the writer: 200 ms.
pub const CHUNK_FRAMES: usize = 10;

/// Which side of the call a frame comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The caller (the inbound leg): left channel.
    Caller,
    /// The other party (a bridged leg): right channel.
    Other,
}

/// Why a recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The flow stopped it.
    Stopped,
    /// It reached its longest allowed duration.
    MaxDuration,
    /// The caller was silent for the `end_of_silence` time.
    Silence,
    /// The caller pressed the end key.
    Key(char),
    /// The call ended.
    CallEnded,
}

impl StopReason {
    /// The reason's name, as flow variables and the CDR spell it.
    pub fn name(self) -> &'static str {
        match self {
            StopReason::Stopped => "stopped",
            StopReason::MaxDuration => "max_duration",
            StopReason::Silence => "silence",
            StopReason::Key(_) => "key",
            StopReason::CallEnded => "hangup",
        }
    }
}

/// What the recorder hands out.
#[derive(Debug, PartialEq, Eq)]
pub enum RecorderOutput {
    /// Samples to append to the file: 8 kHz, interleaved left/right for
    /// [`Layout::Dual`].
    Chunk(Vec<i16>),
    /// The recording has ended; every chunk came before this.
    Ended(StopReason),
}

/// The recording's figures so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecorderCounters {
    /// Frames written (each 20 ms).
    pub frames: u64,
    /// Frames the lead-in (a beep) skipped before the recording began.
    pub skipped_frames: u64,
    /// Chunks handed out.
    pub chunks: u64,
    /// Chunk buffers that had to be allocated (the free list was empty).
    pub allocations: u64,
}

impl RecorderCounters {
    /// The recorded length.
    pub fn duration(&self) -> Duration {
        FRAME * u32::try_from(self.frames).unwrap_or(u32::MAX)
    }
}

/// One recording in progress.
pub struct Recorder {
    settings: RecorderSettings,
    started_at: Option<Time>,
    lead_in_left: u32,
    silent_frames: u32,
    silence_limit: Option<u32>,
    max_frames: Option<u64>,
    other: [i16; FRAME_SAMPLES],
    other_fresh: bool,
    chunk: Vec<i16>,
    free: Vec<Vec<i16>>,
    out: VecDeque<RecorderOutput>,
    ended: Option<StopReason>,
    counters: RecorderCounters,
}

impl Recorder {
    /// A recorder that begins after `lead_in` (the beep played first; zero for none).
    pub fn new(settings: RecorderSettings, lead_in: Duration) -> Recorder {
        let frames_of = |d: Duration| (d.as_millis() / FRAME.as_millis()) as u64;
        let silence_limit = settings
            .end_of_silence
            .map(|d| u32::try_from(frames_of(d).max(1)).unwrap_or(u32::MAX));
        let max_frames = settings.max_duration.map(|d| frames_of(d).max(1));
        let chunk_len = CHUNK_FRAMES * FRAME_SAMPLES * settings.layout.channels();
        Recorder {
            lead_in_left: u32::try_from(frames_of(lead_in)).unwrap_or(u32::MAX),
            silence_limit,
            max_frames,
            started_at: None,
            silent_frames: 0,
            other: [0; FRAME_SAMPLES],
            other_fresh: false,
            chunk: Vec::with_capacity(chunk_len),
            free: Vec::new(),
            out: VecDeque::new(),
            ended: None,
            counters: RecorderCounters::default(),
            settings,
        }
    }

    /// The settings it records with.
    pub fn settings(&self) -> &RecorderSettings {
        &self.settings
    }

    /// The instant the first frame was written; none before.
    pub fn started_at(&self) -> Option<Time> {
        self.started_at
    }

    /// Whether it has ended (its `Ended` may still wait in [`Recorder::poll_output`]).
    pub fn is_ended(&self) -> bool {
        self.ended.is_some()
    }

    /// Why it ended; none while it runs.
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.ended
    }

    /// Frames, chunks, allocations so far.
    pub fn counters(&self) -> RecorderCounters {
        self.counters
    }

    /// One 20 ms frame played out for `party` at `now`. Shorter frames are
    /// padded with silence, longer ones cut: the timeline stays 20 ms a frame.
    pub fn handle_frame(&mut self, now: Time, party: Party, frame: &[i16]) {
        if self.ended.is_some() {
            return;
        }
        if party == Party::Other {
            let n = frame.len().min(FRAME_SAMPLES);
            self.other[..n].copy_from_slice(&frame[..n]);
            self.other[n..].fill(0);
            self.other_fresh = true;
            return;
        }
        if self.lead_in_left > 0 {
            self.lead_in_left -= 1;
            self.counters.skipped_frames += 1;
            self.other_fresh = false;
            return;
        }
        self.started_at.get_or_insert(now);
        let silent = is_silent(frame, self.settings.silence_threshold);
        self.append(frame);
        self.counters.frames += 1;
        if self.chunk.len() >= CHUNK_FRAMES * FRAME_SAMPLES * self.settings.layout.channels() {
            self.emit_chunk();
        }
        self.silent_frames = if silent { self.silent_frames + 1 } else { 0 };
        if self
            .silence_limit
            .is_some_and(|limit| self.silent_frames >= limit)
        {
            self.end(StopReason::Silence);
        } else if self
            .max_frames
            .is_some_and(|max| self.counters.frames >= max)
        {
            self.end(StopReason::MaxDuration);
        }
    }

    /// A key the caller pressed: the end key ends the recording.
    pub fn handle_digit(&mut self, digit: char) {
        if self.settings.end_of_key == Some(digit) {
            self.end(StopReason::Key(digit));
        }
    }

    /// Ends the recording now (the flow stopped it, or the call ended).
    pub fn stop(&mut self, reason: StopReason) {
        self.end(reason);
    }

    /// The next chunk or the end; `None` when nothing waits.
    pub fn poll_output(&mut self) -> Option<RecorderOutput> {
        self.out.pop_front()
    }

    /// A chunk buffer the writer is done with, for reuse.
    pub fn recycle(&mut self, mut buffer: Vec<i16>) {
        if self.free.len() < 4 {
            buffer.clear();
            self.free.push(buffer);
        }
    }

    fn append(&mut self, frame: &[i16]) {
        let n = frame.len().min(FRAME_SAMPLES);
        let mut own = [0i16; FRAME_SAMPLES];
        own[..n].copy_from_slice(&frame[..n]);
        if !std::mem::replace(&mut self.other_fresh, false) {
            self.other.fill(0);
        }
        let pairs = own.iter().zip(self.other.iter());
        match self.settings.layout {
            Layout::Mono => self
                .chunk
                .extend(pairs.map(|(&own, &other)| own.saturating_add(other))),
            Layout::Dual => {
                for (&own, &other) in pairs {
                    self.chunk.push(own);
                    self.chunk.push(other);
                }
            }
        }
    }

    fn emit_chunk(&mut self) {
        if self.chunk.is_empty() {
            return;
        }
        let next = match self.free.pop() {
            Some(buffer) => buffer,
            None => {
                self.counters.allocations += 1;
                Vec::with_capacity(CHUNK_FRAMES * FRAME_SAMPLES * self.settings.layout.channels())
            }
        };
        let full = std::mem::replace(&mut self.chunk, next);
        self.counters.chunks += 1;
        self.out.push_back(RecorderOutput::Chunk(full));
    }

    fn end(&mut self, reason: StopReason) {
        if self.ended.is_some() {
            return;
        }
        self.emit_chunk();
        self.ended = Some(reason);
        self.out.push_back(RecorderOutput::Ended(reason));
    }
}

/// Whether a frame's mean absolute level is under `threshold`.
fn is_silent(frame: &[i16], threshold: u16) -> bool {
    if frame.is_empty() {
        return true;
    }
    let sum: u64 = frame.iter().map(|s| u64::from(s.unsigned_abs())).sum();
    sum / (frame.len() as u64) < u64::from(threshold)
}
