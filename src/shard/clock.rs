//! The shell's clock: turns the OS monotonic clock into the cores' [`Time`],
//! and gives the [`WallClock`] that maps a core [`Time`] to UTC (for flows and
//! for records alike).

use std::time::{Instant, SystemTime};

use chrono::{DateTime, Utc};

use crate::time::Time;
use crate::time::WallClock;

/// One process-wide origin shared by all shards, so their `Time`s agree.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: Instant,
    wall_origin: SystemTime,
}

impl Clock {
    /// A clock whose origin is now.
    pub fn start() -> Clock {
        Clock {
            origin: Instant::now(),
            wall_origin: SystemTime::now(),
        }
    }

    /// The current instant.
    pub fn now(&self) -> Time {
        Time::from_micros(self.origin.elapsed().as_micros().min(u64::MAX as u128) as u64)
    }

    /// Maps core instants to UTC from this clock's origin.
    pub fn wall_clock(&self) -> WallClock {
        WallClock::new(DateTime::<Utc>::from(self.wall_origin))
    }
}
