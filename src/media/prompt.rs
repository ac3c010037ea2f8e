//! Audio prompts: decoded once at load time and pre-encoded for every codec, then
//! shared read-only by all calls through `Arc<Prompt>`.
//!
//! Opus too is encoded once, at load: the 8 kHz samples are resampled to 48 kHz
//! and encoded frame by frame into a packet sequence every call plays by copying,
//! instead of running an encoder per call (`benches/media.rs` has both figures).
//! A sequence starting from a fresh encoder state is a valid stream on its own, so
//! a call may start it at any point of its own stream.

use std::sync::Arc;
use std::time::Duration;

use crate::media::codec::{Codec, FRAME_SAMPLES, SAMPLE_RATE};
use crate::media::opus::{OpusEncoder, MAX_PAYLOAD, OPUS_FRAME_SAMPLES};
use crate::media::resample::{Rate, Resampler};
use crate::media::wav::{wav_to_8k_mono, WavError};

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
    /// A well-formed WAV file whose header no prompt can come from.
    #[error(
        "prompt {id:?}: WAV header with {channels} channel(s) at {sample_rate} Hz \
         (expected 1 Hz to {max} Hz, at least one channel)",
        max = crate::media::wav::MAX_SAMPLE_RATE
    )]
    UnsupportedFormat {
        /// Id of the prompt being loaded.
        id: String,
        /// The file's sampling rate, in Hz.
        sample_rate: u32,
        /// The file's channel count.
        channels: u16,
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

    /// Parses an in-memory WAV file of any common format (8-32 bit integer or 32-bit
    /// float PCM, any rate, any channel count): downmixed and resampled to 8 kHz
    /// mono once, here, then encoded for every codec.
    pub fn from_wav_bytes(
        id: impl Into<String>,
        text: Option<String>,
        bytes: &[u8],
    ) -> Result<Prompt, PromptError> {
        let id = id.into();
        match wav_to_8k_mono(bytes) {
            Ok(samples) => Ok(Prompt::from_samples(id, text, samples)),
            Err(WavError::InvalidWav(source)) => Err(PromptError::InvalidWav { id, source }),
            Err(WavError::BadHeader {
                channels,
                sample_rate,
            }) => Err(PromptError::UnsupportedFormat {
                id,
                sample_rate,
                channels,
            }),
        }
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
    use std::io::Cursor;

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
    fn other_rates_and_layouts_load_converted_once_and_play_as_long() {
        // One second of a 440 Hz tone at 44.1 kHz stereo and 16 kHz mono.
        for (rate, channels) in [(44_100, 2), (16_000, 1), (22_050, 1), (48_000, 2)] {
            let frames = rate as usize;
            let samples: Vec<i16> = (0..frames * usize::from(channels))
                .map(|i| {
                    let t = (i / usize::from(channels)) as f64 / f64::from(rate);
                    ((t * 440.0 * std::f64::consts::TAU).sin() * 10_000.0) as i16
                })
                .collect();
            let bytes = wav_bytes(spec(rate, channels), &samples);
            let prompt = Prompt::from_wav_bytes("hd", None, &bytes).unwrap();
            assert_eq!(prompt.duration(), Duration::from_secs(1), "{rate} Hz");
            assert_eq!(prompt.encoded(Codec::Pcmu).len(), 8000);
            assert_eq!(prompt.opus_packets(), 50);
            let peak = prompt.samples()[100..7900]
                .iter()
                .map(|s| s.unsigned_abs())
                .max()
                .unwrap();
            // Both channels carry the tone: the downmix keeps its level.
            assert!((9_500..=10_500).contains(&peak), "{rate} Hz: peak {peak}");
        }
    }

    #[test]
    fn a_header_with_an_impossible_rate_is_rejected_with_what_was_found() {
        let bytes = wav_bytes(spec(1_000_000, 1), &[0; 10]);
        let error = Prompt::from_wav_bytes("hd", None, &bytes).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("1000000 Hz"), "{message}");
        assert!(message.contains("\"hd\""), "{message}");
        // A zero rate: hound or the header check refuses it, naming the prompt.
        let mut zero = wav_bytes(spec(8000, 1), &[0; 10]);
        zero[24..28].copy_from_slice(&0u32.to_le_bytes());
        let message = Prompt::from_wav_bytes("z", None, &zero)
            .unwrap_err()
            .to_string();
        assert!(message.contains("\"z\""), "{message}");
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
