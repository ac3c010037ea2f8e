//! How a recording is made: channel layout, limits, the end key.

use std::time::Duration;

/// The mean absolute sample level under which a frame counts as silence
/// (about −45 dBFS: line noise and comfort noise stay under it, speech does not).
pub const DEFAULT_SILENCE_THRESHOLD: u16 = 180;

/// How the parties are laid out in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// One channel: the caller, with the other party mixed in.
    #[default]
    Mono,
    /// Two channels: the caller left, the other party right.
    Dual,
}

impl Layout {
    /// Channels in the file.
    pub fn channels(self) -> usize {
        match self {
            Layout::Mono => 1,
            Layout::Dual => 2,
        }
    }
}

/// A recording's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecorderSettings {
    /// Mono (mixed) or dual channel.
    pub layout: Layout,
    /// The recording ends after this long; none: when stopped or the call ends.
    pub max_duration: Option<Duration>,
    /// The recording ends after this much uninterrupted silence from the caller.
    pub end_of_silence: Option<Duration>,
    /// The level under which a frame is silence (mean absolute sample).
    pub silence_threshold: u16,
    /// The recording ends when the caller presses this key.
    pub end_of_key: Option<char>,
}

impl Default for RecorderSettings {
    fn default() -> RecorderSettings {
        RecorderSettings {
            layout: Layout::Mono,
            max_duration: None,
            end_of_silence: None,
            silence_threshold: DEFAULT_SILENCE_THRESHOLD,
            end_of_key: None,
        }
    }
}
