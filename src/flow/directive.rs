//! What a flow session asks of the call layer ([`Directive`], [`Command`]) and
//! what the call layer reports back ([`Outcome`]): the whole interface between
//! the interpreter and the media side.

use std::time::Duration;

/// A prompt to play: a catalog id, the text to say, or both (the media side
/// prefers the catalog id and may fall back to the text).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PromptRef {
    /// Id in the media side's prompt catalog.
    pub id: Option<String>,
    /// Text to say when no catalog prompt is used.
    pub text: Option<String>,
}

impl PromptRef {
    /// A prompt from the catalog.
    pub fn catalog(id: impl Into<String>) -> PromptRef {
        PromptRef {
            id: Some(id.into()),
            text: None,
        }
    }

    /// A prompt given as text to say.
    pub fn text(text: impl Into<String>) -> PromptRef {
        PromptRef {
            id: None,
            text: Some(text.into()),
        }
    }
}

/// The next thing the call layer must do, or the end of the flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    /// Carry out the command, then report its [`Outcome`] to `Session::resume`.
    Execute(Command),
    /// The flow is over; the call layer hangs up (unless the caller already did).
    End(EndReason),
}

/// A command that touches the caller. `node` is the id of the flow node issuing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Play a prompt; report [`Outcome::Done`] when it has finished.
    Play { node: String, prompt: PromptRef },
    /// Play a prompt while collecting DTMF; report [`Outcome::Digits`] (without the
    /// terminator) or [`Outcome::Timeout`] when nothing was entered.
    Gather {
        node: String,
        prompt: PromptRef,
        /// Stop collecting after this many keys.
        max_digits: u32,
        /// How long to wait for the first key once the prompt has ended.
        timeout: Duration,
        /// A key that ends the entry early; it is not part of the digits.
        terminator: Option<char>,
        /// How long to wait for each further key.
        interdigit_timeout: Duration,
    },
    /// Hang up the call; report any outcome (normally [`Outcome::Done`]) afterwards.
    Hangup { node: String },
}

impl Command {
    /// The id of the node that issued this command.
    pub fn node(&self) -> &str {
        match self {
            Command::Play { node, .. }
            | Command::Gather { node, .. }
            | Command::Hangup { node } => node,
        }
    }
}

/// How the last command ended, as reported by the call layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The prompt finished playing (or the hangup was carried out).
    Done,
    /// The caller entered these keys (terminator excluded). An empty string counts as a timeout.
    Digits(String),
    /// The caller entered nothing before the timeout.
    Timeout,
    /// The caller hung up while the command was running.
    CallerHangup,
    /// The command could not be carried out; the text says why.
    Failed(String),
}

/// Why a flow ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// The flow reached a hangup node and the hangup was carried out.
    Hangup { node: String },
    /// `node` returned `outcome` and has neither an edge for it nor a default edge.
    NoEdge { node: String, outcome: String },
    /// The caller hung up.
    CallerHangup,
    /// Pure-logic nodes ran more steps in one go than the interpreter allows (a loop).
    StepLimit,
    /// The command of `node` failed and the node has no `failed` edge.
    Failed { node: String, reason: String },
    /// The call layer reported an outcome the command at `node` cannot produce
    /// (digits for a play, or anything before `start`).
    UnexpectedOutcome { node: String, outcome: Outcome },
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EndReason::Hangup { node } => write!(f, "hangup at {node}"),
            EndReason::NoEdge { node, outcome } => {
                write!(
                    f,
                    "no edge from {node} for outcome {outcome} and no default edge"
                )
            }
            EndReason::CallerHangup => f.write_str("caller hung up"),
            EndReason::StepLimit => write!(
                f,
                "more than {} pure-logic steps without a command (a loop?)",
                crate::flow::STEP_LIMIT
            ),
            EndReason::Failed { node, reason } => write!(f, "{node} failed: {reason}"),
            EndReason::UnexpectedOutcome { node, outcome } => {
                write!(f, "{node} cannot return {outcome:?}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_names_its_node() {
        let play = Command::Play {
            node: "welcome".into(),
            prompt: PromptRef::catalog("welcome"),
        };
        assert_eq!(play.node(), "welcome");
        assert_eq!(Command::Hangup { node: "bye".into() }.node(), "bye");
    }

    #[test]
    fn prompt_constructors() {
        assert_eq!(PromptRef::catalog("menu").id.as_deref(), Some("menu"));
        assert_eq!(PromptRef::text("hi").text.as_deref(), Some("hi"));
    }
}
