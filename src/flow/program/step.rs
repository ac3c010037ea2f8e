//! [`Step`]: what a compiled node does, for every operation either flow format
//! needs. Strings that reach a command or a comparison are [`Template`]s,
//! expanded when the node runs.

use std::sync::Arc;
use std::time::Duration;

use crate::flow::digit_pattern::DigitPattern;
use crate::flow::directive::ConnectKind;
use crate::flow::program::Program;
use crate::flow::schedule::Comparison;
use crate::flow::template::Template;

/// What a node does when the flow reaches it. Pure steps resolve inside the
/// session; the others hand a command to the call layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Pure: leaves by `done` (entry nodes, `empty`).
    Pass,
    /// Answer the call; leaves by `done`.
    Answer,
    /// Play audio, then leave by `done`.
    Play(PlayStep),
    /// A DTMF menu: leaves by `digit:N`, `timeout` or `invalid`.
    Menu(MenuStep),
    /// Digits into a variable: leaves by `collected`, `timeout` or `invalid`.
    Collect(CollectStep),
    /// VoIPBIN `digits_receive`: the entry (terminator kept) goes to
    /// `voipbin.call.digits`; leaves by `done` whatever was entered.
    DigitsReceive(GatherSpec),
    /// Send DTMF to the caller; leaves by `done`.
    SendDigits(SendDigitsStep),
    /// Pure: set variables in order, then leave by `done`.
    SetVars(Vec<(String, Template)>),
    /// Pure: compare two values, leave by `true` or `false`.
    Compare(CompareStep),
    /// Pure: leave by the exit named after the value (else the default exit).
    Branch(Template),
    /// Pure: leave by `jump`; with a loop count, only that many times, then by `done`.
    Goto {
        /// How many times the jump is taken; none for every time.
        loop_count: Option<u32>,
    },
    /// Pure: evaluate a schedule, leave by `in_hours`, `out_of_hours` or `holiday`.
    TimeCondition {
        /// The id of the `[[schedule]]` to evaluate.
        schedule_id: Template,
    },
    /// Pure: VoIPBIN `condition_datetime` (UTC), leave by `true` or `false`.
    DatetimeCondition(DatetimeStep),
    /// An HTTP request (waited for, or fired and forgotten).
    Http(HttpStep),
    /// Connect the caller somewhere (dial, queue, conference, voicemail…).
    Connect(ConnectStep),
    /// Start or stop recording the call; leaves by `done`.
    Record(RecordStep),
    /// Pure: run another flow, then come back and leave by `done`.
    FetchFlow {
        /// The id of the published flow to run.
        flow_id: Template,
    },
    /// Pause; leaves by `done`.
    Sleep(Duration),
    /// VoIPBIN `block`: wait until the API resumes the flow
    /// (`POST /v1/activeflows/{id}/execute`); leaves by `done`.
    Block,
    /// Pure: end the flow (`on_complete_flow_id` still runs).
    Stop,
    /// Hang up; the flow ends.
    Hangup {
        /// The reason handed on with the hangup, if the flow gave one.
        reason: Option<Template>,
        /// The final SIP status (400–699) for a call not yet answered: the
        /// INVITE is refused with it (after any early media) instead of 480.
        sip_status: Option<u16>,
    },
    /// Pure: an action this engine does not perform; reported and skipped (`done`).
    Skip {
        /// The action's `type`.
        action: String,
        /// Why this engine does not perform it.
        reason: String,
    },
}

impl Step {
    /// Whether the step resolves without a command to the call layer.
    pub fn is_pure(&self) -> bool {
        matches!(
            self,
            Step::Pass
                | Step::SetVars(_)
                | Step::Compare(_)
                | Step::Branch(_)
                | Step::Goto { .. }
                | Step::TimeCondition { .. }
                | Step::DatetimeCondition(_)
                | Step::FetchFlow { .. }
                | Step::Stop
                | Step::Skip { .. }
        )
    }
}

/// Audio to play, with templated parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioTemplate {
    /// A prompt of the media side's catalog, by id.
    Catalog(Template),
    /// Text to speak.
    Speak {
        /// The words to say.
        text: Template,
        /// The language asked for (`en-US`).
        language: Option<Template>,
        /// The voice asked for.
        voice: Option<Template>,
    },
    /// An audio file by URL.
    Url(Template),
    /// A short tone.
    Beep,
}

/// Audio played `times` times in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayStep {
    /// What to play, in order.
    pub audio: Vec<AudioTemplate>,
    /// At least 1.
    pub times: u32,
}

/// The compiled node's spec of how digits are collected, shared by every [`Step`] that
/// gathers DTMF (menu, collect, `digits_receive`); the session turns it into a
/// [`Command::Gather`](crate::flow::Command::Gather). Not the call layer's gather state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatherSpec {
    /// Played while the keys are collected; may be empty.
    pub audio: Vec<AudioTemplate>,
    /// The entry ends once this many keys are in.
    pub max_digits: u32,
    /// Wait for the first key once the audio has ended.
    pub timeout: Duration,
    /// A key that ends the entry before `max_digits` (usually `#`); none if only the
    /// count and the timeouts end it.
    pub terminator: Option<char>,
    /// Wait for each further key.
    pub interdigit_timeout: Duration,
}

/// A DTMF menu: leaves by the `digit:N` exit matching the entry; an attempt
/// that times out or matches no `digit:` exit is a failure. Failures before the
/// `max_failures`-th replay the menu (after `invalid_audio`, if any); the
/// `max_failures`-th leaves by `timeout` or `invalid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuStep {
    /// The prompt and key collection of one attempt.
    pub gather: GatherSpec,
    /// At least 1.
    pub max_failures: u32,
    /// Played after a failed attempt, before the menu is replayed.
    pub invalid_audio: Vec<AudioTemplate>,
}

/// Digits into `variable`: an entry (terminator removed) of at least
/// `min_digits` keys that matches `pattern` leaves by `collected`; failures
/// retry like a menu's and finally leave by `timeout` or `invalid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectStep {
    /// The prompt and key collection of one attempt.
    pub gather: GatherSpec,
    /// The variable the accepted entry is stored in.
    pub variable: String,
    /// A shorter entry is a failed attempt.
    pub min_digits: u32,
    /// An entry that does not match is a failed attempt; none accepts any entry.
    pub pattern: Option<DigitPattern>,
    /// Failed attempts before the step leaves by `timeout` or `invalid`; at least 1.
    pub max_failures: u32,
    /// Played after a failed attempt, before the next one.
    pub invalid_audio: Vec<AudioTemplate>,
}

/// DTMF sent to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendDigitsStep {
    /// The keys to send, expanded when the node runs.
    pub digits: Template,
    /// How long each tone lasts.
    pub tone: Duration,
    /// Silence between tones.
    pub gap: Duration,
}

/// Compare two expanded values. Numeric comparisons that cannot read both
/// sides as numbers are false; string ones compare bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompareStep {
    /// The left operand.
    pub left: Template,
    /// The operator.
    pub op: Comparison,
    /// The right operand.
    pub right: Template,
    /// Whether both sides are compared as numbers rather than as strings.
    pub numeric: bool,
}

impl CompareStep {
    /// Applies the operator to expanded values.
    pub fn holds(&self, left: &str, right: &str) -> bool {
        if self.numeric {
            match (left.trim().parse::<f64>(), right.trim().parse::<f64>()) {
                (Ok(left), Ok(right)) => left
                    .partial_cmp(&right)
                    .is_some_and(|ordering| self.op.holds(ordering)),
                _ => false,
            }
        } else {
            self.op.holds(left.cmp(right))
        }
    }
}

/// VoIPBIN `condition_datetime` fields; wildcards: month 0, day/hour/minute -1,
/// no weekdays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatetimeStep {
    /// How the current UTC time is compared with the fields.
    pub op: Comparison,
    /// Minute of the hour, 0–59; -1 for any.
    pub minute: i32,
    /// Hour of the day, 0–23; -1 for any.
    pub hour: i32,
    /// Day of the month, 1–31; -1 for any.
    pub day: i32,
    /// Month, 1–12; 0 for any.
    pub month: i32,
    /// 0 = Sunday … 6 = Saturday.
    pub weekdays: Vec<u32>,
}

/// What happens to an HTTP response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseStore {
    /// Not kept.
    Discard,
    /// A JSON object body is flattened into variables at the top level
    /// (VoIPBIN `webhook_send` with `sync`).
    Merge,
    /// A JSON body is flattened below this key; any other body is stored as
    /// text in the key itself (node-graph `saveAs`).
    Under(String),
}

/// An HTTP request. Waited for: leaves by `success` (2xx) or `error`; a
/// request without response is `failed`. Not waited for: leaves by `done`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpStep {
    /// The HTTP method, upper case (`GET`, `POST`…).
    pub method: String,
    /// The URL.
    pub url: Template,
    /// Request headers (name, value), in order.
    pub headers: Vec<(String, Template)>,
    /// The request body; none to send no body.
    pub body: Option<Template>,
    /// How long the response may take before the request counts as failed.
    pub timeout: Duration,
    /// Whether the flow waits for the response.
    pub wait: bool,
    /// What becomes of the response body (only when waited for).
    pub store: ResponseStore,
}

/// Connect the caller somewhere; see [`ConnectKind`] for the outcomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectStep {
    /// Where the caller goes, and so which outcomes can come back.
    pub kind: ConnectKind,
    /// Numbers, addresses or a destination id (queue, ring group…).
    pub targets: Vec<Template>,
    /// Caller id to present.
    pub source: Option<Template>,
    /// How long the far end may ring (or a queue hold the caller); none for the call
    /// layer's default.
    pub timeout: Option<Duration>,
    /// Whether the far end's early media reaches the caller before it answers.
    pub early_media: bool,
    /// A published flow for the new call (`call` with `flow_id`).
    pub flow_id: Option<Template>,
    /// A flow compiled from the action's own `actions` (`call`).
    pub flow: Option<Arc<Program>>,
}

/// Start or stop a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordStep {
    /// Start a recording made as described.
    Start(RecordStart),
    /// Stop the recording the flow started last.
    Stop,
}

/// How a recording is made; it runs until stopped, until the call ends, or
/// until one of its limits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordStart {
    /// The file format asked for (`wav`, `mp3`…); none for the call layer's default.
    pub format: Option<String>,
    /// The recording stops after this long.
    pub max_duration: Option<Duration>,
    /// The recording stops after this much silence from the caller.
    pub end_of_silence: Option<Duration>,
    /// The recording stops when the caller presses this key.
    pub end_of_key: Option<char>,
    /// Whether a beep is played before recording starts.
    pub beep: bool,
    /// Two channels (`"channels": "dual"`): the caller left, the other party
    /// of a bridge right; else one channel mixing both.
    pub dual: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compare(op: &str, numeric: bool, left: &str, right: &str) -> bool {
        CompareStep {
            left: Template::default(),
            op: Comparison::parse(op).unwrap(),
            right: Template::default(),
            numeric,
        }
        .holds(left, right)
    }

    #[test]
    fn compares_strings_and_numbers() {
        assert!(compare("==", false, "premium", "premium"));
        assert!(compare("not_equal", false, "a", "b"));
        assert!(compare(">", false, "b", "a"));
        assert!(compare(">=", true, "10", "9"));
        assert!(!compare(">=", false, "10", "9"));
        assert!(compare("less_equal", true, " 2.5", "2.5"));
        assert!(!compare("==", true, "x", "x"));
        assert!(Comparison::parse("~=").is_none());
    }

    #[test]
    fn purity() {
        assert!(Step::Stop.is_pure());
        assert!(!Step::Answer.is_pure());
        assert!(!Step::Sleep(Duration::ZERO).is_pure());
    }
}
