//! The event script of a simulation: what the caller and the network do, in
//! the order the waiting commands consume it. `--events` takes a
//! comma-separated list and may be given several times; commas inside `{}`,
//! `[]` or double quotes do not split, so JSON bodies need no escaping
//! (`http:200:{"a":1,"b":[1,2]}`). Blank items are ignored.

use std::collections::VecDeque;

use crate::flow::{parse_event, Outcome};

/// The events not consumed yet, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    events: VecDeque<Outcome>,
}

impl Script {
    /// A script of these events, in order.
    pub fn new(events: impl IntoIterator<Item = Outcome>) -> Script {
        Script {
            events: events.into_iter().collect(),
        }
    }

    /// Reads every `--events` value, in order; the error names the bad item.
    pub fn parse<S: AsRef<str>>(lists: &[S]) -> Result<Script, String> {
        let mut events = VecDeque::new();
        for list in lists {
            let list = list.as_ref();
            for item in split_event_list(list)? {
                if item.trim().is_empty() {
                    continue;
                }
                let outcome = parse_event(item).map_err(|err| format!("--events: {err}"))?;
                events.push_back(outcome);
            }
        }
        Ok(Script { events })
    }

    /// The next event, taken off the script.
    pub fn next_event(&mut self) -> Option<Outcome> {
        self.events.pop_front()
    }

    /// The events left, as `--events` spells them.
    pub fn remaining(&self) -> Vec<String> {
        self.events.iter().map(ToString::to_string).collect()
    }

    /// Whether every event was consumed.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// Splits one `--events` value on the commas outside `{}`, `[]` and double
/// quotes (a backslash escapes the next character inside quotes).
pub fn split_event_list(list: &str) -> Result<Vec<&str>, String> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut start = 0;
    for (at, c) in list.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("--events: unbalanced {c:?} in {list:?}"))?;
            }
            ',' if depth == 0 => {
                items.push(&list[start..at]);
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    if in_string {
        return Err(format!("--events: unclosed '\"' in {list:?}"));
    }
    if depth > 0 {
        return Err(format!("--events: unclosed '{{' or '[' in {list:?}"));
    }
    items.push(&list[start..]);
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_json_and_quotes() {
        assert_eq!(
            split_event_list(r#"digits:1, timeout,http:200:{"a":1,"b":[1,2]},failed:"x,y""#),
            Ok(vec![
                "digits:1",
                " timeout",
                r#"http:200:{"a":1,"b":[1,2]}"#,
                r#"failed:"x,y""#
            ])
        );
        assert_eq!(
            split_event_list(r#"http:200:{"s":"},\",{"}"#),
            Ok(vec![r#"http:200:{"s":"},\",{"}"#])
        );
        assert_eq!(split_event_list(""), Ok(vec![""]));
    }

    #[test]
    fn refuses_unbalanced_lists() {
        for bad in [r#"http:200:{"a":1"#, "http:200:}", r#"failed:"x"#] {
            let err = split_event_list(bad).unwrap_err();
            assert!(err.starts_with("--events: "), "{err}");
        }
    }

    #[test]
    fn parses_several_lists_in_order_and_skips_blanks() {
        let mut script = Script::parse(&["digits:42#,,timeout", "", r#"http:200:{"n":"J,K"}"#])
            .expect("valid script");
        assert_eq!(script.remaining().len(), 3);
        assert_eq!(script.next_event(), Some(Outcome::Digits("42#".into())));
        assert_eq!(script.next_event(), Some(Outcome::Timeout));
        assert_eq!(
            script.next_event(),
            Some(Outcome::Http {
                status: 200,
                body: r#"{"n":"J,K"}"#.into()
            })
        );
        assert!(script.is_empty());
        assert_eq!(script.next_event(), None);
    }

    #[test]
    fn names_the_bad_event() {
        let err = Script::parse(&["digits:1,fax"]).unwrap_err();
        assert!(err.starts_with("--events: "), "{err}");
        assert!(err.contains("fax"), "{err}");
        assert!(!err.contains('\n'));
    }
}
