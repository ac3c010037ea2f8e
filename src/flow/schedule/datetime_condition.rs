//! VoIPBIN's `condition_datetime`: compares the current UTC month, day, hour and minute
//! (and weekday) against fixed values, with wildcards. See the module doc of
//! [`crate::flow::schedule`] for the exact semantics.

use std::cmp::Ordering;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Serialize};

use super::comparison::Comparison;

/// The `option` of a `condition_datetime` action (the branch targets are not part of it).
///
/// Wildcards: `minute < 0`, `hour < 0`, `day < 1` and `month < 1` mean "any"; VoIPBIN
/// writes them as minute -1, hour -1, day -1, month 0. An empty `weekdays` means every day.
/// Weekdays are numbered 0 = Sunday .. 6 = Saturday (7 is also accepted for Sunday).
/// Fields missing from JSON are wildcards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DatetimeCondition {
    /// The operator, JSON field `condition`.
    #[serde(rename = "condition")]
    pub comparison: Comparison,
    /// 0..=59, or -1 for any minute.
    #[serde(default = "any")]
    pub minute: i32,
    /// 0..=23, or -1 for any hour.
    #[serde(default = "any")]
    pub hour: i32,
    /// Day of the month 1..=31, or -1 for any day.
    #[serde(default = "any")]
    pub day: i32,
    /// 1..=12, or 0 for any month.
    #[serde(default = "any_month")]
    pub month: i32,
    /// Allowed weekdays, 0 = Sunday .. 6 = Saturday; empty for every day.
    #[serde(default)]
    pub weekdays: Vec<u32>,
}

/// A field of a [`DatetimeCondition`] that can never match.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: expected {expected}, got {value}")]
pub(crate) struct DatetimeConditionError {
    /// `minute`, `hour`, `day`, `month` or `weekdays[i]`.
    pub field: String,
    /// The accepted values, in words.
    pub expected: &'static str,
    /// The value found.
    pub value: i64,
}

fn any() -> i32 {
    DatetimeCondition::ANY
}

fn any_month() -> i32 {
    DatetimeCondition::ANY_MONTH
}

impl DatetimeCondition {
    /// VoIPBIN's wildcard for minute, hour and day.
    pub(crate) const ANY: i32 = -1;
    /// VoIPBIN's wildcard for month.
    pub(crate) const ANY_MONTH: i32 = 0;

    /// Whether the condition holds at `at` (taken in UTC, as VoIPBIN does).
    ///
    /// `==`: the weekday is allowed and every non-wildcard field equals the current value.
    /// `!=`: exactly when `==` does not hold.
    /// `>`, `>=`, `<`, `<=`: the weekday is allowed and the current (month, day, hour,
    /// minute), restricted to the non-wildcard fields, compares lexicographically to the
    /// given values as the operator says. Seconds are ignored.
    pub(crate) fn matches(&self, at: DateTime<Utc>) -> bool {
        let weekday_allowed = self.weekday_allowed(at);
        let ordering = self.compare_fields(at);
        match self.comparison {
            Comparison::Ne => !(weekday_allowed && ordering.is_eq()),
            comparison => weekday_allowed && comparison.holds(ordering),
        }
    }

    /// Rejects values above their range, which could never match a real date
    /// (`hour: expected -1 (any) or 0..=23, got 24`). Wildcards are always fine. The
    /// action reader enforces the same ranges when a flow loads; this checks a condition
    /// built by hand.
    #[cfg(test)]
    pub(crate) fn validate(&self) -> Result<(), DatetimeConditionError> {
        let checks = [
            ("minute", self.minute, 59, "-1 (any) or 0..=59"),
            ("hour", self.hour, 23, "-1 (any) or 0..=23"),
            ("day", self.day, 31, "-1 (any) or 1..=31"),
            ("month", self.month, 12, "0 (any) or 1..=12"),
        ];
        for (field, value, max, expected) in checks {
            if value > max {
                return Err(DatetimeConditionError {
                    field: field.to_owned(),
                    expected,
                    value: i64::from(value),
                });
            }
        }
        for (index, &weekday) in self.weekdays.iter().enumerate() {
            if weekday > 7 {
                return Err(DatetimeConditionError {
                    field: format!("weekdays[{index}]"),
                    expected: "0 (Sunday) ..= 6 (Saturday), or 7 for Sunday",
                    value: i64::from(weekday),
                });
            }
        }
        Ok(())
    }

    fn weekday_allowed(&self, at: DateTime<Utc>) -> bool {
        let today = at.weekday().num_days_from_sunday();
        self.weekdays.is_empty()
            || self
                .weekdays
                .iter()
                .any(|&day| day == today || (day == 7 && today == 0))
    }

    /// Lexicographic comparison of the current (month, day, hour, minute) against the
    /// given values, skipping wildcard fields; `Equal` when every field is a wildcard.
    fn compare_fields(&self, at: DateTime<Utc>) -> Ordering {
        let fields = [
            (at.month(), self.month, self.month < 1),
            (at.day(), self.day, self.day < 1),
            (at.hour(), self.hour, self.hour < 0),
            (at.minute(), self.minute, self.minute < 0),
        ];
        fields
            .into_iter()
            .filter(|&(_, _, wildcard)| !wildcard)
            .map(|(current, wanted, _)| i64::from(current).cmp(&i64::from(wanted)))
            .find(|ordering| ordering.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    /// 2026-03-02 is a Monday.
    fn utc(month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(2026, month, day)
            .and_then(|date| date.and_hms_opt(hour, minute, 0))
            .map(|naive| naive.and_utc())
            .unwrap_or_default()
    }

    fn condition(
        comparison: &str,
        month: i32,
        day: i32,
        hour: i32,
        minute: i32,
    ) -> DatetimeCondition {
        DatetimeCondition {
            comparison: Comparison::parse(comparison).unwrap_or(Comparison::Eq),
            minute,
            hour,
            day,
            month,
            weekdays: Vec::new(),
        }
    }

    #[test]
    fn seed_business_hours_example() {
        let opening: DatetimeCondition = serde_json::from_str(
            r#"{"condition": ">=", "hour": 9, "minute": 0, "day": -1, "month": 0,
                "weekdays": [1, 2, 3, 4, 5], "false_target_id": "after-hours"}"#,
        )
        .unwrap();
        let closing: DatetimeCondition = serde_json::from_str(
            r#"{"condition": "<", "hour": 17, "minute": 0, "day": -1, "month": 0,
                "weekdays": [1, 2, 3, 4, 5], "false_target_id": "after-hours"}"#,
        )
        .unwrap();
        let open = |at| opening.matches(at) && closing.matches(at);
        assert!(!open(utc(3, 2, 8, 59)), "Mon 08:59");
        assert!(open(utc(3, 2, 9, 0)), "Mon 09:00");
        assert!(open(utc(3, 6, 16, 59)), "Fri 16:59");
        assert!(!open(utc(3, 6, 17, 0)), "Fri 17:00");
        assert!(!open(utc(3, 7, 12, 0)), "Sat noon");
        assert!(!open(utc(3, 8, 12, 0)), "Sun noon");
    }

    #[test]
    fn equality_checks_only_the_given_fields() {
        let nine_oclock = condition("==", 0, -1, 9, -1);
        assert!(nine_oclock.matches(utc(3, 2, 9, 0)));
        assert!(nine_oclock.matches(utc(7, 19, 9, 59)));
        assert!(!nine_oclock.matches(utc(3, 2, 10, 0)));

        let christmas = condition("equal", 12, 25, -1, -1);
        assert!(christmas.matches(utc(12, 25, 0, 0)));
        assert!(christmas.matches(utc(12, 25, 23, 59)));
        assert!(!christmas.matches(utc(12, 24, 12, 0)));
        assert!(!christmas.matches(utc(11, 25, 12, 0)));

        let exact = condition("==", 3, 2, 9, 30);
        assert!(exact.matches(utc(3, 2, 9, 30)));
        assert!(exact.matches(utc(3, 2, 9, 30) + chrono::Duration::seconds(59)));
        assert!(!exact.matches(utc(3, 2, 9, 31)));
    }

    #[test]
    fn not_equal_is_the_negation_of_equal() {
        let mut weekend = condition("!=", 0, -1, -1, -1);
        weekend.weekdays = vec![0, 6];
        assert!(
            weekend.matches(utc(3, 2, 12, 0)),
            "Monday is not the weekend"
        );
        assert!(!weekend.matches(utc(3, 7, 12, 0)), "Saturday is");

        let mut not_lunch = condition("not_equal", 0, -1, 12, -1);
        not_lunch.weekdays = vec![1, 2, 3, 4, 5];
        assert!(not_lunch.matches(utc(3, 2, 11, 0)));
        assert!(!not_lunch.matches(utc(3, 2, 12, 30)));
        assert!(
            not_lunch.matches(utc(3, 7, 12, 30)),
            "weekday filter not met"
        );
    }

    #[test]
    fn ordering_is_lexicographic_over_the_given_fields() {
        let from_nine = condition(">=", 0, -1, 9, 0);
        assert!(from_nine.matches(utc(3, 2, 9, 0)));
        assert!(from_nine.matches(utc(3, 2, 23, 59)));
        assert!(!from_nine.matches(utc(3, 2, 8, 59)));

        let after_half_past_nine = condition("greater", 0, -1, 9, 30);
        assert!(!after_half_past_nine.matches(utc(3, 2, 9, 30)));
        assert!(after_half_past_nine.matches(utc(3, 2, 9, 31)));
        assert!(
            after_half_past_nine.matches(utc(3, 2, 10, 0)),
            "10:00 > 09:30"
        );

        let before_noon = condition("less", 0, -1, 12, -1);
        assert!(before_noon.matches(utc(3, 2, 11, 59)));
        assert!(!before_noon.matches(utc(3, 2, 12, 0)));

        let until_noon = condition("less_equal", 0, -1, 12, -1);
        assert!(until_noon.matches(utc(3, 2, 12, 59)), "hour 12 <= 12");
        assert!(!until_noon.matches(utc(3, 2, 13, 0)));

        let second_half = condition("greater_equal", 6, 15, -1, -1);
        assert!(second_half.matches(utc(6, 15, 0, 0)));
        assert!(second_half.matches(utc(7, 1, 0, 0)), "month decides first");
        assert!(!second_half.matches(utc(6, 14, 23, 59)));
        assert!(!second_half.matches(utc(1, 20, 0, 0)));

        let minute_only = condition("<", 0, -1, -1, 15);
        assert!(minute_only.matches(utc(3, 2, 17, 14)));
        assert!(!minute_only.matches(utc(3, 2, 17, 15)));
    }

    #[test]
    fn weekdays_filter_ordering_and_accept_seven_for_sunday() {
        let mut sunday_mornings = condition("<", 0, -1, 12, -1);
        sunday_mornings.weekdays = vec![7];
        assert!(sunday_mornings.matches(utc(3, 8, 9, 0)));
        assert!(!sunday_mornings.matches(utc(3, 8, 13, 0)));
        assert!(!sunday_mornings.matches(utc(3, 9, 9, 0)));
        sunday_mornings.weekdays = vec![0];
        assert!(sunday_mornings.matches(utc(3, 8, 9, 0)));
    }

    #[test]
    fn all_wildcards() {
        let at = utc(3, 2, 12, 0);
        let verdicts: Vec<bool> = Comparison::ALL
            .iter()
            .map(|&comparison| {
                let mut all_any = condition("==", 0, -1, -1, -1);
                all_any.comparison = comparison;
                all_any.matches(at)
            })
            .collect();
        // Eq, Ne, Gt, Ge, Lt, Le: an empty tuple equals itself.
        assert_eq!(verdicts, [true, false, false, true, false, true]);

        let odd_wildcards = condition("==", -7, 0, -3, -99);
        assert!(odd_wildcards.matches(at));
    }

    #[test]
    fn missing_json_fields_are_wildcards() {
        let parsed: DatetimeCondition = serde_json::from_str(r#"{"condition":"less"}"#).unwrap();
        assert_eq!(parsed, condition("<", 0, -1, -1, -1));
        assert!(serde_json::from_str::<DatetimeCondition>(r#"{"hour": 9}"#).is_err());
        assert!(
            serde_json::from_str::<DatetimeCondition>(r#"{"condition":"~","hour":9}"#).is_err()
        );
    }

    #[test]
    fn out_of_range_values_never_panic_and_are_reported() {
        let impossible = condition("==", 13, 32, 24, 60);
        assert!(!impossible.matches(utc(12, 31, 23, 59)));
        assert!(condition("<", 0, -1, 24, -1).matches(utc(12, 31, 23, 59)));
        assert_eq!(
            impossible.validate().map_err(|error| error.to_string()),
            Err("minute: expected -1 (any) or 0..=59, got 60".to_owned())
        );
        assert_eq!(
            condition("==", 0, -1, 24, -1)
                .validate()
                .map_err(|e| e.to_string()),
            Err("hour: expected -1 (any) or 0..=23, got 24".to_owned())
        );
        assert_eq!(
            condition("==", 0, 32, -1, -1)
                .validate()
                .map_err(|e| e.field),
            Err("day".to_owned())
        );
        assert_eq!(
            condition("==", 13, -1, -1, -1)
                .validate()
                .map_err(|e| e.field),
            Err("month".to_owned())
        );
        let mut bad_weekday = condition("==", 0, -1, -1, -1);
        bad_weekday.weekdays = vec![1, 8];
        assert_eq!(
            bad_weekday.validate().map_err(|e| e.to_string()),
            Err(
                "weekdays[1]: expected 0 (Sunday) ..= 6 (Saturday), or 7 for Sunday, got 8"
                    .to_owned()
            )
        );
        assert_eq!(condition(">=", 0, -1, 9, 0).validate(), Ok(()));
        assert_eq!(condition("==", 12, 31, 23, 59).validate(), Ok(()));
    }
}
