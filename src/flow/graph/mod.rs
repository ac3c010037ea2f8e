//! The node-graph format (the document a visual editor saves) and the
//! call-flow API record that carries one in `flowData`: reading with JSON
//! paths, warnings, and compiling into a [`Program`].
//!
//! A graph is `{ id, name, version, start, nodes, edges }`; each node has an
//! `id`, a `type`, an editor-only `position` and typed `data` discriminated by
//! `kind` ([`kinds`]); each edge links `source` to `target` for the outcome
//! named by `sourceHandle`, or as the source's default edge without one.

mod data_connect;
mod data_logic;
mod data_media;
mod edge;
mod links;
mod node;
mod node_kinds;
mod record;
mod warnings;

use std::collections::HashMap;

use serde_json::Value;

use crate::flow::graph::edge::{read_edge, EdgeSketch};
use crate::flow::graph::node::{read_node, NodeSketch};
use crate::flow::graph::node_kinds::NodeKind;
use crate::flow::problem::Problem;
use crate::flow::program::{
    Exits, FlowFormat, NodeIndex, Program, ProgramError, ProgramNode, ReferenceKind, Step,
};
use crate::flow::read::{child, item, quoted, Fields, Sink};
use crate::flow::template::Template;

pub(crate) use self::record::read_api_record;

/// A program with the warnings found while reading it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Compiled {
    pub program: Program,
    pub warnings: Vec<Problem>,
}

/// A node that was read completely.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CheckedNode {
    pub path: String,
    pub id: String,
    pub kind: NodeKind,
    pub step: Step,
}

/// An edge that was read completely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CheckedEdge {
    pub path: String,
    pub source: String,
    pub target: String,
    pub handle: Option<String>,
}

/// The top-level facts of a graph, however they were spelled.
#[derive(Debug, Clone)]
pub(crate) struct GraphHeader {
    pub id: String,
    pub name: String,
    pub version: u32,
    /// The start node id and the path it was read at; `None`: the single entry node.
    pub start: Option<(String, String)>,
    /// The follow-up flow id and the path it was read at.
    pub on_complete: Option<(String, String)>,
    pub format: FlowFormat,
}

/// Reads and compiles a node-graph document.
pub(crate) fn read_node_graph(value: &Value) -> Result<Compiled, Vec<Problem>> {
    let mut sink = Sink::default();
    let Ok(root) = Fields::of(value, "", &mut sink.errors) else {
        return Err(sink.errors);
    };
    let id = root.required_string("id", &mut sink.errors).ok();
    let name = root
        .optional_any_string("name", &mut sink.errors)
        .ok()
        .flatten();
    let version = root.required_integer("version", 0, &mut sink.errors).ok();
    let start = root
        .optional_string("start", &mut sink.errors)
        .ok()
        .flatten()
        .map(|start| (start, root.path_of("start")));
    let on_complete = on_complete_of(
        &root,
        &["onCompleteFlowId", "on_complete_flow_id"],
        &mut sink,
    );
    let early_media = root.bool_or("earlyMedia", false, &mut sink.errors).ok();
    let (nodes, edges) = read_parts(&root, &mut sink);
    let (Some(id), Some(version), Some(early_media)) = (id, version, early_media) else {
        return Err(sink.errors);
    };
    let header = GraphHeader {
        id,
        name: name.unwrap_or_default(),
        version,
        start,
        on_complete,
        format: FlowFormat::NodeGraph,
    };
    finish(header, "", nodes, edges, sink).map(|compiled| Compiled {
        program: compiled.program.with_early_media(early_media),
        ..compiled
    })
}

/// The follow-up flow id under the first of `keys` that is present.
pub(crate) fn on_complete_of(
    fields: &Fields<'_>,
    keys: &[&str],
    sink: &mut Sink,
) -> Option<(String, String)> {
    let key = keys.iter().find(|key| fields.present(key).is_some())?;
    let id = fields
        .optional_string(key, &mut sink.errors)
        .ok()
        .flatten()?;
    Some((id, fields.path_of(key)))
}

/// `nodes` and `edges` of `fields` (the document root or `flowData`).
pub(crate) fn read_parts(
    fields: &Fields<'_>,
    sink: &mut Sink,
) -> (Vec<NodeSketch>, Vec<EdgeSketch>) {
    let nodes = match fields.required_array("nodes", &mut sink.errors) {
        Ok(items) => items
            .iter()
            .enumerate()
            .map(|(index, node)| read_node(node, &item(&fields.path_of("nodes"), index), sink))
            .collect(),
        Err(_) => Vec::new(),
    };
    let edges = match fields.present("edges") {
        None => Vec::new(),
        Some(_) => match fields.required_array("edges", &mut sink.errors) {
            Ok(items) => items
                .iter()
                .enumerate()
                .map(|(index, edge)| read_edge(edge, &item(&fields.path_of("edges"), index), sink))
                .collect(),
            Err(_) => Vec::new(),
        },
    };
    (nodes, edges)
}

/// Checks links, picks the start, compiles; `prefix` is the path of the
/// object holding `nodes` (`""` or `flowData`).
pub(crate) fn finish(
    header: GraphHeader,
    prefix: &str,
    nodes: Vec<NodeSketch>,
    edges: Vec<EdgeSketch>,
    mut sink: Sink,
) -> Result<Compiled, Vec<Problem>> {
    let start = match &header.start {
        Some((start, path)) => Some((start.clone(), path.clone())),
        None => single_entry(prefix, &nodes, &mut sink),
    };
    links::check_links(
        start
            .as_ref()
            .map(|(id, path)| (id.as_str(), path.as_str())),
        &nodes,
        &edges,
        &mut sink,
    );
    let (nodes, edges, start) = match (complete_nodes(nodes), complete_edges(edges), start) {
        (Some(nodes), Some(edges), Some((start, _))) if sink.errors.is_empty() => {
            (nodes, edges, start)
        }
        _ => {
            if sink.errors.is_empty() {
                sink.error(prefix, "flow is incomplete although no field was reported");
            }
            return Err(sink.errors);
        }
    };
    warnings::graph_warnings(&start, &nodes, &edges, &mut sink);
    if let Some((flow_id, path)) = &header.on_complete {
        sink.reference(
            ReferenceKind::Flow,
            &Template::literal(flow_id.as_str()),
            path.clone(),
        );
    }
    match compile(&header, &start, nodes, &edges) {
        Ok(program) => Ok(Compiled {
            program: program.with_references(sink.references),
            warnings: sink.warnings,
        }),
        Err(error) => Err(vec![Problem::new(prefix, error.to_string())]),
    }
}

/// The id of the only `entry`/`start` node, when the document names no start.
fn single_entry(prefix: &str, nodes: &[NodeSketch], sink: &mut Sink) -> Option<(String, String)> {
    let entries: Vec<&NodeSketch> = nodes
        .iter()
        .filter(|node| node.kind.is_some_and(NodeKind::is_entry))
        .collect();
    match entries.as_slice() {
        [only] => only.id.clone().map(|id| (id, child(&only.path, "id"))),
        [] => {
            sink.error(
                child(prefix, "start"),
                "missing, expected a non-empty string (no entry or start node to start at)",
            );
            None
        }
        several => {
            let ids: Vec<String> = several
                .iter()
                .filter_map(|node| node.id.as_deref().map(quoted))
                .collect();
            sink.error(
                child(prefix, "start"),
                format!(
                    "missing, and there are several entry nodes ({})",
                    ids.join(", ")
                ),
            );
            None
        }
    }
}

fn complete_nodes(nodes: Vec<NodeSketch>) -> Option<Vec<CheckedNode>> {
    nodes
        .into_iter()
        .map(|node| {
            Some(CheckedNode {
                path: node.path,
                id: node.id?,
                kind: node.kind?,
                step: node.step?,
            })
        })
        .collect()
}

fn complete_edges(edges: Vec<EdgeSketch>) -> Option<Vec<CheckedEdge>> {
    edges
        .into_iter()
        .map(|edge| {
            Some(CheckedEdge {
                path: edge.path,
                source: edge.source?,
                target: edge.target?,
                handle: edge.handle?,
            })
        })
        .collect()
}

/// Named exits and the default exit of one node, while edges are collected.
type ExitParts = (Vec<(String, NodeIndex)>, Option<NodeIndex>);

fn compile(
    header: &GraphHeader,
    start: &str,
    nodes: Vec<CheckedNode>,
    edges: &[CheckedEdge],
) -> Result<Program, ProgramError> {
    let mut index_of = HashMap::new();
    for (position, node) in nodes.iter().enumerate() {
        let index = u32::try_from(position).map_err(|_| ProgramError::TooManyNodes(nodes.len()))?;
        index_of.entry(node.id.clone()).or_insert(NodeIndex(index));
    }
    let mut exits: Vec<ExitParts> = vec![(Vec::new(), None); nodes.len()];
    for edge in edges {
        let (Some(source), Some(target)) = (index_of.get(&edge.source), index_of.get(&edge.target))
        else {
            continue;
        };
        let Some((by_handle, default)) = exits.get_mut(source.as_usize()) else {
            continue;
        };
        match &edge.handle {
            Some(handle) => by_handle.push((handle.clone(), *target)),
            None => *default = Some(*target),
        }
    }
    let start = index_of
        .get(start)
        .copied()
        .ok_or(ProgramError::StartOutOfRange(u32::MAX))?;
    let nodes = nodes
        .into_iter()
        .zip(exits)
        .map(|(node, (by_handle, default))| ProgramNode {
            id: node.id.into(),
            step: node.step,
            exits: Exits::new(by_handle, default),
        })
        .collect();
    Ok(Program::new(
        header.id.clone(),
        header.name.clone(),
        header.version,
        start,
        nodes,
    )?
    .with_format(header.format)
    .with_on_complete(header.on_complete.as_ref().map(|(id, _)| id.clone())))
}

#[cfg(test)]
mod tests;
