//! The detector against tones generated here: all digits, the frequency, twist,
//! duration, pause and level limits of the module doc, white noise, frame lengths,
//! and signals that must not produce digits.

use super::*;

const DIGITS: &str = "123A456B789C*0#D";

/// The low and high frequency of `digit`.
fn freqs(digit: char) -> (f32, f32) {
    for (row, keys) in KEYPAD.iter().enumerate() {
        for (column, &key) in keys.iter().enumerate() {
            if key == digit {
                return (LOW_TONES[row], HIGH_TONES[column]);
            }
        }
    }
    panic!("no digit {digit:?}");
}

/// Peak amplitude of a sine at `dbm0`.
fn amplitude(dbm0: f32) -> f64 {
    f64::from(DBM0_PEAK) * 10f64.powf(f64::from(dbm0) / 20.0)
}

/// A signal being built, at 8 kHz.
#[derive(Default)]
struct Signal {
    samples: Vec<f64>,
}

impl Signal {
    /// Appends `ms` of the two tones (Hz, peak amplitude).
    fn tones(mut self, ms: f64, tones: &[(f64, f64)]) -> Signal {
        let n = (ms * 8.0).round() as usize;
        let start = self.samples.len();
        for i in 0..n {
            let t = (start + i) as f64 / 8000.0;
            let v: f64 = tones
                .iter()
                .map(|&(f, a)| a * (2.0 * std::f64::consts::PI * f * t + 0.3).sin())
                .sum();
            self.samples.push(v);
        }
        self
    }

    /// Appends `digit` at `dbm0` per tone for `ms`.
    fn digit(self, digit: char, ms: f64, dbm0: f32) -> Signal {
        let (low, high) = freqs(digit);
        let a = amplitude(dbm0);
        self.tones(ms, &[(f64::from(low), a), (f64::from(high), a)])
    }

    /// Appends `ms` of silence.
    fn silence(mut self, ms: f64) -> Signal {
        let n = (ms * 8.0).round() as usize;
        self.samples.extend(std::iter::repeat_n(0.0, n));
        self
    }

    /// Adds uniform white noise of peak `peak` over the whole signal.
    fn noise(mut self, peak: f64, seed: u64) -> Signal {
        let mut state = seed | 1;
        for s in &mut self.samples {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
            *s += peak * (2.0 * unit - 1.0);
        }
        self
    }

    fn pcm(&self) -> Vec<i16> {
        self.samples
            .iter()
            .map(|&s| s.round().clamp(-32_768.0, 32_767.0) as i16)
            .collect()
    }
}

/// The digits a fresh detector reports over `samples` fed in `frame`-sample frames.
fn detect_in(samples: &[i16], frame: usize) -> String {
    let mut detector = InbandDtmfDetector::new(InbandDtmfConfig::default());
    let mut digits = String::new();
    for chunk in samples.chunks(frame) {
        if let Some(digit) = detector.handle_frame(chunk) {
            digits.push(digit);
        }
    }
    // Trailing silence lets a last short press finish.
    for _ in 0..10 {
        if let Some(digit) = detector.handle_frame(&[0; 160]) {
            digits.push(digit);
        }
    }
    digits
}

fn detect(signal: &Signal) -> String {
    detect_in(&signal.pcm(), 160)
}

/// Every digit once: 60 ms tone, 60 ms pause, at −10 dBm0 per tone.
fn all_digits(dbm0: f32) -> Signal {
    let mut signal = Signal::default().silence(30.0);
    for digit in DIGITS.chars() {
        signal = signal.digit(digit, 60.0, dbm0).silence(60.0);
    }
    signal
}

#[test]
fn every_digit_is_reported_once() {
    assert_eq!(detect(&all_digits(-10.0)), DIGITS);
    assert_eq!(detect(&all_digits(0.0)), DIGITS);
}

#[test]
fn any_frame_length_gives_the_same_digits() {
    let pcm = all_digits(-10.0).pcm();
    for frame in [1, 7, 40, 80, 159, 160, 161, 320, 480, 960] {
        assert_eq!(detect_in(&pcm, frame), DIGITS, "frame {frame}");
    }
}

/// One digit with each tone shifted by a relative amount.
fn shifted(digit: char, low_shift: f64, high_shift: f64) -> Signal {
    let (low, high) = freqs(digit);
    let a = amplitude(-10.0);
    Signal::default().silence(20.0).tones(
        80.0,
        &[
            (f64::from(low) * (1.0 + low_shift), a),
            (f64::from(high) * (1.0 + high_shift), a),
        ],
    )
}

#[test]
fn deviation_up_to_1_5_percent_is_accepted() {
    for digit in DIGITS.chars() {
        for (low, high) in [
            (0.015, 0.0),
            (-0.015, 0.0),
            (0.0, 0.015),
            (0.0, -0.015),
            (0.015, 0.015),
            (-0.015, -0.015),
            (0.015, -0.015),
        ] {
            let heard = detect(&shifted(digit, low, high));
            assert_eq!(heard, digit.to_string(), "{digit} shifted {low} / {high}");
        }
    }
}

#[test]
fn deviation_of_3_5_percent_is_rejected() {
    for digit in DIGITS.chars() {
        for (low, high) in [
            (0.035, 0.0),
            (-0.035, 0.0),
            (0.0, 0.035),
            (0.0, -0.035),
            (0.05, 0.0),
            (0.0, -0.06),
        ] {
            let heard = detect(&shifted(digit, low, high));
            assert_eq!(heard, "", "{digit} shifted {low} / {high}");
        }
    }
}

/// One digit with the high tone `twist_db` below the low tone (negative: above).
fn twisted(digit: char, twist_db: f32) -> Signal {
    let (low, high) = freqs(digit);
    Signal::default().silence(20.0).tones(
        80.0,
        &[
            (f64::from(low), amplitude(-6.0)),
            (f64::from(high), amplitude(-6.0 - twist_db)),
        ],
    )
}

#[test]
fn twist_within_the_limits_is_accepted() {
    for digit in DIGITS.chars() {
        for twist in [8.0, 4.0, 0.0, -2.0, -4.0] {
            assert_eq!(
                detect(&twisted(digit, twist)),
                digit.to_string(),
                "{digit} twist {twist} dB"
            );
        }
    }
}

#[test]
fn twist_beyond_the_limits_is_rejected() {
    for digit in DIGITS.chars() {
        for twist in [10.0, 12.0, -6.0, -8.0] {
            assert_eq!(
                detect(&twisted(digit, twist)),
                "",
                "{digit} twist {twist} dB"
            );
        }
    }
}

#[test]
fn a_35_ms_tone_is_rejected_and_a_45_ms_tone_accepted() {
    // Every alignment of the tone against the 5 ms sub-blocks, 1 sample apart.
    for digit in DIGITS.chars() {
        for lead in 0..40 {
            let lead_ms = f64::from(lead) / 8.0;
            let short = Signal::default()
                .silence(20.0 + lead_ms)
                .digit(digit, 35.0, -10.0);
            assert_eq!(detect(&short), "", "{digit} 35 ms, lead {lead} samples");
            let long = Signal::default()
                .silence(20.0 + lead_ms)
                .digit(digit, 45.0, -10.0);
            assert_eq!(
                detect(&long),
                digit.to_string(),
                "{digit} 45 ms, lead {lead} samples"
            );
        }
    }
}

#[test]
fn a_40_ms_pause_separates_presses_and_a_30_ms_break_does_not() {
    for digit in DIGITS.chars() {
        for lead in 0..40 {
            let lead_ms = f64::from(lead) / 8.0;
            let paused = Signal::default()
                .silence(20.0 + lead_ms)
                .digit(digit, 60.0, -10.0)
                .silence(40.0)
                .digit(digit, 60.0, -10.0);
            let twice: String = [digit, digit].iter().collect();
            assert_eq!(detect(&paused), twice, "{digit} 40 ms pause, lead {lead}");
            let broken = Signal::default()
                .silence(20.0 + lead_ms)
                .digit(digit, 60.0, -10.0)
                .silence(30.0)
                .digit(digit, 60.0, -10.0);
            assert_eq!(
                detect(&broken),
                digit.to_string(),
                "{digit} 30 ms break, lead {lead}"
            );
        }
    }
}

#[test]
fn a_different_digit_after_a_pause_is_reported() {
    let signal = Signal::default()
        .silence(20.0)
        .digit('1', 50.0, -10.0)
        .silence(45.0)
        .digit('2', 50.0, -10.0)
        .silence(45.0)
        .digit('1', 50.0, -10.0);
    assert_eq!(detect(&signal), "121");
}

#[test]
fn levels_down_to_minus_25_dbm0_are_accepted_and_minus_33_rejected() {
    assert_eq!(detect(&all_digits(-25.0)), DIGITS);
    assert_eq!(detect(&all_digits(-27.0)), DIGITS);
    assert_eq!(detect(&all_digits(-33.0)), "");
    assert_eq!(detect(&all_digits(-40.0)), "");
    // One tone too weak, the other strong: twist and level both refuse it.
    let (low, high) = freqs('5');
    let weak_high = Signal::default().silence(20.0).tones(
        80.0,
        &[
            (f64::from(low), amplitude(-26.0)),
            (f64::from(high), amplitude(-34.0)),
        ],
    );
    assert_eq!(detect(&weak_high), "");
}

/// Uniform noise peak giving `snr_db` against a digit at `dbm0` per tone.
fn noise_peak(dbm0: f32, snr_db: f64) -> f64 {
    let a = amplitude(dbm0);
    let signal_power = a * a; // two tones of power a²/2
    let noise_power = signal_power / 10f64.powf(snr_db / 10.0);
    (3.0 * noise_power).sqrt() // uniform on [-u, u] has power u²/3
}

#[test]
fn white_noise_at_15_db_snr_keeps_every_digit() {
    for (seed, dbm0) in [(1, -10.0), (2, -10.0), (3, -20.0), (4, 0.0)] {
        let signal = all_digits(dbm0).noise(noise_peak(dbm0, 15.0), seed);
        assert_eq!(detect(&signal), DIGITS, "seed {seed}, {dbm0} dBm0");
    }
}

#[test]
fn noise_alone_gives_no_digit() {
    for peak in [1000.0, 8000.0, 30000.0] {
        let signal = Signal::default().silence(2000.0).noise(peak, 7);
        assert_eq!(detect(&signal), "", "noise peak {peak}");
    }
}

#[test]
fn harmonic_rich_signals_give_no_digit() {
    // A digit's two tones with strong second harmonics (a clipped, distorted pair).
    let (low, high) = freqs('5');
    let (low, high) = (f64::from(low), f64::from(high));
    let a = amplitude(-10.0);
    let distorted = Signal::default().silence(20.0).tones(
        100.0,
        &[
            (low, a),
            (high, a),
            (2.0 * low, a * 0.6),
            (2.0 * high, a * 0.6),
        ],
    );
    assert_eq!(detect(&distorted), "");
    // Buzzes: sawtooth-like harmonic series at several pitches.
    for pitch in [100.0, 120.0, 150.0, 210.0, 233.0] {
        let partials: Vec<(f64, f64)> = (1..30)
            .map(|k| (pitch * f64::from(k), 4000.0 / f64::from(k)))
            .take_while(|&(f, _)| f < 3900.0)
            .collect();
        let buzz = Signal::default().tones(1000.0, &partials);
        assert_eq!(detect(&buzz), "", "buzz at {pitch} Hz");
    }
    // Two tones of one group: not a digit.
    let same_group = Signal::default()
        .silence(20.0)
        .tones(100.0, &[(697.0, a), (770.0, a), (1336.0, a)]);
    assert_eq!(detect(&same_group), "");
}

#[test]
fn a_single_tone_gives_no_digit() {
    for f in LOW_TONES.iter().chain(HIGH_TONES.iter()) {
        let signal = Signal::default()
            .silence(20.0)
            .tones(200.0, &[(f64::from(*f), amplitude(-5.0))]);
        assert_eq!(detect(&signal), "", "{f} Hz alone");
    }
}

#[test]
fn reset_forgets_a_press_in_progress() {
    let pcm = Signal::default().digit('7', 30.0, -10.0).pcm();
    let mut detector = InbandDtmfDetector::new(InbandDtmfConfig::default());
    assert_eq!(detector.handle_frame(&pcm), None);
    detector.reset();
    // The 30 ms heard before the reset do not count towards the next 30 ms.
    assert_eq!(detector.handle_frame(&pcm), None);
    assert_eq!(detector.handle_frame(&[0; 400]), None);
    let long = Signal::default().digit('7', 60.0, -10.0).pcm();
    assert_eq!(detector.handle_frame(&long), Some('7'));
}

#[test]
fn wav_decoding_downmixes_and_resamples() {
    // A 1 kHz stereo 48 kHz sine, one channel silent: 8 kHz mono at half the level.
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
        for i in 0..48_000 {
            let v = (2.0 * std::f64::consts::PI * 1000.0 * f64::from(i) / 48_000.0).sin();
            writer.write_sample((v * 20_000.0) as i16).unwrap();
            writer.write_sample(0i16).unwrap();
        }
        writer.finalize().unwrap();
    }
    let pcm = wav_to_8k_mono(cursor.get_ref()).unwrap();
    assert_eq!(pcm.len(), 8000);
    // Away from the edges each sample is the half-level sine at 8 kHz.
    for (n, &s) in pcm.iter().enumerate().skip(100).take(7800) {
        let expected = 10_000.0 * (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / 8000.0).sin();
        assert!(
            (f64::from(s) - expected).abs() < 30.0,
            "sample {n}: {s} vs {expected}"
        );
    }
    assert!(matches!(
        wav_to_8k_mono(b"RIFF not a wav"),
        Err(InbandWavError::InvalidWav(_))
    ));
}
