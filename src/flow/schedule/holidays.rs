//! Holiday dates: single local dates or inclusive ranges, checked against the local date.

use chrono::NaiveDate;

use super::error::ScheduleError;

/// Inclusive date ranges on which a schedule is closed for a holiday.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Holidays {
    /// `(first, last)`, both inclusive, `first <= last`.
    ranges: Vec<(NaiveDate, NaiveDate)>,
}

impl Holidays {
    /// Parses the `holidays` list; errors name the entry (`holidays[2]`).
    pub(super) fn parse(entries: &[String]) -> Result<Holidays, ScheduleError> {
        let mut ranges = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            ranges.push(parse_entry(entry, &format!("holidays[{index}]"))?);
        }
        Ok(Holidays { ranges })
    }

    /// Whether `date` (a local date) is a holiday.
    pub(super) fn contains(&self, date: NaiveDate) -> bool {
        self.ranges
            .iter()
            .any(|&(first, last)| first <= date && date <= last)
    }
}

/// `YYYY-MM-DD` or `YYYY-MM-DD..YYYY-MM-DD`.
fn parse_entry(entry: &str, field: &str) -> Result<(NaiveDate, NaiveDate), ScheduleError> {
    let bad = || ScheduleError::BadHoliday {
        field: field.to_owned(),
        value: entry.to_owned(),
    };
    let (first, last) = match entry.split_once("..") {
        Some((first, last)) => (
            parse_date(first).ok_or_else(bad)?,
            parse_date(last).ok_or_else(bad)?,
        ),
        None => {
            let day = parse_date(entry).ok_or_else(bad)?;
            (day, day)
        }
    };
    if last < first {
        return Err(ScheduleError::HolidayRangeBackwards {
            field: field.to_owned(),
            start: first,
            end: last,
        });
    }
    Ok((first, last))
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    let well_formed = text.len() == 10
        && text
            .bytes()
            .enumerate()
            .all(|(position, byte)| match position {
                4 | 7 => byte == b'-',
                _ => byte.is_ascii_digit(),
            });
    if !well_formed {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap_or_default()
    }

    fn holidays(entries: &[&str]) -> Result<Holidays, ScheduleError> {
        let entries: Vec<String> = entries.iter().map(|&entry| entry.to_owned()).collect();
        Holidays::parse(&entries)
    }

    #[test]
    fn single_days_and_ranges_across_the_year_end() {
        let holidays = holidays(&["2026-12-25", "2026-12-31..2027-01-01"]).unwrap();
        assert!(holidays.contains(date(2026, 12, 25)));
        assert!(!holidays.contains(date(2026, 12, 24)));
        assert!(!holidays.contains(date(2026, 12, 26)));
        assert!(!holidays.contains(date(2026, 12, 30)));
        assert!(holidays.contains(date(2026, 12, 31)));
        assert!(holidays.contains(date(2027, 1, 1)));
        assert!(!holidays.contains(date(2027, 1, 2)));
        assert!(
            !holidays.contains(date(2025, 12, 25)),
            "dates are not yearly"
        );
    }

    #[test]
    fn one_day_range_and_spaces_are_accepted() {
        let holidays = holidays(&[" 2026-05-01 .. 2026-05-01 "]).unwrap();
        assert!(holidays.contains(date(2026, 5, 1)));
    }

    #[test]
    fn bad_entries_name_their_index() {
        let message = |entries: &[&str]| holidays(entries).map(|_| ()).map_err(|e| e.to_string());
        assert_eq!(
            message(&["2026-12-25", "2026-13-01"]),
            Err(
                "holidays[1]: expected YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD, got \"2026-13-01\""
                    .to_owned()
            )
        );
        assert_eq!(
            message(&["2027-01-01..2026-12-31"]),
            Err("holidays[0]: range ends (2026-12-31) before it starts (2027-01-01)".to_owned())
        );
        for bad in [
            "",
            "..",
            "2026-12-25..",
            "christmas",
            "2026-2-3",
            "25/12/2026",
            "2026-02-30",
            "2026-12-25...2026-12-26",
            "+2026-12-25",
        ] {
            assert!(
                matches!(holidays(&[bad]), Err(ScheduleError::BadHoliday { .. })),
                "{bad:?}"
            );
        }
    }
}
