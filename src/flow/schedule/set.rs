//! All configured schedules, looked up by id (what `timeCondition.scheduleId` names).

use std::collections::BTreeMap;

use super::compiled::Schedule;
use super::config::ScheduleConfig;
use super::error::ScheduleError;

/// The validated `[[schedule]]` entries of a configuration, keyed by id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schedules {
    by_id: BTreeMap<String, Schedule>,
}

impl Schedules {
    /// Validates every entry; errors are prefixed with the entry, e.g.
    /// `schedule[2].hours[0].open: expected HH:MM, got "9am"`. Ids must be unique.
    pub fn from_configs(configs: &[ScheduleConfig]) -> Result<Schedules, ScheduleError> {
        let mut by_id = BTreeMap::new();
        let mut first_index: BTreeMap<&str, usize> = BTreeMap::new();
        for (index, config) in configs.iter().enumerate() {
            let schedule =
                Schedule::from_config(config).map_err(|error| ScheduleError::InSchedule {
                    index,
                    error: Box::new(error),
                })?;
            if let Some(&first) = first_index.get(config.id.as_str()) {
                return Err(ScheduleError::DuplicateId {
                    index,
                    first,
                    id: config.id.clone(),
                });
            }
            first_index.insert(config.id.as_str(), index);
            by_id.insert(config.id.clone(), schedule);
        }
        Ok(Schedules { by_id })
    }

    /// The schedule with this id.
    pub fn get(&self, id: &str) -> Option<&Schedule> {
        self.by_id.get(id)
    }

    /// How many schedules there are.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// All schedules, ordered by id.
    pub fn iter(&self) -> impl Iterator<Item = &Schedule> {
        self.by_id.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::schedule::config::{DaysConfig, HoursConfig};

    fn config(id: &str, open: &str) -> ScheduleConfig {
        ScheduleConfig {
            id: id.to_owned(),
            timezone: "UTC".to_owned(),
            hours: vec![HoursConfig {
                days: DaysConfig::Text("mon-fri".to_owned()),
                open: open.to_owned(),
                close: "17:00".to_owned(),
            }],
            holidays: Vec::new(),
        }
    }

    #[test]
    fn looks_schedules_up_by_id() {
        let schedules =
            Schedules::from_configs(&[config("sch_b", "09:00"), config("sch_a", "08:00")]).unwrap();
        assert_eq!(schedules.len(), 2);
        assert!(!schedules.is_empty());
        assert_eq!(schedules.get("sch_a").map(Schedule::id), Some("sch_a"));
        assert!(schedules.get("sch_c").is_none());
        let ids: Vec<&str> = schedules.iter().map(Schedule::id).collect();
        assert_eq!(ids, ["sch_a", "sch_b"]);
        assert!(Schedules::from_configs(&[]).unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_entry_and_the_field() {
        let error = Schedules::from_configs(&[config("a", "09:00"), config("b", "9am")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            r#"schedule[1].hours[0].open: expected HH:MM, got "9am""#
        );

        let error = Schedules::from_configs(&[config("a", "09:00"), config("", "09:00")])
            .unwrap_err()
            .to_string();
        assert_eq!(error, "schedule[1].id: must not be empty");

        let error = Schedules::from_configs(&[
            config("a", "09:00"),
            config("b", "09:00"),
            config("a", "10:00"),
        ])
        .unwrap_err()
        .to_string();
        assert_eq!(
            error,
            r#"schedule[2].id: duplicate id "a", already used by schedule[0]"#
        );
    }
}
