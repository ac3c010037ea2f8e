//! The audio codecs a call leg can use (G.711 µ-law and A-law) and the fixed 20 ms
//! packetisation every stream uses.

use std::time::Duration;

use crate::media::g711;

/// Sampling rate of every supported codec, in Hz (also the RTP clock rate).
pub(crate) const SAMPLE_RATE: u32 = 8_000;
/// Samples (and, for G.711, payload bytes) in one 20 ms frame.
pub(crate) const FRAME_SAMPLES: usize = 160;
/// Playout time of one frame; one RTP packet is sent per frame.
pub(crate) const FRAME_DURATION: Duration = Duration::from_millis(20);

/// A G.711 codec, identified on the wire by its static RTP payload type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
}

impl Codec {
    /// Every supported codec, in order of preference.
    pub const ALL: [Codec; 2] = [Codec::Pcmu, Codec::Pcma];

    /// The static RTP payload type (RFC 3551): 0 for PCMU, 8 for PCMA.
    pub const fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The codec owning a static payload type, if it is one of ours.
    pub const fn from_payload_type(payload_type: u8) -> Option<Codec> {
        match payload_type {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// The SDP encoding name ("PCMU" / "PCMA").
    pub const fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The code word for a zero sample, used to fill silence.
    pub const fn silence_byte(self) -> u8 {
        match self {
            Codec::Pcmu => 0xFF,
            Codec::Pcma => 0xD5,
        }
    }

    /// Encodes one linear sample.
    #[inline]
    pub fn encode_sample(self, sample: i16) -> u8 {
        match self {
            Codec::Pcmu => g711::ulaw_encode(sample),
            Codec::Pcma => g711::alaw_encode(sample),
        }
    }

    /// Decodes one code word.
    #[inline]
    pub fn decode_sample(self, code: u8) -> i16 {
        match self {
            Codec::Pcmu => g711::ulaw_decode(code),
            Codec::Pcma => g711::alaw_decode(code),
        }
    }

    /// Encodes `pcm` into `out` without allocating; returns the number of samples
    /// written (the shorter length). Encoding one frame is `encode(&pcm[..160], &mut out)`.
    pub fn encode(self, pcm: &[i16], out: &mut [u8]) -> usize {
        match self {
            Codec::Pcmu => g711::ulaw_encode_slice(pcm, out),
            Codec::Pcma => g711::alaw_encode_slice(pcm, out),
        }
    }

    /// Decodes `codes` into `out` without allocating; returns the number of samples
    /// written (the shorter length).
    pub fn decode(self, codes: &[u8], out: &mut [i16]) -> usize {
        match self {
            Codec::Pcmu => g711::ulaw_decode_slice(codes, out),
            Codec::Pcma => g711::alaw_decode_slice(codes, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_types_round_trip() {
        for codec in Codec::ALL {
            assert_eq!(Codec::from_payload_type(codec.payload_type()), Some(codec));
        }
        assert_eq!(Codec::Pcmu.payload_type(), 0);
        assert_eq!(Codec::Pcma.payload_type(), 8);
        assert_eq!(Codec::from_payload_type(101), None);
    }

    #[test]
    fn silence_byte_is_the_encoding_of_zero() {
        for codec in Codec::ALL {
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
        for codec in Codec::ALL {
            let mut encoded = [0u8; FRAME_SAMPLES];
            assert_eq!(codec.encode(&pcm, &mut encoded), FRAME_SAMPLES);
            let mut decoded = [0i16; FRAME_SAMPLES];
            assert_eq!(codec.decode(&encoded, &mut decoded), FRAME_SAMPLES);
            assert_eq!(decoded[0], codec.decode_sample(codec.encode_sample(0)));
        }
    }
}
