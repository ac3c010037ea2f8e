//! Session tests: a compact summary of each directive, a driver that plays a
//! script of outcome events (the simulator's syntax), and the tests by topic.

mod actions;
mod bridges;
mod graph;
mod limits;
mod property;
mod seeds;
mod variables;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use crate::flow::{
    load_flow_json, load_flow_value, parse_event, Audio, CallFacts, Command, Directive, FlowEnv,
    Program, Session, TraceEvent,
};

/// Monday 2 March 2026, 10:00 UTC.
pub(super) fn monday_10am() -> DateTime<Utc> {
    at(2026, 3, 2, 10, 0)
}

pub(super) fn at(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, hour, minute, 0)
        .single()
        .unwrap_or_default()
}

pub(super) fn program(document: Value) -> Arc<Program> {
    match load_flow_value(&document) {
        Ok(loaded) => loaded.program,
        Err(error) => panic!("{error}"),
    }
}

pub(super) fn program_text(json: &str) -> Arc<Program> {
    match load_flow_json(json) {
        Ok(loaded) => loaded.program,
        Err(error) => panic!("{error}"),
    }
}

pub(super) fn facts() -> CallFacts {
    CallFacts::new("+15550001111", "+15559990000", "call-1")
}

pub(super) fn session_in(program: Arc<Program>, env: FlowEnv) -> Session {
    Session::new(program, Arc::new(env), facts(), None)
}

pub(super) fn session(document: Value) -> Session {
    session_in(program(document), FlowEnv::new())
}

fn audio_summary(audio: &[Audio]) -> String {
    audio
        .iter()
        .map(|piece| match piece {
            Audio::Catalog(id) => format!("catalog:{id}"),
            Audio::Speak { text, .. } => {
                let short: String = text.chars().take(40).collect();
                if short.len() < text.len() {
                    format!("speak:{short}…")
                } else {
                    format!("speak:{short}")
                }
            }
            Audio::Url(url) => format!("url:{url}"),
            Audio::Beep => "beep".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// One line per directive: `KIND NODE DETAIL`, `wait NODE`, `end: REASON`.
pub(super) fn summary(directive: &Directive) -> String {
    let command = match directive {
        Directive::Execute(command) => command,
        Directive::Wait { node } => return format!("wait {node}"),
        Directive::End(reason) => return format!("end: {reason}"),
    };
    let detail = match command {
        Command::Answer { .. } => String::new(),
        Command::Play { audio, times, .. } if *times > 1 => {
            format!("{} x{times}", audio_summary(audio))
        }
        Command::Play { audio, .. } => audio_summary(audio),
        Command::Gather {
            audio, max_digits, ..
        } => format!("{} max={max_digits}", audio_summary(audio))
            .trim()
            .to_owned(),
        Command::SendDigits { digits, .. } => digits.clone(),
        Command::RecordStart { recording_id, .. } => recording_id.clone(),
        Command::RecordStop { recording_id, .. } => recording_id.clone().unwrap_or_default(),
        Command::Connect { kind, targets, .. } => format!("{} {}", kind.name(), targets.join(",")),
        Command::Http {
            method, url, wait, ..
        } => format!("{method} {url}{}", if *wait { "" } else { " async" }),
        Command::Sleep { duration, .. } => format!("{}ms", duration.as_millis()),
        Command::Block { .. } => String::new(),
        Command::Hangup { reason, .. } => reason.clone().unwrap_or_default(),
    };
    format!("{} {} {detail}", command.name(), command.node())
        .trim_end()
        .to_owned()
}

/// Starts the session at `now` and plays `events`, one summary per directive.
pub(super) fn drive_at(session: &mut Session, now: DateTime<Utc>, events: &[&str]) -> Vec<String> {
    let mut out = vec![summary(&session.start(now))];
    for event in events {
        let outcome = match parse_event(event) {
            Ok(outcome) => outcome,
            Err(error) => panic!("{error}"),
        };
        out.push(summary(&session.resume(outcome, now)));
    }
    out
}

pub(super) fn drive(session: &mut Session, events: &[&str]) -> Vec<String> {
    drive_at(session, monday_10am(), events)
}

/// Every trace event still buffered.
pub(super) fn traces(session: &mut Session) -> Vec<TraceEvent> {
    std::iter::from_fn(|| session.poll_trace()).collect()
}

/// A variable's value, "" when unset.
pub(super) fn var(session: &Session, key: &str) -> String {
    session.vars().get(key).unwrap_or_default().to_owned()
}
