//! Reading one entry of `edges[]`: `id` (optional), `source`, `target` and
//! the optional `sourceHandle` (`null` or absent makes the edge its source's
//! default edge). Editor-only fields are ignored.

use serde_json::Value;

use crate::flow::read::{Fields, Sink};

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

/// Reads the edge at `path`.
pub(crate) fn read_edge(value: &Value, path: &str, sink: &mut Sink) -> EdgeSketch {
    let Ok(fields) = Fields::of(value, path, &mut sink.errors) else {
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
        id: fields
            .optional_string("id", &mut sink.errors)
            .ok()
            .flatten(),
        source: fields.required_string("source", &mut sink.errors).ok(),
        target: fields.required_string("target", &mut sink.errors).ok(),
        handle: fields
            .optional_string("sourceHandle", &mut sink.errors)
            .ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_named_and_default_edges() {
        let mut sink = Sink::default();
        let named = read_edge(
            &json!({"id": "e1", "source": "a", "target": "b", "sourceHandle": "digit:1"}),
            "edges[0]",
            &mut sink,
        );
        let default = read_edge(
            &json!({"source": "a", "target": "c", "sourceHandle": null}),
            "edges[1]",
            &mut sink,
        );
        assert!(sink.errors.is_empty());
        assert_eq!(named.handle, Some(Some("digit:1".into())));
        assert_eq!(default.handle, Some(None));
        assert_eq!(default.id, None);
    }

    #[test]
    fn reports_bad_fields() {
        let mut sink = Sink::default();
        let sketch = read_edge(
            &json!({"id": "e1", "source": 4, "sourceHandle": ""}),
            "edges[2]",
            &mut sink,
        );
        assert_eq!(sketch.id.as_deref(), Some("e1"));
        let shown: Vec<String> = sink.errors.iter().map(ToString::to_string).collect();
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
