//! Action-array sessions: the cursor, digits, branch, goto with loop counts,
//! conditions, webhooks, recordings, calls, unsupported actions and the end.

use serde_json::json;

use super::*;

#[test]
fn cursor_walks_in_order_and_ends_after_the_last_action() {
    let mut session = session(json!({"actions": [
        {"type": "answer"},
        {"type": "talk", "option": {"text": "Hi", "language": "en-US"}},
        {"type": "beep"},
        {"type": "sleep", "option": {"duration": 500}},
        {"type": "digits_send", "option": {"digits": "12#"}},
        {"type": "empty"}
    ]}));
    assert_eq!(
        drive(&mut session, &["done", "done", "done", "done", "done"]),
        [
            "answer #0",
            "play #1 speak:Hi",
            "play #2 beep",
            "sleep #3 500ms",
            "send_digits #4 12#",
            "end: end of actions reached after #5",
        ]
    );
    assert_eq!(var(&session, "voipbin.call.status"), "progressing");
    assert_eq!(session.flow_id(), "flow");
}

#[test]
fn digits_receive_keeps_the_terminator_and_branch_jumps() {
    let flow = json!({"actions": [
        {"id": "ask", "type": "digits_receive", "option": {"duration": 3000, "length": 4, "key": "#"}},
        {"type": "branch", "option": {"target_ids": {"#": "only-key", "12#": "twelve"}}},
        {"type": "talk", "option": {"text": "fallthrough ${voipbin.call.digits}"}},
        {"type": "stop"},
        {"id": "only-key", "type": "talk", "option": {"text": "just pound"}},
        {"id": "twelve", "type": "talk", "option": {"text": "twelve"}}
    ]});
    let mut pound = session(flow.clone());
    let start = pound.start(monday_10am());
    let Directive::Execute(Command::Gather {
        max_digits,
        terminator,
        timeout,
        audio,
        ..
    }) = start
    else {
        panic!("expected a gather");
    };
    assert_eq!(
        (max_digits, terminator, timeout.as_millis(), audio.len()),
        (4, Some('#'), 3000, 0)
    );
    assert_eq!(
        drive(&mut pound, &["digits:#"])[1],
        "play only-key speak:just pound"
    );
    assert_eq!(var(&pound, "voipbin.call.digits"), "#");
    assert_eq!(
        drive(&mut session(flow.clone()), &["digits:12#"])[1],
        "play twelve speak:twelve"
    );
    let mut other = session(flow.clone());
    assert_eq!(
        drive(&mut other, &["digits:9", "done"])[1..],
        ["play #2 speak:fallthrough 9", "end: stopped at #3"]
    );
    let mut silent = session(flow);
    assert_eq!(
        drive(&mut silent, &["timeout"])[1],
        "play #2 speak:fallthrough"
    );
    assert_eq!(silent.digits(), [] as [String; 0]);
}

#[test]
fn goto_loop_count_jumps_that_many_times_then_falls_through() {
    let mut session = session(json!({"actions": [
        {"id": "again", "type": "talk", "option": {"text": "Please choose"}},
        {"type": "goto", "option": {"target_id": "again", "loop_count": 2}},
        {"type": "hangup"}
    ]}));
    assert_eq!(
        drive(&mut session, &["done", "done", "done"]),
        [
            "play again speak:Please choose",
            "play again speak:Please choose",
            "play again speak:Please choose",
            "hangup #2",
        ]
    );
    assert!(traces(&mut session)
        .iter()
        .any(|event| matches!(event, TraceEvent::GotoExhausted { loop_count: 2, .. })));
}

#[test]
fn condition_variable_compares_strings_and_numbers() {
    let flow = |value_type: &str, condition: &str, value: serde_json::Value| {
        let mut option = json!({"condition": condition, "variable": "score", "value_type": value_type,
                                "false_target_id": "no"});
        let key = if value_type == "number" {
            "value_number"
        } else {
            "value_string"
        };
        option[key] = value;
        json!({"actions": [
            {"type": "variable_set", "option": {"key": "score", "value": "10"}},
            {"type": "condition_variable", "option": option},
            {"type": "talk", "option": {"text": "yes"}},
            {"type": "stop"},
            {"id": "no", "type": "talk", "option": {"text": "no"}}
        ]})
    };
    let first = |flow| drive(&mut session(flow), &[])[0].clone();
    assert_eq!(first(flow("number", ">", json!(9))), "play #2 speak:yes");
    assert_eq!(first(flow("string", ">", json!("9"))), "play no speak:no");
    assert_eq!(
        first(flow("string", "==", json!("10"))),
        "play #2 speak:yes"
    );
    assert_eq!(
        first(flow("number", "less_equal", json!(9.5))),
        "play no speak:no"
    );
}

#[test]
fn condition_datetime_checks_utc_time_and_weekdays() {
    let flow = json!({"actions": [
        {"type": "condition_datetime", "option": {"condition": ">=", "hour": 9, "minute": 0,
            "day": -1, "month": 0, "weekdays": [1, 2, 3, 4, 5], "false_target_id": "closed"}},
        {"type": "talk", "option": {"text": "open"}},
        {"type": "stop"},
        {"id": "closed", "type": "talk", "option": {"text": "closed"}}
    ]});
    let run = |now| drive_at(&mut session(flow.clone()), now, &[])[0].clone();
    assert_eq!(run(at(2026, 3, 2, 9, 30)), "play #1 speak:open");
    assert_eq!(run(at(2026, 3, 2, 8, 59)), "play closed speak:closed");
    assert_eq!(run(at(2026, 3, 1, 12, 0)), "play closed speak:closed");
}

#[test]
fn sync_webhook_merges_a_json_response_and_async_fires_and_forgets() {
    let flow = json!({"actions": [
        {"type": "webhook_send", "option": {"sync": true, "uri": "https://api/x", "method": "POST",
            "data_type": "application/json", "data": "{\"phone\": \"${voipbin.call.source.target}\"}"}},
        {"type": "webhook_send", "option": {"uri": "https://api/log", "data": {"id": "${voipbin.call.id}"}}},
        {"type": "talk", "option": {"text": "Hello ${customer.name}"}}
    ]});
    let mut session = session(flow.clone());
    let Directive::Execute(Command::Http { body, headers, .. }) = session.start(monday_10am())
    else {
        panic!("expected http");
    };
    assert_eq!(body.as_deref(), Some("{\"phone\": \"+15550001111\"}"));
    assert_eq!(
        headers,
        [("Content-Type".to_owned(), "application/json".to_owned())]
    );
    assert_eq!(
        drive(
            &mut session,
            &[
                r#"http:200:{"customer":{"name":"John","tags":["a"]}}"#,
                "done"
            ]
        )[1..],
        [
            "http #1 POST https://api/log async",
            "play #2 speak:Hello John"
        ]
    );
    assert_eq!(var(&session, "customer.tags.0"), "a");
    // A failed sync webhook goes on with nothing merged.
    let mut failed = super::session(flow);
    assert_eq!(
        drive(&mut failed, &["failed:connection refused", "done"])[2],
        "play #2 speak:Hello"
    );
    assert!(traces(&mut failed).iter().any(
        |event| matches!(event, TraceEvent::UnknownVariable { name, .. } if name == "customer.name")
    ));
}

#[test]
fn recordings_get_ids_and_failed_media_goes_on() {
    let mut session = session(json!({"actions": [
        {"type": "recording_start", "option": {"format": "mp3", "end_of_silence": 5, "duration": 120}},
        {"type": "talk", "option": {"text": "Recording ${voipbin.recording.id}"}},
        {"type": "recording_stop"},
        {"type": "hangup", "option": {"reason": "normal"}}
    ]}));
    assert_eq!(
        drive(&mut session, &["done", "failed:no tts", "done", "done"]),
        [
            "record_start #0 call-1-rec-1",
            "play #1 speak:Recording call-1-rec-1",
            "record_stop #2 call-1-rec-1",
            "hangup #3 normal",
            "end: hangup at #3",
        ]
    );
    assert!(traces(&mut session).iter().any(
        |event| matches!(event, TraceEvent::CommandFailed { reason, .. } if reason == "no tts")
    ));
}

#[test]
fn answer_failure_ends_the_flow() {
    let mut session = session(
        json!({"actions": [{"type": "answer"}, {"type": "talk", "option": {"text": "x"}}]}),
    );
    assert_eq!(
        drive(&mut session, &["failed:488"])[1],
        "end: #0 failed: 488"
    );
}

#[test]
fn connect_sets_the_call_status_and_continues_after_the_bridge() {
    let flow = json!({"actions": [
        {"type": "connect", "option": {"source": {"type": "tel", "target": "+1000"},
            "destinations": [{"type": "tel", "target": "+1001"}, {"type": "tel", "target": "+1002"}]}},
        {"type": "talk", "option": {"text": "${voipbin.call.status}"}}
    ]});
    let mut answered = session(flow.clone());
    assert_eq!(
        drive(&mut answered, &["answered", "bridge_ended"]),
        [
            "connect #0 dial +1001,+1002",
            "wait #0",
            "play #1 speak:progressing"
        ]
    );
    for (event, status) in [
        ("no_answer", "no_answer"),
        ("busy", "busy"),
        ("failed:x", "failed"),
    ] {
        assert_eq!(
            drive(&mut session(flow.clone()), &[event])[1],
            format!("play #1 speak:{status}")
        );
    }
}

#[test]
fn call_places_a_new_call_with_its_own_flow_and_goes_on() {
    let mut session = session(json!({"id": "after", "actions": [
        {"type": "call", "option": {
            "source": {"type": "tel", "target": "+1000"},
            "destinations": [{"type": "tel", "target": "${voipbin.call.source.target}"}],
            "actions": [{"type": "talk", "option": {"text": "Survey"}}, {"type": "hangup"}]}},
        {"type": "stop"}
    ]}));
    let Directive::Execute(Command::Connect {
        kind,
        targets,
        flow,
        ..
    }) = session.start(monday_10am())
    else {
        panic!("expected a connect");
    };
    assert_eq!(
        (kind.name(), targets),
        ("call", vec!["+15550001111".to_owned()])
    );
    let flow = flow.unwrap_or_else(|| panic!("the call carries its flow"));
    assert_eq!(flow.id(), "after/#0");
    let mut callee = session_in(flow, FlowEnv::new());
    assert_eq!(
        drive(&mut callee, &["done"]),
        ["play #0 speak:Survey", "hangup #1"]
    );
    assert_eq!(drive(&mut session, &["done"])[1], "end: stopped at #1");
}

#[test]
fn unsupported_actions_are_skipped_with_a_trace() {
    let mut session = session(json!({"actions": [
        {"type": "transcribe_start", "option": {"language": "en-US"}},
        {"type": "ai_talk", "option": {"ai_id": "x"}},
        {"type": "talk", "option": {"text": "after"}}
    ]}));
    assert_eq!(drive(&mut session, &[]), ["play #2 speak:after"]);
    let skipped: Vec<String> = traces(&mut session)
        .into_iter()
        .filter_map(|event| match event {
            TraceEvent::ActionSkipped { action, .. } => Some(action),
            _ => None,
        })
        .collect();
    assert_eq!(skipped, ["transcribe_start", "ai_talk"]);
}

#[test]
fn bare_arrays_are_action_flows() {
    let mut session = session_in(program_text(r#"[{"type": "hangup"}]"#), FlowEnv::new());
    assert_eq!(
        drive(&mut session, &["done"]),
        ["hangup #0", "end: hangup at #0"]
    );
}

#[test]
fn block_waits_until_resumed_and_then_moves_on() {
    let mut session = session(json!({"actions": [
        {"type": "answer"},
        {"id": "wait", "type": "block"},
        {"id": "after", "type": "talk", "option": {"text": "Resumed"}},
        {"type": "hangup"}
    ]}));
    assert_eq!(
        drive(&mut session, &["done", "done", "done"]),
        [
            "answer #0",
            "block wait",
            "play after speak:Resumed",
            "hangup #3",
        ]
    );
    // A caller who leaves while the flow is blocked ends it there.
    let mut left = session_of_block();
    assert_eq!(
        drive(&mut left, &["done", "hangup"])
            .last()
            .map(String::as_str),
        Some("end: caller hung up during wait")
    );
}

fn session_of_block() -> Session {
    session(json!({"actions": [
        {"type": "answer"},
        {"id": "wait", "type": "block"},
        {"type": "hangup"}
    ]}))
}
