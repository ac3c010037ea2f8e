//! Warnings about a valid document: edges that are never taken, outcomes with
//! no edge to follow (the call would end there), and unreachable nodes.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::flow::document::{Edge, FlowDocument, MenuData, NodeData};
use crate::flow::handle::{digits_of_handle, is_dtmf_key, DONE, FAILED, INVALID, TIMEOUT};
use crate::flow::problem::Problem;
use crate::flow::validate::json::quoted;

/// Every warning about `document`, nodes first, then edges, then reachability.
pub(crate) fn document_warnings(document: &FlowDocument) -> Vec<Problem> {
    let mut warnings = Vec::new();
    let edges_from = edges_by_source(document);
    for (index, node) in document.nodes.iter().enumerate() {
        let outgoing = edges_from
            .get(node.id.as_str())
            .map_or(&[][..], Vec::as_slice);
        let path = format!("nodes[{index}]");
        for outcome in outcomes_needing_an_edge(&node.data) {
            let covered = outgoing.iter().any(|edge| {
                edge.source_handle
                    .as_deref()
                    .is_none_or(|handle| handle == *outcome)
            });
            if !covered {
                warnings.push(Problem::new(
                    path.clone(),
                    format!(
                        "node {} has no edge for {} and no default edge; the call ends there",
                        quoted(&node.id),
                        quoted(outcome)
                    ),
                ));
            }
        }
        let has_digit_edge = outgoing.iter().any(|edge| {
            edge.source_handle.as_deref().is_some_and(|handle| {
                digits_of_handle(handle).is_some()
                    && why_never_returned(&node.data, handle).is_none()
            })
        });
        if matches!(node.data, NodeData::Menu(_)) && !has_digit_edge {
            warnings.push(Problem::new(
                path,
                format!(
                    "menu {} has no digit: edge; every entry counts as invalid",
                    quoted(&node.id)
                ),
            ));
        }
    }
    warn_never_taken_edges(document, &mut warnings);
    warn_unreachable_nodes(document, &edges_from, &mut warnings);
    warnings
}

fn edges_by_source(document: &FlowDocument) -> HashMap<&str, Vec<&Edge>> {
    let mut by_source: HashMap<&str, Vec<&Edge>> = HashMap::new();
    for edge in &document.edges {
        by_source
            .entry(edge.source.as_str())
            .or_default()
            .push(edge);
    }
    by_source
}

fn outcomes_needing_an_edge(data: &NodeData) -> &'static [&'static str] {
    match data {
        NodeData::Entry | NodeData::Play(_) => &[DONE],
        NodeData::Menu(_) => &[TIMEOUT, INVALID],
        NodeData::Hangup => &[],
    }
}

fn warn_never_taken_edges(document: &FlowDocument, warnings: &mut Vec<Problem>) {
    let data_by_id: HashMap<&str, &NodeData> = document
        .nodes
        .iter()
        .map(|node| (node.id.as_str(), &node.data))
        .collect();
    for (index, edge) in document.edges.iter().enumerate() {
        let Some(data) = data_by_id.get(edge.source.as_str()) else {
            continue;
        };
        let path = format!("edges[{index}]");
        if matches!(data, NodeData::Hangup) {
            warnings.push(Problem::new(
                path,
                format!(
                    "node {} hangs up, so an edge from it is never taken",
                    quoted(&edge.source)
                ),
            ));
            continue;
        }
        let Some(handle) = &edge.source_handle else {
            continue;
        };
        if let Some(why) = why_never_returned(data, handle) {
            warnings.push(Problem::new(
                format!("{path}.sourceHandle"),
                format!(
                    "node {} never returns {} ({why}); this edge is never taken",
                    quoted(&edge.source),
                    quoted(handle)
                ),
            ));
        }
    }
}

/// Why a node with `data` can never return `handle`, or `None` if it can.
fn why_never_returned(data: &NodeData, handle: &str) -> Option<String> {
    match data {
        NodeData::Entry => (handle != DONE).then(|| "an entry only returns \"done\"".to_owned()),
        NodeData::Play(_) => (handle != DONE && handle != FAILED)
            .then(|| "a play returns \"done\" or \"failed\"".to_owned()),
        NodeData::Menu(menu) => match digits_of_handle(handle) {
            Some(digits) => why_menu_never_returns(menu, digits),
            None => (![TIMEOUT, INVALID, FAILED].contains(&handle)).then(|| {
                "a menu returns digit:N, \"timeout\", \"invalid\" or \"failed\"".to_owned()
            }),
        },
        NodeData::Hangup => Some("a hangup has no exits".to_owned()),
    }
}

fn why_menu_never_returns(menu: &MenuData, digits: &str) -> Option<String> {
    let count = digits.chars().count();
    let well_formed = count >= 1
        && count <= menu.max_digits as usize
        && digits
            .chars()
            .all(|key| is_dtmf_key(key) && Some(key) != menu.terminator);
    if well_formed {
        return None;
    }
    let terminator = menu
        .terminator
        .map(|key| format!(" other than the terminator {}", quoted(&key.to_string())))
        .unwrap_or_default();
    let size = match menu.max_digits {
        1 => "one DTMF key".to_owned(),
        max => format!("1 to {max} DTMF keys"),
    };
    Some(format!("its entries are {size}{terminator}"))
}

fn warn_unreachable_nodes(
    document: &FlowDocument,
    edges_from: &HashMap<&str, Vec<&Edge>>,
    warnings: &mut Vec<Problem>,
) {
    let mut reached = HashSet::from([document.start.as_str()]);
    let mut queue = VecDeque::from([document.start.as_str()]);
    while let Some(current) = queue.pop_front() {
        for edge in edges_from.get(current).into_iter().flatten() {
            if reached.insert(edge.target.as_str()) {
                queue.push_back(&edge.target);
            }
        }
    }
    for (index, node) in document.nodes.iter().enumerate() {
        if !reached.contains(node.id.as_str()) {
            warnings.push(Problem::new(
                format!("nodes[{index}]"),
                format!(
                    "node {} is not reachable from start {}",
                    quoted(&node.id),
                    quoted(&document.start)
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::flow::validate::validate_node_graph;
    use serde_json::json;

    fn warnings_of(value: serde_json::Value) -> Vec<String> {
        let checked = validate_node_graph(&value).unwrap();
        checked.warnings.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn menu_without_timeout_or_invalid_edge_is_warned() {
        let warnings = warnings_of(json!({
            "id": "f", "version": 1, "start": "m",
            "nodes": [
                {"id": "m", "type": "menu", "data": {"kind": "menu", "promptId": "menu"}},
                {"id": "bye", "type": "hangup", "data": {"kind": "hangup"}}
            ],
            "edges": [{"id": "e1", "source": "m", "target": "bye", "sourceHandle": "digit:1"}]
        }));
        assert_eq!(
            warnings,
            [
                "nodes[0]: node \"m\" has no edge for \"timeout\" and no default edge; the call ends there",
                "nodes[0]: node \"m\" has no edge for \"invalid\" and no default edge; the call ends there",
            ]
        );
    }

    #[test]
    fn default_edge_covers_every_outcome() {
        let warnings = warnings_of(json!({
            "id": "f", "version": 1, "start": "m",
            "nodes": [
                {"id": "m", "type": "menu", "data": {"kind": "menu", "promptId": "menu"}},
                {"id": "bye", "type": "hangup", "data": {"kind": "hangup"}}
            ],
            "edges": [
                {"id": "e1", "source": "m", "target": "bye", "sourceHandle": "digit:1"},
                {"id": "e2", "source": "m", "target": "bye"}
            ]
        }));
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn never_taken_edges_and_unreachable_nodes() {
        let warnings = warnings_of(json!({
            "id": "f", "version": 1, "start": "entry",
            "nodes": [
                {"id": "entry", "type": "entry", "data": {"kind": "entry"}},
                {"id": "m", "type": "menu", "data": {"kind": "menu", "promptId": "menu", "terminator": "#"}},
                {"id": "bye", "type": "hangup", "data": {"kind": "hangup"}},
                {"id": "lost", "type": "play", "data": {"kind": "play", "promptText": "hello"}}
            ],
            "edges": [
                {"id": "e1", "source": "entry", "target": "m", "sourceHandle": "answered"},
                {"id": "e2", "source": "entry", "target": "m"},
                {"id": "e3", "source": "m", "target": "bye", "sourceHandle": "digit:42"},
                {"id": "e4", "source": "m", "target": "bye", "sourceHandle": "digit:#"},
                {"id": "e5", "source": "m", "target": "bye"},
                {"id": "e6", "source": "bye", "target": "m"},
                {"id": "e7", "source": "lost", "target": "bye", "sourceHandle": "digit:1"}
            ]
        }));
        assert_eq!(
            warnings,
            [
                "nodes[1]: menu \"m\" has no digit: edge; every entry counts as invalid",
                "nodes[3]: node \"lost\" has no edge for \"done\" and no default edge; the call ends there",
                "edges[0].sourceHandle: node \"entry\" never returns \"answered\" (an entry only returns \"done\"); this edge is never taken",
                "edges[2].sourceHandle: node \"m\" never returns \"digit:42\" (its entries are one DTMF key other than the terminator \"#\"); this edge is never taken",
                "edges[3].sourceHandle: node \"m\" never returns \"digit:#\" (its entries are one DTMF key other than the terminator \"#\"); this edge is never taken",
                "edges[5]: node \"bye\" hangs up, so an edge from it is never taken",
                "edges[6].sourceHandle: node \"lost\" never returns \"digit:1\" (a play returns \"done\" or \"failed\"); this edge is never taken",
                "nodes[3]: node \"lost\" is not reachable from start \"entry\"",
            ]
        );
    }
}
