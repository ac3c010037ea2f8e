//! Outcome handles: the names a node's outcomes go by when an exit is chosen
//! (`done`, `timeout`, `digit:N`, `in_hours`…), and DTMF key rules.
//!
//! An edge's `sourceHandle` names one of these; an edge without a handle is the
//! node's default exit, taken when no edge names the outcome. Action-array
//! flows use the same handles internally (`false` for a condition's
//! `false_target_id`, `jump` for a goto, the case value for a branch).

/// A node finished normally (play, say, setVar, conference, voicemail…).
pub(super) const DONE: &str = "done";
/// No input before the timeout (menu, collect), or a queue wait timed out.
pub(super) const TIMEOUT: &str = "timeout";
/// An entry that matches no `digit:` exit (menu) or fails validation (collect).
pub(super) const INVALID: &str = "invalid";
/// The command could not be carried out. Taken only by an explicit edge.
pub(super) const FAILED: &str = "failed";
/// A collect node got a valid entry.
pub(super) const COLLECTED: &str = "collected";
/// The other party answered; the edge is followed once the bridge has ended.
pub(super) const ANSWERED: &str = "answered";
/// Nobody answered in time.
pub(super) const NO_ANSWER: &str = "no_answer";
/// The other party was busy.
pub(super) const BUSY: &str = "busy";
/// A condition held.
pub(super) const TRUE: &str = "true";
/// A condition did not hold.
pub(super) const FALSE: &str = "false";
/// Schedule outcomes.
pub(super) const IN_HOURS: &str = "in_hours";
pub(super) const OUT_OF_HOURS: &str = "out_of_hours";
pub(super) const HOLIDAY: &str = "holiday";
/// An HTTP request got a 2xx response.
pub(super) const SUCCESS: &str = "success";
/// An HTTP request got a response that is not 2xx.
pub(super) const ERROR: &str = "error";
/// A goto's jump (action arrays).
pub(super) const JUMP: &str = "jump";
/// Prefix of the handle for entered digits: `digit:1`, `digit:42`.
pub(super) const DIGIT_PREFIX: &str = "digit:";

/// The handle for a menu entry of `digits`, e.g. `digit:42`.
#[cfg(test)]
fn digit_handle(digits: &str) -> String {
    format!("{DIGIT_PREFIX}{digits}")
}

/// The digits named by a `digit:N` handle, if `handle` is one.
pub(super) fn digits_of_handle(handle: &str) -> Option<&str> {
    handle.strip_prefix(DIGIT_PREFIX)
}

/// Whether `key` is a DTMF key: `0`-`9`, `*`, `#`, `A`-`D`.
pub(super) fn is_dtmf_key(key: char) -> bool {
    matches!(key, '0'..='9' | '*' | '#' | 'A'..='D')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_handles_round_trip() {
        assert_eq!(digit_handle("42"), "digit:42");
        assert_eq!(digits_of_handle("digit:42"), Some("42"));
        assert_eq!(digits_of_handle("timeout"), None);
    }

    #[test]
    fn dtmf_keys() {
        assert!("0123456789*#ABCD".chars().all(is_dtmf_key));
        assert!(!"abcdE ".chars().any(is_dtmf_key));
    }
}
