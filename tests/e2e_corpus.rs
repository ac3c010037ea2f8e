//! The SIP corpus against the real binary, under both io backends: every
//! datagram of `tests/sip_corpus/` goes over UDP to `callplane serve`, each from
//! a socket of its own, and gets the response (or the silence) that
//! `tests/sip_corpus.toml` names. Then one normal sipp call must still complete.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{dtmf_pcap, Backend, RtpListener, Server, ServerOptions, Sipp, TestDir};
use serde::Deserialize;

/// How long a response may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a dropped message is listened after.
const SILENCE: Duration = Duration::from_millis(300);

common::for_each_backend! {
    corpus_then_a_normal_call => corpus_then_a_normal_call;
}

#[derive(Debug, Deserialize)]
struct Manifest {
    message: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    file: String,
    expect: Expect,
    warning: Option<String>,
    header: Option<String>,
    #[serde(default)]
    after: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Expect {
    Status(u16),
    Drop(String),
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sip_corpus")
}

fn read(file: &str) -> Vec<u8> {
    std::fs::read(corpus_dir().join(file)).unwrap_or_else(|err| panic!("read {file}: {err}"))
}

/// The first `branch=` value of a message, which names its top Via.
fn branch_of(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    let start = text.find("branch=")? + "branch=".len();
    let rest = text.get(start..)?;
    let end = rest.find([';', ',', ' ', '\r', '\n']).unwrap_or(rest.len());
    Some(rest[..end].to_owned()).filter(|branch| !branch.is_empty())
}

/// The head lines of a response, first line included.
fn head_lines(payload: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(payload)
        .split("\r\n")
        .take_while(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

fn status_of(lines: &[String]) -> Option<u16> {
    lines
        .first()?
        .strip_prefix("SIP/2.0 ")?
        .get(..3)?
        .parse()
        .ok()
}

/// The next datagram on `socket` within `timeout`.
fn receive(socket: &UdpSocket, timeout: Duration) -> Option<Vec<u8>> {
    socket.set_read_timeout(Some(timeout)).ok()?;
    let mut buf = vec![0; 65_535];
    let (len, _) = socket.recv_from(&mut buf).ok()?;
    buf.truncate(len);
    Some(buf)
}

/// Sends one entry from a fresh socket and checks what comes back.
fn check(server: SocketAddr, entry: &Entry) -> Result<(), String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|err| err.to_string())?;
    for file in &entry.after {
        // Sent once already as an entry of its own, so maybe a retransmission now,
        // answered to the first sender: its answer is not waited for.
        socket
            .send_to(&read(file), server)
            .map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_millis(50));
    }
    let data = read(&entry.file);
    socket.send_to(&data, server).map_err(|e| e.to_string())?;
    let expected = match &entry.expect {
        Expect::Status(status) => Some(*status),
        Expect::Drop(word) if word == "drop" => None,
        Expect::Drop(word) => return Err(format!("expect {word:?} is no status nor drop")),
    };
    let Some(status) = expected else {
        return match receive(&socket, SILENCE) {
            None => Ok(()),
            Some(reply) => Err(format!("answered: {}", String::from_utf8_lossy(&reply))),
        };
    };
    // Answers to the `after` messages (say a 200 after their 100) are skipped.
    let branch = branch_of(&data);
    let deadline = Instant::now() + ANSWER_TIMEOUT;
    let lines = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let reply = receive(&socket, left).ok_or("no response")?;
        let lines = head_lines(&reply);
        let ours = match &branch {
            Some(branch) => lines
                .iter()
                .find(|line| line.starts_with("Via:"))
                .is_some_and(|via| branch_of(via.as_bytes()).as_deref() == Some(branch)),
            None => true,
        };
        if ours {
            break lines;
        }
    };
    let text = lines.join("\n");
    if status_of(&lines) != Some(status) {
        return Err(format!("expected {status}, got {text}"));
    }
    if let Some(warning) = &entry.warning {
        let found = lines
            .iter()
            .any(|line| line.starts_with("Warning: 399 ") && line.contains(warning.as_str()));
        if !found {
            return Err(format!("no Warning with {warning:?}: {text}"));
        }
    }
    if let Some(header) = &entry.header {
        if !lines.iter().any(|line| line.starts_with(header.as_str())) {
            return Err(format!("no {header:?}: {text}"));
        }
    }
    Ok(())
}

fn corpus_then_a_normal_call(backend: Backend) {
    common::sipp::require_sipp();
    let dir = TestDir::new(&format!("corpus-{}", backend.cli_value()));
    let server = Server::start(backend, dir.path(), &ServerOptions::default());
    server.assert_backend_logged();

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sip_corpus.toml");
    let text = std::fs::read_to_string(path).expect("read the corpus manifest");
    let manifest: Manifest = toml::from_str(&text).expect("parse the corpus manifest");
    let failures: Vec<String> = manifest
        .message
        .iter()
        .filter_map(|entry| {
            check(server.sip_addr(), entry)
                .err()
                .map(|why| format!("{}: {why}", entry.file))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} corpus messages differ:\n{}\n--- server log ---\n{}",
        failures.len(),
        manifest.message.len(),
        failures.join("\n"),
        server.log()
    );

    let sipp = Sipp::new("uac_dtmf.xml", "uac_dtmf", dir.path())
        .target(server.sip_addr())
        .key("dtmf_pcap", dtmf_pcap('1').display().to_string())
        .set("dtmf_delay_ms", "3000")
        .timeout(Duration::from_secs(45));
    let listener = RtpListener::bind(sipp.audio_port());
    let run = sipp.run();
    listener.finish();
    run.assert_passed(1);
    // The corpus INVITEs that started calls write CDRs of their own (never
    // acknowledged, they end on Timer H): look for the sipp call's.
    let deadline = Instant::now() + Duration::from_secs(5);
    let pressed_1 = |cdr: &common::Cdr| cdr.digits() == vec!["1".to_string()];
    while !server.cdrs().iter().any(pressed_1) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let cdrs = server.cdrs();
    assert!(
        cdrs.iter().any(pressed_1),
        "no CDR of the sipp call: {cdrs:#?}"
    );
}
