//! The malformed and tricky messages of `tests/sip_corpus/`, each fed to a fresh
//! dispatcher: the response (or counted drop) must be the one
//! `tests/sip_corpus.toml` names, and a good INVITE right after must still get its
//! 100 Trying and an answerable dialog.

use super::*;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Manifest {
    message: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    file: String,
    expect: Expect,
    counter: Option<String>,
    warning: Option<String>,
    header: Option<String>,
    #[serde(default)]
    after: Vec<String>,
    #[allow(dead_code)]
    why: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Expect {
    Status(u16),
    Drop(String),
}

/// The corpus, embedded by the build script (the core reads no files).
mod embedded {
    include!(concat!(env!("OUT_DIR"), "/sip_corpus.rs"));
}

const MANIFEST: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/sip_corpus.toml"
));

fn manifest() -> Manifest {
    toml::from_str(MANIFEST).expect("parse the corpus manifest")
}

fn read(file: &str) -> Vec<u8> {
    embedded::CORPUS_FILES
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(_, bytes)| bytes.to_vec())
        .unwrap_or_else(|| panic!("{file} is not in tests/sip_corpus"))
}

/// The counter `name` of `stats`.
fn counter(stats: &SipStats, name: &str) -> u64 {
    match name {
        "malformed_dropped" => stats.malformed_dropped,
        "unmatched_responses" => stats.unmatched_responses,
        "unmatched_acks" => stats.unmatched_acks,
        other => panic!("the manifest names an unknown counter {other}"),
    }
}

/// The status code of a response's first line, read as text (a 400 may lack
/// headers the parser requires).
fn status_of(payload: &[u8]) -> Option<u16> {
    let line = payload.split(|&byte| byte == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    line.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

fn head_lines(payload: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(payload)
        .split("\r\n")
        .take_while(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Checks the outcome of one entry; `Err` says what differs.
fn check(entry: &Entry) -> Result<(), String> {
    let mut h = Harness::new();
    for file in &entry.after {
        h.endpoint
            .handle_datagram(Time::ZERO, caller(), &read(file));
        h.transmits();
        h.events();
    }
    let before = h.endpoint.stats();
    h.endpoint
        .handle_datagram(Time::from_millis(10), caller(), &read(&entry.file));
    let sent = h.transmits();
    h.events();
    match &entry.expect {
        Expect::Drop(word) => {
            if word != "drop" {
                return Err(format!("expect must be a status or \"drop\", not {word:?}"));
            }
            let name = entry.counter.as_deref().ok_or("a drop names its counter")?;
            if let Some(transmit) = sent.first() {
                return Err(format!(
                    "answered: {}",
                    String::from_utf8_lossy(&transmit.payload)
                ));
            }
            let moved = counter(&h.endpoint.stats(), name) - counter(&before, name);
            if moved != 1 {
                return Err(format!("{name} moved by {moved}"));
            }
        }
        Expect::Status(status) => {
            let first = sent.first().ok_or("no response")?;
            let text = String::from_utf8_lossy(&first.payload).into_owned();
            if first.dest != caller() || status_of(&first.payload) != Some(*status) {
                return Err(format!("expected {status}, sent {text}"));
            }
            let lines = head_lines(&first.payload);
            if let Some(warning) = &entry.warning {
                let found = lines
                    .iter()
                    .any(|line| line.starts_with("Warning: 399 ") && line.contains(warning));
                if !found {
                    return Err(format!("no Warning with {warning:?}: {text}"));
                }
            }
            if let Some(header) = &entry.header {
                if !lines.iter().any(|line| line.starts_with(header.as_str())) {
                    return Err(format!("no {header:?}: {text}"));
                }
            }
        }
    }
    good_invite_still_works(&mut h)
}

/// A fresh INVITE after the corpus message: 100 Trying, a new call, answerable.
fn good_invite_still_works(h: &mut Harness) -> Result<(), String> {
    let invite = invite().replace("1-1234@127.0.0.1", "after-corpus@127.0.0.1");
    h.send(20, &invite);
    let statuses = h.statuses();
    if statuses != vec![100] {
        return Err(format!("the good INVITE got {statuses:?}"));
    }
    let call = CallId("after-corpus@127.0.0.1".into());
    let offered = h
        .events()
        .into_iter()
        .any(|event| matches!(event, Event::IncomingCall { call: c, .. } if c == call));
    if !offered {
        return Err("the good INVITE started no call".into());
    }
    h.endpoint
        .answer(Time::from_millis(30), &call, SDP_OFFER)
        .map_err(|err| format!("answer: {err}"))?;
    let statuses = h.statuses();
    if statuses != vec![200] {
        return Err(format!("the answer sent {statuses:?}"));
    }
    Ok(())
}

#[test]
fn every_corpus_message_gets_its_expected_outcome() {
    let manifest = manifest();
    let mut failures = Vec::new();
    for entry in &manifest.message {
        if let Err(why) = check(entry) {
            failures.push(format!("{}: {why}", entry.file));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus messages differ:\n{}",
        failures.len(),
        manifest.message.len(),
        failures.join("\n")
    );
}

#[test]
fn the_manifest_names_every_corpus_file_once() {
    let mut listed: Vec<String> = manifest().message.into_iter().map(|e| e.file).collect();
    listed.sort();
    let mut files: Vec<String> = embedded::CORPUS_FILES
        .iter()
        .map(|(name, _)| (*name).to_owned())
        // diff-*.sip are the sofia-sip differential's seed set
        // (tests/sofia_differential.rs), compared with sofia, not with an outcome here.
        .filter(|name| !name.starts_with("diff-"))
        .collect();
    files.sort();
    assert_eq!(listed, files);
    assert!(files.iter().all(|file| file.ends_with(".sip")));
}
