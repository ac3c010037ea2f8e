//! The action types of the action-array format (VoIPBIN): those this engine
//! performs, and those it recognizes but cannot perform on an appliance —
//! reported once in the load warnings and skipped at run time (VoIPBIN's
//! "invalid action: skipped, flow continues").

/// Action types this engine performs.
pub(super) const SUPPORTED_ACTIONS: &[&str] = &[
    "answer",
    "talk",
    "play",
    "beep",
    "digits_receive",
    "digits_send",
    "branch",
    "goto",
    "condition_variable",
    "condition_datetime",
    "variable_set",
    "recording_start",
    "recording_stop",
    "queue_join",
    "conference_join",
    "connect",
    "call",
    "fetch_flow",
    "webhook_send",
    "hangup",
    "stop",
    "empty",
    "sleep",
    "block",
];

/// Action types the seeds name that need a service this appliance does not
/// have, with why.
pub(super) const UNSUPPORTED_ACTIONS: &[(&str, &str)] = &[
    ("ai_talk", "needs an AI voice agent"),
    ("ai_summarize", "needs an AI service"),
    ("transcribe_start", "needs a speech-to-text service"),
    ("transcribe_stop", "needs a speech-to-text service"),
    ("message_send", "needs a messaging (SMS) service"),
    ("email_send", "needs an email service"),
    ("fetch", "loads actions from a remote URL at run time"),
    ("hold", "needs call hold, which this engine does not offer"),
    (
        "mute",
        "needs call muting, which this engine does not offer",
    ),
    ("transfer", "needs an attended transfer between agents"),
];

/// Why an action type is not performed, if it is one of [`UNSUPPORTED_ACTIONS`].
pub(super) fn unsupported_reason(action: &str) -> Option<&'static str> {
    UNSUPPORTED_ACTIONS
        .iter()
        .find(|(name, _)| *name == action)
        .map(|(_, reason)| *reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_do_not_overlap() {
        for (name, _) in UNSUPPORTED_ACTIONS {
            assert!(!SUPPORTED_ACTIONS.contains(name), "{name}");
        }
        assert_eq!(
            unsupported_reason("ai_talk"),
            Some("needs an AI voice agent")
        );
        assert_eq!(unsupported_reason("talk"), None);
    }
}
