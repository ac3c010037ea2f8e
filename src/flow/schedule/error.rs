//! The error a schedule config is rejected with; every message starts with the field it is about.

use chrono::NaiveDate;
use thiserror::Error;

/// Why a [`ScheduleConfig`](crate::flow::schedule::ScheduleConfig) was rejected.
///
/// The `Display` form always starts with the path of the offending field, e.g.
/// `hours[1].open: expected HH:MM, got "9am"`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScheduleError {
    /// `id` is empty or only whitespace.
    #[error("id: must not be empty")]
    EmptyId,
    /// `timezone` is not an IANA timezone name known to the tz database.
    #[error("timezone: unknown IANA timezone {0:?}")]
    UnknownTimezone(String),
    /// An `open` / `close` value is not a `HH:MM` time of day.
    #[error("{field}: expected HH:MM, got {value:?}")]
    BadTime {
        /// The path of the offending field, e.g. `hours[1].open`.
        field: String,
        /// The value as written.
        value: String,
    },
    /// `open = "24:00"`: the end of the day can only close a range.
    #[error("{field}: 24:00 is only allowed as a close time")]
    OpenAtEndOfDay {
        /// The path of the offending field, e.g. `hours[1].open`.
        field: String,
    },
    /// `open` and `close` are the same time, which would be either nothing or a whole day.
    #[error(
        "{field}: close must differ from open (a whole day is open = \"00:00\", close = \"24:00\")"
    )]
    EmptyRange {
        /// The path of the offending field, e.g. `hours[1].open`.
        field: String,
    },
    /// A `days` entry that is not a day name or a `mon-fri` style range.
    #[error("{field}: unknown day {value:?}, expected mon, tue, wed, thu, fri, sat or sun")]
    UnknownDay {
        /// The path of the offending field, e.g. `hours[1].open`.
        field: String,
        /// The value as written.
        value: String,
    },
    /// `days` is an empty string or an empty list.
    #[error("{field}: no days given")]
    NoDays {
        /// The path of the offending field, e.g. `hours[1].open`.
        field: String,
    },
    /// A `holidays` entry that is neither a date nor a date range.
    #[error("{field}: expected YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD, got {value:?}")]
    BadHoliday {
        /// The path of the offending field, e.g. `hours[1].open`.
        field: String,
        /// The value as written.
        value: String,
    },
    /// A holiday range whose last day is before its first day.
    #[error("{field}: range ends ({end}) before it starts ({start})")]
    HolidayRangeBackwards {
        /// The path of the offending `holidays` entry.
        field: String,
        /// The first day, as written before `..`.
        start: NaiveDate,
        /// The last day, as written after `..`; earlier than `start`.
        end: NaiveDate,
    },
    /// An error inside the `index`-th `[[schedule]]` entry of a list of schedules.
    #[error("schedule[{index}].{error}")]
    InSchedule {
        /// Position of the entry in the list, from 0.
        index: usize,
        /// What is wrong inside that entry.
        error: Box<ScheduleError>,
    },
    /// Two `[[schedule]]` entries share an id.
    #[error("schedule[{index}].id: duplicate id {id:?}, already used by schedule[{first}]")]
    DuplicateId {
        /// Position of the later entry, from 0.
        index: usize,
        /// Position of the entry that used the id first.
        first: usize,
        /// The shared id.
        id: String,
    },
}
