//! `callplane dtmf detect`, run as a real process on WAV files made by sox (DTMF at
//! 8, 16, 44.1 and 48 kHz, mono and stereo, three levels, several tone and pause
//! lengths) and espeak-ng (speech that must give no digit), plus sox music that must
//! give no digit, and the exit code and one-line error of unreadable files.
//!
//! sox and espeak-ng are installed by scripts/install-test-deps.sh; without them these
//! tests fail, saying so.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

mod common;

const DIGITS: &str = "1234567890*#ABCD";

fn callplane(args: &[&str]) -> Output {
    match Command::new(env!("CARGO_BIN_EXE_callplane"))
        .args(args)
        .output()
    {
        Ok(output) => output,
        Err(err) => panic!("cannot run callplane: {err}"),
    }
}

/// Fails the test, with the way out, when `tool` cannot be run.
fn require(tool: &str) {
    common::require_tool(tool, "--version");
}

/// Runs `tool` with `args`, which must succeed.
fn run(tool: &str, args: &[&str]) {
    let output = match Command::new(tool).args(args).output() {
        Ok(output) => output,
        Err(err) => panic!("cannot run {tool} (run scripts/install-test-deps.sh): {err}"),
    };
    assert!(
        output.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn temp_dir() -> TempDir {
    match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(err) => panic!("temp dir: {err}"),
    }
}

fn path_str(path: &Path) -> String {
    path.display().to_string()
}

/// `dtmf detect FILE`: expects exit 0 and one line, returned without its newline.
fn detect(file: &Path) -> String {
    let output = callplane(&["dtmf", "detect", &path_str(file)]);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}: stdout {stdout:?}, stderr {}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.ends_with('\n') && stdout.lines().count() == 1,
        "{}: one line expected, got {stdout:?}",
        file.display()
    );
    stdout.trim_end_matches('\n').to_owned()
}

/// The low and high frequency of `digit`.
fn freqs(digit: char) -> (&'static str, &'static str) {
    let low = match digit {
        '1' | '2' | '3' | 'A' => "697",
        '4' | '5' | '6' | 'B' => "770",
        '7' | '8' | '9' | 'C' => "852",
        _ => "941",
    };
    let high = match digit {
        '1' | '4' | '7' | '*' => "1209",
        '2' | '5' | '8' | '0' => "1336",
        '3' | '6' | '9' | '#' => "1477",
        _ => "1633",
    };
    (low, high)
}

/// Writes `digits` as DTMF to `out` at `rate` Hz with `channels` channels: the i-th
/// digit lasts 50, 70 or 100 ms, is followed by 50 or 80 ms of silence, and is at
/// about −6, −14 or −22 dBm0 per tone (sox's two sines, then 0, 8 or 16 dB less).
fn dtmf_wav(dir: &Path, out: &Path, digits: &str, rate: u32, channels: u32) {
    let rate = rate.to_string();
    let mut pieces = Vec::new();
    let lead = dir.join("lead.wav");
    run(
        "sox",
        &[
            "-n",
            "-r",
            &rate,
            "-c",
            "1",
            &path_str(&lead),
            "trim",
            "0",
            "0.04",
        ],
    );
    pieces.push(path_str(&lead));
    for (i, digit) in digits.chars().enumerate() {
        let (low, high) = freqs(digit);
        let length = ["0.05", "0.07", "0.1"][i % 3];
        let pause = ["0.05", "0.08"][i % 2];
        let gain = ["0", "-8", "-16"][(i / 3) % 3];
        let piece = dir.join(format!("piece{i}.wav"));
        run(
            "sox",
            &[
                "-n",
                "-r",
                &rate,
                "-c",
                "1",
                &path_str(&piece),
                "synth",
                length,
                "sine",
                low,
                "sine",
                high,
                "gain",
                gain,
                "pad",
                "0",
                pause,
            ],
        );
        pieces.push(path_str(&piece));
    }
    let channels = channels.to_string();
    let mut args: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let out = path_str(out);
    args.extend(["-c", &channels, &out]);
    run("sox", &args);
}

/// Digits of `expected` found in order in `heard` (longest common subsequence).
fn matched(expected: &str, heard: &str) -> usize {
    let a: Vec<char> = expected.chars().collect();
    let b: Vec<char> = heard.chars().collect();
    let mut table = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            table[i][j] = if a[i - 1] == b[j - 1] {
                table[i - 1][j - 1] + 1
            } else {
                table[i - 1][j].max(table[i][j - 1])
            };
        }
    }
    table[a.len()][b.len()]
}

#[test]
fn digits_are_heard_at_every_rate_and_channel_count() {
    require("sox");
    let dir = temp_dir();
    let mut expected_total = 0;
    let mut detected = 0;
    let mut false_digits = 0;
    let mut failures = Vec::new();
    // Two sequences per format: all keys in keypad order, and a mixed one.
    let sequences = [DIGITS, "#9D0*5A3C18B7624"];
    for rate in [8_000, 16_000, 44_100, 48_000] {
        for channels in [1, 2] {
            for (n, digits) in sequences.iter().enumerate() {
                let file = dir.path().join(format!("dtmf_{rate}_{channels}_{n}.wav"));
                dtmf_wav(dir.path(), &file, digits, rate, channels);
                let heard = detect(&file);
                let found = matched(digits, &heard);
                expected_total += digits.len();
                detected += found;
                false_digits += heard.chars().count() - found;
                if heard != *digits {
                    failures.push(format!("{rate} Hz x{channels}: {digits} heard as {heard}"));
                }
            }
        }
    }
    println!(
        "dtmf detect on sox DTMF: {detected}/{expected_total} digits detected ({:.1} %), \
         {false_digits} false digit(s)",
        100.0 * detected as f64 / expected_total as f64
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn speech_and_music_give_no_digit() {
    require("sox");
    require("espeak-ng");
    let dir = temp_dir();
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    let sentences = [
        "Please call me back at five five five, one two three four.",
        "My account number is nine eight seven six five four three two one zero.",
        "Press one for sales, two for support, or stay on the line for an operator.",
        "The meeting starts at half past three on Tuesday the twenty first of March.",
        "Hello, this is a test. Oh, eee, aah, ooh, mmm, hmmm.",
        "Seven hundred and seventy seven thousand, eight hundred and fifty two.",
    ];
    let voices = [
        ("en", "175"),
        ("en-us", "140"),
        ("en+f3", "160"),
        ("en+m7", "200"),
    ];
    for (i, sentence) in sentences.iter().enumerate() {
        for (j, (voice, speed)) in voices.iter().enumerate() {
            let file = dir.path().join(format!("speech_{i}_{j}.wav"));
            run(
                "espeak-ng",
                &["-v", voice, "-s", speed, "-w", &path_str(&file), sentence],
            );
            files.push((format!("espeak-ng -v {voice}: {sentence}"), file));
        }
    }
    // Music-like signals: plucked and sawtooth chords, including notes a few per cent
    // from DTMF frequencies (G5 784 Hz, E6 1319 Hz, D6 1175 Hz), an arpeggio and a
    // pure-sine triad with tremolo. (Two pure sines each within 2.5 % of a digit's
    // tones, such as G5 + E6 alone, are that digit by the accepted deviation.)
    let music: [&[&str]; 6] = [
        &["synth", "3", "pluck", "C4", "pluck", "E4", "pluck", "G4"],
        &["synth", "3", "pluck", "G5", "pluck", "E6", "pluck", "C5"],
        &["synth", "3", "pluck", "D6", "pluck", "A5", "pluck", "F#5"],
        &["synth", "3", "sawtooth", "G5", "sawtooth", "E6"],
        &[
            "synth", "0.25", "pluck", "A4", "pluck", "C5", "pluck", "E5", "repeat", "11",
        ],
        &[
            "synth", "3", "sine", "C5", "sine", "E5", "sine", "G5", "tremolo", "6", "60",
        ],
    ];
    for (i, effects) in music.iter().enumerate() {
        for rate in ["8000", "44100"] {
            let file = dir.path().join(format!("music_{i}_{rate}.wav"));
            let out = path_str(&file);
            let mut args = vec!["-n", "-r", rate, "-c", "1", &out];
            args.extend_from_slice(effects);
            args.extend(["gain", "-n", "-3"]);
            run("sox", &args);
            files.push((format!("sox {}", effects.join(" ")), file));
        }
    }
    let mut false_digits = 0;
    let mut failures = Vec::new();
    for (what, file) in &files {
        let heard = detect(file);
        false_digits += heard.chars().count();
        if !heard.is_empty() {
            failures.push(format!("{what}: heard {heard}"));
        }
    }
    println!(
        "dtmf detect on {} speech and music files: {false_digits} false digit(s)",
        files.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn an_unreadable_or_non_wav_file_exits_2_with_one_line() {
    let dir = temp_dir();
    let text = dir.path().join("notes.wav");
    if let Err(err) = std::fs::write(&text, "not audio\n") {
        panic!("write: {err}");
    }
    let missing = dir.path().join("missing.wav");
    for (file, reason) in [
        (&missing, "cannot read"),
        (&text, "not a readable WAV file"),
        (&dir.path().to_path_buf(), "cannot read"),
    ] {
        let output = callplane(&["dtmf", "detect", &path_str(file)]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{}: {stderr}",
            file.display()
        );
        assert!(output.stdout.is_empty(), "{}", file.display());
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&path_str(file)) && stderr.contains(reason),
            "{stderr}"
        );
    }
}

#[test]
fn a_wav_without_tones_prints_an_empty_line() {
    require("sox");
    let dir = temp_dir();
    let file = dir.path().join("silence.wav");
    run(
        "sox",
        &[
            "-n",
            "-r",
            "16000",
            "-c",
            "2",
            &path_str(&file),
            "trim",
            "0",
            "1",
        ],
    );
    assert_eq!(detect(&file), "");
}
