//! What a flow session asks of the call layer ([`Directive`], [`Command`]) and
//! what the call layer reports back ([`Outcome`]): the whole interface between
//! the interpreter and the media side.
//!
//! The call layer answers the call before the first command that needs media
//! if the flow did not answer it (node-graph flows have no answer node).

mod audio;
mod command;
mod end;
mod outcome;

use serde::Serialize;

pub use self::audio::Audio;
pub use self::command::{Command, ConnectKind};
pub use self::end::EndReason;
pub use self::outcome::{parse_event, Outcome};

use crate::flow::program::NodeId;

/// The next thing the call layer must do, or the end of the flow.
/// JSON: the command or end reason with a `directive` key added:
/// `{"directive": "execute", "command": "play", "node": …}`,
/// `{"directive": "wait", "node": ID}`, `{"directive": "end", "end": "hangup", "node": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "directive", rename_all = "snake_case")]
pub enum Directive {
    /// Carry out the command, then report its [`Outcome`] to `Session::resume`.
    Execute(Command),
    /// Nothing to do: the caller is bridged by `node`. Report the next outcome
    /// (`BridgeEnded`, `CallerHangup`) when it happens.
    Wait {
        /// The node whose bridge the caller is in.
        node: NodeId,
    },
    /// The flow is over; the call layer hangs up (unless the caller already did).
    End(EndReason),
}

impl Directive {
    /// The command to carry out, if any.
    pub fn command(&self) -> Option<&Command> {
        match self {
            Directive::Execute(command) => Some(command),
            _ => None,
        }
    }

    /// Why the flow ended, if it has.
    pub fn end_reason(&self) -> Option<&EndReason> {
        match self {
            Directive::End(reason) => Some(reason),
            _ => None,
        }
    }
}

impl From<Command> for Directive {
    fn from(command: Command) -> Directive {
        Directive::Execute(command)
    }
}

impl From<EndReason> for Directive {
    fn from(reason: EndReason) -> Directive {
        Directive::End(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_flat_with_a_directive_key() {
        let execute = Directive::from(Command::Answer { node: "#0".into() });
        assert_eq!(
            serde_json::to_value(&execute).unwrap(),
            json!({"directive": "execute", "command": "answer", "node": "#0"})
        );
        assert_eq!(execute.command().map(Command::name), Some("answer"));
        let end = Directive::from(EndReason::Stopped { node: "s".into() });
        assert_eq!(
            serde_json::to_value(&end).unwrap(),
            json!({"directive": "end", "end": "stopped", "node": "s"})
        );
        assert!(end.end_reason().is_some());
        assert_eq!(
            serde_json::to_value(Directive::Wait {
                node: "dial".into()
            })
            .unwrap(),
            json!({"directive": "wait", "node": "dial"})
        );
    }
}
