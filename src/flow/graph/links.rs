//! Cross-reference checks over all nodes and edges of a graph: unique ids,
//! the start and every edge end naming an existing node, and at most one edge
//! per (source, handle).

use std::collections::HashMap;

use crate::flow::graph::edge::EdgeSketch;
use crate::flow::graph::node::NodeSketch;
use crate::flow::read::{child, quoted, Sink};

/// Records every reference problem; `start` is the start id and the path it was read at.
pub(crate) fn check_links(
    start: Option<(&str, &str)>,
    nodes: &[NodeSketch],
    edges: &[EdgeSketch],
    sink: &mut Sink,
) {
    let node_paths = first_paths(
        nodes
            .iter()
            .map(|node| (node.id.as_deref(), node.path.as_str())),
        "node",
        sink,
    );
    first_paths(
        edges
            .iter()
            .map(|edge| (edge.id.as_deref(), edge.path.as_str())),
        "edge",
        sink,
    );
    if let Some((start, path)) = start {
        if !node_paths.contains_key(start) {
            sink.error(path, format!("no node {}", quoted(start)));
        }
    }
    for edge in edges {
        for (field, end) in [("source", &edge.source), ("target", &edge.target)] {
            if let Some(end) = end {
                if !node_paths.contains_key(end.as_str()) {
                    sink.error(child(&edge.path, field), format!("no node {}", quoted(end)));
                }
            }
        }
    }
    check_one_edge_per_handle(edges, sink);
}

/// Maps each id to the path of its first node (or edge), reporting repeats.
fn first_paths<'a>(
    items: impl Iterator<Item = (Option<&'a str>, &'a str)>,
    what: &str,
    sink: &mut Sink,
) -> HashMap<&'a str, &'a str> {
    let mut first = HashMap::new();
    for (id, path) in items {
        let Some(id) = id else { continue };
        if let Some(earlier) = first.get(id) {
            sink.error(
                child(path, "id"),
                format!("duplicate {what} id {} (first at {earlier})", quoted(id)),
            );
        } else {
            first.insert(id, path);
        }
    }
    first
}

/// An outcome must select one edge: no two edges of a node share a handle,
/// and a node has at most one default edge.
fn check_one_edge_per_handle(edges: &[EdgeSketch], sink: &mut Sink) {
    let mut seen: HashMap<(&str, Option<&str>), &str> = HashMap::new();
    for edge in edges {
        let (Some(source), Some(handle)) = (&edge.source, &edge.handle) else {
            continue;
        };
        let key = (source.as_str(), handle.as_deref());
        let Some(earlier) = seen.get(&key) else {
            seen.insert(key, &edge.path);
            continue;
        };
        match handle {
            Some(handle) => sink.error(
                child(&edge.path, "sourceHandle"),
                format!(
                    "node {} already has an edge for {} ({earlier})",
                    quoted(source),
                    quoted(handle)
                ),
            ),
            None => sink.error(
                edge.path.clone(),
                format!(
                    "node {} already has a default edge ({earlier})",
                    quoted(source)
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(index: usize, id: &str) -> NodeSketch {
        NodeSketch {
            path: format!("nodes[{index}]"),
            id: Some(id.into()),
            kind: None,
            step: None,
        }
    }

    fn edge(
        index: usize,
        id: &str,
        source: &str,
        target: &str,
        handle: Option<&str>,
    ) -> EdgeSketch {
        EdgeSketch {
            path: format!("edges[{index}]"),
            id: Some(id.into()),
            source: Some(source.into()),
            target: Some(target.into()),
            handle: Some(handle.map(Into::into)),
        }
    }

    fn check(start: &str, nodes: &[NodeSketch], edges: &[EdgeSketch]) -> Vec<String> {
        let mut sink = Sink::default();
        check_links(Some((start, "start")), nodes, edges, &mut sink);
        sink.errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn clean_graph_has_no_problems() {
        let nodes = [node(0, "a"), node(1, "b")];
        let edges = [
            edge(0, "e1", "a", "b", None),
            edge(1, "e2", "a", "b", Some("timeout")),
        ];
        assert!(check("a", &nodes, &edges).is_empty());
    }

    #[test]
    fn reports_duplicates_and_dangling_references() {
        let nodes = [node(0, "a"), node(1, "b"), node(2, "a")];
        let edges = [
            edge(0, "e1", "a", "b", Some("digit:1")),
            edge(1, "e1", "a", "x", None),
            edge(2, "e3", "ghost", "b", None),
            edge(3, "e4", "a", "b", Some("digit:1")),
            edge(4, "e5", "a", "a", None),
        ];
        assert_eq!(
            check("nowhere", &nodes, &edges),
            [
                "nodes[2].id: duplicate node id \"a\" (first at nodes[0])",
                "edges[1].id: duplicate edge id \"e1\" (first at edges[0])",
                "start: no node \"nowhere\"",
                "edges[1].target: no node \"x\"",
                "edges[2].source: no node \"ghost\"",
                "edges[3].sourceHandle: node \"a\" already has an edge for \"digit:1\" (edges[0])",
                "edges[4]: node \"a\" already has a default edge (edges[1])",
            ]
        );
    }
}
