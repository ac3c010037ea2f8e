//! Connect nodes: bridges that do not advance, answered edges taken after
//! the bridge, no-answer/busy/timeout routing, and synthesized flows.

use serde_json::json;

use super::*;
use crate::flow::destinations::{Destination, DestinationCatalog, DestinationKind};
use crate::flow::synthesize;

fn dial_flow(answered_edge: bool) -> serde_json::Value {
    let mut edges = vec![
        json!({"id": "e1", "source": "dial", "target": "sorry", "sourceHandle": "no_answer"}),
        json!({"id": "e2", "source": "dial", "target": "busy", "sourceHandle": "busy"}),
    ];
    if answered_edge {
        edges.push(
            json!({"id": "e3", "source": "dial", "target": "after", "sourceHandle": "answered"}),
        );
    }
    json!({"id": "d", "version": 2, "start": "dial", "nodes": [
        {"id": "dial", "type": "dial", "data": {"kind": "dial", "number": "+1555${callee}", "timeoutSec": 20}},
        {"id": "sorry", "type": "say", "data": {"kind": "say", "text": "No answer"}},
        {"id": "busy", "type": "say", "data": {"kind": "say", "text": "Busy"}},
        {"id": "after", "type": "say", "data": {"kind": "say", "text": "Welcome back"}}
    ], "edges": edges})
}

#[test]
fn answered_without_an_answered_edge_stays_bridged_until_it_ends() {
    let mut session = session(dial_flow(false));
    assert_eq!(
        drive(&mut session, &["answered", "bridge_ended"]),
        [
            "connect dial dial +1555+15559990000",
            "wait dial",
            "end: bridge of dial ended and it has no answered edge",
        ]
    );
    assert_eq!(var(&session, "voipbin.call.status"), "progressing");
    // The wait is repeated by start.
    let mut waiting = super::session(dial_flow(false));
    drive(&mut waiting, &["answered"]);
    assert_eq!(summary(&waiting.start(monday_10am())), "wait dial");
    assert_eq!(
        drive(&mut waiting, &["hangup"])[1],
        "end: caller hung up during dial"
    );
}

#[test]
fn answered_edge_is_taken_once_the_bridge_ends() {
    let mut session = session(dial_flow(true));
    assert_eq!(
        drive(&mut session, &["answered", "bridge_ended"])[1..],
        ["wait dial", "play after speak:Welcome back"]
    );
}

#[test]
fn no_answer_and_busy_take_their_edges() {
    assert_eq!(
        drive(&mut session(dial_flow(false)), &["no_answer"])[1],
        "play sorry speak:No answer"
    );
    assert_eq!(
        drive(&mut session(dial_flow(false)), &["timeout"])[1],
        "play sorry speak:No answer"
    );
    let mut busy = session(dial_flow(false));
    assert_eq!(drive(&mut busy, &["busy"])[1], "play busy speak:Busy");
    assert_eq!(var(&busy, "voipbin.call.status"), "busy");
    assert_eq!(
        drive(&mut session(dial_flow(false)), &["failed:503"])[1],
        "end: dial failed: 503"
    );
}

#[test]
fn enqueue_times_out_and_voicemail_finishes() {
    let flow = json!({"id": "q", "version": 1, "start": "q", "nodes": [
        {"id": "q", "type": "enqueue", "data": {"kind": "enqueue", "queueId": "support", "timeoutSec": 90}},
        {"id": "vm", "type": "voicemail", "data": {"kind": "voicemail", "mailboxId": "vm1"}},
        {"id": "bye", "type": "hangup", "data": {"kind": "hangup"}}
    ], "edges": [
        {"id": "e1", "source": "q", "target": "vm", "sourceHandle": "timeout"},
        {"id": "e2", "source": "vm", "target": "bye"}
    ]});
    assert_eq!(
        drive(&mut session(flow.clone()), &["timeout", "done", "done"]),
        [
            "connect q queue support",
            "connect vm voicemail vm1",
            "hangup bye",
            "end: hangup at bye"
        ]
    );
    let Directive::Execute(Command::Connect { timeout, .. }) = session(flow).start(monday_10am())
    else {
        panic!("expected a connect");
    };
    assert_eq!(timeout, Some(std::time::Duration::from_secs(90)));
}

fn catalog() -> DestinationCatalog {
    serde_json::from_value(json!({
        "queue": [{"id": "support", "timeout_sec": 60, "timeout_dest": {"kind": "ring_group", "id": "oncall"}}],
        "ring_group": [{"id": "oncall", "members": ["+1"], "no_answer_dest": {"kind": "voicemail", "id": "vm1"}}],
        "voicemail": [{"id": "vm1", "max_length_sec": 120}],
        "forward": [{"id": "loop", "number": "+1999", "no_answer_dest": {"kind": "forward", "id": "loop"}}]
    }))
    .unwrap_or_default()
}

#[test]
fn synthesized_queue_follows_its_exits_through_the_same_interpreter() {
    let program = synthesize(
        &Destination::new(DestinationKind::Queue, "support"),
        &catalog(),
    );
    assert_eq!(program.id(), "synth:queue:support");
    let ids: Vec<&str> = program
        .nodes()
        .iter()
        .map(|node| node.id.as_str())
        .collect();
    assert_eq!(ids, ["queue:support", "ring_group:oncall", "voicemail:vm1"]);
    let mut session = session_in(std::sync::Arc::new(program), FlowEnv::new());
    assert_eq!(
        drive(&mut session, &["timeout", "no_answer", "done"]),
        [
            "connect queue:support queue support",
            "connect ring_group:oncall ring_group oncall",
            "connect voicemail:vm1 voicemail vm1",
            "end: no edge from voicemail:vm1 for outcome done and no default edge",
        ]
    );
    assert!(session
        .end_reason()
        .is_some_and(|reason| !reason.is_failure()));
}

#[test]
fn synthesized_chains_stop_at_the_depth_cap() {
    let program = synthesize(
        &Destination::new(DestinationKind::Forward, "loop"),
        &catalog(),
    );
    let ids: Vec<&str> = program
        .nodes()
        .iter()
        .map(|node| node.id.as_str())
        .collect();
    assert_eq!(ids, ["forward:loop", "forward:loop#2", "forward:loop#3"]);
    assert!(program.nodes()[2].exits.is_empty());
    let missing = synthesize(
        &Destination::new(DestinationKind::Conference, "room"),
        &catalog(),
    );
    assert_eq!(missing.nodes().len(), 1);
    let env = FlowEnv::new().with_destinations(catalog());
    let problems: Vec<String> = crate::flow::check_references(&missing, &env)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(problems, ["conference:room: no conference \"room\""]);
}
