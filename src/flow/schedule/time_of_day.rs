//! `HH:MM` times of day as written in opening ranges, as minutes since local midnight.

/// Minutes in one day; also the value of `24:00`.
pub(super) const MINUTES_PER_DAY: u32 = 24 * 60;

/// Parses `H:MM` / `HH:MM` (00:00..=23:59, plus `24:00`) into minutes since midnight.
///
/// Returns `None` for anything else, including seconds (`09:00:00`) and signs.
pub(super) fn parse_time_of_day(text: &str) -> Option<u32> {
    let (hours, minutes) = text.trim().split_once(':')?;
    let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if hours.is_empty() || hours.len() > 2 || minutes.len() != 2 {
        return None;
    }
    if !all_digits(hours) || !all_digits(minutes) {
        return None;
    }
    let hours: u32 = hours.parse().ok()?;
    let minutes: u32 = minutes.parse().ok()?;
    match (hours, minutes) {
        (24, 0) => Some(MINUTES_PER_DAY),
        (0..=23, 0..=59) => Some(hours * 60 + minutes),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_times() {
        assert_eq!(parse_time_of_day("00:00"), Some(0));
        assert_eq!(parse_time_of_day("09:30"), Some(570));
        assert_eq!(parse_time_of_day("9:30"), Some(570));
        assert_eq!(parse_time_of_day("23:59"), Some(1439));
        assert_eq!(parse_time_of_day("24:00"), Some(1440));
        assert_eq!(parse_time_of_day(" 17:30 "), Some(1050));
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "9am",
            "9",
            "09:0",
            "09:000",
            "24:01",
            "25:00",
            "12:60",
            "-1:00",
            "+9:00",
            "09:00:00",
            "ab:cd",
            "٠٩:٠٠",
            "123:00",
            ":30",
        ] {
            assert_eq!(parse_time_of_day(bad), None, "{bad:?}");
        }
    }
}
