//! The adaptive jitter buffer of one inbound RTP stream, sans-IO: packets go in with
//! the instant they arrived, and one decoded 20 ms frame of 8 kHz linear PCM comes out
//! per 20 ms of playout time, on a fixed grid of our clock.
//!
//! It is written here rather than taken from `webrtc-media`, whose jitter buffer was
//! measured to have no playout timing, no loss concealment, and to allocate per packet.
//!
//! # What it owns
//!
//! One [`JitterBuffer`] per inbound stream (one SSRC at a time): a ring of payload
//! slots allocated once (enough for `max_delay` plus [`RING_MARGIN_FRAMES`]), the
//! playout cursor, the RFC 3550 jitter estimate, the concealment history and the
//! [`JitterStats`]. Payloads are one 20 ms frame, the packetisation every stream of
//! this crate uses. Decoding is G.711 through [`Codec`], or Opus through the stream's
//! own decoder (`opus_playout.rs`: 48 kHz decode resampled to the 8 kHz frames that
//! come out). Opus's 48 kHz RTP timestamps are counted in 8 kHz units inside the
//! buffer (divided by 6 as they arrive, exactly, wraps included), so the playout,
//! jitter and delay arithmetic is the same for every codec.
//!
//! Loss with Opus is concealed by the decoder rather than by `conceal.rs`: when the
//! packet after the missing one is already buffered, its in-band FEC data
//! reconstructs the lost frame (`fec_frames`); otherwise the decoder's PLC
//! extrapolates. The length rule is the same (silence after 60 ms). DTX gaps are
//! the DTX gaps below; the decoder picks up at the next packet.
//!
//! # Playout
//!
//! The playout grid starts at the first input: frame `n` is due at `start + n·20 ms`.
//! A cursor holds the RTP timestamp of the next frame to play. At each due frame, the
//! lowest buffered sequence number not yet played is looked at:
//! - its timestamp is within the frame at the cursor → it is decoded ([`FrameKind::Audio`],
//!   or [`FrameKind::ComfortNoise`] for an RFC 3389 packet), sequence numbers skipped
//!   on the way are counted `lost`, and the cursor moves to the frame after it;
//! - it is the very next sequence number but its timestamp is later → a DTX gap: no
//!   loss, the frame is comfort noise (after an RFC 3389 packet) or silence;
//! - it is missing (or nothing is buffered) → after audio, loss concealment
//!   ([`FrameKind::Concealed`], see `conceal.rs`: pitch repetition, flat for 10 ms,
//!   −20 % per 10 ms, silent after 60 ms = three frames); otherwise comfort noise or
//!   silence. After 60 ms of loss the frames are [`FrameKind::Silence`].
//!
//! A packet arriving after the cursor passed its timestamp (or its sequence number
//! was played past) is `late` and dropped; one seen before (a 64-packet window behind
//! the highest sequence number) is `duplicated` and dropped.
//!
//! Telephone-event packets (RFC 4733, `event_pt`) share the stream's sequence numbers
//! but carry no audio: they are buffered as place holders, passed over without loss
//! when the cursor reaches them, and play no frame (the frames of a key press are
//! silence or a DTX gap). Their timestamp is the event's start, so they feed neither
//! the jitter estimate nor the delay, and are never late for their timestamp.
//!
//! # Decoding only for a consumer
//!
//! [`JitterBuffer::set_decoding`] turns decoding off: the buffer still takes every
//! packet, runs the playout grid, counts loss, lateness, reordering and duplicates and
//! measures jitter and delay, but writes no samples — no G.711 decode, no concealment
//! synthesis, no comfort noise — and `poll_output` leaves `out` as it was. Without
//! samples there is no quiet-frame test, so no drift correction inside a talkspurt
//! (nobody hears the delay then; gap adjustments still keep it in the band).
//! [`JitterStats::decoded_frames`] counts the frames actually decoded.
//!
//! # Delay, adaptation and drift
//!
//! The *delay* is how long the least-delayed recent packet waits between arrival and
//! playout: each packet's wait is measured on arrival, and the delay is their running
//! maximum, decaying by 1 ms per second so it follows the network and clock drift.
//! The *target* is `4 × J` (J being the RFC 3550 §6.4.1 interarrival jitter) clamped
//! to `min_delay..=max_delay − 25 ms`; the first packet of a stream is scheduled at
//! the first frame at least `max(start_delay, target)` after it arrived.
//!
//! The delay is kept in the band `target ≤ delay < target + 25 ms` (one frame plus
//! 5 ms of hysteresis), hence below `max_delay`. Out of the band, whole frames are
//! added or removed, only where it is inaudible:
//! - **in silence** (`gap_adjustments`): in a DTX gap, before a talkspurt (a marker
//!   packet following silence) and while comfort noise or silence is playing, a frame
//!   of silence is added (the cursor waits one frame), or frames of the gap are
//!   skipped (never past the next packet). Several frames may go at one gap, one
//!   frame per 20 ms, so a new talkspurt starts at the new target;
//! - **on a quiet frame inside a talkspurt** (`drift_corrections`): a decoded frame
//!   whose peak is at most [`QUIET_PEAK`] (−40 dBov) is played twice (delay +20 ms), or
//!   dropped (delay −20 ms) when the frames before and after it are quiet too and the
//!   next is already buffered — so a pause of two frames is never shortened to one,
//!   which would bridge a 40 ms pause between two in-band DTMF tones.
//!
//! A far-end clock 100 ppm off drifts 2 ms per 20 s, so one correction is needed about
//! every 200 s. A stream of continuous loud audio with no pause never gets one; its
//! delay then drifts out of the band until a pause (speech pauses every few seconds).
//!
//! # Resets
//!
//! A new SSRC, a sequence number more than 3000 ahead or 100 behind the highest seen
//! (RFC 3550 A.1's `MAX_DROPOUT`/`MAX_MISORDER`), or a timestamp more than 10 s ahead
//! of or 2 s behind the cursor ends the stream: the buffer is emptied, the packet
//! starts a new stream, and `resets` counts it. Frames of the old stream still buffered
//! are dropped with it (the old stream's end is concealed like any loss).
//!
//! # Driving it
//!
//! Inputs are [`JitterBuffer::handle_packet`] and [`JitterBuffer::handle_timeout`];
//! frames come out of [`JitterBuffer::poll_output`]. **The drain rule: after every
//! input, call `poll_output` until it returns [`JitterOutput::Timeout`]**; it yields
//! each frame due at the last `now` given (all of them, if the caller was late), then
//! the instant the next one is due. Nothing allocates once the buffer is created.

#![warn(missing_docs, unreachable_pub)]

mod conceal;
mod opus_playout;
mod ring;

#[cfg(test)]
mod tests;

use std::time::Duration;

use crate::media::codec::{Codec, FRAME_DURATION, FRAME_SAMPLES, SAMPLE_RATE};
use crate::media::rtp::RtpPacket;
use crate::time::Time;

use conceal::{ComfortNoise, Concealer};
use opus_playout::{OpusPlayout, TimestampScale};
use ring::{Payload, Ring};

/// Ring slots beyond `max_delay`, for early packets and reordering.
pub const RING_MARGIN_FRAMES: usize = 8;
/// Peak (absolute sample value) at or below which a decoded frame is quiet enough to be
/// dropped or repeated for drift (−40 dBov).
pub const QUIET_PEAK: i16 = 328;
/// Static RTP payload type of comfort noise (RFC 3389).
pub const CN_PAYLOAD_TYPE: u8 = 13;
/// Multiplier of the RFC 3550 jitter in the target delay.
const JITTER_MULTIPLIER: i64 = 4;
/// Hysteresis above the one-frame band, in µs.
const HYSTERESIS_US: i64 = 5_000;
/// Decay of the delay estimate: 1 ms per second of arrivals.
const DELAY_DECAY_PER_SECOND_US: i64 = 1_000;
/// RFC 3550 A.1: sequence numbers this far ahead of the highest start a new stream.
const MAX_DROPOUT: i64 = 3_000;
/// RFC 3550 A.1: sequence numbers this far behind the highest start a new stream.
const MAX_MISORDER: i64 = 100;
/// A timestamp this far ahead of the cursor starts a new stream: 10 s.
const MAX_TS_AHEAD: i64 = 10 * SAMPLE_RATE as i64;
/// A timestamp this far behind the cursor starts a new stream: 2 s.
const MAX_TS_BEHIND: i64 = 2 * SAMPLE_RATE as i64;
/// Frame length in timestamp units and in µs.
const FRAME_TS: i64 = FRAME_SAMPLES as i64;
const FRAME_US: i64 = FRAME_DURATION.as_micros() as i64;
/// µs per timestamp unit (8 kHz).
const US_PER_TS: i64 = 1_000_000 / SAMPLE_RATE as i64;

/// Delay bounds and payload types of one inbound stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JitterConfig {
    /// Lowest target delay (default 20 ms).
    pub min_delay: Duration,
    /// The delay never exceeds this (default 200 ms); raised to `min_delay + 25 ms` if
    /// lower.
    pub max_delay: Duration,
    /// Delay of the first packet of a stream, before any jitter is measured (default
    /// 60 ms, at most `max_delay − 25 ms`; the target takes over at the first silence).
    pub start_delay: Duration,
    /// Payload type of the codec's packets; `None` is the codec's static type.
    pub codec_pt: Option<u8>,
    /// Payload type of RFC 3389 comfort noise, if negotiated (default 13).
    pub cn_pt: Option<u8>,
    /// Payload type of RFC 4733 telephone-events, if negotiated: their sequence
    /// numbers are passed over without counting a loss.
    pub event_pt: Option<u8>,
}

impl Default for JitterConfig {
    fn default() -> JitterConfig {
        JitterConfig {
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            start_delay: Duration::from_millis(60),
            codec_pt: None,
            cn_pt: Some(CN_PAYLOAD_TYPE),
            event_pt: None,
        }
    }
}

/// What a played frame contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// Decoded from a received packet.
    Audio,
    /// Made up for a missing packet (pitch repetition, fading out).
    Concealed,
    /// Noise at the level of the last RFC 3389 packet, during DTX.
    ComfortNoise,
    /// Zeros: before the stream starts, in a DTX gap without comfort noise, after
    /// concealment faded out, or a frame added in silence.
    Silence,
}

/// What the buffer wants done next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JitterOutput {
    /// A 20 ms frame was written into the caller's buffer; play it.
    Frame(FrameKind),
    /// No frame until this instant: call [`JitterBuffer::handle_timeout`] then
    /// ([`Time::NEVER`] before the first input).
    Timeout(Time),
}

/// Counters and measurements of one inbound stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets of the codec, comfort-noise or telephone-event payload type handed in,
    /// whatever became of them.
    pub received: u64,
    /// Sequence numbers passed over at playout because they had not arrived (a packet
    /// arriving after that also counts as `late`).
    pub lost: u64,
    /// Packets dropped because their playout time had passed.
    pub late: u64,
    /// Packets that arrived after one with a higher sequence number (not duplicates).
    pub reordered: u64,
    /// Packets dropped because that sequence number had already arrived.
    pub duplicated: u64,
    /// Packets dropped because they were too far ahead for the ring.
    pub overflow: u64,
    /// Packets with another payload type, ignored.
    pub ignored: u64,
    /// Telephone-event packets taken in (also in `received`).
    pub events: u64,
    /// Frames decoded from packets (zero while decoding is off).
    pub decoded_frames: u64,
    /// Lost Opus frames decoded from the next packet's in-band FEC (libopus falls
    /// back to its PLC when that packet carries none, e.g. a CELT-only frame).
    pub fec_frames: u64,
    /// Packets the decoder refused (malformed Opus): played as silence.
    pub decode_errors: u64,
    /// Packets longer than one frame of the codec (a G.711 packet over 20 ms, an
    /// Opus packet over 1275 bytes): only the first frame's bytes were kept.
    pub oversized: u64,
    /// Times the stream started afresh: new SSRC, sequence or timestamp jump.
    pub resets: u64,
    /// Packets with the marker bit (talkspurt starts).
    pub talkspurts: u64,
    /// RFC 3550 interarrival jitter, in timestamp units (1/8 ms).
    pub jitter: u32,
    /// The delay (see the module doc): the wait of the least-delayed recent packet.
    pub current_delay: Duration,
    /// The target delay.
    pub target_delay: Duration,
    /// Frames played from packets.
    pub audio_frames: u64,
    /// Frames of loss concealment.
    pub concealed_frames: u64,
    /// Frames of comfort noise.
    pub comfort_noise_frames: u64,
    /// Frames of silence.
    pub silence_frames: u64,
    /// Frames added or skipped in silence to move the delay to the target.
    pub gap_adjustments: u64,
    /// Quiet frames repeated or dropped inside a talkspurt (clock drift).
    pub drift_corrections: u64,
}

/// The playout position of the current stream.
#[derive(Debug, Clone)]
struct Stream {
    ssrc: u32,
    /// Extended sequence number of the next packet to play; lower ones are done.
    next_seq: i64,
    /// Extended timestamp of the next frame to play (the cursor).
    next_ts: i64,
    /// Highest extended sequence number received.
    highest_seq: i64,
    /// Bit `i`: sequence number `highest_seq − i` was received.
    received_mask: u64,
    /// No packet of this stream has been played yet (skipped numbers are not losses).
    fresh: bool,
}

/// The adaptive jitter buffer of one inbound stream; see the module documentation.
#[derive(Debug)]
pub struct JitterBuffer {
    config: JitterConfig,
    codec: Codec,
    codec_pt: u8,
    ring: Ring,
    stream: Option<Stream>,
    /// When frame 0 of the playout grid was due; `None` before the first input.
    grid_start: Option<Time>,
    /// Frames played so far.
    frames_played: u64,
    /// The last `now` given.
    now: Time,
    concealer: Concealer,
    noise: ComfortNoise,
    /// Comfort noise (not silence) fills gaps: an RFC 3389 packet was played last.
    noise_on: bool,
    /// Kind of the last frame played.
    last_kind: FrameKind,
    /// The last frame played was decoded audio at most [`QUIET_PEAK`].
    last_quiet: bool,
    /// RFC 3550 jitter scaled by 16, in timestamp units.
    jitter_q4: i64,
    /// Relative transit time of the previous packet of the stream.
    prev_transit: Option<u32>,
    /// The delay estimate, in µs (may go negative if packets are late).
    delay_us: i64,
    /// Arrival of the previous packet, for the delay decay.
    last_arrival: Time,
    /// Whether frames are decoded into the caller's buffer (see the module doc).
    decoding: bool,
    /// The decoder of an Opus stream.
    opus: Option<Box<OpusPlayout>>,
    /// 48 kHz timestamps to 8 kHz units, for Opus.
    scale: TimestampScale,
    stats: JitterStats,
}

impl JitterBuffer {
    /// A buffer for a stream of `codec`, with every slot allocated now.
    pub fn new(config: JitterConfig, codec: Codec) -> JitterBuffer {
        let mut config = config;
        let floor = config.min_delay + Duration::from_micros((FRAME_US + HYSTERESIS_US) as u64);
        config.max_delay = config.max_delay.max(floor);
        let band = Duration::from_micros((FRAME_US + HYSTERESIS_US) as u64);
        config.start_delay = config.start_delay.min(config.max_delay - band);
        let max_frames = (config.max_delay.as_micros() as usize).div_ceil(FRAME_US as usize);
        let start_frames = (config.start_delay.as_micros() as usize).div_ceil(FRAME_US as usize);
        let slots = max_frames.max(start_frames) + 1 + RING_MARGIN_FRAMES;
        let codec_pt = config.codec_pt.unwrap_or(codec.payload_type());
        let mut buffer = JitterBuffer {
            ring: Ring::new(slots, ring::slot_bytes(codec)),
            codec,
            codec_pt,
            stream: None,
            grid_start: None,
            frames_played: 0,
            now: Time::ZERO,
            concealer: Concealer::new(),
            noise: ComfortNoise::new(),
            noise_on: false,
            last_kind: FrameKind::Silence,
            last_quiet: false,
            jitter_q4: 0,
            prev_transit: None,
            delay_us: 0,
            last_arrival: Time::ZERO,
            decoding: true,
            opus: None,
            scale: TimestampScale::for_codec(codec),
            stats: JitterStats::default(),
            config,
        };
        buffer.stats.target_delay = buffer.config.min_delay;
        buffer.opus = OpusPlayout::for_codec(codec);
        buffer
    }

    /// Takes in one received RTP packet of the stream, arrived at `now`. Packets of
    /// other payload types are counted in `ignored`. Drain [`poll_output`] after it.
    ///
    /// [`poll_output`]: JitterBuffer::poll_output
    pub fn handle_packet(&mut self, now: Time, packet: &RtpPacket<'_>) {
        let scaled;
        let packet = match self.scale.apply(packet.timestamp) {
            Some(timestamp) => {
                scaled = RtpPacket {
                    timestamp,
                    ..*packet
                };
                &scaled
            }
            None => packet,
        };
        self.advance_clock(now);
        let payload = if packet.payload_type == self.codec_pt {
            Payload::Audio
        } else if Some(packet.payload_type) == self.config.cn_pt {
            Payload::ComfortNoise(packet.payload.first().copied())
        } else if Some(packet.payload_type) == self.config.event_pt {
            self.stats.events += 1;
            Payload::Event
        } else {
            self.stats.ignored += 1;
            return;
        };
        self.stats.received += 1;
        if packet.marker && payload == Payload::Audio {
            self.stats.talkspurts += 1;
        }
        let Some(stream) = &self.stream else {
            self.start_stream(now, packet, payload);
            return;
        };
        if stream.ssrc != packet.ssrc {
            self.stats.resets += 1;
            self.start_stream(now, packet, payload);
            return;
        }
        let delta_seq = i64::from(packet.sequence.wrapping_sub(stream.highest_seq as u16) as i16);
        let seq = stream.highest_seq + delta_seq;
        let ts =
            stream.next_ts + i64::from(packet.timestamp.wrapping_sub(stream.next_ts as u32) as i32);
        let ts_ahead = ts - stream.next_ts;
        if !(-MAX_MISORDER..=MAX_DROPOUT).contains(&delta_seq)
            || !(-MAX_TS_BEHIND..=MAX_TS_AHEAD).contains(&ts_ahead)
        {
            self.stats.resets += 1;
            self.start_stream(now, packet, payload);
            return;
        }
        if !self.mark_received(seq) {
            self.stats.duplicated += 1;
            return;
        }
        if payload != Payload::Event {
            self.update_jitter(now, packet.timestamp);
        }
        let Some(stream) = &self.stream else { return };
        if seq < stream.highest_seq {
            self.stats.reordered += 1;
        }
        if payload == Payload::Event {
            if seq < stream.next_seq {
                self.stats.late += 1;
            } else if seq - stream.next_seq < self.ring.capacity() as i64 {
                let _ = self.ring.insert(seq, ts, packet.marker, payload, &[]);
            } else {
                self.stats.overflow += 1;
            }
            return;
        }
        if seq < stream.next_seq || ts < stream.next_ts {
            self.stats.late += 1;
            self.measure_delay(now, ts);
            return;
        }
        if seq - stream.next_seq >= self.ring.capacity() as i64 {
            self.stats.overflow += 1;
            return;
        }
        self.measure_delay(now, ts);
        if !self
            .ring
            .insert(seq, ts, packet.marker, payload, packet.payload)
        {
            self.stats.oversized += 1;
        }
    }

    /// Advances time to `now`. Drain [`poll_output`] after it.
    ///
    /// [`poll_output`]: JitterBuffer::poll_output
    pub fn handle_timeout(&mut self, now: Time) {
        self.advance_clock(now);
    }

    /// The next frame due at the last `now` given, decoded into `out`, or when the next
    /// one is due. Drain it after every input until it returns [`JitterOutput::Timeout`].
    pub fn poll_output(&mut self, out: &mut [i16; FRAME_SAMPLES]) -> JitterOutput {
        let Some(due) = self.next_frame_time() else {
            return JitterOutput::Timeout(Time::NEVER);
        };
        if due > self.now {
            return JitterOutput::Timeout(due);
        }
        let kind = self.play_frame(out);
        self.frames_played += 1;
        match kind {
            FrameKind::Audio => self.stats.audio_frames += 1,
            FrameKind::Concealed => self.stats.concealed_frames += 1,
            FrameKind::ComfortNoise => self.stats.comfort_noise_frames += 1,
            FrameKind::Silence => self.stats.silence_frames += 1,
        }
        self.last_kind = kind;
        self.last_quiet = kind == FrameKind::Audio && self.decoding && is_quiet(out);
        JitterOutput::Frame(kind)
    }

    /// When the next frame is due; `None` before the first input.
    pub fn next_frame_time(&self) -> Option<Time> {
        let start = self.grid_start?;
        Some(start + Duration::from_micros(self.frames_played.saturating_mul(FRAME_US as u64)))
    }

    /// Counters and measurements since the buffer was created.
    pub fn stats(&self) -> &JitterStats {
        &self.stats
    }

    /// The codec the stream is decoded with.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// A new offer/answer (re-INVITE): the stream goes on with this codec, its
    /// payload type and the telephone-event payload type.
    pub fn renegotiate(&mut self, codec: Codec, codec_pt: u8, event_pt: Option<u8>) {
        if codec != self.codec {
            self.opus = OpusPlayout::for_codec(codec);
            self.scale = TimestampScale::for_codec(codec);
            if ring::slot_bytes(codec) != ring::slot_bytes(self.codec) {
                // Buffered packets are of the old codec: a ring sized for the new one.
                self.ring = Ring::new(self.ring.capacity(), ring::slot_bytes(codec));
            }
        }
        self.codec = codec;
        self.codec_pt = codec_pt;
        self.config.codec_pt = Some(codec_pt);
        self.config.event_pt = event_pt;
    }

    /// Turns decoding on (the default) or off; see the module documentation.
    pub fn set_decoding(&mut self, decoding: bool) {
        self.decoding = decoding;
    }

    /// Whether frames are decoded.
    pub fn is_decoding(&self) -> bool {
        self.decoding
    }

    /// Packets waiting to be played.
    pub fn buffered(&self) -> usize {
        self.ring.len()
    }

    fn advance_clock(&mut self, now: Time) {
        self.now = self.now.max(now);
        if self.grid_start.is_none() {
            self.grid_start = Some(now);
        }
    }

    /// The target delay in µs: `4 J` clamped to `min_delay..=max_delay − 25 ms`.
    fn target_us(&self) -> i64 {
        let jitter_us = (self.jitter_q4 >> 4) * US_PER_TS;
        let min = self.config.min_delay.as_micros() as i64;
        let max = self.config.max_delay.as_micros() as i64 - FRAME_US - HYSTERESIS_US;
        (JITTER_MULTIPLIER * jitter_us).clamp(min, max.max(min))
    }

    /// Starts a new stream at `packet`, scheduled at the first frame at least
    /// `max(start_delay, target)` after `now`.
    fn start_stream(&mut self, now: Time, packet: &RtpPacket<'_>, payload: Payload) {
        self.ring.clear();
        self.prev_transit = None;
        if payload != Payload::Event {
            self.update_jitter(now, packet.timestamp);
        }
        let due = self.next_frame_time().unwrap_or(now);
        let wanted_us = self
            .target_us()
            .max(self.config.start_delay.as_micros() as i64);
        let wanted = now + Duration::from_micros(wanted_us as u64);
        let frames =
            (wanted.as_micros().saturating_sub(due.as_micros())).div_ceil(FRAME_US as u64) as i64;
        let seq = i64::from(packet.sequence);
        let ts = i64::from(packet.timestamp);
        self.stream = Some(Stream {
            ssrc: packet.ssrc,
            next_seq: seq - frames,
            next_ts: ts - frames * FRAME_TS,
            highest_seq: seq,
            received_mask: 1,
            fresh: true,
        });
        self.delay_us = due.as_micros() as i64 + frames * FRAME_US - now.as_micros() as i64;
        self.last_arrival = now;
        self.stats.current_delay = Duration::from_micros(self.delay_us.max(0) as u64);
        if !self
            .ring
            .insert(seq, ts, packet.marker, payload, packet.payload)
        {
            self.stats.oversized += 1;
        }
    }

    /// RFC 3550 §6.4.1 / A.8: `J += (|D| − J) / 16`, in timestamp units.
    fn update_jitter(&mut self, now: Time, timestamp: u32) {
        let arrival = (now.as_micros() / US_PER_TS as u64) as u32;
        let transit = arrival.wrapping_sub(timestamp);
        if let Some(prev) = self.prev_transit {
            let d = i64::from((transit.wrapping_sub(prev) as i32).unsigned_abs());
            self.jitter_q4 += d - ((self.jitter_q4 + 8) >> 4);
        }
        self.prev_transit = Some(transit);
        self.stats.jitter = (self.jitter_q4 >> 4) as u32;
        self.stats.target_delay = Duration::from_micros(self.target_us() as u64);
    }

    /// Marks `seq` received; false if it was already.
    fn mark_received(&mut self, seq: i64) -> bool {
        let Some(stream) = &mut self.stream else {
            return false;
        };
        if seq > stream.highest_seq {
            let shift = seq - stream.highest_seq;
            stream.received_mask = if shift >= 64 {
                0
            } else {
                stream.received_mask << shift
            };
            stream.received_mask |= 1;
            stream.highest_seq = seq;
            return true;
        }
        let back = stream.highest_seq - seq;
        if back >= 64 {
            return true;
        }
        let bit = 1u64 << back;
        if stream.received_mask & bit != 0 {
            return false;
        }
        stream.received_mask |= bit;
        true
    }

    /// Measures the wait of a packet with extended timestamp `ts` arriving at `now`
    /// and folds it into the delay estimate.
    fn measure_delay(&mut self, now: Time, ts: i64) {
        let (Some(stream), Some(due)) = (&self.stream, self.next_frame_time()) else {
            return;
        };
        let playout_us = due.as_micros() as i64 + (ts - stream.next_ts) * US_PER_TS;
        let wait_us = playout_us - now.as_micros() as i64;
        let elapsed_us =
            (now.as_micros() - self.last_arrival.as_micros().min(now.as_micros())) as i64;
        self.last_arrival = now;
        let decayed = self.delay_us - elapsed_us * DELAY_DECAY_PER_SECOND_US / 1_000_000;
        self.delay_us = decayed.max(wait_us);
        self.stats.current_delay = Duration::from_micros(self.delay_us.max(0) as u64);
    }

    /// Moves the delay estimate after adding (`+1`) or removing (`−1`) a frame.
    fn shift_delay(&mut self, frames: i64) {
        self.delay_us += frames * FRAME_US;
        self.stats.current_delay = Duration::from_micros(self.delay_us.max(0) as u64);
    }

    fn too_little_delay(&self) -> bool {
        self.delay_us < self.target_us()
    }

    fn too_much_delay(&self) -> bool {
        self.delay_us >= self.target_us() + FRAME_US + HYSTERESIS_US
    }

    /// Plays the frame at the cursor into `out`.
    fn play_frame(&mut self, out: &mut [i16; FRAME_SAMPLES]) -> FrameKind {
        self.pass_events();
        let Some(stream) = &self.stream else {
            if self.decoding {
                out.fill(0);
            }
            return FrameKind::Silence;
        };
        let (next_seq, next_ts) = (stream.next_seq, stream.next_ts);
        let next = self.ring.first_in(next_seq, stream.highest_seq);
        let in_silence = matches!(self.last_kind, FrameKind::ComfortNoise | FrameKind::Silence)
            && !self.concealer.is_active();
        match next
            .and_then(|seq| self.ring.get(seq))
            .map(|slot| (slot.seq, slot.ts, slot.marker))
        {
            Some((seq, ts, marker)) if ts < next_ts + FRAME_TS => {
                if marker && in_silence && self.too_little_delay() {
                    // A talkspurt starts after silence: one more frame of silence first.
                    self.stats.gap_adjustments += 1;
                    self.shift_delay(1);
                    return self.fill_gap(out);
                }
                self.play_packet(seq, out)
            }
            Some((seq, ts, _)) if seq == next_seq => {
                // A DTX gap: the next packet is in sequence but later in time.
                self.concealer.cancel();
                if self.too_little_delay() {
                    self.stats.gap_adjustments += 1;
                    self.shift_delay(1);
                    return self.fill_gap(out);
                }
                let mut cursor = next_ts;
                while self.too_much_delay() && ts - cursor >= 2 * FRAME_TS {
                    cursor += FRAME_TS;
                    self.stats.gap_adjustments += 1;
                    self.shift_delay(-1);
                }
                self.set_cursor(cursor + FRAME_TS);
                self.fill_gap(out)
            }
            _ => {
                // Missing packet, or nothing buffered.
                if matches!(self.last_kind, FrameKind::Audio | FrameKind::Concealed)
                    && self.concealer.can_conceal()
                {
                    self.set_cursor(next_ts + FRAME_TS);
                    if !self.decoding {
                        self.concealer.advance();
                    } else if let Some(opus) = self.opus.as_mut() {
                        // The packet after the lost one, if here: its FEC rebuilds it.
                        let follower = next
                            .and_then(|seq| self.ring.get(seq))
                            .filter(|slot| {
                                slot.ts == next_ts + FRAME_TS && slot.payload == Payload::Audio
                            })
                            .map(|slot| &slot.data[..slot.len]);
                        let fec = follower.is_some();
                        match opus.conceal(follower, out) {
                            Ok(()) if fec => self.stats.fec_frames += 1,
                            Ok(()) => {}
                            Err(_) => self.stats.decode_errors += 1,
                        }
                        self.concealer.advance();
                    } else {
                        self.concealer.conceal(out);
                    }
                    return FrameKind::Concealed;
                }
                if in_silence && next.is_none() && self.too_little_delay() {
                    self.stats.gap_adjustments += 1;
                    self.shift_delay(1);
                    return self.fill_gap(out);
                }
                self.set_cursor(next_ts + FRAME_TS);
                self.fill_gap(out)
            }
        }
    }

    fn set_cursor(&mut self, next_ts: i64) {
        if let Some(stream) = &mut self.stream {
            stream.next_ts = next_ts;
        }
    }

    /// Comfort noise after an RFC 3389 packet, silence otherwise.
    fn fill_gap(&mut self, out: &mut [i16; FRAME_SAMPLES]) -> FrameKind {
        if self.noise_on {
            if self.decoding {
                self.noise.fill(out);
            }
            FrameKind::ComfortNoise
        } else {
            if self.decoding {
                out.fill(0);
            }
            FrameKind::Silence
        }
    }

    /// Passes over the telephone-event packets whose time has come at the cursor:
    /// their sequence numbers are done (numbers skipped before them are lost), the
    /// cursor's timestamp stays.
    fn pass_events(&mut self) {
        loop {
            let Some(stream) = &self.stream else { return };
            let (next_seq, next_ts) = (stream.next_seq, stream.next_ts);
            let Some(seq) = self.ring.first_in(next_seq, stream.highest_seq) else {
                return;
            };
            let due_event = self
                .ring
                .get(seq)
                .is_some_and(|slot| slot.payload == Payload::Event && slot.ts < next_ts + FRAME_TS);
            if !due_event {
                return;
            }
            self.ring.remove(seq);
            let Some(stream) = &mut self.stream else {
                return;
            };
            if !stream.fresh {
                self.stats.lost += (seq - stream.next_seq).max(0) as u64;
            }
            stream.fresh = false;
            stream.next_seq = seq + 1;
        }
    }

    /// Plays the buffered packet `seq` (its time has come), with the drift rule.
    fn play_packet(&mut self, seq: i64, out: &mut [i16; FRAME_SAMPLES]) -> FrameKind {
        let Some(slot) = self.ring.get(seq) else {
            return self.fill_gap(out);
        };
        let (ts, payload) = (slot.ts, slot.payload);
        if let Payload::ComfortNoise(level) = payload {
            self.consume(seq, ts);
            self.concealer.cancel();
            if let Some(level) = level {
                self.noise.set_level(level);
            }
            self.noise_on = true;
            if self.decoding {
                self.noise.fill(out);
            }
            return FrameKind::ComfortNoise;
        }
        if !self.decoding {
            self.consume(seq, ts);
            self.noise_on = false;
            self.concealer.cancel();
            return FrameKind::Audio;
        }
        self.decode(seq, out);
        if !self.concealer.is_active() && is_quiet(out) {
            if self.too_little_delay() {
                // Play this quiet frame twice: the cursor stays on it.
                self.stats.drift_corrections += 1;
                self.shift_delay(1);
                self.noise_on = false;
                self.concealer.remember(out);
                return FrameKind::Audio;
            }
            let follower = self.ring.get(seq + 1).map(|next| (next.ts, next.payload));
            if self.too_much_delay()
                && self.opus.is_none()
                && self.last_quiet
                && follower == Some((ts + FRAME_TS, Payload::Audio))
            {
                // A quiet frame between two quiet ones: drop it and play the next
                // one now. (A pause of two frames is never shortened: an in-band
                // DTMF pause of 40 ms stays one.)
                let mut next = [0i16; FRAME_SAMPLES];
                if let Some(slot) = self.ring.get(seq + 1) {
                    let written = self.codec.decode(&slot.data[..slot.len], &mut next);
                    next[written..].fill(0);
                }
                if is_quiet(&next) {
                    self.stats.drift_corrections += 1;
                    self.shift_delay(-1);
                    self.consume(seq, ts);
                    *out = next;
                    self.stats.decoded_frames += 1;
                    return self.play_audio(seq + 1, ts + FRAME_TS, out);
                }
            }
        }
        self.play_audio(seq, ts, out)
    }

    /// Plays the audio packet `seq` (timestamp `ts`), already decoded into `out`.
    fn play_audio(&mut self, seq: i64, ts: i64, out: &mut [i16; FRAME_SAMPLES]) -> FrameKind {
        self.consume(seq, ts);
        self.noise_on = false;
        if self.opus.is_some() {
            // The decoder joined its concealment to this frame itself.
            self.concealer.cancel();
        } else {
            self.concealer.recover(out);
            self.concealer.remember(out);
        }
        FrameKind::Audio
    }

    /// Decodes the buffered packet `seq` into `out` (zeros past a short payload).
    fn decode(&mut self, seq: i64, out: &mut [i16; FRAME_SAMPLES]) {
        let Some(slot) = self.ring.get(seq) else {
            out.fill(0);
            return;
        };
        if let Some(opus) = self.opus.as_mut() {
            if opus.decode(&slot.data[..slot.len], out).is_err() {
                self.stats.decode_errors += 1;
            }
            self.stats.decoded_frames += 1;
            return;
        }
        let written = self.codec.decode(&slot.data[..slot.len], out);
        out[written..].fill(0);
        self.stats.decoded_frames += 1;
    }

    /// Removes the packet `seq` (timestamp `ts`) after playing it: earlier sequence
    /// numbers are lost, and the cursor moves to the frame after it.
    fn consume(&mut self, seq: i64, ts: i64) {
        self.ring.remove(seq);
        let Some(stream) = &mut self.stream else {
            return;
        };
        if !stream.fresh {
            self.stats.lost += (seq - stream.next_seq).max(0) as u64;
        }
        stream.fresh = false;
        stream.next_seq = seq + 1;
        stream.next_ts = (ts + FRAME_TS).max(stream.next_ts);
    }
}

/// Whether every sample of a frame is at most [`QUIET_PEAK`] in magnitude.
fn is_quiet(frame: &[i16; FRAME_SAMPLES]) -> bool {
    frame
        .iter()
        .all(|&sample| sample.unsigned_abs() <= QUIET_PEAK as u16)
}
