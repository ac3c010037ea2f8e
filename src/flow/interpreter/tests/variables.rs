//! Variables: built-ins under both naming schemes, the route's dest_xform,
//! templating in commands, unknown variables in the trace.

use serde_json::json;

use super::*;
use crate::flow::program::NodeId;

#[test]
fn built_ins_come_from_the_call_facts() {
    let mut facts = facts();
    facts.activeflow_id = Some("af-9".into());
    facts.extra.push(("route".into(), "main".into()));
    let session = Session::new(
        program(json!({"id": "f", "actions": [{"type": "stop"}]})),
        Arc::new(FlowEnv::new()),
        facts,
        None,
    );
    for (key, value) in [
        ("caller_cid", "+15550001111"),
        ("callee", "+15559990000"),
        ("call_id", "call-1"),
        ("voipbin.call.caller_id", "+15550001111"),
        ("voipbin.call.source.target", "+15550001111"),
        ("voipbin.call.destination.target", "+15559990000"),
        ("voipbin.call.id", "call-1"),
        ("voipbin.call.digits", ""),
        ("voipbin.call.status", "ringing"),
        ("voipbin.activeflow.id", "af-9"),
        ("voipbin.activeflow.reference_id", "call-1"),
        ("voipbin.activeflow.flow_id", "f"),
        ("voipbin.activeflow.complete_count", "0"),
        ("route", "main"),
    ] {
        assert_eq!(var(&session, key), value, "{key}");
    }
}

#[test]
fn dest_xform_is_applied_on_entry_with_templates_and_flattening() {
    let transform = json!({
        "greeting": "Hello ${caller_cid}${missing}",
        "tier": 2,
        "customer": {"lang": "de", "ids": [7]}
    });
    let mut session = Session::new(
        program(
            json!({"actions": [{"type": "talk", "option": {"text": "${greeting} ${customer.lang}", "language": "${customer.lang}"}}]}),
        ),
        Arc::new(FlowEnv::new()),
        facts(),
        transform.as_object(),
    );
    assert_eq!(var(&session, "tier"), "2");
    assert_eq!(var(&session, "customer.ids.0"), "7");
    let Directive::Execute(Command::Play { audio, .. }) = session.start(monday_10am()) else {
        panic!("expected a play");
    };
    assert_eq!(
        audio,
        [Audio::Speak {
            text: "Hello +15550001111 de".into(),
            language: Some("de".into()),
            voice: None
        }]
    );
    let events = traces(&mut session);
    assert!(events.contains(&TraceEvent::UnknownVariable {
        node: NodeId::from("dest_xform"),
        name: "missing".into()
    }));
    assert!(events.contains(&TraceEvent::VarSet {
        node: NodeId::from("dest_xform"),
        key: "tier".into(),
        value: "2".into()
    }));
}

#[test]
fn unknown_variables_expand_to_empty_and_are_traced_with_their_node() {
    let mut session = session(json!({"actions": [
        {"id": "greet", "type": "talk", "option": {"text": "Hi ${who}!"}}
    ]}));
    assert_eq!(drive(&mut session, &[]), ["play greet speak:Hi !"]);
    assert!(traces(&mut session).contains(&TraceEvent::UnknownVariable {
        node: NodeId::from("greet"),
        name: "who".into()
    }));
}

#[test]
fn tracing_can_be_switched_off() {
    let mut session = session(json!({"actions": [
        {"type": "variable_set", "option": {"key": "a", "value": "1"}},
        {"type": "stop"}
    ]}));
    session.set_tracing(false);
    drive(&mut session, &[]);
    assert!(session.poll_trace().is_none());
    assert_eq!(var(&session, "a"), "1");
    assert_eq!(session.trace_dropped(), 0);
}
