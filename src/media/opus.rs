//! Opus (RFC 6716) for one stream, through libopus (`audiopus`): an encoder and a
//! decoder at 48 kHz mono, the media path's Opus rate.
//!
//! RFC 7587 has every Opus stream announced as `opus/48000/2` whatever it carries;
//! we send mono (`stereo=0` in our fmtp) and decode to mono (libopus downmixes a
//! stereo packet). Our encoder runs in VoIP mode at [`BITRATE`] with in-band FEC on
//! (`useinbandfec=1`) and [`MAX_PAYLOAD`] as its size limit, so every packet fits a
//! jitter-buffer slot and a session packet.
//!
//! The far end's fmtp (RFC 7587 §6.1) is honoured by what we send being within
//! every setting it may give: mono is what `stereo=0` asks and what a `stereo=1`
//! receiver must still accept; our audio is 8 kHz material (prompts, tones), so it
//! never exceeds any `maxplaybackrate` (8000 at least); FEC in our packets costs a
//! `useinbandfec=0` receiver nothing but bits (its decoder skips it); and our
//! packets are 20 ms, the `ptime` every stream of this crate uses.
//! [`OpusEncoder::limit_bandwidth`] and [`OpusEncoder::set_fec`] are there for
//! live encoders (transcoding a wideband leg) that must follow them exactly.
//!
//! Loss: [`OpusDecoder::conceal`] decodes the redundancy (LBRR) carried in the
//! *next* packet when it has arrived (`decode_fec`), and otherwise runs the
//! decoder's packet loss concealment (a decode with no packet), which also
//! extrapolates across DTX gaps.
//!
//! Both sides work on caller buffers: nothing allocates per packet. A decode or
//! encode error (a malformed packet from the far end) is returned, never a panic.

use std::sync::OnceLock;

use audiopus::coder::{Decoder, Encoder};
use audiopus::packet::Packet;
use audiopus::{Application, Bitrate, Channels, MutSignals, SampleRate};

/// The Opus RTP clock and our encode/decode rate, in Hz.
pub const OPUS_RATE: u32 = 48_000;
/// Samples (and RTP timestamp ticks) of one 20 ms frame at 48 kHz.
pub const OPUS_FRAME_SAMPLES: usize = 960;
/// Our encoder's bitrate: wideband speech with room for FEC.
pub const BITRATE: i32 = 32_000;
/// The largest Opus payload we write (and buffer from the far end): at 20 ms, 64
/// kbit/s worth. Larger received packets are dropped as overflow by the buffer.
pub const MAX_PAYLOAD: usize = 160;
/// Expected loss we tell the encoder, so that it puts FEC in its packets.
const EXPECTED_LOSS_PERCENT: u8 = 5;

/// What went wrong in libopus.
#[derive(Debug, thiserror::Error)]
#[error("opus: {0}")]
pub struct OpusError(#[from] audiopus::Error);

/// The encoder of one stream we send.
#[derive(Debug)]
pub struct OpusEncoder {
    inner: Encoder,
}

impl OpusEncoder {
    /// A 48 kHz mono VoIP encoder with in-band FEC.
    pub fn new() -> Result<OpusEncoder, OpusError> {
        let mut inner = Encoder::new(SampleRate::Hz48000, Channels::Mono, Application::Voip)?;
        inner.set_bitrate(Bitrate::BitsPerSecond(BITRATE))?;
        inner.set_inband_fec(true)?;
        inner.set_packet_loss_perc(EXPECTED_LOSS_PERCENT)?;
        // What we send is speech (prompts): SILK or hybrid frames, which carry FEC.
        inner.set_signal(audiopus::Signal::Voice)?;
        Ok(OpusEncoder { inner })
    }

    /// Encodes one 20 ms frame (960 samples at 48 kHz) into `out` (at most
    /// [`MAX_PAYLOAD`] bytes are used); returns the payload length.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, OpusError> {
        let limit = out.len().min(MAX_PAYLOAD);
        Ok(self.inner.encode(pcm, &mut out[..limit])?)
    }

    /// Tells the encoder the far end decodes no more than `hz` (its
    /// `maxplaybackrate`): the encoder then spends no bits above it.
    pub fn limit_bandwidth(&mut self, hz: u32) -> Result<(), OpusError> {
        use audiopus::Bandwidth;
        let bandwidth = match hz {
            0..=8_000 => Bandwidth::Narrowband,
            8_001..=12_000 => Bandwidth::Mediumband,
            12_001..=16_000 => Bandwidth::Wideband,
            16_001..=24_000 => Bandwidth::Superwideband,
            _ => Bandwidth::Fullband,
        };
        Ok(self.inner.set_max_bandwidth(bandwidth)?)
    }

    /// Turns in-band FEC on or off (off when the far end said `useinbandfec=0`).
    pub fn set_fec(&mut self, on: bool) -> Result<(), OpusError> {
        Ok(self.inner.set_inband_fec(on)?)
    }
}

/// The decoder of one stream we receive.
#[derive(Debug)]
pub struct OpusDecoder {
    inner: Decoder,
}

impl OpusDecoder {
    /// A 48 kHz mono decoder.
    pub fn new() -> Result<OpusDecoder, OpusError> {
        Ok(OpusDecoder {
            inner: Decoder::new(SampleRate::Hz48000, Channels::Mono)?,
        })
    }

    /// Decodes one received packet into `out` (960 samples for a 20 ms packet);
    /// returns the samples written.
    pub fn decode(&mut self, packet: &[u8], out: &mut [i16]) -> Result<usize, OpusError> {
        let packet = Packet::try_from(packet)?;
        let signals = MutSignals::try_from(out)?;
        Ok(self.inner.decode(Some(packet), signals, false)?)
    }

    /// Makes up the frame of a lost packet into `out` (its length is the frame's):
    /// from the FEC data of `next`, the packet that followed it, when that has
    /// arrived; else by the decoder's concealment. Returns the samples written.
    pub fn conceal(&mut self, next: Option<&[u8]>, out: &mut [i16]) -> Result<usize, OpusError> {
        let next = next.filter(|next| !next.is_empty());
        let fec = next.is_some();
        let packet = match next {
            Some(next) => Some(Packet::try_from(next)?),
            None => None,
        };
        let signals = MutSignals::try_from(out)?;
        Ok(self.inner.decode(packet, signals, fec)?)
    }
}

/// One 20 ms Opus frame of digital silence, encoded once per process by a fresh
/// encoder: what a session sends when it has nothing to play. `None` only if
/// libopus refused to make an encoder.
pub fn silence_frame() -> Option<&'static [u8]> {
    static SILENCE: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    SILENCE
        .get_or_init(|| {
            let mut encoder = OpusEncoder::new().ok()?;
            let zeros = [0i16; OPUS_FRAME_SAMPLES];
            let mut out = [0u8; MAX_PAYLOAD];
            // A few frames, so the packet is the steady state of silence.
            let mut len = 0;
            for _ in 0..3 {
                len = encoder.encode(&zeros, &mut out).ok()?;
            }
            Some(out[..len].to_vec())
        })
        .as_deref()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Voiced speech-like audio: a 140 Hz fundamental and its harmonics, swelling.
    fn voice(frames: usize) -> Vec<i16> {
        (0..frames * OPUS_FRAME_SAMPLES)
            .map(|n| {
                let t = n as f64 / f64::from(OPUS_RATE);
                let tau = 2.0 * std::f64::consts::PI;
                let envelope = 0.6 + 0.4 * (tau * 2.0 * t).sin();
                let sum: f64 = (1..=12)
                    .map(|k| (tau * 140.0 * k as f64 * t).sin() / k as f64)
                    .sum();
                (envelope * 4000.0 * sum) as i16
            })
            .collect()
    }

    fn tone(freq: f64, frames: usize) -> Vec<i16> {
        (0..frames * OPUS_FRAME_SAMPLES)
            .map(|n| {
                let t = n as f64 / f64::from(OPUS_RATE);
                (10_000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
            })
            .collect()
    }

    fn energy(samples: &[i16]) -> f64 {
        samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64
    }

    #[test]
    fn a_tone_survives_encode_and_decode_within_the_size_limit() {
        let pcm = tone(440.0, 50);
        let mut encoder = OpusEncoder::new().unwrap();
        let mut decoder = OpusDecoder::new().unwrap();
        let mut decoded = Vec::new();
        let mut packet = [0u8; 1500];
        let mut frame = [0i16; OPUS_FRAME_SAMPLES];
        for chunk in pcm.chunks(OPUS_FRAME_SAMPLES) {
            let len = encoder.encode(chunk, &mut packet).unwrap();
            assert!((1..=MAX_PAYLOAD).contains(&len), "payload of {len} bytes");
            assert_eq!(decoder.decode(&packet[..len], &mut frame).unwrap(), 960);
            decoded.extend_from_slice(&frame);
        }
        // After the codec's start-up, the level is kept within 2 dB.
        let ratio = energy(&decoded[9600..]) / energy(&pcm[9600..]);
        assert!((0.63..1.58).contains(&ratio), "energy ratio {ratio}");
    }

    #[test]
    fn a_lost_packet_is_recovered_from_the_next_ones_fec_better_than_by_plc() {
        let pcm = voice(40);
        let mut encoder = OpusEncoder::new().unwrap();
        let mut packets = Vec::new();
        let mut buf = [0u8; MAX_PAYLOAD];
        for chunk in pcm.chunks(OPUS_FRAME_SAMPLES) {
            let len = encoder.encode(chunk, &mut buf).unwrap();
            packets.push(buf[..len].to_vec());
        }
        let lost = 30;
        let run = |use_fec: bool| -> Vec<i16> {
            let mut decoder = OpusDecoder::new().unwrap();
            let mut out = vec![0i16; pcm.len()];
            for (n, packet) in packets.iter().enumerate() {
                let frame = &mut out[n * OPUS_FRAME_SAMPLES..(n + 1) * OPUS_FRAME_SAMPLES];
                let written = if n == lost {
                    let next = use_fec.then(|| packets[n + 1].as_slice());
                    decoder.conceal(next, frame).unwrap()
                } else {
                    decoder.decode(packet, frame).unwrap()
                };
                assert_eq!(written, OPUS_FRAME_SAMPLES);
            }
            out
        };
        let reference = run(false);
        let with_fec = run(true);
        let lost_range = lost * OPUS_FRAME_SAMPLES..(lost + 1) * OPUS_FRAME_SAMPLES;
        // Both make up audio (not silence) where the packet was lost; FEC is closer to
        // what was sent.
        assert!(energy(&reference[lost_range.clone()]) > 1e5);
        assert!(energy(&with_fec[lost_range.clone()]) > 1e5);
        // The codec delay (6.5 ms) shifts the decoded signal: compare each against a
        // clean decode instead of the input.
        let mut clean = OpusDecoder::new().unwrap();
        let mut clean_out = vec![0i16; pcm.len()];
        for (n, packet) in packets.iter().enumerate() {
            clean
                .decode(packet, &mut clean_out[n * 960..(n + 1) * 960])
                .unwrap();
        }
        let distance = |decoded: &[i16]| -> f64 {
            let diff: Vec<i16> = decoded[lost_range.clone()]
                .iter()
                .zip(&clean_out[lost_range.clone()])
                .map(|(a, b)| a.saturating_sub(*b))
                .collect();
            energy(&diff)
        };
        assert!(
            distance(&with_fec) < distance(&reference),
            "fec {} plc {}",
            distance(&with_fec),
            distance(&reference)
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut decoder = OpusDecoder::new().unwrap();
        let mut out = [0i16; OPUS_FRAME_SAMPLES];
        assert!(decoder.decode(&[], &mut out).is_err());
        // A TOC byte announcing code 3 (arbitrary frames) with no frame count.
        assert!(decoder.decode(&[0x03], &mut out).is_err());
        let silence = silence_frame().unwrap();
        assert_eq!(decoder.decode(silence, &mut out).unwrap(), 960);
        assert!(out.iter().all(|&s| s.abs() < 50));
    }
}
