//! The shell's clock: turns the OS monotonic clock into the cores' [`Time`]
//! and a core [`Time`] back into wall-clock time for records.

use std::time::{Duration, Instant, SystemTime};

use crate::time::Time;

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

    /// The UTC instant of the origin.
    pub fn wall_origin(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::<chrono::Utc>::from(self.wall_origin)
    }

    /// The wall-clock time of a core instant.
    pub fn wall(&self, t: Time) -> SystemTime {
        self.wall_origin + Duration::from_micros(t.as_micros())
    }
}
