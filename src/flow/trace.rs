//! [`TraceEvent`]: what a session reports for someone debugging a flow —
//! variables set, unknown variables, skipped actions, flows entered and left,
//! decisions and HTTP exchanges. Polled with `Session::poll_trace`.

use serde::Serialize;

use crate::flow::program::NodeId;

/// Why a flow started running in a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StartReason {
    /// The flow the session was created with.
    Start,
    /// Entered by `fetch_flow`.
    Fetch,
    /// Resumed after a fetched flow ended.
    Return,
    /// Started by the previous flow's `on_complete_flow_id`.
    OnComplete,
}

/// One debugging event. JSON: `{"event": NAME, …fields}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TraceEvent {
    /// A flow started or resumed.
    FlowStarted {
        /// The id of the flow now running.
        flow_id: String,
        /// Its version.
        version: u32,
        /// How it came to run.
        reason: StartReason,
    },
    /// A variable was set (`node` is `dest_xform` for the route's transform).
    VarSet {
        /// The node that set it.
        node: NodeId,
        /// The variable name.
        key: String,
        /// The new value.
        value: String,
    },
    /// A template named a variable that is not set; it expanded to "".
    UnknownVariable {
        /// The node the event happened at.
        node: NodeId,
        /// The variable name as the template wrote it.
        name: String,
    },
    /// A pure node chose an exit (`true`, `in_hours`, a branch value…).
    Decision {
        /// The node the event happened at.
        node: NodeId,
        /// The exit handle chosen.
        outcome: String,
    },
    /// An action this engine does not perform was skipped.
    ActionSkipped {
        /// The skipped action's node.
        node: NodeId,
        /// The action's `type`.
        action: String,
        /// Why this engine does not perform it.
        reason: String,
    },
    /// A goto used up its loop count and fell through.
    GotoExhausted {
        /// The node the event happened at.
        node: NodeId,
        /// The loop count the goto allowed.
        loop_count: u32,
    },
    /// A command failed and the flow went on (the node's `failed` exit).
    CommandFailed {
        /// The node the event happened at.
        node: NodeId,
        /// Why the command failed, as the call layer reported it.
        reason: String,
    },
    /// An HTTP request was handed out.
    HttpRequest {
        /// The node that made the request.
        node: NodeId,
        /// The HTTP method.
        method: String,
        /// The expanded URL.
        url: String,
        /// Whether the flow waits for the response.
        wait: bool,
    },
    /// An HTTP response came back.
    HttpResponse {
        /// The node the event happened at.
        node: NodeId,
        /// The response status code.
        status: u16,
    },
    /// An HTTP response body was meant to become variables but is not JSON.
    HttpBodyNotJson {
        /// The node the event happened at.
        node: NodeId,
    },
    /// The flow completed and its `on_complete_flow_id` was not started.
    OnCompleteSkipped {
        /// The `on_complete_flow_id` that was not started.
        flow_id: String,
        /// Why not (not published, chain limit reached…).
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_with_an_event_key() {
        let event = TraceEvent::VarSet {
            node: "n".into(),
            key: "a".into(),
            value: "1".into(),
        };
        assert_eq!(
            serde_json::to_value(event).unwrap(),
            json!({"event": "var_set", "node": "n", "key": "a", "value": "1"})
        );
        let started = TraceEvent::FlowStarted {
            flow_id: "f".into(),
            version: 2,
            reason: StartReason::OnComplete,
        };
        assert_eq!(
            serde_json::to_value(started).unwrap(),
            json!({"event": "flow_started", "flow_id": "f", "version": 2, "reason": "on_complete"})
        );
    }
}
