//! The RTP send pacer of one outgoing stream: a fixed 20 ms grid where slot n is due
//! at `start + n * 20 ms`, so lateness never accumulates as drift. A shell that wakes
//! a little late sends every due slot; one that wakes more than [`MAX_LATENESS`] late
//! skips the stale slots instead of bursting them.

use std::time::Duration;

use crate::media::codec::FRAME_DURATION;
use crate::time::Time;

/// How late the oldest due slot may be before stale slots are skipped.
const MAX_LATENESS: Duration = Duration::from_millis(200);

/// Paces one stream: which send slot is next and when it is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pacer {
    /// When slot 0 is due.
    start: Time,
    /// Index of the next slot to send; every slot before it was sent or skipped.
    next_slot: u64,
}

impl Pacer {
    /// A pacer whose first slot is due at `start`.
    pub(crate) fn new(start: Time) -> Pacer {
        Pacer {
            start,
            next_slot: 0,
        }
    }

    /// Index of the next slot to send.
    #[cfg(test)]
    pub(crate) fn next_slot(&self) -> u64 {
        self.next_slot
    }

    /// When the next slot is due.
    pub(crate) fn next_send_time(&self) -> Time {
        let offset = self
            .next_slot
            .saturating_mul(FRAME_DURATION.as_micros() as u64);
        Time::from_micros(self.start.as_micros().saturating_add(offset))
    }

    /// Whether the next slot is due at `now`.
    pub(crate) fn is_due(&self, now: Time) -> bool {
        self.next_send_time() <= now
    }

    /// If the next slot is more than [`MAX_LATENESS`] late at `now`, moves on to the
    /// newest due slot and returns how many slots were passed over; otherwise 0.
    pub(crate) fn skip_stale(&mut self, now: Time) -> u64 {
        let lateness = now - self.next_send_time();
        if lateness <= MAX_LATENESS {
            return 0;
        }
        let skipped = (lateness.as_micros() / FRAME_DURATION.as_micros()) as u64;
        self.next_slot = self.next_slot.saturating_add(skipped);
        skipped
    }

    /// Marks the next slot as sent.
    pub(crate) fn advance(&mut self) {
        self.next_slot = self.next_slot.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_twenty_ms_apart_from_the_start() {
        let mut pacer = Pacer::new(Time::from_millis(1_000));
        assert_eq!(pacer.next_send_time(), Time::from_millis(1_000));
        assert!(!pacer.is_due(Time::from_millis(999)));
        assert!(pacer.is_due(Time::from_millis(1_000)));
        pacer.advance();
        assert_eq!(pacer.next_send_time(), Time::from_millis(1_020));
        assert_eq!(pacer.next_slot(), 1);
    }

    #[test]
    fn lateness_up_to_the_limit_is_kept() {
        let mut pacer = Pacer::new(Time::ZERO);
        assert_eq!(pacer.skip_stale(Time::from_millis(200)), 0);
        assert_eq!(pacer.next_slot(), 0);
    }

    #[test]
    fn stale_slots_are_skipped_to_the_newest_due_one() {
        let mut pacer = Pacer::new(Time::ZERO);
        assert_eq!(pacer.skip_stale(Time::from_millis(1_010)), 50);
        assert_eq!(pacer.next_send_time(), Time::from_millis(1_000));
        assert!(pacer.is_due(Time::from_millis(1_010)));
        pacer.advance();
        assert!(!pacer.is_due(Time::from_millis(1_010)));
    }

    #[test]
    fn far_future_does_not_overflow() {
        let mut pacer = Pacer::new(Time::from_micros(u64::MAX - 10));
        pacer.advance();
        assert_eq!(pacer.next_send_time(), Time::from_micros(u64::MAX));
        assert_eq!(pacer.skip_stale(Time::from_micros(u64::MAX)), 0);
    }
}
