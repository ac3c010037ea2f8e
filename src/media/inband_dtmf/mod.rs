//! In-band DTMF detection: digits heard in 8 kHz linear PCM audio, for calls that
//! did not negotiate RFC 4733 telephone-event.
//!
//! # Method
//!
//! A hand-written Goertzel filter bank, not an FFT: only 16 frequencies matter (the 8
//! DTMF tones and their second harmonics), and a Goertzel filter costs one multiply and
//! two adds per sample per frequency, with no window buffer, no allocation and no
//! dependency. The 16 filters run side by side over fixed-size arrays, which the
//! compiler vectorizes.
//!
//! The filters are read out every 40 samples (5 ms), giving one complex DFT
//! value per frequency per sub-block. Every 5 ms the last four sub-blocks (a 20 ms
//! window) are judged:
//!
//! * per group (low 697-941 Hz, high 1209-1633 Hz) the strongest tone is the one whose
//!   two 10 ms halves hold the most energy;
//! * its true frequency is measured from the phase turn between the two halves (lag
//!   10 ms, resolved to ±50 Hz, unwrapped with the 5 ms turn between sub-blocks) —
//!   this, not the filter's bandwidth, is what separates accepted from rejected
//!   frequency deviations, at any level;
//! * its power is the halves' energy corrected for the filter's loss at the measured
//!   deviation.
//!
//! A window is a hit for a digit when all the checks below pass; a digit is reported
//! once, after [`HITS_PER_TONE`] consecutive hits, and the detector re-arms after
//! [`MISSES_PER_PAUSE`] consecutive windows without it.
//!
//! # Limits (ITU-T Q.24 style)
//!
//! | What | Accepted | Rejected | Decision |
//! |---|---|---|---|
//! | frequency deviation per tone | ≤ 1.5 % | ≥ 3.5 % | [`MAX_DEVIATION`] = 2.5 % |
//! | normal twist (high tone weaker) | ≤ 8 dB | ≥ 10 dB | [`MAX_NORMAL_TWIST_DB`] = 9 dB |
//! | reverse twist (high tone stronger) | ≤ 4 dB | ≥ 6 dB | [`MAX_REVERSE_TWIST_DB`] = 5 dB |
//! | tone duration | ≥ 45 ms | ≤ 35 ms | 40 ms ([`HITS_PER_TONE`] windows) |
//! | pause between digits | ≥ 40 ms | ≤ 30 ms (bridged as a drop-out) | 35 ms ([`MISSES_PER_PAUSE`] windows) |
//! | level per tone | ≥ −25 dBm0 | ≤ −33 dBm0 | [`MIN_LEVEL_DBM0`] = −29 dBm0 |
//! | white noise (0-4 kHz) | SNR ≥ 15 dB | | |
//!
//! Levels: 0 dBm0 is a sine of peak [`DBM0_PEAK`] in 16-bit linear PCM (a full-scale
//! sine is +3.17 dBm0, G.711 µ-law).
//!
//! Talk-off (speech and music must not produce digits) is resisted by:
//!
//! * the two tones together holding at least [`MIN_TONE_ENERGY_RATIO`] of the window's
//!   total energy (speech and music spread energy over many harmonics);
//! * each tone's second harmonic, measured over the whole 20 ms window, staying
//!   [`MAX_SECOND_HARMONIC_DB`] below its fundamental (a low tone's harmonic within
//!   100 Hz of the detected high tone is not measured: the high tone leaks into its
//!   filter; a real harmonic there disturbs the high tone's measured frequency instead);
//! * the window being steady: every 5 ms sub-block holds at least
//!   [`MIN_SUB_BLOCK_SHARE`] of the window's mean sub-block energy;
//! * the frequency precision above, held for 40 ms.
//!
//! Sans-IO: samples in, digits out; no clock, no allocation per frame.

#[cfg(test)]
mod tests;

pub use crate::media::wav::{wav_to_8k_mono, WavError as InbandWavError};

use std::f32::consts::PI;

/// Sampling rate of the audio the detector expects, in Hz.
const SAMPLE_RATE: u32 = 8_000;
/// Samples per sub-block: the filters are read out every 5 ms.
const SUB_BLOCK: usize = 40;
/// Sub-blocks in one judged window (20 ms).
const WINDOW_BLOCKS: usize = 4;
/// Samples in one half window (10 ms), the length of the tone filters.
const HALF: usize = SUB_BLOCK * WINDOW_BLOCKS / 2;
/// Samples in one judged window (20 ms).
const WINDOW: usize = SUB_BLOCK * WINDOW_BLOCKS;

/// Low-group (row) frequencies, Hz.
pub const LOW_TONES: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
/// High-group (column) frequencies, Hz.
pub const HIGH_TONES: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
/// Keypad layout: `KEYPAD[row][column]`.
const KEYPAD: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Largest accepted relative frequency deviation of each tone (midway between the
/// 1.5 % that must be accepted and the 3.5 % that must be rejected).
pub const MAX_DEVIATION: f32 = 0.025;
/// Largest accepted normal twist (high tone weaker than low tone), dB.
pub const MAX_NORMAL_TWIST_DB: f32 = 9.0;
/// Largest accepted reverse twist (high tone stronger than low tone), dB.
pub const MAX_REVERSE_TWIST_DB: f32 = 5.0;
/// Peak amplitude of a 0 dBm0 sine in 16-bit linear PCM (+3.17 dBm0 is full scale).
pub const DBM0_PEAK: f32 = 22_750.0;
/// Weakest accepted tone, dBm0 (each tone; −25 dBm0 is always accepted).
pub const MIN_LEVEL_DBM0: f32 = -29.0;
/// Share of the window's energy the two tones must hold together.
pub const MIN_TONE_ENERGY_RATIO: f32 = 0.75;
/// How far (dB) each tone's second harmonic must stay below the tone.
pub const MAX_SECOND_HARMONIC_DB: f32 = -10.0;
/// Share of the window's mean sub-block energy each 5 ms sub-block must hold: a
/// sub-block a quarter covered by a tone among three full ones passes. This pins the
/// judged windows to the tone's extent, so hit counts measure its duration.
pub const MIN_SUB_BLOCK_SHARE: f32 = 0.31;
/// Consecutive 5 ms windows a tone must hit before its digit is reported: a 20 ms
/// window stepping by 5 ms that must lie within the tone hits 4-5 times in 35 ms, 5-6
/// times in 40 ms and 6-7 times in 45 ms (whatever the alignment): tones of 42.5 ms and
/// more are always reported, tones under 37.5 ms never.
pub const HITS_PER_TONE: u32 = 6;
/// Consecutive 5 ms windows without the digit that end a key press: a gap of G ms
/// misses 2-3 windows more than G/5, so gaps of 37.5 ms and more always end a press
/// and gaps under 32.5 ms never do (they are bridged as drop-outs).
pub const MISSES_PER_PAUSE: u32 = 10;

/// Tunable parts of the detector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InbandDtmfConfig {
    /// Consecutive 5 ms hits before a digit is reported (default [`HITS_PER_TONE`]).
    pub hits_per_tone: u32,
    /// Consecutive 5 ms misses that end a key press (default [`MISSES_PER_PAUSE`]).
    pub misses_per_pause: u32,
    /// Weakest accepted tone, dBm0 (default [`MIN_LEVEL_DBM0`]).
    pub min_level_dbm0: f32,
}

impl Default for InbandDtmfConfig {
    fn default() -> Self {
        InbandDtmfConfig {
            hits_per_tone: HITS_PER_TONE,
            misses_per_pause: MISSES_PER_PAUSE,
            min_level_dbm0: MIN_LEVEL_DBM0,
        }
    }
}

/// Filters: 0-3 low tones, 4-7 high tones, 8-15 their second harmonics.
const FILTERS: usize = 16;

/// Per-filter constants.
#[derive(Debug, Clone, Copy)]
struct Filter {
    /// Nominal frequency, Hz.
    freq: f32,
    /// cos(w), sin(w) for the read-out.
    cos: f32,
    sin: f32,
    /// e^{-jw·SUB_BLOCK}: brings one sub-block's value to the previous one's phase origin.
    rot_re: f32,
    rot_im: f32,
}

/// Small complex helper.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct C {
    re: f32,
    im: f32,
}

impl C {
    fn mul(self, o: C) -> C {
        C {
            re: self.re * o.re - self.im * o.im,
            im: self.re * o.im + self.im * o.re,
        }
    }
    fn conj_mul(self, o: C) -> C {
        // conj(self) * o
        C {
            re: self.re * o.re + self.im * o.im,
            im: self.re * o.im - self.im * o.re,
        }
    }
    fn add(self, o: C) -> C {
        C {
            re: self.re + o.re,
            im: self.im + o.im,
        }
    }
    fn norm(self) -> f32 {
        self.re * self.re + self.im * self.im
    }
}

/// Key-press state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Press {
    /// No digit reported; `hits` consecutive windows of `candidate`.
    Idle { candidate: Option<char>, hits: u32 },
    /// `digit` reported; `misses` consecutive windows without it.
    Reported { digit: char, misses: u32 },
}

/// In-band DTMF detector for one 8 kHz audio stream.
#[derive(Debug, Clone)]
pub struct InbandDtmfDetector {
    config: InbandDtmfConfig,
    filters: [Filter; FILTERS],
    /// 2·cos(w) per filter.
    coef: [f32; FILTERS],
    /// Goertzel state s[n-1], s[n-2].
    s1: [f32; FILTERS],
    s2: [f32; FILTERS],
    /// Energy of the current sub-block so far.
    energy: f32,
    /// Samples in the current sub-block.
    filled: usize,
    /// Last sub-blocks' DFT values (`blocks[0]` oldest) and energies.
    blocks: [[C; FILTERS]; WINDOW_BLOCKS],
    energies: [f32; WINDOW_BLOCKS],
    /// Sub-blocks seen since the last reset, capped at WINDOW_BLOCKS.
    seen: usize,
    /// Minimum tone power (A²/2), from the configured level.
    min_power: f32,
    /// The twist and second-harmonic limits as power ratios.
    max_normal_twist: f32,
    max_reverse_twist: f32,
    harmonic_limit: f32,
    press: Press,
}

impl InbandDtmfDetector {
    /// A detector that has heard nothing.
    pub fn new(config: InbandDtmfConfig) -> InbandDtmfDetector {
        let mut filters = [Filter {
            freq: 0.0,
            cos: 0.0,
            sin: 0.0,
            rot_re: 0.0,
            rot_im: 0.0,
        }; FILTERS];
        let mut coef = [0.0; FILTERS];
        for (i, filter) in filters.iter_mut().enumerate() {
            let base = if i % 8 < 4 {
                LOW_TONES[i % 4]
            } else {
                HIGH_TONES[i % 4]
            };
            let freq = if i < 8 { base } else { 2.0 * base };
            let w = 2.0 * std::f64::consts::PI * f64::from(freq) / f64::from(SAMPLE_RATE);
            let turn = -w * SUB_BLOCK as f64;
            *filter = Filter {
                freq,
                cos: w.cos() as f32,
                sin: w.sin() as f32,
                rot_re: turn.cos() as f32,
                rot_im: turn.sin() as f32,
            };
            coef[i] = (2.0 * w.cos()) as f32;
        }
        let amplitude = DBM0_PEAK * 10f32.powf(config.min_level_dbm0 / 20.0);
        InbandDtmfDetector {
            config,
            filters,
            coef,
            s1: [0.0; FILTERS],
            s2: [0.0; FILTERS],
            energy: 0.0,
            filled: 0,
            blocks: [[C::default(); FILTERS]; WINDOW_BLOCKS],
            energies: [0.0; WINDOW_BLOCKS],
            seen: 0,
            min_power: amplitude * amplitude / 2.0,
            max_normal_twist: 10f32.powf(MAX_NORMAL_TWIST_DB / 10.0),
            max_reverse_twist: 10f32.powf(MAX_REVERSE_TWIST_DB / 10.0),
            harmonic_limit: 10f32.powf(MAX_SECOND_HARMONIC_DB / 10.0),
            press: Press::Idle {
                candidate: None,
                hits: 0,
            },
        }
    }

    /// Whether the audio just heard holds a key's dual tone (a press being
    /// timed, or one reported and still sounding): audio forwarded to another
    /// leg is muted then, so the key is not heard twice (it is regenerated
    /// as an RFC 4733 event).
    pub fn hears_tone(&self) -> bool {
        matches!(
            self.press,
            Press::Idle {
                candidate: Some(_),
                ..
            } | Press::Reported { misses: 0, .. }
        )
    }

    /// Forgets all audio heard and any key press in progress.
    pub fn reset(&mut self) {
        *self = InbandDtmfDetector::new(self.config);
    }

    /// Feeds the next samples (any length; 160 for a 20 ms frame). Returns a digit
    /// (`0`-`9`, `*`, `#`, `A`-`D`) when a key press has lasted long enough; each key
    /// press is reported once. Should one frame complete two presses (a frame longer
    /// than a digit plus a pause), the first is returned.
    pub fn handle_frame(&mut self, samples: &[i16]) -> Option<char> {
        let mut found = None;
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (SUB_BLOCK - self.filled).min(rest.len());
            let (chunk, tail) = rest.split_at(take);
            rest = tail;
            self.run_filters(chunk);
            self.filled += take;
            if self.filled == SUB_BLOCK {
                let digit = self.finish_block();
                if found.is_none() {
                    found = digit;
                }
            }
        }
        found
    }

    /// The Goertzel recursion over `chunk` for all 16 filters.
    fn run_filters(&mut self, chunk: &[i16]) {
        let coef = self.coef;
        let mut s1 = self.s1;
        let mut s2 = self.s2;
        let mut energy = self.energy;
        for &sample in chunk {
            let x = f32::from(sample);
            energy += x * x;
            for i in 0..FILTERS {
                let s0 = x + coef[i] * s1[i] - s2[i];
                s2[i] = s1[i];
                s1[i] = s0;
            }
        }
        self.s1 = s1;
        self.s2 = s2;
        self.energy = energy;
    }

    /// Reads the filters out, shifts the window, judges it, steps the key-press state.
    fn finish_block(&mut self) -> Option<char> {
        let mut values = [C::default(); FILTERS];
        for (i, value) in values.iter_mut().enumerate() {
            let f = &self.filters[i];
            *value = C {
                re: self.s1[i] - f.cos * self.s2[i],
                im: f.sin * self.s2[i],
            };
        }
        self.blocks.rotate_left(1);
        self.blocks[WINDOW_BLOCKS - 1] = values;
        self.energies.rotate_left(1);
        self.energies[WINDOW_BLOCKS - 1] = self.energy;
        self.s1 = [0.0; FILTERS];
        self.s2 = [0.0; FILTERS];
        self.energy = 0.0;
        self.filled = 0;
        self.seen = (self.seen + 1).min(WINDOW_BLOCKS);
        let hit = if self.seen == WINDOW_BLOCKS {
            self.judge_window()
        } else {
            None
        };
        self.step(hit)
    }

    /// The key-press state machine, one 5 ms window at a time.
    fn step(&mut self, hit: Option<char>) -> Option<char> {
        match self.press {
            Press::Idle { candidate, hits } => {
                let hits = match hit {
                    Some(_) if hit == candidate => hits + 1,
                    Some(_) => 1,
                    None => 0,
                };
                if hit.is_some() && hits >= self.config.hits_per_tone {
                    let digit = hit?;
                    self.press = Press::Reported { digit, misses: 0 };
                    return Some(digit);
                }
                self.press = Press::Idle {
                    candidate: hit,
                    hits,
                };
                None
            }
            Press::Reported { digit, misses } => {
                let misses = if hit == Some(digit) { 0 } else { misses + 1 };
                self.press = if misses >= self.config.misses_per_pause {
                    Press::Idle {
                        candidate: None,
                        hits: 0,
                    }
                } else {
                    Press::Reported { digit, misses }
                };
                None
            }
        }
    }

    /// The digit the current 20 ms window holds, if every check passes.
    fn judge_window(&self) -> Option<char> {
        let total: f32 = self.energies.iter().sum();
        let mean_power = total / WINDOW as f32;
        // Steady: no sub-block much weaker than the others (the window lies within
        // one tone, give or take three quarters of an edge sub-block).
        let weakest = self.energies.iter().copied().fold(f32::INFINITY, f32::min);
        if weakest < MIN_SUB_BLOCK_SHARE * total / WINDOW_BLOCKS as f32 {
            return None;
        }
        // Two tones at the minimum level hold at least this much.
        if mean_power < 2.0 * self.min_power * MIN_TONE_ENERGY_RATIO {
            return None;
        }
        let low = self.strongest(0)?;
        let high = self.strongest(4)?;
        let min_power = self.min_power;
        if low.power < min_power || high.power < min_power {
            return None;
        }
        if low.power > self.max_normal_twist * high.power
            || high.power > self.max_reverse_twist * low.power
        {
            return None;
        }
        if low.power + high.power < MIN_TONE_ENERGY_RATIO * mean_power {
            return None;
        }
        let high_freq = HIGH_TONES[high.index];
        let low_harmonic = 2.0 * LOW_TONES[low.index];
        let harmonic_limit = self.harmonic_limit;
        if (low_harmonic - high_freq).abs() > 100.0
            && self.window_power(8 + low.index) > harmonic_limit * low.power
        {
            return None;
        }
        if self.window_power(12 + high.index) > harmonic_limit * high.power {
            return None;
        }
        Some(KEYPAD[low.index][high.index])
    }

    /// The strongest tone of the group whose filters start at `first`, if its
    /// measured frequency is within [`MAX_DEVIATION`].
    fn strongest(&self, first: usize) -> Option<Tone> {
        let mut best = 0;
        let mut best_energy = -1.0;
        let mut best_halves = (C::default(), C::default());
        for t in 0..4 {
            let (a, b) = self.halves(first + t);
            let energy = a.norm() + b.norm();
            if energy > best_energy {
                best = t;
                best_energy = energy;
                best_halves = (a, b);
            }
        }
        let filter = &self.filters[first + best];
        let rot = C {
            re: filter.rot_re,
            im: filter.rot_im,
        };
        let (a, b) = best_halves;
        // Fine: phase turn between the halves (10 ms), ±50 Hz.
        let rot2 = rot.mul(rot);
        let fine_turn = a.conj_mul(b).mul(rot2);
        let fine_hz =
            fine_turn.im.atan2(fine_turn.re) / (2.0 * PI) * SAMPLE_RATE as f32 / HALF as f32;
        // Coarse: phase turn between consecutive sub-blocks (5 ms), ±100 Hz.
        let blocks = &self.blocks;
        let mut coarse_turn = C::default();
        for k in 0..WINDOW_BLOCKS - 1 {
            let pair = blocks[k][first + best].conj_mul(blocks[k + 1][first + best]);
            coarse_turn = coarse_turn.add(pair.mul(rot));
        }
        let coarse_hz = coarse_turn.im.atan2(coarse_turn.re) / (2.0 * PI) * SAMPLE_RATE as f32
            / SUB_BLOCK as f32;
        let alias = SAMPLE_RATE as f32 / HALF as f32;
        let offset_hz = fine_hz + alias * ((coarse_hz - fine_hz) / alias).round();
        if offset_hz.abs() > MAX_DEVIATION * filter.freq {
            return None;
        }
        let gain = dirichlet_gain(offset_hz, HALF);
        let power = best_energy / (HALF * HALF) as f32 / gain;
        Some(Tone { index: best, power })
    }

    /// Filter `i`'s DFT over each 10 ms half of the window.
    fn halves(&self, i: usize) -> (C, C) {
        let f = &self.filters[i];
        let rot = C {
            re: f.rot_re,
            im: f.rot_im,
        };
        let b = &self.blocks;
        let first = b[0][i].add(b[1][i].mul(rot));
        let second = b[2][i].add(b[3][i].mul(rot));
        (first, second)
    }

    /// Power (A²/2) at filter `i`'s frequency over the whole 20 ms window, coherently.
    fn window_power(&self, i: usize) -> f32 {
        let (a, b) = self.halves(i);
        let f = &self.filters[i];
        let rot = C {
            re: f.rot_re,
            im: f.rot_im,
        };
        let whole = a.add(b.mul(rot.mul(rot)));
        2.0 * whole.norm() / (WINDOW * WINDOW) as f32
    }
}

/// A group's detected tone.
#[derive(Debug, Clone, Copy)]
struct Tone {
    /// Index in its group.
    index: usize,
    /// Estimated power A²/2.
    power: f32,
}

/// Power gain of an `n`-point DFT bin for a tone `offset_hz` off its frequency.
fn dirichlet_gain(offset_hz: f32, n: usize) -> f32 {
    let x = PI * offset_hz / SAMPLE_RATE as f32;
    if x.abs() < 1e-6 {
        return 1.0;
    }
    let ratio = (x * n as f32).sin() / (n as f32 * x.sin());
    (ratio * ratio).max(1e-3)
}
