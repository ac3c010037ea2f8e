//! Transcoding one 20 ms frame at a time between the formats two legs may have
//! negotiated: G.711 µ-law and A-law (8 kHz), Opus (48 kHz) and linear PCM at 8, 16
//! or 48 kHz (L16, network byte order as in RFC 3551, for consumers that want
//! samples). A bridge between legs with different codecs runs one [`Transcoder`]
//! each way.
//!
//! A frame is decoded to linear PCM at its native rate, converted to the target's
//! rate by a [`Resampler`] when the rates differ, and encoded. The state that must
//! persist between frames (the Opus decoder and encoder, the resampler's history)
//! lives in the transcoder, with scratch frames sized at construction: nothing
//! allocates per frame.

use crate::media::codec::Codec;
use crate::media::opus::{OpusDecoder, OpusEncoder, OpusError, OPUS_FRAME_SAMPLES};
use crate::media::resample::{Rate, Resampler};

/// One end of a transcoder: a codec, or linear samples at a rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// G.711 µ-law, 8 kHz, one byte per sample.
    Pcmu,
    /// G.711 A-law, 8 kHz, one byte per sample.
    Pcma,
    /// Opus, 48 kHz mono.
    Opus,
    /// 16-bit linear PCM, big-endian, at this rate.
    Linear(Rate),
}

impl Format {
    /// The format of a negotiated codec.
    pub fn of(codec: Codec) -> Format {
        match codec {
            Codec::Pcmu => Format::Pcmu,
            Codec::Pcma => Format::Pcma,
            Codec::Opus => Format::Opus,
        }
    }

    /// The rate its samples are at.
    pub fn rate(self) -> Rate {
        match self {
            Format::Pcmu | Format::Pcma => Rate::Hz8000,
            Format::Opus => Rate::Hz48000,
            Format::Linear(rate) => rate,
        }
    }

    /// The most bytes one 20 ms frame of it takes.
    pub fn max_frame_bytes(self) -> usize {
        match self {
            Format::Pcmu | Format::Pcma => 160,
            Format::Opus => crate::media::opus::MAX_PAYLOAD,
            Format::Linear(rate) => rate.frame_samples() * 2,
        }
    }
}

/// Why a frame could not be transcoded.
#[derive(Debug, thiserror::Error)]
pub enum TranscodeError {
    /// libopus refused the packet or the frame.
    #[error(transparent)]
    Opus(#[from] OpusError),
    /// The output buffer cannot hold a frame of the target format.
    #[error("output buffer of {given} bytes, {needed} needed")]
    ShortOutput {
        /// Bytes given.
        given: usize,
        /// Bytes one frame may need.
        needed: usize,
    },
}

/// Turns frames of one [`Format`] into another; see the module documentation.
#[derive(Debug)]
pub struct Transcoder {
    from: Format,
    to: Format,
    decoder: Option<OpusDecoder>,
    encoder: Option<OpusEncoder>,
    resampler: Resampler,
    /// The decoded frame at the source rate.
    decoded: Box<[i16; OPUS_FRAME_SAMPLES]>,
    /// The frame at the target rate.
    converted: Box<[i16; OPUS_FRAME_SAMPLES]>,
}

impl Transcoder {
    /// A transcoder from `from` to `to`, with its codec state and buffers made now.
    pub fn new(from: Format, to: Format) -> Result<Transcoder, TranscodeError> {
        Ok(Transcoder {
            from,
            to,
            decoder: match from {
                Format::Opus => Some(OpusDecoder::new()?),
                _ => None,
            },
            encoder: match to {
                Format::Opus => Some(OpusEncoder::new()?),
                _ => None,
            },
            resampler: Resampler::new(from.rate(), to.rate()),
            decoded: Box::new([0; OPUS_FRAME_SAMPLES]),
            converted: Box::new([0; OPUS_FRAME_SAMPLES]),
        })
    }

    /// The source format.
    pub fn from_format(&self) -> Format {
        self.from
    }

    /// The target format.
    pub fn to_format(&self) -> Format {
        self.to
    }

    /// Transcodes one 20 ms frame `input` into `out`; returns the bytes written.
    pub fn transcode(&mut self, input: &[u8], out: &mut [u8]) -> Result<usize, TranscodeError> {
        let samples = self.decode(Some(input))?;
        self.finish(samples, out)
    }

    /// Makes up the frame of a lost packet (Opus: from `next`'s FEC if given, else
    /// the decoder's concealment; others: silence) and encodes it into `out`.
    pub fn conceal(
        &mut self,
        next: Option<&[u8]>,
        out: &mut [u8],
    ) -> Result<usize, TranscodeError> {
        let samples = match &mut self.decoder {
            Some(decoder) => decoder.conceal(next, &mut self.decoded[..])?,
            None => {
                let len = self.from.rate().frame_samples();
                self.decoded[..len].fill(0);
                len
            }
        };
        self.finish(samples, out)
    }

    /// Decodes `input` into `self.decoded`; returns the samples.
    fn decode(&mut self, input: Option<&[u8]>) -> Result<usize, TranscodeError> {
        let input = input.unwrap_or_default();
        Ok(match self.from {
            Format::Pcmu => Codec::Pcmu.decode(input, &mut self.decoded[..]),
            Format::Pcma => Codec::Pcma.decode(input, &mut self.decoded[..]),
            Format::Opus => match &mut self.decoder {
                Some(decoder) => decoder.decode(input, &mut self.decoded[..])?,
                None => 0,
            },
            Format::Linear(rate) => {
                let len = (input.len() / 2).min(rate.frame_samples());
                for (sample, bytes) in self.decoded.iter_mut().zip(input.chunks_exact(2)) {
                    *sample = i16::from_be_bytes([bytes[0], bytes[1]]);
                }
                len
            }
        })
    }

    /// Resamples `samples` of `self.decoded` and encodes them into `out`.
    fn finish(&mut self, samples: usize, out: &mut [u8]) -> Result<usize, TranscodeError> {
        let needed = self.to.max_frame_bytes();
        if out.len() < needed {
            return Err(TranscodeError::ShortOutput {
                given: out.len(),
                needed,
            });
        }
        let converted = self
            .resampler
            .process(&self.decoded[..samples], &mut self.converted[..]);
        let pcm = &self.converted[..converted];
        Ok(match self.to {
            Format::Pcmu => Codec::Pcmu.encode(pcm, out),
            Format::Pcma => Codec::Pcma.encode(pcm, out),
            Format::Opus => match &mut self.encoder {
                Some(encoder) => encoder.encode(pcm, out)?,
                None => 0,
            },
            Format::Linear(_) => {
                for (bytes, sample) in out.chunks_exact_mut(2).zip(pcm) {
                    bytes.copy_from_slice(&sample.to_be_bytes());
                }
                pcm.len() * 2
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::inband_dtmf::wav_to_8k_mono;

    /// The shipped welcome prompt, 8 kHz.
    fn prompt() -> Vec<i16> {
        let bytes = include_bytes!("../../prompts/welcome.wav");
        wav_to_8k_mono(bytes).expect("the shipped prompt is 8 kHz mono")
    }

    /// Encodes 8 kHz samples into frames of `format`.
    fn encode(samples: &[i16], format: Format) -> Vec<Vec<u8>> {
        let mut to = Transcoder::new(Format::Linear(Rate::Hz8000), format).unwrap();
        let mut out = vec![0u8; 2048];
        samples
            .chunks_exact(160)
            .map(|chunk| {
                let bytes: Vec<u8> = chunk.iter().flat_map(|s| s.to_be_bytes()).collect();
                let len = to.transcode(&bytes, &mut out).unwrap();
                out[..len].to_vec()
            })
            .collect()
    }

    /// Decodes frames of `format` back to 8 kHz samples.
    fn decode(frames: &[Vec<u8>], format: Format) -> Vec<i16> {
        let mut from = Transcoder::new(format, Format::Linear(Rate::Hz8000)).unwrap();
        let mut out = vec![0u8; 2048];
        let mut samples = Vec::new();
        for frame in frames {
            let len = from.transcode(frame, &mut out).unwrap();
            samples.extend(
                out[..len]
                    .chunks_exact(2)
                    .map(|b| i16::from_be_bytes([b[0], b[1]])),
            );
        }
        samples
    }

    /// Transcodes every frame from `from` to `to`.
    fn through(frames: &[Vec<u8>], from: Format, to: Format) -> Vec<Vec<u8>> {
        let mut transcoder = Transcoder::new(from, to).unwrap();
        let mut out = vec![0u8; 2048];
        frames
            .iter()
            .map(|frame| {
                let len = transcoder.transcode(frame, &mut out).unwrap();
                out[..len].to_vec()
            })
            .collect()
    }

    /// The best normalised correlation of `got` against `want` over lags of 0..=40 ms,
    /// and the SNR at that lag in dB.
    fn best_match(want: &[i16], got: &[i16]) -> (f64, f64) {
        let mut best = (f64::MIN, f64::MIN);
        for lag in 0..=320 {
            let pairs = want.iter().zip(got.iter().skip(lag));
            let (mut xy, mut xx, mut yy, mut err) = (0.0, 0.0, 0.0, 0.0);
            for (&x, &y) in pairs {
                let (x, y) = (f64::from(x), f64::from(y));
                xy += x * y;
                xx += x * x;
                yy += y * y;
                err += (x - y) * (x - y);
            }
            let correlation = xy / (xx * yy).sqrt().max(1.0);
            if correlation > best.0 {
                best = (correlation, 10.0 * (xx / err.max(1.0)).log10());
            }
        }
        best
    }

    #[test]
    fn g711_to_g711_keeps_the_prompt() {
        let original = prompt();
        assert!(
            original.len() > 8000,
            "the prompt has at least a second of speech"
        );
        let pcmu = encode(&original, Format::Pcmu);
        let pcma = through(&pcmu, Format::Pcmu, Format::Pcma);
        let back = decode(&pcma, Format::Pcma);
        let (correlation, snr) = best_match(&original, &back);
        assert!(correlation > 0.999, "correlation {correlation}");
        assert!(snr > 30.0, "snr {snr} dB");
    }

    #[test]
    fn g711_through_opus_and_back_keeps_the_prompt() {
        let original = prompt();
        for (first, last) in [(Format::Pcmu, Format::Pcma), (Format::Pcma, Format::Pcmu)] {
            let g711 = encode(&original, first);
            let opus = through(&g711, first, Format::Opus);
            assert!(opus
                .iter()
                .all(|frame| !frame.is_empty() && frame.len() <= 160));
            let back = through(&opus, Format::Opus, last);
            let decoded = decode(&back, last);
            let (correlation, snr) = best_match(&original, &decoded);
            assert!(
                correlation > 0.9,
                "{first:?}→opus→{last:?}: correlation {correlation}"
            );
            assert!(snr > 6.0, "{first:?}→opus→{last:?}: snr {snr} dB");
        }
    }

    #[test]
    fn wideband_linear_and_back_is_near_transparent() {
        let original = prompt();
        let pcmu = encode(&original, Format::Pcmu);
        let wide = through(&pcmu, Format::Pcmu, Format::Linear(Rate::Hz16000));
        assert!(wide.iter().all(|frame| frame.len() == 640));
        let opus = through(&wide, Format::Linear(Rate::Hz16000), Format::Opus);
        let back = decode(&opus, Format::Opus);
        let (correlation, _) = best_match(&original, &back);
        assert!(correlation > 0.9, "correlation {correlation}");
    }

    #[test]
    fn a_lost_opus_frame_is_concealed_and_a_short_buffer_refused() {
        let original = prompt();
        let opus = encode(&original[..8000], Format::Opus);
        let mut transcoder = Transcoder::new(Format::Opus, Format::Pcmu).unwrap();
        let mut out = [0u8; 160];
        for frame in &opus[..20] {
            assert_eq!(transcoder.transcode(frame, &mut out).unwrap(), 160);
        }
        assert_eq!(transcoder.conceal(Some(&opus[21]), &mut out).unwrap(), 160);
        assert_eq!(transcoder.conceal(None, &mut out).unwrap(), 160);
        let mut short = [0u8; 100];
        assert!(matches!(
            transcoder.transcode(&opus[22], &mut short),
            Err(TranscodeError::ShortOutput {
                given: 100,
                needed: 160
            })
        ));
        assert!(transcoder.transcode(&[0x03], &mut out).is_err());
    }
}
