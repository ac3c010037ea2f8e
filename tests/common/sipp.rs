//! Running a sipp scenario from `tests/sipp/` against an address: its own SIP,
//! media and control ports, traces into the test's directory, a hard deadline,
//! and the call counts from its statistics file.

use std::fs::{self, File};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::ports;

/// Extra time past sipp's own `-timeout` before the harness kills it.
const KILL_GRACE: Duration = Duration::from_secs(15);
/// Most bytes of one log shown in a failure message.
const SHOWN_LOG_BYTES: usize = 12_000;

/// The scenario file `name` in `tests/sipp/`.
pub fn scenario_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("sipp")
        .join(name)
}

/// The RFC 4733 pcap that sipp ships for `digit` ('0'..'9', '*', '#').
pub fn dtmf_pcap(digit: char) -> PathBuf {
    let stem = match digit {
        '*' => "star".to_string(),
        '#' => "pound".to_string(),
        d if d.is_ascii_digit() => d.to_string(),
        other => panic!("no DTMF pcap for {other:?}"),
    };
    let path = PathBuf::from(format!("/usr/share/sip-tester/dtmf_2833_{stem}.pcap"));
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-test-deps.sh (Debian package sip-tester)",
        path.display()
    );
    path
}

/// Fails the test with an install hint when sipp is not on PATH.
pub fn require_sipp() {
    super::require_tool("sipp", "-v");
}

/// One sipp run being set up.
pub struct Sipp {
    name: String,
    scenario: PathBuf,
    work_dir: PathBuf,
    target: Option<SocketAddr>,
    local_port: u16,
    media_port: u16,
    control_port: u16,
    args: Vec<String>,
    total_calls: u64,
    timeout: Duration,
}

impl Sipp {
    /// sipp running `scenario` (a file in `tests/sipp/`), with its files named
    /// `<name>_*` in `work_dir`. One call, 30 s timeout, dialling 1000; a caller
    /// scenario also needs [`Sipp::target`].
    pub fn new(scenario: &str, name: &str, work_dir: &Path) -> Sipp {
        require_sipp();
        let scenario_file = scenario_path(scenario);
        assert!(
            scenario_file.exists(),
            "no scenario {}",
            scenario_file.display()
        );
        // sipp binds the media port and media port + 2; + 4 is the audio port some
        // scenarios advertise, where the test listens, and + 5 its RTCP port.
        let media_port = ports::udp_port_block(6);
        Sipp {
            name: name.to_string(),
            scenario: scenario_file,
            work_dir: work_dir.to_path_buf(),
            target: None,
            local_port: ports::udp_port(),
            media_port,
            control_port: ports::udp_port(),
            args: Vec::new(),
            total_calls: 1,
            timeout: Duration::from_secs(30),
        }
    }

    /// Over TCP, every call on one connection (`-t t1`); the scenario's
    /// `[transport]` becomes `TCP`.
    pub fn tcp(self) -> Sipp {
        self.arg("-t").arg("t1")
    }

    /// The address to call.
    pub fn target(mut self, target: SocketAddr) -> Sipp {
        self.target = Some(target);
        self
    }

    /// sipp's own SIP address (`-p`): where a stand-in server scenario listens.
    pub fn sip_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.local_port))
    }

    /// sipp's media port (`-mp`, `[media_port]`).
    pub fn media_port(&self) -> u16 {
        self.media_port
    }

    /// The audio port that uac_dtmf.xml and standin_answer.xml advertise in their
    /// SDP (`[media_port+4]`): the test listens there.
    pub fn audio_port(&self) -> u16 {
        self.media_port + 4
    }

    /// The RTCP port of [`Sipp::audio_port`] (RFC 3550: the next one), where
    /// callplane sends its reports; sipp itself does no RTCP.
    pub fn rtcp_port(&self) -> u16 {
        self.audio_port() + 1
    }

    /// `-key name value`: a `[name]` keyword in the scenario.
    pub fn key(mut self, name: &str, value: impl AsRef<str>) -> Sipp {
        self.args
            .extend(["-key".into(), name.into(), value.as_ref().into()]);
        self
    }

    /// `-set name value`: a global variable `$name` in the scenario.
    pub fn set(mut self, name: &str, value: impl AsRef<str>) -> Sipp {
        self.args
            .extend(["-set".into(), name.into(), value.as_ref().into()]);
        self
    }

    /// Any other sipp argument.
    pub fn arg(mut self, arg: impl AsRef<str>) -> Sipp {
        self.args.push(arg.as_ref().into());
        self
    }

    /// `total` calls (`-m`), at most `limit` at once (`-l`), `rate` new calls a second (`-r`).
    pub fn calls(mut self, total: u64, limit: u64, rate: u64) -> Sipp {
        self.total_calls = total;
        self.args.extend([
            "-l".into(),
            limit.to_string(),
            "-r".into(),
            rate.to_string(),
        ]);
        self
    }

    /// sipp's own global timeout (`-timeout`, failing the run when reached).
    pub fn timeout(mut self, timeout: Duration) -> Sipp {
        self.timeout = timeout;
        self
    }

    /// An injection file (`-inf`): "SEQUENTIAL" then one line of fields per call.
    pub fn injection(self, lines: &[String]) -> Sipp {
        let path = self.work_dir.join(format!("{}_injection.csv", self.name));
        let mut text = String::from("SEQUENTIAL\n");
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
        fs::write(&path, text).expect("write the injection file");
        let path = path.display().to_string();
        self.arg("-inf").arg(path)
    }

    /// Runs sipp to the end (or kills it past the deadline) and collects the outcome.
    pub fn run(self) -> SippRun {
        let file = |suffix: &str| self.work_dir.join(format!("{}_{suffix}", self.name));
        let run = SippRun {
            name: self.name.clone(),
            command: String::new(),
            exit: None,
            stdout: file("stdout.log"),
            stderr: file("stderr.log"),
            errors: file("errors.log"),
            messages: file("messages.log"),
            stats: file("stats.csv"),
            screen: file("screen.log"),
            successful: None,
            failed: None,
        };
        let timeout_secs = self.timeout.as_secs().max(1);
        let mut command = Command::new("sipp");
        command
            .arg("-sf")
            .arg(&self.scenario)
            .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
            .args(["-p", &self.local_port.to_string()])
            .args(["-mp", &self.media_port.to_string()])
            .args(["-cp", &self.control_port.to_string()])
            .args(["-s", "1000"])
            .args(["-m", &self.total_calls.to_string()])
            .args(["-timeout", &format!("{timeout_secs}s"), "-timeout_error"])
            .arg("-nostdin")
            .arg("-trace_err")
            .arg("-error_file")
            .arg(&run.errors)
            .arg("-trace_msg")
            .arg("-message_file")
            .arg(&run.messages)
            .arg("-trace_stat")
            .arg("-stf")
            .arg(&run.stats)
            .args(["-fd", "1"])
            .arg("-trace_screen")
            .arg("-screen_file")
            .arg(&run.screen)
            .args(&self.args)
            .args(self.target.map(|target| target.to_string()))
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                File::create(&run.stdout).expect("sipp stdout file"),
            ))
            .stderr(Stdio::from(
                File::create(&run.stderr).expect("sipp stderr file"),
            ));
        let mut run = run;
        run.command = format!("{command:?}");
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start sipp: {err}"));
        let deadline = Instant::now() + self.timeout + KILL_GRACE;
        run.exit = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
                Ok(None) | Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
            }
        };
        (run.successful, run.failed) = final_call_counts(&run.stats);
        run
    }
}

/// What a finished sipp run left behind.
#[derive(Debug)]
pub struct SippRun {
    pub name: String,
    pub command: String,
    /// `None` when the harness had to kill it.
    pub exit: Option<ExitStatus>,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    pub errors: PathBuf,
    pub messages: PathBuf,
    pub stats: PathBuf,
    pub screen: PathBuf,
    /// Cumulative successful calls from the last statistics line.
    pub successful: Option<u64>,
    /// Cumulative failed calls from the last statistics line.
    pub failed: Option<u64>,
}

impl SippRun {
    /// Asserts sipp exited 0 with `calls` successful calls and none failed.
    pub fn assert_passed(&self, calls: u64) {
        let exited_ok = self.exit.is_some_and(|status| status.success());
        assert!(
            exited_ok && self.successful == Some(calls) && self.failed == Some(0),
            "sipp {} did not pass {calls} call(s)\n{}",
            self.name,
            self.diagnostics()
        );
    }

    /// The SIP messages sipp sent and received.
    pub fn messages_log(&self) -> String {
        fs::read_to_string(&self.messages).unwrap_or_default()
    }

    /// The messages sipp received, each as its text.
    pub fn received_messages(&self) -> Vec<String> {
        let log = self.messages_log();
        let mut received = Vec::new();
        let mut current: Option<String> = None;
        for line in log.lines() {
            let header = line.starts_with("----------------------------------------------- ")
                || line.contains(" message received [")
                || line.contains(" message sent (");
            if header {
                if let Some(done) = current.take() {
                    received.push(done);
                }
                if line.contains(" message received [") {
                    current = Some(String::new());
                }
                continue;
            }
            if let Some(text) = current.as_mut() {
                text.push_str(line);
                text.push('\n');
            }
        }
        received.extend(current);
        received
    }

    /// Everything useful to tell why the run failed.
    pub fn diagnostics(&self) -> String {
        let mut out = format!(
            "command: {}\nexit: {}\nsuccessful calls: {:?}, failed calls: {:?}\n",
            self.command,
            match self.exit {
                Some(status) => status.to_string(),
                None => "killed by the harness after its deadline".to_string(),
            },
            self.successful,
            self.failed
        );
        for (what, path) in [
            ("stderr", &self.stderr),
            ("errors", &self.errors),
            ("final screen", &self.screen),
            ("messages", &self.messages),
        ] {
            let text = fs::read_to_string(path).unwrap_or_default();
            if text.trim().is_empty() {
                continue;
            }
            out.push_str(&format!("----- sipp {what} ({}) -----\n", path.display()));
            out.push_str(tail(&text, SHOWN_LOG_BYTES));
            out.push('\n');
        }
        out
    }
}

/// The last `max` bytes of `text` (cut on a character boundary).
fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// SuccessfulCall(C) and FailedCall(C) from the last line of sipp's statistics CSV.
fn final_call_counts(stats: &Path) -> (Option<u64>, Option<u64>) {
    let Ok(text) = fs::read_to_string(stats) else {
        return (None, None);
    };
    let mut lines = text.lines().filter(|line| !line.trim().is_empty());
    let Some(header) = lines.next() else {
        return (None, None);
    };
    let Some(last) = lines.next_back() else {
        return (None, None);
    };
    let columns: Vec<&str> = header.split(';').collect();
    let values: Vec<&str> = last.split(';').collect();
    let value_of = |name: &str| {
        let index = columns.iter().position(|column| *column == name)?;
        values.get(index)?.trim().parse::<u64>().ok()
    };
    (value_of("SuccessfulCall(C)"), value_of("FailedCall(C)"))
}
