//! One shard's counters, written by that shard alone and read by the metrics
//! endpoint: plain atomics, so a scrape never takes a lock a shard waits on.
//!
//! A shard writes three ways, none of them per RTP packet:
//! - [`ShardCounters::count_sip`] for each SIP message it reads or sends
//!   (method or status from the first bytes, no parsing);
//! - [`ShardCounters::record_call`] once per CDR (setup time, hangup cause,
//!   RTP totals, jitter, DTMF, flow steps);
//! - [`ShardCounters::publish`] every [`PUBLISH_INTERVAL`] and at stop: a
//!   snapshot of the host's, SIP layer's and backend's own counters.
//!
//! Only the owning shard stores, so `Relaxed` loads and stores suffice: a scrape
//! may see one value a few hundred milliseconds older than another, never a torn one.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::call::{CdrRecord, HangupCause};

/// How often a shard copies its counters here.
pub const PUBLISH_INTERVAL: Duration = Duration::from_millis(250);

/// The SIP methods counted by name; any other is `OTHER`.
pub const SIP_METHODS: [&str; 14] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "REGISTER",
    "PRACK",
    "UPDATE",
    "INFO",
    "REFER",
    "NOTIFY",
    "SUBSCRIBE",
    "MESSAGE",
    "OTHER",
];

/// Every hangup cause, in the order of [`cause_index`], with its CDR name.
pub const HANGUP_CAUSES: [&str; 17] = [
    "normal_clearing",
    "caller_hangup",
    "cancelled",
    "no_common_codec",
    "srtp_required",
    "no_route",
    "ack_timeout",
    "no_media_answer",
    "media_unavailable",
    "session_expired",
    "refresh_failed",
    "session_interval_too_small",
    "shutdown",
    "flow_ended",
    "prack_timeout",
    "api_hangup",
    "other",
];

/// Upper bounds (seconds) of the call setup time histogram: INVITE to answer.
pub const SETUP_BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Upper bounds (milliseconds) of the per-call inbound jitter histogram.
pub const JITTER_BUCKETS: [f64; 9] = [1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 50.0, 100.0, 200.0];

/// Whether a SIP message was read or sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Read from a socket (or forwarded by another shard).
    In,
    /// Sent by this shard.
    Out,
}

impl Direction {
    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }

    fn index(self) -> usize {
        match self {
            Direction::In => 0,
            Direction::Out => 1,
        }
    }
}

/// A histogram of fixed buckets: per-bucket counts (not cumulative), the
/// count and the sum in millionths.
#[derive(Debug)]
pub struct AtomicHistogram {
    bounds: &'static [f64],
    /// One more than `bounds`: the last is +Inf.
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl AtomicHistogram {
    fn new(bounds: &'static [f64]) -> AtomicHistogram {
        AtomicHistogram {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Counts one observation.
    pub fn observe(&self, value: f64) {
        let value = if value.is_finite() {
            value.max(0.0)
        } else {
            0.0
        };
        let bucket = self
            .bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(self.bounds.len());
        bump(&self.buckets[bucket], 1);
        bump(&self.count, 1);
        bump(&self.sum_micros, (value * 1e6) as u64);
    }

    /// The upper bounds, without +Inf.
    pub fn bounds(&self) -> &'static [f64] {
        self.bounds
    }

    /// Per-bucket counts (the last is above every bound).
    pub fn bucket_counts(&self) -> Vec<u64> {
        self.buckets.iter().map(|b| b.load(Relaxed)).collect()
    }

    /// How many observations.
    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    /// Their sum.
    pub fn sum(&self) -> f64 {
        self.sum_micros.load(Relaxed) as f64 / 1e6
    }
}

/// The host, SIP and backend counters a shard publishes periodically.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardSnapshot {
    /// Calls in progress.
    pub calls_active: u64,
    /// New INVITEs seen.
    pub calls_offered: u64,
    /// Calls refused by callplane with a final non-2xx.
    pub calls_rejected: u64,
    /// Retransmissions sent (timer-driven or for a retransmitted request).
    pub retransmits_sent: u64,
    /// Retransmitted requests absorbed by a transaction.
    pub retransmits_absorbed: u64,
    /// Malformed SIP datagrams that could not be answered.
    pub drop_malformed_sip: u64,
    /// Responses that matched no transaction.
    pub drop_unmatched_response: u64,
    /// ACKs that matched nothing.
    pub drop_unmatched_ack: u64,
    /// RTP for a socket no call holds any more.
    pub drop_rtp_unknown_call: u64,
    /// SIP forwarded to another shard whose inbox was full.
    pub drop_inbox_full: u64,
    /// INVITEs refused: no trunk allows their source.
    pub drop_unknown_source: u64,
    /// INVITEs refused: their source was over its rate.
    pub drop_source_rate: u64,
    /// Completions dropped because their socket had been closed.
    pub drop_after_close: u64,
    /// Datagrams over the receive buffer, truncated.
    pub drop_truncated: u64,
    /// Datagrams the backend received (SIP, RTP, RTCP).
    pub datagrams_received: u64,
    /// Datagrams the backend sent.
    pub datagrams_sent: u64,
    /// Sends the kernel refused.
    pub send_errors: u64,
}

/// One shard's counters.
#[derive(Debug)]
pub struct ShardCounters {
    running: AtomicBool,
    snapshot: [AtomicU64; 17],
    sip_requests: [[AtomicU64; SIP_METHODS.len()]; 2],
    /// Status 100..=699 by direction.
    sip_responses: [Vec<AtomicU64>; 2],
    calls_ended: AtomicU64,
    calls_answered: AtomicU64,
    hangup_causes: [AtomicU64; HANGUP_CAUSES.len()],
    setup_seconds: AtomicHistogram,
    jitter_ms: AtomicHistogram,
    rtp_sent: AtomicU64,
    rtp_received: AtomicU64,
    rtp_lost: AtomicU64,
    dtmf_rfc4733: AtomicU64,
    dtmf_inband: AtomicU64,
    flow_steps: AtomicU64,
    flow_ends: std::sync::Mutex<Vec<(String, u64)>>,
    busy_micros: AtomicU64,
    loop_micros: AtomicU64,
}

/// The most distinct flow outcomes kept as labels; later ones count as `other`.
const FLOW_END_LABELS: usize = 32;

impl Default for ShardCounters {
    fn default() -> Self {
        ShardCounters::new()
    }
}

impl ShardCounters {
    /// All zero, not running.
    pub fn new() -> ShardCounters {
        ShardCounters {
            running: AtomicBool::new(false),
            snapshot: std::array::from_fn(|_| AtomicU64::new(0)),
            sip_requests: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            sip_responses: std::array::from_fn(|_| (100..700).map(|_| AtomicU64::new(0)).collect()),
            calls_ended: AtomicU64::new(0),
            calls_answered: AtomicU64::new(0),
            hangup_causes: std::array::from_fn(|_| AtomicU64::new(0)),
            setup_seconds: AtomicHistogram::new(&SETUP_BUCKETS),
            jitter_ms: AtomicHistogram::new(&JITTER_BUCKETS),
            rtp_sent: AtomicU64::new(0),
            rtp_received: AtomicU64::new(0),
            rtp_lost: AtomicU64::new(0),
            dtmf_rfc4733: AtomicU64::new(0),
            dtmf_inband: AtomicU64::new(0),
            flow_steps: AtomicU64::new(0),
            flow_ends: std::sync::Mutex::new(Vec::new()),
            busy_micros: AtomicU64::new(0),
            loop_micros: AtomicU64::new(0),
        }
    }

    /// The shard's loop runs (set after its sockets are bound) or has stopped.
    pub fn set_running(&self, running: bool) {
        self.running.store(running, Relaxed);
    }

    /// Whether the shard's loop runs.
    pub fn running(&self) -> bool {
        self.running.load(Relaxed)
    }

    /// Counts one SIP message by its first bytes: a request's method, a
    /// response's status. Anything else is not counted.
    pub fn count_sip(&self, direction: Direction, data: &[u8]) {
        let d = direction.index();
        if let Some(rest) = data.strip_prefix(b"SIP/2.0 ") {
            if let Some(status) = parse_status(rest) {
                bump(&self.sip_responses[d][usize::from(status - 100)], 1);
            }
            return;
        }
        let end = data.iter().position(|b| *b == b' ').unwrap_or(0).min(16);
        if end == 0 {
            return;
        }
        let method = &data[..end];
        let index = SIP_METHODS[..SIP_METHODS.len() - 1]
            .iter()
            .position(|name| name.as_bytes() == method)
            .unwrap_or(SIP_METHODS.len() - 1);
        bump(&self.sip_requests[d][index], 1);
    }

    /// Counts one finished call from its CDR.
    pub fn record_call(&self, cdr: &CdrRecord) {
        bump(&self.calls_ended, 1);
        bump(&self.hangup_causes[cause_index(&cdr.hangup_cause)], 1);
        if let Some(answer) = cdr.answer {
            bump(&self.calls_answered, 1);
            self.setup_seconds
                .observe((answer - cdr.start).as_secs_f64());
        }
        if let Some(media) = &cdr.media {
            bump(&self.rtp_sent, media.rtp.sent);
            bump(&self.rtp_received, media.rtp.received);
            bump(&self.rtp_lost, media.rtp.lost);
            if media.rtp.received > 0 {
                self.jitter_ms.observe(media.rtp.jitter_ms);
            }
            let inband = media.dtmf_inband_digits;
            bump(&self.dtmf_inband, inband);
            bump(&self.dtmf_rfc4733, media.dtmf_digits.saturating_sub(inband));
        }
        bump(&self.flow_steps, cdr.nodes.len() as u64);
        if let Some(end) = &cdr.flow_end {
            // Once per call, never per packet; the scrape holds it for a copy.
            if let Ok(mut ends) = self.flow_ends.lock() {
                let label = match ends.iter().position(|(name, _)| name == end) {
                    Some(i) => i,
                    None if ends.len() < FLOW_END_LABELS => {
                        ends.push((end.clone(), 0));
                        ends.len() - 1
                    }
                    None => match ends.iter().position(|(name, _)| name == "other") {
                        Some(i) => i,
                        None => {
                            ends.push(("other".into(), 0));
                            ends.len() - 1
                        }
                    },
                };
                ends[label].1 += 1;
            }
        }
    }

    /// Adds one loop iteration: `busy` of its `total` was spent working (not
    /// waiting in the kernel).
    pub fn record_loop(&self, busy: Duration, total: Duration) {
        bump(&self.busy_micros, busy.as_micros() as u64);
        bump(&self.loop_micros, total.as_micros() as u64);
    }

    /// Stores the shard's latest counters.
    pub fn publish(&self, snapshot: &ShardSnapshot) {
        for (slot, value) in self.snapshot.iter().zip(snapshot_values(snapshot)) {
            slot.store(value, Relaxed);
        }
    }

    /// The counters last published.
    pub fn snapshot(&self) -> ShardSnapshot {
        let v: Vec<u64> = self.snapshot.iter().map(|s| s.load(Relaxed)).collect();
        ShardSnapshot {
            calls_active: v[0],
            calls_offered: v[1],
            calls_rejected: v[2],
            retransmits_sent: v[3],
            retransmits_absorbed: v[4],
            drop_malformed_sip: v[5],
            drop_unmatched_response: v[6],
            drop_unmatched_ack: v[7],
            drop_rtp_unknown_call: v[8],
            drop_inbox_full: v[9],
            drop_unknown_source: v[10],
            drop_source_rate: v[11],
            drop_after_close: v[12],
            drop_truncated: v[13],
            datagrams_received: v[14],
            datagrams_sent: v[15],
            send_errors: v[16],
        }
    }

    /// SIP requests counted by (method, count), nonzero only.
    pub fn sip_requests(&self, direction: Direction) -> Vec<(&'static str, u64)> {
        self.sip_requests[direction.index()]
            .iter()
            .zip(SIP_METHODS)
            .map(|(count, method)| (method, count.load(Relaxed)))
            .filter(|(_, count)| *count > 0)
            .collect()
    }

    /// SIP responses counted by (status, count), nonzero only.
    pub fn sip_responses(&self, direction: Direction) -> Vec<(u16, u64)> {
        self.sip_responses[direction.index()]
            .iter()
            .enumerate()
            .map(|(i, count)| (i as u16 + 100, count.load(Relaxed)))
            .filter(|(_, count)| *count > 0)
            .collect()
    }

    /// Calls whose CDR was written.
    pub fn calls_ended(&self) -> u64 {
        self.calls_ended.load(Relaxed)
    }

    /// Of those, calls that were answered.
    pub fn calls_answered(&self) -> u64 {
        self.calls_answered.load(Relaxed)
    }

    /// Ended calls by hangup cause (name, count).
    pub fn hangup_causes(&self) -> Vec<(&'static str, u64)> {
        self.hangup_causes
            .iter()
            .zip(HANGUP_CAUSES)
            .map(|(count, cause)| (cause, count.load(Relaxed)))
            .filter(|(_, count)| *count > 0)
            .collect()
    }

    /// INVITE-to-answer times of answered calls.
    pub fn setup_seconds(&self) -> &AtomicHistogram {
        &self.setup_seconds
    }

    /// Inbound jitter of ended calls that received RTP.
    pub fn jitter_ms(&self) -> &AtomicHistogram {
        &self.jitter_ms
    }

    /// RTP packets of ended calls: (sent, received, lost).
    pub fn rtp(&self) -> (u64, u64, u64) {
        (
            self.rtp_sent.load(Relaxed),
            self.rtp_received.load(Relaxed),
            self.rtp_lost.load(Relaxed),
        )
    }

    /// DTMF digits detected: (RFC 4733 telephone-event, in-band).
    pub fn dtmf(&self) -> (u64, u64) {
        (
            self.dtmf_rfc4733.load(Relaxed),
            self.dtmf_inband.load(Relaxed),
        )
    }

    /// Flow nodes entered by ended calls.
    pub fn flow_steps(&self) -> u64 {
        self.flow_steps.load(Relaxed)
    }

    /// How ended calls' flows ended (outcome, count).
    pub fn flow_ends(&self) -> Vec<(String, u64)> {
        self.flow_ends
            .lock()
            .map(|ends| ends.clone())
            .unwrap_or_default()
    }

    /// Seconds the loop worked and seconds it ran.
    pub fn loop_seconds(&self) -> (f64, f64) {
        (
            self.busy_micros.load(Relaxed) as f64 / 1e6,
            self.loop_micros.load(Relaxed) as f64 / 1e6,
        )
    }
}

fn snapshot_values(s: &ShardSnapshot) -> [u64; 17] {
    [
        s.calls_active,
        s.calls_offered,
        s.calls_rejected,
        s.retransmits_sent,
        s.retransmits_absorbed,
        s.drop_malformed_sip,
        s.drop_unmatched_response,
        s.drop_unmatched_ack,
        s.drop_rtp_unknown_call,
        s.drop_inbox_full,
        s.drop_unknown_source,
        s.drop_source_rate,
        s.drop_after_close,
        s.drop_truncated,
        s.datagrams_received,
        s.datagrams_sent,
        s.send_errors,
    ]
}

/// Only its own shard writes a counter, so load-then-store never loses an
/// update, and costs no locked instruction on the shard's core.
fn bump(counter: &AtomicU64, by: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(by), Relaxed);
}

fn parse_status(rest: &[u8]) -> Option<u16> {
    let digits = rest.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let status = digits
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    (100..700).contains(&status).then_some(status)
}

/// The index of a cause in [`HANGUP_CAUSES`].
pub fn cause_index(cause: &HangupCause) -> usize {
    match cause {
        HangupCause::NormalClearing => 0,
        HangupCause::CallerHangup => 1,
        HangupCause::Cancelled => 2,
        HangupCause::NoCommonCodec => 3,
        HangupCause::SrtpRequired => 4,
        HangupCause::NoRoute => 5,
        HangupCause::AckTimeout => 6,
        HangupCause::NoMediaAnswer => 7,
        HangupCause::MediaUnavailable => 8,
        HangupCause::SessionExpired => 9,
        HangupCause::RefreshFailed => 10,
        HangupCause::SessionIntervalTooSmall => 11,
        HangupCause::Shutdown => 12,
        HangupCause::FlowEnded => 13,
        HangupCause::PrackTimeout => 14,
        HangupCause::ApiHangup => 15,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_messages_are_counted_by_method_and_status() {
        let counters = ShardCounters::new();
        counters.count_sip(Direction::In, b"INVITE sip:1@x SIP/2.0\r\n");
        counters.count_sip(Direction::In, b"INVITE sip:2@x SIP/2.0\r\n");
        counters.count_sip(Direction::In, b"FOO sip:2@x SIP/2.0\r\n");
        counters.count_sip(Direction::Out, b"SIP/2.0 180 Ringing\r\n");
        counters.count_sip(Direction::Out, b"SIP/2.0 200 OK\r\n");
        counters.count_sip(Direction::Out, b"SIP/2.0 9xx nonsense\r\n");
        counters.count_sip(Direction::Out, b"\r\n\r\n");
        assert_eq!(
            counters.sip_requests(Direction::In),
            vec![("INVITE", 2), ("OTHER", 1)]
        );
        assert_eq!(
            counters.sip_responses(Direction::Out),
            vec![(180, 1), (200, 1)]
        );
        assert!(counters.sip_requests(Direction::Out).is_empty());
    }

    #[test]
    fn every_cause_has_its_cdr_name() {
        for (cause, name) in [
            (HangupCause::NormalClearing, "normal_clearing"),
            (HangupCause::PrackTimeout, "prack_timeout"),
            (HangupCause::ApiHangup, "api_hangup"),
            (
                HangupCause::SessionIntervalTooSmall,
                "session_interval_too_small",
            ),
        ] {
            let json = serde_json::to_value(&cause).expect("serializes");
            assert_eq!(json, name);
            assert_eq!(HANGUP_CAUSES[cause_index(&cause)], name);
        }
    }

    #[test]
    fn histogram_buckets_hold_their_observations() {
        let histogram = AtomicHistogram::new(&SETUP_BUCKETS);
        histogram.observe(0.005);
        histogram.observe(0.3);
        histogram.observe(60.0);
        histogram.observe(f64::NAN);
        let buckets = histogram.bucket_counts();
        assert_eq!(buckets[0], 2, "0.005 and NaN (as 0) fall in the first");
        assert_eq!(buckets[5], 1, "0.3 is under 0.5");
        assert_eq!(buckets[SETUP_BUCKETS.len()], 1, "60 s is above every bound");
        assert_eq!(histogram.count(), 4);
        assert!((histogram.sum() - 60.305).abs() < 1e-6);
    }

    #[test]
    fn a_snapshot_reads_back_as_published() {
        let counters = ShardCounters::new();
        let snapshot = ShardSnapshot {
            calls_active: 3,
            calls_offered: 10,
            drop_inbox_full: 2,
            send_errors: 7,
            ..ShardSnapshot::default()
        };
        counters.publish(&snapshot);
        assert_eq!(counters.snapshot(), snapshot);
    }
}
