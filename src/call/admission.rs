//! Which new calls a shard takes: the trunks' source allow list and a limit on
//! new INVITEs per source address, so a flood from one address (a scanner, a
//! misbehaving carrier) does not hurt the calls already admitted.
//!
//! The limit is a token bucket per source IP, refilled continuously at the
//! configured rate and holding at most one second's worth. The shard's share
//! of the server-wide rate is the rate divided by the shards, since calls are
//! spread over shards by Call-ID. Buckets live in a map bounded in size: when
//! it is full, buckets that have refilled completely (idle sources) are
//! dropped — an occasional sweep on insert, never on the packet path.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::time::Time;

/// Sources tracked at once before idle ones are swept.
const MAX_TRACKED_SOURCES: usize = 4096;

/// What to do with a new INVITE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Take the call.
    Admit,
    /// No trunk allows its source: 403.
    UnknownSource,
    /// Its source is over the rate: 503 with `Retry-After` of this many seconds.
    OverRate {
        /// Whole seconds until the source has a token again (at least 1).
        retry_after_secs: u64,
    },
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Time,
}

/// A shard's admission policy and its per-source buckets.
#[derive(Debug)]
pub struct AdmissionControl {
    allowed: Arc<[ipnet::IpNet]>,
    /// New INVITEs per second and source this shard takes; 0: no limit.
    rate: f64,
    buckets: HashMap<IpAddr, Bucket>,
}

impl AdmissionControl {
    /// A policy for one of `shards` shards: `allowed` ranges (empty: any
    /// source) and `rate_per_source` new INVITEs per second per source for the
    /// whole server (0: no limit).
    pub fn new(allowed: Arc<[ipnet::IpNet]>, rate_per_source: u32, shards: usize) -> Self {
        AdmissionControl {
            allowed,
            rate: f64::from(rate_per_source) / shards.max(1) as f64,
            buckets: HashMap::new(),
        }
    }

    /// Decides on a new INVITE from `source` at `now` (taking a token if admitted).
    pub fn admit(&mut self, now: Time, source: IpAddr) -> Admission {
        let allowed = &self.allowed;
        if !allowed.is_empty() && !allowed.iter().any(|net| net.contains(&source)) {
            return Admission::UnknownSource;
        }
        if self.rate <= 0.0 {
            return Admission::Admit;
        }
        let capacity = self.rate.max(1.0);
        if self.buckets.len() >= MAX_TRACKED_SOURCES && !self.buckets.contains_key(&source) {
            self.sweep_idle(now, capacity);
        }
        let rate = self.rate;
        let bucket = self.buckets.entry(source).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = (now - bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Admission::Admit
        } else {
            let wait = Duration::from_secs_f64((1.0 - bucket.tokens) / rate);
            Admission::OverRate {
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
        }
    }

    /// Drops the buckets of sources that have been quiet long enough to be full.
    fn sweep_idle(&mut self, now: Time, capacity: f64) {
        let rate = self.rate;
        self.buckets
            .retain(|_, b| b.tokens + (now - b.at).as_secs_f64() * rate < capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_source_gets_its_rate_then_503_then_tokens_again() {
        let mut control = AdmissionControl::new(Vec::new().into(), 4, 2);
        let at = |ms| Time::from_millis(ms);
        // 4/s over 2 shards: 2/s here, a burst of 2.
        assert_eq!(control.admit(at(0), ip("192.0.2.1")), Admission::Admit);
        assert_eq!(control.admit(at(0), ip("192.0.2.1")), Admission::Admit);
        assert_eq!(
            control.admit(at(0), ip("192.0.2.1")),
            Admission::OverRate {
                retry_after_secs: 1
            }
        );
        // Another source is not affected.
        assert_eq!(control.admit(at(0), ip("192.0.2.2")), Admission::Admit);
        // Half a second later one token is back.
        assert_eq!(control.admit(at(500), ip("192.0.2.1")), Admission::Admit);
        assert!(matches!(
            control.admit(at(500), ip("192.0.2.1")),
            Admission::OverRate { .. }
        ));
    }

    #[test]
    fn the_allow_list_comes_first_and_no_rate_means_no_limit() {
        let allowed: Vec<ipnet::IpNet> = vec!["192.0.2.0/24".parse().unwrap()];
        let mut control = AdmissionControl::new(allowed.into(), 0, 1);
        assert_eq!(
            control.admit(Time::ZERO, ip("198.51.100.1")),
            Admission::UnknownSource
        );
        for _ in 0..1000 {
            assert_eq!(control.admit(Time::ZERO, ip("192.0.2.9")), Admission::Admit);
        }
    }

    #[test]
    fn idle_sources_are_swept_when_the_map_is_full() {
        let mut control = AdmissionControl::new(Vec::new().into(), 10, 1);
        for i in 0..MAX_TRACKED_SOURCES as u32 {
            let source = IpAddr::from(std::net::Ipv4Addr::from(0xc612_0000 + i));
            control.admit(Time::ZERO, source);
        }
        assert_eq!(control.buckets.len(), MAX_TRACKED_SOURCES);
        // A second later every bucket has refilled: the next new source sweeps them.
        control.admit(Time::from_millis(1_000), ip("192.0.2.1"));
        assert_eq!(control.buckets.len(), 1);
    }
}
