//! [`Command`]: what the call layer must carry out, with every string already
//! templated. Each command serializes to one JSON object:
//!
//! ```text
//! {"command": "answer",       "node": ID}
//! {"command": "play",         "node": ID, "audio": [AUDIO…], "times": N}
//! {"command": "gather",       "node": ID, "audio": [AUDIO…], "max_digits": N, "timeout_ms": N,
//!                             "terminator": "#"|null, "interdigit_timeout_ms": N}
//! {"command": "send_digits",  "node": ID, "digits": "123#", "tone_ms": N, "gap_ms": N}
//! {"command": "record_start", "node": ID, "recording_id": S, "format": S|null,
//!                             "max_duration_ms": N|null, "end_of_silence_ms": N|null,
//!                             "end_of_key": "#"|null, "beep": BOOL}
//! {"command": "record_stop",  "node": ID, "recording_id": S|null}
//! {"command": "connect",      "node": ID, "kind": KIND, "targets": [S…], "source": S|null,
//!                             "timeout_ms": N|null, "early_media": BOOL, "flow_id": S|null}
//! {"command": "http",         "node": ID, "method": "POST", "url": S, "headers": {S: S},
//!                             "body": S|null, "timeout_ms": N, "wait": BOOL}
//! {"command": "sleep",        "node": ID, "duration_ms": N}
//! {"command": "block",        "node": ID}
//! {"command": "hangup",       "node": ID, "reason": S|null, "sip_status": N|null}
//! ```
//!
//! `KIND` is one of `dial`, `ring_group`, `queue`, `forward`, `transfer`,
//! `conference`, `voicemail`, `call`; AUDIO is described in [`Audio`].
//! A node id is the document's (`"#3"` for the fourth action when it has none).

use std::sync::Arc;
use std::time::Duration;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::flow::directive::Audio;
use crate::flow::program::{NodeId, Program};

/// Where a connect command sends the caller, and what it reports.
///
/// | kind | target | outcomes |
/// |---|---|---|
/// | `dial`, `forward`, `transfer` | numbers / SIP URIs | `Answered` (then `BridgeEnded`), `NoAnswer`, `Busy`, `Failed` |
/// | `ring_group` | ring group id | same |
/// | `queue` | queue id | `Answered` (then `BridgeEnded`), `Timeout`, `Failed` |
/// | `conference` | conference id | `Done` or `BridgeEnded` when the caller leaves, `Failed` |
/// | `voicemail` | mailbox id | `Done` when the message is left, `Failed` |
/// | `call` | numbers | `Done` once the new call is placed (the flow goes on), `Failed` |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectKind {
    /// Call the targets (numbers or SIP URIs) and bridge the caller to the one that answers.
    Dial,
    /// Ring a configured ring group's members together and bridge the first to answer.
    RingGroup,
    /// Hold the caller in a configured queue until an agent answers or the wait times out.
    Queue,
    /// Forward the call to a number (a configured `[[forward]]` or a flow's target).
    Forward,
    /// Hand the caller over to another number.
    Transfer,
    /// Join the caller to a configured conference room.
    Conference,
    /// Let the caller leave a message in a configured mailbox.
    Voicemail,
    /// A new, separate outbound call running its own flow; the current flow goes on.
    Call,
}

impl ConnectKind {
    /// The kind's JSON name.
    pub fn name(self) -> &'static str {
        match self {
            ConnectKind::Dial => "dial",
            ConnectKind::RingGroup => "ring_group",
            ConnectKind::Queue => "queue",
            ConnectKind::Forward => "forward",
            ConnectKind::Transfer => "transfer",
            ConnectKind::Conference => "conference",
            ConnectKind::Voicemail => "voicemail",
            ConnectKind::Call => "call",
        }
    }
}

/// A command for the call layer; see the module doc for its JSON form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Answer the call; report `Done`.
    Answer {
        /// The node that issued the command; the outcome resumes the flow there.
        node: NodeId,
    },
    /// Play `audio` `times` times; report `Done` once all of it has played.
    Play {
        /// The node that issued the command; the outcome resumes the flow there.
        node: NodeId,
        /// What to play, in order.
        audio: Vec<Audio>,
        /// How many times the whole list plays; at least 1.
        times: u32,
    },
    /// Play `audio` while collecting DTMF; report `Digits` with the keys
    /// entered, the terminator included when it ended the entry, or `Timeout`
    /// when nothing was entered.
    Gather {
        /// The node that issued the command; the outcome resumes the flow there.
        node: NodeId,
        /// The prompt played while keys are collected; may be empty.
        audio: Vec<Audio>,
        /// The entry ends once this many keys are in.
        max_digits: u32,
        /// Wait for the first key once the audio has ended.
        #[serde(rename = "timeout_ms", serialize_with = "millis")]
        timeout: Duration,
        /// A key that ends the entry before `max_digits` (usually `#`); none if only the
        /// count and the timeouts end it.
        terminator: Option<char>,
        /// Wait for each further key.
        #[serde(rename = "interdigit_timeout_ms", serialize_with = "millis")]
        interdigit_timeout: Duration,
    },
    /// Send DTMF to the caller; report `Done`.
    SendDigits {
        /// The node that issued the command; the outcome resumes the flow there.
        node: NodeId,
        /// The keys to send, in order (`0`–`9`, `*`, `#`, `A`–`D`).
        digits: String,
        /// How long each tone lasts.
        #[serde(rename = "tone_ms", serialize_with = "millis")]
        tone: Duration,
        /// Silence between two tones.
        #[serde(rename = "gap_ms", serialize_with = "millis")]
        gap: Duration,
    },
    /// Start recording the call under `recording_id`; report `Done` once the
    /// recording runs (it goes on in the background).
    RecordStart {
        /// The node that issued the command; the outcome resumes the flow there.
        node: NodeId,
        /// The id the recording is stored and later stopped under.
        recording_id: String,
        /// The file format asked for (`wav`, `mp3`…); none for the call layer's default.
        format: Option<String>,
        /// The recording stops after this long; none for no limit but the call's end.
        #[serde(rename = "max_duration_ms", serialize_with = "optional_millis")]
        max_duration: Option<Duration>,
        /// The recording stops after this much silence from the caller.
        #[serde(rename = "end_of_silence_ms", serialize_with = "optional_millis")]
        end_of_silence: Option<Duration>,
        /// The recording stops when the caller presses this key.
        end_of_key: Option<char>,
        /// Whether a beep is played before recording starts.
        beep: bool,
        /// Two channels: the caller left, a bridge's other party right.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        dual: bool,
    },
    /// Stop the recording; report `Done`.
    RecordStop {
        /// The node that issued the command; the outcome resumes the flow there.
        node: NodeId,
        /// The recording to stop: the one the flow started last (`voipbin.recording.id`);
        /// none if it started none.
        recording_id: Option<String>,
    },
    /// Connect the caller; see [`ConnectKind`] for the outcomes.
    Connect {
        /// The node that issued the command; the outcome resumes the flow there.
        node: NodeId,
        /// Where the caller goes, and so which outcomes can come back.
        kind: ConnectKind,
        /// Numbers, SIP URIs or a destination id, as `kind` says.
        targets: Vec<String>,
        /// The caller id to present to the far end; none to pass the caller's on.
        source: Option<String>,
        /// How long the far end may ring (or a queue hold the caller); none for the call
        /// layer's default.
        #[serde(rename = "timeout_ms", serialize_with = "optional_millis")]
        timeout: Option<Duration>,
        /// Whether the far end's early media (ringback, announcements) reaches the caller
        /// before it answers.
        early_media: bool,
        /// A published flow the new call runs (`call`).
        flow_id: Option<String>,
        /// The flow the new call runs when it came with the action (`call` with `actions`).
        #[serde(skip)]
        flow: Option<Arc<Program>>,
    },
    /// An HTTP request. `wait`: report `Http{status, body}` or `Failed`; not
    /// `wait`: fire it and report `Done` at once.
    Http {
        /// The node that issued the command; the outcome resumes the flow there.
        node: NodeId,
        /// The HTTP method, upper case (`GET`, `POST`…).
        method: String,
        /// The expanded URL.
        url: String,
        /// Request headers (name, expanded value), in order.
        #[serde(serialize_with = "pairs_as_map")]
        headers: Vec<(String, String)>,
        /// The expanded request body; none to send no body.
        body: Option<String>,
        /// How long the response may take before the request counts as `Failed`.
        #[serde(rename = "timeout_ms", serialize_with = "millis")]
        timeout: Duration,
        /// Whether the flow waits for the response.
        wait: bool,
    },
    /// Wait; report `Done`.
    Sleep {
        /// The node that issued the command; the outcome resumes the flow there.
        node: NodeId,
        /// How long to wait.
        #[serde(rename = "duration_ms", serialize_with = "millis")]
        duration: Duration,
    },
    /// Wait until the flow is resumed from outside (the API's
    /// `activeflows/{id}/execute`); report `Done` then.
    Block {
        /// The node that issued the command; the outcome resumes the flow there.
        node: NodeId,
    },
    /// Hang up; report anything (normally `Done`) afterwards.
    Hangup {
        /// The node that issued the command; the outcome resumes the flow there.
        node: NodeId,
        /// The reason the flow gave for hanging up, for the call's records; none if it
        /// gave none.
        reason: Option<String>,
        /// The final SIP status (400–699) a call not yet answered is refused
        /// with; none: the call layer's default (480).
        sip_status: Option<u16>,
    },
}

impl Command {
    /// The id of the node that issued this command.
    pub fn node(&self) -> &NodeId {
        match self {
            Command::Answer { node }
            | Command::Play { node, .. }
            | Command::Gather { node, .. }
            | Command::SendDigits { node, .. }
            | Command::RecordStart { node, .. }
            | Command::RecordStop { node, .. }
            | Command::Connect { node, .. }
            | Command::Http { node, .. }
            | Command::Sleep { node, .. }
            | Command::Block { node }
            | Command::Hangup { node, .. } => node,
        }
    }

    /// The command's JSON name (`play`, `gather`…).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Answer { .. } => "answer",
            Command::Play { .. } => "play",
            Command::Gather { .. } => "gather",
            Command::SendDigits { .. } => "send_digits",
            Command::RecordStart { .. } => "record_start",
            Command::RecordStop { .. } => "record_stop",
            Command::Connect { .. } => "connect",
            Command::Http { .. } => "http",
            Command::Sleep { .. } => "sleep",
            Command::Block { .. } => "block",
            Command::Hangup { .. } => "hangup",
        }
    }
}

fn millis<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}

fn optional_millis<S: Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => millis(duration, serializer),
        None => serializer.serialize_none(),
    }
}

fn pairs_as_map<S: Serializer>(
    pairs: &[(String, String)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(pairs.len()))?;
    for (key, value) in pairs {
        map.serialize_entry(key, value)?;
    }
    map.end()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_as_one_json_object_per_command() {
        let gather = Command::Gather {
            node: "menu".into(),
            audio: vec![Audio::catalog("menu")],
            max_digits: 1,
            timeout: Duration::from_secs(5),
            terminator: Some('#'),
            interdigit_timeout: Duration::from_secs(3),
        };
        assert_eq!(
            serde_json::to_value(&gather).unwrap(),
            json!({"command": "gather", "node": "menu", "audio": [{"catalog": "menu"}],
                   "max_digits": 1, "timeout_ms": 5000, "terminator": "#",
                   "interdigit_timeout_ms": 3000})
        );
        let http = Command::Http {
            node: "#2".into(),
            method: "POST".into(),
            url: "https://x".into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: Some("{}".into()),
            timeout: Duration::from_millis(1500),
            wait: true,
        };
        assert_eq!(
            serde_json::to_value(&http).unwrap(),
            json!({"command": "http", "node": "#2", "method": "POST", "url": "https://x",
                   "headers": {"Content-Type": "application/json"}, "body": "{}",
                   "timeout_ms": 1500, "wait": true})
        );
        assert_eq!(http.node(), "#2");
        assert_eq!(http.name(), "http");
        let connect = Command::Connect {
            node: "q".into(),
            kind: ConnectKind::RingGroup,
            targets: vec!["rg1".into()],
            source: None,
            timeout: None,
            early_media: false,
            flow_id: None,
            flow: None,
        };
        assert_eq!(
            serde_json::to_value(&connect).unwrap(),
            json!({"command": "connect", "node": "q", "kind": "ring_group", "targets": ["rg1"],
                   "source": null, "timeout_ms": null, "early_media": false, "flow_id": null})
        );
        assert_eq!(ConnectKind::RingGroup.name(), "ring_group");
    }
}
