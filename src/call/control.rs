//! Live-call control: the commands the control plane sends a call in
//! progress (VoIPBIN's interrupt actions — play or say now, start and stop a
//! recording, send digits, transfer, hang up — and the resumption of a flow
//! waiting at a `block` action), and the picture of a call it reads back.
//!
//! Plain data: the API builds a [`CallCommand`], the shard that owns the call
//! hands it to [`Host::handle_command`](super::Host::handle_command), which
//! applies it inside the call core (sans-IO, at the time given) or refuses it
//! with a [`Refusal`]; [`CallSnapshot`] is what a shard reports of each call.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::flow::Audio;

use super::cdr::MediaCdr;

/// A command for one call in progress.
#[derive(Clone, Debug, PartialEq)]
pub enum CallCommand {
    /// Play these now (catalog prompts, a text a catalog prompt says, the
    /// beep), cutting off what the caller was hearing; the flow's own step
    /// goes on (a prompt it was playing counts as played once these end).
    Play(Vec<Audio>),
    /// Start recording the call under this id, in this format (`wav`,
    /// `mp3`, `ogg`; none: the default).
    RecordingStart {
        /// The id the recording is stored and stopped under.
        recording_id: String,
        /// The file format.
        format: Option<String>,
    },
    /// Stop this recording (none: the latest).
    RecordingStop {
        /// The id of the recording to stop.
        recording_id: Option<String>,
    },
    /// Send these keys to the caller as telephone-events.
    SendDigits(String),
    /// Blind transfer: call this target (a number or a `sip:` URI) and move
    /// the flow over to it once it answers.
    Transfer(String),
    /// Hang up (CDR cause `api_hangup`).
    Hangup,
    /// Resume a flow waiting at a `block` action: it leaves the block by `done`.
    Resume,
}

impl CallCommand {
    /// The command's name, as the API spells it.
    pub fn name(&self) -> &'static str {
        match self {
            CallCommand::Play(_) => "play",
            CallCommand::RecordingStart { .. } => "recording_start",
            CallCommand::RecordingStop { .. } => "recording_stop",
            CallCommand::SendDigits(_) => "digits_send",
            CallCommand::Transfer(_) => "transfer",
            CallCommand::Hangup => "hangup",
            CallCommand::Resume => "execute",
        }
    }
}

/// Why a command was not applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No call in progress on this shard has that id.
    NoSuchCall,
    /// The call cannot take the command now; the text says why.
    Refused(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NoSuchCall => f.write_str("no call in progress has this id"),
            Refusal::Refused(reason) => f.write_str(reason),
        }
    }
}

/// What a shard reports of one call in progress.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallSnapshot {
    /// The SIP Call-ID: the call's id in the API.
    pub id: String,
    /// The shard that owns the call.
    pub shard: usize,
    /// The caller (user part of From).
    pub from: String,
    /// The dialled number.
    pub to: String,
    /// The flow the call entered, and its version.
    pub flow_id: String,
    /// The version of that flow the call runs.
    pub flow_version: u32,
    /// The flow running now (another one after `fetch_flow` or an on-complete chain).
    pub current_flow_id: String,
    /// Where the call is: `ringing`, `early`, `answering`, `answered`, `ending`.
    pub state: &'static str,
    /// What the flow waits for: `idle`, `playing`, `gathering`, `sleeping`,
    /// `sending_digits`, `http`, `voicemail`, `bridged`, `connecting`, `blocked`.
    pub activity: &'static str,
    /// The node the flow is at, if it waits at one.
    pub node: Option<String>,
    /// The flow's variables.
    pub variables: BTreeMap<String, String>,
    /// Milliseconds since the INVITE arrived.
    pub duration_ms: u64,
    /// The received stream's figures so far (as the CDR's `media`).
    pub media: Option<MediaCdr>,
}
