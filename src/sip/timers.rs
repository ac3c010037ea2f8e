//! RFC 3261 §17 timer values for UDP and the doubling retransmission schedule shared by
//! Timer G (responses to INVITE), the 2xx retransmission of §13.3.1.4 and Timer E
//! (non-INVITE requests).

use crate::time::Time;
use std::time::Duration;

/// Round-trip time estimate.
pub const T1: Duration = Duration::from_millis(500);
/// Maximum retransmission interval for non-INVITE requests and INVITE responses.
pub const T2: Duration = Duration::from_secs(4);
/// Maximum time a message stays in the network.
pub const T4: Duration = Duration::from_secs(5);
/// 64*T1: Timers B, F, H, J and L.
pub(crate) const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(32);

/// Retransmission schedule starting at T1 and doubling up to T2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Backoff {
    next_at: Time,
    interval: Duration,
}

impl Backoff {
    /// First retransmission at `now + T1`.
    pub(crate) fn start(now: Time) -> Backoff {
        Backoff {
            next_at: now + T1,
            interval: T1,
        }
    }

    /// When the next retransmission is due.
    pub(crate) fn next_at(&self) -> Time {
        self.next_at
    }

    /// True if a retransmission is due at `now`.
    pub(crate) fn is_due(&self, now: Time) -> bool {
        self.next_at <= now
    }

    /// Moves the schedule past `now`, doubling the interval (capped at T2) per step.
    /// Several missed steps collapse into one retransmission.
    pub(crate) fn advance(&mut self, now: Time) {
        while self.next_at <= now {
            self.interval = (self.interval * 2).min(T2);
            self.next_at += self.interval;
        }
    }

    /// Switches to a fixed T2 interval from `now` (Timer E in the Proceeding state).
    pub(crate) fn hold_at_t2(&mut self, now: Time) {
        self.interval = T2;
        self.next_at = self.next_at.min(now + T2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_t2() {
        let mut backoff = Backoff::start(Time::ZERO);
        let mut fired = Vec::new();
        let mut now = Time::ZERO;
        while now < Time::from_millis(20_000) {
            now = backoff.next_at();
            fired.push(now.as_millis());
            backoff.advance(now);
        }
        assert_eq!(
            fired,
            vec![500, 1500, 3500, 7500, 11500, 15500, 19500, 23500]
        );
    }

    #[test]
    fn late_calls_collapse_missed_steps() {
        let mut backoff = Backoff::start(Time::ZERO);
        backoff.advance(Time::from_millis(7600));
        assert_eq!(backoff.next_at(), Time::from_millis(11500));
        assert!(!backoff.is_due(Time::from_millis(11499)));
        assert!(backoff.is_due(Time::from_millis(11500)));
    }
}
