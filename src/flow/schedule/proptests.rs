//! Property tests: evaluation is total over every representable instant and input.

use chrono::{DateTime, Datelike, Utc};
use proptest::prelude::*;

use super::*;

const TIMEZONES: [&str; 6] = [
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Etc/GMT-14",
    "Etc/GMT+12",
];

fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
    let min = DateTime::<Utc>::MIN_UTC.timestamp();
    let max = DateTime::<Utc>::MAX_UTC.timestamp();
    (min..=max, 0u32..2_000_000_000).prop_map(|(seconds, nanos)| {
        DateTime::from_timestamp(seconds, nanos).unwrap_or(DateTime::<Utc>::MIN_UTC)
    })
}

/// Instants between 1900 and 2200, where holidays and hours can be checked exactly.
fn modern_instant() -> impl Strategy<Value = DateTime<Utc>> {
    (-2_208_988_800i64..7_258_118_400).prop_map(|seconds| {
        DateTime::from_timestamp(seconds, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    })
}

fn hours(days: &str, open: &str, close: &str) -> HoursConfig {
    HoursConfig {
        days: DaysConfig::Text(days.to_owned()),
        open: open.to_owned(),
        close: close.to_owned(),
    }
}

fn schedule(timezone: &str, ranges: Vec<HoursConfig>, holidays: Vec<String>) -> Schedule {
    let config = ScheduleConfig {
        id: "sch_prop".to_owned(),
        timezone: timezone.to_owned(),
        hours: ranges,
        holidays,
    };
    match Schedule::from_config(&config) {
        Ok(schedule) => schedule,
        Err(error) => panic!("test schedule rejected: {error}"),
    }
}

proptest! {
    #[test]
    fn evaluate_is_total(at in any_instant(), zone in 0..TIMEZONES.len()) {
        let timezone = TIMEZONES.get(zone).copied().unwrap_or("UTC");
        let support = schedule(
            timezone,
            vec![
                hours("mon-fri", "09:00", "17:30"),
                hours("sun", "22:00", "06:00"),
                hours("sat", "00:00", "24:00"),
            ],
            vec!["2026-12-25".into(), "2026-12-31..2027-01-01".into()],
        );
        prop_assert!(ScheduleOutcome::ALL.contains(&support.evaluate(at)));
    }

    #[test]
    fn always_open_is_in_hours_except_on_holidays(at in modern_instant(), zone in 0..TIMEZONES.len()) {
        let timezone = TIMEZONES.get(zone).copied().unwrap_or("UTC");
        let always = schedule(
            timezone,
            vec![hours("mon-sun", "00:00", "24:00")],
            vec!["2000-01-01..2000-12-31".into()],
        );
        let local = always.local_time(at);
        prop_assert!(local.is_some());
        let year_2000 = local.map(|local| local.year() == 2000).unwrap_or(false);
        let expected = if year_2000 { ScheduleOutcome::Holiday } else { ScheduleOutcome::InHours };
        prop_assert_eq!(always.evaluate(at), expected);
    }

    #[test]
    fn from_config_never_panics(
        id in ".{0,8}",
        timezone in prop_oneof![Just("Europe/London".to_owned()), ".{0,20}"],
        days in prop_oneof![Just("mon-fri".to_owned()), "[a-z ,-]{0,12}", ".{0,12}"],
        open in prop_oneof![Just("09:00".to_owned()), "[0-9:]{0,6}", ".{0,6}"],
        close in prop_oneof![Just("17:00".to_owned()), "[0-9:]{0,6}", ".{0,6}"],
        holiday in prop_oneof![Just("2026-12-25".to_owned()), "[0-9.-]{0,24}", ".{0,24}"],
        at in any_instant(),
    ) {
        let config = ScheduleConfig {
            id,
            timezone,
            hours: vec![HoursConfig { days: DaysConfig::List(vec![days]), open, close }],
            holidays: vec![holiday],
        };
        if let Ok(schedule) = Schedule::from_config(&config) {
            prop_assert!(ScheduleOutcome::ALL.contains(&schedule.evaluate(at)));
        }
    }

    #[test]
    fn datetime_condition_is_total_and_consistent(
        at in any_instant(),
        minute in any::<i32>(),
        hour in -2i32..26,
        day in prop_oneof![any::<i32>(), -1i32..33],
        month in -1i32..14,
        weekdays in proptest::collection::vec(0u32..9, 0..4),
    ) {
        let verdict = |comparison| DatetimeCondition {
            comparison,
            minute,
            hour,
            day,
            month,
            weekdays: weekdays.clone(),
        }
        .matches(at);
        let [eq, ne, gt, ge, lt, le] = Comparison::ALL.map(verdict);
        prop_assert_eq!(ne, !eq);
        prop_assert_eq!(ge, gt || eq);
        prop_assert_eq!(le, lt || eq);
        prop_assert!([lt, eq, gt].into_iter().filter(|&holds| holds).count() <= 1);
    }
}
