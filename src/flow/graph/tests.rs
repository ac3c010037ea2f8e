//! Node-graph and API-record validation: every problem with its JSON path,
//! warnings, and the data of every kind.

use serde_json::{json, Value};

use crate::flow::graph::{read_api_record, read_node_graph};
use crate::flow::program::Step;

fn errors_of(value: Value) -> Vec<String> {
    match read_node_graph(&value) {
        Ok(compiled) => panic!("expected errors, got {:?}", compiled.program),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn warnings_of(value: Value) -> Vec<String> {
    match read_node_graph(&value) {
        Ok(compiled) => compiled.warnings.iter().map(ToString::to_string).collect(),
        Err(errors) => panic!("{errors:?}"),
    }
}

fn one_node(data: Value) -> Value {
    let kind = data["kind"].clone();
    json!({"id": "f", "version": 1, "start": "n", "nodes": [{"id": "n", "type": kind, "data": data}], "edges": []})
}

fn node_errors(data: Value) -> Vec<String> {
    errors_of(one_node(data))
}

#[test]
fn root_must_be_an_object_with_the_top_level_fields() {
    assert_eq!(
        errors_of(json!([])),
        ["$: expected an object, got an array"]
    );
    assert_eq!(
        errors_of(json!({"name": 3, "version": -1, "nodes": {}})),
        [
            "id: missing, expected a non-empty string",
            "name: expected a string, got 3",
            "version: expected an integer ≥ 0, got -1",
            "nodes: expected an array, got an object",
        ]
    );
}

#[test]
fn reports_all_problems_of_a_broken_document_at_once() {
    let errors = errors_of(json!({
        "id": "broken", "name": "Broken", "version": 2, "start": "begin",
        "nodes": [
            {"id": "begin", "type": "entry", "data": {"kind": "entry"}},
            {"id": "menu", "type": "menu", "data": {"kind": "menu", "promptId": "m", "maxDigits": "two"}},
            {"id": "say", "type": "say", "data": {"kind": "play", "promptText": "hi"}},
            {"id": "menu", "type": "hangup", "data": {"kind": "hangup"}},
            {"id": "x", "type": "fax", "data": {"kind": "fax"}}
        ],
        "edges": [
            {"id": "e1", "source": "begin", "target": "menu"},
            {"id": "e2", "source": "menu", "target": "nowhere", "sourceHandle": "digit:1"},
            {"id": "e1", "source": "menu", "target": "say", "sourceHandle": 5}
        ]
    }));
    assert_eq!(
        errors,
        [
            "nodes[1].data.maxDigits: expected an integer ≥ 1, got \"two\"",
            "nodes[2].type: \"say\" disagrees with data.kind \"play\"",
            "nodes[4].data.kind: unknown node kind \"fax\" (supported: entry, start, play, say, menu, collect, dial, ringGroup, enqueue, forward, transfer, conference, voicemail, condition, timeCondition, httpRequest, setVar, callback, lastCalledUser, answer, hangup)",
            "edges[2].sourceHandle: expected a non-empty string, got 5",
            "nodes[3].id: duplicate node id \"menu\" (first at nodes[1])",
            "edges[2].id: duplicate edge id \"e1\" (first at edges[0])",
            "edges[1].target: no node \"nowhere\"",
        ]
    );
}

#[test]
fn start_defaults_to_the_single_entry_node() {
    let base = |nodes: Value| json!({"id": "f", "version": 1, "nodes": nodes});
    let compiled = read_node_graph(&base(json!([
        {"id": "bye", "type": "hangup", "data": {"kind": "hangup"}},
        {"id": "in", "type": "entry", "data": {}}
    ])))
    .unwrap_or_else(|errors| panic!("{errors:?}"));
    assert_eq!(compiled.program.node(compiled.program.start()).id, "in");
    assert_eq!(
        errors_of(base(
            json!([{"id": "bye", "type": "hangup", "data": {"kind": "hangup"}}])
        )),
        ["start: missing, expected a non-empty string (no entry or start node to start at)"]
    );
    assert_eq!(
        errors_of(base(json!([
            {"id": "a", "type": "entry", "data": {}}, {"id": "b", "type": "entry", "data": {}}
        ]))),
        ["start: missing, and there are several entry nodes (\"a\", \"b\")"]
    );
    assert_eq!(
        errors_of(
            json!({"id": "f", "version": 1, "start": "zz", "nodes": [{"id": "a", "type": "entry", "data": {}}]})
        ),
        ["start: no node \"zz\""]
    );
}

#[test]
fn kind_comes_from_data_or_type() {
    assert_eq!(
        errors_of(
            json!({"id": "f", "version": 1, "start": "a", "nodes": [{"id": "a", "data": {}}]})
        ),
        ["nodes[0].data.kind: missing, expected a non-empty string"]
    );
    assert_eq!(
        errors_of(
            json!({"id": "f", "version": 1, "start": "a", "nodes": [{"id": "a", "type": "fax", "data": {}}]})
        )[0],
        format!(
            "nodes[0].type: unknown node kind \"fax\" (supported: {})",
            super::node_kinds::NodeKind::catalog()
        )
    );
}

#[test]
fn every_kind_reports_its_bad_fields() {
    assert_eq!(
        node_errors(
            json!({"kind": "menu", "maxDigits": "two", "timeoutSec": 0, "maxFailures": 1.5, "terminator": "##"})
        ),
        [
            "nodes[0].data: needs promptId, audioUrl or promptText",
            "nodes[0].data.maxDigits: expected an integer ≥ 1, got \"two\"",
            "nodes[0].data.timeoutSec: expected an integer ≥ 1, got 0",
            "nodes[0].data.terminator: expected one DTMF key (0-9, *, #, A-D), got \"##\"",
            "nodes[0].data.maxFailures: expected an integer ≥ 1, got 1.5",
        ]
    );
    assert_eq!(
        node_errors(json!({"kind": "play", "promptId": "", "loop": 0})),
        [
            "nodes[0].data: needs promptId, audioUrl or promptText",
            "nodes[0].data.loop: expected an integer ≥ 1, got 0",
        ]
    );
    assert_eq!(
        node_errors(json!({"kind": "say"})),
        ["nodes[0].data.text: missing, expected a non-empty string"]
    );
    assert_eq!(
        node_errors(json!({"kind": "collect", "minDigits": 5, "maxDigits": 4, "pattern": "9.1"})),
        [
            "nodes[0].data.variable: missing, expected a non-empty string",
            "nodes[0].data.pattern: bad digit pattern: '1' after the final \".\" or \"!\"",
            "nodes[0].data.minDigits: 5 is more than maxDigits 4",
        ]
    );
    assert_eq!(
        node_errors(json!({"kind": "collect", "variable": "v", "minDigits": 5, "maxDigits": 4})),
        ["nodes[0].data.minDigits: 5 is more than maxDigits 4"]
    );
    assert_eq!(
        node_errors(json!({"kind": "dial"})),
        ["nodes[0].data.number: missing, expected a non-empty string"]
    );
    assert_eq!(
        node_errors(json!({"kind": "transfer", "number": "1"})),
        ["nodes[0].data.target: missing, expected a non-empty string"]
    );
    assert_eq!(
        node_errors(json!({"kind": "ringGroup"})),
        ["nodes[0].data.ringGroupId: missing, expected a non-empty string"]
    );
    assert_eq!(
        node_errors(json!({"kind": "enqueue", "queueId": 7})),
        ["nodes[0].data.queueId: expected a non-empty string, got 7"]
    );
    assert_eq!(
        node_errors(json!({"kind": "conference"})),
        ["nodes[0].data.conferenceId: missing, expected a non-empty string"]
    );
    assert_eq!(
        node_errors(json!({"kind": "voicemail", "mailboxId": "m", "maxLengthSec": "long"})),
        ["nodes[0].data.maxLengthSec: expected an integer ≥ 1, got \"long\""]
    );
    assert_eq!(
        node_errors(json!({"kind": "condition", "variable": "x", "operator": "~=", "valueType": "date"})),
        [
            "nodes[0].data.operator: expected a comparison (==, !=, >, >=, <, <=, equal, not_equal, greater, greater_equal, less, less_equal), got \"~=\"",
            "nodes[0].data.valueType: expected one of string, number, , got \"date\"",
        ]
    );
    assert_eq!(
        node_errors(json!({"kind": "timeCondition"})),
        ["nodes[0].data.scheduleId: missing, expected a non-empty string"]
    );
    assert_eq!(
        node_errors(json!({"kind": "httpRequest", "url": "https://x/${a", "method": "FETCH", "headers": [], "timeoutSec": 0})),
        [
            "nodes[0].data.url: bad template: unterminated \"${\" at byte 10",
            "nodes[0].data.method: expected one of GET, POST, PUT, PATCH, DELETE, HEAD, got \"FETCH\"",
            "nodes[0].data.headers: expected an object, got an array",
            "nodes[0].data.timeoutSec: expected an integer ≥ 1, got 0",
        ]
    );
    assert_eq!(
        node_errors(json!({"kind": "setVar"})),
        ["nodes[0].data: needs key and value, or vars"]
    );
    assert_eq!(
        node_errors(json!({"kind": "setVar", "value": "x"})),
        ["nodes[0].data.key: missing, expected a non-empty string (value is set)"]
    );
    assert_eq!(
        node_errors(json!({"kind": "hangup", "reason": 3})),
        ["nodes[0].data.reason: expected a string, got 3"]
    );
}

#[test]
fn every_kind_compiles_to_its_step() {
    let kinds = [
        json!({"kind": "entry"}),
        json!({"kind": "play", "promptId": "p"}),
        json!({"kind": "say", "text": "t", "language": "de-DE", "voice": "anna"}),
        json!({"kind": "menu", "promptText": "m"}),
        json!({"kind": "collect", "variable": "v"}),
        json!({"kind": "dial", "number": "+1", "callerId": "+2"}),
        json!({"kind": "ringGroup", "ringGroupId": "rg"}),
        json!({"kind": "enqueue", "queueId": "q"}),
        json!({"kind": "forward", "number": "+1"}),
        json!({"kind": "transfer", "target": "200"}),
        json!({"kind": "conference", "conferenceId": "c"}),
        json!({"kind": "voicemail", "mailboxId": "m"}),
        json!({"kind": "condition", "variable": "x", "value": 1}),
        json!({"kind": "timeCondition", "scheduleId": "s"}),
        json!({"kind": "httpRequest", "url": "https://x"}),
        json!({"kind": "setVar", "vars": {"a": "1"}}),
        json!({"kind": "callback"}),
        json!({"kind": "lastCalledUser"}),
        json!({"kind": "hangup"}),
    ];
    for data in kinds {
        let compiled = read_node_graph(&one_node(data.clone()))
            .unwrap_or_else(|errors| panic!("{data}: {errors:?}"));
        let step = &compiled.program.nodes()[0].step;
        let expected_pure = matches!(
            data["kind"].as_str(),
            Some(
                "entry" | "condition" | "timeCondition" | "setVar" | "callback" | "lastCalledUser"
            )
        );
        assert_eq!(step.is_pure(), expected_pure, "{data}: {step:?}");
    }
    let collect =
        read_node_graph(&one_node(json!({"kind": "collect", "variable": "v"}))).map(|c| c.program);
    let Ok(program) = collect else {
        panic!("collect")
    };
    let Step::Collect(step) = &program.nodes()[0].step else {
        panic!("not a collect")
    };
    assert_eq!(
        (
            step.gather.max_digits,
            step.gather.terminator,
            step.min_digits,
            step.max_failures
        ),
        (20, Some('#'), 1, 3)
    );
}

#[test]
fn warnings_name_missing_outcome_edges_never_taken_edges_and_unreachable_nodes() {
    let warnings = warnings_of(json!({
        "id": "f", "version": 1, "start": "entry",
        "nodes": [
            {"id": "entry", "type": "entry", "data": {"kind": "entry"}},
            {"id": "m", "type": "menu", "data": {"kind": "menu", "promptId": "menu", "terminator": "#", "colour": "red"}},
            {"id": "bye", "type": "hangup", "data": {"kind": "hangup"}},
            {"id": "lost", "type": "play", "position": "top", "data": {"kind": "play", "promptText": "hello"}},
            {"id": "dial", "type": "dial", "data": {"kind": "dial", "number": "+1"}}
        ],
        "edges": [
            {"id": "e1", "source": "entry", "target": "m", "sourceHandle": "answered"},
            {"id": "e2", "source": "entry", "target": "m"},
            {"id": "e3", "source": "m", "target": "bye", "sourceHandle": "digit:42"},
            {"id": "e4", "source": "m", "target": "bye", "sourceHandle": "digit:#"},
            {"id": "e5", "source": "m", "target": "dial"},
            {"id": "e6", "source": "bye", "target": "m"},
            {"id": "e7", "source": "lost", "target": "bye", "sourceHandle": "digit:1"},
            {"id": "e8", "source": "dial", "target": "bye", "sourceHandle": "no_answer"}
        ]
    }));
    assert_eq!(
        warnings,
        [
            "nodes[1].data.colour: unknown field; ignored",
            "nodes[3].position: expected an object with numbers x and y, got \"top\"; ignored",
            "nodes[1]: menu \"m\" has no digit: edge; every entry counts as invalid",
            "nodes[3]: node \"lost\" has no edge for \"done\" and no default edge; the call ends there",
            "nodes[4]: node \"dial\" has no edge for \"busy\" and no default edge; the call ends there",
            "edges[0].sourceHandle: node \"entry\" never returns \"answered\" (entry only returns \"done\"); this edge is never taken",
            "edges[2].sourceHandle: node \"m\" never returns \"digit:42\" (its entries are one DTMF key other than the terminator \"#\"); this edge is never taken",
            "edges[3].sourceHandle: node \"m\" never returns \"digit:#\" (its entries are one DTMF key other than the terminator \"#\"); this edge is never taken",
            "edges[5]: node \"bye\" hangs up, so an edge from it is never taken",
            "edges[6].sourceHandle: node \"lost\" never returns \"digit:1\" (play returns \"done\" or \"failed\"); this edge is never taken",
            "nodes[3]: node \"lost\" is not reachable from start \"entry\"",
        ]
    );
}

#[test]
fn api_records_validate_flow_data_with_prefixed_paths() {
    let errors: Vec<String> = match read_api_record(&json!({
        "_id": "r1", "name": "Support", "isActive": true,
        "flowData": {"nodes": [
            {"id": "s", "type": "start", "data": {"prompt": "hi"}},
            {"id": "m", "type": "menu", "data": {"maxDigits": 0}}
        ], "edges": [{"id": "e", "source": "s", "target": "zz"}]}
    })) {
        Ok(_) => panic!("expected errors"),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    };
    assert_eq!(
        errors,
        [
            "flowData.nodes[1].data: needs promptId, audioUrl or promptText",
            "flowData.nodes[1].data.maxDigits: expected an integer ≥ 1, got 0",
            "flowData.edges[0].target: no node \"zz\"",
        ]
    );
    let missing: Vec<String> = match read_api_record(&json!({"name": "x", "isActive": false})) {
        Ok(_) => panic!("expected errors"),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    };
    assert_eq!(
        missing,
        [
            "_id: missing, expected a non-empty string",
            "flowData: missing, expected an object"
        ]
    );
    let compiled = read_api_record(&json!({
        "id": "r2", "version": 4, "startNodeId": "b", "isActive": false,
        "flowData": {"nodes": [
            {"id": "a", "type": "entry", "data": {}},
            {"id": "b", "type": "hangup", "data": {}}
        ], "edges": []}
    }))
    .unwrap_or_else(|errors| panic!("{errors:?}"));
    assert_eq!(
        (compiled.program.id(), compiled.program.version()),
        ("r2", 4)
    );
    assert_eq!(compiled.program.node(compiled.program.start()).id, "b");
    let warnings: Vec<String> = compiled.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "isActive: the flow is not active",
            "flowData.nodes[0]: node \"a\" has no edge for \"done\" and no default edge; the call ends there",
            "flowData.nodes[0]: node \"a\" is not reachable from start \"b\"",
        ]
    );
}

#[test]
fn references_carry_their_paths() {
    let compiled = read_node_graph(&json!({
        "id": "f", "version": 1, "start": "t", "onCompleteFlowId": "acw",
        "nodes": [
            {"id": "t", "type": "timeCondition", "data": {"kind": "timeCondition", "scheduleId": "s1"}},
            {"id": "q", "type": "enqueue", "data": {"kind": "enqueue", "queueId": "${dynamic}"}},
            {"id": "r", "type": "ringGroup", "data": {"kind": "ringGroup", "ringGroupId": "rg"}}
        ],
        "edges": [{"source": "t", "target": "q"}, {"source": "q", "target": "r", "sourceHandle": "timeout"}]
    }))
    .unwrap_or_else(|errors| panic!("{errors:?}"));
    let references: Vec<String> = compiled
        .program
        .references()
        .iter()
        .map(|reference| format!("{} {:?} {}", reference.path, reference.kind, reference.id))
        .collect();
    assert_eq!(
        references,
        [
            "nodes[0].data.scheduleId Schedule s1",
            "nodes[2].data.ringGroupId RingGroup rg",
            "onCompleteFlowId Flow acw",
        ]
    );
    assert_eq!(compiled.program.on_complete_flow_id(), Some("acw"));
}

#[test]
fn early_media_and_a_hangup_status_are_read_in_both_formats() {
    let mut graph = one_node(json!({"kind": "hangup", "sipStatus": 404}));
    graph["earlyMedia"] = json!(true);
    let compiled = read_node_graph(&graph).expect("graph loads");
    assert!(compiled.program.early_media());
    assert_eq!(
        compiled.program.nodes()[0].step,
        Step::Hangup {
            reason: None,
            sip_status: Some(404)
        }
    );
    assert!(!read_node_graph(&one_node(json!({"kind": "answer"})))
        .expect("answer node loads")
        .program
        .early_media());
    assert_eq!(
        node_errors(json!({"kind": "hangup", "sipStatus": 200})),
        vec!["nodes[0].data.sipStatus: expected a SIP status from 400 to 699, got 200"]
    );
    let actions = json!({"id": "a", "early_media": true, "actions": [
        {"type": "hangup", "option": {"reason": "busy", "sip_status": 486}}]});
    let loaded = crate::flow::load_flow_value(&actions).expect("actions load");
    assert!(loaded.program.early_media());
    assert_eq!(
        loaded.program.nodes()[0].step,
        Step::Hangup {
            reason: Some(crate::flow::Template::literal("busy")),
            sip_status: Some(486)
        }
    );
}
