//! Reading one entry of `edges[]`: id, source, target and the optional
//! `sourceHandle` (`null` or absent makes the edge its source's default edge).

use serde_json::Value;

use crate::flow::document::Edge;
use crate::flow::problem::Problem;
use crate::flow::validate::json::Fields;

/// What could be read of one edge; `None` parts had problems (already recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EdgeSketch {
    pub path: String,
    pub id: Option<String>,
    pub source: Option<String>,
    pub target: Option<String>,
    /// `Some(None)`: a default edge; `None`: the handle could not be read.
    pub handle: Option<Option<String>>,
}

impl EdgeSketch {
    /// The edge, if every part of it could be read.
    pub(crate) fn complete(self) -> Option<Edge> {
        Some(Edge {
            id: self.id?,
            source: self.source?,
            target: self.target?,
            source_handle: self.handle?,
        })
    }
}

/// Reads the edge at `path`, recording errors.
pub(crate) fn read_edge(value: &Value, path: &str, errors: &mut Vec<Problem>) -> EdgeSketch {
    let Ok(fields) = Fields::of(value, path, errors) else {
        return EdgeSketch {
            path: path.to_owned(),
            id: None,
            source: None,
            target: None,
            handle: None,
        };
    };
    EdgeSketch {
        path: path.to_owned(),
        id: fields.required_string("id", errors).ok(),
        source: fields.required_string("source", errors).ok(),
        target: fields.required_string("target", errors).ok(),
        handle: fields.optional_string("sourceHandle", errors).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_named_and_default_edges() {
        let mut errors = Vec::new();
        let named = read_edge(
            &json!({"id": "e1", "source": "a", "target": "b", "sourceHandle": "digit:1"}),
            "edges[0]",
            &mut errors,
        );
        let default = read_edge(
            &json!({"id": "e2", "source": "a", "target": "c", "sourceHandle": null}),
            "edges[1]",
            &mut errors,
        );
        assert!(errors.is_empty());
        assert_eq!(
            named.complete().unwrap().source_handle.as_deref(),
            Some("digit:1")
        );
        assert_eq!(default.complete().unwrap().source_handle, None);
    }

    #[test]
    fn reports_bad_fields() {
        let mut errors = Vec::new();
        let sketch = read_edge(
            &json!({"id": "e1", "source": 4, "sourceHandle": ""}),
            "edges[2]",
            &mut errors,
        );
        assert_eq!(sketch.id.as_deref(), Some("e1"));
        assert!(sketch.complete().is_none());
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "edges[2].source: expected a non-empty string, got 4",
                "edges[2].target: missing, expected a non-empty string",
                "edges[2].sourceHandle: expected a non-empty string, got \"\"",
            ]
        );
    }
}
