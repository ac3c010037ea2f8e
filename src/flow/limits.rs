//! The safety limits of a flow session, in one place. Each limit that trips
//! ends the flow with its own [`EndReason`](crate::flow::EndReason), naming the
//! node where it tripped.
//!
//! Definitions:
//! - An *execution cycle* is one call of `Session::start` or `Session::resume`:
//!   the interpreter enters nodes (pure-logic ones resolve at once) until it
//!   hands out a command, waits, or ends.
//! - An *execution* is one command handed to the call layer
//!   (`Directive::Execute`). Menu retries and every sub-flow's commands count;
//!   a `Directive::Wait` (a bridge that stays up) does not.

/// Nodes one execution cycle may enter (VoIPBIN: "maximum iterations per
/// execution cycle"). Entering the 1001st node ends the flow with
/// `EndReason::StepLimit`: a loop of pure-logic nodes.
pub const STEP_LIMIT: u32 = 1000;

/// Commands one session may hand out over its whole life (VoIPBIN: "maximum
/// total executions per activeflow"). The 101st command is not handed out;
/// the flow ends with `EndReason::ExecutionLimit` instead. A session started by
/// `on_complete_flow_id` counts afresh.
pub const EXECUTION_LIMIT: u32 = 100;

/// Flows that may be nested by `fetch_flow` below the flow a session started
/// with. The seeds give no number; a `fetch_flow` that would nest an 11th
/// level ends the flow with `EndReason::DepthLimit`.
pub const FETCH_DEPTH_LIMIT: usize = 10;

/// Flows in one `on_complete_flow_id` chain, the first included: their
/// `voipbin.activeflow.complete_count` runs 0..=4, and a flow whose count is 4
/// starts no follow-up.
pub const ON_COMPLETE_CHAIN_LIMIT: u32 = 5;

/// Destinations a synthesized flow chains through its exits (a queue whose
/// timeout goes to a ring group whose no-answer goes to a voicemail is 3).
pub(super) const SYNTHESIS_DEPTH_LIMIT: usize = 3;

/// Node ids `Session::visited` keeps; later entries are counted, not kept.
pub(super) const VISITED_CAP: usize = 1000;

/// Trace events a session buffers until they are polled; later ones are
/// counted as dropped.
pub(super) const TRACE_CAP: usize = 4096;
