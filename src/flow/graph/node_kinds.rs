//! The node kinds of the node-graph format (`data.kind`) and the outcomes each
//! can return — what edges may name in `sourceHandle`.

use crate::flow::handle::{
    ANSWERED, BUSY, COLLECTED, DONE, ERROR, FAILED, FALSE, HOLIDAY, INVALID, IN_HOURS, NO_ANSWER,
    OUT_OF_HOURS, SUCCESS, TIMEOUT, TRUE,
};

/// A node kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeKind {
    Entry,
    /// The API record's name for the entry node; may speak a `prompt`.
    Start,
    Play,
    Say,
    Menu,
    Collect,
    Dial,
    RingGroup,
    Enqueue,
    Forward,
    Transfer,
    Conference,
    Voicemail,
    Condition,
    TimeCondition,
    HttpRequest,
    SetVar,
    Callback,
    LastCalledUser,
    /// Answers a call in early media (200 OK); a no-op on an answered call.
    Answer,
    Hangup,
}

/// Every kind, in catalog order.
pub(super) const ALL_KINDS: &[NodeKind] = &[
    NodeKind::Entry,
    NodeKind::Start,
    NodeKind::Play,
    NodeKind::Say,
    NodeKind::Menu,
    NodeKind::Collect,
    NodeKind::Dial,
    NodeKind::RingGroup,
    NodeKind::Enqueue,
    NodeKind::Forward,
    NodeKind::Transfer,
    NodeKind::Conference,
    NodeKind::Voicemail,
    NodeKind::Condition,
    NodeKind::TimeCondition,
    NodeKind::HttpRequest,
    NodeKind::SetVar,
    NodeKind::Callback,
    NodeKind::LastCalledUser,
    NodeKind::Answer,
    NodeKind::Hangup,
];

impl NodeKind {
    /// The kind named `name` (exact spelling, as in `data.kind`).
    pub(crate) fn parse(name: &str) -> Option<NodeKind> {
        ALL_KINDS.iter().copied().find(|kind| kind.name() == name)
    }

    /// The kind's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            NodeKind::Entry => "entry",
            NodeKind::Start => "start",
            NodeKind::Play => "play",
            NodeKind::Say => "say",
            NodeKind::Menu => "menu",
            NodeKind::Collect => "collect",
            NodeKind::Dial => "dial",
            NodeKind::RingGroup => "ringGroup",
            NodeKind::Enqueue => "enqueue",
            NodeKind::Forward => "forward",
            NodeKind::Transfer => "transfer",
            NodeKind::Conference => "conference",
            NodeKind::Voicemail => "voicemail",
            NodeKind::Condition => "condition",
            NodeKind::TimeCondition => "timeCondition",
            NodeKind::HttpRequest => "httpRequest",
            NodeKind::SetVar => "setVar",
            NodeKind::Callback => "callback",
            NodeKind::LastCalledUser => "lastCalledUser",
            NodeKind::Answer => "answer",
            NodeKind::Hangup => "hangup",
        }
    }

    /// Whether the node is where a call may enter (`entry`, `start`).
    pub(crate) fn is_entry(self) -> bool {
        matches!(self, NodeKind::Entry | NodeKind::Start)
    }

    /// The outcomes the kind can return, besides a menu's `digit:N`.
    pub(crate) fn outcomes(self) -> &'static [&'static str] {
        match self {
            NodeKind::Entry
            | NodeKind::SetVar
            | NodeKind::Callback
            | NodeKind::LastCalledUser
            | NodeKind::Answer => &[DONE],
            NodeKind::Start
            | NodeKind::Play
            | NodeKind::Say
            | NodeKind::Conference
            | NodeKind::Voicemail => &[DONE, FAILED],
            NodeKind::Menu => &[TIMEOUT, INVALID, FAILED],
            NodeKind::Collect => &[COLLECTED, TIMEOUT, INVALID, FAILED],
            NodeKind::Dial | NodeKind::RingGroup | NodeKind::Forward | NodeKind::Transfer => {
                &[ANSWERED, NO_ANSWER, BUSY, FAILED]
            }
            NodeKind::Enqueue => &[ANSWERED, TIMEOUT, FAILED],
            NodeKind::Condition => &[TRUE, FALSE],
            NodeKind::TimeCondition => &[IN_HOURS, OUT_OF_HOURS, HOLIDAY, FAILED],
            NodeKind::HttpRequest => &[SUCCESS, ERROR, FAILED],
            NodeKind::Hangup => &[],
        }
    }

    /// Outcomes that end the call when no edge takes them: a warning when the
    /// node has neither an edge for them nor a default edge. (`failed` and
    /// `answered` are left out: a failure ends the flow on purpose, and an
    /// answered call stays bridged; `holiday` falls back to `out_of_hours`.)
    pub(crate) fn outcomes_needing_an_edge(self) -> &'static [&'static str] {
        match self {
            NodeKind::Entry
            | NodeKind::Start
            | NodeKind::Play
            | NodeKind::Say
            | NodeKind::SetVar
            | NodeKind::Callback
            | NodeKind::LastCalledUser
            | NodeKind::Answer => &[DONE],
            NodeKind::Menu => &[TIMEOUT, INVALID],
            NodeKind::Collect => &[COLLECTED, TIMEOUT, INVALID],
            NodeKind::Dial | NodeKind::RingGroup | NodeKind::Forward | NodeKind::Transfer => {
                &[NO_ANSWER, BUSY]
            }
            NodeKind::Enqueue => &[TIMEOUT],
            NodeKind::Condition => &[TRUE, FALSE],
            NodeKind::TimeCondition => &[IN_HOURS, OUT_OF_HOURS],
            NodeKind::HttpRequest => &[SUCCESS, ERROR],
            NodeKind::Conference | NodeKind::Voicemail | NodeKind::Hangup => &[],
        }
    }

    /// The list of kind names for messages.
    pub(crate) fn catalog() -> String {
        ALL_KINDS
            .iter()
            .map(|kind| kind.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in ALL_KINDS {
            assert_eq!(NodeKind::parse(kind.name()), Some(*kind));
            for needed in kind.outcomes_needing_an_edge() {
                assert!(kind.outcomes().contains(needed), "{kind:?} {needed}");
            }
        }
        assert_eq!(NodeKind::parse("RingGroup"), None);
        assert!(NodeKind::catalog().starts_with("entry, start, play"));
    }
}
