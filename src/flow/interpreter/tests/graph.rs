//! Node-graph sessions: edge selection, menu retries, collect, conditions,
//! setVar, httpRequest, time conditions, failures and unexpected outcomes.

use serde_json::{json, Value};

use super::*;
use crate::flow::schedule::{Schedule, ScheduleConfig};
use crate::flow::{EndReason, Outcome, DEMO_FLOW_JSON};

/// A graph flow from nodes (`[id, data]`) and edges (`[source, target, handle]`).
fn graph(start: &str, nodes: Value, edges: &[(&str, &str, Option<&str>)]) -> Value {
    let nodes: Vec<Value> = nodes
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|node| {
            let kind = node[1]["kind"].clone();
            json!({"id": node[0], "type": kind, "data": node[1]})
        })
        .collect();
    let edges: Vec<Value> = edges
        .iter()
        .enumerate()
        .map(|(index, (source, target, handle))| {
            json!({"id": format!("e{index}"), "source": source, "target": target, "sourceHandle": handle})
        })
        .collect();
    json!({"id": "t", "version": 1, "start": start, "nodes": nodes, "edges": edges})
}

fn say(text: &str) -> Value {
    json!({"kind": "say", "text": text})
}

fn demo() -> Session {
    session_in(program_text(DEMO_FLOW_JSON), FlowEnv::new())
}

#[test]
fn three_timeouts_replay_the_menu_then_leave_by_timeout() {
    let mut session = demo();
    assert_eq!(
        drive(
            &mut session,
            &["done", "timeout", "done", "timeout", "done", "timeout"]
        ),
        [
            "play welcome catalog:welcome",
            "gather menu catalog:menu max=1",
            "play menu catalog:invalid",
            "gather menu catalog:menu max=1",
            "play menu catalog:invalid",
            "gather menu catalog:menu max=1",
            "play goodbye catalog:goodbye",
        ]
    );
    assert_eq!(session.visited(), ["entry", "welcome", "menu", "goodbye"]);
    assert!(session.digits().is_empty());
}

#[test]
fn invalid_entry_then_digit_1() {
    let mut session = demo();
    let lines = drive(&mut session, &["done", "digits:7", "done", "digits:1"]);
    assert_eq!(lines[2], "play menu catalog:invalid");
    assert_eq!(lines[4], "play sales catalog:sales");
    assert_eq!(session.digits(), ["7", "1"]);
    assert_eq!(var(&session, "voipbin.call.digits"), "1");
}

#[test]
fn two_digit_menu_strips_the_terminator_and_matches_without_allocating_handles() {
    let flow = graph(
        "m",
        json!([
            ["m", {"kind": "menu", "promptText": "Extension?", "maxDigits": 2, "terminator": "#", "maxFailures": 1}],
            ["x42", say("42")],
            ["x4", say("4")],
            ["late", say("late")]
        ]),
        &[
            ("m", "x42", Some("digit:42")),
            ("m", "x4", Some("digit:4")),
            ("m", "late", Some("timeout")),
        ],
    );
    assert_eq!(
        drive(&mut session(flow.clone()), &["digits:42"])[1],
        "play x42 speak:42"
    );
    let mut terminated = session(flow.clone());
    assert_eq!(drive(&mut terminated, &["digits:4#"])[1], "play x4 speak:4");
    assert_eq!(terminated.digits(), ["4"]);
    // Only the terminator: no digits, a timeout.
    assert_eq!(
        drive(&mut session(flow), &["digits:#"])[1],
        "play late speak:late"
    );
}

#[test]
fn default_edge_catches_outcomes_and_named_edges_win() {
    let flow = graph(
        "m",
        json!([
            ["m", {"kind": "menu", "promptId": "m", "maxFailures": 1}],
            ["fallback", say("fallback")],
            ["one", say("one")]
        ]),
        &[("m", "fallback", None), ("m", "one", Some("digit:1"))],
    );
    assert_eq!(
        drive(&mut session(flow.clone()), &["timeout", "done"]),
        [
            "gather m catalog:m max=1",
            "play fallback speak:fallback",
            "end: no edge from fallback for outcome done and no default edge",
        ]
    );
    assert_eq!(
        drive(&mut session(flow), &["digits:1"])[1],
        "play one speak:one"
    );
}

#[test]
fn failures_take_only_an_explicit_failed_edge() {
    let flow = |failed_edge: bool| {
        let mut edges = vec![("p", "bye", None)];
        if failed_edge {
            edges.push(("p", "sorry", Some("failed")));
        }
        graph(
            "p",
            json!([
                ["p", {"kind": "play", "promptId": "missing"}],
                ["sorry", say("sorry")],
                ["bye", {"kind": "hangup"}]
            ]),
            &edges,
        )
    };
    assert_eq!(
        drive(&mut session(flow(true)), &["failed:no such prompt"])[1],
        "play sorry speak:sorry"
    );
    let mut without = session(flow(false));
    assert_eq!(
        drive(&mut without, &["failed:no such prompt"])[1],
        "end: p failed: no such prompt"
    );
    assert!(without.end_reason().is_some_and(EndReason::is_failure));
}

#[test]
fn caller_hangup_ends_and_the_end_sticks() {
    let mut session = demo();
    let lines = drive(&mut session, &["done", "hangup", "done"]);
    assert_eq!(lines[2], "end: caller hung up during menu");
    assert_eq!(lines[3], lines[2]);
    assert_eq!(summary(&session.start(monday_10am())), lines[2]);
    assert_eq!(session.current_node(), None);
    // A hangup racing the hangup command still ends at the hangup node.
    let mut racing = session_in(
        program(graph(
            "bye",
            json!([["bye", {"kind": "hangup", "reason": "done here"}]]),
            &[],
        )),
        FlowEnv::new(),
    );
    assert_eq!(
        drive(&mut racing, &["hangup"]),
        ["hangup bye done here", "end: hangup at bye"]
    );
}

#[test]
fn unexpected_outcomes_end_the_flow() {
    let mut session = demo();
    assert_eq!(
        drive(&mut session, &["digits:1"])[1],
        "end: welcome cannot return digits:1"
    );
    let mut unstarted = demo();
    assert_eq!(
        summary(&unstarted.resume(Outcome::Done, monday_10am())),
        "end: entry cannot return done"
    );
    let mut hung_up_early = demo();
    assert_eq!(
        summary(&hung_up_early.resume(Outcome::CallerHangup, monday_10am())),
        "end: caller hung up during entry"
    );
}

#[test]
fn start_again_repeats_the_pending_command() {
    let mut session = demo();
    let first = session.start(monday_10am());
    assert_eq!(session.start(monday_10am()), first);
    assert_eq!(session.visited(), ["entry", "welcome"]);
    assert_eq!(
        session.current_node().map(|id| id.as_str()),
        Some("welcome")
    );
    assert_eq!(session.commands_issued(), 1);
}

#[test]
fn play_loop_is_one_command() {
    let flow = graph(
        "p",
        json!([["p", {"kind": "play", "audioUrl": "https://x/beep.wav", "loop": 3}], ["bye", {"kind": "hangup"}]]),
        &[("p", "bye", None)],
    );
    assert_eq!(
        drive(&mut session(flow), &["done"]),
        ["play p url:https://x/beep.wav x3", "hangup bye"]
    );
}

#[test]
fn collect_validates_retries_and_saves_the_variable() {
    let flow = graph(
        "acct",
        json!([
            ["acct", {"kind": "collect", "variable": "account", "promptText": "Account number?",
                      "minDigits": 4, "maxDigits": 6, "pattern": "Z!", "maxFailures": 2,
                      "invalidPromptText": "Not valid."}],
            ["ok", say("Account ${account}")],
            ["bad", say("bad")],
            ["late", say("late")]
        ]),
        &[
            ("acct", "ok", Some("collected")),
            ("acct", "bad", Some("invalid")),
            ("acct", "late", Some("timeout")),
        ],
    );
    let mut good = session(flow.clone());
    assert_eq!(
        drive(&mut good, &["digits:12#", "done", "digits:1234#"]),
        [
            "gather acct speak:Account number? max=6",
            "play acct speak:Not valid.",
            "gather acct speak:Account number? max=6",
            "play ok speak:Account 1234",
        ]
    );
    assert_eq!(var(&good, "account"), "1234");
    // The pattern wants a first digit 1-9: two failures leave by invalid.
    let mut bad = session(flow.clone());
    assert_eq!(
        drive(&mut bad, &["digits:0123", "done", "digits:0999#"])[3],
        "play bad speak:bad"
    );
    assert_eq!(var(&bad, "account"), "");
    assert_eq!(
        drive(&mut session(flow), &["timeout", "done", "timeout"])[3],
        "play late speak:late"
    );
}

#[test]
fn condition_and_set_var_resolve_without_commands() {
    let flow = graph(
        "set",
        json!([
            ["set", {"kind": "setVar", "key": "tier", "value": "gold", "vars": {"score": 42}}],
            ["is_gold", {"kind": "condition", "variable": "tier", "operator": "equal", "value": "gold"}],
            ["big", {"kind": "condition", "variable": "${score}", "operator": ">=", "value": 40}],
            ["yes", say("big gold")],
            ["no", say("no")]
        ]),
        &[
            ("set", "is_gold", None),
            ("is_gold", "big", Some("true")),
            ("is_gold", "no", Some("false")),
            ("big", "yes", Some("true")),
            ("big", "no", None),
        ],
    );
    let mut session = session(flow);
    assert_eq!(drive(&mut session, &[]), ["play yes speak:big gold"]);
    assert_eq!(session.visited(), ["set", "is_gold", "big", "yes"]);
    let decisions: Vec<String> = traces(&mut session)
        .into_iter()
        .filter_map(|event| match event {
            TraceEvent::Decision { node, outcome } => Some(format!("{node}={outcome}")),
            _ => None,
        })
        .collect();
    assert_eq!(decisions, ["is_gold=true", "big=true"]);
}

#[test]
fn http_request_saves_the_flattened_response_and_branches_on_status() {
    let flow = graph(
        "lookup",
        json!([
            ["lookup", {"kind": "httpRequest", "url": "https://crm/lookup?from=${caller_cid}",
                        "method": "POST", "headers": {"X-Key": "k"}, "body": {"phone": "${caller_cid}"},
                        "saveAs": "r"}],
            ["ok", say("Hi ${r.name}, ${r.tags.1}")],
            ["err", say("error")]
        ]),
        &[
            ("lookup", "ok", Some("success")),
            ("lookup", "err", Some("error")),
        ],
    );
    let mut ok = session(flow.clone());
    let Directive::Execute(Command::Http {
        url,
        headers,
        body,
        wait,
        ..
    }) = ok.start(monday_10am())
    else {
        panic!("expected an http command");
    };
    assert_eq!(url, "https://crm/lookup?from=+15550001111");
    assert_eq!(headers, [("X-Key".to_owned(), "k".to_owned())]);
    assert_eq!(body.as_deref(), Some(r#"{"phone":"+15550001111"}"#));
    assert!(wait);
    let next = ok.resume(
        parse_event(r#"http:200:{"name":"Ann","tags":["a","b"],"n":{"x":1}}"#)
            .unwrap_or(Outcome::Done),
        monday_10am(),
    );
    assert_eq!(summary(&next), "play ok speak:Hi Ann, b");
    assert_eq!(var(&ok, "r.n.x"), "1");
    assert_eq!(
        drive(&mut session(flow.clone()), &["http:404:nope"])[1],
        "play err speak:error"
    );
    let mut failed = session(flow);
    assert_eq!(
        drive(&mut failed, &["failed:timeout"])[1],
        "end: lookup failed: timeout"
    );
}

#[test]
fn time_condition_routes_by_schedule_and_falls_back_for_holidays() {
    let schedule: ScheduleConfig = serde_json::from_value(json!({
        "id": "office", "timezone": "UTC",
        "hours": [{"days": "mon-fri", "open": "09:00", "close": "17:00"}],
        "holidays": ["2026-12-25"]
    }))
    .unwrap_or_else(|error| panic!("{error}"));
    let env = || {
        FlowEnv::new()
            .with_schedule(Schedule::from_config(&schedule).unwrap_or_else(|e| panic!("{e}")))
    };
    let flow = |with_holiday: bool| {
        let mut edges = vec![
            ("hours", "open", Some("in_hours")),
            ("hours", "closed", Some("out_of_hours")),
        ];
        if with_holiday {
            edges.push(("hours", "holiday", Some("holiday")));
        }
        program(graph(
            "hours",
            json!([
                ["hours", {"kind": "timeCondition", "scheduleId": "office"}],
                ["open", say("open")], ["closed", say("closed")], ["holiday", say("holiday")]
            ]),
            &edges,
        ))
    };
    let run = |with_holiday: bool, now| {
        drive_at(&mut session_in(flow(with_holiday), env()), now, &[])[0].clone()
    };
    assert_eq!(run(false, at(2026, 3, 2, 10, 0)), "play open speak:open");
    assert_eq!(
        run(false, at(2026, 3, 2, 18, 0)),
        "play closed speak:closed"
    );
    assert_eq!(
        run(false, at(2026, 12, 25, 10, 0)),
        "play closed speak:closed"
    );
    assert_eq!(
        run(true, at(2026, 12, 25, 10, 0)),
        "play holiday speak:holiday"
    );
    // Unknown schedule at run time: a failure.
    assert_eq!(
        drive(&mut session_in(flow(false), FlowEnv::new()), &[])[0],
        "end: hours failed: no schedule \"office\""
    );
}

#[test]
fn callback_and_last_called_user_fall_through_with_a_trace() {
    let flow = graph(
        "cb",
        json!([["cb", {"kind": "callback", "queueId": "q1"}], ["lcu", {"kind": "lastCalledUser"}], ["end", say("end")]]),
        &[("cb", "lcu", None), ("lcu", "end", None)],
    );
    let mut session = session(flow);
    assert_eq!(drive(&mut session, &[]), ["play end speak:end"]);
    let skipped = traces(&mut session)
        .into_iter()
        .filter(|event| matches!(event, TraceEvent::ActionSkipped { .. }))
        .count();
    assert_eq!(skipped, 2);
}

#[test]
fn api_record_start_node_speaks_its_prompt() {
    let record = include_str!("../../../../tests/flows/seed004_customer_support_record.json");
    let mut session = session_in(program_text(record), FlowEnv::new());
    assert_eq!(
        drive(&mut session, &["done"]),
        [
            "play node1 speak:Welcome to our support line. How can I h…",
            "end: no edge from node1 for outcome done and no default edge",
        ]
    );
    assert_eq!(session.flow_id(), "676b8e123456789012345678");
    assert_eq!(session.flow_version(), 1);
}
