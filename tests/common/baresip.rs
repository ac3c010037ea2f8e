//! baresip (Debian `baresip-core`) as a real softphone peer: run headless with
//! its own config directory (`-f DIR`), one account, no sound card (its audio
//! source is a WAV file of a steady tone through `aufile`, its player the
//! `aubridge` sink, and `sndfile` dumps the audio it decodes to a WAV), and
//! driven over its `ctrl_tcp` module (netstring-framed JSON commands and
//! events): dial, press a key (`sndcode`: an RFC 4733 telephone-event), hang
//! up, wait for the call to close. Optional SRTP through its `srtp` module
//! (`mediaenc srtp` / `srtp-mand`: SDES keys in `a=crypto`).
//!
//! Every wait has a deadline; the process is killed when the value is
//! dropped, and its log is printed when the test fails.

use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::ports;

/// Where Debian installs baresip's modules.
const MODULE_PATH: &str = "/usr/lib/baresip/modules";
/// How long baresip may take to open its control port.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one control command may take to be answered.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// Seconds of tone in the audio source file (longer than any test call).
const TONE_SECONDS: u32 = 60;
/// The tone baresip sends, in Hz.
pub const TONE_HZ: f64 = 440.0;

/// Fails the test with an install hint when baresip or its modules are missing.
pub fn require_baresip() {
    super::require_tool("baresip", "-h");
    for module in [
        "aufile.so",
        "aubridge.so",
        "sndfile.so",
        "ctrl_tcp.so",
        "srtp.so",
    ] {
        assert!(
            Path::new(MODULE_PATH).join(module).exists(),
            "baresip module {module} is missing: run scripts/install-test-deps.sh"
        );
    }
}

/// How baresip encrypts media (`mediaenc` of its account).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaEnc {
    /// Plain RTP/AVP.
    None,
    /// `srtp-mand`: RTP/SAVP with SDES keys; nothing else accepted.
    SrtpMandatory,
}

/// A running baresip.
pub struct Baresip {
    child: Option<Child>,
    control: TcpStream,
    /// Bytes read from the control connection not yet parsed.
    pending: Vec<u8>,
    /// Events received and not yet waited for.
    events: Vec<Value>,
    dir: PathBuf,
    log_path: PathBuf,
    next_token: u32,
    sip_port: u16,
}

impl Baresip {
    /// Writes the config under `work_dir/baresip` and starts baresip; returns
    /// once its control port accepts a connection.
    pub fn start(work_dir: &Path, media: MediaEnc) -> Baresip {
        Baresip::start_as(work_dir, media, "caller", TONE_HZ, false)
    }

    /// [`Baresip::start`] for a phone of its own: config under
    /// `work_dir/NAME`, the account `NAME`, sending a tone of `tone_hz`, and
    /// with `auto_answer` answering every call at once.
    pub fn start_as(
        work_dir: &Path,
        media: MediaEnc,
        name: &str,
        tone_hz: f64,
        auto_answer: bool,
    ) -> Baresip {
        require_baresip();
        let dir = work_dir.join(if name == "caller" { "baresip" } else { name });
        fs::create_dir_all(&dir).expect("create the baresip dir");
        let tone = dir.join("tone.wav");
        write_tone(&tone, tone_hz);
        // baresip listens for SIP on UDP and TCP at `sip_port` and for TLS on
        // the next port; its control port follows.
        let sip_port = free_tcp_block(3);
        let control_port = sip_port + 2;
        let rtp = ports::udp_port_block(9);
        let rtp_min = rtp + rtp % 2;
        let config = format!(
            "poll_method epoll\n\
             sip_listen 127.0.0.1:{sip_port}\n\
             rtp_ports {rtp_min}-{rtp_max}\n\
             audio_source aufile,{tone}\n\
             audio_player aubridge,sink\n\
             audio_alert aubridge,alert\n\
             module_path {MODULE_PATH}\n\
             module g711.so\n\
             module aufile.so\n\
             module aubridge.so\n\
             module sndfile.so\n\
             module srtp.so\n\
             module_app account.so\n\
             module_app menu.so\n\
             module_app ctrl_tcp.so\n\
             ctrl_tcp_listen 127.0.0.1:{control_port}\n\
             snd_path {snd}\n",
            rtp_max = rtp_min + 7,
            tone = tone.display(),
            snd = dir.display(),
        );
        fs::write(dir.join("config"), config).expect("write the baresip config");
        let mediaenc = match media {
            MediaEnc::None => "",
            MediaEnc::SrtpMandatory => ";mediaenc=srtp-mand",
        };
        fs::write(
            dir.join("accounts"),
            format!(
                "<sip:{name}@127.0.0.1:{sip_port}>;regint=0;answermode={answer}{mediaenc}\n",
                answer = if auto_answer { "auto" } else { "manual" },
            ),
        )
        .expect("write the baresip accounts");
        fs::write(dir.join("contacts"), "").expect("write the baresip contacts");

        let log_path = dir.join("baresip.log");
        let log = File::create(&log_path).expect("create the baresip log");
        let log_err = log.try_clone().expect("clone the baresip log handle");
        let mut command = Command::new("baresip");
        command
            .arg("-f")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        let child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start baresip: {err}"));
        let mut child = Some(child);
        let control = connect_control(control_port, &mut child, &log_path);
        control
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("set the control timeout");
        Baresip {
            child,
            control,
            pending: Vec::new(),
            events: Vec::new(),
            dir,
            log_path,
            next_token: 1,
            sip_port,
        }
    }

    /// The SIP URI that reaches this phone.
    pub fn uri(&self, user: &str) -> String {
        format!("sip:{user}@127.0.0.1:{}", self.sip_port)
    }

    /// Everything baresip logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Runs a long command (`dial`, `sndcode`, `hangup`…) and returns its
    /// response; fails the test when it is refused or unanswered.
    pub fn command(&mut self, command: &str, params: &str) -> Value {
        let token = format!("t{}", self.next_token);
        self.next_token += 1;
        let body = json!({ "command": command, "params": params, "token": token }).to_string();
        let frame = format!("{}:{body},", body.len());
        self.control
            .write_all(frame.as_bytes())
            .unwrap_or_else(|err| panic!("baresip control write: {err}"));
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            if let Some(message) = self.read_message(deadline) {
                if message.get("response").is_some() {
                    if message["token"] == token.as_str() {
                        assert_eq!(
                            message["ok"], true,
                            "baresip refused {command} {params}: {message}"
                        );
                        return message;
                    }
                } else {
                    self.events.push(message);
                }
                continue;
            }
            panic!("baresip did not answer {command} {params} within {COMMAND_TIMEOUT:?}");
        }
    }

    /// Calls `uri`.
    pub fn dial(&mut self, uri: &str) {
        self.command("dial", uri);
    }

    /// Presses `key` in the current call (RFC 4733 telephone-event).
    pub fn press(&mut self, key: char) {
        self.command("sndcode", &key.to_string());
    }

    /// Hangs the current call up.
    pub fn hangup(&mut self) {
        self.command("hangup", "");
    }

    /// Waits for an event of `kind` (`CALL_ESTABLISHED`, `CALL_CLOSED`…) and
    /// returns it; fails the test when none comes within `timeout`.
    pub fn wait_event(&mut self, kind: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(at) = self.events.iter().position(|event| event["type"] == kind) {
                return self.events.remove(at);
            }
            match self.read_message(deadline) {
                Some(message) => self.events.push(message),
                None => panic!(
                    "baresip reported no {kind} within {timeout:?}; events: {:?}",
                    self.events
                ),
            }
        }
    }

    /// The audio baresip decoded from the call (its `sndfile` dump), once the
    /// call is over: `None` when no dump was written.
    pub fn decoded_wav(&self) -> Option<PathBuf> {
        let entries = fs::read_dir(&self.dir).ok()?;
        entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .find(|path| {
                path.file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| name.starts_with("dump-") && name.ends_with("-dec.wav"))
            })
    }

    /// Quits baresip (so its WAV dumps are complete) and waits for it.
    pub fn quit(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let body = json!({ "command": "quit", "params": "", "token": "quit" }).to_string();
        let _ = self
            .control
            .write_all(format!("{}:{body},", body.len()).as_bytes());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// The next complete control message, or `None` at `deadline`.
    fn read_message(&mut self, deadline: Instant) -> Option<Value> {
        loop {
            if let Some(message) = self.take_frame() {
                return Some(message);
            }
            if Instant::now() >= deadline {
                return None;
            }
            let mut chunk = [0u8; 4096];
            match self.control.read(&mut chunk) {
                Ok(0) => {
                    thread::sleep(Duration::from_millis(20));
                }
                Ok(len) => self.pending.extend_from_slice(&chunk[..len]),
                Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(err) => panic!("baresip control read: {err}"),
            }
        }
    }

    /// One netstring (`LEN:JSON,`) off the front of `pending`, parsed.
    fn take_frame(&mut self) -> Option<Value> {
        let colon = self.pending.iter().position(|byte| *byte == b':')?;
        let len: usize = std::str::from_utf8(&self.pending[..colon])
            .ok()?
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("baresip control: bad netstring {:?}", self.pending));
        let end = colon + 1 + len;
        if self.pending.len() < end + 1 {
            return None;
        }
        let message = serde_json::from_slice(&self.pending[colon + 1..end]).unwrap_or_else(|err| {
            panic!(
                "baresip control: not JSON ({err}): {:?}",
                &self.pending[..end]
            )
        });
        self.pending.drain(..=end);
        Some(message)
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if thread::panicking() {
            eprintln!(
                "===== baresip log ({}) =====\n{}\n===== end of baresip log =====",
                self.log_path.display(),
                self.log()
            );
        }
    }
}

/// The first of `len` consecutive ports on 127.0.0.1 free for UDP and TCP.
fn free_tcp_block(len: u16) -> u16 {
    for _ in 0..100 {
        let first = ports::udp_port_block(len);
        let all_free =
            (first..first + len).all(|port| TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok());
        if all_free {
            return first;
        }
    }
    panic!("no {len} consecutive free TCP ports for baresip");
}

/// Connects to the control port, retrying until baresip has opened it.
fn connect_control(port: u16, child: &mut Option<Child>, log: &Path) -> TcpStream {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(process) = child.as_mut() {
            if let Ok(Some(status)) = process.try_wait() {
                panic!(
                    "baresip exited during startup ({status}):\n{}",
                    fs::read_to_string(log).unwrap_or_default()
                );
            }
        }
        if let Ok(stream) = TcpStream::connect_timeout(&address, Duration::from_millis(200)) {
            return stream;
        }
        if Instant::now() >= deadline {
            if let Some(mut process) = child.take() {
                let _ = process.kill();
                let _ = process.wait();
            }
            panic!(
                "baresip opened no control port {port} within {START_TIMEOUT:?}:\n{}",
                fs::read_to_string(log).unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// A 16-bit 8 kHz mono WAV of a steady tone at about −10 dBFS: the audio
/// baresip sends (aufile needs the codec's rate).
fn write_tone(path: &Path, tone_hz: f64) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).expect("create the tone WAV");
    for n in 0..8000 * TONE_SECONDS {
        let phase = 2.0 * std::f64::consts::PI * tone_hz * f64::from(n) / 8000.0;
        let sample = (phase.sin() * 10_000.0) as i16;
        writer.write_sample(sample).expect("write the tone WAV");
    }
    writer.finalize().expect("finish the tone WAV");
}

/// Reads a WAV into samples (any integer depth, first channel); fails the
/// test when it does not decode.
pub fn read_wav(path: &Path) -> (u32, Vec<i16>) {
    let mut reader = hound::WavReader::open(path)
        .unwrap_or_else(|err| panic!("{} does not decode as WAV: {err}", path.display()));
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let samples: Vec<i16> = reader
        .samples::<i16>()
        .map(|sample| sample.unwrap_or_else(|err| panic!("{}: {err}", path.display())))
        .step_by(channels)
        .collect();
    (spec.sample_rate, samples)
}

/// The RMS level of `samples` in dBFS (−inf for digital silence).
pub fn rms_dbfs(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return f64::NEG_INFINITY;
    }
    let sum: f64 = samples.iter().map(|s| f64::from(*s).powi(2)).sum();
    let rms = (sum / samples.len() as f64).sqrt();
    20.0 * (rms / 32768.0).log10()
}
