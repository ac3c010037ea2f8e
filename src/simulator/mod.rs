//! `callplane flow simulate`: runs a flow without a call and prints, one JSON
//! object per line, every command the media plane would carry out, every
//! trace event (variables set, unknown variables, decisions, HTTP requests,
//! flows started), every scripted event consumed, and the end with the
//! variables. A debugger for flow authors.
//!
//! This file is the IO front: it reads the flow, the configuration and the
//! flows directory, reads the clock when `--at` is not given, and prints.
//! The loop itself ([`driver`]) is pure. Exit codes: 0 when the simulation
//! ran (also when the event script ran out: the end line says so), 1 when
//! the flow is invalid or the configuration cannot be loaded, 2 for a bad
//! `--var`, `--at` or `--events`.
//!
//! Line shapes (keys in this order):
//!
//! ```text
//! {"command": KIND, "node": ID, …the command's arguments after templating}
//! {"trace": NAME, "node": ID, …}             see flow::TraceEvent; NAME = var_set, http_request…
//! {"trace": "flow_ended", "flow_id": F, "reason": END, "node": ID, …}   before an on-complete flow
//! {"trace": "event", "node": ID, "event": "digits:1"}   a scripted event handed to the waiting node
//! {"trace": "bridged", "node": ID}           the caller is bridged; the next event ends the bridge
//! {"end": END, "node": ID, …, "flow_id": F, "unused_events": […]?, "vars": {…}}
//! {"end": "events_exhausted", "waiting_for": ID, "expects": […], "flow_id": F, "vars": {…}}
//! ```

pub mod args;
pub mod driver;
pub mod events;
pub mod line;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::Utc;
use thiserror::Error;

use crate::assets;
use crate::config::{Config, BUILTIN_DEMO};
use crate::flow::{check_references, load_flow_json, FlowEnv, Program, Session, DEMO_FLOW_JSON};

pub use self::args::{Plan, SimulateArgs};
pub use self::driver::simulate;
pub use self::events::Script;
pub use self::line::Line;

/// Why a simulation did not run.
#[derive(Debug, Error)]
pub enum SimulateError {
    /// A bad `--var`, `--at` or `--events` (exit 2).
    #[error("{0}")]
    BadArgument(String),
    /// The flow failed validation: one `FILE: path: message` line per problem (exit 1).
    #[error("{}", .0.join("\n"))]
    InvalidFlow(Vec<String>),
    /// The flow file, the configuration or the flows directory cannot be used (exit 1).
    #[error("{0}")]
    Setup(String),
}

impl SimulateError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            SimulateError::BadArgument(_) => 2,
            SimulateError::InvalidFlow(_) | SimulateError::Setup(_) => 1,
        }
    }
}

/// Runs `callplane flow simulate`: JSON lines on stdout, problems on stderr.
pub fn run(args: &SimulateArgs) -> ExitCode {
    match run_to_stdout(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(SimulateError::InvalidFlow(lines)) => {
            for line in lines {
                eprintln!("{line}");
            }
            ExitCode::from(1)
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

fn run_to_stdout(args: &SimulateArgs) -> Result<(), SimulateError> {
    let Plan { at, facts, script } = args.plan().map_err(SimulateError::BadArgument)?;
    let mut script = script;
    let program = load_program(&args.file)?;
    let env = load_env(args)?;
    for problem in check_references(&program, &env) {
        eprintln!(
            "{}: warning: {problem} (the server would refuse this flow)",
            args.file
        );
    }
    let now = at.unwrap_or_else(Utc::now);
    let session = Session::new(program, Arc::new(env), facts, None);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut output_closed = false;
    simulate(session, &mut script, now, &mut |line| {
        if !output_closed && writeln!(out, "{}", line.to_json()).is_err() {
            output_closed = true;
        }
    });
    // A closed pipe (`| head`) is not the flow's fault.
    let _ = out.flush();
    Ok(())
}

/// The flow to simulate; its warnings go to stderr.
fn load_program(file: &str) -> Result<Arc<Program>, SimulateError> {
    let text = if file == BUILTIN_DEMO {
        DEMO_FLOW_JSON.to_owned()
    } else {
        std::fs::read_to_string(file)
            .map_err(|err| SimulateError::Setup(format!("cannot read {file}: {err}")))?
    };
    match load_flow_json(&text) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                eprintln!("{file}: warning: {warning}");
            }
            Ok(loaded.program)
        }
        Err(err) => Err(SimulateError::InvalidFlow(
            err.lines()
                .into_iter()
                .map(|line| format!("{file}: {line}"))
                .collect(),
        )),
    }
}

/// Schedules, destinations and published flows as the server would have
/// them: `--config` (or the defaults), its `[flows] dir` replaced by `--flows`.
fn load_env(args: &SimulateArgs) -> Result<FlowEnv, SimulateError> {
    let mut config = match &args.config {
        Some(path) => Config::load(path).map_err(|err| SimulateError::Setup(err.to_string()))?,
        None => Config::default(),
    };
    if let Some(dir) = &args.flows {
        config.flows.dir = Some(dir.clone());
    }
    assets::build_env(&config).map_err(SimulateError::Setup)
}
