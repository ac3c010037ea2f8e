//! Session behavior: edge selection, menu retries, ends of every kind.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::flow::directive::PromptRef;
use crate::flow::{load_node_graph, load_node_graph_value, DEMO_FLOW_JSON};

fn program(document: Value) -> Arc<Program> {
    load_node_graph_value(&document).unwrap().program
}

fn session(document: Value) -> Session {
    Session::new(program(document), [])
}

fn demo() -> Session {
    Session::new(load_node_graph(DEMO_FLOW_JSON).unwrap().program, [])
}

fn play(node: &str, prompt: PromptRef) -> Directive {
    Directive::Execute(Command::Play {
        node: node.into(),
        prompt,
    })
}

fn is_gather(directive: &Directive, node: &str) -> bool {
    matches!(directive, Directive::Execute(Command::Gather { node: n, .. }) if n == node)
}

fn no_edge(node: &str, outcome: &str) -> Directive {
    Directive::End(EndReason::NoEdge {
        node: node.into(),
        outcome: outcome.into(),
    })
}

/// A flow `entry → menu` plus the given extra nodes and menu edges.
fn menu_flow(menu_data: Value, extra_nodes: Value, menu_edges: Value) -> Value {
    let mut nodes = vec![
        json!({"id": "entry", "type": "entry", "data": {"kind": "entry"}}),
        json!({"id": "menu", "type": "menu", "data": menu_data}),
    ];
    nodes.extend(extra_nodes.as_array().cloned().unwrap_or_default());
    let mut edges = vec![json!({"id": "e0", "source": "entry", "target": "menu"})];
    edges.extend(menu_edges.as_array().cloned().unwrap_or_default());
    json!({"id": "t", "version": 1, "start": "entry", "nodes": nodes, "edges": edges})
}

fn say(id: &str) -> Value {
    json!({"id": id, "type": "play", "data": {"kind": "play", "promptText": id}})
}

fn edge(id: &str, target: &str, handle: Option<&str>) -> Value {
    match handle {
        Some(handle) => {
            json!({"id": id, "source": "menu", "target": target, "sourceHandle": handle})
        }
        None => json!({"id": id, "source": "menu", "target": target}),
    }
}

#[test]
fn three_timeouts_leave_by_the_timeout_edge() {
    let mut session = demo();
    session.start();
    assert!(is_gather(&session.resume(Outcome::Done), "menu"));
    for _ in 0..2 {
        assert_eq!(
            session.resume(Outcome::Timeout),
            play("menu", PromptRef::catalog("invalid"))
        );
        assert!(is_gather(&session.resume(Outcome::Done), "menu"));
    }
    assert_eq!(
        session.resume(Outcome::Timeout),
        play("goodbye", PromptRef::catalog("goodbye"))
    );
    assert_eq!(session.visited(), ["entry", "welcome", "menu", "goodbye"]);
    assert!(session.digits().is_empty());
}

#[test]
fn invalid_entry_then_digit_1_goes_to_sales() {
    let mut session = demo();
    session.start();
    session.resume(Outcome::Done);
    assert_eq!(
        session.resume(Outcome::Digits("7".into())),
        play("menu", PromptRef::catalog("invalid"))
    );
    assert!(is_gather(&session.resume(Outcome::Done), "menu"));
    assert_eq!(
        session.resume(Outcome::Digits("1".into())),
        play("sales", PromptRef::catalog("sales"))
    );
    assert_eq!(session.digits(), ["7", "1"]);
}

#[test]
fn failures_mix_and_reset_on_a_new_visit() {
    let flow = menu_flow(
        json!({"kind": "menu", "promptId": "m", "maxFailures": 2}),
        json!([say("again"), say("one")]),
        json!([
            edge("e1", "one", Some("digit:1")),
            edge("e2", "again", Some("invalid"))
        ]),
    );
    let mut flow = flow;
    flow["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "back", "source": "again", "target": "menu"}));
    let mut session = session(flow);
    assert!(is_gather(&session.start(), "menu"));
    assert!(is_gather(&session.resume(Outcome::Timeout), "menu"));
    assert_eq!(
        session.resume(Outcome::Digits("9".into())),
        play("again", PromptRef::text("again"))
    );
    // Back in the menu: a fresh visit, so one failure is allowed again.
    assert!(is_gather(&session.resume(Outcome::Done), "menu"));
    assert!(is_gather(
        &session.resume(Outcome::Digits("5".into())),
        "menu"
    ));
    assert_eq!(
        session.resume(Outcome::Digits("1".into())),
        play("one", PromptRef::text("one"))
    );
    assert_eq!(session.visited(), ["entry", "menu", "again", "menu", "one"]);
}

#[test]
fn digit_42_with_two_digit_menu_and_terminator() {
    let mut session = session(menu_flow(
        json!({"kind": "menu", "promptText": "Enter extension", "maxDigits": 2, "terminator": "#"}),
        json!([say("ext42"), say("ext4")]),
        json!([
            edge("e1", "ext42", Some("digit:42")),
            edge("e2", "ext4", Some("digit:4"))
        ]),
    ));
    let Directive::Execute(Command::Gather {
        max_digits,
        terminator,
        timeout,
        ..
    }) = session.start()
    else {
        panic!("expected a gather");
    };
    assert_eq!(
        (max_digits, terminator, timeout),
        (2, Some('#'), Duration::from_secs(5))
    );
    assert_eq!(
        session.resume(Outcome::Digits("42".into())),
        play("ext42", PromptRef::text("ext42"))
    );

    let mut terminated = session_clone_of_start(&session);
    assert_eq!(
        terminated.resume(Outcome::Digits("4#".into())),
        play("ext4", PromptRef::text("ext4"))
    );
    assert_eq!(terminated.digits(), ["4"]);
}

fn session_clone_of_start(session: &Session) -> Session {
    let mut fresh = Session::new(Arc::clone(&session.program), []);
    fresh.start();
    fresh
}

#[test]
fn empty_entry_counts_as_a_timeout() {
    let mut session = session(menu_flow(
        json!({"kind": "menu", "promptId": "m", "maxFailures": 1, "terminator": "#"}),
        json!([say("late"), say("wrong")]),
        json!([
            edge("e1", "late", Some("timeout")),
            edge("e2", "wrong", Some("invalid"))
        ]),
    ));
    session.start();
    assert_eq!(
        session.resume(Outcome::Digits("#".into())),
        play("late", PromptRef::text("late"))
    );
    assert!(session.digits().is_empty());
}

#[test]
fn default_edge_catches_outcomes_without_their_own_edge() {
    let mut session = session(menu_flow(
        json!({"kind": "menu", "promptId": "m", "maxFailures": 1}),
        json!([say("fallback"), say("one")]),
        json!([
            edge("e1", "one", Some("digit:1")),
            edge("e2", "fallback", None)
        ]),
    ));
    session.start();
    assert_eq!(
        session.resume(Outcome::Timeout),
        play("fallback", PromptRef::text("fallback"))
    );
    // `fallback` has no edge at all: its `done` finds nothing.
    assert_eq!(session.resume(Outcome::Done), no_edge("fallback", "done"));
    assert_eq!(
        session.end_reason(),
        Some(&EndReason::NoEdge {
            node: "fallback".into(),
            outcome: "done".into()
        })
    );
}

#[test]
fn named_edge_wins_over_the_default_edge() {
    let mut session = session(menu_flow(
        json!({"kind": "menu", "promptId": "m", "maxFailures": 1}),
        json!([say("fallback"), say("one")]),
        json!([
            edge("e1", "fallback", None),
            edge("e2", "one", Some("digit:1"))
        ]),
    ));
    session.start();
    assert_eq!(
        session.resume(Outcome::Digits("1".into())),
        play("one", PromptRef::text("one"))
    );
}

#[test]
fn menu_without_matching_edges_ends_with_no_edge() {
    let mut session = session(menu_flow(
        json!({"kind": "menu", "promptId": "m", "maxFailures": 1}),
        json!([say("one")]),
        json!([edge("e1", "one", Some("digit:1"))]),
    ));
    session.start();
    assert_eq!(
        session.resume(Outcome::Digits("3".into())),
        no_edge("menu", "invalid")
    );
}

#[test]
fn caller_hangup_mid_flow_ends_the_session() {
    let mut session = demo();
    session.start();
    session.resume(Outcome::Done);
    assert_eq!(
        session.resume(Outcome::CallerHangup),
        Directive::End(EndReason::CallerHangup)
    );
    // The end sticks.
    assert_eq!(
        session.resume(Outcome::Done),
        Directive::End(EndReason::CallerHangup)
    );
    assert_eq!(session.start(), Directive::End(EndReason::CallerHangup));
    assert_eq!(session.current_node(), None);
}

#[test]
fn entry_cycle_hits_the_step_limit() {
    let mut session = session(json!({
        "id": "loop", "version": 1, "start": "a",
        "nodes": [
            {"id": "a", "type": "entry", "data": {"kind": "entry"}},
            {"id": "b", "type": "entry", "data": {"kind": "entry"}}
        ],
        "edges": [
            {"id": "e1", "source": "a", "target": "b"},
            {"id": "e2", "source": "b", "target": "a"}
        ]
    }));
    assert_eq!(session.start(), Directive::End(EndReason::StepLimit));
    assert_eq!(session.visited().len(), STEP_LIMIT as usize);
}

#[test]
fn play_loops_then_leaves() {
    let mut session = session(json!({
        "id": "p", "version": 1, "start": "p",
        "nodes": [
            {"id": "p", "type": "play", "data": {"kind": "play", "promptId": "beep", "loop": 3}},
            {"id": "bye", "type": "hangup", "data": {"kind": "hangup"}}
        ],
        "edges": [{"id": "e1", "source": "p", "target": "bye"}]
    }));
    let beep = play("p", PromptRef::catalog("beep"));
    assert_eq!(session.start(), beep);
    assert_eq!(session.resume(Outcome::Done), beep);
    assert_eq!(session.resume(Outcome::Done), beep);
    assert_eq!(
        session.resume(Outcome::Done),
        Directive::Execute(Command::Hangup { node: "bye".into() })
    );
    assert_eq!(session.current_node(), Some("bye"));
    // A caller hangup racing the hangup still ends at the hangup node.
    assert_eq!(
        session.resume(Outcome::CallerHangup),
        Directive::End(EndReason::Hangup { node: "bye".into() })
    );
}

#[test]
fn failed_commands_take_the_failed_edge_or_end() {
    let flow = |with_failed_edge: bool| {
        let mut edges = vec![json!({"id": "e1", "source": "p", "target": "bye"})];
        if with_failed_edge {
            edges.push(
                json!({"id": "e2", "source": "p", "target": "sorry", "sourceHandle": "failed"}),
            );
        }
        json!({
            "id": "f", "version": 1, "start": "p",
            "nodes": [
                {"id": "p", "type": "play", "data": {"kind": "play", "promptId": "missing"}},
                say("sorry"),
                {"id": "bye", "type": "hangup", "data": {"kind": "hangup"}}
            ],
            "edges": edges
        })
    };
    let mut with_edge = session(flow(true));
    with_edge.start();
    assert_eq!(
        with_edge.resume(Outcome::Failed("no such prompt".into())),
        play("sorry", PromptRef::text("sorry"))
    );
    let mut without = session(flow(false));
    without.start();
    assert_eq!(
        without.resume(Outcome::Failed("no such prompt".into())),
        Directive::End(EndReason::Failed {
            node: "p".into(),
            reason: "no such prompt".into()
        })
    );
}

#[test]
fn outcomes_that_do_not_fit_the_command_end_the_flow() {
    let mut session = demo();
    session.start();
    assert_eq!(
        session.resume(Outcome::Digits("1".into())),
        Directive::End(EndReason::UnexpectedOutcome {
            node: "welcome".into(),
            outcome: Outcome::Digits("1".into())
        })
    );
    let mut unstarted = demo();
    assert_eq!(
        unstarted.resume(Outcome::Done),
        Directive::End(EndReason::UnexpectedOutcome {
            node: "entry".into(),
            outcome: Outcome::Done
        })
    );
    let mut hung_up_early = demo();
    assert_eq!(
        hung_up_early.resume(Outcome::CallerHangup),
        Directive::End(EndReason::CallerHangup)
    );
}

#[test]
fn start_again_repeats_the_pending_command() {
    let mut session = demo();
    let first = session.start();
    assert_eq!(session.start(), first);
    assert_eq!(session.visited(), ["entry", "welcome"]);
    assert_eq!(session.current_node(), Some("welcome"));
}

#[test]
fn exposes_flow_identity_and_vars() {
    let vars = [("caller_cid".to_owned(), "+15551234567".to_owned())];
    let session = Session::new(load_node_graph(DEMO_FLOW_JSON).unwrap().program, vars);
    assert_eq!(
        session.vars().get("caller_cid").map(String::as_str),
        Some("+15551234567")
    );
    assert_eq!((session.flow_id(), session.flow_version()), ("demo", 1));
    assert_eq!(session.end_reason(), None);
}
