//! Destinations a route can point at directly (queues, voicemail boxes,
//! conferences, ring groups, forwards): their serde configuration, as the
//! server's TOML config holds it, and their configured exits.
//!
//! ```toml
//! [[queue]]
//! id = "support"
//! timeout_sec = 120
//! timeout_dest = { kind = "voicemail", id = "vm1" }
//!
//! [[voicemail]]
//! id = "vm1"
//!
//! [[ring_group]]
//! id = "sales"
//! members = ["sip:alice@10.0.0.5", "+15551230001"]
//! timeout_sec = 25
//! no_answer_dest = { kind = "queue", id = "support" }
//!
//! [[conference]]
//! id = "standup"
//!
//! [[forward]]
//! id = "after_hours"
//! number = "+15559870000"
//! no_answer_dest = { kind = "voicemail", id = "vm1" }
//! ```

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::flow::problem::Problem;
use crate::flow::program::ReferenceKind;

/// The kind of a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DestinationKind {
    /// A `[[queue]]`: the caller waits for an agent.
    Queue,
    /// A `[[voicemail]]` mailbox: the caller leaves a message.
    Voicemail,
    /// A `[[conference]]` room the caller joins.
    Conference,
    /// A `[[ring_group]]`: several members ring at once.
    RingGroup,
    /// A `[[forward]]`: the call goes on to an outside number.
    Forward,
}

impl DestinationKind {
    /// The kind's config name (`queue`, `ring_group`…).
    pub fn name(self) -> &'static str {
        match self {
            DestinationKind::Queue => "queue",
            DestinationKind::Voicemail => "voicemail",
            DestinationKind::Conference => "conference",
            DestinationKind::RingGroup => "ring_group",
            DestinationKind::Forward => "forward",
        }
    }

    /// The reference kind a flow uses for it (forwards have none).
    pub fn reference_kind(self) -> Option<ReferenceKind> {
        match self {
            DestinationKind::Queue => Some(ReferenceKind::Queue),
            DestinationKind::Voicemail => Some(ReferenceKind::Voicemail),
            DestinationKind::Conference => Some(ReferenceKind::Conference),
            DestinationKind::RingGroup => Some(ReferenceKind::RingGroup),
            DestinationKind::Forward => None,
        }
    }
}

/// A destination by kind and id: `{ kind = "voicemail", id = "vm1" }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// Which table of the catalog `id` is looked up in.
    pub kind: DestinationKind,
    /// The `id` of the `[[queue]]`, `[[voicemail]]`… entry.
    pub id: String,
}

impl Destination {
    /// A destination of `kind` named `id`.
    pub fn new(kind: DestinationKind, id: impl Into<String>) -> Destination {
        Destination {
            kind,
            id: id.into(),
        }
    }
}

/// `[[queue]]`: callers wait for an agent; after `timeout_sec` they go to `timeout_dest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// The name routes and flows use for the queue.
    pub id: String,
    /// How long a caller may wait, in seconds; unset leaves the limit to the call layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_sec: Option<u32>,
    /// Where a caller goes when the wait times out; unset, a route's flow ends there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_dest: Option<Destination>,
}

/// `[[voicemail]]`: a mailbox; `max_length_sec` caps a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoicemailConfig {
    /// The name routes and flows use for the mailbox.
    pub id: String,
    /// The longest message recorded, in seconds; unset leaves it to the call layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length_sec: Option<u32>,
}

/// `[[ring_group]]`: `members` ring together for `timeout_sec`; nobody answering
/// (or all busy) goes to `no_answer_dest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RingGroupConfig {
    /// The name routes and flows use for the group.
    pub id: String,
    /// The numbers or SIP addresses rung at the same time.
    #[serde(default)]
    pub members: Vec<String>,
    /// How long the members ring, in seconds, before the group counts as not answering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_sec: Option<u32>,
    /// Where the caller goes when nobody answers or every member is busy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_answer_dest: Option<Destination>,
}

/// `[[conference]]`: a conference room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConferenceConfig {
    /// The name routes and flows use for the room.
    pub id: String,
}

/// `[[forward]]`: the call is forwarded to `number`; no answer (or busy) goes
/// to `no_answer_dest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardConfig {
    /// The name routes and flows use for the forward.
    pub id: String,
    /// The number or SIP address the call is forwarded to.
    pub number: String,
    /// How long the forwarded leg rings, in seconds, before it counts as not answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_sec: Option<u32>,
    /// Where the caller goes when the forwarded leg is not answered or busy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_answer_dest: Option<Destination>,
}

/// Every configured destination.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationCatalog {
    /// The `[[queue]]` entries, in file order.
    #[serde(default, rename = "queue")]
    pub queues: Vec<QueueConfig>,
    /// The `[[voicemail]]` entries, in file order.
    #[serde(default, rename = "voicemail")]
    pub voicemails: Vec<VoicemailConfig>,
    /// The `[[ring_group]]` entries, in file order.
    #[serde(default, rename = "ring_group")]
    pub ring_groups: Vec<RingGroupConfig>,
    /// The `[[conference]]` entries, in file order.
    #[serde(default, rename = "conference")]
    pub conferences: Vec<ConferenceConfig>,
    /// The `[[forward]]` entries, in file order.
    #[serde(default, rename = "forward")]
    pub forwards: Vec<ForwardConfig>,
}

impl DestinationCatalog {
    /// The queue `id`.
    pub fn queue(&self, id: &str) -> Option<&QueueConfig> {
        self.queues.iter().find(|queue| queue.id == id)
    }

    /// The voicemail box `id`.
    pub fn voicemail(&self, id: &str) -> Option<&VoicemailConfig> {
        self.voicemails.iter().find(|mailbox| mailbox.id == id)
    }

    /// The ring group `id`.
    pub fn ring_group(&self, id: &str) -> Option<&RingGroupConfig> {
        self.ring_groups.iter().find(|group| group.id == id)
    }

    /// The conference `id`.
    pub fn conference(&self, id: &str) -> Option<&ConferenceConfig> {
        self.conferences.iter().find(|room| room.id == id)
    }

    /// The forward `id`.
    pub fn forward(&self, id: &str) -> Option<&ForwardConfig> {
        self.forwards.iter().find(|forward| forward.id == id)
    }

    /// Whether `destination` is configured.
    pub fn contains(&self, destination: &Destination) -> bool {
        let id = destination.id.as_str();
        match destination.kind {
            DestinationKind::Queue => self.queue(id).is_some(),
            DestinationKind::Voicemail => self.voicemail(id).is_some(),
            DestinationKind::Conference => self.conference(id).is_some(),
            DestinationKind::RingGroup => self.ring_group(id).is_some(),
            DestinationKind::Forward => self.forward(id).is_some(),
        }
    }

    /// Whether a flow reference of `kind` to `id` is configured.
    pub fn has_reference(&self, kind: ReferenceKind, id: &str) -> bool {
        match kind {
            ReferenceKind::Queue => self.queue(id).is_some(),
            ReferenceKind::Voicemail => self.voicemail(id).is_some(),
            ReferenceKind::Conference => self.conference(id).is_some(),
            ReferenceKind::RingGroup => self.ring_group(id).is_some(),
            ReferenceKind::Flow | ReferenceKind::Schedule => false,
        }
    }

    /// The configured exit of `destination` (timeout or no-answer), if any.
    pub fn exit_of(&self, destination: &Destination) -> Option<&Destination> {
        let id = destination.id.as_str();
        match destination.kind {
            DestinationKind::Queue => self.queue(id)?.timeout_dest.as_ref(),
            DestinationKind::RingGroup => self.ring_group(id)?.no_answer_dest.as_ref(),
            DestinationKind::Forward => self.forward(id)?.no_answer_dest.as_ref(),
            DestinationKind::Voicemail | DestinationKind::Conference => None,
        }
    }

    /// Problems with the configuration: empty or duplicate ids, forwards
    /// without a number, ring groups without members, exits to destinations
    /// that are not configured. Paths look like `queue[0].timeout_dest`.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut check_ids = |kind: &str, ids: Vec<&str>| {
            let mut seen = HashSet::new();
            for (index, id) in ids.into_iter().enumerate() {
                if id.is_empty() {
                    problems.push(Problem::new(
                        format!("{kind}[{index}].id"),
                        "must not be empty",
                    ));
                } else if !seen.insert(id) {
                    problems.push(Problem::new(
                        format!("{kind}[{index}].id"),
                        format!("duplicate {kind} id {id:?}"),
                    ));
                }
            }
        };
        check_ids("queue", self.queues.iter().map(|q| q.id.as_str()).collect());
        check_ids(
            "voicemail",
            self.voicemails.iter().map(|v| v.id.as_str()).collect(),
        );
        check_ids(
            "ring_group",
            self.ring_groups.iter().map(|r| r.id.as_str()).collect(),
        );
        check_ids(
            "conference",
            self.conferences.iter().map(|c| c.id.as_str()).collect(),
        );
        check_ids(
            "forward",
            self.forwards.iter().map(|f| f.id.as_str()).collect(),
        );
        let mut exits: Vec<(String, &Destination)> = Vec::new();
        for (index, queue) in self.queues.iter().enumerate() {
            if let Some(exit) = &queue.timeout_dest {
                exits.push((format!("queue[{index}].timeout_dest"), exit));
            }
        }
        for (index, group) in self.ring_groups.iter().enumerate() {
            if group.members.is_empty() {
                problems.push(Problem::new(
                    format!("ring_group[{index}].members"),
                    "expected at least one member",
                ));
            }
            if let Some(exit) = &group.no_answer_dest {
                exits.push((format!("ring_group[{index}].no_answer_dest"), exit));
            }
        }
        for (index, forward) in self.forwards.iter().enumerate() {
            if forward.number.is_empty() {
                problems.push(Problem::new(
                    format!("forward[{index}].number"),
                    "must not be empty",
                ));
            }
            if let Some(exit) = &forward.no_answer_dest {
                exits.push((format!("forward[{index}].no_answer_dest"), exit));
            }
        }
        for (path, exit) in exits {
            if !self.contains(exit) {
                problems.push(Problem::new(
                    path,
                    format!("no {} {:?}", exit.kind.name(), exit.id),
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn catalog() -> DestinationCatalog {
        serde_json::from_value(json!({
            "queue": [{"id": "support", "timeout_sec": 60, "timeout_dest": {"kind": "voicemail", "id": "vm1"}}],
            "voicemail": [{"id": "vm1"}],
            "ring_group": [{"id": "sales", "members": ["+1"], "no_answer_dest": {"kind": "queue", "id": "support"}}],
            "conference": [{"id": "room"}],
            "forward": [{"id": "fw", "number": "+1555", "no_answer_dest": {"kind": "voicemail", "id": "nope"}}]
        }))
        .unwrap()
    }

    #[test]
    fn reads_the_config_shape_and_finds_destinations() {
        let catalog = catalog();
        assert_eq!(
            catalog.queue("support").and_then(|q| q.timeout_sec),
            Some(60)
        );
        assert!(catalog.contains(&Destination::new(DestinationKind::RingGroup, "sales")));
        assert!(!catalog.contains(&Destination::new(DestinationKind::Queue, "sales")));
        assert_eq!(
            catalog.exit_of(&Destination::new(DestinationKind::Queue, "support")),
            Some(&Destination::new(DestinationKind::Voicemail, "vm1"))
        );
        assert!(catalog.has_reference(ReferenceKind::Conference, "room"));
    }

    #[test]
    fn validation_names_the_path() {
        let shown: Vec<String> = catalog()
            .validate()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["forward[0].no_answer_dest: no voicemail \"nope\""]);
        let bad: Result<DestinationCatalog, _> =
            serde_json::from_value(json!({"queue": [{"id": "q", "timeout": 5}]}));
        assert!(bad.is_err());
    }
}
