//! Path-aware reading of `serde_json` values: each reader records a
//! [`Problem`] at the exact JSON path when a value is missing or has the wrong
//! type or range, so one pass over a document reports every fault.

use serde_json::{Map, Value};

use crate::flow::problem::Problem;

/// Marker: the value could not be read and a problem has already been recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reported;

/// The result of reading one value.
pub(crate) type Read<T> = Result<T, Reported>;

/// The path of field `key` below `path`.
pub(crate) fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The path of array item `index` below `path`.
pub(crate) fn item(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// A short description of a value for messages: `"two"`, `2.5`, `null`, `an object`.
pub(crate) fn describe(value: &Value) -> String {
    const MAX_CHARS: usize = 40;
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) if text.chars().count() > MAX_CHARS => {
            let head: String = text.chars().take(MAX_CHARS).collect();
            format!("{}…", Value::String(head))
        }
        Value::String(_) => value.to_string(),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// `text` as a JSON string literal, for messages: `"menu"`.
pub(crate) fn quoted(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

/// Reads `value` as an integer in `min..=u32::MAX`; whole floats such as `5.0` count.
pub(crate) fn integer_at_least(value: &Value, min: u32) -> Result<u32, String> {
    let whole = match value {
        Value::Number(number) => number.as_u64().or_else(|| {
            number
                .as_f64()
                .filter(|float| float.fract() == 0.0 && *float >= 0.0 && *float <= u64::MAX as f64)
                .map(|float| float as u64)
        }),
        _ => None,
    };
    match whole {
        Some(whole) if whole > u64::from(u32::MAX) => Err(format!(
            "expected an integer ≤ {}, got {}",
            u32::MAX,
            describe(value)
        )),
        Some(whole) if whole >= u64::from(min) => Ok(whole as u32),
        _ => Err(format!(
            "expected an integer ≥ {min}, got {}",
            describe(value)
        )),
    }
}

/// The fields of a JSON object, with the object's path.
pub(crate) struct Fields<'v> {
    map: &'v Map<String, Value>,
    path: String,
}

impl<'v> Fields<'v> {
    /// `value` as an object at `path`, or a recorded `expected an object` problem.
    pub(crate) fn of(value: &'v Value, path: &str, errors: &mut Vec<Problem>) -> Read<Fields<'v>> {
        match value {
            Value::Object(map) => Ok(Fields {
                map,
                path: path.to_owned(),
            }),
            other => {
                errors.push(Problem::new(
                    path,
                    format!("expected an object, got {}", describe(other)),
                ));
                Err(Reported)
            }
        }
    }

    /// The path of field `key` of this object.
    pub(crate) fn path_of(&self, key: &str) -> String {
        child(&self.path, key)
    }

    /// The object's own path.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// The value of `key`, `null` included.
    pub(crate) fn get(&self, key: &str) -> Option<&'v Value> {
        self.map.get(key)
    }

    /// The value of `key`, treating `null` as absent.
    pub(crate) fn present(&self, key: &str) -> Option<&'v Value> {
        self.map.get(key).filter(|value| !value.is_null())
    }

    pub(crate) fn missing(&self, key: &str, expected: &str, errors: &mut Vec<Problem>) -> Reported {
        errors.push(Problem::new(
            self.path_of(key),
            format!("missing, expected {expected}"),
        ));
        Reported
    }

    pub(crate) fn wrong(&self, key: &str, message: String, errors: &mut Vec<Problem>) -> Reported {
        errors.push(Problem::new(self.path_of(key), message));
        Reported
    }

    /// A required non-empty string.
    pub(crate) fn required_string(&self, key: &str, errors: &mut Vec<Problem>) -> Read<String> {
        match self.map.get(key) {
            None => Err(self.missing(key, "a non-empty string", errors)),
            Some(value) => self.non_empty_string(key, value, errors),
        }
    }

    /// An optional non-empty string (`null` counts as absent).
    pub(crate) fn optional_string(
        &self,
        key: &str,
        errors: &mut Vec<Problem>,
    ) -> Read<Option<String>> {
        match self.present(key) {
            None => Ok(None),
            Some(value) => self.non_empty_string(key, value, errors).map(Some),
        }
    }

    /// An optional string that may be empty (`null` counts as absent).
    pub(crate) fn optional_any_string(
        &self,
        key: &str,
        errors: &mut Vec<Problem>,
    ) -> Read<Option<String>> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(self.wrong(
                key,
                format!("expected a string, got {}", describe(other)),
                errors,
            )),
        }
    }

    pub(crate) fn non_empty_string(
        &self,
        key: &str,
        value: &Value,
        errors: &mut Vec<Problem>,
    ) -> Read<String> {
        match value {
            Value::String(text) if !text.is_empty() => Ok(text.clone()),
            other => Err(self.wrong(
                key,
                format!("expected a non-empty string, got {}", describe(other)),
                errors,
            )),
        }
    }

    /// A required integer in `min..=u32::MAX`.
    pub(crate) fn required_integer(
        &self,
        key: &str,
        min: u32,
        errors: &mut Vec<Problem>,
    ) -> Read<u32> {
        match self.map.get(key) {
            None => Err(self.missing(key, &format!("an integer ≥ {min}"), errors)),
            Some(value) => {
                integer_at_least(value, min).map_err(|message| self.wrong(key, message, errors))
            }
        }
    }

    /// An optional integer in `min..=u32::MAX`, `default` when absent or `null`.
    pub(crate) fn integer_or(
        &self,
        key: &str,
        min: u32,
        default: u32,
        errors: &mut Vec<Problem>,
    ) -> Read<u32> {
        match self.present(key) {
            None => Ok(default),
            Some(value) => {
                integer_at_least(value, min).map_err(|message| self.wrong(key, message, errors))
            }
        }
    }

    /// An optional array (`null` counts as absent).
    pub(crate) fn optional_array(
        &self,
        key: &str,
        errors: &mut Vec<Problem>,
    ) -> Read<Option<&'v [Value]>> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(self.wrong(
                key,
                format!("expected an array, got {}", describe(other)),
                errors,
            )),
        }
    }

    /// An optional object (`null` counts as absent).
    pub(crate) fn optional_object(
        &self,
        key: &str,
        errors: &mut Vec<Problem>,
    ) -> Read<Option<Fields<'v>>> {
        match self.present(key) {
            None => Ok(None),
            Some(value) => Fields::of(value, &self.path_of(key), errors).map(Some),
        }
    }

    /// The object's entries.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&'v str, &'v Value)> {
        self.map.iter().map(|(key, value)| (key.as_str(), value))
    }

    /// Records `message` as a problem at field `key`.
    pub(crate) fn report(
        &self,
        key: &str,
        message: impl Into<String>,
        errors: &mut Vec<Problem>,
    ) -> Reported {
        errors.push(Problem::new(self.path_of(key), message));
        Reported
    }

    /// Warns about each field not in `known` (a likely typo); it is ignored.
    pub(crate) fn warn_unknown(&self, known: &[&str], warnings: &mut Vec<Problem>) {
        for key in self.map.keys() {
            if !known.contains(&key.as_str()) {
                warnings.push(Problem::new(self.path_of(key), "unknown field; ignored"));
            }
        }
    }

    /// A required array.
    pub(crate) fn required_array(&self, key: &str, errors: &mut Vec<Problem>) -> Read<&'v [Value]> {
        match self.map.get(key) {
            None => Err(self.missing(key, "an array", errors)),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(self.wrong(
                key,
                format!("expected an array, got {}", describe(other)),
                errors,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_join_fields_and_items() {
        assert_eq!(child("", "nodes"), "nodes");
        assert_eq!(child(&item("nodes", 3), "data"), "nodes[3].data");
    }

    #[test]
    fn describes_values_briefly() {
        assert_eq!(describe(&json!("two")), "\"two\"");
        assert_eq!(describe(&json!(2.5)), "2.5");
        assert_eq!(describe(&json!(null)), "null");
        assert_eq!(describe(&json!({})), "an object");
        assert_eq!(describe(&json!([1])), "an array");
        let long = "é".repeat(100);
        assert_eq!(describe(&json!(long)), format!("\"{}\"…", "é".repeat(40)));
    }

    #[test]
    fn integers_accept_whole_numbers_in_range() {
        assert_eq!(integer_at_least(&json!(3), 1), Ok(3));
        assert_eq!(integer_at_least(&json!(3.0), 1), Ok(3));
        assert_eq!(
            integer_at_least(&json!("two"), 1),
            Err("expected an integer ≥ 1, got \"two\"".to_owned())
        );
        assert_eq!(
            integer_at_least(&json!(0), 1),
            Err("expected an integer ≥ 1, got 0".to_owned())
        );
        assert!(integer_at_least(&json!(2.5), 1).is_err());
        assert!(integer_at_least(&json!(-1), 0).is_err());
        assert_eq!(
            integer_at_least(&json!(5_000_000_000u64), 1),
            Err("expected an integer ≤ 4294967295, got 5000000000".to_owned())
        );
    }

    #[test]
    fn fields_record_problems_at_their_path() {
        let value = json!({"a": "", "b": null, "n": "x"});
        let mut errors = Vec::new();
        let fields = Fields::of(&value, "nodes[0].data", &mut errors).unwrap();
        assert!(fields.required_string("a", &mut errors).is_err());
        assert_eq!(fields.optional_string("b", &mut errors), Ok(None));
        assert!(fields.required_string("zz", &mut errors).is_err());
        assert_eq!(fields.integer_or("absent", 1, 7, &mut errors), Ok(7));
        assert!(fields.integer_or("n", 1, 7, &mut errors).is_err());
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "nodes[0].data.a: expected a non-empty string, got \"\"",
                "nodes[0].data.zz: missing, expected a non-empty string",
                "nodes[0].data.n: expected an integer ≥ 1, got \"x\"",
            ]
        );
        assert!(Fields::of(&json!(3), "edges[1]", &mut errors).is_err());
        assert_eq!(
            errors.last().unwrap().to_string(),
            "edges[1]: expected an object, got 3"
        );
    }
}
