//! Writer tests: real files, read back with hound (WAV) and sox (MP3, Ogg Opus).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::*;

/// `seconds` of a 440 Hz tone at 8 kHz, `channels` interleaved (right half as loud).
fn tone(seconds: f64, channels: usize) -> Vec<i16> {
    let n = (seconds * 8000.0) as usize;
    let mut out = Vec::with_capacity(n * channels);
    for i in 0..n {
        let s = ((i as f64) * 2.0 * std::f64::consts::PI * 440.0 / 8000.0).sin() * 8000.0;
        out.push(s as i16);
        if channels == 2 {
            out.push((s / 2.0) as i16);
        }
    }
    out
}

fn record(dir: &Path, file: &str, format: RecordingFormat, channels: u16, samples: &[i16]) {
    let (writer, sink) = RecordingWriter::start(dir).expect("writer");
    let file: Arc<str> = file.into();
    sink.submit(RecordingWork::Open {
        file: file.clone(),
        format,
        channels,
    });
    for chunk in samples.chunks(1600 * usize::from(channels)) {
        sink.submit(RecordingWork::Append {
            file: file.clone(),
            samples: chunk.to_vec(),
        });
    }
    sink.submit(RecordingWork::Close {
        file,
        metadata: None,
    });
    let stats = sink.stats().clone();
    drop(sink);
    writer.finish();
    assert_eq!(stats.failed.load(Ordering::Relaxed), 0);
    assert_eq!(stats.closed.load(Ordering::Relaxed), 1);
}

/// What `sox --i` says of a file: (channels, rate, seconds).
fn sox_info(path: &Path) -> (u32, u32, f64) {
    let ask = |flag: &str| {
        let out = Command::new("sox")
            .args(["--i", flag])
            .arg(path)
            .output()
            .expect("sox runs");
        assert!(
            out.status.success(),
            "sox --i {flag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    (
        ask("-c").parse().expect("channels"),
        ask("-r").parse().expect("rate"),
        ask("-D").parse().expect("seconds"),
    )
}

/// The RMS level sox measures after decoding the whole file.
fn sox_rms(path: &Path) -> f64 {
    let out = Command::new("sox")
        .arg(path)
        .args(["-n", "stat"])
        .output()
        .expect("sox runs");
    let text = String::from_utf8_lossy(&out.stderr);
    let line = text
        .lines()
        .find(|l| l.starts_with("RMS     amplitude"))
        .unwrap_or_else(|| panic!("no RMS in {text}"));
    line.rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("a number")
}

#[test]
fn wav_reads_back_sample_for_sample_with_mode_0640() {
    let dir = tempfile::tempdir().expect("tempdir");
    let samples = tone(1.3, 1);
    record(
        dir.path(),
        "recordings/a.wav",
        RecordingFormat::Wav,
        1,
        &samples,
    );
    let path = dir.path().join("recordings/a.wav");
    let mode = std::fs::metadata(&path).expect("file").permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    let reader = hound::WavReader::open(&path).expect("valid wav");
    assert_eq!(reader.spec().sample_rate, 8000);
    assert_eq!(reader.spec().channels, 1);
    let read: Vec<i16> = reader.into_samples().map(|s| s.expect("sample")).collect();
    assert_eq!(read, samples);
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        44 + 2 * samples.len() as u64
    );
}

#[test]
fn dual_channel_wav_keeps_left_and_right() {
    let dir = tempfile::tempdir().expect("tempdir");
    let samples = tone(0.5, 2);
    record(
        dir.path(),
        "recordings/d.wav",
        RecordingFormat::Wav,
        2,
        &samples,
    );
    let reader = hound::WavReader::open(dir.path().join("recordings/d.wav")).expect("valid");
    assert_eq!(reader.spec().channels, 2);
    let read: Vec<i16> = reader.into_samples().map(|s| s.unwrap()).collect();
    assert_eq!(read, samples);
}

#[test]
fn mp3_decodes_with_sox_to_the_length_and_level_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    record(
        dir.path(),
        "recordings/m.mp3",
        RecordingFormat::Mp3,
        1,
        &tone(2.0, 1),
    );
    let path = dir.path().join("recordings/m.mp3");
    let (channels, rate, seconds) = sox_info(&path);
    assert_eq!((channels, rate), (1, 8000));
    assert!((seconds - 2.0).abs() < 0.2, "{seconds} s");
    let rms = sox_rms(&path);
    // 8000/32768 peak: RMS about 0.17.
    assert!((0.1..0.25).contains(&rms), "rms {rms}");
}

/// Decodes an Ogg Opus file with opusdec (Debian's sox has no Opus
/// handler) to 8 kHz WAV; its samples.
fn opusdec(path: &Path) -> (u16, Vec<i16>) {
    let wav = path.with_extension("decoded.wav");
    let out = Command::new("opusdec")
        .args(["--quiet", "--rate", "8000"])
        .arg(path)
        .arg(&wav)
        .output()
        .expect("opusdec runs (opus-tools)");
    assert!(
        out.status.success(),
        "opusdec: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reader = hound::WavReader::open(&wav).expect("opusdec wrote a wav");
    let channels = reader.spec().channels;
    (
        channels,
        reader.into_samples().map(|s| s.expect("sample")).collect(),
    )
}

fn rms(samples: &[i16]) -> f64 {
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len().max(1) as f64).sqrt() / 32768.0
}

#[test]
fn ogg_opus_decodes_with_opusdec_to_the_length_and_level_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    record(
        dir.path(),
        "recordings/o.ogg",
        RecordingFormat::Ogg,
        1,
        &tone(2.0, 1),
    );
    let path = dir.path().join("recordings/o.ogg");
    let head = std::fs::read(&path).expect("file");
    assert_eq!(&head[..4], b"OggS");
    assert_eq!(&head[28..36], b"OpusHead");
    let (channels, samples) = opusdec(&path);
    assert_eq!(channels, 1);
    let seconds = samples.len() as f64 / 8000.0;
    assert!((seconds - 2.0).abs() < 0.05, "{seconds} s");
    let level = rms(&samples);
    assert!((0.1..0.25).contains(&level), "rms {level}");
}

#[test]
fn dual_channel_ogg_opus_keeps_two_channels() {
    let dir = tempfile::tempdir().expect("tempdir");
    record(
        dir.path(),
        "recordings/s.ogg",
        RecordingFormat::Ogg,
        2,
        &tone(1.0, 2),
    );
    let (channels, samples) = opusdec(&dir.path().join("recordings/s.ogg"));
    assert_eq!(channels, 2);
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    assert!(rms(&left) > 1.5 * rms(&right), "right is half as loud");
}

#[test]
fn an_unfinished_wav_is_valid_after_each_flush() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("w.wav");
    let mut encoder = wav::WavEncoder::new(create(&file).expect("create"), 1).expect("wav");
    encoder.append(&tone(0.6, 1)).expect("append");
    encoder.flush().expect("flush");
    // Read while the writer still holds the file, as after a crash.
    let reader = hound::WavReader::open(&file).expect("valid while open");
    assert_eq!(reader.duration(), 4800);
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(
        u32::from_le_bytes(bytes[4..8].try_into().unwrap()),
        36 + 9600
    );
    drop(encoder);
}

#[test]
fn paths_that_climb_out_or_are_absolute_are_refused_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (writer, sink) = RecordingWriter::start(dir.path()).expect("writer");
    for file in ["../x.wav", "/tmp/x.wav", "a/../../x.wav", ""] {
        sink.submit(RecordingWork::Open {
            file: file.into(),
            format: RecordingFormat::Wav,
            channels: 1,
        });
    }
    let stats = sink.stats().clone();
    drop(sink);
    writer.finish();
    assert_eq!(stats.failed.load(Ordering::Relaxed), 4);
    assert!(!dir.path().parent().unwrap().join("x.wav").exists());
}

#[test]
fn an_unwritable_directory_fails_the_recording_with_a_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("recordings"), b"a file, not a directory").unwrap();
    let (writer, sink) = RecordingWriter::start(dir.path()).expect("writer");
    sink.submit(RecordingWork::Open {
        file: "recordings/x.wav".into(),
        format: RecordingFormat::Wav,
        channels: 1,
    });
    sink.submit(RecordingWork::Append {
        file: "recordings/x.wav".into(),
        samples: vec![1; 1600],
    });
    let stats = sink.stats().clone();
    drop(sink);
    writer.finish();
    assert_eq!(stats.failed.load(Ordering::Relaxed), 1);
    assert_eq!(stats.opened.load(Ordering::Relaxed), 0);
}

#[test]
fn a_full_channel_drops_and_counts_instead_of_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (writer, sink) = RecordingWriter::with_capacity(dir.path(), 1).expect("writer");
    for _ in 0..10_000 {
        sink.submit(RecordingWork::Append {
            file: "recordings/none.wav".into(),
            samples: Vec::new(),
        });
    }
    let dropped = sink.stats().dropped.load(Ordering::Relaxed);
    drop(sink);
    writer.finish();
    assert!(
        dropped > 0,
        "a one-slot channel cannot take 10 000 items at once"
    );
}
