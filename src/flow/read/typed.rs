//! Typed field readers on top of [`Fields`]: templates, booleans, bounded
//! integers, durations, DTMF keys, string maps and lists. Each records a
//! problem at the field's path and returns `Err(Reported)` on bad input.

use std::time::Duration;

use serde_json::Value;

use crate::flow::handle::is_dtmf_key;
use crate::flow::problem::Problem;
use crate::flow::read::json::{describe, item, Fields, Read, Reported};
use crate::flow::template::Template;
use crate::flow::vars::scalar_text;

/// Parses `text` as a template, recording a problem at `path` when it is malformed.
pub(crate) fn template_at(text: &str, path: &str, errors: &mut Vec<Problem>) -> Read<Template> {
    Template::parse(text).map_err(|message| {
        errors.push(Problem::new(path, format!("bad template: {message}")));
        Reported
    })
}

impl<'v> Fields<'v> {
    /// A required non-empty string, as a template.
    pub(crate) fn required_template(&self, key: &str, errors: &mut Vec<Problem>) -> Read<Template> {
        let text = self.required_string(key, errors)?;
        template_at(&text, &self.path_of(key), errors)
    }

    /// An optional string (it may be empty), as a template.
    pub(crate) fn optional_template(
        &self,
        key: &str,
        errors: &mut Vec<Problem>,
    ) -> Read<Option<Template>> {
        match self.optional_any_string(key, errors)? {
            Some(text) => template_at(&text, &self.path_of(key), errors).map(Some),
            None => Ok(None),
        }
    }

    /// An optional string, number or boolean, as a template; the flag says
    /// whether it was a JSON number.
    pub(crate) fn optional_scalar_template(
        &self,
        key: &str,
        errors: &mut Vec<Problem>,
    ) -> Read<Option<(Template, bool)>> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::String(text)) => {
                template_at(text, &self.path_of(key), errors).map(|t| Some((t, false)))
            }
            Some(value @ Value::Number(_)) => {
                Ok(Some((Template::literal(scalar_text(value)), true)))
            }
            Some(value @ Value::Bool(_)) => {
                Ok(Some((Template::literal(scalar_text(value)), false)))
            }
            Some(other) => Err(self.wrong(
                key,
                format!(
                    "expected a string, number or boolean, got {}",
                    describe(other)
                ),
                errors,
            )),
        }
    }

    /// An optional boolean, `default` when absent.
    pub(crate) fn bool_or(
        &self,
        key: &str,
        default: bool,
        errors: &mut Vec<Problem>,
    ) -> Read<bool> {
        match self.present(key) {
            None => Ok(default),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(other) => Err(self.wrong(
                key,
                format!("expected true or false, got {}", describe(other)),
                errors,
            )),
        }
    }

    /// An optional integer in `min..=u32::MAX`.
    pub(crate) fn optional_integer(
        &self,
        key: &str,
        min: u32,
        errors: &mut Vec<Problem>,
    ) -> Read<Option<u32>> {
        match self.present(key) {
            None => Ok(None),
            Some(_) => self.integer_or(key, min, min, errors).map(Some),
        }
    }

    /// An optional SIP final status a call may be refused with (400 to 699).
    pub(crate) fn optional_sip_status(
        &self,
        key: &str,
        errors: &mut Vec<Problem>,
    ) -> Read<Option<u16>> {
        match self.present(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => match value.as_u64().and_then(|n| u16::try_from(n).ok()) {
                Some(status) if (400..=699).contains(&status) => Ok(Some(status)),
                _ => Err(self.wrong(
                    key,
                    format!(
                        "expected a SIP status from 400 to 699, got {}",
                        describe(value)
                    ),
                    errors,
                )),
            },
        }
    }

    /// An optional integer in `min..=max`, `default` when absent.
    pub(crate) fn i32_or(
        &self,
        key: &str,
        (min, max): (i32, i32),
        default: i32,
        errors: &mut Vec<Problem>,
    ) -> Read<i32> {
        let Some(value) = self.present(key) else {
            return Ok(default);
        };
        let whole = value.as_i64().or_else(|| {
            value
                .as_f64()
                .filter(|float| float.fract() == 0.0 && float.abs() < 1e15)
                .map(|float| float as i64)
        });
        match whole {
            Some(whole) if (i64::from(min)..=i64::from(max)).contains(&whole) => Ok(whole as i32),
            _ => Err(self.wrong(
                key,
                format!(
                    "expected an integer from {min} to {max}, got {}",
                    describe(value)
                ),
                errors,
            )),
        }
    }

    /// Optional whole seconds (≥ `min`), `default` seconds when absent.
    pub(crate) fn seconds_or(
        &self,
        key: &str,
        min: u32,
        default: u32,
        errors: &mut Vec<Problem>,
    ) -> Read<Duration> {
        self.integer_or(key, min, default, errors)
            .map(|seconds| Duration::from_secs(u64::from(seconds)))
    }

    /// Optional whole seconds (≥ `min`).
    pub(crate) fn optional_seconds(
        &self,
        key: &str,
        min: u32,
        errors: &mut Vec<Problem>,
    ) -> Read<Option<Duration>> {
        self.optional_integer(key, min, errors)
            .map(|seconds| seconds.map(|seconds| Duration::from_secs(u64::from(seconds))))
    }

    /// Optional milliseconds (≥ `min`), `default` ms when absent.
    pub(crate) fn millis_or(
        &self,
        key: &str,
        min: u32,
        default: u32,
        errors: &mut Vec<Problem>,
    ) -> Read<Duration> {
        self.integer_or(key, min, default, errors)
            .map(|millis| Duration::from_millis(u64::from(millis)))
    }

    /// An optional single DTMF key (`"#"`).
    pub(crate) fn dtmf_key(&self, key: &str, errors: &mut Vec<Problem>) -> Read<Option<char>> {
        let Some(value) = self.present(key) else {
            return Ok(None);
        };
        let mut keys = value.as_str().unwrap_or_default().chars();
        match (keys.next(), keys.next()) {
            (Some(dtmf), None) if is_dtmf_key(dtmf) => Ok(Some(dtmf)),
            _ => Err(self.wrong(
                key,
                format!(
                    "expected one DTMF key (0-9, *, #, A-D), got {}",
                    describe(value)
                ),
                errors,
            )),
        }
    }

    /// One of `options` (exact spelling), `default` when absent.
    pub(crate) fn one_of(
        &self,
        key: &str,
        options: &[&'static str],
        default: &'static str,
        errors: &mut Vec<Problem>,
    ) -> Read<&'static str> {
        let Some(value) = self.present(key) else {
            return Ok(default);
        };
        let text = value.as_str().unwrap_or_default();
        match options
            .iter()
            .find(|option| option.eq_ignore_ascii_case(text))
        {
            Some(option) => Ok(option),
            None => Err(self.wrong(
                key,
                format!(
                    "expected one of {}, got {}",
                    options.join(", "),
                    describe(value)
                ),
                errors,
            )),
        }
    }

    /// An optional object of scalar values, each a template, in key order.
    pub(crate) fn template_map(
        &self,
        key: &str,
        errors: &mut Vec<Problem>,
    ) -> Read<Vec<(String, Template)>> {
        let Some(object) = self.optional_object(key, errors)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut failed = false;
        for (name, _) in object.entries() {
            match object.optional_scalar_template(name, errors) {
                Ok(Some((template, _))) => out.push((name.to_owned(), template)),
                Ok(None) => out.push((name.to_owned(), Template::default())),
                Err(Reported) => failed = true,
            }
        }
        if failed {
            Err(Reported)
        } else {
            Ok(out)
        }
    }

    /// An optional object of non-empty strings, in key order.
    pub(crate) fn string_map(
        &self,
        key: &str,
        errors: &mut Vec<Problem>,
    ) -> Read<Vec<(String, String)>> {
        let Some(object) = self.optional_object(key, errors)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut failed = false;
        for (name, _) in object.entries() {
            match object.required_string(name, errors) {
                Ok(text) => out.push((name.to_owned(), text)),
                Err(Reported) => failed = true,
            }
        }
        if failed {
            Err(Reported)
        } else {
            Ok(out)
        }
    }

    /// An optional list of weekday numbers 0 (Sunday) to 6 (Saturday).
    pub(crate) fn weekdays(&self, key: &str, errors: &mut Vec<Problem>) -> Read<Vec<u32>> {
        let Some(items) = self.optional_array(key, errors)? else {
            return Ok(Vec::new());
        };
        let mut days = Vec::new();
        let mut failed = false;
        for (index, value) in items.iter().enumerate() {
            match value.as_u64().filter(|day| *day <= 6) {
                Some(day) => days.push(day as u32),
                None => {
                    errors.push(Problem::new(
                        item(&self.path_of(key), index),
                        format!(
                            "expected a weekday 0 (Sunday) to 6 (Saturday), got {}",
                            describe(value)
                        ),
                    ));
                    failed = true;
                }
            }
        }
        if failed {
            Err(Reported)
        } else {
            Ok(days)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shown(errors: &[Problem]) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn reads_typed_fields_and_reports_bad_ones() {
        let value = json!({
            "t": "Hi ${name}", "bad": "${x", "n": 5, "b": true, "w": [1, 7],
            "h": {"X-A": "${a}", "X-B": 2}, "i": -1, "k": "##", "m": "get", "map": {"1": "a"}
        });
        let mut errors = Vec::new();
        let fields = Fields::of(&value, "actions[0].option", &mut errors).unwrap();
        assert_eq!(
            fields.required_template("t", &mut errors).unwrap(),
            Template::parse("Hi ${name}").unwrap()
        );
        assert!(fields.required_template("bad", &mut errors).is_err());
        assert_eq!(
            fields.optional_scalar_template("n", &mut errors).unwrap(),
            Some((Template::literal("5"), true))
        );
        assert_eq!(fields.bool_or("b", false, &mut errors), Ok(true));
        assert_eq!(fields.bool_or("absent", true, &mut errors), Ok(true));
        assert!(fields.weekdays("w", &mut errors).is_err());
        assert_eq!(fields.template_map("h", &mut errors).unwrap().len(), 2);
        assert_eq!(fields.i32_or("i", (-1, 23), 0, &mut errors), Ok(-1));
        assert!(fields.i32_or("n", (-1, 3), 0, &mut errors).is_err());
        assert!(fields.dtmf_key("k", &mut errors).is_err());
        assert_eq!(
            fields.one_of("m", &["GET", "POST"], "POST", &mut errors),
            Ok("GET")
        );
        assert_eq!(
            fields.string_map("map", &mut errors).unwrap(),
            [("1".to_owned(), "a".to_owned())]
        );
        assert_eq!(
            fields.millis_or("n", 0, 9, &mut errors),
            Ok(Duration::from_millis(5))
        );
        assert_eq!(
            shown(&errors),
            [
                "actions[0].option.bad: bad template: unterminated \"${\" at byte 0",
                "actions[0].option.w[1]: expected a weekday 0 (Sunday) to 6 (Saturday), got 7",
                "actions[0].option.n: expected an integer from -1 to 3, got 5",
                "actions[0].option.k: expected one DTMF key (0-9, *, #, A-D), got \"##\"",
            ]
        );
    }
}
