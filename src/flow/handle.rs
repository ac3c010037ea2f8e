//! Outcome handles: the names a step's outcomes go by when an exit is chosen
//! (`done`, `timeout`, `invalid`, `failed`, `digit:N`), and DTMF key rules.
//!
//! An edge's `sourceHandle` names one of these; an edge without a handle is the
//! node's default exit, taken when no edge names the outcome.

/// A play (or pure pass-through node) finished normally.
pub const DONE: &str = "done";
/// A menu attempt ended without input.
pub const TIMEOUT: &str = "timeout";
/// A menu attempt got digits that match no `digit:` exit.
pub const INVALID: &str = "invalid";
/// The media side could not execute the command (missing prompt, codec trouble...).
pub const FAILED: &str = "failed";
/// Prefix of the handle for entered digits: `digit:1`, `digit:42`.
pub const DIGIT_PREFIX: &str = "digit:";

/// The handle for a menu entry of `digits`, e.g. `digit:42`.
pub fn digit_handle(digits: &str) -> String {
    format!("{DIGIT_PREFIX}{digits}")
}

/// The digits named by a `digit:N` handle, if `handle` is one.
pub fn digits_of_handle(handle: &str) -> Option<&str> {
    handle.strip_prefix(DIGIT_PREFIX)
}

/// Whether `key` is a DTMF key: `0`-`9`, `*`, `#`, `A`-`D`.
pub fn is_dtmf_key(key: char) -> bool {
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
