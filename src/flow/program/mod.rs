//! The compiled flow: an immutable, `Arc`-shared program of steps whose exits
//! are resolved to node indices. Both flow formats (and synthesized flows)
//! compile into this, and the interpreter runs nothing else.

mod exits;
mod node_id;
mod step;

use std::collections::HashSet;

use serde::Serialize;
use thiserror::Error;

pub use self::exits::Exits;
pub use self::node_id::NodeId;
pub use self::step::{
    AudioTemplate, CollectStep, CompareStep, ConnectStep, DatetimeStep, GatherSpec, HttpStep,
    MenuStep, PlayStep, RecordStart, RecordStep, ResponseStore, SendDigitsStep, Step,
};

/// Position of a node in [`Program::nodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeIndex(pub u32);

impl NodeIndex {
    /// The index as a `usize`.
    pub fn as_usize(self) -> usize {
        self.0 as usize
    }
}

/// The format a program was compiled from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowFormat {
    /// `{ id, version, start, nodes, edges }`.
    NodeGraph,
    /// VoIPBIN `{ actions: [...] }`.
    ActionArray,
    /// A call-flow API record whose graph is in `flowData`.
    ApiRecord,
    /// Built by `synthesize` for a route that points at a destination.
    Synthesized,
}

/// What a [`Reference`] points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceKind {
    /// A published flow (`fetch_flow`, `on_complete_flow_id`, a `call`'s `flow_id`).
    Flow,
    /// A `[[schedule]]` (`timeCondition.scheduleId`).
    Schedule,
    /// A `[[queue]]`.
    Queue,
    /// A `[[voicemail]]` box.
    Voicemail,
    /// A `[[ring_group]]`.
    RingGroup,
    /// A `[[conference]]` room.
    Conference,
}

impl ReferenceKind {
    /// The kind as a word for messages (`queue`, `ring group`…).
    pub fn describe(self) -> &'static str {
        match self {
            ReferenceKind::Flow => "published flow",
            ReferenceKind::Schedule => "schedule",
            ReferenceKind::Queue => "queue",
            ReferenceKind::Voicemail => "voicemail box",
            ReferenceKind::RingGroup => "ring group",
            ReferenceKind::Conference => "conference",
        }
    }
}

/// A literal id in the flow that names something outside it, with the JSON
/// path where it was written; checked by `check_references`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reference {
    /// What kind of thing the id names, and so where it must exist.
    pub kind: ReferenceKind,
    /// The id as written.
    pub id: String,
    /// The JSON path of the id in the flow document (`nodes[2].data.queueId`).
    pub path: String,
}

/// One node of a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramNode {
    /// The node's id in the source document (`#INDEX` for an action without id).
    pub id: NodeId,
    /// What the node does when the flow reaches it.
    pub step: Step,
    /// Where the flow goes next, by the outcome the step left with.
    pub exits: Exits,
}

/// Why a set of nodes does not form a program.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProgramError {
    /// No nodes at all.
    #[error("a program needs at least one node")]
    Empty,
    /// More nodes (this many) than a [`NodeIndex`] can number.
    #[error("too many nodes ({0})")]
    TooManyNodes(usize),
    /// The start index (this one) is not a node.
    #[error("start index {0} is out of range")]
    StartOutOfRange(u32),
    /// An exit points past the last node.
    #[error("node {node:?}: exit {handle:?} points at index {target}, out of range")]
    ExitOutOfRange {
        /// The id of the node with the exit.
        node: String,
        /// The exit's outcome handle.
        handle: String,
        /// The index it points at.
        target: u32,
    },
    /// A node has two exits for one outcome handle.
    #[error("node {node:?}: more than one exit for {handle:?}")]
    DuplicateExit {
        /// The id of the node.
        node: String,
        /// The handle with two exits.
        handle: String,
    },
    /// Two nodes share this id.
    #[error("duplicate node id {0:?}")]
    DuplicateNodeId(String),
    /// A play step (this node) plays its audio zero times.
    #[error("node {0:?}: audio must be played at least once")]
    ZeroPlays(String),
    /// A menu or collect (this node) could never succeed with its digit counts.
    #[error("node {0:?}: a menu or collect needs max digits and max failures of at least 1 and min digits ≤ max digits")]
    BadGather(String),
}

/// A compiled flow. Its invariants (start and every exit in range, unique node
/// ids, one exit per handle) are checked once by [`Program::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    id: String,
    name: String,
    version: u32,
    start: NodeIndex,
    nodes: Vec<ProgramNode>,
    format: FlowFormat,
    on_complete_flow_id: Option<String>,
    references: Vec<Reference>,
    early_media: bool,
}

impl Program {
    /// Checks the invariants and builds a node-graph program (see the `with_` methods).
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        version: u32,
        start: NodeIndex,
        nodes: Vec<ProgramNode>,
    ) -> Result<Program, ProgramError> {
        if nodes.is_empty() {
            return Err(ProgramError::Empty);
        }
        let count =
            u32::try_from(nodes.len()).map_err(|_| ProgramError::TooManyNodes(nodes.len()))?;
        if start.0 >= count {
            return Err(ProgramError::StartOutOfRange(start.0));
        }
        let mut ids = HashSet::new();
        for node in &nodes {
            if !ids.insert(node.id.as_str()) {
                return Err(ProgramError::DuplicateNodeId(node.id.to_string()));
            }
            check_step(node)?;
            check_exits(node, count)?;
        }
        Ok(Program {
            id: id.into(),
            name: name.into(),
            version,
            start,
            nodes,
            format: FlowFormat::NodeGraph,
            on_complete_flow_id: None,
            references: Vec::new(),
            early_media: false,
        })
    }

    /// A program of one hangup node (valid by construction).
    pub fn hangup_only(id: impl Into<String>, name: impl Into<String>) -> Program {
        Program {
            id: id.into(),
            name: name.into(),
            version: 1,
            start: NodeIndex(0),
            nodes: vec![ProgramNode {
                id: "hangup".into(),
                step: Step::Hangup {
                    reason: None,
                    sip_status: None,
                },
                exits: Exits::default(),
            }],
            format: FlowFormat::NodeGraph,
            on_complete_flow_id: None,
            references: Vec::new(),
            early_media: false,
        }
    }

    /// The same program marked as compiled from `format`.
    pub fn with_format(mut self, format: FlowFormat) -> Program {
        self.format = format;
        self
    }

    /// The same program with a flow to start when it completes.
    pub fn with_on_complete(mut self, flow_id: Option<String>) -> Program {
        self.on_complete_flow_id = flow_id;
        self
    }

    /// The same program asking for early media: the call is not answered
    /// at once; prompts play in a 183 Session Progress until the flow
    /// answers, or reaches a step that needs an answered call.
    pub fn with_early_media(mut self, early_media: bool) -> Program {
        self.early_media = early_media;
        self
    }

    /// Whether the flow asks for early media ([`Program::with_early_media`]).
    pub fn early_media(&self) -> bool {
        self.early_media
    }

    /// The same program with its outside references listed.
    pub fn with_references(mut self, references: Vec<Reference>) -> Program {
        self.references = references;
        self
    }

    /// The flow's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The flow's display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The flow's version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The format the flow was written in.
    pub fn format(&self) -> FlowFormat {
        self.format
    }

    /// The flow to start in a new session when this one completes.
    pub fn on_complete_flow_id(&self) -> Option<&str> {
        self.on_complete_flow_id.as_deref()
    }

    /// Ids the flow names outside itself (flows, schedules, destinations).
    pub fn references(&self) -> &[Reference] {
        &self.references
    }

    /// The node a session starts at.
    pub fn start(&self) -> NodeIndex {
        self.start
    }

    /// All nodes, indexed by [`NodeIndex`].
    pub fn nodes(&self) -> &[ProgramNode] {
        &self.nodes
    }

    /// The node at `index`, if it exists.
    pub fn get(&self, index: NodeIndex) -> Option<&ProgramNode> {
        self.nodes.get(index.as_usize())
    }

    /// The index of the node with id `id`.
    pub fn index_of(&self, id: &str) -> Option<NodeIndex> {
        self.nodes
            .iter()
            .position(|node| node.id == id)
            .map(|position| NodeIndex(position as u32))
    }

    /// The node at an index taken from this program (its start or an exit),
    /// which [`Program::new`] guarantees to be in range; an index from
    /// elsewhere gets the start node rather than a panic.
    pub(crate) fn node(&self, index: NodeIndex) -> &ProgramNode {
        match self.nodes.get(index.as_usize()) {
            Some(node) => node,
            None => &self.nodes[self.start.as_usize()],
        }
    }
}

fn check_step(node: &ProgramNode) -> Result<(), ProgramError> {
    let bad_gather =
        |gather: &GatherSpec, max_failures: u32| gather.max_digits == 0 || max_failures == 0;
    match &node.step {
        Step::Play(play) if play.times == 0 => Err(ProgramError::ZeroPlays(node.id.to_string())),
        Step::Menu(menu) if bad_gather(&menu.gather, menu.max_failures) => {
            Err(ProgramError::BadGather(node.id.to_string()))
        }
        Step::Collect(collect)
            if bad_gather(&collect.gather, collect.max_failures)
                || collect.min_digits > collect.gather.max_digits =>
        {
            Err(ProgramError::BadGather(node.id.to_string()))
        }
        Step::DigitsReceive(gather) if gather.max_digits == 0 => {
            Err(ProgramError::BadGather(node.id.to_string()))
        }
        _ => Ok(()),
    }
}

fn check_exits(node: &ProgramNode, count: u32) -> Result<(), ProgramError> {
    let mut handles = HashSet::new();
    for (handle, _) in node.exits.handles() {
        if !handles.insert(handle) {
            return Err(ProgramError::DuplicateExit {
                node: node.id.to_string(),
                handle: handle.to_owned(),
            });
        }
    }
    if let Some(target) = node.exits.targets().find(|target| target.0 >= count) {
        let handle = node
            .exits
            .handles()
            .find(|(_, t)| *t == target)
            .map_or("(default)", |(name, _)| name);
        return Err(ProgramError::ExitOutOfRange {
            node: node.id.to_string(),
            handle: handle.to_owned(),
            target: target.0,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::template::Template;

    fn node(id: &str, step: Step, exits: Exits) -> ProgramNode {
        ProgramNode {
            id: id.into(),
            step,
            exits,
        }
    }

    fn hangup() -> Step {
        Step::Hangup {
            reason: None,
            sip_status: None,
        }
    }

    #[test]
    fn rejects_out_of_range_and_duplicates() {
        assert_eq!(
            Program::new("f", "", 1, NodeIndex(0), vec![]),
            Err(ProgramError::Empty)
        );
        assert_eq!(
            Program::new(
                "f",
                "",
                1,
                NodeIndex(1),
                vec![node("a", hangup(), Exits::default())]
            ),
            Err(ProgramError::StartOutOfRange(1))
        );
        assert!(matches!(
            Program::new(
                "f",
                "",
                1,
                NodeIndex(0),
                vec![node("a", Step::Pass, Exits::to(NodeIndex(5)))]
            ),
            Err(ProgramError::ExitOutOfRange { target: 5, .. })
        ));
        let twice = Exits::new(
            vec![("done".into(), NodeIndex(0)), ("done".into(), NodeIndex(0))],
            None,
        );
        assert!(matches!(
            Program::new("f", "", 1, NodeIndex(0), vec![node("a", Step::Pass, twice)]),
            Err(ProgramError::DuplicateExit { .. })
        ));
        let same_ids = vec![
            node("a", Step::Pass, Exits::to(NodeIndex(1))),
            node("a", hangup(), Exits::default()),
        ];
        assert_eq!(
            Program::new("f", "", 1, NodeIndex(0), same_ids),
            Err(ProgramError::DuplicateNodeId("a".into()))
        );
    }

    #[test]
    fn rejects_degenerate_steps() {
        let play = Step::Play(PlayStep {
            audio: vec![AudioTemplate::Catalog(Template::literal("x"))],
            times: 0,
        });
        assert_eq!(
            Program::new(
                "f",
                "",
                1,
                NodeIndex(0),
                vec![node("p", play, Exits::default())]
            ),
            Err(ProgramError::ZeroPlays("p".into()))
        );
    }

    #[test]
    fn looks_nodes_up_and_carries_metadata() {
        let nodes = vec![
            node("entry", Step::Pass, Exits::to(NodeIndex(1))),
            node("bye", hangup(), Exits::default()),
        ];
        let program = Program::new("f", "name", 7, NodeIndex(0), nodes)
            .unwrap()
            .with_format(FlowFormat::ActionArray)
            .with_on_complete(Some("next".into()));
        assert_eq!(program.index_of("bye"), Some(NodeIndex(1)));
        assert_eq!(program.get(NodeIndex(2)), None);
        assert_eq!(program.node(NodeIndex(1)).id, "bye");
        assert_eq!(program.node(NodeIndex(9)).id, "entry");
        assert_eq!(
            (program.id(), program.name(), program.version()),
            ("f", "name", 7)
        );
        assert_eq!(program.format(), FlowFormat::ActionArray);
        assert_eq!(program.on_complete_flow_id(), Some("next"));
        assert!(program.nodes()[0].step.is_pure());
    }
}
