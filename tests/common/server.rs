//! Running the `callplane` binary for one test: its own SIP port, RTP port range
//! and data directory, its log captured to a file (printed when the test fails),
//! readiness by a SIP OPTIONS ping, and SIGTERM (then SIGKILL) at the end.

use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::cdr::{self, Cdr};
use super::ports;

/// How long the server may take to answer its first OPTIONS.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server may take to exit after SIGTERM before it gets SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The io backend the server is asked to use (`--io`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Uring,
    Epoll,
}

impl Backend {
    /// The value of `--io`.
    pub fn cli_value(self) -> &'static str {
        match self {
            Backend::Uring => "uring",
            Backend::Epoll => "epoll",
        }
    }

    /// The name the server's log gives it: `io backend: <name>`.
    pub fn log_name(self) -> &'static str {
        match self {
            Backend::Uring => "io_uring",
            Backend::Epoll => "epoll",
        }
    }
}

/// What a test wants of its server beyond the defaults.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// `[sip] answer_delay_ms` in a config file; `None` writes no config file.
    pub answer_delay_ms: Option<u64>,
    /// How many RTP ports the server gets (`--rtp-ports`).
    pub rtp_port_count: u16,
    /// `--shards`; `None` leaves the server's default.
    pub shards: Option<usize>,
    /// More TOML for the config file (routes, flows, schedules…).
    pub config: Option<String>,
    /// Run `callplane serve` with no arguments at all, in `work_dir`: the
    /// embedded defaults (SIP on 127.0.0.1:5060, `./callplane-data`, io auto).
    pub no_arguments: bool,
    /// `--io` instead of the backend's own value (e.g. `"auto"`).
    pub io: Option<&'static str>,
    /// More `serve` arguments (e.g. `--log-format json`).
    pub extra_args: Vec<String>,
    /// Run in the child between fork and exec (e.g. to install a seccomp filter).
    pub before_exec: Option<fn() -> std::io::Result<()>>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            answer_delay_ms: None,
            rtp_port_count: 40,
            shards: None,
            config: None,
            no_arguments: false,
            io: None,
            extra_args: Vec::new(),
            before_exec: None,
        }
    }
}

/// A running callplane.
pub struct Server {
    child: Option<Child>,
    backend: Backend,
    sip: SocketAddr,
    /// Its RTP port range (`--rtp-ports`, or the embedded default).
    rtp_ports: std::ops::RangeInclusive<u16>,
    data_dir: PathBuf,
    log_path: PathBuf,
}

impl Server {
    /// Starts the server with files under `work_dir` and waits until it answers
    /// OPTIONS. Fails the test (printing the log) when it exits or stays silent.
    pub fn start(backend: Backend, work_dir: &Path, options: &ServerOptions) -> Server {
        let sip_port = ports::udp_port();
        // One spare port so the range can start on an even port.
        let block = ports::udp_port_block(options.rtp_port_count + 1);
        let rtp_min = block + block % 2;
        let rtp_max = rtp_min + options.rtp_port_count - 1;

        let data_dir = work_dir.join("data");
        fs::create_dir_all(&data_dir).expect("create the data dir");
        let log_path = work_dir.join("callplane.log");
        let log = File::create(&log_path).expect("create the server log");
        let log_for_stdout = log.try_clone().expect("clone the server log handle");

        if options.no_arguments {
            return Server::start_bare(backend, work_dir);
        }
        let mut command = Command::new(env!("CARGO_BIN_EXE_callplane"));
        command
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{sip_port}"))
            .arg("--rtp-ports")
            .arg(format!("{rtp_min}-{rtp_max}"))
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--io")
            .arg(options.io.unwrap_or(backend.cli_value()))
            .args(&options.extra_args);
        if let Some(hook) = options.before_exec {
            // SAFETY: the hook is a plain function the test supplies for the
            // child; it must only make async-signal-safe calls (prctl, seccomp).
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut command, hook);
            }
        }
        if let Some(shards) = options.shards {
            command.arg("--shards").arg(shards.to_string());
        }
        if options.answer_delay_ms.is_some() || options.config.is_some() {
            let mut text = String::new();
            if let Some(delay) = options.answer_delay_ms {
                text.push_str(&format!("[sip]\nanswer_delay_ms = {delay}\n"));
            }
            if let Some(extra) = &options.config {
                text.push_str(extra);
            }
            let config_path = work_dir.join("callplane.toml");
            fs::write(&config_path, text).expect("write the server config");
            command.arg("--config").arg(config_path);
        }
        if std::env::var_os("RUST_LOG").is_none() {
            command.env("RUST_LOG", "info");
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_for_stdout))
            .stderr(Stdio::from(log));

        let child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {:?}: {err}", command));
        let mut server = Server {
            child: Some(child),
            backend,
            sip: SocketAddr::from((Ipv4Addr::LOCALHOST, sip_port)),
            rtp_ports: rtp_min..=rtp_max,
            data_dir,
            log_path,
        };
        server.wait_until_ready();
        server
    }

    /// `callplane serve` and nothing else, in `work_dir`.
    fn start_bare(backend: Backend, work_dir: &Path) -> Server {
        let log_path = work_dir.join("callplane.log");
        let log = File::create(&log_path).expect("create the server log");
        let log_for_stdout = log.try_clone().expect("clone the server log handle");
        let mut command = Command::new(env!("CARGO_BIN_EXE_callplane"));
        command
            .arg("serve")
            .current_dir(work_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_for_stdout))
            .stderr(Stdio::from(log));
        let child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {:?}: {err}", command));
        let mut server = Server {
            child: Some(child),
            backend,
            sip: SocketAddr::from((Ipv4Addr::LOCALHOST, 5060)),
            // The embedded default.
            rtp_ports: 20_000..=29_999,
            data_dir: work_dir.join("callplane-data"),
            log_path,
        };
        server.wait_until_ready();
        server
    }

    /// The server's SIP address (what sipp calls).
    pub fn sip_addr(&self) -> SocketAddr {
        self.sip
    }

    /// The RTP ports it was given (`--rtp-ports`).
    pub fn rtp_ports(&self) -> std::ops::RangeInclusive<u16> {
        self.rtp_ports.clone()
    }

    /// The backend it was started with.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Where the server appends its CDRs.
    pub fn cdr_path(&self) -> PathBuf {
        self.data_dir.join("cdr.jsonl")
    }

    /// The CDRs written so far.
    pub fn cdrs(&self) -> Vec<Cdr> {
        cdr::read_cdrs(&self.cdr_path())
    }

    /// Waits (up to `timeout`) until `count` CDRs were written and returns them;
    /// fails the test when fewer arrive.
    pub fn wait_for_cdrs(&self, count: usize, timeout: Duration) -> Vec<Cdr> {
        match cdr::wait_for_cdrs(&self.cdr_path(), count, timeout) {
            Some(cdrs) => cdrs,
            None => {
                let got = self.cdrs();
                panic!(
                    "expected {count} CDRs in {} within {timeout:?}, found {}: {:#?}",
                    self.cdr_path().display(),
                    got.len(),
                    got.iter().map(|cdr| &cdr.json).collect::<Vec<_>>()
                );
            }
        }
    }

    /// Asserts the log names the backend the server was asked for.
    pub fn assert_backend_logged(&self) {
        let want = format!("io backend: {}", self.backend.log_name());
        let deadline = Instant::now() + Duration::from_secs(2);
        while !self.log().contains(&want) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
        let log = self.log();
        assert!(log.contains(&want), "the server log lacks {want:?}");
        for other in [Backend::Uring, Backend::Epoll] {
            if other != self.backend {
                let unwanted = format!("io backend: {}", other.log_name());
                assert!(!log.contains(&unwanted), "the server log says {unwanted:?}");
            }
        }
    }

    /// Sends a signal (e.g. SIGHUP to reload flows).
    pub fn signal(&self, signal: i32) {
        if let Some(child) = &self.child {
            // SAFETY: plain kill(2) on our own child's pid.
            unsafe {
                libc::kill(child.id() as i32, signal);
            }
        }
    }

    /// Sends SIGTERM, waits a few seconds, then SIGKILL. Returns how it exited.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if let Ok(pid) = libc::pid_t::try_from(child.id()) {
            // SAFETY: kill(2) on the pid of our own child, which has not been reaped
            // yet (try_wait above saw it running), so the pid cannot be reused.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) => thread::sleep(Duration::from_millis(50)),
                Err(_) => break,
            }
        }
        let _ = child.kill();
        child.wait().ok()
    }

    fn wait_until_ready(&mut self) {
        let probe = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the OPTIONS probe");
        probe
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("set the probe timeout");
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut attempt = 0u32;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("callplane exited during startup ({status})");
                }
            }
            attempt += 1;
            if options_answered(&probe, self.sip, attempt) {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "callplane did not answer OPTIONS on {} within {READY_TIMEOUT:?}",
                    self.sip
                );
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let status = self.stop();
        if thread::panicking() {
            eprintln!(
                "===== callplane log ({}, --io {}, exit {:?}) =====\n{}\n===== end of callplane log =====",
                self.log_path.display(),
                self.backend.cli_value(),
                status,
                self.log()
            );
        }
    }
}

/// Sends one OPTIONS and reports whether a 200 came back within the probe's timeout.
fn options_answered(probe: &UdpSocket, server: SocketAddr, attempt: u32) -> bool {
    let Ok(local) = probe.local_addr() else {
        return false;
    };
    let request = format!(
        "OPTIONS sip:ping@{server} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-e2e-ready-{attempt};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:e2e@{local}>;tag=e2e-ready\r\n\
         To: <sip:ping@{server}>\r\n\
         Call-ID: e2e-ready-{port}@127.0.0.1\r\n\
         CSeq: {attempt} OPTIONS\r\n\
         Accept: application/sdp\r\n\
         Content-Length: 0\r\n\r\n",
        port = local.port()
    );
    if probe.send_to(request.as_bytes(), server).is_err() {
        thread::sleep(Duration::from_millis(200));
        return false;
    }
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_millis(200);
    while Instant::now() < deadline {
        match probe.recv_from(&mut buf) {
            Ok((len, from)) if from == server => {
                let reply = String::from_utf8_lossy(&buf[..len]);
                if reply.starts_with("SIP/2.0 200") {
                    return true;
                }
            }
            Ok(_) => {}
            // Timeout, or ECONNREFUSED from the ICMP of a port nobody listens on yet.
            Err(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
    false
}
