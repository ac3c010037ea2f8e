//! Counters kept by a media session, for monitoring and tests.

use crate::media::jitter::JitterStats;
use crate::media::rtcp::RtcpStats;

/// Packet and event counters of one call leg.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaStats {
    /// The received stream, as its jitter buffer saw it: received, lost, late,
    /// reordered, duplicated, RFC 3550 jitter, current delay, frames decoded.
    pub inbound: JitterStats,
    /// RTCP: reports sent and received, and what the far end reported (round-trip
    /// time, its loss and jitter of our stream).
    pub rtcp: RtcpStats,
    /// The RTP clock of the stream we send (8000 for G.711, 48000 for Opus): the
    /// unit of the jitter the far end reports in `rtcp`.
    pub send_clock_rate: u32,
    /// RTP payload octets sent (for RTCP sender reports).
    pub payload_octets_sent: u64,
    /// RTCP datagrams received on the RTP port (rtcp-mux, RFC 5761).
    pub rtcp_on_rtp_port: u64,
    /// Received RFC 3389 comfort-noise packets (payload type 13).
    pub comfort_noise_received: u64,
    /// RTP packets written by `MediaSession::poll_output`.
    pub packets_sent: u64,
    /// Of them, packets of a bridge's other side relayed undecoded.
    pub packets_relayed: u64,
    /// Of those, packets carrying prompt audio (the rest carried silence).
    pub prompt_packets_sent: u64,
    /// Send slots passed over, unsent, because the caller woke more than 200 ms late.
    pub slots_skipped: u64,
    /// Send slots lost because the caller's buffer was too small.
    pub send_buffer_too_small: u64,
    /// Datagrams handed to `handle_rtp`, valid or not.
    pub packets_received: u64,
    /// Received packets with the audio payload type.
    pub audio_packets_received: u64,
    /// Received packets with the telephone-event payload type.
    pub dtmf_packets_received: u64,
    /// Datagrams that are not valid RTP.
    pub malformed: u64,
    /// Valid RTP with a payload type that is neither audio, comfort noise nor
    /// telephone-event.
    pub unknown_payload_type: u64,
    /// Datagrams from an address other than the current remote (still processed).
    pub from_unexpected_source: u64,
    /// Telephone-event packets sent (`send_digits`), end-packet repeats included.
    pub dtmf_packets_sent: u64,
    /// Audio packets carrying an in-band DTMF tone (`send_digits` to a far end
    /// without telephone-event).
    pub inband_tone_packets_sent: u64,
    /// Packets not sent because the far end holds the call (`a=sendonly` or
    /// `a=inactive`).
    pub packets_held: u64,
    /// Digits heard in-band in the received audio (a far end without
    /// telephone-event); also counted in `dtmf_digits`.
    pub inband_digits: u64,
    /// Received frames muted for the leg's audio consumers (a bridge, a
    /// recording) because they held an in-band key's tone.
    pub inband_frames_suppressed: u64,
    /// Times the stream moved to where the far end's media really comes from
    /// (symmetric RTP).
    pub remote_latches: u64,
    /// DTMF digits detected, one per key press; each was raised as `MediaEvent::Dtmf`.
    pub dtmf_digits: u64,
    /// Events dropped because the event queue was full (the caller is not
    /// draining `poll_output`).
    pub events_dropped: u64,
    /// SRTP's counters, when the leg uses SRTP.
    pub srtp: Option<crate::media::SrtpStats>,
}
