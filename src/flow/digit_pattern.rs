//! Digit patterns that validate a `collect` entry, in the dial-plan style
//! telephony users know: the whole entry must match.
//!
//! - `0`-`9`, `*`, `#`, `A`-`D`: that key;
//! - `X`: any digit 0-9; `Z`: 1-9; `N`: 2-9;
//! - `[...]`: one key from the set, ranges allowed (`[1-5*]`);
//! - `.`: one or more further keys (only at the end);
//! - `!`: zero or more further keys (only at the end).
//!
//! `NXXNXXXXXX` is a ten-digit North American number, `[1-5]` one of 1..5,
//! `9.` anything starting with 9.

use crate::flow::handle::is_dtmf_key;

/// A compiled digit pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigitPattern {
    source: String,
    keys: Vec<KeyClass>,
    tail: Tail,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyClass {
    Exact(char),
    Range(char, char),
    Set(Vec<(char, char)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    None,
    OneOrMore,
    ZeroOrMore,
}

impl KeyClass {
    fn matches(&self, key: char) -> bool {
        match self {
            KeyClass::Exact(exact) => key == *exact,
            KeyClass::Range(from, to) => (*from..=*to).contains(&key),
            KeyClass::Set(ranges) => ranges.iter().any(|(from, to)| (*from..=*to).contains(&key)),
        }
    }
}

impl DigitPattern {
    /// Parses a pattern; the error says what is wrong.
    pub fn parse(source: &str) -> Result<DigitPattern, String> {
        let mut keys = Vec::new();
        let mut tail = Tail::None;
        let mut chars = source.chars().peekable();
        while let Some(key) = chars.next() {
            if tail != Tail::None {
                return Err(format!("{key:?} after the final \".\" or \"!\""));
            }
            match key {
                'X' | 'x' => keys.push(KeyClass::Range('0', '9')),
                'Z' | 'z' => keys.push(KeyClass::Range('1', '9')),
                'N' | 'n' => keys.push(KeyClass::Range('2', '9')),
                '.' => tail = Tail::OneOrMore,
                '!' => tail = Tail::ZeroOrMore,
                '[' => {
                    let mut ranges = Vec::new();
                    loop {
                        let Some(first) = chars.next() else {
                            return Err("unterminated \"[\"".to_owned());
                        };
                        if first == ']' {
                            break;
                        }
                        if !is_dtmf_key(first) {
                            return Err(format!("{first:?} is not a DTMF key"));
                        }
                        if chars.peek() == Some(&'-') {
                            chars.next();
                            match chars.next() {
                                Some(last) if is_dtmf_key(last) && last >= first => {
                                    ranges.push((first, last))
                                }
                                _ => return Err(format!("bad range after {first:?}")),
                            }
                        } else {
                            ranges.push((first, first));
                        }
                    }
                    if ranges.is_empty() {
                        return Err("empty \"[]\"".to_owned());
                    }
                    keys.push(KeyClass::Set(ranges));
                }
                key if is_dtmf_key(key) => keys.push(KeyClass::Exact(key)),
                other => return Err(format!("{other:?} is not a DTMF key or pattern letter")),
            }
        }
        if keys.is_empty() && tail == Tail::None {
            return Err("empty pattern".to_owned());
        }
        Ok(DigitPattern {
            source: source.to_owned(),
            keys,
            tail,
        })
    }

    /// Whether the whole of `entry` matches.
    pub fn matches(&self, entry: &str) -> bool {
        let mut keys = entry.chars();
        for class in &self.keys {
            match keys.next() {
                Some(key) if class.matches(key) => {}
                _ => return false,
            }
        }
        let rest = keys.count();
        match self.tail {
            Tail::None => rest == 0,
            Tail::OneOrMore => rest >= 1,
            Tail::ZeroOrMore => true,
        }
    }

    /// The pattern as written.
    pub fn source(&self) -> &str {
        &self.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, entry: &str) -> bool {
        DigitPattern::parse(pattern).unwrap().matches(entry)
    }

    #[test]
    fn letters_sets_and_tails() {
        assert!(matches("NXXNXXXXXX", "2125550123"));
        assert!(!matches("NXXNXXXXXX", "1125550123"));
        assert!(!matches("NXXNXXXXXX", "212555012"));
        assert!(matches("[1-5*]", "*") && matches("[1-5*]", "3") && !matches("[1-5*]", "6"));
        assert!(matches("9.", "91") && !matches("9.", "9"));
        assert!(matches("9!", "9") && matches("9!", "9123"));
        assert!(matches("Z", "1") && !matches("Z", "0"));
        assert!(matches("12#", "12#") && !matches("12#", "12"));
    }

    #[test]
    fn rejects_bad_patterns() {
        for bad in ["", "[", "[]", "9.1", "[5-1]", "abc", "[x]"] {
            assert!(DigitPattern::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(DigitPattern::parse("XX").unwrap().source(), "XX");
    }
}
