//! Packet-loss concealment for G.711 in the style of ITU-T G.711 Appendix I, and the
//! comfort-noise generator for RFC 3389 silence.
//!
//! Concealment: when a frame is missing after audio, the pitch period `P` of the last
//! 30 ms played is estimated (normalised cross-correlation of the last 10 ms against
//! lags of 5..=15 ms, i.e. 66..200 Hz), and the last `P` samples are repeated
//! cyclically. The gain is 1 for the first 10 ms of the loss, then falls linearly by
//! 20 % per 10 ms, reaching 0 after 60 ms (three frames): the first concealed frame
//! goes 1 → 0.8, the second 0.8 → 0.4, the third 0.4 → 0. A longer loss is silence.
//! Recovery: the first decoded frame after a loss is cross-faded with the
//! continuation of the concealment over its first 4 ms (32 samples), which is a plain
//! fade-in once the concealment has faded out.

use crate::media::codec::FRAME_SAMPLES;

/// Samples of played audio kept for the pitch search (30 ms).
const HISTORY: usize = 240;
/// Shortest pitch period searched: 5 ms.
const MIN_PITCH: usize = 40;
/// Longest pitch period searched: 15 ms.
const MAX_PITCH: usize = 120;
/// Length of the correlation window: 10 ms.
const CORRELATION_WINDOW: usize = 80;
/// Samples concealed at full gain: 10 ms.
const FULL_GAIN_SAMPLES: usize = 80;
/// Samples over which the gain then falls from 1 to 0: 50 ms (20 % per 10 ms).
const FADE_SAMPLES: usize = 400;
/// Concealed samples after which the output is silence: 60 ms.
pub(super) const MAX_CONCEALED_SAMPLES: usize = FULL_GAIN_SAMPLES + FADE_SAMPLES;
/// Length of the recovery cross-fade: 4 ms.
const RECOVERY_SAMPLES: usize = 32;

/// Concealment state of one stream.
#[derive(Debug, Clone)]
pub(super) struct Concealer {
    /// The last `HISTORY` samples played, oldest first.
    history: [i16; HISTORY],
    /// Estimated pitch period of the audio before the loss, in samples.
    pitch: usize,
    /// Samples concealed since the loss started.
    elapsed: usize,
    /// A loss is being concealed (or has faded out) and no frame has been decoded since.
    active: bool,
}

impl Concealer {
    pub(super) fn new() -> Concealer {
        Concealer {
            history: [0; HISTORY],
            pitch: MIN_PITCH,
            elapsed: 0,
            active: false,
        }
    }

    /// Whether a loss is in progress (the next decoded frame is faded in).
    pub(super) fn is_active(&self) -> bool {
        self.active
    }

    /// Whether the current loss can still produce audible concealment.
    pub(super) fn can_conceal(&self) -> bool {
        !self.active || self.elapsed < MAX_CONCEALED_SAMPLES
    }

    /// Forgets a loss in progress without a fade-in (the stream went silent anyway).
    pub(super) fn cancel(&mut self) {
        self.active = false;
    }

    /// Records a played frame of audio.
    pub(super) fn remember(&mut self, frame: &[i16; FRAME_SAMPLES]) {
        self.history.copy_within(FRAME_SAMPLES.., 0);
        self.history[HISTORY - FRAME_SAMPLES..].copy_from_slice(frame);
    }

    /// Writes the next concealed frame. The first call of a loss estimates the pitch.
    pub(super) fn conceal(&mut self, out: &mut [i16; FRAME_SAMPLES]) {
        if !self.active {
            self.active = true;
            self.elapsed = 0;
            self.pitch = self.estimate_pitch();
        }
        for sample in out.iter_mut() {
            *sample = self.next_sample();
        }
    }

    /// Counts one missing frame as concealed without writing samples (no pitch
    /// search): the loss's length is followed as [`Concealer::conceal`] would.
    pub(super) fn advance(&mut self) {
        if !self.active {
            self.active = true;
            self.elapsed = 0;
        }
        self.elapsed = self.elapsed.saturating_add(FRAME_SAMPLES);
    }

    /// Cross-fades the start of a decoded frame after a loss; ends the loss.
    pub(super) fn recover(&mut self, frame: &mut [i16; FRAME_SAMPLES]) {
        if !self.active {
            return;
        }
        for (i, sample) in frame.iter_mut().take(RECOVERY_SAMPLES).enumerate() {
            let concealed = i32::from(self.next_sample());
            let decoded = i32::from(*sample);
            let mixed = (concealed * (RECOVERY_SAMPLES - i) as i32 + decoded * i as i32)
                / RECOVERY_SAMPLES as i32;
            *sample = mixed as i16;
        }
        self.active = false;
    }

    /// The next sample of the cyclic repetition, with the gain of the loss so far.
    fn next_sample(&mut self) -> i16 {
        let gain = gain_q15(self.elapsed);
        let source = self.history[HISTORY - self.pitch + self.elapsed % self.pitch];
        self.elapsed = self.elapsed.saturating_add(1);
        ((i32::from(source) * gain) >> 15) as i16
    }

    /// The lag in `MIN_PITCH..=MAX_PITCH` that best predicts the last 10 ms.
    fn estimate_pitch(&self) -> usize {
        let window_start = HISTORY - CORRELATION_WINDOW;
        let window = &self.history[window_start..];
        let mut best = (MIN_PITCH, 0.0f64);
        for lag in MIN_PITCH..=MAX_PITCH {
            let lagged = &self.history[window_start - lag..HISTORY - lag];
            let (mut correlation, mut energy) = (0i64, 0i64);
            for (&x, &y) in window.iter().zip(lagged) {
                correlation += i64::from(x) * i64::from(y);
                energy += i64::from(y) * i64::from(y);
            }
            if correlation > 0 && energy > 0 {
                let score = correlation as f64 / (energy as f64).sqrt();
                if score > best.1 {
                    best = (lag, score);
                }
            }
        }
        best.0
    }
}

/// Concealment gain after `elapsed` concealed samples, in Q15.
fn gain_q15(elapsed: usize) -> i32 {
    if elapsed < FULL_GAIN_SAMPLES {
        return 1 << 15;
    }
    let faded = (elapsed - FULL_GAIN_SAMPLES).min(FADE_SAMPLES) as i32;
    (1 << 15) - (faded << 15) / FADE_SAMPLES as i32
}

/// White noise at an RFC 3389 level, from a xorshift generator (deterministic).
#[derive(Debug, Clone)]
pub(super) struct ComfortNoise {
    state: u32,
    /// Peak of the uniform noise.
    amplitude: i32,
}

impl ComfortNoise {
    pub(super) fn new() -> ComfortNoise {
        ComfortNoise {
            state: 0x2545_F491,
            amplitude: 0,
        }
    }

    /// Sets the level from an RFC 3389 payload's first byte (-dBov, 0 dBov being a
    /// full-scale RMS of 32767); an empty payload keeps the previous level.
    pub(super) fn set_level(&mut self, minus_dbov: u8) {
        let rms = 32_767.0 * 10f64.powf(-f64::from(minus_dbov & 0x7F) / 20.0);
        // Uniform noise of peak A has an RMS of A / sqrt(3).
        self.amplitude = (rms * 3f64.sqrt()).min(32_767.0) as i32;
    }

    /// Writes one frame of noise.
    pub(super) fn fill(&mut self, out: &mut [i16; FRAME_SAMPLES]) {
        if self.amplitude == 0 {
            out.fill(0);
            return;
        }
        let span = 2 * self.amplitude as u32 + 1;
        for sample in out.iter_mut() {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 17;
            self.state ^= self.state << 5;
            *sample = ((self.state % span) as i32 - self.amplitude) as i16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(period: usize, start: usize) -> [i16; FRAME_SAMPLES] {
        let mut frame = [0i16; FRAME_SAMPLES];
        for (i, sample) in frame.iter_mut().enumerate() {
            let phase = (start + i) as f64 * std::f64::consts::TAU / period as f64;
            *sample = (phase.sin() * 10_000.0) as i16;
        }
        frame
    }

    #[test]
    fn pitch_of_a_periodic_signal_is_found() {
        let mut concealer = Concealer::new();
        for n in 0..2 {
            concealer.remember(&sine(57, n * FRAME_SAMPLES));
        }
        assert_eq!(concealer.estimate_pitch(), 57);
    }

    #[test]
    fn gain_is_flat_for_10_ms_then_falls_to_zero_at_60_ms() {
        assert_eq!(gain_q15(0), 32_768);
        assert_eq!(gain_q15(79), 32_768);
        assert_eq!(gain_q15(160), 32_768 - 32_768 / 5);
        assert_eq!(gain_q15(320), 32_768 - 32_768 * 3 / 5);
        assert_eq!(gain_q15(480), 0);
        assert_eq!(gain_q15(10_000), 0);
    }

    #[test]
    fn comfort_noise_follows_the_level() {
        let mut noise = ComfortNoise::new();
        let mut frame = [0i16; FRAME_SAMPLES];
        noise.fill(&mut frame);
        assert_eq!(frame, [0; FRAME_SAMPLES], "no level yet: silence");
        noise.set_level(40); // RMS 328
        noise.fill(&mut frame);
        let rms = (frame.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / FRAME_SAMPLES as f64)
            .sqrt();
        assert!((250.0..400.0).contains(&rms), "rms {rms}");
    }
}
