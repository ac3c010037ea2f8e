#![warn(missing_docs, unreachable_pub)]
// Every type the API exposes has one path: the re-export below.
#![warn(unnameable_types)]

//! Call flows: loading flow documents in either format, compiling them into
//! one shared [`Program`] form, and running one [`Session`] per call.
//!
//! The module is sans-IO: a session never touches sockets, clocks or media.
//! The call layer asks it what to do (`start`/`resume` return a
//! [`Directive`]), carries out the [`Command`], and reports the [`Outcome`];
//! wall-clock time comes in as an argument.
//!
//! Layout:
//! - formats: `graph` (node graph and the API record with `flowData`),
//!   `actions` (VoIPBIN action arrays), `read` (path-aware JSON reading),
//!   `load` (format detection, JSON text → program);
//! - the compiled form: `program` (nodes, steps, exits), `template`, `vars`,
//!   `digit_pattern`;
//! - running: `interpreter` (the session), `directive` (commands, outcomes,
//!   end reasons), `trace`, `limits`;
//! - the environment: `env` (schedules, published flows, destinations,
//!   reference checks), `destinations`, `synthesize`, `schedule`;
//! - `demo` (the built-in flow).
//!
//! The submodules are private; everything callers use is re-exported here, each
//! item under this one path.

mod actions;
mod demo;
mod destinations;
mod digit_pattern;
mod directive;
mod env;
mod graph;
mod handle;
mod interpreter;
mod limits;
mod load;
mod problem;
mod program;
mod read;
mod schedule;
mod synthesize;
mod template;
mod trace;
mod vars;

// Loading and checking flows.
pub use self::demo::DEMO_FLOW_JSON;
pub use self::env::{check_references, FlowEnv};
pub use self::load::{
    detect_format, load_flow_json, load_flow_value, load_node_graph, load_node_graph_value,
    LoadError, Loaded,
};
pub use self::problem::Problem;
pub use self::synthesize::synthesize;

// The compiled program.
pub use self::digit_pattern::DigitPattern;
pub use self::program::{
    AudioTemplate, CollectStep, CompareStep, ConnectStep, DatetimeStep, Exits, FlowFormat,
    GatherSpec, HttpStep, MenuStep, NodeId, NodeIndex, PlayStep, Program, ProgramError,
    ProgramNode, RecordStart, RecordStep, Reference, ReferenceKind, ResponseStore, SendDigitsStep,
    Step,
};
pub use self::schedule::{Comparison, UnknownComparison};
pub use self::template::Template;

// Running a flow.
pub use self::directive::{
    parse_event, Audio, Command, ConnectKind, Directive, EndReason, Outcome,
};
pub use self::interpreter::{CallFacts, Session};
pub use self::limits::{EXECUTION_LIMIT, FETCH_DEPTH_LIMIT, ON_COMPLETE_CHAIN_LIMIT, STEP_LIMIT};
pub use self::trace::{StartReason, TraceEvent};
pub use self::vars::Vars;

// The environment: destinations and schedules.
pub use self::destinations::{
    ConferenceConfig, Destination, DestinationCatalog, DestinationKind, ForwardConfig, QueueConfig,
    RingGroupConfig, VoicemailConfig,
};
pub use self::schedule::{
    DaysConfig, HoursConfig, Schedule, ScheduleConfig, ScheduleError, ScheduleOutcome, Schedules,
};
