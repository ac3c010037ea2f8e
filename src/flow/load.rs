//! Loading a flow from JSON text: detect the format, read with JSON paths,
//! compile, and hand back the shared program with its warnings. A flow with
//! any error is refused whole: bad flows never reach a call.

use std::sync::Arc;

use serde_json::Value;
use thiserror::Error;

use crate::flow::actions::read_action_array;
use crate::flow::graph::{read_api_record, read_node_graph, Compiled};
use crate::flow::problem::Problem;
use crate::flow::program::{FlowFormat, Program};

/// A loaded flow, ready for sessions.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The compiled flow, shared by every session that runs it.
    pub program: Arc<Program>,
    /// Findings that do not stop the flow from running (unreachable nodes,
    /// skipped actions, unknown fields…), one per line with its JSON path.
    pub warnings: Vec<Problem>,
}

/// Why a flow could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LoadError {
    /// The text is not JSON; the message gives line and column.
    #[error("flow is not valid JSON: {0}")]
    Json(String),
    /// The JSON is not a valid flow; every problem found, in document order.
    #[error("flow is invalid: {}", list(.0))]
    Invalid(Vec<Problem>),
}

impl LoadError {
    /// The problems, one per line (`path: message`), or the JSON syntax error.
    pub fn lines(&self) -> Vec<String> {
        match self {
            LoadError::Json(message) => vec![format!("$: not valid JSON: {message}")],
            LoadError::Invalid(problems) => problems.iter().map(ToString::to_string).collect(),
        }
    }
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The format of a flow document: an object with `flowData` is an API
/// record, one with `nodes` a node graph, one with `actions` (or a bare array)
/// an action array.
pub fn detect_format(value: &Value) -> Option<FlowFormat> {
    match value {
        Value::Array(_) => Some(FlowFormat::ActionArray),
        Value::Object(map) if map.contains_key("flowData") => Some(FlowFormat::ApiRecord),
        Value::Object(map) if map.contains_key("nodes") => Some(FlowFormat::NodeGraph),
        Value::Object(map) if map.contains_key("actions") => Some(FlowFormat::ActionArray),
        _ => None,
    }
}

/// Loads a flow of any format from JSON text.
pub fn load_flow_json(json: &str) -> Result<Loaded, LoadError> {
    load_flow_value(&parse(json)?)
}

/// Loads a flow of any format that is already parsed JSON.
pub fn load_flow_value(value: &Value) -> Result<Loaded, LoadError> {
    let compiled = match detect_format(value) {
        Some(FlowFormat::ApiRecord) => read_api_record(value),
        Some(FlowFormat::ActionArray) => read_action_array(value),
        Some(FlowFormat::NodeGraph | FlowFormat::Synthesized) => read_node_graph(value),
        None => Err(vec![Problem::new(
            "",
            "expected a flow: an object with nodes (node graph), actions (action array) or \
             flowData (call-flow record), or an array of actions",
        )]),
    };
    finish(compiled)
}

/// Loads a node-graph flow document from JSON text (any other format is refused).
pub fn load_node_graph(json: &str) -> Result<Loaded, LoadError> {
    load_node_graph_value(&parse(json)?)
}

/// Loads a node-graph flow document that is already parsed JSON.
pub fn load_node_graph_value(value: &Value) -> Result<Loaded, LoadError> {
    finish(read_node_graph(value))
}

fn parse(json: &str) -> Result<Value, LoadError> {
    serde_json::from_str(json).map_err(|error| LoadError::Json(error.to_string()))
}

fn finish(compiled: Result<Compiled, Vec<Problem>>) -> Result<Loaded, LoadError> {
    let compiled = compiled.map_err(LoadError::Invalid)?;
    Ok(Loaded {
        program: Arc::new(compiled.program),
        warnings: compiled.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let Err(error) = load_flow_json("{\n  \"id\": \"f\",\n  oops\n}") else {
            panic!("expected a JSON error");
        };
        assert!(error.to_string().contains("line 3 column 3"), "{error}");
        assert_eq!(error.lines().len(), 1);
    }

    #[test]
    fn detects_each_format() {
        assert_eq!(
            detect_format(&json!({"flowData": {}, "nodes": []})),
            Some(FlowFormat::ApiRecord)
        );
        assert_eq!(
            detect_format(&json!({"nodes": [], "actions": []})),
            Some(FlowFormat::NodeGraph)
        );
        assert_eq!(
            detect_format(&json!({"actions": []})),
            Some(FlowFormat::ActionArray)
        );
        assert_eq!(detect_format(&json!([])), Some(FlowFormat::ActionArray));
        assert_eq!(detect_format(&json!({"steps": []})), None);
        assert_eq!(
            load_flow_json("{}").map(|_| ()).unwrap_err().lines(),
            ["$: expected a flow: an object with nodes (node graph), actions (action array) or flowData (call-flow record), or an array of actions"]
        );
    }

    #[test]
    fn each_format_loads_into_a_program_of_that_format() {
        let graph = load_flow_json(
            r#"{"id": "g", "version": 2, "start": "bye",
                "nodes": [{"id": "bye", "type": "hangup", "data": {"kind": "hangup"}}], "edges": []}"#,
        );
        let actions = load_flow_json(r#"{"name": "Actions", "actions": [{"type": "hangup"}]}"#);
        let record = load_flow_json(
            r#"{"_id": "r", "flowData": {"nodes": [{"id": "s", "type": "start", "data": {}}], "edges": []}}"#,
        );
        let formats: Vec<(String, FlowFormat)> = [graph, actions, record]
            .into_iter()
            .map(|loaded| match loaded {
                Ok(loaded) => (loaded.program.id().to_owned(), loaded.program.format()),
                Err(error) => panic!("{error}"),
            })
            .collect();
        assert_eq!(
            formats,
            [
                ("g".to_owned(), FlowFormat::NodeGraph),
                ("Actions".to_owned(), FlowFormat::ActionArray),
                ("r".to_owned(), FlowFormat::ApiRecord),
            ]
        );
    }

    #[test]
    fn invalid_documents_list_every_problem() {
        let error = load_node_graph(
            r#"{"id": "f", "version": "1", "start": "a", "nodes": [], "edges": []}"#,
        )
        .map(|_| ())
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "flow is invalid: version: expected an integer ≥ 0, got \"1\""
        );
        let error =
            load_node_graph(r#"{"id": "f", "version": 1, "start": "a", "nodes": [], "edges": []}"#)
                .map(|_| ())
                .unwrap_err();
        assert_eq!(error.lines(), ["start: no node \"a\""]);
        // load_node_graph insists on the node-graph format.
        assert!(load_node_graph(r#"{"actions": [{"type": "stop"}]}"#).is_err());
    }
}
