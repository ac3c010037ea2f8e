//! RFC 3261 §17 timer values for UDP — T1, T2 and T4, configurable per server
//! ([`SipTimers`]), the RFC's values by default — and the doubling retransmission
//! schedule shared by Timer G (responses to INVITE), the 2xx retransmission of
//! §13.3.1.4 and Timer E (non-INVITE requests).

use crate::time::Time;
use std::time::Duration;

/// Round-trip time estimate.
pub const T1: Duration = Duration::from_millis(500);
/// Maximum retransmission interval for non-INVITE requests and INVITE responses.
pub const T2: Duration = Duration::from_secs(4);
/// Maximum time a message stays in the network.
pub const T4: Duration = Duration::from_secs(5);
/// The timer base values every transaction of a server uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SipTimers {
    /// Round-trip time estimate: the first retransmission interval (RFC: 500 ms).
    pub t1: Duration,
    /// Longest retransmission interval (RFC: 4 s).
    pub t2: Duration,
    /// How long a message may stay in the network: Timers I and K (RFC: 5 s).
    pub t4: Duration,
}

impl Default for SipTimers {
    fn default() -> Self {
        SipTimers {
            t1: T1,
            t2: T2,
            t4: T4,
        }
    }
}

impl SipTimers {
    /// 64·T1: Timers B, F, H, J and L.
    pub fn transaction_timeout(&self) -> Duration {
        self.t1 * 64
    }
}

/// Retransmission schedule starting at T1 and doubling up to T2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Backoff {
    next_at: Time,
    interval: Duration,
    cap: Duration,
}

impl Backoff {
    /// First retransmission at `now + T1`, doubling up to T2.
    pub(crate) fn start(now: Time, timers: &SipTimers) -> Backoff {
        Backoff {
            next_at: now + timers.t1,
            interval: timers.t1,
            cap: timers.t2,
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
            self.interval = (self.interval * 2).min(self.cap);
            self.next_at += self.interval;
        }
    }

    /// Switches to a fixed T2 interval from `now` (Timer E in the Proceeding state).
    pub(crate) fn hold_at_t2(&mut self, now: Time) {
        self.interval = self.cap;
        self.next_at = self.next_at.min(now + self.cap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_t2() {
        let mut backoff = Backoff::start(Time::ZERO, &SipTimers::default());
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
        let mut backoff = Backoff::start(Time::ZERO, &SipTimers::default());
        backoff.advance(Time::from_millis(7600));
        assert_eq!(backoff.next_at(), Time::from_millis(11500));
        assert!(!backoff.is_due(Time::from_millis(11499)));
        assert!(backoff.is_due(Time::from_millis(11500)));
    }
}
