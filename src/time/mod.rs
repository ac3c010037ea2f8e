//! Time as the sans-IO cores see it: a monotonic instant handed in by the IO shell.
//!
//! `flow`, `sip`, `media` and `call` never read a clock. The shard converts the
//! operating system's monotonic clock into a [`Time`] (microseconds since the
//! shard started) and passes it to every `handle_*` call; tests build one from
//! plain numbers and move it forward by hand. [`WallClock`] maps a [`Time`] to
//! UTC for flows that look at the calendar.

mod wall;

pub use wall::WallClock;

use std::ops::{Add, AddAssign, Sub};
use std::time::Duration;

/// A monotonic instant, in microseconds since an origin chosen by the IO shell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(u64);

impl Time {
    /// The origin.
    pub const ZERO: Time = Time(0);

    /// An instant that never comes: the deadline of something with no timer.
    pub const NEVER: Time = Time(u64::MAX);

    /// An instant `micros` microseconds after the origin.
    pub const fn from_micros(micros: u64) -> Time {
        Time(micros)
    }

    /// An instant `millis` milliseconds after the origin.
    pub const fn from_millis(millis: u64) -> Time {
        Time(millis * 1000)
    }

    /// Microseconds since the origin.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Milliseconds since the origin, rounded down.
    pub const fn as_millis(self) -> u64 {
        self.0 / 1000
    }

    /// How long after `earlier` this instant is; zero if it is not later.
    pub fn saturating_since(self, earlier: Time) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, rhs: Duration) -> Time {
        Time(
            self.0
                .saturating_add(rhs.as_micros().min(u64::MAX as u128) as u64),
        )
    }
}

impl AddAssign<Duration> for Time {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Time> for Time {
    type Output = Duration;
    fn sub(self, rhs: Time) -> Duration {
        self.saturating_since(rhs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_panicking() {
        let t = Time::from_millis(20);
        assert_eq!(t + Duration::from_millis(20), Time::from_millis(40));
        assert_eq!(Time::from_millis(40) - t, Duration::from_millis(20));
        assert_eq!(t - Time::from_millis(40), Duration::ZERO);
        assert_eq!(
            Time::from_micros(u64::MAX) + Duration::from_secs(1),
            Time::from_micros(u64::MAX)
        );
    }
}
