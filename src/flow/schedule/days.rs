//! Sets of weekdays, parsed from `"mon-fri"`, `"mon,wed"` or `["sat", "sun"]`.

use chrono::Weekday;

use super::config::DaysConfig;
use super::error::ScheduleError;

/// A set of weekdays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct DaySet {
    /// Indexed by `Weekday::num_days_from_monday`.
    members: [bool; 7],
}

impl DaySet {
    /// Parses the `days` of an opening range; `field` is its path, e.g. `hours[0].days`.
    pub(super) fn parse(days: &DaysConfig, field: &str) -> Result<DaySet, ScheduleError> {
        let mut set = DaySet::default();
        match days {
            DaysConfig::Text(text) => set.add_spec(text, field)?,
            DaysConfig::List(entries) => {
                for (index, entry) in entries.iter().enumerate() {
                    set.add_spec(entry, &format!("{field}[{index}]"))?;
                }
            }
        }
        if set.is_empty() {
            return Err(ScheduleError::NoDays {
                field: field.to_owned(),
            });
        }
        Ok(set)
    }

    /// The days in the set, Monday first.
    pub(super) fn iter(&self) -> impl Iterator<Item = Weekday> + '_ {
        let mut day = Weekday::Mon;
        (0..7).filter_map(move |index| {
            let current = day;
            day = day.succ();
            self.members
                .get(index)
                .copied()
                .unwrap_or(false)
                .then_some(current)
        })
    }

    fn is_empty(&self) -> bool {
        !self.members.iter().any(|&member| member)
    }

    fn insert(&mut self, day: Weekday) {
        if let Some(slot) = self.members.get_mut(day.num_days_from_monday() as usize) {
            *slot = true;
        }
    }

    /// Adds every day named by a comma separated list of days and `from-to` ranges.
    /// Ranges wrap around the week: `fri-mon` is Friday, Saturday, Sunday and Monday.
    fn add_spec(&mut self, spec: &str, field: &str) -> Result<(), ScheduleError> {
        if spec.trim().is_empty() {
            return Ok(());
        }
        for item in spec.split(',') {
            let unknown = || ScheduleError::UnknownDay {
                field: field.to_owned(),
                value: item.trim().to_owned(),
            };
            match item.split_once('-') {
                Some((from, to)) => {
                    let from = parse_day_name(from).ok_or_else(unknown)?;
                    let to = parse_day_name(to).ok_or_else(unknown)?;
                    let mut day = from;
                    self.insert(day);
                    while day != to {
                        day = day.succ();
                        self.insert(day);
                    }
                }
                None => self.insert(parse_day_name(item).ok_or_else(unknown)?),
            }
        }
        Ok(())
    }
}

/// `mon` / `monday` (any case, surrounding spaces ignored) and so on.
fn parse_day_name(name: &str) -> Option<Weekday> {
    let day = match name.trim().to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return None,
    };
    Some(day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Weekday::*;

    fn days(spec: DaysConfig) -> Result<Vec<Weekday>, ScheduleError> {
        DaySet::parse(&spec, "hours[0].days").map(|set| set.iter().collect())
    }

    fn text(spec: &str) -> DaysConfig {
        DaysConfig::Text(spec.to_owned())
    }

    #[test]
    fn parses_ranges_lists_and_names() {
        assert_eq!(days(text("mon-fri")), Ok(vec![Mon, Tue, Wed, Thu, Fri]));
        assert_eq!(days(text("mon,wed")), Ok(vec![Mon, Wed]));
        assert_eq!(days(text(" Sat , SUNDAY ")), Ok(vec![Sat, Sun]));
        assert_eq!(days(text("fri-mon")), Ok(vec![Mon, Fri, Sat, Sun]));
        assert_eq!(days(text("wed-wed")), Ok(vec![Wed]));
        assert_eq!(days(text("mon-wed,fri")), Ok(vec![Mon, Tue, Wed, Fri]));
        let list = DaysConfig::List(vec!["sun".into(), "mon-tue".into()]);
        assert_eq!(days(list), Ok(vec![Mon, Tue, Sun]));
    }

    #[test]
    fn errors_name_the_field_and_the_bad_day() {
        assert_eq!(
            days(text("mon-fry")).map_err(|error| error.to_string()),
            Err("hours[0].days: unknown day \"mon-fry\", expected mon, tue, wed, thu, fri, sat or sun".to_owned())
        );
        assert_eq!(
            days(DaysConfig::List(vec!["sat".into(), "funday".into()])),
            Err(ScheduleError::UnknownDay {
                field: "hours[0].days[1]".into(),
                value: "funday".into()
            })
        );
        assert_eq!(
            days(text("mon,,wed")),
            Err(ScheduleError::UnknownDay {
                field: "hours[0].days".into(),
                value: String::new()
            })
        );
    }

    #[test]
    fn empty_days_are_rejected() {
        let no_days = Err(ScheduleError::NoDays {
            field: "hours[0].days".into(),
        });
        assert_eq!(days(text("")), no_days);
        assert_eq!(days(text("  ")), no_days);
        assert_eq!(days(DaysConfig::List(vec![])), no_days);
    }
}
