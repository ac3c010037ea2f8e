//! Digit collection for one gather command: digits typed over the prompt
//! (barge-in), the first-digit timeout that starts when the prompt ends, the
//! inter-digit timeout, the terminator key and the digit limit.

use std::time::Duration;

use crate::time::Time;

/// How a gather ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GatherEnd {
    /// The caller entered these digits (terminator not included).
    Digits(String),
    /// Nothing was entered before the timeout.
    Timeout,
}

/// The limits of one gather in progress: how many digits, which key ends it,
/// how long to wait (the flow's compiled `GatherSpec` becomes these when the
/// call carries the command out).
#[derive(Clone, Copy, Debug)]
pub struct GatherLimits {
    /// The gather ends when this many digits were entered (at least 1).
    pub max_digits: u32,
    /// A key that ends the gather early (not included in the digits).
    pub terminator: Option<char>,
    /// Wait for the first digit this long after the prompt ends.
    pub first_digit_timeout: Duration,
    /// Wait this long for each further digit.
    pub interdigit_timeout: Duration,
}

/// The state of a gather in progress.
#[derive(Clone, Debug)]
pub struct Gather {
    spec: GatherLimits,
    digits: String,
    deadline: Option<Time>,
}

impl Gather {
    /// Starts collecting; the first-digit clock starts at [`Gather::prompt_finished`].
    pub fn new(spec: GatherLimits) -> Gather {
        Gather {
            spec,
            digits: String::new(),
            deadline: None,
        }
    }

    /// The prompt has finished (or there was none): start waiting for the first digit.
    pub fn prompt_finished(&mut self, now: Time) {
        if self.digits.is_empty() && self.deadline.is_none() {
            self.deadline = Some(now + self.spec.first_digit_timeout);
        }
    }

    /// A digit arrived; returns the end of the gather if it completes it.
    pub fn digit(&mut self, now: Time, digit: char) -> Option<GatherEnd> {
        if Some(digit) == self.spec.terminator {
            return Some(GatherEnd::Digits(std::mem::take(&mut self.digits)));
        }
        self.digits.push(digit);
        if self.digits.chars().count() as u32 >= self.spec.max_digits.max(1) {
            return Some(GatherEnd::Digits(std::mem::take(&mut self.digits)));
        }
        self.deadline = Some(now + self.spec.interdigit_timeout);
        None
    }

    /// Checks the clock; returns the end of the gather if a timeout passed.
    pub fn timeout(&mut self, now: Time) -> Option<GatherEnd> {
        match self.deadline {
            Some(deadline) if deadline <= now => {
                self.deadline = None;
                if self.digits.is_empty() {
                    Some(GatherEnd::Timeout)
                } else {
                    Some(GatherEnd::Digits(std::mem::take(&mut self.digits)))
                }
            }
            _ => None,
        }
    }

    /// When [`Gather::timeout`] must next be called.
    pub fn deadline(&self) -> Option<Time> {
        self.deadline
    }

    /// Whether any digit has been entered yet (the first one stops the prompt).
    pub fn has_digits(&self) -> bool {
        !self.digits.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(max_digits: u32, terminator: Option<char>) -> GatherLimits {
        GatherLimits {
            max_digits,
            terminator,
            first_digit_timeout: Duration::from_secs(5),
            interdigit_timeout: Duration::from_secs(3),
        }
    }

    #[test]
    fn single_digit_completes_at_once() {
        let mut g = Gather::new(spec(1, None));
        assert_eq!(
            g.digit(Time::ZERO, '1'),
            Some(GatherEnd::Digits("1".into()))
        );
    }

    #[test]
    fn timeout_starts_when_prompt_ends() {
        let mut g = Gather::new(spec(1, None));
        assert_eq!(g.deadline(), None);
        g.prompt_finished(Time::from_millis(2_000));
        assert_eq!(g.deadline(), Some(Time::from_millis(7_000)));
        assert_eq!(g.timeout(Time::from_millis(6_999)), None);
        assert_eq!(
            g.timeout(Time::from_millis(7_000)),
            Some(GatherEnd::Timeout)
        );
    }

    #[test]
    fn terminator_ends_early_and_is_not_kept() {
        let mut g = Gather::new(spec(4, Some('#')));
        assert_eq!(g.digit(Time::ZERO, '4'), None);
        assert_eq!(g.digit(Time::ZERO, '2'), None);
        assert_eq!(
            g.digit(Time::ZERO, '#'),
            Some(GatherEnd::Digits("42".into()))
        );
    }

    #[test]
    fn interdigit_timeout_returns_partial_digits() {
        let mut g = Gather::new(spec(4, None));
        assert_eq!(g.digit(Time::from_millis(100), '7'), None);
        g.prompt_finished(Time::from_millis(200));
        assert_eq!(g.deadline(), Some(Time::from_millis(3_100)));
        assert_eq!(
            g.timeout(Time::from_millis(3_100)),
            Some(GatherEnd::Digits("7".into()))
        );
    }

    #[test]
    fn max_digits_completes() {
        let mut g = Gather::new(spec(2, Some('#')));
        assert_eq!(g.digit(Time::ZERO, '1'), None);
        assert_eq!(
            g.digit(Time::ZERO, '2'),
            Some(GatherEnd::Digits("12".into()))
        );
    }
}
