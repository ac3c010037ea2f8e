//! WAV bytes of any rate and channel count turned into the 8 kHz mono linear PCM the
//! detector hears: channels averaged, then resampled by a windowed-sinc interpolator.
//!
//! Resampling: each output sample is the input convolved, at the output instant, with
//! a Blackman-windowed sinc low-pass of cutoff 0.425 × the lower of the two rates
//! (3.4 kHz for any input of 8 kHz or more), 16 zero crossings each side. This is
//! exact band-limited interpolation up to the window's ripple, for any rate ratio;
//! 8 kHz input is passed through untouched.

use std::f64::consts::PI;
use std::io::Cursor;

use crate::media::inband_dtmf::SAMPLE_RATE;

/// Zero crossings of the sinc kept on each side of the output instant.
const ZERO_CROSSINGS: f64 = 16.0;
/// Cutoff as a fraction of the lower sampling rate.
const CUTOFF: f64 = 0.425;

/// Why WAV bytes could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum InbandWavError {
    /// Not a WAV file hound can read (bad header, truncated data, unknown format).
    #[error("not a readable WAV file: {0}")]
    InvalidWav(#[from] hound::Error),
    /// A header with no channels or a zero sampling rate.
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
pub fn wav_to_8k_mono(bytes: &[u8]) -> Result<Vec<i16>, InbandWavError> {
    let mut reader = hound::WavReader::new(Cursor::new(bytes))?;
    let spec = reader.spec();
    if spec.channels == 0 || spec.sample_rate == 0 {
        return Err(InbandWavError::BadHeader {
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
    let out = if spec.sample_rate == SAMPLE_RATE {
        mono
    } else {
        resample(&mono, spec.sample_rate, SAMPLE_RATE)
    };
    Ok(out
        .iter()
        .map(|&s| s.round().clamp(-32_768.0, 32_767.0) as i16)
        .collect())
}

/// Windowed-sinc resampling of `input` from `from` Hz to `to` Hz.
fn resample(input: &[f64], from: u32, to: u32) -> Vec<f64> {
    let from = f64::from(from);
    let to = f64::from(to);
    let ratio = from / to;
    // Cutoff in cycles per input sample.
    let cutoff = CUTOFF * from.min(to) / from;
    let half_width = ZERO_CROSSINGS / (2.0 * cutoff);
    let out_len = (input.len() as f64 / ratio).floor() as usize;
    let mut out = Vec::with_capacity(out_len);
    for n in 0..out_len {
        let centre = n as f64 * ratio;
        let first = (centre - half_width).ceil().max(0.0) as usize;
        let last = ((centre + half_width).floor() as usize).min(input.len().saturating_sub(1));
        let mut acc = 0.0;
        for (m, &x) in input.iter().enumerate().take(last + 1).skip(first) {
            let t = m as f64 - centre;
            acc += x * kernel(t, cutoff, half_width);
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
