//! Reading callplane's call detail records (`DIR/cdr.jsonl`, one JSON object per
//! line) and the checks the tests make on them.

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// One CDR line.
#[derive(Clone, Debug)]
pub struct Cdr {
    pub json: Value,
}

impl Cdr {
    fn field(&self, name: &str) -> &Value {
        self.json.get(name).unwrap_or(&Value::Null)
    }

    /// A string field; panics naming the field and the record when it is not a string.
    pub fn str(&self, name: &str) -> &str {
        self.field(name)
            .as_str()
            .unwrap_or_else(|| panic!("CDR field {name:?} is not a string in {}", self.json))
    }

    /// An integer field; panics naming the field and the record when it is not one.
    pub fn int(&self, name: &str) -> i64 {
        self.field(name)
            .as_i64()
            .unwrap_or_else(|| panic!("CDR field {name:?} is not an integer in {}", self.json))
    }

    /// True when the field is absent or null.
    pub fn is_null(&self, name: &str) -> bool {
        self.field(name).is_null()
    }

    /// An array-of-strings field (`digits`, `nodes`).
    pub fn strings(&self, name: &str) -> Vec<String> {
        let items = self
            .field(name)
            .as_array()
            .unwrap_or_else(|| panic!("CDR field {name:?} is not an array in {}", self.json));
        items
            .iter()
            .map(|item| {
                item.as_str()
                    .unwrap_or_else(|| {
                        panic!("CDR field {name:?} holds a non-string in {}", self.json)
                    })
                    .to_string()
            })
            .collect()
    }

    /// The `call_id` field.
    pub fn call_id(&self) -> &str {
        self.str("call_id")
    }

    /// The `nodes` list.
    pub fn nodes(&self) -> Vec<String> {
        self.strings("nodes")
    }

    /// The `digits` list.
    pub fn digits(&self) -> Vec<String> {
        self.strings("digits")
    }

    /// Asserts `nodes` holds `expected` in this order (other nodes may sit between).
    pub fn assert_nodes_in_order(&self, expected: &[&str]) {
        let nodes = self.nodes();
        let mut rest = nodes.iter();
        for want in expected {
            assert!(
                rest.any(|node| node == want),
                "CDR nodes {nodes:?} do not contain {expected:?} in order (missing {want:?} \
                 at its place); record: {}",
                self.json
            );
        }
    }
}

/// Every complete line of the CDR file; a missing file reads as no records.
/// A line that is not valid JSON fails the test (a torn last line, still being
/// written, is left for the next read).
pub fn read_cdrs(path: &Path) -> Vec<Cdr> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(err) => panic!("reading {}: {err}", path.display()),
    };
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => return Vec::new(),
    };
    complete
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let json = serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("CDR line is not JSON ({err}): {line}"));
            Cdr { json }
        })
        .collect()
}

/// Waits until the CDR file has at least `count` records (up to `timeout`) and
/// returns them all; `None` when the time ran out first.
pub fn wait_for_cdrs(path: &Path, count: usize, timeout: Duration) -> Option<Vec<Cdr>> {
    let deadline = Instant::now() + timeout;
    loop {
        let cdrs = read_cdrs(path);
        if cdrs.len() >= count {
            return Some(cdrs);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    }
}
