//! The call detail record a call leaves behind: who called whom, which flow
//! and version ran, when it started, was answered and ended, why and by whom it
//! ended, the digits entered and the nodes visited, and what the media went
//! through (the `media` object: the received stream's RTP figures, and RTCP:
//! the round-trip time and what the far end reported of our stream; `srtp`
//! when the call used SRTP: its suite, and the packets refused).
//!
//! Times are the cores' monotonic [`Time`]; the IO shell turns them into wall
//! clock when it writes the record.

use super::recording::RecordingSummary;
use serde::Serialize;

use crate::media::MediaStats;
use crate::time::Time;

/// Which side ended the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HangupSide {
    /// The caller hung up or cancelled.
    Caller,
    /// callplane hung up or refused the call (a flow's hangup, a timeout, shutdown).
    Callplane,
}

/// Why the call ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HangupCause {
    /// The flow hung up (a hangup node, or its end).
    NormalClearing,
    /// The caller sent BYE.
    CallerHangup,
    /// The caller sent CANCEL before the answer.
    Cancelled,
    /// The offer had no codec we speak (488).
    NoCommonCodec,
    /// SRTP is required and the offer had no RTP/SAVP stream with a usable
    /// SDES key (488).
    SrtpRequired,
    /// No route and no default flow for the dialled number (404).
    NoRoute,
    /// Our 200 OK was never acknowledged.
    AckTimeout,
    /// The INVITE had no SDP, and the ACK carried no usable answer to the
    /// offer in our 200 OK: the call was hung up with BYE.
    NoMediaAnswer,
    /// No RTP port could be opened (503).
    MediaUnavailable,
    /// The caller was to refresh the session (RFC 4028) and did not before
    /// it expired: callplane hung up with BYE.
    SessionExpired,
    /// callplane refreshed the session and got no response, 408 or 481: it
    /// hung up with BYE.
    RefreshFailed,
    /// The INVITE's `Session-Expires` was below our minimum (422 with `Min-SE`).
    SessionIntervalTooSmall,
    /// The server is shutting down.
    Shutdown,
    /// The flow ended without a hangup node: no edge for an outcome, a safety limit.
    FlowEnded,
    /// Our reliable 183 (RFC 3262) was never PRACKed: the INVITE was refused
    /// with 504.
    PrackTimeout,
    /// The HTTP API hung the call up (`hangup` on a live call).
    ApiHangup,
}

/// One finished call, as the IO shell writes it.
#[derive(Clone, Debug, Serialize)]
pub struct CdrRecord {
    /// The SIP Call-ID of the inbound dialog.
    pub call_id: String,
    /// User part of the INVITE's From URI: the caller.
    pub from: String,
    /// User part of the Request-URI: the dialled number.
    pub to: String,
    /// The flow that ran; `None` for calls refused before routing.
    pub flow_id: Option<String>,
    /// The version of that flow the call started with.
    pub flow_version: Option<u32>,
    /// When the INVITE arrived (core time; the writer prints wall clock).
    #[serde(skip)]
    pub start: Time,
    /// When the 200 OK was sent, if it was.
    #[serde(skip)]
    pub answer: Option<Time>,
    /// When the call ended: BYE sent or received, CANCEL, rejection.
    #[serde(skip)]
    pub end: Time,
    /// Why the call ended.
    pub hangup_cause: HangupCause,
    /// Which side ended it.
    pub hangup_side: HangupSide,
    /// The final SIP status of the INVITE: 200 when answered, else the rejection.
    pub sip_status: u16,
    /// Whether the call had early media (183 Session Progress with our SDP,
    /// prompts played before the answer or the rejection).
    pub early_media: bool,
    /// Every digit string a gather returned, in order.
    pub digits: Vec<String>,
    /// Node ids in the order the flow visited them.
    pub nodes: Vec<String>,
    /// Why the flow ended, when it ended by itself.
    pub flow_end: Option<String>,
    /// The shard (core) that owned the call.
    pub shard: usize,
    /// The call's media, if it had any (not for calls refused or never answered).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaCdr>,
    /// The outbound legs the call placed (dial, forward, transfer), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub legs: Vec<LegCdr>,
    /// The call's recordings and voicemail messages: file, size, duration.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recordings: Vec<RecordingSummary>,
}

/// One outbound leg of a call, in its call's record.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LegCdr {
    /// The leg's number in its call (1, 2, …).
    pub leg: u8,
    /// The SIP Call-ID of the leg's dialog.
    pub call_id: String,
    /// Where it was sent (a number or a `sip:` URI).
    pub target: String,
    /// `answered`, `busy`, `no_answer`, `failed` or `cancelled` (another leg
    /// answered first, or the caller left).
    pub outcome: &'static str,
    /// The last SIP status the far end sent (200 when answered).
    pub sip_status: u16,
    /// From our INVITE to the far end's answer, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer_ms: Option<u64>,
    /// From the answer to the end, in milliseconds (0 when never answered).
    pub duration_ms: u64,
    /// The leg's media, when it had any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaCdr>,
}

/// What a call's media went through.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MediaCdr {
    /// The stream received from the far end, as the jitter buffer saw it.
    pub rtp: RtpCdr,
    /// RTCP: reports exchanged, round-trip time, the far end's view of our stream.
    pub rtcp: RtcpCdr,
    /// SRTP, when the call used it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub srtp: Option<SrtpCdr>,
    /// DTMF digits detected, whatever the method (one per key press).
    pub dtmf_digits: u64,
    /// Of those, digits heard in-band in the audio (the rest came as RFC 4733
    /// telephone-events).
    pub dtmf_inband_digits: u64,
}

/// What SRTP did on a call.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SrtpCdr {
    /// The crypto suite (`AES_CM_128_HMAC_SHA1_80` or `_32`).
    pub suite: &'static str,
    /// SRTP packets received that authenticated.
    pub rtp_unprotected: u64,
    /// SRTCP compounds received that authenticated.
    pub rtcp_unprotected: u64,
    /// Packets (SRTP and SRTCP) whose authentication tag did not match: dropped.
    pub auth_failures: u64,
    /// Packets refused as replays or too old for the window: dropped.
    pub replays: u64,
    /// Packets too short for a header and tag: dropped.
    pub malformed: u64,
    /// RTP packets we protected.
    pub rtp_protected: u64,
    /// RTCP compounds we protected.
    pub rtcp_protected: u64,
}

/// What RTCP told of a call.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RtcpCdr {
    /// Compound reports we sent (the BYE's included).
    pub reports_sent: u64,
    /// Valid reports received from the far end.
    pub reports_received: u64,
    /// Datagrams on the RTCP port (or demultiplexed) that were not valid RTCP.
    pub malformed: u64,
    /// The last round-trip time measured (RFC 3550 LSR/DLSR), in ms.
    pub rtt_ms: Option<f64>,
    /// The far end's last reported loss fraction of our stream, 0 to 1.
    pub remote_fraction_lost: Option<f64>,
    /// The far end's last reported cumulative loss of our stream, packets.
    pub remote_lost: Option<i32>,
    /// The far end's last reported jitter of our stream, in ms.
    pub remote_jitter_ms: Option<f64>,
}

/// The received RTP stream of a call.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RtpCdr {
    /// RTP packets we sent.
    pub sent: u64,
    /// Packets of the stream received (audio, comfort noise, telephone-events),
    /// duplicates and late ones included.
    pub received: u64,
    /// Sequence numbers that never arrived in time to play.
    pub lost: u64,
    /// Packets that arrived after their playout time.
    pub late: u64,
    /// Packets that arrived after one with a higher sequence number.
    pub reordered: u64,
    /// Packets that arrived twice.
    pub duplicated: u64,
    /// RFC 3550 interarrival jitter at the end of the call, in ms.
    pub jitter_ms: f64,
    /// The jitter buffer's delay at the end of the call, in ms.
    pub delay_ms: u64,
    /// Times the stream restarted (new SSRC, sequence or timestamp jump).
    pub resets: u64,
    /// Frames decoded (zero when nothing needed the audio).
    pub decoded_frames: u64,
    /// Packets of the other side of a bridge relayed undecoded into this
    /// stream (counted in `sent` too).
    pub relayed: u64,
}

impl MediaCdr {
    /// The record of a media session's counters.
    pub fn from_stats(stats: &MediaStats) -> MediaCdr {
        let inbound = &stats.inbound;
        MediaCdr {
            rtp: RtpCdr {
                sent: stats.packets_sent,
                received: inbound.received,
                lost: inbound.lost,
                late: inbound.late,
                reordered: inbound.reordered,
                duplicated: inbound.duplicated,
                jitter_ms: f64::from(inbound.jitter) / 8.0,
                delay_ms: inbound.current_delay.as_millis() as u64,
                resets: inbound.resets,
                decoded_frames: inbound.decoded_frames,
                relayed: stats.packets_relayed,
            },
            rtcp: RtcpCdr {
                reports_sent: stats.rtcp.reports_sent,
                reports_received: stats.rtcp.reports_received,
                malformed: stats.rtcp.malformed,
                rtt_ms: stats.rtcp.rtt.map(|rtt| rtt.as_secs_f64() * 1_000.0),
                remote_fraction_lost: stats
                    .rtcp
                    .remote_fraction_lost
                    .map(|fraction| f64::from(fraction) / 256.0),
                remote_lost: stats.rtcp.remote_cumulative_lost,
                remote_jitter_ms: stats.rtcp.remote_jitter.map(|jitter| {
                    f64::from(jitter) * 1_000.0 / f64::from(stats.send_clock_rate.max(1))
                }),
            },
            srtp: stats.srtp.map(|srtp| SrtpCdr {
                suite: srtp.suite.map_or("", |suite| suite.name()),
                rtp_unprotected: srtp.rtp_unprotected,
                rtcp_unprotected: srtp.rtcp_unprotected,
                auth_failures: srtp.auth_failures,
                replays: srtp.replays,
                malformed: srtp.malformed,
                rtp_protected: srtp.rtp_protected,
                rtcp_protected: srtp.rtcp_protected,
            }),
            dtmf_digits: stats.dtmf_digits,
            dtmf_inband_digits: stats.inband_digits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_far_ends_jitter_is_read_in_the_clock_of_the_stream_we_send() {
        let mut stats = MediaStats::default();
        for (clock_rate, jitter) in [(8_000, 160), (48_000, 960)] {
            stats.send_clock_rate = clock_rate;
            stats.rtcp.remote_jitter = Some(jitter);
            let cdr = MediaCdr::from_stats(&stats);
            assert_eq!(cdr.rtcp.remote_jitter_ms, Some(20.0), "{clock_rate} Hz");
        }
    }
}
