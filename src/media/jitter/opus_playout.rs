//! What the jitter buffer needs for an Opus stream: the stream's decoder with the
//! 48 → 8 kHz resampler behind it, and the exact conversion of its 48 kHz RTP
//! timestamps to the buffer's 8 kHz units.

use crate::media::codec::{Codec, FRAME_SAMPLES};
use crate::media::opus::{OpusDecoder, OpusError, OPUS_FRAME_SAMPLES};
use crate::media::resample::{Rate, Resampler};

/// The decoder of one Opus stream, producing the buffer's 8 kHz frames.
#[derive(Debug)]
pub(super) struct OpusPlayout {
    decoder: OpusDecoder,
    resampler: Resampler,
    wide: [i16; OPUS_FRAME_SAMPLES],
}

impl OpusPlayout {
    /// A decoder for `codec` if it is Opus (and libopus made one).
    pub(super) fn for_codec(codec: Codec) -> Option<Box<OpusPlayout>> {
        if codec != Codec::Opus {
            return None;
        }
        match OpusDecoder::new() {
            Ok(decoder) => Some(Box::new(OpusPlayout {
                decoder,
                resampler: Resampler::new(Rate::Hz48000, Rate::Hz8000),
                wide: [0; OPUS_FRAME_SAMPLES],
            })),
            Err(err) => {
                log::warn!("no Opus decoder ({err}): the stream plays as silence");
                None
            }
        }
    }

    /// Decodes `packet` into `out` (silence on error, which is returned).
    pub(super) fn decode(
        &mut self,
        packet: &[u8],
        out: &mut [i16; FRAME_SAMPLES],
    ) -> Result<(), OpusError> {
        let decoded = self.decoder.decode(packet, &mut self.wide);
        self.finish(decoded, out)
    }

    /// Conceals a lost frame into `out`: from `next`'s FEC if given, else by PLC.
    pub(super) fn conceal(
        &mut self,
        next: Option<&[u8]>,
        out: &mut [i16; FRAME_SAMPLES],
    ) -> Result<(), OpusError> {
        let decoded = self.decoder.conceal(next, &mut self.wide);
        self.finish(decoded, out)
    }

    fn finish(
        &mut self,
        decoded: Result<usize, OpusError>,
        out: &mut [i16; FRAME_SAMPLES],
    ) -> Result<(), OpusError> {
        let samples = match &decoded {
            Ok(samples) => (*samples).min(OPUS_FRAME_SAMPLES),
            Err(_) => {
                self.wide.fill(0);
                OPUS_FRAME_SAMPLES
            }
        };
        let written = self.resampler.process(&self.wide[..samples], out);
        out[written..].fill(0);
        decoded.map(|_| ())
    }
}

/// Turns a stream's RTP timestamps into 8 kHz units (identity for G.711): each
/// timestamp is placed relative to the last one converted, so wraps of either clock
/// are followed and no rounding accumulates.
#[derive(Debug, Clone, Copy)]
pub(super) struct TimestampScale {
    /// RTP ticks per 8 kHz unit (1: no conversion).
    divisor: u32,
    /// The last raw timestamp taken as reference (a multiple of `divisor` away
    /// from the first) and its converted value.
    last: Option<(u32, u32)>,
}

impl TimestampScale {
    /// The scale of `codec`'s clock.
    pub(super) fn for_codec(codec: Codec) -> TimestampScale {
        TimestampScale {
            divisor: (codec.clock_rate() / crate::media::codec::SAMPLE_RATE).max(1),
            last: None,
        }
    }

    /// The timestamp in 8 kHz units; `None` when no conversion is needed.
    pub(super) fn apply(&mut self, timestamp: u32) -> Option<u32> {
        if self.divisor == 1 {
            return None;
        }
        let divisor = self.divisor as i32;
        let converted = match self.last {
            None => {
                let converted = timestamp / self.divisor;
                self.last = Some((converted.wrapping_mul(self.divisor), converted));
                converted
            }
            Some((raw, base)) => {
                let steps = (timestamp.wrapping_sub(raw) as i32).div_euclid(divisor);
                let converted = base.wrapping_add(steps as u32);
                let reference = raw.wrapping_add(steps.wrapping_mul(divisor) as u32);
                self.last = Some((reference, converted));
                converted
            }
        };
        Some(converted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::jitter::{FrameKind, JitterBuffer, JitterConfig, JitterOutput};
    use crate::media::opus::{OpusEncoder, MAX_PAYLOAD};
    use crate::media::rtp::RtpPacket;
    use crate::time::Time;

    const PT: u8 = 96;

    /// `count` 20 ms Opus packets of a 500 Hz tone at 48 kHz.
    fn tone_packets(count: usize) -> Vec<Vec<u8>> {
        let mut encoder = OpusEncoder::new().unwrap();
        let mut out = [0u8; MAX_PAYLOAD];
        (0..count)
            .map(|n| {
                let pcm: Vec<i16> = (0..OPUS_FRAME_SAMPLES)
                    .map(|i| {
                        let t = (n * OPUS_FRAME_SAMPLES + i) as f64 / 48_000.0;
                        (8000.0 * (2.0 * std::f64::consts::PI * 500.0 * t).sin()) as i16
                    })
                    .collect();
                let len = encoder.encode(&pcm, &mut out).unwrap();
                out[..len].to_vec()
            })
            .collect()
    }

    /// Plays `packets` through an Opus jitter buffer, one every 20 ms, leaving out
    /// the indices in `lost`; `ts_of` gives each packet's RTP timestamp. Returns
    /// the frames played with their kinds, and the buffer.
    fn play(
        packets: &[Vec<u8>],
        lost: &[usize],
        ts_of: impl Fn(usize) -> u32,
    ) -> (Vec<(FrameKind, [i16; FRAME_SAMPLES])>, JitterBuffer) {
        let config = JitterConfig {
            codec_pt: Some(PT),
            ..JitterConfig::default()
        };
        let mut buffer = JitterBuffer::new(config, Codec::Opus);
        let mut frames = Vec::new();
        let mut out = [0i16; FRAME_SAMPLES];
        for n in 0..packets.len() + 10 {
            let now = Time::from_millis(n as u64 * 20);
            if let Some(payload) = packets.get(n).filter(|_| !lost.contains(&n)) {
                let packet = RtpPacket {
                    payload_type: PT,
                    marker: n == 0,
                    sequence: 1000 + n as u16,
                    timestamp: ts_of(n),
                    ssrc: 9,
                    payload,
                };
                buffer.handle_packet(now, &packet);
            } else {
                buffer.handle_timeout(now);
            }
            while let JitterOutput::Frame(kind) = buffer.poll_output(&mut out) {
                frames.push((kind, out));
            }
        }
        (frames, buffer)
    }

    /// Concealed frames before the last audio frame (the stream's end is concealed
    /// too, like any loss).
    fn concealed_inside(frames: &[(FrameKind, [i16; FRAME_SAMPLES])]) -> usize {
        let last_audio = frames
            .iter()
            .rposition(|(kind, _)| *kind == FrameKind::Audio)
            .unwrap_or(0);
        frames[..last_audio]
            .iter()
            .filter(|(kind, _)| *kind == FrameKind::Concealed)
            .count()
    }

    fn rms(frame: &[i16]) -> f64 {
        (frame.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / frame.len() as f64).sqrt()
    }

    #[test]
    fn an_opus_stream_plays_as_8khz_frames_and_loss_is_concealed_by_fec_then_plc() {
        let packets = tone_packets(40);
        let ts = |n: usize| 7_000_000u32.wrapping_add((n * OPUS_FRAME_SAMPLES) as u32);
        let (clean, _) = play(&packets, &[], ts);
        let audio: Vec<_> = clean
            .iter()
            .filter(|(kind, _)| *kind == FrameKind::Audio)
            .collect();
        assert_eq!(audio.len(), 40);
        // The tone is there at about its level (8000 peak: RMS 5657).
        let level = rms(&audio[20].1);
        assert!((4000.0..7000.0).contains(&level), "rms {level}");

        // One packet lost: its follower is buffered, so FEC rebuilds it. Then two in
        // a row: the first by PLC (its follower is lost too), the second by FEC.
        let (frames, buffer) = play(&packets, &[15, 25, 26], ts);
        let stats = buffer.stats();
        assert_eq!(concealed_inside(&frames), 3, "{stats:?}");
        assert_eq!(stats.fec_frames, 2, "{stats:?}");
        assert_eq!(stats.lost, 3);
        assert_eq!(stats.decode_errors, 0);
        let last_audio = frames
            .iter()
            .rposition(|(kind, _)| *kind == FrameKind::Audio)
            .unwrap();
        for (kind, frame) in &frames[..last_audio] {
            if *kind == FrameKind::Concealed {
                assert!(rms(frame) > 1000.0, "the concealed frame carries the tone");
            }
        }
    }

    #[test]
    fn a_dtx_gap_is_no_loss_and_garbage_is_counted() {
        let mut packets = tone_packets(30);
        // Packets 10..: the sender stopped for 200 ms (DTX), sequence numbers go on.
        let ts = |n: usize| {
            let frames = if n >= 10 { n + 10 } else { n };
            (frames * OPUS_FRAME_SAMPLES) as u32
        };
        packets[20] = vec![0x03]; // code 3 with no frame count: malformed
        let (frames, buffer) = play(&packets, &[], ts);
        let stats = buffer.stats();
        assert_eq!(stats.lost, 0, "{stats:?}");
        assert_eq!(concealed_inside(&frames), 0, "{stats:?}");
        assert_eq!(stats.decode_errors, 1, "{stats:?}");
        let silent = frames
            .iter()
            .skip_while(|(kind, _)| *kind != FrameKind::Audio)
            .filter(|(kind, _)| *kind == FrameKind::Silence)
            .count();
        // Some frames of the 10-frame gap go to bring the delay down (gap adjustments).
        assert!(silent >= 3, "the gap plays as silence: {silent}");
    }

    #[test]
    fn opus_timestamps_become_8khz_units_across_the_wrap() {
        let mut scale = TimestampScale::for_codec(Codec::Opus);
        let start = u32::MAX - 2 * 960 + 1;
        let first = scale.apply(start).unwrap();
        let mut previous = first;
        for n in 1..10u32 {
            let ts = start.wrapping_add(n * 960);
            let converted = scale.apply(ts).unwrap();
            assert_eq!(converted.wrapping_sub(previous), 160, "packet {n}");
            previous = converted;
        }
        // A reordered (earlier) packet lands where it belongs.
        assert_eq!(
            scale.apply(start.wrapping_add(5 * 960)).unwrap(),
            first.wrapping_add(800)
        );
        assert_eq!(TimestampScale::for_codec(Codec::Pcmu).apply(1234), None);
    }
}
