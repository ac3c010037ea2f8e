//! Recording end to end: a sipp caller streams a 440 Hz tone (a pcap the test
//! writes) to a flow that records the call, then hangs up; the WAV under the
//! data directory is read with hound and sox. The crash test kills the
//! server with SIGKILL mid-recording and finds the file playable, missing at
//! most about a second.
//!
//! Needs sipp with pcap playback (root) and sox: `scripts/install-test-deps.sh`.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::pcap::write_tone_pcap;
use common::{for_each_backend, Backend, Server, ServerOptions, Sipp, TestDir};

/// Tone packets sipp plays (20 ms each): 3 s.
const TONE_PACKETS: usize = 150;
/// How long the caller stays after the ACK before its BYE.
const HOLD_MS: u64 = 4_500;

/// A server whose route 1000 runs `flow`.
fn options(dir: &Path, flow: &str) -> ServerOptions {
    let flows = dir.join("flows");
    fs::create_dir_all(&flows).expect("flows dir");
    fs::write(flows.join("flow.json"), flow).expect("write the flow");
    ServerOptions {
        config: Some(format!(
            "[flows]\ndir = \"{}\"\n[routing]\ndefault_flow = \"\"\n\
             [[routing.route]]\nnumber = \"1000\"\nflow = \"rec\"\n",
            flows.display()
        )),
        ..ServerOptions::default()
    }
}

/// Answer, record as `format`, hold the line until the caller hangs up.
fn record_flow(format: &str) -> String {
    format!(
        r#"{{ "id": "rec", "name": "record the caller", "version": 1, "actions": [
  {{ "type": "answer" }},
  {{ "id": "rec", "type": "recording_start", "option": {{ "format": "{format}" }} }},
  {{ "id": "wait", "type": "sleep", "option": {{ "duration": 30000 }} }},
  {{ "id": "bye", "type": "hangup" }}
] }}"#
    )
}

/// The one file in `<data>/recordings/`, once it exists.
fn wait_for_recording(data: &Path, timeout: Duration) -> PathBuf {
    let dir = data.join("recordings");
    let deadline = Instant::now() + timeout;
    loop {
        let found: Vec<PathBuf> = fs::read_dir(&dir)
            .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        if let [one] = found.as_slice() {
            return one.clone();
        }
        assert!(
            found.len() <= 1 && Instant::now() < deadline,
            "expected one recording in {}: {found:?}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The samples of a WAV file, read with hound.
fn wav_samples(path: &Path) -> (hound::WavSpec, Vec<i16>) {
    let reader = hound::WavReader::open(path)
        .unwrap_or_else(|err| panic!("{} is not a valid WAV: {err}", path.display()));
    let spec = reader.spec();
    let samples = reader
        .into_samples()
        .map(|s| s.expect("a sample"))
        .collect();
    (spec, samples)
}

/// The length sox reads from a file, in seconds.
fn sox_seconds(path: &Path) -> f64 {
    let out = Command::new("sox")
        .args(["--i", "-D"])
        .arg(path)
        .output()
        .expect("sox runs");
    assert!(
        out.status.success(),
        "sox cannot read {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("sox prints seconds")
}

/// 20 ms frames whose mean absolute level is over 1000 (the tone is about 8000).
fn loud_frames(samples: &[i16]) -> usize {
    samples
        .chunks(160)
        .filter(|f| f.iter().map(|s| u64::from(s.unsigned_abs())).sum::<u64>() / 160 > 1000)
        .count()
}

fn records_the_callers_tone_to_a_wav(backend: Backend) {
    let dir = TestDir::new(&format!("rec-{}", backend.cli_value()));
    let pcap = dir.path().join("tone.pcap");
    write_tone_pcap(&pcap, TONE_PACKETS, 0x5EC0_0001, 100);
    let server = Server::start(
        backend,
        dir.path(),
        &options(dir.path(), &record_flow("wav")),
    );
    let run = Sipp::new("uac_record.xml", "uac_record", dir.path())
        .target(server.sip_addr())
        .key("audio_pcap", pcap.display().to_string())
        .set("hold_ms", HOLD_MS.to_string())
        .timeout(Duration::from_secs(20))
        .run();
    run.assert_passed(1);
    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    let recording = &cdrs[0].json["recordings"][0];
    let file = recording["file"]
        .as_str()
        .unwrap_or_else(|| panic!("the CDR names the recording: {}", cdrs[0].json));
    assert!(
        file.starts_with("recordings/") && file.ends_with(".wav"),
        "{file}"
    );
    let path = dir.path().join("data").join(file);
    // The writer closes the file just after the call ends.
    let deadline = Instant::now() + Duration::from_secs(5);
    while fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
        < recording["size_bytes"].as_u64().unwrap_or(1)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (spec, samples) = wav_samples(&path);
    assert_eq!((spec.sample_rate, spec.channels), (8000, 1));
    let seconds = samples.len() as f64 / 8000.0;
    let cdr_ms = recording["duration_ms"].as_u64().expect("duration_ms");
    assert_eq!(
        samples.len() as u64,
        cdr_ms * 8,
        "the CDR's duration is the file's"
    );
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        recording["size_bytes"].as_u64().expect("size_bytes"),
        "the CDR's size is the file's"
    );
    assert_eq!(recording["end_reason"], "hangup");
    // Recorded from the answer to the BYE: the hold, give or take the set-up.
    assert!(
        (HOLD_MS as f64 / 1000.0 - 0.6..HOLD_MS as f64 / 1000.0 + 0.6).contains(&seconds),
        "{seconds} s recorded for a {HOLD_MS} ms call\n{}",
        server.log()
    );
    // The tone's 3 s are there (the jitter buffer's concealment may add a frame or two).
    let loud = loud_frames(&samples);
    assert!(
        (TONE_PACKETS - 10..=TONE_PACKETS + 5).contains(&loud),
        "{loud} loud frames for {TONE_PACKETS} tone packets"
    );
    let sox = sox_seconds(&path);
    assert!(
        (sox - seconds).abs() < 0.01,
        "sox reads {sox} s, hound {seconds} s"
    );
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(&path).unwrap().permissions().mode() & 0o777
    };
    assert_eq!(mode, 0o640);
}

fn kill_9_mid_recording_leaves_a_playable_file(backend: Backend) {
    let dir = TestDir::new(&format!("rec-kill-{}", backend.cli_value()));
    let pcap = dir.path().join("tone.pcap");
    write_tone_pcap(&pcap, 400, 0x5EC0_0002, 100);
    let mut server = Server::start(
        backend,
        dir.path(),
        &options(dir.path(), &record_flow("wav")),
    );
    let sipp = Sipp::new("uac_record.xml", "uac_record_kill", dir.path())
        .target(server.sip_addr())
        .key("audio_pcap", pcap.display().to_string())
        .set("hold_ms", "8000")
        .timeout(Duration::from_secs(12));
    let caller = std::thread::spawn(move || sipp.run());
    let data = dir.path().join("data");
    let path = wait_for_recording(&data, Duration::from_secs(10));
    let opened = Instant::now();
    std::thread::sleep(Duration::from_millis(3_000));
    server.signal(libc::SIGKILL);
    let recorded_for = opened.elapsed();
    let _ = server.stop();
    let _ = caller.join();
    let (spec, samples) = wav_samples(&path);
    assert_eq!(spec.sample_rate, 8000);
    let kept = Duration::from_millis(samples.len() as u64 / 8);
    let lost = recorded_for.saturating_sub(kept);
    eprintln!(
        "kill -9 after {} ms of recording: {} ms in the file, {} ms lost",
        recorded_for.as_millis(),
        kept.as_millis(),
        lost.as_millis()
    );
    assert!(
        lost <= Duration::from_millis(1_200),
        "{} ms lost of {} ms",
        lost.as_millis(),
        recorded_for.as_millis()
    );
    assert!(loud_frames(&samples) > 50, "the tone is in what was kept");
    let sox = sox_seconds(&path);
    assert!((sox - kept.as_secs_f64()).abs() < 0.01, "sox reads {sox} s");
}

for_each_backend! {
    records_wav => records_the_callers_tone_to_a_wav;
    survives_kill_9 => kill_9_mid_recording_leaves_a_playable_file;
}
