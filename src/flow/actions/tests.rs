//! Action-array validation: every problem with its JSON path, warnings, and
//! the exits each action compiles to.

use serde_json::{json, Value};

use crate::flow::actions::read_action_array;
use crate::flow::handle::{ANSWERED, FAILED, FALSE, JUMP};
use crate::flow::program::NodeIndex;

fn errors_of(value: Value) -> Vec<String> {
    match read_action_array(&value) {
        Ok(compiled) => panic!("expected errors, got {:?}", compiled.program),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn warnings_of(value: Value) -> Vec<String> {
    match read_action_array(&value) {
        Ok(compiled) => compiled.warnings.iter().map(ToString::to_string).collect(),
        Err(errors) => panic!("{errors:?}"),
    }
}

fn action_errors(action: Value) -> Vec<String> {
    errors_of(json!({"actions": [action]}))
}

#[test]
fn top_level_problems() {
    assert_eq!(
        errors_of(json!({"name": "x"})),
        ["actions: missing, expected an array"]
    );
    assert_eq!(
        errors_of(json!({"actions": []})),
        ["actions: expected at least one action"]
    );
    assert_eq!(
        errors_of(
            json!({"id": 5, "version": "2", "on_complete_flow_id": "", "actions": [{"type": "stop"}]})
        ),
        [
            "id: expected a non-empty string, got 5",
            "version: expected an integer ≥ 0, got \"2\"",
            "on_complete_flow_id: expected a non-empty string, got \"\"",
        ]
    );
}

#[test]
fn unknown_types_missing_fields_and_dangling_targets() {
    let errors = errors_of(json!({"actions": [
        {"type": "talk"},
        {"id": "x", "type": "teleport"},
        {"type": "goto", "option": {"target_id": "nowhere"}},
        {"id": "x", "type": "branch", "option": {"target_ids": {"1": "ghost"}, "default_target_id": "x"}},
        {"type": "condition_variable", "option": {"variable": "v", "false_target_id": "gone"}},
        {"type": "digits_receive", "option": {"duration": "5s", "length": 0, "key": "##"}},
        "answer"
    ]}));
    assert_eq!(
        errors,
        [
            "actions[0].option.text: missing, expected a non-empty string",
            format!(
                "actions[1].type: unknown action type \"teleport\" (supported: {})",
                crate::flow::actions::action_types::SUPPORTED_ACTIONS.join(", ")
            )
            .as_str(),
            "actions[5].option.duration: expected an integer ≥ 1, got \"5s\"",
            "actions[5].option.length: expected an integer ≥ 1, got 0",
            "actions[5].option.key: expected one DTMF key (0-9, *, #, A-D), got \"##\"",
            "actions[6]: expected an object, got \"answer\"",
            "actions[3].id: duplicate action id \"x\" (first at actions[1])",
            "actions[2].option.target_id: no action with id \"nowhere\"",
            "actions[3].option.target_ids.1: no action with id \"ghost\"",
            "actions[4].option.false_target_id: no action with id \"gone\"",
        ]
    );
}

#[test]
fn every_action_reports_its_bad_fields() {
    let cases = [
        (json!({"type": "play", "option": {"stream_urls": []}}), "actions[0].option.stream_urls: expected at least one URL"),
        (json!({"type": "play", "option": {"stream_urls": ["ok", 3]}}), "actions[0].option.stream_urls[1]: expected a non-empty string"),
        (json!({"type": "digits_send", "option": {}}), "actions[0].option.digits: missing, expected a non-empty string"),
        (json!({"type": "goto", "option": {"target_id": "a", "loop_count": -1}}), "actions[0].option.loop_count: expected an integer ≥ 0, got -1"),
        (json!({"type": "condition_variable", "option": {"variable": "v", "condition": "like"}}), "actions[0].option.condition: expected a comparison (==, !=, >, >=, <, <=, equal, not_equal, greater, greater_equal, less, less_equal), got \"like\""),
        (json!({"type": "condition_variable", "option": {"variable": "v", "value_type": "number"}}), "actions[0].option.value_number: missing, expected a number (value_type is number)"),
        (json!({"type": "condition_datetime", "option": {"hour": 24}}), "actions[0].option.hour: expected an integer from -1 to 23, got 24"),
        (json!({"type": "condition_datetime", "option": {"weekdays": [1, 9]}}), "actions[0].option.weekdays[1]: expected a weekday 0 (Sunday) to 6 (Saturday), got 9"),
        (json!({"type": "variable_set", "option": {"value": "x"}}), "actions[0].option.key: missing, expected a non-empty string"),
        (json!({"type": "recording_start", "option": {"format": "flac"}}), "actions[0].option.format: expected one of wav, mp3, ogg, , got \"flac\""),
        (json!({"type": "recording_start", "option": {"channels": "quad"}}), "actions[0].option.channels: expected one of mono, dual, , got \"quad\""),
        (json!({"type": "queue_join"}), "actions[0].option.queue_id: missing, expected a non-empty string"),
        (json!({"type": "connect", "option": {"destinations": []}}), "actions[0].option.destinations: expected at least one destination"),
        (json!({"type": "connect", "option": {"destinations": [{"type": "tel"}]}}), "actions[0].option.destinations[0].target: missing, expected a non-empty string"),
        (json!({"type": "call", "option": {"destinations": [{"target": "1"}], "actions": [{"type": "nope"}]}}), "actions[0].option.actions[0].type: unknown action type \"nope\""),
        (json!({"type": "fetch_flow", "option": {"flow_id": ""}}), "actions[0].option.flow_id: expected a non-empty string, got \"\""),
        (json!({"type": "webhook_send", "option": {"uri": "u", "sync": "yes"}}), "actions[0].option.sync: expected true or false, got \"yes\""),
        (json!({"type": "sleep"}), "actions[0].option.duration: missing, expected an integer ≥ 0"),
        (json!({"type": "talk", "option": "hi"}), "actions[0].option: expected an object, got \"hi\""),
    ];
    for (action, expected) in cases {
        let errors = action_errors(action.clone());
        assert!(
            errors.iter().any(|error| error.starts_with(expected)),
            "{action}: {errors:?}"
        );
    }
}

#[test]
fn warnings_for_unsupported_actions_unknown_fields_and_unreachable_actions() {
    assert_eq!(
        warnings_of(json!({"actions": [
            {"type": "talk", "option": {"text": "x", "lenght": 1}},
            {"type": "email_send", "option": {"to": "a@b"}},
            {"type": "hangup"},
            {"type": "talk", "option": {"text": "never"}},
            {"id": "target", "type": "stop"}
        ]})),
        [
            "actions[0].option.lenght: unknown field; ignored",
            "actions[1].type: \"email_send\" is not performed by this engine (needs an email service); it is skipped at run time",
            "actions[3]: action \"#3\" is never reached",
            "actions[4]: action \"target\" is never reached",
        ]
    );
}

#[test]
fn actions_compile_to_exits_over_the_next_action() {
    let compiled = read_action_array(&json!({"id": "f", "actions": [
        {"id": "a", "type": "answer"},
        {"type": "condition_variable", "option": {"variable": "x", "value_string": "1", "false_target_id": "a"}},
        {"type": "goto", "option": {"target_id": "a"}},
        {"type": "queue_join", "option": {"queue_id": "q"}},
        {"type": "branch", "option": {"target_ids": {"1": "a"}, "default_target_id": "end"}},
        {"id": "end", "type": "hangup"}
    ]}))
    .unwrap_or_else(|errors| panic!("{errors:?}"));
    let nodes = compiled.program.nodes();
    assert_eq!(nodes[0].exits.default_exit(), Some(NodeIndex(1)));
    assert_eq!(nodes[0].exits.exact(FAILED), None);
    assert_eq!(nodes[1].exits.exact(FALSE), Some(NodeIndex(0)));
    assert_eq!(nodes[1].exits.exact(FAILED), None);
    assert_eq!(nodes[3].exits.exact(FAILED), Some(NodeIndex(4)));
    assert_eq!(nodes[2].exits.exact(JUMP), Some(NodeIndex(0)));
    assert_eq!(nodes[3].exits.exact(ANSWERED), Some(NodeIndex(4)));
    assert_eq!(nodes[4].exits.exact("1"), Some(NodeIndex(0)));
    assert_eq!(nodes[4].exits.default_exit(), Some(NodeIndex(5)));
    assert!(nodes[5].exits.is_empty());
    let ids: Vec<&str> = nodes.iter().map(|node| node.id.as_str()).collect();
    assert_eq!(ids, ["a", "#1", "#2", "#3", "#4", "end"]);
    let references: Vec<String> = compiled
        .program
        .references()
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(references, ["actions[3].option.queue_id"]);
}
