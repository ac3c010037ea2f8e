//! What a schedule says about an instant, and the edge handle each answer leaves by.

/// The classification of an instant by a [`Schedule`](crate::flow::schedule::Schedule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScheduleOutcome {
    /// Inside an opening range on a day that is not a holiday.
    InHours,
    /// Outside every opening range on a day that is not a holiday.
    OutOfHours,
    /// On a holiday (the whole local date, whatever the opening ranges say).
    Holiday,
}

impl ScheduleOutcome {
    /// Every outcome, in declaration order.
    pub const ALL: [ScheduleOutcome; 3] = [
        ScheduleOutcome::InHours,
        ScheduleOutcome::OutOfHours,
        ScheduleOutcome::Holiday,
    ];

    /// The `sourceHandle` of the `timeCondition` edge this outcome follows.
    pub fn handle(&self) -> &'static str {
        match self {
            ScheduleOutcome::InHours => "in_hours",
            ScheduleOutcome::OutOfHours => "out_of_hours",
            ScheduleOutcome::Holiday => "holiday",
        }
    }

    /// The outcome to try next when a flow has no edge for this one: a holiday is closed
    /// time, so `Holiday` falls back to `OutOfHours`; the others have no fallback.
    pub fn fallback(&self) -> Option<ScheduleOutcome> {
        match self {
            ScheduleOutcome::Holiday => Some(ScheduleOutcome::OutOfHours),
            ScheduleOutcome::InHours | ScheduleOutcome::OutOfHours => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_and_fallbacks() {
        let handles: Vec<&str> = ScheduleOutcome::ALL.iter().map(|o| o.handle()).collect();
        assert_eq!(handles, ["in_hours", "out_of_hours", "holiday"]);
        assert_eq!(
            ScheduleOutcome::Holiday.fallback(),
            Some(ScheduleOutcome::OutOfHours)
        );
        assert_eq!(ScheduleOutcome::InHours.fallback(), None);
        assert_eq!(ScheduleOutcome::OutOfHours.fallback(), None);
    }
}
