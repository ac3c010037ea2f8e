//! Call flows: loading flow documents, compiling them into a shared
//! [`Program`], and running one [`Session`] per call.
//!
//! The module is sans-IO: a session never touches sockets, clocks or media.
//! The call layer asks it what to do (`start`/`resume` return a [`Directive`]),
//! carries out the [`Command`], and reports the [`Outcome`].
//!
//! Layout: `document` (node-graph serde types), `validate` (reading with JSON
//! paths, errors and warnings), `compile` (document → program), `program`
//! (the compiled form every format targets), `directive` (commands and
//! outcomes), `interpreter` (the session), `load` (JSON text → program),
//! `demo` (the built-in flow).

pub mod compile;
pub mod demo;
pub mod directive;
pub mod document;
pub mod handle;
pub mod interpreter;
pub mod load;
pub mod problem;
pub mod program;
pub mod validate;

pub use self::demo::DEMO_FLOW_JSON;
pub use self::directive::{Command, Directive, EndReason, Outcome, PromptRef};
pub use self::interpreter::{Session, STEP_LIMIT};
pub use self::load::{load_node_graph, load_node_graph_value, LoadError, Loaded};
pub use self::problem::Problem;
pub use self::program::{NodeIndex, Program, Step};
