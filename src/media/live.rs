//! Live audio a leg sends in place of silence: 20 ms frames of 8 kHz samples
//! pushed by whoever feeds the leg (the other leg of a bridge, a mixer), taken
//! one per send slot.
//!
//! The feeder and the leg run on two clocks (the feeder's frames come off its
//! own jitter buffer's playout grid, the leg sends on its pacer's), so the
//! queue holds a few frames of slack: a slot with nothing queued sends
//! silence (an underrun, counted), and a push onto a full queue drops the
//! oldest frame (an overrun, counted) so the delay between the two never
//! grows. Fixed storage: nothing allocates per frame.

use crate::media::codec::FRAME_SAMPLES;

/// Frames of slack between the feeder and the leg: 60 ms.
pub const LIVE_QUEUE_FRAMES: usize = 3;

/// Counters of a live-audio queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveAudioStats {
    /// Frames pushed.
    pub pushed: u64,
    /// Frames sent.
    pub sent: u64,
    /// Send slots that found the queue empty while live audio was on.
    pub underruns: u64,
    /// Frames dropped because the queue was full.
    pub overruns: u64,
}

/// The queue of live frames a leg sends.
#[derive(Debug)]
pub struct LiveAudio {
    frames: [[i16; FRAME_SAMPLES]; LIVE_QUEUE_FRAMES],
    /// Index of the oldest queued frame.
    head: usize,
    len: usize,
    stats: LiveAudioStats,
}

impl Default for LiveAudio {
    fn default() -> Self {
        LiveAudio {
            frames: [[0; FRAME_SAMPLES]; LIVE_QUEUE_FRAMES],
            head: 0,
            len: 0,
            stats: LiveAudioStats::default(),
        }
    }
}

impl LiveAudio {
    /// Queues one frame; a full queue drops its oldest first.
    pub fn push(&mut self, frame: &[i16; FRAME_SAMPLES]) {
        if self.len == LIVE_QUEUE_FRAMES {
            self.head = (self.head + 1) % LIVE_QUEUE_FRAMES;
            self.len -= 1;
            self.stats.overruns += 1;
        }
        let tail = (self.head + self.len) % LIVE_QUEUE_FRAMES;
        self.frames[tail] = *frame;
        self.len += 1;
        self.stats.pushed += 1;
    }

    /// The oldest queued frame, taken off the queue; `None` (an underrun) when empty.
    pub fn pop(&mut self) -> Option<&[i16; FRAME_SAMPLES]> {
        if self.len == 0 {
            self.stats.underruns += 1;
            return None;
        }
        let at = self.head;
        self.head = (self.head + 1) % LIVE_QUEUE_FRAMES;
        self.len -= 1;
        self.stats.sent += 1;
        Some(&self.frames[at])
    }

    /// Drops whatever is queued (live audio stops, or a prompt takes over).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Frames queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The counters.
    pub fn stats(&self) -> LiveAudioStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(value: i16) -> [i16; FRAME_SAMPLES] {
        [value; FRAME_SAMPLES]
    }

    #[test]
    fn frames_come_out_in_order() {
        let mut live = LiveAudio::default();
        live.push(&frame(1));
        live.push(&frame(2));
        assert_eq!(live.pop().map(|f| f[0]), Some(1));
        assert_eq!(live.pop().map(|f| f[0]), Some(2));
        assert_eq!(live.pop(), None);
        let stats = live.stats();
        assert_eq!((stats.pushed, stats.sent, stats.underruns), (2, 2, 1));
    }

    #[test]
    fn a_full_queue_drops_its_oldest_frame() {
        let mut live = LiveAudio::default();
        for value in 1..=5 {
            live.push(&frame(value));
        }
        assert_eq!(live.len(), LIVE_QUEUE_FRAMES);
        assert_eq!(live.stats().overruns, 2);
        assert_eq!(live.pop().map(|f| f[0]), Some(3));
        assert_eq!(live.pop().map(|f| f[0]), Some(4));
        assert_eq!(live.pop().map(|f| f[0]), Some(5));
        assert!(live.is_empty());
    }

    #[test]
    fn clear_empties_the_queue() {
        let mut live = LiveAudio::default();
        live.push(&frame(7));
        live.clear();
        assert!(live.is_empty());
        assert_eq!(live.pop(), None);
    }
}
