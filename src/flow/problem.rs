//! One finding about a flow document: where it is (a JSON path such as
//! `nodes[3].data.maxDigits`) and what is wrong there.

use std::fmt;

/// A validation error or warning, located by the JSON path of the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON path of the value at fault (`nodes[3].data.maxDigits`); `$` is the document root.
    pub path: String,
    /// What is wrong, e.g. `expected an integer ≥ 1, got "two"`.
    pub message: String,
}

impl Problem {
    /// A problem at `path`; an empty path means the document root and is shown as `$`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Problem {
        let path = path.into();
        let path = if path.is_empty() {
            "$".to_owned()
        } else {
            path
        };
        Problem {
            path,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_path_then_message() {
        let problem = Problem::new(
            "nodes[3].data.maxDigits",
            "expected an integer ≥ 1, got \"two\"",
        );
        assert_eq!(
            problem.to_string(),
            "nodes[3].data.maxDigits: expected an integer ≥ 1, got \"two\""
        );
    }

    #[test]
    fn empty_path_is_the_root() {
        assert_eq!(
            Problem::new("", "expected an object").to_string(),
            "$: expected an object"
        );
    }
}
