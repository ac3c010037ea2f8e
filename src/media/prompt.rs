//! Audio prompts: decoded once at load time and pre-encoded for every codec, then
//! shared read-only by all calls through `Arc<Prompt>`.
//!
//! Opus too is encoded once, at load: the 8 kHz samples are resampled to 48 kHz
//! and encoded frame by frame into a packet sequence every call plays by copying,
//! instead of running an encoder per call (`benches/media.rs` has both figures).
//! A sequence starting from a fresh encoder state is a valid stream on its own, so
//! a call may start it at any point of its own stream.

use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use crate::media::codec::{Codec, FRAME_SAMPLES, SAMPLE_RATE};
use crate::media::opus::{OpusEncoder, MAX_PAYLOAD, OPUS_FRAME_SAMPLES};
use crate::media::resample::{Rate, Resampler};

/// Why WAV bytes could not become a prompt.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The bytes are not a WAV file hound can read (bad header, truncated data...).
    #[error("prompt {id:?}: not a readable WAV file: {source}")]
    InvalidWav {
        /// Id of the prompt being loaded.
        id: String,
        /// What hound could not read.
        #[source]
        source: hound::Error,
    },
    /// A well-formed WAV file in a format prompts do not accept.
    #[error(
        "prompt {id:?}: expected 8000 Hz 16-bit mono integer PCM, got {sample_rate} Hz \
         {bits_per_sample}-bit {channels}-channel {sample_format}"
    )]
    UnsupportedFormat {
        /// Id of the prompt being loaded.
        id: String,
        /// The file's sampling rate, in Hz.
        sample_rate: u32,
        /// The file's sample size, in bits.
        bits_per_sample: u16,
        /// The file's channel count.
        channels: u16,
        /// "integer PCM" or "float".
        sample_format: &'static str,
    },
}

/// One prompt: 8 kHz mono samples plus their G.711 encodings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// See [`Prompt::id`].
    id: String,
    /// See [`Prompt::text`].
    text: Option<String>,
    /// Linear 8 kHz mono samples.
    samples: Arc<[i16]>,
    /// `samples` in µ-law, one byte per sample.
    pcmu: Arc<[u8]>,
    /// `samples` in A-law, one byte per sample.
    pcma: Arc<[u8]>,
    /// `samples` in Opus: the 20 ms packets back to back.
    opus: Arc<[u8]>,
    /// End offset in `opus` of each packet.
    opus_ends: Arc<[u32]>,
}

impl Prompt {
    /// Builds a prompt from 8 kHz mono samples, encoding them for every codec.
    pub fn from_samples(id: impl Into<String>, text: Option<String>, samples: Vec<i16>) -> Prompt {
        let encode = |codec: Codec| -> Arc<[u8]> {
            let mut encoded = vec![0u8; samples.len()];
            codec.encode(&samples, &mut encoded);
            encoded.into()
        };
        let pcmu = encode(Codec::Pcmu);
        let pcma = encode(Codec::Pcma);
        let id = id.into();
        let (opus, opus_ends) = match encode_opus(&samples) {
            Ok(encoded) => encoded,
            Err(err) => {
                log::warn!("prompt {id:?}: no Opus encoding ({err}); Opus calls hear silence");
                (Vec::new(), Vec::new())
            }
        };
        Prompt {
            id,
            text,
            samples: samples.into(),
            pcmu,
            pcma,
            opus: opus.into(),
            opus_ends: opus_ends.into(),
        }
    }

    /// Parses an in-memory WAV file, which must be 8000 Hz, 16-bit, mono, integer PCM.
    pub fn from_wav_bytes(
        id: impl Into<String>,
        text: Option<String>,
        bytes: &[u8],
    ) -> Result<Prompt, PromptError> {
        let id = id.into();
        let invalid = |id: &str, source| PromptError::InvalidWav {
            id: id.to_owned(),
            source,
        };
        let mut reader = match hound::WavReader::new(Cursor::new(bytes)) {
            Ok(reader) => reader,
            Err(source) => return Err(invalid(&id, source)),
        };
        let spec = reader.spec();
        let is_integer = spec.sample_format == hound::SampleFormat::Int;
        if spec.sample_rate != SAMPLE_RATE
            || spec.bits_per_sample != 16
            || spec.channels != 1
            || !is_integer
        {
            return Err(PromptError::UnsupportedFormat {
                id,
                sample_rate: spec.sample_rate,
                bits_per_sample: spec.bits_per_sample,
                channels: spec.channels,
                sample_format: if is_integer { "integer PCM" } else { "float" },
            });
        }
        // The header's sample count is not trusted for the allocation size.
        let announced = usize::try_from(reader.len()).unwrap_or(usize::MAX);
        let mut samples = Vec::with_capacity(announced.min(bytes.len() / 2));
        for sample in reader.samples::<i16>() {
            match sample {
                Ok(sample) => samples.push(sample),
                Err(source) => return Err(invalid(&id, source)),
            }
        }
        Ok(Prompt::from_samples(id, text, samples))
    }

    /// The id the prompt is known by in the catalog and in flows.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The words spoken in the prompt, if known (used to find prompts by text).
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// The linear 8 kHz samples.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// The prompt encoded for a G.711 `codec`, one byte per sample (empty for Opus:
    /// see [`Prompt::opus_packet`]).
    pub fn encoded(&self, codec: Codec) -> &[u8] {
        match codec {
            Codec::Pcmu => &self.pcmu,
            Codec::Pcma => &self.pcma,
            Codec::Opus => &[],
        }
    }

    /// The Opus packets of the prompt, one per 20 ms frame.
    pub fn opus_packets(&self) -> usize {
        self.opus_ends.len()
    }

    /// The Opus packet of frame `index`.
    pub fn opus_packet(&self, index: usize) -> Option<&[u8]> {
        let end = *self.opus_ends.get(index)? as usize;
        let start = match index {
            0 => 0,
            _ => *self.opus_ends.get(index - 1)? as usize,
        };
        self.opus.get(start..end)
    }

    /// Playout time.
    pub fn duration(&self) -> Duration {
        let micros = self.samples.len() as u64 * 1_000_000 / u64::from(SAMPLE_RATE);
        Duration::from_micros(micros)
    }
}

/// Encodes 8 kHz samples as 20 ms Opus packets (the last frame padded with silence):
/// the packets back to back and the end offset of each.
fn encode_opus(samples: &[i16]) -> Result<(Vec<u8>, Vec<u32>), crate::media::opus::OpusError> {
    let mut encoder = OpusEncoder::new()?;
    let mut resampler = Resampler::new(Rate::Hz8000, Rate::Hz48000);
    let frames = samples.len().div_ceil(FRAME_SAMPLES);
    let mut packets = Vec::with_capacity(frames * 80);
    let mut ends = Vec::with_capacity(frames);
    let mut narrow = [0i16; FRAME_SAMPLES];
    let mut wide = [0i16; OPUS_FRAME_SAMPLES];
    let mut packet = [0u8; MAX_PAYLOAD];
    for chunk in samples.chunks(FRAME_SAMPLES) {
        narrow[..chunk.len()].copy_from_slice(chunk);
        narrow[chunk.len()..].fill(0);
        resampler.process(&narrow, &mut wide);
        let len = encoder.encode(&wide, &mut packet)?;
        packets.extend_from_slice(&packet[..len]);
        ends.push(packets.len() as u32);
    }
    Ok((packets, ends))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opus_packets_cover_the_prompt_and_decode_to_its_level() {
        let samples: Vec<i16> = (0..8000 + 40)
            .map(|n| ((n as f64 * 0.3).sin() * 8000.0) as i16)
            .collect();
        let prompt = Prompt::from_samples("tone", None, samples);
        assert_eq!(prompt.opus_packets(), 51, "one packet per started 20 ms");
        let mut decoder = crate::media::opus::OpusDecoder::new().unwrap();
        let mut out = [0i16; OPUS_FRAME_SAMPLES];
        let mut energy = 0.0;
        for index in 0..prompt.opus_packets() {
            let packet = prompt.opus_packet(index).unwrap();
            assert!(!packet.is_empty() && packet.len() <= MAX_PAYLOAD);
            assert_eq!(
                decoder.decode(packet, &mut out).unwrap(),
                OPUS_FRAME_SAMPLES
            );
            if (10..40).contains(&index) {
                energy += out.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>();
            }
        }
        let rms = (energy / (30.0 * OPUS_FRAME_SAMPLES as f64)).sqrt();
        // The sine's RMS is 8000/√2 ≈ 5657.
        assert!((4000.0..7000.0).contains(&rms), "rms {rms}");
        assert!(prompt.opus_packet(51).is_none());
    }

    fn wav_bytes(spec: hound::WavSpec, samples: &[i16]) -> Vec<u8> {
        let mut cursor = Cursor::new(Vec::new());
        let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
        for &sample in samples {
            writer.write_sample(sample).unwrap();
        }
        writer.finalize().unwrap();
        cursor.into_inner()
    }

    fn spec(sample_rate: u32, channels: u16) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        }
    }

    #[test]
    fn from_samples_pre_encodes_every_codec() {
        let samples = vec![0, 1000, -1000, i16::MAX, i16::MIN];
        let prompt = Prompt::from_samples("p", Some("hello".into()), samples.clone());
        assert_eq!(prompt.id(), "p");
        assert_eq!(prompt.text(), Some("hello"));
        assert_eq!(prompt.samples(), &samples[..]);
        for codec in Codec::G711 {
            let expected: Vec<u8> = samples.iter().map(|&s| codec.encode_sample(s)).collect();
            assert_eq!(prompt.encoded(codec), &expected[..]);
        }
    }

    #[test]
    fn duration_follows_sample_count() {
        let prompt = Prompt::from_samples("p", None, vec![0; 8000]);
        assert_eq!(prompt.duration(), Duration::from_secs(1));
        assert_eq!(prompt.samples().len(), 8000);
        let short = Prompt::from_samples("s", None, vec![0; 4]);
        assert_eq!(short.duration(), Duration::from_micros(500));
    }

    #[test]
    fn reads_a_valid_wav() {
        let samples: Vec<i16> = (0..400).map(|i| (i * 37 % 2000) as i16 - 1000).collect();
        let bytes = wav_bytes(spec(8000, 1), &samples);
        let prompt = Prompt::from_wav_bytes("welcome", None, &bytes).unwrap();
        assert_eq!(prompt.samples(), &samples[..]);
        assert_eq!(prompt.encoded(Codec::Pcmu).len(), 400);
        assert_eq!(prompt.duration(), Duration::from_millis(50));
    }

    #[test]
    fn wrong_sample_rate_is_rejected_with_what_was_found() {
        let bytes = wav_bytes(spec(16_000, 1), &[0; 10]);
        let error = Prompt::from_wav_bytes("hd", None, &bytes).unwrap_err();
        assert!(matches!(
            error,
            PromptError::UnsupportedFormat {
                sample_rate: 16_000,
                ..
            }
        ));
        let message = error.to_string();
        assert!(message.contains("16000 Hz"), "{message}");
        assert!(message.contains("\"hd\""), "{message}");
    }

    #[test]
    fn stereo_and_other_depths_are_rejected() {
        let stereo = wav_bytes(spec(8000, 2), &[0; 10]);
        assert!(matches!(
            Prompt::from_wav_bytes("s", None, &stereo),
            Err(PromptError::UnsupportedFormat { channels: 2, .. })
        ));
        let mut cursor = Cursor::new(Vec::new());
        let eight_bit = hound::WavSpec {
            bits_per_sample: 8,
            ..spec(8000, 1)
        };
        let mut writer = hound::WavWriter::new(&mut cursor, eight_bit).unwrap();
        writer.write_sample(0i8).unwrap();
        writer.finalize().unwrap();
        assert!(matches!(
            Prompt::from_wav_bytes("b", None, cursor.get_ref()),
            Err(PromptError::UnsupportedFormat {
                bits_per_sample: 8,
                ..
            })
        ));
    }

    #[test]
    fn garbage_and_truncated_files_are_errors() {
        assert!(matches!(
            Prompt::from_wav_bytes("g", None, b"not a wav file at all"),
            Err(PromptError::InvalidWav { .. })
        ));
        assert!(Prompt::from_wav_bytes("e", None, &[]).is_err());
        let bytes = wav_bytes(spec(8000, 1), &[5; 100]);
        for cut in 0..bytes.len() {
            // Every prefix is either rejected or yields the samples present so far.
            if let Ok(prompt) = Prompt::from_wav_bytes("t", None, &bytes[..cut]) {
                assert!(prompt.samples().len() <= 100);
            }
        }
        // A header announcing far more data than present must not allocate it all.
        let mut lying = bytes.clone();
        let data_len_at = lying.len() - 200 - 4;
        lying[data_len_at..data_len_at + 4].copy_from_slice(&0x7FFF_FFF0u32.to_le_bytes());
        assert!(matches!(
            Prompt::from_wav_bytes("l", None, &lying),
            Err(PromptError::InvalidWav { .. })
        ));
    }
}
