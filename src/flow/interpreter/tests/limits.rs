//! Safety limits: steps per cycle, commands per session, fetch_flow depth,
//! the on_complete chain; and fetch_flow / on_complete themselves.

use serde_json::json;

use super::*;
use crate::flow::trace::StartReason;
use crate::flow::{EndReason, Outcome, EXECUTION_LIMIT, FETCH_DEPTH_LIMIT, STEP_LIMIT};

#[test]
fn goto_loop_without_loop_count_trips_the_execution_limit() {
    let mut session = session(json!({"actions": [
        {"id": "top", "type": "talk", "option": {"text": "again"}},
        {"type": "goto", "option": {"target_id": "top"}}
    ]}));
    let mut directive = session.start(monday_10am());
    let mut commands = 0;
    while let Directive::Execute(_) = directive {
        commands += 1;
        directive = session.resume(Outcome::Done, monday_10am());
    }
    assert_eq!(commands, EXECUTION_LIMIT);
    assert_eq!(
        directive,
        Directive::End(EndReason::ExecutionLimit { node: "top".into() })
    );
    assert_eq!(
        summary(&directive),
        "end: more than 100 commands in one session at top (a loop?)"
    );
}

#[test]
fn pure_loop_trips_the_step_limit_in_one_cycle() {
    let mut session = session(json!({"actions": [
        {"id": "a", "type": "variable_set", "option": {"key": "x", "value": "1"}},
        {"type": "goto", "option": {"target_id": "a"}}
    ]}));
    assert_eq!(
        drive(&mut session, &[])[0],
        "end: more than 1000 nodes in one execution cycle at a (a loop without a command?)"
    );
    assert_eq!(session.visited().len(), STEP_LIMIT as usize);
    let mut graph_loop = super::session(json!({
        "id": "loop", "version": 1, "start": "a",
        "nodes": [
            {"id": "a", "type": "entry", "data": {"kind": "entry"}},
            {"id": "b", "type": "setVar", "data": {"kind": "setVar", "key": "k", "value": "v"}}
        ],
        "edges": [{"id": "e1", "source": "a", "target": "b"}, {"id": "e2", "source": "b", "target": "a"}]
    }));
    set_quiet(&mut graph_loop);
    assert!(matches!(
        graph_loop.start(monday_10am()),
        Directive::End(EndReason::StepLimit { .. })
    ));
}

fn set_quiet(session: &mut Session) {
    session.set_tracing(false);
}

#[test]
fn fetch_flow_runs_the_sub_flow_and_returns() {
    let sub = program(json!({"id": "sub", "version": 3, "actions": [
        {"type": "talk", "option": {"text": "in sub, ${language}"}}
    ]}));
    let main = program(json!({"id": "main", "actions": [
        {"type": "variable_set", "option": {"key": "language", "value": "fr-FR"}},
        {"type": "fetch_flow", "option": {"flow_id": "sub"}},
        {"type": "talk", "option": {"text": "back"}}
    ]}));
    let mut session = session_in(main, FlowEnv::new().with_flow(sub));
    assert_eq!(
        drive(&mut session, &["done", "done"]),
        [
            "play #0 speak:in sub, fr-FR",
            "play #2 speak:back",
            "end: end of actions reached after #2"
        ]
    );
    assert_eq!(session.visited(), ["#0", "#1", "#0", "#2"]);
    let starts: Vec<(String, StartReason)> = traces(&mut session)
        .into_iter()
        .filter_map(|event| match event {
            TraceEvent::FlowStarted {
                flow_id, reason, ..
            } => Some((flow_id, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        starts,
        [
            ("main".to_owned(), StartReason::Start),
            ("sub".to_owned(), StartReason::Fetch),
            ("main".to_owned(), StartReason::Return),
        ]
    );
    assert_eq!(session.flow_version(), 1);
}

#[test]
fn fetch_flow_recursion_trips_the_depth_limit() {
    let recursive = program(json!({"id": "rec", "actions": [
        {"type": "fetch_flow", "option": {"flow_id": "rec"}}
    ]}));
    let mut session = session_in(recursive.clone(), FlowEnv::new().with_flow(recursive));
    assert_eq!(
        drive(&mut session, &[])[0],
        format!("end: fetch_flow of \"rec\" at #0 would nest more than {FETCH_DEPTH_LIMIT} flows")
    );
    assert_eq!(session.visited().len(), FETCH_DEPTH_LIMIT + 1);
    let missing =
        program(json!({"actions": [{"type": "fetch_flow", "option": {"flow_id": "${nope}"}}]}));
    assert_eq!(
        drive(&mut session_in(missing, FlowEnv::new()), &[])[0],
        "end: #0 names flow \"\", which is not published"
    );
}

#[test]
fn on_complete_chain_inherits_variables_and_stops_at_five_flows() {
    let chained = program(
        json!({"id": "again", "on_complete_flow_id": "again", "actions": [
            {"type": "variable_set", "option": {"key": "seen", "value": "${seen}x"}},
            {"type": "talk", "option": {"text": "count ${voipbin.activeflow.complete_count}"}}
        ]}),
    );
    let env = FlowEnv::new().with_flow(chained.clone());
    let mut session = session_in(chained, env);
    let mut lines = Vec::new();
    loop {
        lines.push(drive(&mut session, &["hangup"])[0].clone());
        match session.take_follow_up() {
            Some(next) => session = next,
            None => break,
        }
    }
    assert_eq!(
        lines,
        [
            "play #1 speak:count 0",
            "play #1 speak:count 1",
            "play #1 speak:count 2",
            "play #1 speak:count 3",
            "play #1 speak:count 4",
        ]
    );
    assert_eq!(var(&session, "seen"), "xxxxx");
    assert_eq!(var(&session, "voipbin.activeflow.id"), "call-1:4");
    assert!(traces(&mut session)
        .iter()
        .any(|event| matches!(event, TraceEvent::OnCompleteSkipped { .. })));
    assert!(session.take_follow_up().is_none());
}

#[test]
fn on_complete_never_runs_after_a_failure_or_before_the_end() {
    let follow = program(json!({"id": "acw", "actions": [{"type": "stop"}]}));
    let main = program(
        json!({"id": "main", "on_complete_flow_id": "acw", "actions": [
            {"type": "answer"}
        ]}),
    );
    let env = || FlowEnv::new().with_flow(follow.clone());
    let mut failed = session_in(main.clone(), env());
    drive(&mut failed, &["failed:no media"]);
    assert!(failed.take_follow_up().is_none());
    let mut running = session_in(main.clone(), env());
    drive(&mut running, &[]);
    assert!(running.take_follow_up().is_none());
    let mut done = session_in(main, env());
    drive(&mut done, &["done"]);
    let mut next = done
        .take_follow_up()
        .unwrap_or_else(|| panic!("a follow-up"));
    assert_eq!(next.flow_id(), "acw");
    assert_eq!(next.complete_count(), 1);
    assert_eq!(drive(&mut next, &[])[0], "end: stopped at #0");
    assert_eq!(var(&next, "voipbin.activeflow.flow_id"), "acw");
}
