//! The simulation loop: runs a session, and the `on_complete_flow_id`
//! sessions that follow it, against an event [`Script`], reporting each
//! command, trace event, consumed event and the end as a [`Line`].
//!
//! Commands that complete on their own in a real call (answer, play,
//! send_digits, record_start/stop, sleep, hangup, an HTTP request that does
//! not wait, a `call` that places a separate call) are resolved with `done`
//! without consuming an event. Menus, collects, digits_receive, waiting HTTP
//! requests, other connects and a bridged wait consume the next event; when
//! none is left the simulation ends with `events_exhausted`. The clock stays
//! at the simulation's time throughout.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::flow::{Command, ConnectKind, Directive, EndReason, Outcome, Session, TraceEvent};
use crate::simulator::events::Script;
use crate::simulator::line::Line;

/// The `end` value when a command waits for an event and the script is empty.
pub const EVENTS_EXHAUSTED: &str = "events_exhausted";

/// Runs `session` (not started yet) and its follow-ups to the end, or until
/// the script runs out, at the fixed time `now`. Every line goes to `emit`;
/// the last one is the `end` line.
pub fn simulate(
    mut session: Session,
    script: &mut Script,
    now: DateTime<Utc>,
    emit: &mut dyn FnMut(Line),
) {
    session.set_tracing(true);
    loop {
        let mut directive = session.start(now);
        loop {
            drain_trace(&mut session, emit);
            let node = match &directive {
                Directive::End(_) => break,
                Directive::Execute(command) => {
                    emit(command_line(command));
                    if resolves_itself(command) {
                        directive = session.resume(Outcome::Done, now);
                        continue;
                    }
                    command.node().clone()
                }
                Directive::Wait { node } => {
                    emit(Line::new("trace", "bridged").with("node", node.as_str()));
                    node.clone()
                }
            };
            let Some(event) = script.next_event() else {
                emit(exhausted_line(&session, &directive, node.as_str()));
                return;
            };
            emit(
                Line::new("trace", "event")
                    .with("node", node.as_str())
                    .with("event", event.to_string()),
            );
            directive = session.resume(event, now);
        }
        let follow_up = session.take_follow_up();
        drain_trace(&mut session, emit);
        let Some(reason) = session.end_reason().cloned() else {
            return;
        };
        match follow_up {
            Some(next) => {
                emit(flow_ended_line(&session, &reason));
                session = next;
                session.set_tracing(true);
            }
            None => {
                emit(end_line(&session, &reason, script));
                return;
            }
        }
    }
}

/// Whether a real call completes `command` without anything from outside.
pub fn resolves_itself(command: &Command) -> bool {
    match command {
        Command::Answer { .. }
        | Command::Play { .. }
        | Command::SendDigits { .. }
        | Command::RecordStart { .. }
        | Command::RecordStop { .. }
        | Command::Sleep { .. }
        | Command::Hangup { .. } => true,
        Command::Http { wait, .. } => !wait,
        Command::Connect { kind, .. } => *kind == ConnectKind::Call,
        Command::Gather { .. } | Command::Block { .. } => false,
    }
}

/// The events that make sense for a directive waiting on the script.
pub fn expected_events(directive: &Directive) -> &'static [&'static str] {
    match directive {
        Directive::Wait { .. } => &["bridge_ended", "hangup"],
        Directive::End(_) => &[],
        Directive::Execute(command) => match command {
            Command::Gather { .. } => &["digits:KEYS", "timeout", "hangup"],
            Command::Http { .. } => &["http:STATUS[:BODY]", "failed[:REASON]", "hangup"],
            Command::Connect { kind, .. } => match kind {
                ConnectKind::Queue => &["answered", "timeout", "failed[:REASON]", "hangup"],
                ConnectKind::Conference => &["done", "bridge_ended", "failed[:REASON]", "hangup"],
                ConnectKind::Voicemail => &["done", "failed[:REASON]", "hangup"],
                _ => &["answered", "no_answer", "busy", "failed[:REASON]", "hangup"],
            },
            _ => &["done", "hangup"],
        },
    }
}

fn drain_trace(session: &mut Session, emit: &mut dyn FnMut(Line)) {
    while let Some(event) = session.poll_trace() {
        emit(trace_line(&event));
    }
}

/// `{"command": KIND, "node": ID, …arguments}`.
pub fn command_line(command: &Command) -> Line {
    let body = serde_json::to_value(command).unwrap_or(Value::Null);
    Line::new("command", command.name()).with_fields_of(body, &["command"])
}

/// `{"trace": NAME, "node": ID, …fields}`.
pub fn trace_line(event: &TraceEvent) -> Line {
    let body = serde_json::to_value(event).unwrap_or(Value::Null);
    let name = body
        .get("event")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    Line::new("trace", name).with_fields_of(body, &["event"])
}

fn reason_parts(reason: &EndReason) -> (String, Value) {
    let body = serde_json::to_value(reason).unwrap_or(Value::Null);
    let name = body
        .get("end")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    (name, body)
}

/// A session of an on-complete chain ended and the next one starts:
/// `{"trace": "flow_ended", "flow_id": F, "reason": NAME, "node": ID, …}`.
fn flow_ended_line(session: &Session, reason: &EndReason) -> Line {
    let (name, body) = reason_parts(reason);
    Line::new("trace", "flow_ended")
        .with("flow_id", session.flow_id())
        .with("reason", name)
        .with_fields_of(body, &["end"])
}

/// `{"end": REASON, "node": ID, …, "flow_id": F, "unused_events": […], "vars": {…}}`.
fn end_line(session: &Session, reason: &EndReason, script: &Script) -> Line {
    let (name, body) = reason_parts(reason);
    let mut line = Line::new("end", name)
        .with_fields_of(body, &["end"])
        .with("flow_id", session.flow_id());
    if !script.is_empty() {
        line = line.with("unused_events", script.remaining());
    }
    line.with("vars", vars_object(session))
}

/// `{"end": "events_exhausted", "waiting_for": ID, "expects": […], "flow_id": F, "vars": {…}}`.
fn exhausted_line(session: &Session, directive: &Directive, node: &str) -> Line {
    Line::new("end", EVENTS_EXHAUSTED)
        .with("waiting_for", node)
        .with("expects", expected_events(directive))
        .with("flow_id", session.current_flow_id())
        .with("vars", vars_object(session))
}

fn vars_object(session: &Session) -> Value {
    let map: Map<String, Value> = session
        .vars()
        .iter()
        .map(|(key, value)| (key.to_owned(), Value::String(value.to_owned())))
        .collect();
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;

    use super::*;
    use crate::flow::{load_flow_json, CallFacts, FlowEnv, DEMO_FLOW_JSON};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn session_of(json: &str, env: FlowEnv) -> Session {
        let program = match load_flow_json(json) {
            Ok(loaded) => loaded.program,
            Err(err) => panic!("{err}"),
        };
        Session::new(
            program,
            Arc::new(env),
            CallFacts::new("+15550000001", "1000", "sim"),
            None,
        )
    }

    fn run(session: Session, events: &[&str]) -> Vec<Line> {
        let mut script = Script::parse(events).expect("valid events");
        let mut lines = Vec::new();
        simulate(session, &mut script, now(), &mut |line| lines.push(line));
        lines
    }

    fn commands(lines: &[Line]) -> Vec<(String, String)> {
        lines
            .iter()
            .filter(|line| line.kind() == "command")
            .map(|line| {
                (
                    line.text("command").unwrap_or("").to_owned(),
                    line.text("node").unwrap_or("").to_owned(),
                )
            })
            .collect()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn demo_with_one_digit_goes_to_sales() {
        let lines = run(session_of(DEMO_FLOW_JSON, FlowEnv::new()), &["digits:1"]);
        assert_eq!(
            commands(&lines),
            pairs(&[
                ("play", "welcome"),
                ("gather", "menu"),
                ("play", "sales"),
                ("play", "goodbye"),
                ("hangup", "hangup"),
            ])
        );
        let event = lines
            .iter()
            .find(|line| line.text("trace") == Some("event"));
        assert_eq!(event.and_then(|l| l.text("node")), Some("menu"));
        let end = lines.last().expect("an end line");
        assert_eq!(end.kind(), "end");
        assert_eq!(end.text("end"), Some("hangup"));
        assert_eq!(
            end.get("vars")
                .and_then(|vars| vars.get("voipbin.call.digits"))
                .and_then(Value::as_str),
            Some("1")
        );
        assert!(end.get("unused_events").is_none());
        assert_eq!(lines.iter().filter(|l| l.kind() == "end").count(), 1);
        assert_eq!(
            lines.first().and_then(|l| l.text("trace")),
            Some("flow_started")
        );
    }

    #[test]
    fn running_out_of_events_names_the_waiting_node() {
        let lines = run(session_of(DEMO_FLOW_JSON, FlowEnv::new()), &[]);
        let end = lines.last().expect("an end line");
        assert_eq!(end.text("end"), Some(EVENTS_EXHAUSTED));
        assert_eq!(end.text("waiting_for"), Some("menu"));
        assert_eq!(
            end.get("expects"),
            Some(&serde_json::json!(["digits:KEYS", "timeout", "hangup"]))
        );
    }

    #[test]
    fn leftover_events_are_listed_in_the_end_line() {
        let lines = run(
            session_of(DEMO_FLOW_JSON, FlowEnv::new()),
            &["digits:2,hangup"],
        );
        let end = lines.last().expect("an end line");
        assert_eq!(
            end.get("unused_events"),
            Some(&serde_json::json!(["hangup"]))
        );
    }

    #[test]
    fn bridges_wait_for_an_event_and_chains_follow_up_flows() {
        let after = load_flow_json(
            r#"{"id": "after", "actions": [{"id": "bye", "type": "talk", "option": {"text": "Bye"}}]}"#,
        )
        .map(|loaded| loaded.program);
        let env = match after {
            Ok(program) => FlowEnv::new().with_flow(program),
            Err(err) => panic!("{err}"),
        };
        let first = session_of(
            r#"{"id": "main", "on_complete_flow_id": "after", "actions": [
                {"type": "answer"},
                {"id": "dial", "type": "connect", "option": {"destinations": [{"type": "tel", "target": "+1555"}]}}
            ]}"#,
            env,
        );
        let lines = run(first, &["answered,hangup"]);
        let kinds: Vec<&str> = lines.iter().map(Line::kind).collect();
        assert!(
            lines.iter().any(|l| l.text("trace") == Some("bridged")),
            "{kinds:?}"
        );
        let ended = lines
            .iter()
            .find(|l| l.text("trace") == Some("flow_ended"))
            .expect("the first flow ended");
        assert_eq!(ended.text("reason"), Some("caller_hangup"));
        assert_eq!(ended.text("flow_id"), Some("main"));
        let restarted = lines
            .iter()
            .filter(|l| l.text("trace") == Some("flow_started"))
            .filter_map(|l| l.text("reason"))
            .collect::<Vec<_>>();
        assert_eq!(restarted, ["start", "on_complete"]);
        assert_eq!(
            commands(&lines).last(),
            Some(&("play".to_owned(), "bye".to_owned()))
        );
        let end = lines.last().expect("an end line");
        assert_eq!(end.text("end"), Some("end_of_actions"));
        assert_eq!(end.text("flow_id"), Some("after"));
    }

    #[test]
    fn decides_which_commands_need_an_event() {
        let connect = |kind| Command::Connect {
            node: "c".into(),
            kind,
            targets: Vec::new(),
            source: None,
            timeout: None,
            early_media: false,
            flow_id: None,
            flow: None,
        };
        assert!(resolves_itself(&connect(ConnectKind::Call)));
        assert!(!resolves_itself(&connect(ConnectKind::Dial)));
        assert!(resolves_itself(&Command::Answer { node: "a".into() }));
        let http = |wait| Command::Http {
            node: "h".into(),
            method: "POST".into(),
            url: "u".into(),
            headers: Vec::new(),
            body: None,
            timeout: std::time::Duration::from_secs(1),
            wait,
        };
        assert!(resolves_itself(&http(false)));
        assert!(!resolves_itself(&http(true)));
        assert_eq!(
            expected_events(&Directive::Execute(connect(ConnectKind::Queue))),
            ["answered", "timeout", "failed[:REASON]", "hangup"]
        );
    }
}
