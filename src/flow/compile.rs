//! Compiles a validated node-graph [`FlowDocument`] into a [`Program`]: node
//! data becomes steps, edges become exits resolved to node indices.

use std::collections::HashMap;
use std::time::Duration;

use thiserror::Error;

use crate::flow::directive::PromptRef;
use crate::flow::document::{FlowDocument, MenuData, NodeData, PromptFields};
use crate::flow::program::{
    Exits, GatherSpec, MenuStep, NodeIndex, PlayStep, Program, ProgramError, ProgramNode, Step,
};

/// How long a menu waits for each key after the first.
pub const DEFAULT_INTERDIGIT_TIMEOUT: Duration = Duration::from_secs(3);

/// Named exits and the default exit of one node, while edges are collected.
type ExitParts = (Vec<(String, NodeIndex)>, Option<NodeIndex>);

/// Why a document does not compile (only for documents that skipped validation).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CompileError {
    #[error("start: no node {0:?}")]
    UnknownStart(String),
    #[error("edge {edge:?}: no node {node:?}")]
    UnknownNode { edge: String, node: String },
    #[error(transparent)]
    Program(#[from] ProgramError),
}

/// Compiles `document`; a document accepted by `validate_node_graph` always compiles.
pub fn compile_node_graph(document: &FlowDocument) -> Result<Program, CompileError> {
    let mut index_of = HashMap::new();
    for (position, node) in document.nodes.iter().enumerate() {
        let index = u32::try_from(position)
            .map_err(|_| ProgramError::TooManyNodes(document.nodes.len()))?;
        index_of.entry(node.id.as_str()).or_insert(NodeIndex(index));
    }
    let resolve = |edge: &str, node: &str| {
        index_of
            .get(node)
            .copied()
            .ok_or_else(|| CompileError::UnknownNode {
                edge: edge.to_owned(),
                node: node.to_owned(),
            })
    };
    let start = index_of
        .get(document.start.as_str())
        .copied()
        .ok_or_else(|| CompileError::UnknownStart(document.start.clone()))?;

    let mut exits: Vec<ExitParts> = vec![(Vec::new(), None); document.nodes.len()];
    for edge in &document.edges {
        let source = resolve(&edge.id, &edge.source)?;
        let target = resolve(&edge.id, &edge.target)?;
        let Some((by_handle, default)) = exits.get_mut(source.as_usize()) else {
            continue;
        };
        match &edge.source_handle {
            Some(handle) => by_handle.push((handle.clone(), target)),
            None if default.is_none() => *default = Some(target),
            None => {
                return Err(ProgramError::DuplicateExit {
                    node: edge.source.clone(),
                    handle: "(default)".to_owned(),
                }
                .into())
            }
        }
    }

    let nodes = document
        .nodes
        .iter()
        .zip(exits)
        .map(|(node, (by_handle, default))| ProgramNode {
            id: node.id.clone(),
            step: step_of(&node.data),
            exits: Exits::new(by_handle, default),
        })
        .collect();
    Ok(Program::new(
        document.id.clone(),
        document.name.clone(),
        document.version,
        start,
        nodes,
    )?)
}

fn step_of(data: &NodeData) -> Step {
    match data {
        NodeData::Entry => Step::Pass,
        NodeData::Play(play) => Step::Play(PlayStep {
            prompt: prompt_of(&play.prompt),
            times: play.loop_count,
        }),
        NodeData::Menu(menu) => Step::Menu(menu_step(menu)),
        NodeData::Hangup => Step::Hangup,
    }
}

fn menu_step(menu: &MenuData) -> MenuStep {
    let invalid_prompt = (menu.invalid_prompt_id.is_some() || menu.invalid_prompt_text.is_some())
        .then(|| PromptRef {
            id: menu.invalid_prompt_id.clone(),
            text: menu.invalid_prompt_text.clone(),
        });
    MenuStep {
        gather: GatherSpec {
            prompt: prompt_of(&menu.prompt),
            max_digits: menu.max_digits,
            timeout: Duration::from_secs(u64::from(menu.timeout_sec)),
            terminator: menu.terminator,
            interdigit_timeout: DEFAULT_INTERDIGIT_TIMEOUT,
        },
        max_failures: menu.max_failures,
        invalid_prompt,
    }
}

fn prompt_of(fields: &PromptFields) -> PromptRef {
    PromptRef {
        id: fields.prompt_id.clone(),
        text: fields.prompt_text.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::document::{Edge, Node};

    fn node(id: &str, data: NodeData) -> Node {
        Node {
            id: id.into(),
            node_type: data.kind().into(),
            position: None,
            data,
        }
    }

    fn edge(id: &str, source: &str, target: &str, handle: Option<&str>) -> Edge {
        Edge {
            id: id.into(),
            source: source.into(),
            target: target.into(),
            source_handle: handle.map(Into::into),
        }
    }

    fn document(edges: Vec<Edge>) -> FlowDocument {
        FlowDocument {
            id: "f".into(),
            name: "F".into(),
            version: 4,
            start: "entry".into(),
            nodes: vec![
                node("entry", NodeData::Entry),
                node(
                    "menu",
                    NodeData::Menu(MenuData {
                        prompt: PromptFields {
                            prompt_id: Some("menu".into()),
                            prompt_text: None,
                        },
                        max_digits: 2,
                        timeout_sec: 7,
                        max_failures: 2,
                        terminator: Some('#'),
                        invalid_prompt_id: None,
                        invalid_prompt_text: Some("Sorry".into()),
                    }),
                ),
                node("bye", NodeData::Hangup),
            ],
            edges,
        }
    }

    #[test]
    fn resolves_edges_into_exits_and_data_into_steps() {
        let program = compile_node_graph(&document(vec![
            edge("e1", "entry", "menu", None),
            edge("e2", "menu", "bye", Some("digit:42")),
            edge("e3", "menu", "bye", None),
        ]))
        .unwrap();
        assert_eq!(
            (program.id(), program.name(), program.version()),
            ("f", "F", 4)
        );
        assert_eq!(program.start(), NodeIndex(0));
        let menu = &program.nodes()[1];
        assert_eq!(menu.exits.exact("digit:42"), Some(NodeIndex(2)));
        assert_eq!(menu.exits.default_exit(), Some(NodeIndex(2)));
        let Step::Menu(step) = &menu.step else {
            panic!("not a menu: {:?}", menu.step);
        };
        assert_eq!(step.gather.timeout, Duration::from_secs(7));
        assert_eq!(step.gather.max_digits, 2);
        assert_eq!(step.invalid_prompt, Some(PromptRef::text("Sorry")));
        assert_eq!(program.nodes()[0].step, Step::Pass);
    }

    #[test]
    fn unvalidated_documents_fail_cleanly() {
        let dangling = compile_node_graph(&document(vec![edge("e1", "entry", "ghost", None)]));
        assert_eq!(
            dangling,
            Err(CompileError::UnknownNode {
                edge: "e1".into(),
                node: "ghost".into()
            })
        );
        let two_defaults = compile_node_graph(&document(vec![
            edge("e1", "entry", "menu", None),
            edge("e2", "entry", "bye", None),
        ]));
        assert!(matches!(
            two_defaults,
            Err(CompileError::Program(ProgramError::DuplicateExit { .. }))
        ));
        let mut no_start = document(vec![]);
        no_start.start = "nope".into();
        assert_eq!(
            compile_node_graph(&no_start),
            Err(CompileError::UnknownStart("nope".into()))
        );
    }
}
