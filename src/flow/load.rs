//! Loading a node-graph flow from JSON text: parse, validate, compile, and
//! hand back the shared program with the document's warnings.

use std::sync::Arc;

use thiserror::Error;

use crate::flow::compile::compile_node_graph;
use crate::flow::problem::Problem;
use crate::flow::program::Program;
use crate::flow::validate::validate_node_graph;

/// A loaded flow, ready for sessions.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub program: Arc<Program>,
    /// Findings that do not stop the flow from running (unreachable nodes...).
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

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Loads a node-graph flow document from JSON text.
pub fn load_node_graph(json: &str) -> Result<Loaded, LoadError> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|error| LoadError::Json(error.to_string()))?;
    load_node_graph_value(&value)
}

/// Loads a node-graph flow document that is already parsed JSON.
pub fn load_node_graph_value(value: &serde_json::Value) -> Result<Loaded, LoadError> {
    let checked = validate_node_graph(value).map_err(LoadError::Invalid)?;
    let program = compile_node_graph(&checked.document)
        .map_err(|error| LoadError::Invalid(vec![Problem::new("", error.to_string())]))?;
    Ok(Loaded {
        program: Arc::new(program),
        warnings: checked.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let Err(LoadError::Json(message)) = load_node_graph("{\n  \"id\": \"f\",\n  oops\n}")
        else {
            panic!("expected a JSON error");
        };
        assert!(message.contains("line 3 column 3"), "{message}");
    }

    #[test]
    fn invalid_documents_list_every_problem() {
        let error = load_node_graph(
            r#"{"id": "f", "version": "1", "start": "a", "nodes": [], "edges": []}"#,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "flow is invalid: version: expected an integer ≥ 0, got \"1\"; start: no node \"a\""
        );
    }

    #[test]
    fn loads_a_minimal_flow() {
        let loaded = load_node_graph(
            r#"{"id": "f", "version": 1, "start": "bye",
                "nodes": [{"id": "bye", "type": "hangup", "data": {"kind": "hangup"}}], "edges": []}"#,
        )
        .unwrap();
        assert!(loaded.warnings.is_empty());
        assert_eq!(loaded.program.nodes().len(), 1);
    }
}
