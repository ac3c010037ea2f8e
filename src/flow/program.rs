//! The compiled flow: an immutable, `Arc`-shared program of steps whose exits
//! are resolved to node indices. Every flow format compiles into this, and the
//! interpreter runs nothing else.

use std::collections::HashSet;
use std::time::Duration;

use thiserror::Error;

use crate::flow::directive::PromptRef;

/// Position of a node in [`Program::nodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeIndex(pub u32);

impl NodeIndex {
    /// The index as a `usize`.
    pub fn as_usize(self) -> usize {
        self.0 as usize
    }
}

/// What a node does when the flow reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Pure: leaves at once by the `done` exit (entry nodes; later goto-like steps).
    Pass,
    /// Play a prompt, then leave by `done`.
    Play(PlayStep),
    /// Play a prompt while collecting digits, leave by `digit:N`, retrying failed attempts.
    Menu(MenuStep),
    /// Hang up; the flow ends.
    Hangup,
}

impl Step {
    /// Whether the step resolves without a command to the call layer.
    pub fn is_pure(&self) -> bool {
        matches!(self, Step::Pass)
    }
}

/// A prompt played `times` times in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayStep {
    pub prompt: PromptRef,
    /// How many times to play it; at least 1.
    pub times: u32,
}

/// How digits are collected; shared by every step that gathers DTMF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatherSpec {
    pub prompt: PromptRef,
    pub max_digits: u32,
    /// Wait for the first key once the prompt has ended.
    pub timeout: Duration,
    pub terminator: Option<char>,
    pub interdigit_timeout: Duration,
}

/// A DTMF menu: leaves by the `digit:N` exit matching the entry; an attempt that
/// times out or matches no `digit:` exit is a failure. Failures before the
/// `max_failures`-th replay the menu (after `invalid_prompt`, if any); the
/// `max_failures`-th leaves by `timeout` or `invalid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuStep {
    pub gather: GatherSpec,
    /// Failed attempts accepted; at least 1.
    pub max_failures: u32,
    /// Played after a failed attempt, before the menu is replayed.
    pub invalid_prompt: Option<PromptRef>,
}

/// Where a node goes next: exits named by outcome handle, plus a default exit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exits {
    by_handle: Vec<(String, NodeIndex)>,
    default: Option<NodeIndex>,
}

impl Exits {
    /// Exits from `(handle, target)` pairs and an optional default; checked by [`Program::new`].
    pub fn new(by_handle: Vec<(String, NodeIndex)>, default: Option<NodeIndex>) -> Exits {
        Exits { by_handle, default }
    }

    /// The exit named exactly `handle`, ignoring the default.
    pub fn exact(&self, handle: &str) -> Option<NodeIndex> {
        self.by_handle
            .iter()
            .find(|(name, _)| name == handle)
            .map(|(_, target)| *target)
    }

    /// The exit for `handle`, else the default exit.
    pub fn select(&self, handle: &str) -> Option<NodeIndex> {
        self.exact(handle).or(self.default)
    }

    /// The default exit (an edge without a handle).
    pub fn default_exit(&self) -> Option<NodeIndex> {
        self.default
    }

    /// The named exits, in the order given.
    pub fn handles(&self) -> impl Iterator<Item = (&str, NodeIndex)> {
        self.by_handle
            .iter()
            .map(|(name, target)| (name.as_str(), *target))
    }

    fn targets(&self) -> impl Iterator<Item = NodeIndex> + '_ {
        self.by_handle
            .iter()
            .map(|(_, target)| *target)
            .chain(self.default)
    }
}

/// One node of a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramNode {
    /// The node's id in the source document (what `Session::visited` reports).
    pub id: String,
    pub step: Step,
    pub exits: Exits,
}

/// Why a set of nodes does not form a program.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProgramError {
    #[error("a program needs at least one node")]
    Empty,
    #[error("too many nodes ({0})")]
    TooManyNodes(usize),
    #[error("start index {0} is out of range")]
    StartOutOfRange(u32),
    #[error("node {node:?}: exit {handle:?} points at index {target}, out of range")]
    ExitOutOfRange {
        node: String,
        handle: String,
        target: u32,
    },
    #[error("node {node:?}: more than one exit for {handle:?}")]
    DuplicateExit { node: String, handle: String },
    #[error("duplicate node id {0:?}")]
    DuplicateNodeId(String),
    #[error("node {0:?}: a play must be played at least once")]
    ZeroPlays(String),
    #[error("node {0:?}: a menu needs max_digits and max_failures of at least 1")]
    BadMenu(String),
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
}

impl Program {
    /// Checks the invariants and builds the program.
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
                return Err(ProgramError::DuplicateNodeId(node.id.clone()));
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
        })
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
    /// which [`Program::new`] guarantees to be in range.
    pub(crate) fn node(&self, index: NodeIndex) -> &ProgramNode {
        &self.nodes[index.as_usize()]
    }
}

fn check_step(node: &ProgramNode) -> Result<(), ProgramError> {
    match &node.step {
        Step::Play(play) if play.times == 0 => Err(ProgramError::ZeroPlays(node.id.clone())),
        Step::Menu(menu) if menu.gather.max_digits == 0 || menu.max_failures == 0 => {
            Err(ProgramError::BadMenu(node.id.clone()))
        }
        _ => Ok(()),
    }
}

fn check_exits(node: &ProgramNode, count: u32) -> Result<(), ProgramError> {
    let mut handles = HashSet::new();
    for (handle, _) in node.exits.handles() {
        if !handles.insert(handle) {
            return Err(ProgramError::DuplicateExit {
                node: node.id.clone(),
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
            node: node.id.clone(),
            handle: handle.to_owned(),
            target: target.0,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, step: Step, exits: Exits) -> ProgramNode {
        ProgramNode {
            id: id.into(),
            step,
            exits,
        }
    }

    #[test]
    fn select_prefers_the_named_exit_then_the_default() {
        let exits = Exits::new(vec![("digit:1".into(), NodeIndex(1))], Some(NodeIndex(2)));
        assert_eq!(exits.select("digit:1"), Some(NodeIndex(1)));
        assert_eq!(exits.select("timeout"), Some(NodeIndex(2)));
        assert_eq!(exits.exact("timeout"), None);
        assert_eq!(Exits::default().select("done"), None);
    }

    #[test]
    fn rejects_out_of_range_and_duplicates() {
        let pass_to = |target| Exits::new(vec![], Some(NodeIndex(target)));
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
                vec![node("a", Step::Hangup, Exits::default())]
            ),
            Err(ProgramError::StartOutOfRange(1))
        );
        assert!(matches!(
            Program::new(
                "f",
                "",
                1,
                NodeIndex(0),
                vec![node("a", Step::Pass, pass_to(5))]
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
            node("a", Step::Pass, pass_to(1)),
            node("a", Step::Hangup, Exits::default()),
        ];
        assert_eq!(
            Program::new("f", "", 1, NodeIndex(0), same_ids),
            Err(ProgramError::DuplicateNodeId("a".into()))
        );
    }

    #[test]
    fn rejects_degenerate_steps() {
        let play = Step::Play(PlayStep {
            prompt: PromptRef::catalog("x"),
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
    fn looks_nodes_up_by_id_and_index() {
        let nodes = vec![
            node("entry", Step::Pass, Exits::new(vec![], Some(NodeIndex(1)))),
            node("bye", Step::Hangup, Exits::default()),
        ];
        let program = Program::new("f", "name", 7, NodeIndex(0), nodes).unwrap();
        assert_eq!(program.index_of("bye"), Some(NodeIndex(1)));
        assert_eq!(program.get(NodeIndex(2)), None);
        assert_eq!(program.node(NodeIndex(1)).id, "bye");
        assert_eq!(
            (program.id(), program.name(), program.version()),
            ("f", "name", 7)
        );
        assert!(program.nodes()[0].step.is_pure());
    }
}
