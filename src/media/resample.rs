//! Sample-rate conversion between the rates the media plane meets: 8 kHz (G.711, the
//! prompts, the in-band DTMF detector), 16 kHz (wideband) and 48 kHz (Opus).
//!
//! # Why a filter of our own
//!
//! Every conversion is a fixed integer ratio (×2, ×3, ×6 up; ÷2, ÷3, ÷6 down), so a
//! fixed-ratio polyphase FIR does it exactly, with no fractional phase tracking, and
//! can run on caller buffers with a history kept in arrays sized at construction:
//! nothing allocates per frame. `rubato` would do the same work through its generic
//! (sinc-interpolated or FFT) machinery, which is sized for arbitrary ratios and
//! owns its frame buffers; a 20 ms frame here is a plain slice in, slice out.
//!
//! # The filter
//!
//! One windowed-sinc low-pass prototype per resampler, designed at construction at
//! the high rate: the band edge is half the low rate (4 kHz between 8 and 48 kHz),
//! the passband runs to 82.5 % of it (3.3 kHz: the telephone band) and the stopband
//! starts at the band edge itself, so nothing of an 8 kHz signal aliases. The window
//! is Kaiser with β = 6.3 (about 66 dB); the length is [`TAPS_PER_PHASE`] taps per
//! phase of the ratio (288 taps for ×6), which puts the whole stopband at least
//! [`STOPBAND_DB`] down. Upsampling by `L` computes each output from one phase of
//! `TAPS_PER_PHASE` taps; downsampling by `M` computes only the kept outputs. The
//! group delay is `(taps − 1) / 2` samples at the high rate (3 ms for ×6).
//!
//! # Speed
//!
//! Every output is one dot product of a contiguous tap table (stored reversed,
//! so the window is read oldest first) with a contiguous window of the input
//! history: no per-sample division or index arithmetic, no strided access.
//! The dot product keeps [`LANES`] independent partial sums over fixed-size
//! chunks, which the compiler turns into SIMD multiply-adds (a single running
//! `f32` sum cannot be vectorised: float addition is not associative). The
//! sums differ from a sequential sum only by float rounding (far below one
//! LSB of the 16-bit output). Measured in `benches/media.rs` (criterion,
//! `resample 20 ms …`): 8 → 48 kHz and 48 → 8 kHz, each about 46 000
//! multiply-adds per 20 ms frame.
//!
//! Measured in the tests with sine sweeps: passband error within
//! [`PASSBAND_ERROR_DB`], stopband (images when upsampling, aliases when
//! downsampling) at least [`STOPBAND_DB`] below the input.

use std::f64::consts::PI;

/// Taps of the prototype filter per polyphase branch.
pub(crate) const TAPS_PER_PHASE: usize = 48;
/// Independent partial sums of one dot product: two SSE or one AVX register
/// of `f32`.
const LANES: usize = 8;
/// Passband edge as a share of the low rate's Nyquist frequency.
const PASSBAND_SHARE: f64 = 0.825;
/// Kaiser window β: about 66 dB of attenuation, which [`TAPS_PER_PHASE`] taps per
/// phase reach within the transition band (Kaiser's length formula gives 670 Hz of
/// transition at 288 taps and 48 kHz; ours is 700 Hz).
const KAISER_BETA: f64 = 6.3;
/// The tested bound on passband error, in dB.
#[cfg(test)]
const PASSBAND_ERROR_DB: f64 = 0.1;
/// The tested lower bound on stopband rejection, in dB.
#[cfg(test)]
const STOPBAND_DB: f64 = 60.0;
/// The longest input accepted by one [`Resampler::process`] call: 20 ms at 48 kHz.
pub(crate) const MAX_INPUT: usize = 960;

/// One of the rates the media plane converts between.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rate {
    /// 8 kHz: narrowband.
    Hz8000,
    /// 16 kHz: wideband.
    Hz16000,
    /// 48 kHz: fullband, Opus's RTP clock.
    Hz48000,
}

impl Rate {
    /// The rate in Hz.
    pub const fn hz(self) -> u32 {
        match self {
            Rate::Hz8000 => 8_000,
            Rate::Hz16000 => 16_000,
            Rate::Hz48000 => 48_000,
        }
    }

    /// Samples in one 20 ms frame at this rate.
    pub const fn frame_samples(self) -> usize {
        self.hz() as usize / 50
    }
}

/// Which way the ratio goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    /// Same rate: a copy.
    Copy,
    /// Insert `factor − 1` samples between each input.
    Up,
    /// Keep one output in `factor`.
    Down,
}

/// A streaming converter from one [`Rate`] to another; see the module documentation.
/// Keeps the input history across calls, so consecutive frames join seamlessly.
#[derive(Clone, Debug)]
pub struct Resampler {
    from: Rate,
    to: Rate,
    direction: Direction,
    factor: usize,
    /// The prototype filter, reversed so that it multiplies a window read
    /// oldest first: phase-major when upsampling (phase `p`'s entry
    /// `TAPS_PER_PHASE − 1 − j`, at `p · TAPS_PER_PHASE + TAPS_PER_PHASE − 1 − j`,
    /// is tap `p + j · factor`), the whole filter reversed when downsampling.
    taps: Box<[f32]>,
    /// Past input samples followed by the current input: `history` samples of the
    /// past, then up to [`MAX_INPUT`] new ones.
    work: Box<[f32]>,
    /// How many past input samples the filter needs.
    history: usize,
    /// Input samples left over from a call whose length was not a multiple of the
    /// factor (downsampling only).
    pending: usize,
}

impl Resampler {
    /// A converter from `from` to `to`, its filter designed and its buffers allocated
    /// now.
    pub fn new(from: Rate, to: Rate) -> Resampler {
        let (direction, factor) = match from.hz().cmp(&to.hz()) {
            std::cmp::Ordering::Equal => (Direction::Copy, 1),
            std::cmp::Ordering::Less => (Direction::Up, (to.hz() / from.hz()) as usize),
            std::cmp::Ordering::Greater => (Direction::Down, (from.hz() / to.hz()) as usize),
        };
        let low = from.hz().min(to.hz());
        let high = from.hz().max(to.hz());
        let length = factor * TAPS_PER_PHASE;
        let prototype = design_lowpass(length, f64::from(low), f64::from(high));
        let (taps, history): (Box<[f32]>, usize) = match direction {
            Direction::Copy => (Box::new([]), 0),
            Direction::Up => {
                let mut taps = vec![0f32; length];
                for phase in 0..factor {
                    for j in 0..TAPS_PER_PHASE {
                        // Gain `factor` makes up for the inserted zeros.
                        taps[phase * TAPS_PER_PHASE + TAPS_PER_PHASE - 1 - j] =
                            (prototype[phase + j * factor] * factor as f64) as f32;
                    }
                }
                (taps.into(), TAPS_PER_PHASE - 1)
            }
            Direction::Down => (
                prototype.iter().rev().map(|&tap| tap as f32).collect(),
                length - 1,
            ),
        };
        Resampler {
            from,
            to,
            direction,
            factor,
            taps,
            work: vec![0f32; history + MAX_INPUT + factor].into(),
            history,
            pending: 0,
        }
    }

    /// The input rate.
    pub fn from_rate(&self) -> Rate {
        self.from
    }

    /// The output rate.
    pub fn to_rate(&self) -> Rate {
        self.to
    }

    /// Output samples produced from `input` samples (when downsampling, with no
    /// leftover from earlier calls).
    pub fn output_len(&self, input: usize) -> usize {
        match self.direction {
            Direction::Copy => input,
            Direction::Up => input * self.factor,
            Direction::Down => (input + self.pending) / self.factor,
        }
    }

    /// Forgets the history (a new stream starts).
    pub fn reset(&mut self) {
        self.work.fill(0.0);
        self.pending = 0;
    }

    /// Converts `input` (at most [`MAX_INPUT`] samples; beyond that is ignored) into
    /// `out`; returns the samples written, at most `out.len()`. Never allocates.
    pub fn process(&mut self, input: &[i16], out: &mut [i16]) -> usize {
        let input = &input[..input.len().min(MAX_INPUT)];
        match self.direction {
            Direction::Copy => {
                let len = input.len().min(out.len());
                out[..len].copy_from_slice(&input[..len]);
                len
            }
            Direction::Up => self.upsample(input, out),
            Direction::Down => self.downsample(input, out),
        }
    }

    fn upsample(&mut self, input: &[i16], out: &mut [i16]) -> usize {
        let history = self.history;
        for (slot, &sample) in self.work[history..].iter_mut().zip(input) {
            *slot = f32::from(sample);
        }
        let mut written = 0;
        let mut slots = out.iter_mut();
        'frames: for n in 0..input.len() {
            // The newest input this output sees is work[history + n]; the window
            // (oldest first) ends there.
            let window = &self.work[n..=history + n];
            for taps in self.taps.chunks_exact(TAPS_PER_PHASE) {
                let Some(slot) = slots.next() else {
                    break 'frames;
                };
                *slot = saturate(dot(taps, window));
                written += 1;
            }
        }
        self.work.copy_within(input.len()..input.len() + history, 0);
        written
    }

    fn downsample(&mut self, input: &[i16], out: &mut [i16]) -> usize {
        let start = self.history + self.pending;
        for (slot, &sample) in self.work[start..].iter_mut().zip(input) {
            *slot = f32::from(sample);
        }
        let available = self.pending + input.len();
        let outputs = available / self.factor;
        let mut written = 0;
        let length = self.taps.len();
        for (m, slot) in out.iter_mut().take(outputs).enumerate() {
            // Output m sees the inputs up to work[history + m·factor + factor − 1]
            // (the window, oldest first, ends there): it starts at m·factor.
            let start = self.history + (m + 1) * self.factor - length;
            *slot = saturate(dot(&self.taps, &self.work[start..start + length]));
            written += 1;
        }
        let consumed = outputs * self.factor;
        self.pending = available - consumed;
        // Keep `history` samples before the first unconsumed one, plus the leftovers.
        self.work
            .copy_within(consumed..consumed + self.history + self.pending, 0);
        written
    }
}

/// `Σ taps[i] · window[i]` over the shorter of the two, in [`LANES`]
/// independent partial sums over fixed-size chunks (vectorised), then the rest.
#[inline]
fn dot(taps: &[f32], window: &[f32]) -> f32 {
    let len = taps.len().min(window.len());
    let (taps, window) = (&taps[..len], &window[..len]);
    let (tap_chunks, tap_rest) = taps.as_chunks::<LANES>();
    let (window_chunks, window_rest) = window.as_chunks::<LANES>();
    let mut lanes = [0f32; LANES];
    for (t, w) in tap_chunks.iter().zip(window_chunks) {
        for ((lane, tap), x) in lanes.iter_mut().zip(t).zip(w) {
            *lane += tap * x;
        }
    }
    let rest: f32 = tap_rest.iter().zip(window_rest).map(|(t, x)| t * x).sum();
    // Pairwise, as the lanes pair up in registers.
    let [a, b, c, d, e, f, g, h] = lanes;
    ((a + e) + (b + f)) + ((c + g) + (d + h)) + rest
}

fn saturate(value: f32) -> i16 {
    value
        .round()
        .clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
}

/// A Kaiser-windowed sinc low-pass of `length` taps at `high` Hz, cutting between the
/// passband edge and half of `low`, with unity DC gain.
fn design_lowpass(length: usize, low: f64, high: f64) -> Vec<f64> {
    let nyquist_low = low / 2.0;
    let cutoff = (nyquist_low * PASSBAND_SHARE + nyquist_low) / 2.0 / high;
    let centre = (length as f64 - 1.0) / 2.0;
    let norm = bessel_i0(KAISER_BETA);
    let mut taps: Vec<f64> = (0..length)
        .map(|k| {
            let t = k as f64 - centre;
            let sinc = if t == 0.0 {
                2.0 * cutoff
            } else {
                (2.0 * PI * cutoff * t).sin() / (PI * t)
            };
            let ratio = if centre > 0.0 { t / centre } else { 0.0 };
            let window = bessel_i0(KAISER_BETA * (1.0 - ratio * ratio).max(0.0).sqrt()) / norm;
            sinc * window
        })
        .collect();
    let sum: f64 = taps.iter().sum();
    if sum != 0.0 {
        taps.iter_mut().for_each(|tap| *tap /= sum);
    }
    taps
}

/// The modified Bessel function of the first kind, order 0 (its power series).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..50 {
        term *= half / k as f64;
        let squared = term * term;
        sum += squared;
        if squared < sum * 1e-17 {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sine of `amplitude` at `freq` Hz sampled at `rate`, `len` samples long.
    fn sine(freq: f64, rate: Rate, len: usize, amplitude: f64) -> Vec<i16> {
        (0..len)
            .map(|n| {
                let t = n as f64 / f64::from(rate.hz());
                (amplitude * (2.0 * PI * freq * t).sin()).round() as i16
            })
            .collect()
    }

    /// Runs `input` through `resampler` in 20 ms frames.
    fn run(resampler: &mut Resampler, input: &[i16]) -> Vec<i16> {
        let frame = resampler.from_rate().frame_samples();
        let mut output = Vec::new();
        let mut buf = vec![0i16; resampler.to_rate().frame_samples()];
        for chunk in input.chunks(frame) {
            let written = resampler.process(chunk, &mut buf);
            output.extend_from_slice(&buf[..written]);
        }
        output
    }

    /// Amplitude of the component at `freq` Hz in `signal` (sampled at `rate`): a
    /// Hann-windowed projection, after skipping the filter's settling time.
    fn amplitude_at(signal: &[i16], rate: Rate, freq: f64) -> f64 {
        let settled = &signal[signal.len() / 4..];
        let len = settled.len() as f64;
        let (mut re, mut im, mut weight) = (0.0, 0.0, 0.0);
        for (n, &x) in settled.iter().enumerate() {
            let w = 0.5 - 0.5 * (2.0 * PI * n as f64 / len).cos();
            let phase = 2.0 * PI * freq * n as f64 / f64::from(rate.hz());
            re += w * f64::from(x) * phase.cos();
            im += w * f64::from(x) * phase.sin();
            weight += w;
        }
        2.0 * (re * re + im * im).sqrt() / weight
    }

    fn db(ratio: f64) -> f64 {
        20.0 * ratio.max(1e-12).log10()
    }

    const AMPLITUDE: f64 = 16_000.0;

    /// Every conversion the media plane makes, with the low rate's passband edge.
    const PAIRS: [(Rate, Rate); 6] = [
        (Rate::Hz8000, Rate::Hz48000),
        (Rate::Hz48000, Rate::Hz8000),
        (Rate::Hz8000, Rate::Hz16000),
        (Rate::Hz16000, Rate::Hz8000),
        (Rate::Hz16000, Rate::Hz48000),
        (Rate::Hz48000, Rate::Hz16000),
    ];

    fn passband_edge(from: Rate, to: Rate) -> f64 {
        f64::from(from.hz().min(to.hz())) / 2.0 * PASSBAND_SHARE
    }

    #[test]
    fn a_passband_sweep_keeps_its_level() {
        for (from, to) in PAIRS {
            let edge = passband_edge(from, to);
            let mut freq = 100.0;
            while freq <= edge {
                let mut resampler = Resampler::new(from, to);
                let input = sine(freq, from, from.hz() as usize / 2, AMPLITUDE);
                let output = run(&mut resampler, &input);
                assert_eq!(
                    output.len(),
                    input.len() * to.hz() as usize / from.hz() as usize
                );
                let gain = amplitude_at(&output, to, freq) / AMPLITUDE;
                assert!(
                    db(gain).abs() <= PASSBAND_ERROR_DB,
                    "{from:?}→{to:?} at {freq} Hz: {:.3} dB",
                    db(gain)
                );
                freq += 150.0;
            }
        }
    }

    #[test]
    fn upsampling_rejects_the_images() {
        for (from, to) in PAIRS.into_iter().filter(|(f, t)| f.hz() < t.hz()) {
            let edge = passband_edge(from, to);
            let mut freq = 100.0;
            while freq <= edge {
                let mut resampler = Resampler::new(from, to);
                let input = sine(freq, from, from.hz() as usize / 2, AMPLITUDE);
                let output = run(&mut resampler, &input);
                // Zero-stuffing puts images at k·from ± f; the filter must remove them.
                let mut image_worst = 0f64;
                let mut k = 1;
                while f64::from(k * from.hz()) - freq < f64::from(to.hz()) / 2.0 {
                    for image in [
                        f64::from(k * from.hz()) - freq,
                        f64::from(k * from.hz()) + freq,
                    ] {
                        if image < f64::from(to.hz()) / 2.0 {
                            image_worst = image_worst.max(amplitude_at(&output, to, image));
                        }
                    }
                    k += 1;
                }
                let rejection = -db(image_worst / AMPLITUDE);
                assert!(
                    rejection >= STOPBAND_DB,
                    "{from:?}→{to:?} at {freq} Hz: images only {rejection:.1} dB down"
                );
                freq += 250.0;
            }
        }
    }

    #[test]
    fn downsampling_rejects_what_would_alias() {
        for (from, to) in PAIRS.into_iter().filter(|(f, t)| f.hz() > t.hz()) {
            let nyquist_out = f64::from(to.hz()) / 2.0;
            let mut freq = nyquist_out;
            while freq < f64::from(from.hz()) / 2.0 {
                let mut resampler = Resampler::new(from, to);
                let input = sine(freq, from, from.hz() as usize / 2, AMPLITUDE);
                let output = run(&mut resampler, &input);
                // Whatever comes out is the alias; measure all of it.
                let rms = (output[output.len() / 4..]
                    .iter()
                    .map(|&x| f64::from(x).powi(2))
                    .sum::<f64>()
                    / (output.len() - output.len() / 4) as f64)
                    .sqrt();
                let rejection = -db(rms * 2f64.sqrt() / AMPLITUDE);
                assert!(
                    rejection >= STOPBAND_DB,
                    "{from:?}→{to:?} at {freq} Hz: alias only {rejection:.1} dB down"
                );
                freq += 333.0;
            }
        }
    }

    #[test]
    fn a_frame_length_not_a_multiple_of_the_factor_loses_nothing() {
        let input = sine(1000.0, Rate::Hz48000, 4800, AMPLITUDE);
        let mut whole = Resampler::new(Rate::Hz48000, Rate::Hz8000);
        let mut out_whole = vec![0i16; 800];
        let mut written = 0;
        for chunk in input.chunks(960) {
            written += whole.process(chunk, &mut out_whole[written..]);
        }
        let mut odd = Resampler::new(Rate::Hz48000, Rate::Hz8000);
        let mut out_odd = vec![0i16; 800];
        let mut written_odd = 0;
        for chunk in input.chunks(7) {
            written_odd += odd.process(chunk, &mut out_odd[written_odd..]);
        }
        assert_eq!((written, written_odd), (800, 800));
        assert_eq!(out_whole, out_odd);
    }

    #[test]
    fn the_lane_sums_equal_a_plain_sum_up_to_rounding() {
        let taps: Vec<f32> = (0..293)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 997.0)
            .collect();
        let window: Vec<f32> = (0..293)
            .map(|i| ((i * 53 % 89) as f32 - 44.0) * 311.0)
            .collect();
        for len in [0, 1, 7, 8, 9, 48, 288, 293] {
            let plain: f64 = taps[..len]
                .iter()
                .zip(&window[..len])
                .map(|(t, x)| f64::from(*t) * f64::from(*x))
                .sum();
            let lanes = f64::from(dot(&taps[..len], &window[..len]));
            assert!((lanes - plain).abs() < 0.05, "{len}: {lanes} vs {plain}");
        }
        // The shorter slice bounds it.
        assert_eq!(dot(&[1.0, 2.0, 3.0], &[1.0, 1.0]), 3.0);
    }

    #[test]
    fn same_rate_is_a_copy_and_short_output_is_respected() {
        let mut copy = Resampler::new(Rate::Hz8000, Rate::Hz8000);
        let input = sine(440.0, Rate::Hz8000, 160, AMPLITUDE);
        let mut out = [0i16; 160];
        assert_eq!(copy.process(&input, &mut out), 160);
        assert_eq!(&out[..], &input[..]);
        let mut up = Resampler::new(Rate::Hz8000, Rate::Hz48000);
        let mut short = [0i16; 100];
        assert_eq!(up.process(&input, &mut short), 100);
    }
}
