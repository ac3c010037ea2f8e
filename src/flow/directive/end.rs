//! [`EndReason`]: why a flow session ended, naming the node and the cause.

use std::fmt;

use serde::Serialize;

use crate::flow::directive::Outcome;
use crate::flow::limits::{EXECUTION_LIMIT, FETCH_DEPTH_LIMIT, STEP_LIMIT};
use crate::flow::program::NodeId;

/// Why a flow ended. JSON: `{"end": NAME, "node": ID, …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "end", rename_all = "snake_case")]
pub enum EndReason {
    /// A hangup node was carried out.
    Hangup {
        /// The node the flow ended at.
        node: NodeId,
    },
    /// A node-graph node returned `outcome` and has no edge for it and no
    /// default edge: the flow is over.
    NoEdge {
        /// The node the flow ended at.
        node: NodeId,
        /// The outcome handle the node left by.
        outcome: String,
    },
    /// The cursor of an action array moved past its last action.
    EndOfActions {
        /// The node the flow ended at.
        node: NodeId,
    },
    /// A `stop` action.
    Stopped {
        /// The node the flow ended at.
        node: NodeId,
    },
    /// The caller hung up while `node` was running.
    CallerHangup {
        /// The node the flow ended at.
        node: NodeId,
    },
    /// The bridge made by `node` ended and the node has no `answered` edge.
    BridgeEnded {
        /// The node the flow ended at.
        node: NodeId,
    },
    /// More than `STEP_LIMIT` nodes were entered in one execution cycle.
    StepLimit {
        /// The node the flow ended at.
        node: NodeId,
    },
    /// The session would have handed out more than `EXECUTION_LIMIT` commands.
    ExecutionLimit {
        /// The node the flow ended at.
        node: NodeId,
    },
    /// `fetch_flow` would have nested flows deeper than `FETCH_DEPTH_LIMIT`.
    DepthLimit {
        /// The node the flow ended at.
        node: NodeId,
        /// The flow `fetch_flow` asked for.
        flow_id: String,
    },
    /// `fetch_flow` named a flow that is not published.
    FlowNotFound {
        /// The node the flow ended at.
        node: NodeId,
        /// The flow `fetch_flow` asked for.
        flow_id: String,
    },
    /// The command or logic of `node` failed and the node has no `failed` edge.
    Failed {
        /// The node the flow ended at.
        node: NodeId,
        /// What failed, in words.
        reason: String,
    },
    /// The call layer reported an outcome the command at `node` cannot produce.
    UnexpectedOutcome {
        /// The node the flow ended at.
        node: NodeId,
        /// The outcome the call layer reported.
        outcome: Outcome,
    },
}

impl EndReason {
    /// The node the flow ended at.
    pub fn node(&self) -> &NodeId {
        match self {
            EndReason::Hangup { node }
            | EndReason::NoEdge { node, .. }
            | EndReason::EndOfActions { node }
            | EndReason::Stopped { node }
            | EndReason::CallerHangup { node }
            | EndReason::BridgeEnded { node }
            | EndReason::StepLimit { node }
            | EndReason::ExecutionLimit { node }
            | EndReason::DepthLimit { node, .. }
            | EndReason::FlowNotFound { node, .. }
            | EndReason::Failed { node, .. }
            | EndReason::UnexpectedOutcome { node, .. } => node,
        }
    }

    /// Whether the flow failed (a limit, a missing flow, a failed command, a
    /// bad outcome). A failed flow starts no `on_complete_flow_id` follow-up.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            EndReason::StepLimit { .. }
                | EndReason::ExecutionLimit { .. }
                | EndReason::DepthLimit { .. }
                | EndReason::FlowNotFound { .. }
                | EndReason::Failed { .. }
                | EndReason::UnexpectedOutcome { .. }
        )
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndReason::Hangup { node } => write!(f, "hangup at {node}"),
            EndReason::NoEdge { node, outcome } => write!(
                f,
                "no edge from {node} for outcome {outcome} and no default edge"
            ),
            EndReason::EndOfActions { node } => {
                write!(f, "end of actions reached after {node}")
            }
            EndReason::Stopped { node } => write!(f, "stopped at {node}"),
            EndReason::CallerHangup { node } => write!(f, "caller hung up during {node}"),
            EndReason::BridgeEnded { node } => {
                write!(f, "bridge of {node} ended and it has no answered edge")
            }
            EndReason::StepLimit { node } => write!(
                f,
                "more than {STEP_LIMIT} nodes in one execution cycle at {node} (a loop without a command?)"
            ),
            EndReason::ExecutionLimit { node } => write!(
                f,
                "more than {EXECUTION_LIMIT} commands in one session at {node} (a loop?)"
            ),
            EndReason::DepthLimit { node, flow_id } => write!(
                f,
                "fetch_flow of {flow_id:?} at {node} would nest more than {FETCH_DEPTH_LIMIT} flows"
            ),
            EndReason::FlowNotFound { node, flow_id } => {
                write!(f, "{node} names flow {flow_id:?}, which is not published")
            }
            EndReason::Failed { node, reason } => write!(f, "{node} failed: {reason}"),
            EndReason::UnexpectedOutcome { node, outcome } => {
                write!(f, "{node} cannot return {outcome}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_node_and_cause() {
        let reason = EndReason::ExecutionLimit { node: "#4".into() };
        assert_eq!(reason.node(), "#4");
        assert!(reason.is_failure());
        assert_eq!(
            reason.to_string(),
            "more than 100 commands in one session at #4 (a loop?)"
        );
        assert!(!EndReason::Stopped { node: "s".into() }.is_failure());
        assert_eq!(
            serde_json::to_value(EndReason::NoEdge {
                node: "m".into(),
                outcome: "timeout".into()
            })
            .unwrap(),
            json!({"end": "no_edge", "node": "m", "outcome": "timeout"})
        );
        assert_eq!(
            EndReason::UnexpectedOutcome {
                node: "p".into(),
                outcome: Outcome::Digits("1".into())
            }
            .to_string(),
            "p cannot return digits:1"
        );
    }
}
