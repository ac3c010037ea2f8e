//! Business-hours schedules (the `timeCondition` node) and VoIPBIN's `condition_datetime`.
//!
//! Everything here is pure: the instant to judge is always an argument, nothing reads a clock.
//!
//! # Schedules
//!
//! A `[[schedule]]` config entry ([`ScheduleConfig`]) names an IANA `timezone`, weekly opening
//! `hours` and `holidays`, all in local time of that zone:
//!
//! ```toml
//! [[schedule]]
//! id = "sch_support"
//! timezone = "Europe/London"
//! hours = [
//!   { days = "mon-fri", open = "09:00", close = "17:30" },
//!   { days = ["sun"], open = "00:00", close = "24:00" },
//!   { days = "fri", open = "22:00", close = "06:00" },   # Friday night into Saturday
//! ]
//! holidays = ["2026-12-25", "2026-12-31..2027-01-01"]
//! ```
//!
//! [`Schedule::from_config`] validates it; every error starts with the field it is about
//! (`hours[1].open: expected HH:MM, got "9am"`). [`Schedules`] validates a whole list, checks
//! ids are unique and prefixes errors with `schedule[i].`.
//!
//! * `days`: a string of comma separated day names and ranges (`"mon-fri"`, `"mon,wed"`,
//!   `"fri-mon"` wraps over the weekend) or a list of such strings (`["sat", "sun"]`).
//!   Names are `mon`..`sun` or `monday`..`sunday`, any case.
//! * `open` / `close`: `HH:MM` (or `H:MM`); `close` may be `24:00`. Ranges are half-open:
//!   09:00–17:30 is open at 17:29:59 and closed at 17:30. A `close` earlier than `open` makes
//!   a night shift that closes the next day (the day after Sunday is Monday). `open == close`
//!   is rejected as ambiguous; a whole day is `00:00`–`24:00`.
//! * `holidays`: `YYYY-MM-DD` or inclusive `YYYY-MM-DD..YYYY-MM-DD`, local dates. Dates are
//!   absolute, not yearly. Holidays with partial opening hours and recurring (every year)
//!   holidays are out of scope.
//! * An empty `hours` list is allowed: the schedule is never in hours.
//!
//! [`Schedule::evaluate`] converts the UTC instant to local wall-clock time in the zone and
//! returns [`ScheduleOutcome::Holiday`] if the local *date* is a holiday (all day long, even
//! outside opening hours and in the part of a night shift after midnight), else
//! [`ScheduleOutcome::InHours`] if the local time of day and weekday fall in an opening range,
//! else [`ScheduleOutcome::OutOfHours`]. Their edge handles are `in_hours`, `out_of_hours`
//! and `holiday`; a flow without a `holiday` edge can use [`ScheduleOutcome::fallback`]
//! (`out_of_hours`).
//!
//! ## Daylight saving time
//!
//! Evaluation compares wall-clock times, so "09:00" means 09:00 local on both sides of a DST
//! change. Each UTC instant has exactly one local time, so evaluation is never ambiguous:
//!
//! * Skipped hour (spring forward): local times in the gap never occur. A range that starts
//!   inside the gap is open from the first local time after it (02:30–04:00 in New York on
//!   2026-03-08 opens at 03:00 EDT); a range entirely inside the gap does not open that day.
//! * Repeated hour (fall back): both passes are judged by the same wall-clock reading, so a
//!   range covering 01:15 is open during both 01:15 BST and 01:15 GMT, and a range closing at
//!   01:30 is open again for the second 01:00–01:30.
//! * Night shifts across a change are one hour shorter or longer in real time.
//!
//! Instants so close to the limits of `chrono`'s range that their local time cannot be
//! represented are `OutOfHours`. `croner` is not used: weekly ranges and dates need no cron
//! expressions, and chrono-tz alone gives the local time.
//!
//! # `condition_datetime` (VoIPBIN action-array flows)
//!
//! [`DatetimeCondition`] holds the action's `option`: `condition` (a [`Comparison`], symbol
//! `==` `!=` `>` `>=` `<` `<=` or word `equal` `not_equal` `greater` `greater_equal` `less`
//! `less_equal`), `minute`, `hour`, `day`, `month` and `weekdays`. As in VoIPBIN it is
//! evaluated in **UTC** (business hours in another zone must be shifted by hand, and do not
//! follow DST; use a [`Schedule`] for that).
//!
//! * Wildcards: minute -1, hour -1, day -1, month 0, empty `weekdays` (any value below a
//!   field's range counts as its wildcard; a field missing from JSON is a wildcard).
//! * Weekdays: 0 = Sunday .. 6 = Saturday, so the seed's `[1, 2, 3, 4, 5]` is Monday–Friday;
//!   7 is also accepted as Sunday.
//! * `==`: the current weekday is in `weekdays` (if given) and every non-wildcard field equals
//!   the current UTC value. `!=` is exactly the negation of `==`.
//! * `>`, `>=`, `<`, `<=`: the current weekday is in `weekdays` (if given) *and* the current
//!   (month, day, hour, minute), restricted to the non-wildcard fields, compares
//!   lexicographically with the given values as the operator says. So `>=` hour 9 minute 0
//!   is "at or after 09:00 UTC", `<` hour 17 minute 0 is "before 17:00 UTC", and the seed's
//!   pair of conditions with weekdays 1–5 is "Mon–Fri 09:00–17:00 UTC".
//! * Seconds are ignored. With every field a wildcard, the empty tuple equals itself:
//!   `==`, `>=` and `<=` hold (subject to weekdays), `>` and `<` never do.
//! * Values above a field's range never panic (`==` hour 24 never matches, `<` hour 24
//!   always does); the action reader rejects them when a flow loads.

mod comparison;
mod compiled;
mod config;
mod datetime_condition;
mod days;
mod error;
mod holidays;
mod outcome;
#[cfg(test)]
mod proptests;
mod set;
mod time_of_day;
mod weekly;

pub use comparison::{Comparison, UnknownComparison};
pub use compiled::Schedule;
pub use config::{DaysConfig, HoursConfig, ScheduleConfig};
pub(super) use datetime_condition::DatetimeCondition;
pub use error::ScheduleError;
pub use outcome::ScheduleOutcome;
pub use set::Schedules;
