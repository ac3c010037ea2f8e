//! The fixed 20 ms send schedule of one outgoing stream: slot n is due at
//! `start + n * 20 ms`, so lateness never accumulates as drift. A shell that wakes a
//! little late sends every due slot; one that wakes more than [`MAX_LATENESS`] late
//! skips the stale slots instead of bursting them.

use std::time::Duration;

use crate::media::codec::FRAME_DURATION;
use crate::time::Time;

/// How late the oldest due slot may be before stale slots are skipped.
pub const MAX_LATENESS: Duration = Duration::from_millis(200);

/// Send instants of one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendSchedule {
    start: Time,
    next_slot: u64,
}

impl SendSchedule {
    /// A schedule whose first slot is due at `start`.
    pub fn new(start: Time) -> SendSchedule {
        SendSchedule {
            start,
            next_slot: 0,
        }
    }

    /// Index of the next slot to send.
    pub fn next_slot(&self) -> u64 {
        self.next_slot
    }

    /// When the next slot is due.
    pub fn next_send_time(&self) -> Time {
        let offset = self
            .next_slot
            .saturating_mul(FRAME_DURATION.as_micros() as u64);
        Time::from_micros(self.start.as_micros().saturating_add(offset))
    }

    /// Whether the next slot is due at `now`.
    pub fn is_due(&self, now: Time) -> bool {
        self.next_send_time() <= now
    }

    /// If the next slot is more than [`MAX_LATENESS`] late at `now`, moves on to the
    /// newest due slot and returns how many slots were passed over; otherwise 0.
    pub fn skip_stale(&mut self, now: Time) -> u64 {
        let lateness = now - self.next_send_time();
        if lateness <= MAX_LATENESS {
            return 0;
        }
        let skipped = (lateness.as_micros() / FRAME_DURATION.as_micros()) as u64;
        self.next_slot = self.next_slot.saturating_add(skipped);
        skipped
    }

    /// Marks the next slot as sent.
    pub fn advance(&mut self) {
        self.next_slot = self.next_slot.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_twenty_ms_apart_from_the_start() {
        let mut schedule = SendSchedule::new(Time::from_millis(1_000));
        assert_eq!(schedule.next_send_time(), Time::from_millis(1_000));
        assert!(!schedule.is_due(Time::from_millis(999)));
        assert!(schedule.is_due(Time::from_millis(1_000)));
        schedule.advance();
        assert_eq!(schedule.next_send_time(), Time::from_millis(1_020));
        assert_eq!(schedule.next_slot(), 1);
    }

    #[test]
    fn lateness_up_to_the_limit_is_kept() {
        let mut schedule = SendSchedule::new(Time::ZERO);
        assert_eq!(schedule.skip_stale(Time::from_millis(200)), 0);
        assert_eq!(schedule.next_slot(), 0);
    }

    #[test]
    fn stale_slots_are_skipped_to_the_newest_due_one() {
        let mut schedule = SendSchedule::new(Time::ZERO);
        assert_eq!(schedule.skip_stale(Time::from_millis(1_010)), 50);
        assert_eq!(schedule.next_send_time(), Time::from_millis(1_000));
        assert!(schedule.is_due(Time::from_millis(1_010)));
        schedule.advance();
        assert!(!schedule.is_due(Time::from_millis(1_010)));
    }

    #[test]
    fn far_future_does_not_overflow() {
        let mut schedule = SendSchedule::new(Time::from_micros(u64::MAX - 10));
        schedule.advance();
        assert_eq!(schedule.next_send_time(), Time::from_micros(u64::MAX));
        assert_eq!(schedule.skip_stale(Time::from_micros(u64::MAX)), 0);
    }
}
