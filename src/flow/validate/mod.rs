//! Validation of node-graph flow documents: reads a `serde_json::Value` into a
//! [`FlowDocument`], collecting every error (with its JSON path) in one pass,
//! then lists warnings about a document that is valid.

mod edge;
mod graph;
mod json;
mod node;
mod warnings;

use serde_json::Value;

use crate::flow::document::FlowDocument;
use crate::flow::problem::Problem;

use self::edge::{read_edge, EdgeSketch};
use self::json::{item, Fields};
use self::node::{read_node, NodeSketch};

/// A valid document and the warnings about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub document: FlowDocument,
    pub warnings: Vec<Problem>,
}

/// Checks a node-graph document; `Err` holds every error found, in document order.
pub fn validate_node_graph(value: &Value) -> Result<Checked, Vec<Problem>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let Ok(root) = Fields::of(value, "", &mut errors) else {
        return Err(errors);
    };

    let id = root.required_string("id", &mut errors).ok();
    let name = root.optional_any_string("name", &mut errors).ok();
    let version = root.required_integer("version", 0, &mut errors).ok();
    let start = root.required_string("start", &mut errors).ok();
    let nodes: Vec<NodeSketch> = match root.required_array("nodes", &mut errors) {
        Ok(items) => items
            .iter()
            .enumerate()
            .map(|(index, node)| read_node(node, &item("nodes", index), &mut errors, &mut warnings))
            .collect(),
        Err(_) => Vec::new(),
    };
    let edges: Vec<EdgeSketch> = match root.required_array("edges", &mut errors) {
        Ok(items) => items
            .iter()
            .enumerate()
            .map(|(index, edge)| read_edge(edge, &item("edges", index), &mut errors))
            .collect(),
        Err(_) => Vec::new(),
    };
    graph::check_references(start.as_deref(), &nodes, &edges, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }

    let document = assemble(id, name, version, start, nodes, edges).ok_or_else(|| {
        vec![Problem::new(
            "",
            "document is incomplete although no field was reported",
        )]
    })?;
    warnings.extend(warnings::document_warnings(&document));
    Ok(Checked { document, warnings })
}

fn assemble(
    id: Option<String>,
    name: Option<Option<String>>,
    version: Option<u32>,
    start: Option<String>,
    nodes: Vec<NodeSketch>,
    edges: Vec<EdgeSketch>,
) -> Option<FlowDocument> {
    Some(FlowDocument {
        id: id?,
        name: name?.unwrap_or_default(),
        version: version?,
        start: start?,
        nodes: nodes
            .into_iter()
            .map(NodeSketch::complete)
            .collect::<Option<_>>()?,
        edges: edges
            .into_iter()
            .map(EdgeSketch::complete)
            .collect::<Option<_>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors_of(value: Value) -> Vec<String> {
        match validate_node_graph(&value) {
            Ok(checked) => panic!("expected errors, got {checked:?}"),
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
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
                "start: missing, expected a non-empty string",
                "nodes: expected an array, got an object",
                "edges: missing, expected an array",
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
                "nodes[4].data.kind: unknown node kind \"fax\" (supported: entry, play, menu, hangup)",
                "edges[2].sourceHandle: expected a non-empty string, got 5",
                "nodes[3].id: duplicate node id \"menu\" (first at nodes[1])",
                "edges[2].id: duplicate edge id \"e1\" (first at edges[0])",
                "edges[1].target: no node \"nowhere\"",
            ]
        );
    }

    #[test]
    fn a_valid_document_round_trips_through_serialization() {
        let source = json!({
            "id": "f", "name": "Flow", "version": 3, "start": "entry",
            "nodes": [
                {"id": "entry", "type": "entry", "position": {"x": 0, "y": 0}, "data": {"kind": "entry"}},
                {"id": "bye", "type": "hangup", "data": {"kind": "hangup"}}
            ],
            "edges": [{"id": "e1", "source": "entry", "target": "bye", "sourceHandle": null}]
        });
        let checked = validate_node_graph(&source).unwrap();
        assert!(checked.warnings.is_empty());
        assert_eq!(checked.document.name, "Flow");
        let written = serde_json::to_value(&checked.document).unwrap();
        assert_eq!(
            validate_node_graph(&written).unwrap().document,
            checked.document
        );
    }

    /// The worked example of the node-graph format documentation.
    const SEED_EXAMPLE: &str = r#"{ "id": "flow_01jzqwjn803wtnhc445bvjenzc", "name": "Support line", "version": 1, "start": "hours", "nodes": [ { "id": "hours", "type": "timeCondition", "data": { "kind": "timeCondition", "scheduleId": "sch_01j0jvpe0wzc6g05bktfew0xyx" } }, { "id": "welcome", "type": "menu", "data": { "kind": "menu", "promptText": "Press 1 for sales, 2 for support", "maxDigits": 1, "timeoutSec": 5, "maxFailures": 2 } }, { "id": "salesQ", "type": "enqueue", "data": { "kind": "enqueue", "queueId": "q_01jx67hmyhnks8yq7m76g5qrrj" } }, { "id": "supQ", "type": "enqueue", "data": { "kind": "enqueue", "queueId": "q_01j160r23gw5zkpfjme3fwzs5k" } }, { "id": "vm", "type": "voicemail", "data": { "kind": "voicemail", "mailboxId": "vm_01jg8asp59ps9rtt7azhrhvcre" } }, { "id": "bye", "type": "hangup", "data": { "kind": "hangup" } } ], "edges": [ { "id": "e1", "source": "hours", "target": "welcome", "sourceHandle": "in_hours" }, { "id": "e2", "source": "hours", "target": "vm", "sourceHandle": "out_of_hours" }, { "id": "e3", "source": "welcome", "target": "salesQ", "sourceHandle": "digit:1" }, { "id": "e4", "source": "welcome", "target": "supQ", "sourceHandle": "digit:2" }, { "id": "e5", "source": "welcome", "target": "vm", "sourceHandle": "timeout" }, { "id": "e6", "source": "welcome", "target": "bye", "sourceHandle": "invalid" } ]}"#;

    #[test]
    fn seed_example_parses_and_points_at_its_unsupported_kinds() {
        let value: Value = serde_json::from_str(SEED_EXAMPLE).unwrap();
        let unsupported = " (supported: entry, play, menu, hangup)";
        assert_eq!(
            errors_of(value),
            [
                format!("nodes[0].data.kind: unknown node kind \"timeCondition\"{unsupported}"),
                format!("nodes[2].data.kind: unknown node kind \"enqueue\"{unsupported}"),
                format!("nodes[3].data.kind: unknown node kind \"enqueue\"{unsupported}"),
                format!("nodes[4].data.kind: unknown node kind \"voicemail\"{unsupported}"),
            ]
        );
    }
}
