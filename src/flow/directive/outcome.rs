//! [`Outcome`]: how a command ended, as the call layer reports it, and
//! [`parse_event`], the simulator's one-line spelling of an outcome.

use std::fmt;

use serde::Serialize;

/// How the last command ended. JSON: `{"outcome": NAME, "value": …}` with the
/// value only where the variant has one (`digits`, `failed`, `http`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "value", rename_all = "snake_case")]
pub enum Outcome {
    /// The command finished normally.
    Done,
    /// The caller entered these keys; the terminator is included when it ended the entry.
    Digits(String),
    /// Nothing happened before the timeout (no key; a queue wait ran out).
    Timeout,
    /// The other party answered; the caller is bridged to it.
    Answered,
    /// Nobody answered.
    NoAnswer,
    /// The other party was busy.
    Busy,
    /// The command could not be carried out; the text says why.
    Failed(String),
    /// An HTTP response.
    Http {
        /// The response status code.
        status: u16,
        /// The response body as text (empty when there was none).
        body: String,
    },
    /// The caller hung up.
    CallerHangup,
    /// A bridge (or conference) the caller was in has ended; the caller is still there.
    BridgeEnded,
}

impl Outcome {
    /// The outcome's name as [`parse_event`] spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Digits(_) => "digits",
            Outcome::Timeout => "timeout",
            Outcome::Answered => "answered",
            Outcome::NoAnswer => "no_answer",
            Outcome::Busy => "busy",
            Outcome::Failed(_) => "failed",
            Outcome::Http { .. } => "http",
            Outcome::CallerHangup => "hangup",
            Outcome::BridgeEnded => "bridge_ended",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Digits(digits) => write!(f, "digits:{digits}"),
            Outcome::Failed(reason) => write!(f, "failed:{reason}"),
            Outcome::Http { status, body } => write!(f, "http:{status}:{body}"),
            other => f.write_str(other.name()),
        }
    }
}

/// Reads one scripted event: `done`, `digits:42#`, `timeout`, `answered`,
/// `no_answer`, `busy`, `hangup`, `bridge_ended`, `failed` or `failed:REASON`,
/// `http:STATUS` or `http:STATUS:BODY`. Surrounding whitespace is ignored.
/// [`Outcome`]'s `Display` writes the same form.
pub fn parse_event(event: &str) -> Result<Outcome, String> {
    let event = event.trim();
    let (name, argument) = match event.split_once(':') {
        Some((name, argument)) => (name, Some(argument)),
        None => (event, None),
    };
    let no_argument = |outcome: Outcome| match argument {
        None => Ok(outcome),
        Some(_) => Err(format!("event {name:?} takes no argument: {event:?}")),
    };
    match name {
        "done" => no_argument(Outcome::Done),
        "timeout" => no_argument(Outcome::Timeout),
        "answered" => no_argument(Outcome::Answered),
        "no_answer" => no_argument(Outcome::NoAnswer),
        "busy" => no_argument(Outcome::Busy),
        "hangup" => no_argument(Outcome::CallerHangup),
        "bridge_ended" => no_argument(Outcome::BridgeEnded),
        "failed" => Ok(Outcome::Failed(argument.unwrap_or_default().to_owned())),
        "digits" => match argument {
            Some(digits) if !digits.is_empty() => Ok(Outcome::Digits(digits.to_owned())),
            _ => Err(format!("expected digits:KEYS, got {event:?}")),
        },
        "http" => {
            let argument =
                argument.ok_or_else(|| format!("expected http:STATUS[:BODY], got {event:?}"))?;
            let (status, body) = argument.split_once(':').unwrap_or((argument, ""));
            let status = status
                .parse::<u16>()
                .ok()
                .filter(|status| (100..=599).contains(status))
                .ok_or_else(|| format!("expected an HTTP status 100-599, got {status:?}"))?;
            Ok(Outcome::Http {
                status,
                body: body.to_owned(),
            })
        }
        _ => Err(format!(
            "unknown event {event:?} (expected done, digits:KEYS, timeout, answered, no_answer, \
             busy, hangup, bridge_ended, failed[:REASON], http:STATUS[:BODY])"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_event_form() {
        assert_eq!(parse_event("digits:1"), Ok(Outcome::Digits("1".into())));
        assert_eq!(
            parse_event(" digits:42# "),
            Ok(Outcome::Digits("42#".into()))
        );
        assert_eq!(parse_event("timeout"), Ok(Outcome::Timeout));
        assert_eq!(parse_event("answered"), Ok(Outcome::Answered));
        assert_eq!(parse_event("no_answer"), Ok(Outcome::NoAnswer));
        assert_eq!(parse_event("busy"), Ok(Outcome::Busy));
        assert_eq!(parse_event("hangup"), Ok(Outcome::CallerHangup));
        assert_eq!(parse_event("bridge_ended"), Ok(Outcome::BridgeEnded));
        assert_eq!(parse_event("done"), Ok(Outcome::Done));
        assert_eq!(
            parse_event("failed:no route"),
            Ok(Outcome::Failed("no route".into()))
        );
        assert_eq!(parse_event("failed"), Ok(Outcome::Failed(String::new())));
        assert_eq!(
            parse_event(r#"http:200:{"name":"John"}"#),
            Ok(Outcome::Http {
                status: 200,
                body: r#"{"name":"John"}"#.into()
            })
        );
        assert_eq!(
            parse_event("http:404"),
            Ok(Outcome::Http {
                status: 404,
                body: String::new()
            })
        );
    }

    #[test]
    fn rejects_malformed_events() {
        for bad in [
            "",
            "digits",
            "digits:",
            "http",
            "http:abc",
            "http:99",
            "timeout:5",
            "fax",
        ] {
            assert!(parse_event(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_round_trips_and_serializes() {
        for outcome in [
            Outcome::Done,
            Outcome::Digits("4#".into()),
            Outcome::Failed("x".into()),
            Outcome::Http {
                status: 500,
                body: "oops:1".into(),
            },
            Outcome::CallerHangup,
            Outcome::BridgeEnded,
        ] {
            assert_eq!(parse_event(&outcome.to_string()), Ok(outcome));
        }
        assert_eq!(
            serde_json::to_value(Outcome::Digits("1".into())).unwrap(),
            json!({"outcome": "digits", "value": "1"})
        );
        assert_eq!(
            serde_json::to_value(Outcome::Timeout).unwrap(),
            json!({"outcome": "timeout"})
        );
    }
}
