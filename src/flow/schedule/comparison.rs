//! The comparison operator of a VoIPBIN condition, in symbol (`>=`) or word
//! (`greater_equal`) spelling.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// A comparison operator: `==` `!=` `>` `>=` `<` `<=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparison {
    /// `==` / `equal`
    Eq,
    /// `!=` / `not_equal`
    Ne,
    /// `>` / `greater`
    Gt,
    /// `>=` / `greater_equal`
    Ge,
    /// `<` / `less`
    Lt,
    /// `<=` / `less_equal`
    Le,
}

/// A string that names no [`Comparison`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "unknown comparison {0:?}, expected ==, !=, >, >=, <, <=, equal, not_equal, greater, greater_equal, less or less_equal"
)]
pub struct UnknownComparison(pub String);

impl Comparison {
    /// Every operator.
    pub const ALL: [Comparison; 6] = [
        Comparison::Eq,
        Comparison::Ne,
        Comparison::Gt,
        Comparison::Ge,
        Comparison::Lt,
        Comparison::Le,
    ];

    /// Parses a symbol (`>=`) or a word (`greater_equal`, any case); spaces around are ignored.
    pub fn parse(text: &str) -> Option<Comparison> {
        let comparison = match text.trim().to_ascii_lowercase().as_str() {
            "==" | "equal" => Comparison::Eq,
            "!=" | "not_equal" => Comparison::Ne,
            ">" | "greater" => Comparison::Gt,
            ">=" | "greater_equal" => Comparison::Ge,
            "<" | "less" => Comparison::Lt,
            "<=" | "less_equal" => Comparison::Le,
            _ => return None,
        };
        Some(comparison)
    }

    /// The symbol spelling: `==`, `!=`, `>`, `>=`, `<`, `<=`.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Eq => "==",
            Comparison::Ne => "!=",
            Comparison::Gt => ">",
            Comparison::Ge => ">=",
            Comparison::Lt => "<",
            Comparison::Le => "<=",
        }
    }

    /// The word spelling: `equal`, `not_equal`, `greater`, `greater_equal`, `less`, `less_equal`.
    pub fn word(self) -> &'static str {
        match self {
            Comparison::Eq => "equal",
            Comparison::Ne => "not_equal",
            Comparison::Gt => "greater",
            Comparison::Ge => "greater_equal",
            Comparison::Lt => "less",
            Comparison::Le => "less_equal",
        }
    }

    /// Whether `current <op> wanted` holds, given `current.cmp(&wanted)`.
    pub fn holds(self, ordering: Ordering) -> bool {
        match self {
            Comparison::Eq => ordering.is_eq(),
            Comparison::Ne => ordering.is_ne(),
            Comparison::Gt => ordering.is_gt(),
            Comparison::Ge => ordering.is_ge(),
            Comparison::Lt => ordering.is_lt(),
            Comparison::Le => ordering.is_le(),
        }
    }
}

impl FromStr for Comparison {
    type Err = UnknownComparison;

    fn from_str(text: &str) -> Result<Comparison, UnknownComparison> {
        Comparison::parse(text).ok_or_else(|| UnknownComparison(text.to_owned()))
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.symbol())
    }
}

impl Serialize for Comparison {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.symbol())
    }
}

impl<'de> Deserialize<'de> for Comparison {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Comparison, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling() {
        let spellings = [
            ("==", "equal", Comparison::Eq),
            ("!=", "not_equal", Comparison::Ne),
            (">", "greater", Comparison::Gt),
            (">=", "greater_equal", Comparison::Ge),
            ("<", "less", Comparison::Lt),
            ("<=", "less_equal", Comparison::Le),
        ];
        for (symbol, word, comparison) in spellings {
            assert_eq!(Comparison::parse(symbol), Some(comparison));
            assert_eq!(Comparison::parse(word), Some(comparison));
            assert_eq!(
                Comparison::parse(&word.to_ascii_uppercase()),
                Some(comparison)
            );
            assert_eq!(Comparison::parse(&format!(" {symbol} ")), Some(comparison));
            assert_eq!(symbol.parse::<Comparison>(), Ok(comparison));
            assert_eq!(comparison.symbol(), symbol);
            assert_eq!(comparison.word(), word);
            assert_eq!(comparison.to_string(), symbol);
        }
    }

    #[test]
    fn rejects_unknown_operators() {
        for bad in ["", "=", "=>", "=<", "<>", "eq", "greater-equal", "≥"] {
            assert_eq!(Comparison::parse(bad), None, "{bad:?}");
        }
        assert_eq!(
            "=>".parse::<Comparison>(),
            Err(UnknownComparison("=>".to_owned()))
        );
    }

    #[test]
    fn holds_matches_the_ordering() {
        use Ordering::*;
        let table = [
            (Comparison::Eq, [false, true, false]),
            (Comparison::Ne, [true, false, true]),
            (Comparison::Gt, [false, false, true]),
            (Comparison::Ge, [false, true, true]),
            (Comparison::Lt, [true, false, false]),
            (Comparison::Le, [true, true, false]),
        ];
        for (comparison, expected) in table {
            let actual = [Less, Equal, Greater].map(|ordering| comparison.holds(ordering));
            assert_eq!(actual, expected, "{comparison}");
        }
    }

    #[test]
    fn serde_round_trip() {
        let parsed: Comparison = serde_json::from_str("\"greater_equal\"").unwrap();
        assert_eq!(parsed, Comparison::Ge);
        assert_eq!(serde_json::to_string(&parsed).unwrap(), "\">=\"");
        assert!(serde_json::from_str::<Comparison>("\"about\"").is_err());
        assert!(serde_json::from_str::<Comparison>("3").is_err());
    }
}
