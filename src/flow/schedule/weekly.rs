//! Weekly opening hours: the `hours` ranges compiled into spans of "minute of the week".
//!
//! Minute 0 of the week is Monday 00:00 local time. A range opens on each of its days at
//! `open` and closes at `close` the same day, or the next day when `close` is earlier than
//! `open` (a night shift). A night shift that opens on Sunday closes on Monday morning.

use chrono::{Datelike, NaiveDateTime, Timelike};

use super::config::HoursConfig;
use super::days::DaySet;
use super::error::ScheduleError;
use super::time_of_day::{parse_time_of_day, MINUTES_PER_DAY};

const MINUTES_PER_WEEK: u32 = 7 * MINUTES_PER_DAY;

/// Half-open span `[start, end)` of minutes of the week, `start < end <= MINUTES_PER_WEEK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct WeekSpan {
    start: u32,
    end: u32,
}

/// All opening ranges of a schedule, as sorted, non-overlapping week spans.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct WeeklyHours {
    spans: Vec<WeekSpan>,
}

impl WeeklyHours {
    /// Validates and compiles the `hours` list; errors name the field (`hours[1].open`).
    pub(super) fn from_config(hours: &[HoursConfig]) -> Result<WeeklyHours, ScheduleError> {
        let mut weekly = WeeklyHours::default();
        for (index, range) in hours.iter().enumerate() {
            let field = format!("hours[{index}]");
            let days = DaySet::parse(&range.days, &format!("{field}.days"))?;
            let open = parse_open(&range.open, &format!("{field}.open"))?;
            let close = parse_time(&range.close, &format!("{field}.close"))?;
            if open == close {
                return Err(ScheduleError::EmptyRange {
                    field: format!("{field}.close"),
                });
            }
            for day in days.iter() {
                weekly.add_range(day.num_days_from_monday() * MINUTES_PER_DAY, open, close);
            }
        }
        weekly.normalize();
        Ok(weekly)
    }

    /// Whether the local wall-clock time falls inside an opening range (seconds ignored).
    pub(super) fn is_open_at(&self, local: NaiveDateTime) -> bool {
        let minute = local.weekday().num_days_from_monday() * MINUTES_PER_DAY
            + local.hour() * 60
            + local.minute();
        self.spans
            .iter()
            .any(|span| span.start <= minute && minute < span.end)
    }

    /// Adds `[open, close)` on the day starting at `day_start`; wraps past Sunday night.
    fn add_range(&mut self, day_start: u32, open: u32, close: u32) {
        let start = day_start + open;
        let end = if close > open {
            day_start + close
        } else {
            day_start + MINUTES_PER_DAY + close
        };
        if end <= MINUTES_PER_WEEK {
            self.spans.push(WeekSpan { start, end });
        } else {
            self.spans.push(WeekSpan {
                start,
                end: MINUTES_PER_WEEK,
            });
            self.spans.push(WeekSpan {
                start: 0,
                end: end - MINUTES_PER_WEEK,
            });
        }
    }

    /// Sorts the spans and merges the ones that overlap or touch.
    fn normalize(&mut self) {
        self.spans.retain(|span| span.start < span.end);
        self.spans.sort();
        let mut merged: Vec<WeekSpan> = Vec::with_capacity(self.spans.len());
        for span in self.spans.drain(..) {
            match merged.last_mut() {
                Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
                _ => merged.push(span),
            }
        }
        self.spans = merged;
    }
}

fn parse_time(value: &str, field: &str) -> Result<u32, ScheduleError> {
    parse_time_of_day(value).ok_or_else(|| ScheduleError::BadTime {
        field: field.to_owned(),
        value: value.to_owned(),
    })
}

fn parse_open(value: &str, field: &str) -> Result<u32, ScheduleError> {
    let open = parse_time(value, field)?;
    if open == MINUTES_PER_DAY {
        return Err(ScheduleError::OpenAtEndOfDay {
            field: field.to_owned(),
        });
    }
    Ok(open)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::schedule::config::DaysConfig;
    use chrono::NaiveDate;

    fn range(days: &str, open: &str, close: &str) -> HoursConfig {
        HoursConfig {
            days: DaysConfig::Text(days.to_owned()),
            open: open.to_owned(),
            close: close.to_owned(),
        }
    }

    /// 2026-03-02 is a Monday.
    fn local(day_of_march: u32, hour: u32, minute: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, day_of_march)
            .and_then(|date| date.and_hms_opt(hour, minute, 0))
            .unwrap_or_default()
    }

    #[test]
    fn day_range_is_half_open() {
        let weekly = WeeklyHours::from_config(&[range("mon-fri", "09:00", "17:30")]).unwrap();
        assert!(!weekly.is_open_at(local(2, 8, 59)));
        assert!(weekly.is_open_at(local(2, 9, 0)));
        assert!(weekly.is_open_at(local(6, 17, 29)));
        assert!(!weekly.is_open_at(local(6, 17, 30)));
        assert!(!weekly.is_open_at(local(7, 12, 0)));
    }

    #[test]
    fn night_shift_closes_the_next_morning() {
        let weekly = WeeklyHours::from_config(&[range("fri", "22:00", "06:00")]).unwrap();
        assert!(!weekly.is_open_at(local(6, 21, 59)));
        assert!(weekly.is_open_at(local(6, 22, 0)));
        assert!(weekly.is_open_at(local(7, 3, 0)));
        assert!(weekly.is_open_at(local(7, 5, 59)));
        assert!(!weekly.is_open_at(local(7, 6, 0)));
        assert!(
            !weekly.is_open_at(local(5, 3, 0)),
            "Friday morning is not covered"
        );
    }

    #[test]
    fn sunday_night_shift_wraps_into_monday() {
        let weekly = WeeklyHours::from_config(&[range("sun", "22:00", "06:00")]).unwrap();
        assert!(weekly.is_open_at(local(8, 23, 0)));
        assert!(weekly.is_open_at(local(9, 5, 0)));
        assert!(!weekly.is_open_at(local(9, 6, 0)));
        assert!(!weekly.is_open_at(local(8, 5, 0)));
    }

    #[test]
    fn whole_days_and_touching_ranges_merge() {
        let weekly = WeeklyHours::from_config(&[
            range("sun", "00:00", "24:00"),
            range("mon", "00:00", "12:00"),
            range("mon", "11:00", "13:00"),
        ])
        .unwrap();
        assert_eq!(
            weekly.spans,
            vec![
                WeekSpan { start: 0, end: 780 },
                WeekSpan {
                    start: 6 * MINUTES_PER_DAY,
                    end: MINUTES_PER_WEEK
                }
            ]
        );
        assert!(weekly.is_open_at(local(8, 23, 59)));
        assert!(weekly.is_open_at(local(8, 0, 0)));
    }

    #[test]
    fn no_hours_is_never_open() {
        let weekly = WeeklyHours::from_config(&[]).unwrap();
        assert!(!weekly.is_open_at(local(2, 12, 0)));
    }

    #[test]
    fn bad_times_name_their_field() {
        let error = |hours: &[HoursConfig]| {
            WeeklyHours::from_config(hours)
                .map(|_| ())
                .map_err(|error| error.to_string())
        };
        let ok = range("mon", "09:00", "17:00");
        assert_eq!(
            error(&[ok.clone(), range("mon", "9am", "17:00")]),
            Err("hours[1].open: expected HH:MM, got \"9am\"".to_owned())
        );
        assert_eq!(
            error(&[range("mon", "09:00", "25:00")]),
            Err("hours[0].close: expected HH:MM, got \"25:00\"".to_owned())
        );
        assert_eq!(
            error(&[range("mon", "24:00", "06:00")]),
            Err("hours[0].open: 24:00 is only allowed as a close time".to_owned())
        );
        assert_eq!(
            error(&[ok, range("mon", "09:00", "9:00")]),
            Err("hours[1].close: close must differ from open (a whole day is open = \"00:00\", close = \"24:00\")".to_owned())
        );
        assert_eq!(
            error(&[range("", "09:00", "17:00")]),
            Err("hours[0].days: no days given".to_owned())
        );
    }
}
