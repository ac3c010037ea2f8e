//! What one caller's receive side measures of the far end's RTP stream:
//! interarrival jitter (RFC 3550 §6.4.1), the gaps between arrivals, loss,
//! duplicates and reordering.
//!
//! Sequence numbers are extended over wraps (RFC 3550 appendix A.1). A
//! window of the last [`WINDOW`] sequence numbers tells a duplicate from a
//! late packet; a packet older than the window counts as reordered.

use crate::time::Time;

/// Sequence numbers remembered for duplicate detection.
pub const WINDOW: u64 = 512;

/// Receive measurements of one stream.
#[derive(Clone, Debug)]
pub struct ReceiveStats {
    clock_rate: u32,
    packets: u64,
    duplicates: u64,
    reordered: u64,
    first: Option<u64>,
    highest: u64,
    seen: [u64; (WINDOW / 64) as usize],
    /// RFC 3550 jitter estimate in timestamp units.
    jitter: f64,
    /// Relative transit time of the previous packet (arrival − RTP
    /// timestamp, in timestamp units).
    last_transit: Option<f64>,
    last_arrival: Option<Time>,
    max_jitter: f64,
    /// Gaps between consecutive arrivals, µs.
    gaps_us: Vec<u32>,
}

/// A stream's figures when it ends.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ReceiveSummary {
    /// Datagrams received, duplicates included.
    pub packets: u64,
    /// Packets never received: expected (from the sequence numbers) − unique received.
    pub lost: u64,
    /// Packets received more than once (the extra copies).
    pub duplicates: u64,
    /// Packets that arrived after a later one.
    pub reordered: u64,
    /// The RFC 3550 jitter at the end, ms.
    pub jitter_ms: f64,
    /// The highest RFC 3550 jitter seen during the stream, ms.
    pub max_jitter_ms: f64,
    /// Median gap between arrivals, ms.
    pub gap_p50_ms: f64,
    /// 99th percentile gap between arrivals, ms.
    pub gap_p99_ms: f64,
    /// Longest gap between arrivals, ms.
    pub gap_max_ms: f64,
}

impl ReceiveStats {
    /// Measurements of a stream on an RTP clock of `clock_rate` Hz.
    pub fn new(clock_rate: u32) -> ReceiveStats {
        ReceiveStats {
            clock_rate: clock_rate.max(1),
            packets: 0,
            duplicates: 0,
            reordered: 0,
            first: None,
            highest: 0,
            seen: [0; (WINDOW / 64) as usize],
            jitter: 0.0,
            last_transit: None,
            last_arrival: None,
            max_jitter: 0.0,
            gaps_us: Vec::new(),
        }
    }

    fn bit(&mut self, extended: u64) -> (usize, u64) {
        let slot = (extended % WINDOW) as usize;
        (slot / 64, 1u64 << (slot % 64))
    }

    /// One packet with `sequence` and RTP `timestamp` arrived at `at`.
    pub fn on_packet(&mut self, at: Time, sequence: u16, timestamp: u32) {
        self.packets += 1;
        if let Some(last) = self.last_arrival {
            let gap = at.as_micros().saturating_sub(last.as_micros());
            self.gaps_us.push(gap.min(u64::from(u32::MAX)) as u32);
        }
        self.last_arrival = Some(at);

        let extended = match self.first {
            None => {
                // Start high enough that a packet just before the first stays positive.
                let extended = (1u64 << 16) + u64::from(sequence);
                self.first = Some(extended);
                self.highest = extended;
                let (word, mask) = self.bit(extended);
                self.seen[word] |= mask;
                extended
            }
            Some(_) => {
                let delta = sequence.wrapping_sub(self.highest as u16) as i16;
                let extended = (self.highest as i64 + i64::from(delta)).max(0) as u64;
                if extended > self.highest {
                    let from = (self.highest + 1).max(extended.saturating_sub(WINDOW - 1));
                    for s in from..=extended {
                        let (word, mask) = self.bit(s);
                        self.seen[word] &= !mask;
                    }
                    self.highest = extended;
                    let (word, mask) = self.bit(extended);
                    self.seen[word] |= mask;
                } else if self.highest - extended >= WINDOW {
                    self.reordered += 1;
                } else {
                    let (word, mask) = self.bit(extended);
                    if self.seen[word] & mask != 0 {
                        self.duplicates += 1;
                        return;
                    }
                    self.seen[word] |= mask;
                    self.reordered += 1;
                    if let Some(first) = self.first {
                        if extended < first {
                            self.first = Some(extended);
                        }
                    }
                }
                extended
            }
        };
        let _ = extended;

        // RFC 3550 §6.4.1: D = (Rj − Ri) − (Sj − Si), J += (|D| − J) / 16.
        let arrival = at.as_micros() as f64 * f64::from(self.clock_rate) / 1e6;
        let transit = arrival - f64::from(timestamp);
        if let Some(last) = self.last_transit {
            let mut d = transit - last;
            // RTP timestamps wrap at 2^32.
            let wrap = 4_294_967_296.0;
            if d > wrap / 2.0 {
                d -= wrap;
            } else if d < -wrap / 2.0 {
                d += wrap;
            }
            self.jitter += (d.abs() - self.jitter) / 16.0;
            self.max_jitter = self.max_jitter.max(self.jitter);
        }
        self.last_transit = Some(transit);
    }

    /// The current RFC 3550 jitter, ms.
    pub fn jitter_ms(&self) -> f64 {
        self.jitter * 1000.0 / f64::from(self.clock_rate)
    }

    /// Packets received so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// The figures so far; `gaps_us` is sorted in place.
    pub fn summary(&mut self) -> ReceiveSummary {
        let expected = match self.first {
            Some(first) => self.highest - first + 1,
            None => 0,
        };
        let unique = self.packets - self.duplicates;
        self.gaps_us.sort_unstable();
        let ms = |us: u32| f64::from(us) / 1000.0;
        let pick = |q: f64| -> f64 {
            if self.gaps_us.is_empty() {
                return 0.0;
            }
            let index = ((self.gaps_us.len() - 1) as f64 * q).round() as usize;
            ms(self.gaps_us[index])
        };
        ReceiveSummary {
            packets: self.packets,
            lost: expected.saturating_sub(unique),
            duplicates: self.duplicates,
            reordered: self.reordered,
            jitter_ms: self.jitter_ms(),
            max_jitter_ms: self.max_jitter * 1000.0 / f64::from(self.clock_rate),
            gap_p50_ms: pick(0.50),
            gap_p99_ms: pick(0.99),
            gap_max_ms: self.gaps_us.last().map(|&g| ms(g)).unwrap_or(0.0),
        }
    }

    /// The gaps between arrivals so far, µs (sorted once [`summary`](Self::summary) ran).
    pub fn gaps_us(&self) -> &[u32] {
        &self.gaps_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(m: u64) -> Time {
        Time::from_millis(m)
    }

    #[test]
    fn a_perfectly_paced_stream_has_no_jitter_loss_or_reordering() {
        let mut stats = ReceiveStats::new(8000);
        for n in 0..100u64 {
            stats.on_packet(ms(1000 + n * 20), n as u16, (n * 160) as u32);
        }
        let s = stats.summary();
        assert_eq!(s.packets, 100);
        assert_eq!((s.lost, s.duplicates, s.reordered), (0, 0, 0));
        assert_eq!(s.jitter_ms, 0.0);
        assert_eq!(
            (s.gap_p50_ms, s.gap_p99_ms, s.gap_max_ms),
            (20.0, 20.0, 20.0)
        );
    }

    #[test]
    fn jitter_follows_rfc3550_on_a_hand_computed_sequence() {
        // Sent every 20 ms (160 samples); arrivals at 0, 20, 45, 60, 80 ms.
        // Transit differences |D| in samples: 0, 40, 40, 0.
        // J: 0 → 0 → 40/16 = 2.5 → 2.5 + (40 − 2.5)/16 = 4.84375
        //   → 4.84375 + (0 − 4.84375)/16 = 4.541015625 samples.
        let mut stats = ReceiveStats::new(8000);
        for (n, arrival) in [0u64, 20, 45, 60, 80].into_iter().enumerate() {
            stats.on_packet(ms(arrival), n as u16, (n * 160) as u32);
        }
        let expected_samples = 4.541_015_625;
        assert!((stats.jitter_ms() - expected_samples / 8.0).abs() < 1e-9);
        let s = stats.summary();
        assert!((s.max_jitter_ms - 4.84375 / 8.0).abs() < 1e-9);
        // Gaps 20, 25, 15, 20 ms.
        assert_eq!(s.gap_max_ms, 25.0);
        assert_eq!(s.gap_p50_ms, 20.0);
    }

    #[test]
    fn a_constant_delay_is_no_jitter() {
        let mut stats = ReceiveStats::new(8000);
        for n in 0..10u64 {
            stats.on_packet(ms(500 + n * 20), n as u16, 1_000_000 + (n * 160) as u32);
        }
        assert_eq!(stats.jitter_ms(), 0.0);
    }

    #[test]
    fn loss_duplicates_and_reordering_are_told_apart() {
        let mut stats = ReceiveStats::new(8000);
        // 0 1 3 2 2 5 6: 4 is lost, 2 arrives late once and again as a duplicate.
        for (i, seq) in [0u16, 1, 3, 2, 2, 5, 6].into_iter().enumerate() {
            stats.on_packet(ms(i as u64 * 20), seq, u32::from(seq) * 160);
        }
        let s = stats.summary();
        assert_eq!(s.packets, 7);
        assert_eq!(s.duplicates, 1);
        assert_eq!(s.reordered, 1);
        assert_eq!(s.lost, 1);
    }

    #[test]
    fn sequence_numbers_wrap_without_loss() {
        let mut stats = ReceiveStats::new(8000);
        for n in 0..20u32 {
            let seq = 65_530u16.wrapping_add(n as u16);
            stats.on_packet(
                ms(u64::from(n) * 20),
                seq,
                4_294_960_000u32.wrapping_add(n * 160),
            );
        }
        let s = stats.summary();
        assert_eq!((s.lost, s.duplicates, s.reordered), (0, 0, 0));
        assert!(s.jitter_ms.abs() < 1e-6);
    }

    #[test]
    fn an_empty_stream_reports_zeroes() {
        let mut stats = ReceiveStats::new(8000);
        assert_eq!(stats.summary(), ReceiveSummary::default());
    }
}
