//! The serde shape of one `[[schedule]]` entry, exactly as written in the config file.
//!
//! These types are only data; [`Schedule::from_config`](crate::flow::schedule::Schedule::from_config)
//! validates them and compiles them into something that can be evaluated.

use serde::{Deserialize, Serialize};

/// One `[[schedule]]` entry of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// The id node graphs refer to with `timeCondition.scheduleId`.
    pub id: String,
    /// IANA timezone name (`Europe/London`); opening hours and holidays are local to it.
    pub timezone: String,
    /// Weekly opening ranges. An empty list means the schedule is never in hours.
    pub hours: Vec<HoursConfig>,
    /// Holiday dates (`2026-12-25`) or inclusive date ranges (`2026-12-31..2027-01-01`).
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// One weekly opening range: on each of `days`, open from `open` until `close`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoursConfig {
    /// The days the range opens on.
    pub days: DaysConfig,
    /// Local opening time, `HH:MM`.
    pub open: String,
    /// Local closing time, `HH:MM` or `24:00`; earlier than `open` means the next day.
    pub close: String,
}

/// The `days` of an opening range: `"mon-fri"`, `"mon,wed"` or `["sat", "sun"]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DaysConfig {
    /// Comma separated days and day ranges: `"mon-fri"`, `"mon,wed,fri"`, `"fri-mon"`.
    Text(String),
    /// A list whose entries are each a day or a day range: `["sat", "sun"]`.
    List(Vec<String>),
}
