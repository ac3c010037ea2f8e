//! [`Exits`]: where a node goes next — exits named by outcome handle plus a
//! default exit — and the edge selection rules, matched without allocating.

use crate::flow::handle::{DIGIT_PREFIX, HOLIDAY, OUT_OF_HOURS};
use crate::flow::program::NodeIndex;

/// A node's exits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exits {
    by_handle: Vec<(String, NodeIndex)>,
    default: Option<NodeIndex>,
}

impl Exits {
    /// Exits from `(handle, target)` pairs and an optional default; checked by `Program::new`.
    pub fn new(by_handle: Vec<(String, NodeIndex)>, default: Option<NodeIndex>) -> Exits {
        Exits { by_handle, default }
    }

    /// Only a default exit.
    pub fn to(default: NodeIndex) -> Exits {
        Exits {
            by_handle: Vec::new(),
            default: Some(default),
        }
    }

    /// The exit named exactly `handle`, ignoring the default.
    pub fn exact(&self, handle: &str) -> Option<NodeIndex> {
        self.by_handle
            .iter()
            .find(|(name, _)| name == handle)
            .map(|(_, target)| *target)
    }

    /// The `digit:<digits>` exit, without building the handle.
    pub fn exact_digits(&self, digits: &str) -> Option<NodeIndex> {
        self.by_handle
            .iter()
            .find(|(name, _)| name.strip_prefix(DIGIT_PREFIX) == Some(digits))
            .map(|(_, target)| *target)
    }

    /// The exit for `handle`, else the default exit. A `holiday` outcome with
    /// no `holiday` exit takes the `out_of_hours` exit before the default.
    pub fn select(&self, handle: &str) -> Option<NodeIndex> {
        self.exact(handle)
            .or_else(|| {
                (handle == HOLIDAY)
                    .then(|| self.exact(OUT_OF_HOURS))
                    .flatten()
            })
            .or(self.default)
    }

    /// The default exit (an edge without a handle).
    pub fn default_exit(&self) -> Option<NodeIndex> {
        self.default
    }

    /// The named exits, in the order given.
    pub fn handles(&self) -> impl Iterator<Item = (&str, NodeIndex)> {
        self.by_handle
            .iter()
            .map(|(name, target)| (name.as_str(), *target))
    }

    /// Every target, named exits first.
    pub fn targets(&self) -> impl Iterator<Item = NodeIndex> + '_ {
        self.by_handle
            .iter()
            .map(|(_, target)| *target)
            .chain(self.default)
    }

    /// Whether there is no exit at all.
    pub fn is_empty(&self) -> bool {
        self.by_handle.is_empty() && self.default.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_prefers_the_named_exit_then_the_default() {
        let exits = Exits::new(vec![("digit:1".into(), NodeIndex(1))], Some(NodeIndex(2)));
        assert_eq!(exits.select("digit:1"), Some(NodeIndex(1)));
        assert_eq!(exits.exact_digits("1"), Some(NodeIndex(1)));
        assert_eq!(exits.exact_digits("2"), None);
        assert_eq!(exits.select("timeout"), Some(NodeIndex(2)));
        assert_eq!(exits.exact("timeout"), None);
        assert_eq!(Exits::default().select("done"), None);
        assert!(Exits::default().is_empty());
    }

    #[test]
    fn holiday_falls_back_to_out_of_hours_then_default() {
        let exits = Exits::new(
            vec![
                ("in_hours".into(), NodeIndex(1)),
                ("out_of_hours".into(), NodeIndex(2)),
            ],
            Some(NodeIndex(3)),
        );
        assert_eq!(exits.select("holiday"), Some(NodeIndex(2)));
        let with_holiday = Exits::new(
            vec![
                ("holiday".into(), NodeIndex(4)),
                ("out_of_hours".into(), NodeIndex(2)),
            ],
            None,
        );
        assert_eq!(with_holiday.select("holiday"), Some(NodeIndex(4)));
        assert_eq!(
            Exits::to(NodeIndex(3)).select("holiday"),
            Some(NodeIndex(3))
        );
    }
}
