//! Wall-clock time for flows (schedules, `condition_datetime`): the shell
//! gives the host the UTC instant of its time origin once; every core
//! [`Time`] maps to UTC from there, deterministically.

use chrono::{DateTime, Utc};

use crate::time::Time;

/// Maps core instants to UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WallClock {
    origin: DateTime<Utc>,
}

impl WallClock {
    /// A clock whose [`Time::ZERO`] is `origin`.
    pub fn new(origin: DateTime<Utc>) -> WallClock {
        WallClock { origin }
    }

    /// The UTC instant of `t`.
    pub fn at(&self, t: Time) -> DateTime<Utc> {
        let micros = i64::try_from(t.as_micros()).unwrap_or(i64::MAX);
        self.origin
            .checked_add_signed(chrono::Duration::microseconds(micros))
            .unwrap_or(self.origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_core_time_onto_the_origin() {
        let origin = DateTime::parse_from_rfc3339("2026-11-21T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = WallClock::new(origin);
        assert_eq!(clock.at(Time::ZERO), origin);
        assert_eq!(
            clock.at(Time::from_millis(90_000)).to_rfc3339(),
            "2026-11-21T09:01:30+00:00"
        );
    }
}
