//! [`Line`]: one JSON object of the simulator's output, with its keys in a
//! fixed, readable order — the distinguishing key first (`command`, `trace`
//! or `end`), then `node`, then the rest.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::Value;

/// One output line: a JSON object whose keys keep the order they were added in.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    fields: Vec<(String, Value)>,
}

impl Line {
    /// A line whose distinguishing key `key` has the value `name`.
    pub fn new(key: &str, name: impl Into<Value>) -> Line {
        Line {
            fields: vec![(key.to_owned(), name.into())],
        }
    }

    /// Appends `key`, replacing an earlier value of the same key in place.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Line {
        let value = value.into();
        match self.fields.iter_mut().find(|(existing, _)| existing == key) {
            Some((_, old)) => *old = value,
            None => self.fields.push((key.to_owned(), value)),
        }
        self
    }

    /// Appends the fields of the JSON object `body` (anything else is
    /// ignored): `node` first, then the others by name, leaving out `skip`
    /// and keys the line already has.
    pub fn with_fields_of(mut self, body: Value, skip: &[&str]) -> Line {
        let Value::Object(mut map) = body else {
            return self;
        };
        for key in skip {
            map.remove(*key);
        }
        if let Some(node) = map.remove("node") {
            self = self.with_new("node", node);
        }
        for (key, value) in map {
            self = self.with_new(&key, value);
        }
        self
    }

    fn with_new(mut self, key: &str, value: Value) -> Line {
        if self.get(key).is_none() {
            self.fields.push((key.to_owned(), value));
        }
        self
    }

    /// The distinguishing key (`command`, `trace` or `end`).
    pub fn kind(&self) -> &str {
        self.fields.first().map_or("", |(key, _)| key.as_str())
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|(existing, _)| existing == key)
            .map(|(_, value)| value)
    }

    /// The value of `key` when it is a string.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// The line as compact JSON, without a newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

impl Serialize for Line {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.fields.len()))?;
        for (key, value) in &self.fields {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_the_distinguishing_key_and_node_first() {
        let line = Line::new("trace", "var_set").with_fields_of(
            json!({"event": "var_set", "value": "1", "key": "a", "node": "n"}),
            &["event"],
        );
        assert_eq!(
            line.to_json(),
            r#"{"trace":"var_set","node":"n","key":"a","value":"1"}"#
        );
        assert_eq!(line.kind(), "trace");
        assert_eq!(line.text("key"), Some("a"));
    }

    #[test]
    fn never_repeats_a_key() {
        let line = Line::new("end", "hangup")
            .with("node", "x")
            .with_fields_of(json!({"end": "other", "node": "y", "extra": 1}), &[])
            .with("extra", 2);
        assert_eq!(line.to_json(), r#"{"end":"hangup","node":"x","extra":2}"#);
        assert_eq!(
            Line::new("trace", "bridged")
                .with_fields_of(json!(3), &[])
                .to_json(),
            r#"{"trace":"bridged"}"#
        );
    }
}
