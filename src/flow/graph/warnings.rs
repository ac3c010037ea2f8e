//! Warnings about a valid graph: outcomes with no edge to follow (the call
//! would end there), menus whose digit edges can never match, edges that are
//! never taken, and nodes that cannot be reached from the start.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::flow::graph::node_kinds::NodeKind;
use crate::flow::graph::{CheckedEdge, CheckedNode};
use crate::flow::handle::{digits_of_handle, is_dtmf_key};
use crate::flow::program::Step;
use crate::flow::read::{quoted, Sink};

/// Records every warning about the graph, nodes first, then edges, then reachability.
pub(crate) fn graph_warnings(
    start: &str,
    nodes: &[CheckedNode],
    edges: &[CheckedEdge],
    sink: &mut Sink,
) {
    let edges_from = edges_by_source(edges);
    for node in nodes {
        let outgoing = edges_from
            .get(node.id.as_str())
            .map_or(&[][..], Vec::as_slice);
        for outcome in node.kind.outcomes_needing_an_edge() {
            let covered = outgoing.iter().any(|edge| {
                edge.handle
                    .as_deref()
                    .is_none_or(|handle| handle == *outcome)
            });
            if !covered {
                sink.warn(
                    node.path.clone(),
                    format!(
                        "node {} has no edge for {} and no default edge; the call ends there",
                        quoted(&node.id),
                        quoted(outcome)
                    ),
                );
            }
        }
        let has_digit_edge = outgoing.iter().any(|edge| {
            edge.handle.as_deref().is_some_and(|handle| {
                digits_of_handle(handle).is_some() && why_never_returned(node, handle).is_none()
            })
        });
        if node.kind == NodeKind::Menu && !has_digit_edge {
            sink.warn(
                node.path.clone(),
                format!(
                    "menu {} has no digit: edge; every entry counts as invalid",
                    quoted(&node.id)
                ),
            );
        }
    }
    warn_never_taken_edges(nodes, edges, sink);
    warn_unreachable_nodes(start, nodes, &edges_from, sink);
}

fn edges_by_source(edges: &[CheckedEdge]) -> HashMap<&str, Vec<&CheckedEdge>> {
    let mut by_source: HashMap<&str, Vec<&CheckedEdge>> = HashMap::new();
    for edge in edges {
        by_source
            .entry(edge.source.as_str())
            .or_default()
            .push(edge);
    }
    by_source
}

fn warn_never_taken_edges(nodes: &[CheckedNode], edges: &[CheckedEdge], sink: &mut Sink) {
    let by_id: HashMap<&str, &CheckedNode> =
        nodes.iter().map(|node| (node.id.as_str(), node)).collect();
    for edge in edges {
        let Some(node) = by_id.get(edge.source.as_str()) else {
            continue;
        };
        if node.kind == NodeKind::Hangup {
            sink.warn(
                edge.path.clone(),
                format!(
                    "node {} hangs up, so an edge from it is never taken",
                    quoted(&edge.source)
                ),
            );
            continue;
        }
        let Some(handle) = &edge.handle else {
            continue;
        };
        if let Some(why) = why_never_returned(node, handle) {
            sink.warn(
                format!("{}.sourceHandle", edge.path),
                format!(
                    "node {} never returns {} ({why}); this edge is never taken",
                    quoted(&edge.source),
                    quoted(handle)
                ),
            );
        }
    }
}

/// Why `node` can never return `handle`, or `None` if it can.
fn why_never_returned(node: &CheckedNode, handle: &str) -> Option<String> {
    if let (Step::Menu(menu), Some(digits)) = (&node.step, digits_of_handle(handle)) {
        return why_menu_never_returns(menu.gather.max_digits, menu.gather.terminator, digits);
    }
    let outcomes = node.kind.outcomes();
    if outcomes.contains(&handle) {
        return None;
    }
    let mut names: Vec<String> = outcomes.iter().map(|outcome| quoted(outcome)).collect();
    if node.kind == NodeKind::Menu {
        names.insert(0, "digit:N".to_owned());
    }
    Some(match names.as_slice() {
        [] => format!("a {} has no exits", node.kind.name()),
        [only] => format!("{} only returns {only}", node.kind.name()),
        [head @ .., last] => format!("{} returns {} or {last}", node.kind.name(), head.join(", ")),
    })
}

fn why_menu_never_returns(
    max_digits: u32,
    terminator: Option<char>,
    digits: &str,
) -> Option<String> {
    let count = digits.chars().count();
    let well_formed = count >= 1
        && count <= max_digits as usize
        && digits
            .chars()
            .all(|key| is_dtmf_key(key) && Some(key) != terminator);
    if well_formed {
        return None;
    }
    let terminator = terminator
        .map(|key| format!(" other than the terminator {}", quoted(&key.to_string())))
        .unwrap_or_default();
    let size = match max_digits {
        1 => "one DTMF key".to_owned(),
        max => format!("1 to {max} DTMF keys"),
    };
    Some(format!("its entries are {size}{terminator}"))
}

fn warn_unreachable_nodes(
    start: &str,
    nodes: &[CheckedNode],
    edges_from: &HashMap<&str, Vec<&CheckedEdge>>,
    sink: &mut Sink,
) {
    let mut reached = HashSet::from([start]);
    let mut queue = VecDeque::from([start]);
    while let Some(current) = queue.pop_front() {
        for edge in edges_from.get(current).into_iter().flatten() {
            if reached.insert(edge.target.as_str()) {
                queue.push_back(&edge.target);
            }
        }
    }
    for node in nodes {
        if !reached.contains(node.id.as_str()) {
            sink.warn(
                node.path.clone(),
                format!(
                    "node {} is not reachable from start {}",
                    quoted(&node.id),
                    quoted(start)
                ),
            );
        }
    }
}
