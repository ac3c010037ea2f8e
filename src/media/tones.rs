//! Generated tones: the beep, call-progress tones (ringback, busy) with each
//! country's frequencies and cadence, DTMF keys, silence and comfort noise.
//!
//! A [`ToneGenerator`] writes 20 ms frames of 8 kHz linear PCM, counting samples
//! (its only clock): the same tone gives the same samples, and cadences are
//! exact to the sample. Phases are integers (`f · n mod 8000`, every frequency
//! being a whole number of hertz), so a ringback that runs for an hour stays as
//! clean as its first second. Each on-burst fades in and out over
//! [`RAMP_SAMPLES`] so cadence edges do not click.
//!
//! [`tone_prompt`] renders a tone into a [`Prompt`] (one cadence cycle for the
//! repeating tones), encoded once for every codec and shared like catalog
//! prompts: the player plays it, and re-queueing it repeats the cadence.
//!
//! Frequencies and cadences: ITU-T E.180 supplement 2 (as amended in 2008), and
//! ETSI TR 101 041 for the CEPT recommendation used as `EU`.

use std::time::Duration;

use crate::media::codec::{FRAME_SAMPLES, SAMPLE_RATE};
use crate::media::dtmf_send::event_code;
use crate::media::prompt::Prompt;

/// Samples of the fade at each end of a burst: 2 ms.
pub const RAMP_SAMPLES: u64 = 16;
/// Peak of each component of a call-progress tone: −13 dBm0 (a 0 dBm0 sine peaks
/// at 22 750 in 16-bit PCM).
const PROGRESS_PEAK: f64 = 22_750.0 * 0.223_9;
/// Peak of each of a DTMF key's two tones: −7 dBm0.
const DTMF_PEAK: f64 = 22_750.0 * 0.446_7;
/// Peak of the beep: about −6 dBFS, as the catalog's beep.
const BEEP_PEAK: f64 = 16_000.0;
/// Peak of comfort noise: about −60 dBm0, a line that is open but quiet.
const COMFORT_NOISE_PEAK: f64 = 40.0;
/// How long a DTMF key sounds, then its pause: 100 ms each.
const DTMF_ON_MS: u32 = 100;

/// The countries (or regions) whose call-progress tones are tabulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Country {
    /// United States and Canada (NANP, ITU-T E.180 entry "United States").
    Us,
    /// United Kingdom.
    Uk,
    /// The CEPT recommendation most of Europe follows (425 Hz).
    Eu,
    /// Germany (425 Hz, its own busy cadence).
    De,
    /// France (440 Hz).
    Fr,
}

impl Country {
    /// Every tabulated country.
    pub const ALL: [Country; 5] = [
        Country::Us,
        Country::Uk,
        Country::Eu,
        Country::De,
        Country::Fr,
    ];

    /// The country of an ISO 3166 code (`US`, `GB`/`UK`, `DE`, `FR`...) or of a
    /// language tag's region (`en-US`, `de-DE`); other European codes and `EU`
    /// take the CEPT tones. `None` when unknown.
    pub fn from_code(code: &str) -> Option<Country> {
        let region = code.rsplit(['-', '_']).next().unwrap_or(code);
        match region.to_ascii_uppercase().as_str() {
            "US" | "CA" => Some(Country::Us),
            "GB" | "UK" => Some(Country::Uk),
            "DE" => Some(Country::De),
            "FR" => Some(Country::Fr),
            "EU" | "AT" | "BE" | "CH" | "CZ" | "DK" | "ES" | "FI" | "GR" | "IE" | "IT" | "LU"
            | "NL" | "NO" | "PL" | "PT" | "SE" => Some(Country::Eu),
            _ => None,
        }
    }
}

/// What a generator plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tone {
    /// A 1 kHz beep of 250 ms (before a recording), then silence.
    Beep,
    /// Ringback ("the far end is ringing") of a country, repeating.
    Ringback(Country),
    /// Busy of a country, repeating.
    Busy(Country),
    /// A DTMF key (`0`-`9`, `*`, `#`, `A`-`D`): 100 ms of its dual tone, then
    /// 100 ms of silence.
    Dtmf(char),
    /// Digital silence.
    Silence,
    /// Quiet white noise, so a held line does not sound dead.
    ComfortNoise,
}

/// A tone's make-up: up to two frequencies sounding together, and the on/off
/// cadence that repeats (an empty cadence sounds without pause).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ToneSpec {
    /// Frequencies sounding together, Hz.
    pub frequencies: &'static [u32],
    /// Peak amplitude of each frequency, 16-bit scale.
    pub peak: f64,
    /// `(on, off)` pairs in milliseconds, repeated in order.
    pub cadence: &'static [(u32, u32)],
    /// Whether the cadence repeats (a beep plays once).
    pub repeats: bool,
}

/// Frequencies and cadence of a country's ringback.
fn ringback(country: Country) -> ToneSpec {
    let (frequencies, cadence): (&'static [u32], &'static [(u32, u32)]) = match country {
        Country::Us => (&[440, 480], &[(2000, 4000)]),
        Country::Uk => (&[400, 450], &[(400, 200), (400, 2000)]),
        Country::Eu | Country::De => (&[425], &[(1000, 4000)]),
        Country::Fr => (&[440], &[(1500, 3500)]),
    };
    progress(frequencies, cadence)
}

/// Frequencies and cadence of a country's busy tone.
fn busy(country: Country) -> ToneSpec {
    let (frequencies, cadence): (&'static [u32], &'static [(u32, u32)]) = match country {
        Country::Us => (&[480, 620], &[(500, 500)]),
        Country::Uk => (&[400], &[(375, 375)]),
        Country::Eu => (&[425], &[(500, 500)]),
        Country::De => (&[425], &[(480, 480)]),
        Country::Fr => (&[440], &[(500, 500)]),
    };
    progress(frequencies, cadence)
}

/// A repeating call-progress tone.
fn progress(frequencies: &'static [u32], cadence: &'static [(u32, u32)]) -> ToneSpec {
    ToneSpec {
        frequencies,
        peak: PROGRESS_PEAK,
        cadence,
        repeats: true,
    }
}

/// The two frequencies of DTMF keys, by event code (0-15).
const DTMF_PAIRS: [[u32; 2]; 16] = {
    let mut pairs = [[0; 2]; 16];
    let mut code = 0;
    while code < 16 {
        pairs[code] = dtmf_pair(code as u8);
        code += 1;
    }
    pairs
};

/// A key's (low, high) pair in whole hertz (ITU-T Q.23), computed like
/// `dtmf_send::frequencies` but in a const context.
const fn dtmf_pair(code: u8) -> [u32; 2] {
    const LOW: [u32; 4] = [697, 770, 852, 941];
    const HIGH: [u32; 4] = [1209, 1336, 1477, 1633];
    let (row, column) = match code {
        0 => (3, 1),
        1..=9 => ((code - 1) / 3, (code - 1) % 3),
        10 => (3, 0),
        11 => (3, 2),
        _ => (code.saturating_sub(12), 3),
    };
    let row = if row > 3 { 3 } else { row };
    [LOW[row as usize], HIGH[column as usize]]
}

impl Tone {
    /// What the tone is made of; `None` for a DTMF "key" that is not one.
    pub fn spec(self) -> Option<ToneSpec> {
        Some(match self {
            Tone::Beep => ToneSpec {
                frequencies: &[1000],
                peak: BEEP_PEAK,
                cadence: &[(250, 0)],
                repeats: false,
            },
            Tone::Ringback(country) => ringback(country),
            Tone::Busy(country) => busy(country),
            Tone::Dtmf(key) => {
                let code = event_code(key)?;
                ToneSpec {
                    frequencies: &DTMF_PAIRS[code as usize],
                    peak: DTMF_PEAK,
                    cadence: &[(DTMF_ON_MS, DTMF_ON_MS)],
                    repeats: false,
                }
            }
            Tone::Silence | Tone::ComfortNoise => ToneSpec {
                frequencies: &[],
                peak: 0.0,
                cadence: &[],
                repeats: true,
            },
        })
    }

    /// One cadence cycle (for a beep or key: the whole tone with its pause);
    /// 20 ms for silence and comfort noise, which have no cycle.
    pub fn cycle(self) -> Duration {
        let millis: u32 = self
            .spec()
            .map(|spec| spec.cadence.iter().map(|(on, off)| on + off).sum())
            .unwrap_or(0);
        if millis == 0 {
            Duration::from_millis(20)
        } else {
            Duration::from_millis(u64::from(millis))
        }
    }

    /// A stable name: `beep`, `ringback-us`, `busy-uk`, `dtmf-5`, `silence`,
    /// `comfort-noise`.
    pub fn name(self) -> String {
        let country = |country: Country| format!("{country:?}").to_ascii_lowercase();
        match self {
            Tone::Beep => "beep".into(),
            Tone::Ringback(c) => format!("ringback-{}", country(c)),
            Tone::Busy(c) => format!("busy-{}", country(c)),
            Tone::Dtmf(key) => format!("dtmf-{key}"),
            Tone::Silence => "silence".into(),
            Tone::ComfortNoise => "comfort-noise".into(),
        }
    }
}

/// Why a tone cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToneError {
    /// A DTMF tone for a character that is no key.
    #[error("{0:?} is not a DTMF key (0-9, *, #, A-D)")]
    NotAKey(char),
}

/// Writes a tone frame by frame.
#[derive(Clone, Debug)]
pub struct ToneGenerator {
    /// The tone (for comfort noise and silence).
    tone: Tone,
    /// What sounds when.
    spec: ToneSpec,
    /// Cadence cycle in samples (0: no cadence, always on).
    cycle_samples: u64,
    /// Samples written so far.
    position: u64,
    /// xorshift state of the comfort noise.
    noise: u32,
}

impl ToneGenerator {
    /// A generator at the start of `tone`.
    pub fn new(tone: Tone) -> Result<ToneGenerator, ToneError> {
        let spec = match (tone, tone.spec()) {
            (_, Some(spec)) => spec,
            (Tone::Dtmf(key), None) => return Err(ToneError::NotAKey(key)),
            (_, None) => return Err(ToneError::NotAKey('?')),
        };
        let cycle_ms: u64 = spec
            .cadence
            .iter()
            .map(|&(on, off)| u64::from(on + off))
            .sum();
        Ok(ToneGenerator {
            tone,
            spec,
            cycle_samples: cycle_ms * u64::from(SAMPLE_RATE) / 1000,
            position: 0,
            noise: 0x9E37_79B9,
        })
    }

    /// Time played so far.
    pub fn elapsed(&self) -> Duration {
        Duration::from_micros(self.position * 1_000_000 / u64::from(SAMPLE_RATE))
    }

    /// True when a non-repeating tone (beep, key) has played its cycle; a
    /// finished generator writes silence.
    pub fn is_finished(&self) -> bool {
        !self.spec.repeats && self.position >= self.cycle_samples
    }

    /// Writes the next 20 ms ([`FRAME_SAMPLES`] samples) into `out`.
    pub fn next_frame(&mut self, out: &mut [i16; FRAME_SAMPLES]) {
        self.fill(out);
    }

    /// Writes the next `out.len()` samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        for sample in out.iter_mut() {
            *sample = self.sample();
            self.position += 1;
        }
    }

    /// The sample at `self.position`.
    fn sample(&mut self) -> i16 {
        if self.tone == Tone::ComfortNoise {
            // xorshift32: uniform in ±COMFORT_NOISE_PEAK.
            self.noise ^= self.noise << 13;
            self.noise ^= self.noise >> 17;
            self.noise ^= self.noise << 5;
            let unit = f64::from(self.noise) / f64::from(u32::MAX) * 2.0 - 1.0;
            return (unit * COMFORT_NOISE_PEAK) as i16;
        }
        let gain = self.envelope();
        if gain == 0.0 {
            return 0;
        }
        let rate = u64::from(SAMPLE_RATE);
        let value: f64 = self
            .spec
            .frequencies
            .iter()
            .map(|&hz| {
                let phase = (u64::from(hz) * self.position) % rate;
                (std::f64::consts::TAU * phase as f64 / rate as f64).sin()
            })
            .sum();
        (value * self.spec.peak * gain)
            .round()
            .clamp(-32_767.0, 32_767.0) as i16
    }

    /// The burst envelope at `self.position`: 0 in a pause, 1 mid-burst, a linear
    /// ramp over [`RAMP_SAMPLES`] at each end of a burst.
    fn envelope(&self) -> f64 {
        if self.cycle_samples == 0 {
            return 1.0;
        }
        if self.is_finished() {
            return 0.0;
        }
        let mut at = self.position % self.cycle_samples;
        let per_ms = u64::from(SAMPLE_RATE) / 1000;
        for &(on, off) in self.spec.cadence {
            let on = u64::from(on) * per_ms;
            let off = u64::from(off) * per_ms;
            if at < on {
                let edge = at.min(on - 1 - at);
                return if edge < RAMP_SAMPLES {
                    (edge + 1) as f64 / (RAMP_SAMPLES + 1) as f64
                } else {
                    1.0
                };
            }
            if at < on + off {
                return 0.0;
            }
            at -= on + off;
        }
        0.0
    }
}

/// `tone` rendered into a prompt, id `tone:<name>`: one cadence cycle for
/// ringback and busy (queue it again to repeat), the tone and its pause for a
/// beep or key, `duration` (rounded up to 20 ms) for silence and comfort noise.
pub fn tone_prompt(tone: Tone, duration: Duration) -> Result<Prompt, ToneError> {
    let mut generator = ToneGenerator::new(tone)?;
    let length = match tone {
        Tone::Silence | Tone::ComfortNoise => duration,
        _ => tone.cycle(),
    };
    let samples = (length.as_micros() * u128::from(SAMPLE_RATE) / 1_000_000) as usize;
    let mut pcm = vec![0i16; samples.div_ceil(FRAME_SAMPLES) * FRAME_SAMPLES];
    generator.fill(&mut pcm);
    Ok(Prompt::from_samples(
        format!("tone:{}", tone.name()),
        None,
        pcm,
    ))
}

/// Tone names a flow may give (`ringback`, `busy`, `beep`, `silence`,
/// `comfort-noise`, `dtmf-<key>`), with the country for call-progress tones.
pub fn parse_tone(name: &str, country: Country) -> Option<Tone> {
    let name = name.trim().to_ascii_lowercase();
    Some(match name.as_str() {
        "beep" => Tone::Beep,
        "ringback" | "ring" => Tone::Ringback(country),
        "busy" => Tone::Busy(country),
        "silence" => Tone::Silence,
        "comfort-noise" | "comfort_noise" | "noise" => Tone::ComfortNoise,
        _ => {
            let key = name.strip_prefix("dtmf-")?;
            let mut chars = key.chars();
            let key = chars.next()?.to_ascii_uppercase();
            if chars.next().is_some() || event_code(key).is_none() {
                return None;
            }
            Tone::Dtmf(key)
        }
    })
}

/// Keeps `frequencies` of the DTMF sender in step with [`DTMF_PAIRS`].
#[cfg(test)]
fn sender_pair(code: u8) -> [u32; 2] {
    let (low, high) = crate::media::dtmf_send::frequencies(code);
    [low as u32, high as u32]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Amplitude of `freq` Hz in 8 kHz `samples` (Goertzel), as a sine's peak.
    fn amplitude_at(samples: &[i16], freq: f64) -> f64 {
        let coeff = 2.0 * (std::f64::consts::TAU * freq / 8000.0).cos();
        let (mut s1, mut s2) = (0.0, 0.0);
        for &x in samples {
            let s = f64::from(x) + coeff * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        let power = (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0);
        2.0 * power.sqrt() / samples.len() as f64
    }

    /// Frames of `tone` covering `duration`.
    fn frames(tone: Tone, duration: Duration) -> Vec<[i16; FRAME_SAMPLES]> {
        let mut generator = ToneGenerator::new(tone).unwrap();
        let count = (duration.as_millis() / 20) as usize;
        let mut frames = Vec::with_capacity(count);
        for _ in 0..count {
            let mut frame = [0i16; FRAME_SAMPLES];
            generator.next_frame(&mut frame);
            frames.push(frame);
        }
        assert_eq!(
            generator.elapsed(),
            Duration::from_millis(20 * count as u64)
        );
        frames
    }

    /// Which 20 ms frames carry sound, as (start ms, end ms) runs.
    fn bursts(frames: &[[i16; FRAME_SAMPLES]]) -> Vec<(u64, u64)> {
        let mut runs = Vec::new();
        let mut start = None;
        for (index, frame) in frames.iter().enumerate() {
            let loud = frame.iter().any(|&s| s.unsigned_abs() > 1000);
            let at = index as u64 * 20;
            match (loud, start) {
                (true, None) => start = Some(at),
                (false, Some(from)) => {
                    runs.push((from, at));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(from) = start {
            runs.push((from, frames.len() as u64 * 20));
        }
        runs
    }

    #[test]
    fn progress_tones_have_their_countrys_frequencies() {
        let cases: [(Tone, &[f64]); 8] = [
            (Tone::Ringback(Country::Us), &[440.0, 480.0]),
            (Tone::Busy(Country::Us), &[480.0, 620.0]),
            (Tone::Ringback(Country::Uk), &[400.0, 450.0]),
            (Tone::Busy(Country::Uk), &[400.0]),
            (Tone::Ringback(Country::Eu), &[425.0]),
            (Tone::Busy(Country::Eu), &[425.0]),
            (Tone::Ringback(Country::Fr), &[440.0]),
            (Tone::Busy(Country::De), &[425.0]),
        ];
        for (tone, expected) in cases {
            // 200 ms from inside the first burst (every burst here lasts ≥ 375 ms).
            let pcm: Vec<i16> = frames(tone, Duration::from_millis(300))
                .iter()
                .flatten()
                .copied()
                .skip(400)
                .take(1600)
                .collect();
            for &freq in expected {
                let level = amplitude_at(&pcm, freq);
                assert!(
                    (level - PROGRESS_PEAK).abs() < PROGRESS_PEAK * 0.03,
                    "{tone:?} {freq} Hz: {level}"
                );
            }
            for stray in [350.0, 697.0, 1000.0, 1209.0] {
                assert!(
                    amplitude_at(&pcm, stray) < PROGRESS_PEAK * 0.05,
                    "{tone:?} {stray}"
                );
            }
        }
    }

    #[test]
    fn cadences_follow_the_table_to_the_frame() {
        let cases: [(Tone, Vec<(u64, u64)>); 4] = [
            (
                Tone::Ringback(Country::Us),
                vec![(0, 2000), (6000, 8000), (12000, 12_500)],
            ),
            (
                Tone::Ringback(Country::Uk),
                vec![(0, 400), (600, 1000), (3000, 3400), (3600, 4000)],
            ),
            (Tone::Ringback(Country::Eu), vec![(0, 1000), (5000, 6000)]),
            (
                Tone::Busy(Country::Us),
                vec![(0, 500), (1000, 1500), (2000, 2500)],
            ),
        ];
        for (tone, expected) in cases {
            let end = expected.last().unwrap().1;
            let runs = bursts(&frames(tone, Duration::from_millis(end)));
            assert_eq!(runs, expected, "{tone:?}");
        }
        // UK busy: 375 ms on and off, which 20 ms frames cut mid-frame.
        let runs = bursts(&frames(
            Tone::Busy(Country::Uk),
            Duration::from_millis(1500),
        ));
        assert_eq!(runs, vec![(0, 380), (740, 1140)]);
    }

    #[test]
    fn dtmf_keys_sound_both_tones_then_pause_then_end() {
        for key in ['1', '5', '9', '0', '*', '#', 'A', 'D'] {
            let code = event_code(key).unwrap();
            assert_eq!(DTMF_PAIRS[code as usize], sender_pair(code), "{key}");
            let all = frames(Tone::Dtmf(key), Duration::from_millis(400));
            let pcm: Vec<i16> = all[1..4].iter().flatten().copied().collect();
            let [low, high] = DTMF_PAIRS[code as usize];
            for freq in [low, high] {
                let level = amplitude_at(&pcm, f64::from(freq));
                // 480 samples do not hold a whole number of every key's cycles:
                // Goertzel reads up to about 6 % low between bins.
                assert!(
                    (level - DTMF_PEAK).abs() < DTMF_PEAK * 0.1,
                    "{key} {freq}: {level}"
                );
            }
            assert_eq!(bursts(&all), vec![(0, 100)], "{key}");
        }
        assert_eq!(
            ToneGenerator::new(Tone::Dtmf('x')).unwrap_err(),
            ToneError::NotAKey('x')
        );
    }

    #[test]
    fn beep_is_a_quarter_second_of_1khz_once() {
        let mut generator = ToneGenerator::new(Tone::Beep).unwrap();
        let all = frames(Tone::Beep, Duration::from_secs(1));
        assert_eq!(bursts(&all), vec![(0, 260)]);
        let pcm: Vec<i16> = all[2..10].iter().flatten().copied().collect();
        assert!((amplitude_at(&pcm, 1000.0) - BEEP_PEAK).abs() < BEEP_PEAK * 0.03);
        let mut frame = [0i16; FRAME_SAMPLES];
        for _ in 0..13 {
            generator.next_frame(&mut frame);
        }
        assert!(generator.is_finished());
    }

    #[test]
    fn silence_is_zero_and_comfort_noise_is_quiet_but_not_silent() {
        let silence = frames(Tone::Silence, Duration::from_millis(200));
        assert!(silence.iter().flatten().all(|&s| s == 0));
        let noise: Vec<i16> = frames(Tone::ComfortNoise, Duration::from_secs(1))
            .iter()
            .flatten()
            .copied()
            .collect();
        let rms =
            (noise.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / noise.len() as f64).sqrt();
        // Uniform noise of peak P has RMS P/√3.
        let expected = COMFORT_NOISE_PEAK / 3f64.sqrt();
        assert!((rms - expected).abs() < expected * 0.1, "rms {rms}");
        assert!(noise
            .iter()
            .all(|s| f64::from(s.unsigned_abs()) <= COMFORT_NOISE_PEAK));
        // Flat: no tone stands out.
        for freq in [300.0, 1000.0, 3000.0] {
            assert!(amplitude_at(&noise, freq) < 5.0, "{freq}");
        }
    }

    #[test]
    fn bursts_fade_in_and_out_without_a_click() {
        let pcm: Vec<i16> = frames(Tone::Busy(Country::Eu), Duration::from_millis(600))
            .iter()
            .flatten()
            .copied()
            .collect();
        // The first and last samples of the burst are within a ramp step of zero.
        let step = PROGRESS_PEAK / (RAMP_SAMPLES + 1) as f64;
        assert!(f64::from(pcm[0].unsigned_abs()) <= step);
        assert!(f64::from(pcm[3999].unsigned_abs()) <= step);
        assert!(pcm[4000..].iter().all(|&s| s == 0));
    }

    #[test]
    fn a_long_ringback_stays_in_tune() {
        // One hour in: the integer phase keeps the pitch exact.
        let mut generator = ToneGenerator::new(Tone::Ringback(Country::Eu)).unwrap();
        generator.position = 3600 * 8000;
        let mut pcm = vec![0i16; 4000];
        generator.fill(&mut pcm);
        let level = amplitude_at(&pcm[400..3600], 425.0);
        assert!(
            (level - PROGRESS_PEAK).abs() < PROGRESS_PEAK * 0.03,
            "{level}"
        );
    }

    #[test]
    fn prompts_hold_one_cycle_encoded_for_every_codec() {
        let ring = tone_prompt(Tone::Ringback(Country::Uk), Duration::ZERO).unwrap();
        assert_eq!(ring.id(), "tone:ringback-uk");
        assert_eq!(ring.duration(), Duration::from_secs(3));
        assert_eq!(ring.opus_packets(), 150);
        let noise = tone_prompt(Tone::ComfortNoise, Duration::from_millis(50)).unwrap();
        assert_eq!(noise.duration(), Duration::from_millis(60));
        let key = tone_prompt(Tone::Dtmf('#'), Duration::ZERO).unwrap();
        assert_eq!(key.duration(), Duration::from_millis(200));
    }

    #[test]
    fn names_and_countries_parse() {
        assert_eq!(Country::from_code("en-US"), Some(Country::Us));
        assert_eq!(Country::from_code("en_GB"), Some(Country::Uk));
        assert_eq!(Country::from_code("de-DE"), Some(Country::De));
        assert_eq!(Country::from_code("it"), Some(Country::Eu));
        assert_eq!(Country::from_code("JP"), None);
        assert_eq!(
            parse_tone("Ringback", Country::Uk),
            Some(Tone::Ringback(Country::Uk))
        );
        assert_eq!(parse_tone("dtmf-#", Country::Us), Some(Tone::Dtmf('#')));
        assert_eq!(parse_tone("dtmf-b", Country::Us), Some(Tone::Dtmf('B')));
        assert_eq!(parse_tone("dtmf-12", Country::Us), None);
        assert_eq!(parse_tone("siren", Country::Us), None);
        for country in Country::ALL {
            for tone in [Tone::Ringback(country), Tone::Busy(country)] {
                assert!(ToneGenerator::new(tone).is_ok());
                assert!(tone.cycle() >= Duration::from_millis(750));
            }
        }
    }
}
