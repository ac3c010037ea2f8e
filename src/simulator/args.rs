//! The command line of `callplane flow simulate` ([`SimulateArgs`]) and its
//! checked form ([`Plan`]): variables, the clock and the event script, each
//! bad value refused with one line naming the argument.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::Args;

use crate::flow::CallFacts;
use crate::simulator::events::Script;

/// The caller's number when `--from` is not given.
pub const DEFAULT_CALLER: &str = "+15550000001";
/// The number called when `--to` is not given.
pub const DEFAULT_CALLEE: &str = "1000";
/// The call id of every simulated call (recording ids derive from it).
pub const SIMULATED_CALL_ID: &str = "simulated-call";

/// `callplane flow simulate FILE [OPTIONS]`.
#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// The flow to run: a flow file of any format, or `builtin:demo`.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// The server's TOML configuration: schedules, destinations and `[flows] dir`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Published flows for fetch_flow and on_complete_flow_id (instead of `[flows] dir`).
    #[arg(long, value_name = "DIR")]
    pub flows: Option<PathBuf>,
    /// The time schedules and datetime conditions see, RFC 3339 (default: now).
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    /// Sets a variable before the flow starts (repeatable).
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,
    /// What the caller and the network do, consumed in order by the commands
    /// that wait: digits:KEYS, timeout, answered, no_answer, busy, hangup,
    /// bridge_ended, done, failed[:REASON], http:STATUS[:BODY]. Comma-separated
    /// (commas inside {}, [] or quotes do not split); repeatable.
    #[arg(long, value_name = "LIST")]
    pub events: Vec<String>,
    /// The caller's number.
    #[arg(long, value_name = "NUMBER", default_value = DEFAULT_CALLER)]
    pub from: String,
    /// The number called.
    #[arg(long, value_name = "NUMBER", default_value = DEFAULT_CALLEE)]
    pub to: String,
}

/// The checked arguments: what the simulated call looks like.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The fixed time of the simulation; `None`: the caller reads the clock.
    pub at: Option<DateTime<Utc>>,
    /// The call the flow sees: `--from`, `--to`, the fixed Call-ID
    /// [`SIMULATED_CALL_ID`] and every `--var` as an extra variable, in order.
    pub facts: CallFacts,
    /// The `--events` list, handed one by one to the nodes that wait.
    pub script: Script,
}

impl SimulateArgs {
    /// Checks `--var`, `--at` and `--events`; the error is one line naming
    /// the bad argument.
    pub fn plan(&self) -> Result<Plan, String> {
        let mut facts = CallFacts::new(&self.from, &self.to, SIMULATED_CALL_ID);
        for assignment in &self.vars {
            facts.extra.push(parse_var(assignment)?);
        }
        let at = self.at.as_deref().map(parse_at).transpose()?;
        let script = Script::parse(&self.events)?;
        Ok(Plan { at, facts, script })
    }
}

/// `KEY=VALUE` (the value may contain `=` and be empty; the key may not be empty).
pub fn parse_var(assignment: &str) -> Result<(String, String), String> {
    match assignment.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.to_owned()))
        }
        Some(_) => Err(format!("--var {assignment:?}: the key is empty")),
        None => Err(format!("--var {assignment:?}: expected KEY=VALUE")),
    }
}

/// An RFC 3339 time with its offset, e.g. `2026-03-02T10:00:00Z`.
pub fn parse_at(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|at| at.with_timezone(&Utc))
        .map_err(|err| {
            format!("--at {text:?}: expected an RFC 3339 time such as 2026-03-02T10:00:00Z ({err})")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn args(vars: &[&str], at: Option<&str>, events: &[&str]) -> SimulateArgs {
        SimulateArgs {
            file: "f.json".into(),
            config: None,
            flows: None,
            at: at.map(str::to_owned),
            vars: vars.iter().map(|v| (*v).to_owned()).collect(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            from: DEFAULT_CALLER.into(),
            to: DEFAULT_CALLEE.into(),
        }
    }

    #[test]
    fn builds_facts_clock_and_script() {
        let plan = args(
            &["lang=es", "expr=a=b", "empty="],
            Some("2026-03-02T11:00:00+01:00"),
            &["digits:1"],
        )
        .plan()
        .expect("valid arguments");
        assert_eq!(plan.facts.caller, DEFAULT_CALLER);
        assert_eq!(plan.facts.callee, DEFAULT_CALLEE);
        assert_eq!(plan.facts.call_id, SIMULATED_CALL_ID);
        assert_eq!(
            plan.facts.extra,
            [
                ("lang".to_owned(), "es".to_owned()),
                ("expr".to_owned(), "a=b".to_owned()),
                ("empty".to_owned(), String::new())
            ]
        );
        assert_eq!(plan.at, Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).single());
        assert_eq!(plan.script.remaining(), ["digits:1"]);
        assert_eq!(args(&[], None, &[]).plan().map(|p| p.at), Ok(None));
    }

    #[test]
    fn each_bad_argument_is_one_line_naming_it() {
        for (bad, name) in [
            (args(&["novalue"], None, &[]), "--var"),
            (args(&["=x"], None, &[]), "--var"),
            (args(&[], Some("tomorrow"), &[]), "--at"),
            (args(&[], Some("2026-03-02 10:00"), &[]), "--at"),
            (args(&[], None, &["digits:"]), "--events"),
        ] {
            let err = bad.plan().map(|_| ()).unwrap_err();
            assert!(err.starts_with(name), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }
}
