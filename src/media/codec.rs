//! The audio codecs a call leg can use (G.711 µ-law and A-law, Opus) and the fixed
//! 20 ms packetisation every stream uses.
//!
//! The media path inside a session runs at 8 kHz ([`SAMPLE_RATE`]): G.711 is coded
//! here, sample by sample; Opus is stateful and is coded by the stream's
//! [`OpusEncoder`](crate::media::opus::OpusEncoder) / `OpusDecoder` at 48 kHz, with
//! a resampler between the two rates. The G.711 functions below write nothing for
//! Opus.

use std::time::Duration;

use crate::media::g711;

/// Sampling rate of the media path (prompts, detectors) and of G.711, in Hz.
pub(crate) const SAMPLE_RATE: u32 = 8_000;
/// Samples (and, for G.711, payload bytes) in one 20 ms frame.
pub const FRAME_SAMPLES: usize = 160;
/// Playout time of one frame; one RTP packet is sent per frame.
pub(crate) const FRAME_DURATION: Duration = Duration::from_millis(20);

/// Payload type we offer Opus on (dynamic, RFC 7587).
pub const OPUS_PAYLOAD_TYPE: u8 = 111;

/// An audio codec: G.711 by its static RTP payload type, or Opus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
    /// Opus (RFC 6716, RTP by RFC 7587): 48 kHz clock, dynamic payload type.
    Opus,
}

impl Codec {
    /// Every supported codec.
    pub const ALL: [Codec; 3] = [Codec::Pcmu, Codec::Pcma, Codec::Opus];
    /// The G.711 codecs (coded sample by sample here).
    pub const G711: [Codec; 2] = [Codec::Pcmu, Codec::Pcma];

    /// The static RTP payload type (RFC 3551): 0 for PCMU, 8 for PCMA; for Opus the
    /// dynamic type we offer, [`OPUS_PAYLOAD_TYPE`].
    pub const fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
            Codec::Opus => OPUS_PAYLOAD_TYPE,
        }
    }

    /// The RTP clock rate: 8000 for G.711, 48000 for Opus.
    pub const fn clock_rate(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma => SAMPLE_RATE,
            Codec::Opus => crate::media::opus::OPUS_RATE,
        }
    }

    /// RTP timestamp ticks of one 20 ms frame.
    pub const fn frame_ticks(self) -> u32 {
        self.clock_rate() / 50
    }

    /// The codec owning a static payload type, if it is one of ours.
    pub const fn from_payload_type(payload_type: u8) -> Option<Codec> {
        match payload_type {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// The SDP encoding name ("PCMU" / "PCMA" / "opus").
    pub const fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::Opus => "opus",
        }
    }

    /// The G.711 code word for a zero sample, used to fill silence (0 for Opus,
    /// whose silence is a packet: `opus::silence_frame`).
    pub const fn silence_byte(self) -> u8 {
        match self {
            Codec::Pcmu => 0xFF,
            Codec::Pcma => 0xD5,
            Codec::Opus => 0,
        }
    }

    /// Encodes one linear sample (G.711; 0 for Opus).
    #[inline]
    pub fn encode_sample(self, sample: i16) -> u8 {
        match self {
            Codec::Pcmu => g711::ulaw_encode(sample),
            Codec::Pcma => g711::alaw_encode(sample),
            Codec::Opus => 0,
        }
    }

    /// Decodes one code word (G.711; 0 for Opus).
    #[inline]
    pub fn decode_sample(self, code: u8) -> i16 {
        match self {
            Codec::Pcmu => g711::ulaw_decode(code),
            Codec::Pcma => g711::alaw_decode(code),
            Codec::Opus => 0,
        }
    }

    /// Encodes `pcm` into `out` as G.711 without allocating (nothing for Opus); returns the number of samples
    /// written (the shorter length). Encoding one frame is `encode(&pcm[..160], &mut out)`.
    pub fn encode(self, pcm: &[i16], out: &mut [u8]) -> usize {
        match self {
            Codec::Pcmu => g711::ulaw_encode_slice(pcm, out),
            Codec::Pcma => g711::alaw_encode_slice(pcm, out),
            Codec::Opus => 0,
        }
    }

    /// Decodes G.711 `codes` into `out` without allocating (nothing for Opus); returns the number of samples
    /// written (the shorter length).
    pub fn decode(self, codes: &[u8], out: &mut [i16]) -> usize {
        match self {
            Codec::Pcmu => g711::ulaw_decode_slice(codes, out),
            Codec::Pcma => g711::alaw_decode_slice(codes, out),
            Codec::Opus => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_types_round_trip() {
        for codec in Codec::G711 {
            assert_eq!(Codec::from_payload_type(codec.payload_type()), Some(codec));
        }
        assert_eq!(Codec::Opus.frame_ticks(), 960);
        assert_eq!(Codec::Pcmu.frame_ticks(), 160);
        assert_eq!(Codec::Pcmu.payload_type(), 0);
        assert_eq!(Codec::Pcma.payload_type(), 8);
        assert_eq!(Codec::from_payload_type(101), None);
    }

    #[test]
    fn silence_byte_is_the_encoding_of_zero() {
        for codec in Codec::G711 {
            assert_eq!(codec.encode_sample(0), codec.silence_byte());
            assert!(codec.decode_sample(codec.silence_byte()).abs() <= 8);
        }
    }

    #[test]
    fn frame_constants_agree() {
        assert_eq!(
            FRAME_SAMPLES as u128 * 1_000_000 / u128::from(SAMPLE_RATE),
            FRAME_DURATION.as_micros()
        );
    }

    #[test]
    fn frame_encode_and_decode_use_caller_buffers() {
        let pcm: Vec<i16> = (0..FRAME_SAMPLES as i16).map(|i| i * 100).collect();
        for codec in Codec::G711 {
            let mut encoded = [0u8; FRAME_SAMPLES];
            assert_eq!(codec.encode(&pcm, &mut encoded), FRAME_SAMPLES);
            let mut decoded = [0i16; FRAME_SAMPLES];
            assert_eq!(codec.decode(&encoded, &mut decoded), FRAME_SAMPLES);
            assert_eq!(decoded[0], codec.decode_sample(codec.encode_sample(0)));
        }
    }
}
