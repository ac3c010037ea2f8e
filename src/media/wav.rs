//! WAV files of any common format turned into the media plane's 8 kHz mono 16-bit
//! PCM: 8-, 16-, 24- and 32-bit integer or 32-bit float samples, any rate from
//! 1 Hz to [`MAX_SAMPLE_RATE`], any channel count. Channels are averaged, then the
//! result is resampled once (prompts are converted at load, never per call).
//!
//! Resampling: each output sample is the input convolved, at the output instant, with
//! a Blackman-windowed sinc low-pass of cutoff 0.425 × the lower of the two rates
//! (3.4 kHz for any input of 8 kHz or more), 16 zero crossings each side. This is
//! exact band-limited interpolation up to the window's ripple, for any rate ratio;
//! 8 kHz input is passed through untouched. The kernel is tabulated once per
//! output phase of the reduced ratio (22 050 → 8 000 Hz has 160 phases, 44 100 →
//! 8 000 Hz 80), so each output sample is one dot product; a ratio with more
//! phases than [`MAX_PHASES`] evaluates the kernel directly instead.
//! `resample.rs` is the per-frame resampler of the packet path, which only knows
//! the integer ratios between 8, 16 and 48 kHz; WAV files arrive at 11.025,
//! 22.05 and 44.1 kHz too, hence this one.

use std::f64::consts::PI;
use std::io::Cursor;

use crate::media::codec::SAMPLE_RATE;

/// Zero crossings of the sinc kept on each side of the output instant.
const ZERO_CROSSINGS: f64 = 16.0;
/// Cutoff as a fraction of the lower sampling rate.
const CUTOFF: f64 = 0.425;
/// The highest sampling rate accepted, Hz (a higher one is refused, not resampled
/// with a kernel of thousands of taps).
pub const MAX_SAMPLE_RATE: u32 = 384_000;
/// Output phases above which the kernel is evaluated per tap rather than tabulated.
const MAX_PHASES: u32 = 1024;

/// Why WAV bytes could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    /// Not a WAV file hound can read (bad header, truncated data, unknown format).
    #[error("not a readable WAV file: {0}")]
    InvalidWav(#[from] hound::Error),
    /// A header with no channels, or a sampling rate of zero or above
    /// [`MAX_SAMPLE_RATE`].
    #[error("WAV header with {channels} channel(s) at {sample_rate} Hz")]
    BadHeader {
        /// Channels the header announces.
        channels: u16,
        /// Sampling rate the header announces, Hz.
        sample_rate: u32,
    },
}

/// Decodes a WAV file (8-32 bit integer or 32-bit float PCM, any rate, any channel
/// count) into 8 kHz mono 16-bit samples.
pub fn wav_to_8k_mono(bytes: &[u8]) -> Result<Vec<i16>, WavError> {
    let mut reader = hound::WavReader::new(Cursor::new(bytes))?;
    let spec = reader.spec();
    if spec.channels == 0 || spec.sample_rate == 0 || spec.sample_rate > MAX_SAMPLE_RATE {
        return Err(WavError::BadHeader {
            channels: spec.channels,
            sample_rate: spec.sample_rate,
        });
    }
    // Every sample on the 16-bit scale.
    let interleaved: Vec<f64> = match spec.sample_format {
        hound::SampleFormat::Int => {
            let scale = 2f64.powi(16 - i32::from(spec.bits_per_sample));
            reader
                .samples::<i32>()
                .map(|s| s.map(|s| f64::from(s) * scale))
                .collect::<Result<_, _>>()?
        }
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .map(|s| s.map(|s| f64::from(s) * 32_768.0))
            .collect::<Result<_, _>>()?,
    };
    let channels = usize::from(spec.channels);
    let mono: Vec<f64> = interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f64>() / channels as f64)
        .collect();
    Ok(to_8k_i16(&mono, spec.sample_rate))
}

/// Mono samples on the 16-bit scale at `rate` Hz, resampled to 8 kHz and rounded
/// (clipped at full scale). Decoders of other formats (MP3, a speech engine's
/// output) end here too.
pub(crate) fn to_8k_i16(mono: &[f64], rate: u32) -> Vec<i16> {
    let out = if rate == SAMPLE_RATE {
        mono.to_vec()
    } else {
        resample(mono, rate, SAMPLE_RATE)
    };
    out.iter()
        .map(|&s| s.round().clamp(-32_768.0, 32_767.0) as i16)
        .collect()
}

/// Greatest common divisor.
fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Windowed-sinc resampling of `input` from `from` Hz to `to` Hz (both non-zero).
fn resample(input: &[f64], from: u32, to: u32) -> Vec<f64> {
    let divisor = gcd(from, to).max(1);
    // Output n sits at input position n·down/up.
    let up = to / divisor;
    let down = u64::from(from / divisor);
    // Cutoff in cycles per input sample.
    let cutoff = CUTOFF * f64::from(from.min(to)) / f64::from(from);
    let half_width = ZERO_CROSSINGS / (2.0 * cutoff);
    let reach = half_width.ceil() as i64;
    let out_len = (input.len() as u64 * u64::from(up) / down) as usize;
    let mut out = Vec::with_capacity(out_len);
    // Taps for phase p (output instant p/up past an input sample `base`) cover
    // input samples base-reach+1 ..= base+reach.
    let taps = (2 * reach) as usize;
    let table: Option<Vec<f64>> = (up <= MAX_PHASES).then(|| {
        (0..up)
            .flat_map(|phase| {
                let frac = f64::from(phase) / f64::from(up);
                (-reach + 1..=reach).map(move |k| kernel(k as f64 - frac, cutoff, half_width))
            })
            .collect()
    });
    for n in 0..out_len as u64 {
        let position = n * down;
        let base = (position / u64::from(up)) as i64;
        let phase = (position % u64::from(up)) as usize;
        let first = base - reach + 1;
        let mut acc = 0.0;
        match &table {
            Some(table) => {
                let weights = &table[phase * taps..(phase + 1) * taps];
                for (offset, weight) in weights.iter().enumerate() {
                    let m = first + offset as i64;
                    if let Some(&x) = usize::try_from(m).ok().and_then(|m| input.get(m)) {
                        acc += x * weight;
                    }
                }
            }
            None => {
                let centre = base as f64 + phase as f64 / f64::from(up);
                for m in first..first + taps as i64 {
                    if let Some(&x) = usize::try_from(m).ok().and_then(|m| input.get(m)) {
                        acc += x * kernel(m as f64 - centre, cutoff, half_width);
                    }
                }
            }
        }
        out.push(acc);
    }
    out
}

/// Blackman-windowed sinc low-pass at `cutoff` cycles per sample, `t` samples from its
/// centre, unit gain at DC.
fn kernel(t: f64, cutoff: f64, half_width: f64) -> f64 {
    if t.abs() >= half_width {
        return 0.0;
    }
    let sinc = if t == 0.0 {
        2.0 * cutoff
    } else {
        (2.0 * PI * cutoff * t).sin() / (PI * t)
    };
    let phase = PI * (t / half_width + 1.0); // 0..2π across the window
    let window = 0.42 - 0.5 * phase.cos() + 0.08 * (2.0 * phase).cos();
    sinc * window
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAV file written by hound: `seconds` of a `freq` Hz sine at `amplitude`
    /// (share of full scale) in the first channel, the other channels silent.
    fn sine_wav(spec: hound::WavSpec, freq: f64, amplitude: f64, seconds: f64) -> Vec<u8> {
        let mut cursor = Cursor::new(Vec::new());
        let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
        let frames = (f64::from(spec.sample_rate) * seconds) as u32;
        for i in 0..frames {
            let v =
                amplitude * (2.0 * PI * freq * f64::from(i) / f64::from(spec.sample_rate)).sin();
            for channel in 0..spec.channels {
                let v = if channel == 0 { v } else { 0.0 };
                match (spec.sample_format, spec.bits_per_sample) {
                    (hound::SampleFormat::Float, _) => writer.write_sample(v as f32),
                    (_, 8) => writer.write_sample((v * 127.0).round() as i8),
                    (_, 16) => writer.write_sample((v * 32_767.0).round() as i16),
                    (_, bits) => writer
                        .write_sample((v * (2f64.powi(i32::from(bits) - 1) - 1.0)).round() as i32),
                }
                .unwrap();
            }
        }
        writer.finalize().unwrap();
        cursor.into_inner()
    }

    /// Level of `freq` Hz in 8 kHz `samples`, as the amplitude of a sine (Goertzel).
    fn amplitude_at(samples: &[i16], freq: f64) -> f64 {
        let coeff = 2.0 * (2.0 * PI * freq / 8000.0).cos();
        let (mut s1, mut s2) = (0.0, 0.0);
        for &x in samples {
            let s = f64::from(x) + coeff * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
        2.0 * power.sqrt() / samples.len() as f64
    }

    #[test]
    fn every_common_rate_depth_and_layout_becomes_8k_mono_at_the_right_pitch() {
        let formats = [
            (16, hound::SampleFormat::Int),
            (8, hound::SampleFormat::Int),
            (24, hound::SampleFormat::Int),
            (32, hound::SampleFormat::Int),
            (32, hound::SampleFormat::Float),
        ];
        for rate in [8_000, 11_025, 16_000, 22_050, 44_100, 48_000] {
            for channels in [1, 2] {
                for (bits, format) in formats {
                    let spec = hound::WavSpec {
                        channels,
                        sample_rate: rate,
                        bits_per_sample: bits,
                        sample_format: format,
                    };
                    let pcm = wav_to_8k_mono(&sine_wav(spec, 1000.0, 0.5, 0.5)).unwrap();
                    let what = format!("{rate} Hz {channels} ch {bits}-bit {format:?}");
                    assert!((3995..=4000).contains(&pcm.len()), "{what}: {}", pcm.len());
                    // The sine, averaged with silent channels, away from the edges.
                    let body = &pcm[200..3800];
                    // 8-bit samples peak at 127 · 256 = 32 512.
                    let full = if bits == 8 { 32_512.0 } else { 32_767.0 };
                    let expected = 0.5 * full / f64::from(channels);
                    let level = amplitude_at(body, 1000.0);
                    assert!(
                        (level - expected).abs() < expected * 0.02,
                        "{what}: level {level} vs {expected}"
                    );
                    // Nothing elsewhere: no aliasing, no wrong pitch.
                    for other in [500.0, 1500.0, 3000.0] {
                        let stray = amplitude_at(body, other);
                        assert!(stray < expected * 0.01, "{what}: {other} Hz at {stray}");
                    }
                }
            }
        }
    }

    #[test]
    fn content_above_the_telephone_band_is_filtered_out() {
        // 6 kHz at 22.05 kHz would alias to 2 kHz at 8 kHz without the low-pass.
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 22_050,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let pcm = wav_to_8k_mono(&sine_wav(spec, 6000.0, 0.8, 0.5)).unwrap();
        let peak = pcm[200..3800]
            .iter()
            .map(|s| s.unsigned_abs())
            .max()
            .unwrap();
        assert!(peak < 100, "peak {peak}");
    }

    #[test]
    fn odd_rates_without_a_small_ratio_take_the_direct_kernel() {
        // 44 101 Hz and 8 000 Hz share no factor: 8 000 phases, too many to tabulate.
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 44_101,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let pcm = wav_to_8k_mono(&sine_wav(spec, 440.0, 0.5, 0.25)).unwrap();
        assert!((1995..=2000).contains(&pcm.len()), "{}", pcm.len());
        let level = amplitude_at(&pcm[200..1800], 440.0);
        assert!((level - 16_383.5).abs() < 16_383.5 * 0.05, "level {level}");
    }

    #[test]
    fn bad_headers_and_garbage_are_errors() {
        assert!(matches!(
            wav_to_8k_mono(b"RIFF not a wav"),
            Err(WavError::InvalidWav(_))
        ));
        assert!(wav_to_8k_mono(&[]).is_err());
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 1_000_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut cursor = Cursor::new(Vec::new());
        let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
        writer.write_sample(0i16).unwrap();
        writer.finalize().unwrap();
        assert!(matches!(
            wav_to_8k_mono(cursor.get_ref()),
            Err(WavError::BadHeader {
                sample_rate: 1_000_000,
                ..
            })
        ));
    }
}
