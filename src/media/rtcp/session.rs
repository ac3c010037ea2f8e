//! The RTCP side of one call leg (RFC 3550 §6): when to report, what to write,
//! and what the far end's reports say.
//!
//! We always send (prompts or silence), so our reports are SRs with one report
//! block for the far end's stream once it has sent, followed by an SDES CNAME;
//! an RR replaces the SR while we have not sent for two intervals (the far end
//! holds the call). At hangup a last compound ends with a BYE. Reports follow
//! RFC 3550 §6.3: the first after the randomised half-minimum interval, each next
//! after [`rtcp_interval`], reconsidered when its time comes.
//!
//! From the far end's SRs and RRs we keep the block about our stream: the loss
//! fraction and cumulative loss it saw, its jitter, and the round-trip time
//! `A − LSR − DLSR` (RFC 3550 §6.4.1), A being our NTP time when the report
//! arrived. A datagram that is not a valid compound is counted and dropped.

use std::time::Duration;

use crate::media::rtcp::interval::{rtcp_interval, IntervalInputs};
use crate::media::rtcp::packet::{
    write_bye, write_receiver_report, write_sdes_cname, write_sender_report, Compound, ReportBlock,
    RtcpPacket, SenderInfo,
};
use crate::media::rtcp::reception::Reception;
use crate::media::rtp::RtpPacket;
use crate::time::Time;

/// RTCP bandwidth: 5 % of a G.711 call's 80 kbit/s (RTP, UDP and IP), in octets/s.
const RTCP_BANDWIDTH: f64 = 500.0;
/// UDP and IPv4 headers, counted in the average compound size.
const UDP_IP_OVERHEAD: usize = 28;
/// Longest CNAME kept.
const CNAME_LEN: usize = 32;

/// What our stream has sent so far, for the SR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sent {
    /// RTP packets sent.
    pub packets: u64,
    /// RTP payload octets sent.
    pub octets: u64,
    /// The RTP timestamp of the instant of the report.
    pub rtp_timestamp: u32,
}

/// What the far end's reports told us, and what we sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtcpStats {
    /// Compound packets we sent (the BYE's included).
    pub reports_sent: u64,
    /// Valid compound packets received.
    pub reports_received: u64,
    /// Datagrams that were not valid RTCP.
    pub malformed: u64,
    /// BYEs received.
    pub byes_received: u64,
    /// The last round-trip time measured from a report's LSR and DLSR.
    pub rtt: Option<Duration>,
    /// The far end's last reported loss fraction of our stream, in 1/256.
    pub remote_fraction_lost: Option<u8>,
    /// The far end's last reported cumulative loss of our stream.
    pub remote_cumulative_lost: Option<i32>,
    /// The far end's last reported jitter of our stream, in timestamp units.
    pub remote_jitter: Option<u32>,
}

/// The RTCP state of one call leg, sans-IO: the caller asks [`RtcpSession::is_due`]
/// at its ticks and writes the report with [`RtcpSession::write_report`].
#[derive(Debug)]
pub struct RtcpSession {
    ssrc: u32,
    cname: [u8; CNAME_LEN],
    cname_len: usize,
    /// The NTP timestamp (32.32) of `Time::ZERO`.
    ntp_at_zero: u64,
    rng: fastrand::Rng,
    reception: Reception,
    /// When the last report was sent (the session's start before the first).
    last_report: Time,
    next_report: Time,
    initial: bool,
    avg_rtcp_size: f64,
    /// Packets we had sent at the last two reports: we are a sender while the
    /// count moved since the one before last.
    sent_at_reports: [u64; 2],
    /// The far end sent RTP since our last report.
    peer_sent: bool,
    stats: RtcpStats,
}

impl RtcpSession {
    /// The RTCP of a stream with `ssrc` starting at `now`; `ntp_at_zero` maps core
    /// time onto NTP time, `seed` makes the intervals (and the CNAME) random.
    pub fn new(ssrc: u32, ntp_at_zero: u64, seed: u64, now: Time) -> RtcpSession {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut cname = [0u8; CNAME_LEN];
        // RFC 7022: a random, per-session CNAME.
        let name = format!("{:016x}@callplane", rng.u64(..));
        let cname_len = name.len().min(CNAME_LEN);
        cname[..cname_len].copy_from_slice(&name.as_bytes()[..cname_len]);
        let mut session = RtcpSession {
            ssrc,
            cname,
            cname_len,
            ntp_at_zero,
            rng,
            reception: Reception::default(),
            last_report: now,
            next_report: now,
            initial: true,
            avg_rtcp_size: 100.0,
            sent_at_reports: [0; 2],
            peer_sent: false,
            stats: RtcpStats::default(),
        };
        session.next_report = now + session.interval(true);
        session
    }

    /// When the next report is due.
    pub fn next_report(&self) -> Time {
        self.next_report
    }

    /// The far end's RTP clock rate (8000 unless set), the unit of the jitter we
    /// report.
    pub fn set_clock_rate(&mut self, hz: u32) {
        self.reception.set_clock_rate(hz);
    }

    /// One RTP packet of the far end's stream.
    pub fn on_rtp(&mut self, now: Time, packet: &RtpPacket<'_>, timed: bool) {
        self.reception.on_packet(now, packet, timed);
        self.peer_sent = true;
    }

    /// One received RTCP datagram; a malformed one is counted and dropped.
    pub fn handle_rtcp(&mut self, now: Time, data: &[u8]) {
        let Ok(compound) = Compound::parse(data) else {
            self.stats.malformed += 1;
            return;
        };
        self.stats.reports_received += 1;
        self.avg_rtcp_size =
            (data.len() + UDP_IP_OVERHEAD) as f64 / 16.0 + self.avg_rtcp_size * 15.0 / 16.0;
        for packet in compound {
            match packet {
                Ok(RtcpPacket::SenderReport { info, blocks, .. }) => {
                    self.reception.on_sender_report(now, info.ntp);
                    blocks.for_each(|block| self.on_block(now, &block));
                }
                Ok(RtcpPacket::ReceiverReport { blocks, .. }) => {
                    blocks.for_each(|block| self.on_block(now, &block));
                }
                Ok(RtcpPacket::Bye { .. }) => self.stats.byes_received += 1,
                Ok(RtcpPacket::Other { .. }) => {}
                Err(_) => {
                    self.stats.malformed += 1;
                    return;
                }
            }
        }
    }

    /// Whether a report is to be sent at `now` (RFC 3550 §6.3.6: when the
    /// scheduled time comes, the interval is recomputed and the report waits if
    /// the new one has not passed since the last report).
    pub fn is_due(&mut self, now: Time) -> bool {
        if now < self.next_report {
            return false;
        }
        let interval = self.interval(self.initial);
        let at = self.last_report + interval;
        if at > now {
            self.next_report = at;
            return false;
        }
        true
    }

    /// Writes a compound report into `out`: SR (or RR while we do not send), the
    /// far end's report block, SDES CNAME, and with `bye` a BYE. Schedules the next
    /// report. `None`: `out` is too small (nothing is scheduled then).
    pub fn write_report(
        &mut self,
        now: Time,
        sent: &Sent,
        bye: bool,
        out: &mut [u8],
    ) -> Option<usize> {
        let block = self.reception.report_block(now);
        let blocks = block.as_slice();
        let we_send = sent.packets > self.sent_at_reports[0];
        let mut len = if we_send {
            let info = SenderInfo {
                ntp: self.ntp(now),
                rtp_timestamp: sent.rtp_timestamp,
                packet_count: sent.packets as u32,
                octet_count: sent.octets as u32,
            };
            write_sender_report(out, self.ssrc, &info, blocks)?
        } else {
            write_receiver_report(out, self.ssrc, blocks)?
        };
        let cname = &self.cname[..self.cname_len];
        len += write_sdes_cname(out.get_mut(len..)?, self.ssrc, cname)?;
        if bye {
            len += write_bye(out.get_mut(len..)?, self.ssrc)?;
        }
        self.sent_at_reports = [self.sent_at_reports[1], sent.packets];
        self.peer_sent = false;
        self.stats.reports_sent += 1;
        self.avg_rtcp_size =
            (len + UDP_IP_OVERHEAD) as f64 / 16.0 + self.avg_rtcp_size * 15.0 / 16.0;
        self.initial = false;
        self.last_report = now;
        self.next_report = if bye {
            Time::NEVER
        } else {
            now + self.interval(false)
        };
        Some(len)
    }

    /// What the far end reported, and our counts.
    pub fn stats(&self) -> &RtcpStats {
        &self.stats
    }

    /// Our NTP time at `now`.
    fn ntp(&self, now: Time) -> u64 {
        let fraction = (u128::from(now.as_micros()) << 32) / 1_000_000;
        self.ntp_at_zero.wrapping_add(fraction as u64)
    }

    fn interval(&mut self, initial: bool) -> Duration {
        let peer = self.reception.ssrc().is_some() || self.stats.reports_received > 0;
        let inputs = IntervalInputs {
            members: 1 + u32::from(peer),
            senders: 1 + u32::from(self.peer_sent),
            rtcp_bandwidth: RTCP_BANDWIDTH,
            we_sent: true,
            avg_rtcp_size: self.avg_rtcp_size,
            initial,
        };
        rtcp_interval(&inputs, &mut self.rng)
    }

    /// A report block from the far end: ours if it is about our SSRC.
    fn on_block(&mut self, now: Time, block: &ReportBlock) {
        if block.ssrc != self.ssrc {
            return;
        }
        self.stats.remote_fraction_lost = Some(block.fraction_lost);
        self.stats.remote_cumulative_lost = Some(block.cumulative_lost);
        self.stats.remote_jitter = Some(block.jitter);
        if block.last_sr == 0 {
            return;
        }
        let arrival = (self.ntp(now) >> 16) as u32;
        let rtt = arrival
            .wrapping_sub(block.last_sr)
            .wrapping_sub(block.delay_since_last_sr);
        // A negative result (a clock step, a bogus block) wraps past 2^31: ignored.
        if rtt < 1 << 31 {
            let micros = u64::from(rtt) * 1_000_000 / 65_536;
            self.stats.rtt = Some(Duration::from_micros(micros));
        }
    }
}
