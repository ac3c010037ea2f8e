//! What we report about the stream we receive (RFC 3550 A.1, A.3, A.8): the
//! extended highest sequence number, packets expected and received (since the
//! start and since the last report), the interarrival jitter, and the far end's
//! last SR for LSR/DLSR.
//!
//! This is the RFC's own bookkeeping, kept beside the jitter buffer's because
//! RTCP's numbers have RFC definitions (cumulative loss is expected minus
//! received, negative with duplicates; a source restarts after a jump only once
//! two packets confirm it) that the playout counters do not follow.

use crate::media::rtcp::packet::ReportBlock;
use crate::media::rtp::RtpPacket;
use crate::time::Time;

/// A sequence number jump this far ahead is taken as is.
const MAX_DROPOUT: u16 = 3_000;
/// A sequence number up to this far behind is an old (reordered) packet.
const MAX_MISORDER: u16 = 100;
/// RTP clock rate when none is set (G.711), Hz.
const DEFAULT_CLOCK_RATE: u64 = 8_000;

/// The state of the source we receive.
#[derive(Debug, Clone, Default)]
pub(super) struct Reception {
    ssrc: Option<u32>,
    max_seq: u16,
    /// Sequence number wrap-arounds, shifted by 16 bits.
    cycles: u32,
    base_seq: u32,
    /// The sequence number after a large jump, awaiting confirmation.
    bad_seq: Option<u16>,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    /// Relative transit time of the last audio packet, in timestamp units.
    transit: Option<u32>,
    /// Jitter scaled by 16 (A.8's integer form).
    jitter_q4: u32,
    /// Middle 32 bits of the NTP time of the far end's last SR and when it came.
    last_sr: Option<(u32, Time)>,
    /// The stream's RTP clock rate in Hz (0: [`DEFAULT_CLOCK_RATE`]), the unit of
    /// the jitter.
    clock_rate: u32,
}

impl Reception {
    /// Sets the stream's RTP clock rate (48000 for Opus), which the jitter is
    /// counted in.
    pub(super) fn set_clock_rate(&mut self, hz: u32) {
        self.clock_rate = hz;
    }

    /// The far end's SSRC, once a packet was seen.
    pub(super) fn ssrc(&self) -> Option<u32> {
        self.ssrc
    }

    /// One RTP packet of the far end; `timed` for packets whose timestamp is their
    /// sampling instant (audio and comfort noise, not telephone-events).
    pub(super) fn on_packet(&mut self, now: Time, packet: &RtpPacket<'_>, timed: bool) {
        if self.ssrc != Some(packet.ssrc) {
            *self = Reception {
                ssrc: Some(packet.ssrc),
                clock_rate: self.clock_rate,
                ..Reception::default()
            };
            self.init_seq(packet.sequence);
        } else if !self.update_seq(packet.sequence) {
            return;
        }
        self.received = self.received.wrapping_add(1);
        if timed {
            let rate = match self.clock_rate {
                0 => DEFAULT_CLOCK_RATE,
                rate => u64::from(rate),
            };
            let arrival = (now.as_micros() * rate / 1_000_000) as u32;
            let transit = arrival.wrapping_sub(packet.timestamp);
            if let Some(previous) = self.transit {
                let d = (transit.wrapping_sub(previous) as i32).unsigned_abs();
                // J += (|D| - J) / 16, with J scaled by 16.
                self.jitter_q4 = self
                    .jitter_q4
                    .wrapping_add(d)
                    .wrapping_sub((self.jitter_q4 + 8) >> 4);
            }
            self.transit = Some(transit);
        }
    }

    /// The far end's SR arrived at `now`, stamped `ntp`.
    pub(super) fn on_sender_report(&mut self, now: Time, ntp: u64) {
        self.last_sr = Some(((ntp >> 16) as u32, now));
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = None;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// RFC 3550 A.1 `update_seq` (without probation: the stream is the
    /// negotiated one): false for a packet not to count.
    fn update_seq(&mut self, seq: u16) -> bool {
        let delta = seq.wrapping_sub(self.max_seq);
        if delta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(1 << 16);
            }
            self.max_seq = seq;
        } else if delta <= u16::MAX - MAX_MISORDER {
            // A very large jump: restart if the next packet follows it.
            if self.bad_seq == Some(seq) {
                self.init_seq(seq);
                self.transit = None;
            } else {
                self.bad_seq = Some(seq.wrapping_add(1));
                return false;
            }
        }
        // Otherwise a duplicate or reordered packet: counted.
        true
    }

    /// The report block for the far end at `now`, starting a new interval; `None`
    /// before any packet.
    pub(super) fn report_block(&mut self, now: Time) -> Option<ReportBlock> {
        let ssrc = self.ssrc?;
        let extended_max = self.cycles.wrapping_add(u32::from(self.max_seq));
        let expected = extended_max.wrapping_sub(self.base_seq).wrapping_add(1);
        let lost = i64::from(expected) - i64::from(self.received);
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((middle, at)) => {
                let waited = now.saturating_since(at);
                (middle, (waited.as_micros() * 65_536 / 1_000_000) as u32)
            }
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: lost.clamp(-0x80_0000, 0x7F_FFFF) as i32,
            highest_seq: extended_max,
            jitter: self.jitter_q4 >> 4,
            last_sr,
            delay_since_last_sr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(seq: u16, ts: u32) -> RtpPacket<'static> {
        RtpPacket {
            payload_type: 0,
            marker: false,
            sequence: seq,
            timestamp: ts,
            ssrc: 7,
            payload: &[],
        }
    }

    #[test]
    fn loss_fraction_and_cumulative_loss_follow_rfc_3550_a3() {
        let mut reception = Reception::default();
        assert!(reception.report_block(Time::ZERO).is_none());
        // 100 packets across the sequence wrap, 10 of them lost, one duplicated.
        for n in 0..100u16 {
            if n % 10 == 3 {
                continue;
            }
            let seq = 65_500u16.wrapping_add(n);
            let at = Time::from_millis(u64::from(n) * 20);
            reception.on_packet(at, &packet(seq, u32::from(n) * 160), true);
            if n == 50 {
                reception.on_packet(at, &packet(seq, u32::from(n) * 160), true);
            }
        }
        let block = reception.report_block(Time::from_millis(2_000)).unwrap();
        assert_eq!(block.ssrc, 7);
        assert_eq!(
            block.highest_seq,
            (1 << 16) + u32::from(65_500u16.wrapping_add(99))
        );
        assert_eq!(block.cumulative_lost, 9, "10 lost, one duplicate received");
        assert_eq!(block.fraction_lost, (9 * 256 / 100) as u8);
        assert_eq!(block.jitter, 0, "perfectly paced");
        assert_eq!((block.last_sr, block.delay_since_last_sr), (0, 0));
        // Nothing new: the next interval has no loss.
        let again = reception.report_block(Time::from_millis(3_000)).unwrap();
        assert_eq!((again.fraction_lost, again.cumulative_lost), (0, 9));
    }

    #[test]
    fn jitter_and_dlsr() {
        let mut reception = Reception::default();
        // Arrivals alternate 0 and 8 ms late: |D| = 64 timestamp units each time.
        for n in 0..400u64 {
            let late = if n % 2 == 0 { 0 } else { 8 };
            let at = Time::from_millis(n * 20 + late);
            reception.on_packet(at, &packet(n as u16, n as u32 * 160), true);
        }
        reception.on_sender_report(Time::from_millis(8_000), 0x1234_5678_9ABC_DEF0);
        let block = reception.report_block(Time::from_millis(8_500)).unwrap();
        assert!((60..=64).contains(&block.jitter), "{}", block.jitter);
        assert_eq!(block.last_sr, 0x5678_9ABC);
        assert_eq!(block.delay_since_last_sr, 32_768, "half a second");
    }

    #[test]
    fn a_confirmed_jump_restarts_the_count_and_a_new_ssrc_starts_afresh() {
        let mut reception = Reception::default();
        for n in 0..10u16 {
            reception.on_packet(Time::ZERO, &packet(n, 0), false);
        }
        reception.on_packet(Time::ZERO, &packet(30_000, 0), false);
        reception.on_packet(Time::ZERO, &packet(30_001, 0), false);
        reception.on_packet(Time::ZERO, &packet(30_002, 0), false);
        let block = reception.report_block(Time::ZERO).unwrap();
        assert_eq!((block.highest_seq, block.cumulative_lost), (30_002, 0));
        let other = RtpPacket {
            ssrc: 8,
            ..packet(5, 0)
        };
        reception.on_packet(Time::ZERO, &other, false);
        let block = reception.report_block(Time::ZERO).unwrap();
        assert_eq!((block.ssrc, block.highest_seq), (8, 5));
    }
}
