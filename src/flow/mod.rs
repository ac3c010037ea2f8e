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

pub mod actions;
pub mod demo;
pub mod destinations;
pub mod digit_pattern;
pub mod directive;
pub mod env;
pub mod graph;
pub mod handle;
pub mod interpreter;
pub mod limits;
pub mod load;
pub mod problem;
pub mod program;
mod read;
pub mod schedule;
pub mod synthesize;
pub mod template;
pub mod trace;
pub mod vars;

pub use self::demo::DEMO_FLOW_JSON;
pub use self::destinations::{Destination, DestinationCatalog, DestinationKind};
pub use self::directive::{
    parse_event, Audio, Command, ConnectKind, Directive, EndReason, Outcome,
};
pub use self::env::{check_references, FlowEnv};
pub use self::interpreter::{CallFacts, Session};
pub use self::limits::{EXECUTION_LIMIT, FETCH_DEPTH_LIMIT, ON_COMPLETE_CHAIN_LIMIT, STEP_LIMIT};
pub use self::load::{
    detect_format, load_flow_json, load_flow_value, load_node_graph, load_node_graph_value,
    LoadError, Loaded,
};
pub use self::problem::Problem;
pub use self::program::{FlowFormat, NodeId, NodeIndex, Program, Step};
pub use self::synthesize::synthesize;
pub use self::trace::{StartReason, TraceEvent};
pub use self::vars::Vars;
