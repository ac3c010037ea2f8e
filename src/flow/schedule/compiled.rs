//! A validated schedule: timezone, weekly opening hours and holidays, evaluated at an instant.

use chrono::{DateTime, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use super::config::ScheduleConfig;
use super::error::ScheduleError;
use super::holidays::Holidays;
use super::outcome::ScheduleOutcome;
use super::weekly::WeeklyHours;

/// A schedule compiled from a [`ScheduleConfig`]; cheap to evaluate, never fails.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    id: String,
    timezone: Tz,
    weekly: WeeklyHours,
    holidays: Holidays,
}

impl Schedule {
    /// Validates a config entry. Errors start with the offending field, e.g.
    /// `hours[1].open: expected HH:MM, got "9am"`.
    pub fn from_config(config: &ScheduleConfig) -> Result<Schedule, ScheduleError> {
        if config.id.trim().is_empty() {
            return Err(ScheduleError::EmptyId);
        }
        let timezone: Tz = config
            .timezone
            .parse()
            .map_err(|_| ScheduleError::UnknownTimezone(config.timezone.clone()))?;
        let weekly = WeeklyHours::from_config(&config.hours)?;
        let holidays = Holidays::parse(&config.holidays)?;
        Ok(Schedule {
            id: config.id.clone(),
            timezone,
            weekly,
            holidays,
        })
    }

    /// The id node graphs refer to.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The timezone opening hours and holidays are expressed in.
    pub fn timezone(&self) -> Tz {
        self.timezone
    }

    /// Classifies an instant: converts it to local wall-clock time in the schedule's
    /// timezone, then applies [`evaluate_local`](Self::evaluate_local).
    ///
    /// Instants whose local time is not representable (within a day of the limits of
    /// `chrono`'s range) are `OutOfHours`.
    pub fn evaluate(&self, at: DateTime<Utc>) -> ScheduleOutcome {
        match self.local_time(at) {
            Some(local) => self.evaluate_local(local),
            None => ScheduleOutcome::OutOfHours,
        }
    }

    /// Classifies a local wall-clock time: `Holiday` if its date is a holiday, else
    /// `InHours` if it is inside an opening range (seconds ignored), else `OutOfHours`.
    pub fn evaluate_local(&self, local: NaiveDateTime) -> ScheduleOutcome {
        if self.holidays.contains(local.date()) {
            ScheduleOutcome::Holiday
        } else if self.weekly.is_open_at(local) {
            ScheduleOutcome::InHours
        } else {
            ScheduleOutcome::OutOfHours
        }
    }

    /// The wall-clock time in the schedule's timezone at `at`; `None` only at the edges
    /// of the representable range.
    pub fn local_time(&self, at: DateTime<Utc>) -> Option<NaiveDateTime> {
        let utc = at.naive_utc();
        let offset = self.timezone.offset_from_utc_datetime(&utc).fix();
        utc.checked_add_offset(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::schedule::config::{DaysConfig, HoursConfig};
    use chrono::NaiveDate;
    use ScheduleOutcome::*;

    fn hours(days: &str, open: &str, close: &str) -> HoursConfig {
        HoursConfig {
            days: DaysConfig::Text(days.to_owned()),
            open: open.to_owned(),
            close: close.to_owned(),
        }
    }

    fn schedule(timezone: &str, ranges: Vec<HoursConfig>, holidays: &[&str]) -> Schedule {
        let config = ScheduleConfig {
            id: "sch_test".to_owned(),
            timezone: timezone.to_owned(),
            hours: ranges,
            holidays: holidays.iter().map(|&h| h.to_owned()).collect(),
        };
        match Schedule::from_config(&config) {
            Ok(schedule) => schedule,
            Err(error) => panic!("test schedule rejected: {error}"),
        }
    }

    fn office(timezone: &str) -> Schedule {
        schedule(timezone, vec![hours("mon-fri", "09:00", "17:30")], &[])
    }

    /// A UTC instant written by hand: `utc(2026, 3, 30, 8, 0)`.
    fn utc(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(year, month, day)
            .and_then(|date| date.and_hms_opt(hour, minute, 0))
            .map(|naive| naive.and_utc())
            .unwrap_or_default()
    }

    #[test]
    fn id_and_timezone_are_kept() {
        let schedule = office("Europe/London");
        assert_eq!(schedule.id(), "sch_test");
        assert_eq!(schedule.timezone(), chrono_tz::Europe::London);
    }

    #[test]
    fn london_spring_forward() {
        // Clocks go from 01:00 GMT to 02:00 BST on Sunday 2026-03-29.
        let london = office("Europe/London");
        assert_eq!(
            london.evaluate(utc(2026, 3, 27, 9, 0)),
            InHours,
            "Fri 09:00 GMT"
        );
        assert_eq!(london.evaluate(utc(2026, 3, 27, 8, 59)), OutOfHours);
        assert_eq!(
            london.evaluate(utc(2026, 3, 30, 8, 0)),
            InHours,
            "Mon 09:00 BST"
        );
        assert_eq!(london.evaluate(utc(2026, 3, 30, 7, 59)), OutOfHours);
        assert_eq!(london.evaluate(utc(2026, 3, 30, 16, 29)), InHours);
        assert_eq!(
            london.evaluate(utc(2026, 3, 30, 16, 30)),
            OutOfHours,
            "17:30 BST"
        );
    }

    #[test]
    fn london_fall_back() {
        // Clocks go from 02:00 BST back to 01:00 GMT on Sunday 2026-10-25.
        let london = office("Europe/London");
        assert_eq!(
            london.evaluate(utc(2026, 10, 23, 8, 0)),
            InHours,
            "Fri 09:00 BST"
        );
        assert_eq!(
            london.evaluate(utc(2026, 10, 26, 9, 0)),
            InHours,
            "Mon 09:00 GMT"
        );
        assert_eq!(london.evaluate(utc(2026, 10, 26, 8, 30)), OutOfHours);
        assert_eq!(london.evaluate(utc(2026, 10, 26, 17, 29)), InHours);
        assert_eq!(london.evaluate(utc(2026, 10, 26, 17, 30)), OutOfHours);
    }

    #[test]
    fn new_york_spring_forward() {
        // Clocks go from 02:00 EST to 03:00 EDT on Sunday 2026-03-08.
        let new_york = office("America/New_York");
        assert_eq!(
            new_york.evaluate(utc(2026, 3, 6, 14, 0)),
            InHours,
            "Fri 09:00 EST"
        );
        assert_eq!(new_york.evaluate(utc(2026, 3, 6, 13, 30)), OutOfHours);
        assert_eq!(
            new_york.evaluate(utc(2026, 3, 9, 13, 0)),
            InHours,
            "Mon 09:00 EDT"
        );
        assert_eq!(new_york.evaluate(utc(2026, 3, 9, 12, 59)), OutOfHours);
        assert_eq!(
            new_york.evaluate(utc(2026, 3, 9, 21, 30)),
            OutOfHours,
            "17:30 EDT"
        );
    }

    #[test]
    fn new_york_fall_back() {
        // Clocks go from 02:00 EDT back to 01:00 EST on Sunday 2026-11-01.
        let new_york = office("America/New_York");
        assert_eq!(
            new_york.evaluate(utc(2026, 10, 30, 13, 0)),
            InHours,
            "Fri 09:00 EDT"
        );
        assert_eq!(
            new_york.evaluate(utc(2026, 11, 2, 14, 0)),
            InHours,
            "Mon 09:00 EST"
        );
        assert_eq!(new_york.evaluate(utc(2026, 11, 2, 13, 30)), OutOfHours);
        assert_eq!(new_york.evaluate(utc(2026, 11, 2, 22, 29)), InHours);
        assert_eq!(new_york.evaluate(utc(2026, 11, 2, 22, 30)), OutOfHours);
    }

    #[test]
    fn skipped_hour_ranges_open_at_the_first_wall_clock_time_that_exists() {
        // New York has no 02:00..03:00 on 2026-03-08.
        let inside_gap = schedule(
            "America/New_York",
            vec![hours("sun", "02:00", "03:00")],
            &[],
        );
        assert_eq!(
            inside_gap.evaluate(utc(2026, 3, 8, 6, 59)),
            OutOfHours,
            "01:59 EST"
        );
        assert_eq!(
            inside_gap.evaluate(utc(2026, 3, 8, 7, 0)),
            OutOfHours,
            "03:00 EDT"
        );
        assert_eq!(
            inside_gap.evaluate(utc(2026, 3, 15, 6, 30)),
            InHours,
            "next Sun 02:30"
        );

        let across_gap = schedule(
            "America/New_York",
            vec![hours("sun", "02:30", "04:00")],
            &[],
        );
        assert_eq!(
            across_gap.evaluate(utc(2026, 3, 8, 6, 59)),
            OutOfHours,
            "01:59 EST"
        );
        assert_eq!(
            across_gap.evaluate(utc(2026, 3, 8, 7, 0)),
            InHours,
            "03:00 EDT"
        );
        assert_eq!(
            across_gap.evaluate(utc(2026, 3, 8, 7, 59)),
            InHours,
            "03:59 EDT"
        );
        assert_eq!(
            across_gap.evaluate(utc(2026, 3, 8, 8, 0)),
            OutOfHours,
            "04:00 EDT"
        );
    }

    #[test]
    fn repeated_hour_is_judged_by_the_wall_clock_both_times() {
        // London shows 01:00..02:00 twice on 2026-10-25: first BST (00:xx UTC), then GMT.
        let early = schedule("Europe/London", vec![hours("sun", "01:00", "01:30")], &[]);
        assert_eq!(
            early.evaluate(utc(2026, 10, 25, 0, 15)),
            InHours,
            "01:15 BST"
        );
        assert_eq!(
            early.evaluate(utc(2026, 10, 25, 0, 45)),
            OutOfHours,
            "01:45 BST"
        );
        assert_eq!(
            early.evaluate(utc(2026, 10, 25, 1, 15)),
            InHours,
            "01:15 GMT"
        );
        assert_eq!(
            early.evaluate(utc(2026, 10, 25, 1, 45)),
            OutOfHours,
            "01:45 GMT"
        );
        assert_eq!(
            early.evaluate(utc(2026, 10, 24, 23, 59)),
            OutOfHours,
            "00:59 BST"
        );
    }

    #[test]
    fn night_shift_across_a_dst_change_follows_the_wall_clock() {
        // Sat 22:00 - Sun 06:00 in London; the night of 2026-03-28 is one hour shorter.
        let night = schedule("Europe/London", vec![hours("sat", "22:00", "06:00")], &[]);
        assert_eq!(
            night.evaluate(utc(2026, 3, 28, 22, 0)),
            InHours,
            "Sat 22:00 GMT"
        );
        assert_eq!(
            night.evaluate(utc(2026, 3, 29, 3, 0)),
            InHours,
            "Sun 04:00 BST"
        );
        assert_eq!(
            night.evaluate(utc(2026, 3, 29, 4, 59)),
            InHours,
            "Sun 05:59 BST"
        );
        assert_eq!(
            night.evaluate(utc(2026, 3, 29, 5, 0)),
            OutOfHours,
            "Sun 06:00 BST"
        );
    }

    #[test]
    fn overnight_range_covers_the_next_morning() {
        let night = schedule("UTC", vec![hours("fri", "22:00", "06:00")], &[]);
        // 2026-03-06 is a Friday.
        assert_eq!(night.evaluate(utc(2026, 3, 7, 3, 0)), InHours, "Sat 03:00");
        assert_eq!(night.evaluate(utc(2026, 3, 6, 23, 0)), InHours, "Fri 23:00");
        assert_eq!(
            night.evaluate(utc(2026, 3, 7, 6, 0)),
            OutOfHours,
            "Sat 06:00"
        );
        assert_eq!(
            night.evaluate(utc(2026, 3, 6, 3, 0)),
            OutOfHours,
            "Fri 03:00"
        );
    }

    #[test]
    fn holidays_beat_opening_hours_on_the_local_date() {
        let support = schedule(
            "Europe/London",
            vec![
                hours("mon-fri", "09:00", "17:30"),
                hours("sat", "10:00", "14:00"),
                hours("sun", "00:00", "24:00"),
            ],
            &["2026-12-25", "2026-12-31..2027-01-01"],
        );
        assert_eq!(support.evaluate(utc(2026, 12, 24, 10, 0)), InHours);
        assert_eq!(
            support.evaluate(utc(2026, 12, 25, 10, 0)),
            Holiday,
            "Fri in hours"
        );
        assert_eq!(
            support.evaluate(utc(2026, 12, 25, 3, 0)),
            Holiday,
            "Fri out of hours"
        );
        assert_eq!(
            support.evaluate(utc(2026, 12, 27, 3, 0)),
            InHours,
            "Sunday all day"
        );
        assert_eq!(support.evaluate(utc(2026, 12, 30, 10, 0)), InHours);
        assert_eq!(support.evaluate(utc(2026, 12, 31, 10, 0)), Holiday);
        assert_eq!(support.evaluate(utc(2027, 1, 1, 23, 59)), Holiday);
        assert_eq!(
            support.evaluate(utc(2027, 1, 2, 10, 0)),
            InHours,
            "Saturday"
        );
        assert_eq!(
            support.evaluate(utc(2027, 1, 2, 14, 0)),
            OutOfHours,
            "Saturday"
        );
        assert_eq!(support.evaluate(utc(2027, 1, 4, 9, 0)), InHours, "Monday");
    }

    #[test]
    fn holiday_dates_are_local_not_utc() {
        let new_york = schedule(
            "America/New_York",
            vec![hours("mon-sun", "00:00", "24:00")],
            &["2026-12-25"],
        );
        assert_eq!(
            new_york.evaluate(utc(2026, 12, 25, 4, 59)),
            InHours,
            "24th 23:59"
        );
        assert_eq!(
            new_york.evaluate(utc(2026, 12, 25, 5, 0)),
            Holiday,
            "25th 00:00"
        );
        assert_eq!(
            new_york.evaluate(utc(2026, 12, 26, 4, 59)),
            Holiday,
            "25th 23:59"
        );
        assert_eq!(
            new_york.evaluate(utc(2026, 12, 26, 5, 0)),
            InHours,
            "26th 00:00"
        );
    }

    #[test]
    fn night_shift_into_a_holiday_is_a_holiday_after_midnight() {
        let night = schedule("UTC", vec![hours("thu", "22:00", "06:00")], &["2026-12-25"]);
        assert_eq!(
            night.evaluate(utc(2026, 12, 24, 23, 0)),
            InHours,
            "Thu 23:00"
        );
        assert_eq!(
            night.evaluate(utc(2026, 12, 25, 1, 0)),
            Holiday,
            "Fri 01:00"
        );
    }

    #[test]
    fn seconds_do_not_matter() {
        let london = office("Europe/London");
        let just_before_close = utc(2026, 1, 5, 17, 29) + chrono::Duration::seconds(59);
        assert_eq!(london.evaluate(just_before_close), InHours);
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        for timezone in ["Etc/GMT-14", "Etc/GMT+12", "Europe/London", "UTC"] {
            let always = schedule(timezone, vec![hours("mon-sun", "00:00", "24:00")], &[]);
            for at in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
                let outcome = always.evaluate(at);
                assert!(ScheduleOutcome::ALL.contains(&outcome));
            }
        }
        let ahead = schedule("Etc/GMT-14", vec![hours("mon-sun", "00:00", "24:00")], &[]);
        assert_eq!(ahead.local_time(DateTime::<Utc>::MAX_UTC), None);
        assert_eq!(ahead.evaluate(DateTime::<Utc>::MAX_UTC), OutOfHours);
    }

    #[test]
    fn config_errors_name_their_field() {
        let base = ScheduleConfig {
            id: "sch_support".to_owned(),
            timezone: "Europe/London".to_owned(),
            hours: vec![
                hours("mon-fri", "09:00", "17:30"),
                hours("sat", "10:00", "14:00"),
            ],
            holidays: vec!["2026-12-25".to_owned()],
        };
        let message = |edit: &dyn Fn(&mut ScheduleConfig)| {
            let mut config = base.clone();
            edit(&mut config);
            Schedule::from_config(&config)
                .map(|_| ())
                .map_err(|error| error.to_string())
        };
        assert_eq!(message(&|_| {}), Ok(()));
        assert_eq!(
            message(&|c| c.hours[1].open = "9am".into()),
            Err(r#"hours[1].open: expected HH:MM, got "9am""#.into())
        );
        assert_eq!(
            message(&|c| c.hours[0].close = "17.30".into()),
            Err(r#"hours[0].close: expected HH:MM, got "17.30""#.into())
        );
        assert_eq!(
            message(&|c| c.timezone = "Europe/Londn".into()),
            Err(r#"timezone: unknown IANA timezone "Europe/Londn""#.into())
        );
        assert_eq!(
            message(&|c| c.timezone = "europe/london".into()),
            Err(r#"timezone: unknown IANA timezone "europe/london""#.into())
        );
        assert_eq!(
            message(&|c| c.holidays = vec!["2026-12-25".into(), "xmas".into()]),
            Err(r#"holidays[1]: expected YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD, got "xmas""#.into())
        );
        assert_eq!(
            message(&|c| c.hours[1].days = DaysConfig::Text("sat-sunday,hol".into())),
            Err(
                r#"hours[1].days: unknown day "hol", expected mon, tue, wed, thu, fri, sat or sun"#
                    .into()
            )
        );
        assert_eq!(
            message(&|c| c.id = " ".into()),
            Err("id: must not be empty".into())
        );
    }

    #[test]
    fn deserializes_from_the_documented_shape() {
        let json = r#"{
            "id": "sch_support",
            "timezone": "Europe/London",
            "hours": [
                { "days": "mon-fri", "open": "09:00", "close": "17:30" },
                { "days": "sat", "open": "10:00", "close": "14:00" },
                { "days": ["sun"], "open": "00:00", "close": "24:00" }
            ],
            "holidays": ["2026-12-25", "2026-12-31..2027-01-01"]
        }"#;
        let config: ScheduleConfig = serde_json::from_str(json).unwrap();
        assert_eq!(config.hours[2].days, DaysConfig::List(vec!["sun".into()]));
        let schedule = Schedule::from_config(&config).unwrap();
        assert_eq!(
            schedule.evaluate(utc(2026, 3, 29, 12, 0)),
            InHours,
            "Sunday"
        );

        let without_holidays = r#"{"id":"a","timezone":"UTC","hours":[]}"#;
        let config: ScheduleConfig = serde_json::from_str(without_holidays).unwrap();
        assert!(config.holidays.is_empty());

        let typo = r#"{"id":"a","timezone":"UTC","hours":[],"holiday":[]}"#;
        assert!(serde_json::from_str::<ScheduleConfig>(typo).is_err());
    }
}
