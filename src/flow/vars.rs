//! The variables bag of one call, the names of the built-in variables, and
//! flattening of JSON values into dotted keys (`{"a":{"b":1},"c":[1,2]}` under
//! `r` gives `r.a.b=1`, `r.c.0=1`, `r.c.1=2`).

use std::collections::BTreeMap;

use serde_json::Value;

/// The caller's number (node-graph naming).
pub(super) const CALLER_CID: &str = "caller_cid";
/// The number the caller dialed (node-graph naming).
pub(super) const CALLEE: &str = "callee";
/// The call's id (node-graph naming).
pub(super) const CALL_ID: &str = "call_id";
/// The caller's number.
pub(super) const VOIPBIN_CALLER_ID: &str = "voipbin.call.caller_id";
/// The caller's number (the call's source).
pub(super) const VOIPBIN_SOURCE_TARGET: &str = "voipbin.call.source.target";
/// The number the caller dialed (the call's destination).
pub(super) const VOIPBIN_DESTINATION_TARGET: &str = "voipbin.call.destination.target";
/// The call's id.
pub(super) const VOIPBIN_CALL_ID: &str = "voipbin.call.id";
/// The keys of the last digit entry, terminator included (`digits_receive`),
/// or the digits of the last menu or collect entry.
pub(super) const VOIPBIN_DIGITS: &str = "voipbin.call.digits";
/// `ringing` until the call is answered, `progressing` once it is; after a
/// connect it is `progressing` when the other party answered, else the
/// outcome (`no_answer`, `busy`, `failed`, `timeout`).
pub(super) const VOIPBIN_CALL_STATUS: &str = "voipbin.call.status";
/// The session's activeflow id.
pub(super) const VOIPBIN_ACTIVEFLOW_ID: &str = "voipbin.activeflow.id";
/// The call the activeflow runs for.
pub(super) const VOIPBIN_ACTIVEFLOW_REFERENCE_ID: &str = "voipbin.activeflow.reference_id";
/// The id of the flow the session started with.
pub(super) const VOIPBIN_ACTIVEFLOW_FLOW_ID: &str = "voipbin.activeflow.flow_id";
/// How many `on_complete_flow_id` hops led to this session (0 for the first).
pub(super) const VOIPBIN_COMPLETE_COUNT: &str = "voipbin.activeflow.complete_count";
/// The id of the last recording started.
pub(super) const VOIPBIN_RECORDING_ID: &str = "voipbin.recording.id";

/// A call's variables: string keys to string values, kept sorted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Vars {
    map: BTreeMap<String, String>,
}

impl Vars {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    /// Sets `key` to `value`, reusing the old value's buffer.
    pub fn set(&mut self, key: &str, value: &str) {
        match self.map.get_mut(key) {
            Some(old) => {
                old.clear();
                old.push_str(value);
            }
            None => {
                self.map.insert(key.to_owned(), value.to_owned());
            }
        }
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.map.remove(key)
    }

    /// All variables, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many variables are set.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no variable is set.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The variables as a map.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.map
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Vars {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Vars {
        Vars {
            map: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

/// Flattens `value` into `(key, text)` pairs below `prefix` (no prefix: the
/// top-level keys): objects add `.key`, arrays add `.index`, strings are kept
/// as they are, other scalars are written as JSON (`true`, `1.5`, `null`).
/// An empty object or array under a prefix gives nothing.
pub(super) fn flatten_json(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                flatten_json(&join(prefix, key), item, out);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                flatten_json(&join(prefix, &index.to_string()), item, out);
            }
        }
        scalar if !prefix.is_empty() => out.push((prefix.to_owned(), scalar_text(scalar))),
        _ => {}
    }
}

/// A scalar as variable text: strings as they are, the rest as JSON.
pub(super) fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flattens_objects_and_arrays_to_dotted_keys() {
        let mut out = Vec::new();
        flatten_json(
            "r",
            &json!({"a": {"b": 1}, "c": [1, 2], "s": "x", "n": null}),
            &mut out,
        );
        let shown: Vec<(&str, &str)> = out.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            shown,
            [
                ("r.a.b", "1"),
                ("r.c.0", "1"),
                ("r.c.1", "2"),
                ("r.n", "null"),
                ("r.s", "x")
            ]
        );
        let mut top = Vec::new();
        flatten_json("", &json!({"customer": {"tier": "vip"}}), &mut top);
        assert_eq!(top, [("customer.tier".to_owned(), "vip".to_owned())]);
        let mut none = Vec::new();
        flatten_json("", &json!("bare"), &mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn set_overwrites_in_place() {
        let mut vars: Vars = [("a", "1")].into_iter().collect();
        vars.set("a", "22");
        vars.set("b", "x");
        assert_eq!(vars.get("a"), Some("22"));
        assert_eq!(vars.iter().collect::<Vec<_>>(), [("a", "22"), ("b", "x")]);
        assert_eq!(vars.remove("b").as_deref(), Some("x"));
        assert_eq!(vars.len(), 1);
    }
}
