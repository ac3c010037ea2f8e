//! The bridge between two legs of one shard: which way each direction's audio
//! crosses ([`BridgeMode`]), and the packet relay that carries it without
//! decoding when both sides speak the same codec ([`Relay`]).
//!
//! **Relay.** A packet of one side is rewritten for the other: its payload type
//! mapped to the other side's (audio, and RFC 4733 telephone-event when the two
//! negotiated different dynamic types), its SSRC replaced by the other side's
//! stream SSRC, and its sequence number and timestamp moved by one offset per
//! direction. The offsets are fixed on the first packet (anchored on the
//! outgoing stream's next sequence number and its running media clock) and
//! kept while the incoming stream is continuous, so gaps (loss), reordering
//! and talkspurts (marker bit, timestamp jump equal to the silence) pass
//! unchanged. When the incoming stream jumps (a new SSRC, a sequence jump
//! beyond [`MAX_DROPOUT`] or back beyond [`MAX_MISORDER`], an audio timestamp
//! off the wall clock by more than a second, as after a re-INVITE or a far end
//! restarting its stream) the offsets are re-anchored so the outgoing stream
//! stays continuous, and the first audio packet after it carries the marker.
//! RFC 4733 packets keep their event timestamp (shifted by the same offset)
//! and duration, so events pass through re-timestamped.
//!
//! **Transcode.** Otherwise each side's audio is decoded out of its jitter
//! buffer and re-encoded as the other side's live audio (the media session's
//! live-audio path, [`crate::media::LiveAudio`]).
//!
//! **In-band keys.** A side without telephone-event is the only one whose keys
//! come in-band; its media session detects them and mutes them in the decoded
//! audio. A relay could not mute them, so [`bridge_mode`] relays only when
//! both sides negotiated telephone-event: keys then arrive as RFC 4733 and are
//! passed through, and a side that sends in-band keys is always transcoded
//! (its tones detected, muted and regenerated as RFC 4733 or in-band tones for
//! the other side).
//!
//! Sans-IO: time comes in as an argument; nothing allocates per packet.

use crate::media::codec::Codec;
use crate::media::jitter::CN_PAYLOAD_TYPE;
use crate::media::rtp::{RtpPacket, RTP_HEADER_LEN};
use crate::media::session::MediaConfig;
use crate::time::Time;

/// A forward sequence jump larger than this is a new stream, not loss (RFC 3550 A.1).
pub const MAX_DROPOUT: u16 = 3000;
/// A backward sequence step up to this is a late packet, beyond it a new stream.
pub const MAX_MISORDER: u16 = 100;
/// How far (in seconds of media clock) an audio timestamp may stray from the
/// wall clock since the previous packet before the stream counts as restarted.
const MAX_TIMESTAMP_SKEW_SECONDS: i64 = 1;

/// How one direction of a bridge carries audio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BridgeMode {
    /// Packets rewritten and passed on, never decoded.
    Relay,
    /// Decoded, and re-encoded in the other side's codec.
    Transcode,
}

/// What a bridge needs to know of one side's negotiated media.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BridgeSide {
    /// The side's audio codec.
    pub codec: Codec,
    /// Its audio payload type.
    pub codec_pt: u8,
    /// Its telephone-event payload type, if negotiated.
    pub dtmf_pt: Option<u8>,
}

impl From<&MediaConfig> for BridgeSide {
    fn from(config: &MediaConfig) -> Self {
        BridgeSide {
            codec: config.codec,
            codec_pt: config.codec_pt,
            dtmf_pt: config.dtmf_pt,
        }
    }
}

/// How audio from `from` reaches `to`: relayed when both use one codec and
/// both negotiated telephone-event (so no key can arrive in-band), else
/// transcoded.
pub fn bridge_mode(from: &BridgeSide, to: &BridgeSide) -> BridgeMode {
    if from.codec == to.codec && from.dtmf_pt.is_some() && to.dtmf_pt.is_some() {
        BridgeMode::Relay
    } else {
        BridgeMode::Transcode
    }
}

/// The outgoing stream a relayed packet joins: the receiving side's own
/// numbering, which it keeps using for whatever it sends itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutStream {
    /// SSRC of the outgoing stream.
    pub ssrc: u32,
    /// The sequence number its next packet would carry.
    pub next_sequence: u16,
    /// Its media clock now (the timestamp its next packet would carry).
    pub timestamp: u32,
}

/// One packet the relay wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Relayed {
    /// Bytes written (12-byte header and the payload).
    pub len: usize,
    /// The sequence number it carries.
    pub sequence: u16,
    /// The timestamp it carries.
    pub timestamp: u32,
    /// Whether it carries the marker bit.
    pub marker: bool,
}

/// Why a packet was not relayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    /// Neither the side's audio nor its telephone-event (nor comfort noise), or
    /// telephone-event the other side did not negotiate.
    #[error("payload type {0} has no counterpart on the other side")]
    UnmappedPayloadType(u8),
    /// The output buffer cannot hold the packet.
    #[error("relay buffer of {available} bytes cannot hold a {needed}-byte packet")]
    BufferTooSmall {
        /// Bytes the packet needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
}

/// Counters of one relay direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Packets rewritten and passed on.
    pub relayed: u64,
    /// Of them, telephone-event packets.
    pub events: u64,
    /// Times the offsets were re-anchored after the incoming stream jumped
    /// (the first packet is not counted).
    pub reanchors: u64,
    /// Packets dropped (unmapped payload type, buffer too small).
    pub dropped: u64,
}

/// Where the incoming stream was last, and the offsets that map it out.
#[derive(Clone, Copy, Debug)]
struct Anchor {
    ssrc: u32,
    /// Highest sequence number seen (in the wrapping sense).
    last_sequence: u16,
    /// Timestamp of the last audio packet, and when it came.
    last_audio: Option<(u32, Time)>,
    sequence_offset: u16,
    timestamp_offset: u32,
    /// The highest outgoing sequence number and timestamp written.
    last_out_sequence: u16,
    last_out_timestamp: u32,
}

/// One direction of a relayed bridge: rewrites packets of one side for the other.
#[derive(Debug, Default)]
pub struct Relay {
    anchor: Option<Anchor>,
    /// The next audio packet gets the marker (after a re-anchor).
    mark_next: bool,
    stats: RelayStats,
}

impl Relay {
    /// A relay whose first packet anchors the offsets.
    pub fn new() -> Relay {
        Relay::default()
    }

    /// The counters.
    pub fn stats(&self) -> RelayStats {
        self.stats
    }

    /// Forgets the incoming stream: the next packet anchors anew (after the
    /// bridge went through transcoding, whose packets moved the outgoing stream on).
    pub fn reset(&mut self) {
        if self.anchor.take().is_some() {
            self.mark_next = true;
        }
    }

    /// Rewrites `packet` (received from side `from`, at `now`) for side `to`,
    /// into `out`: `to`'s payload type, `stream`'s SSRC, the direction's
    /// sequence and timestamp offsets. CSRCs, extensions and padding are not
    /// carried over. The packet is dropped (counted, and an error) when its
    /// payload type has no counterpart or `out` is too small.
    pub fn rewrite(
        &mut self,
        now: Time,
        packet: &RtpPacket<'_>,
        from: &BridgeSide,
        to: &BridgeSide,
        stream: OutStream,
        out: &mut [u8],
    ) -> Result<Relayed, RelayError> {
        let (payload_type, is_event) = match self.map_payload_type(packet.payload_type, from, to) {
            Ok(mapped) => mapped,
            Err(error) => {
                self.stats.dropped += 1;
                return Err(error);
            }
        };
        let needed = RTP_HEADER_LEN + packet.payload.len();
        let available = out.len();
        let Some(out) = out.get_mut(..needed) else {
            self.stats.dropped += 1;
            return Err(RelayError::BufferTooSmall { needed, available });
        };
        let is_audio = !is_event && packet.payload_type != CN_PAYLOAD_TYPE;
        let anchor = self.follow(now, packet, is_audio, from.codec, stream);
        let sequence = packet.sequence.wrapping_add(anchor.sequence_offset);
        let timestamp = packet.timestamp.wrapping_add(anchor.timestamp_offset);
        if is_ahead(sequence, anchor.last_out_sequence) {
            anchor.last_out_sequence = sequence;
        }
        if is_ahead_u32(timestamp, anchor.last_out_timestamp) {
            anchor.last_out_timestamp = timestamp;
        }
        let mut marker = packet.marker;
        if is_audio && self.mark_next {
            marker = true;
            self.mark_next = false;
        }
        out[0] = 0x80;
        out[1] = (u8::from(marker) << 7) | (payload_type & 0x7F);
        out[2..4].copy_from_slice(&sequence.to_be_bytes());
        out[4..8].copy_from_slice(&timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&stream.ssrc.to_be_bytes());
        out[RTP_HEADER_LEN..].copy_from_slice(packet.payload);
        self.stats.relayed += 1;
        if is_event {
            self.stats.events += 1;
        }
        Ok(Relayed {
            len: needed,
            sequence,
            timestamp,
            marker,
        })
    }

    /// `to`'s payload type for `payload_type` of `from`, and whether it is
    /// telephone-event.
    fn map_payload_type(
        &self,
        payload_type: u8,
        from: &BridgeSide,
        to: &BridgeSide,
    ) -> Result<(u8, bool), RelayError> {
        if Some(payload_type) == from.dtmf_pt {
            return to
                .dtmf_pt
                .map(|pt| (pt, true))
                .ok_or(RelayError::UnmappedPayloadType(payload_type));
        }
        if payload_type == from.codec_pt {
            return Ok((to.codec_pt, false));
        }
        if payload_type == CN_PAYLOAD_TYPE {
            return Ok((CN_PAYLOAD_TYPE, false));
        }
        Err(RelayError::UnmappedPayloadType(payload_type))
    }

    /// The anchor `packet` is mapped with: kept while the stream is
    /// continuous, (re)made when it starts or jumps.
    fn follow(
        &mut self,
        now: Time,
        packet: &RtpPacket<'_>,
        is_audio: bool,
        codec: Codec,
        stream: OutStream,
    ) -> &mut Anchor {
        let clock = i64::from(codec.clock_rate());
        let decision = match &self.anchor {
            None => Jump::Both,
            Some(anchor) if anchor.ssrc != packet.ssrc => Jump::Both,
            Some(anchor) => {
                let forward = packet.sequence.wrapping_sub(anchor.last_sequence);
                let backward = anchor.last_sequence.wrapping_sub(packet.sequence);
                if forward > MAX_DROPOUT && backward > MAX_MISORDER {
                    Jump::Both
                } else if is_audio && timestamp_strays(anchor, packet.timestamp, now, clock) {
                    Jump::Timestamp
                } else {
                    Jump::None
                }
            }
        };
        if decision != Jump::None {
            if self.anchor.is_some() {
                self.stats.reanchors += 1;
            }
            self.mark_next = true;
        }
        let frame_ticks = codec.frame_ticks();
        let anchor = self.anchor.get_or_insert(Anchor {
            ssrc: packet.ssrc,
            last_sequence: packet.sequence,
            last_audio: None,
            sequence_offset: 0,
            timestamp_offset: 0,
            last_out_sequence: stream.next_sequence.wrapping_sub(1),
            last_out_timestamp: stream.timestamp.wrapping_sub(frame_ticks),
        });
        if decision == Jump::Both {
            anchor.ssrc = packet.ssrc;
            anchor.last_sequence = packet.sequence;
            let next = if is_ahead(stream.next_sequence, anchor.last_out_sequence) {
                stream.next_sequence
            } else {
                anchor.last_out_sequence.wrapping_add(1)
            };
            anchor.sequence_offset = next.wrapping_sub(packet.sequence);
        }
        if decision != Jump::None {
            // The outgoing clock now, but never back over what was written.
            let earliest = anchor.last_out_timestamp.wrapping_add(frame_ticks);
            let out = if is_ahead_u32(stream.timestamp, earliest) || stream.timestamp == earliest {
                stream.timestamp
            } else {
                earliest
            };
            anchor.timestamp_offset = out.wrapping_sub(packet.timestamp);
            anchor.last_audio = None;
        }
        if is_ahead(packet.sequence, anchor.last_sequence) {
            anchor.last_sequence = packet.sequence;
        }
        if is_audio {
            anchor.last_audio = Some((packet.timestamp, now));
        }
        anchor
    }
}

/// What a packet's arrival changes in the anchor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Jump {
    None,
    /// The timestamp jumped, the sequence did not.
    Timestamp,
    /// A new stream (SSRC) or a sequence jump: both offsets anew.
    Both,
}

/// Whether an audio packet's timestamp moved away from the wall clock since
/// the previous audio packet by more than [`MAX_TIMESTAMP_SKEW_SECONDS`].
fn timestamp_strays(anchor: &Anchor, timestamp: u32, now: Time, clock: i64) -> bool {
    let Some((last, at)) = anchor.last_audio else {
        return false;
    };
    let moved = i64::from(timestamp.wrapping_sub(last) as i32);
    let elapsed = now.saturating_since(at).as_micros() as i64 * clock / 1_000_000;
    (moved - elapsed).abs() > MAX_TIMESTAMP_SKEW_SECONDS * clock
}

/// `a` is after `b` in RTP's wrapping sequence space.
fn is_ahead(a: u16, b: u16) -> bool {
    let d = a.wrapping_sub(b);
    d != 0 && d < 0x8000
}

/// `a` is after `b` in RTP's wrapping timestamp space.
fn is_ahead_u32(a: u32, b: u32) -> bool {
    let d = a.wrapping_sub(b);
    d != 0 && d < 0x8000_0000
}

#[cfg(test)]
#[path = "bridge_tests.rs"]
mod tests;
