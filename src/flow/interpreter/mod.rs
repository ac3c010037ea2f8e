//! The per-call flow interpreter: a pure state machine over shared
//! [`Program`]s. `start` and `resume` return the next [`Directive`]; pure-logic
//! nodes (pass, setVar, conditions, branch, goto, schedules, fetch_flow, skip)
//! are resolved in between; nodes that touch the caller or the network hand a
//! [`Command`](crate::flow::Command) to the call layer.
//!
//! Limits ([`crate::flow::limits`]): at most `STEP_LIMIT` nodes per execution
//! cycle (one `start`/`resume` call), at most `EXECUTION_LIMIT` commands per
//! session, `fetch_flow` nesting at most `FETCH_DEPTH_LIMIT` deep. A session
//! keeps the program version it started with; fetched flows are taken from
//! the environment when fetched.

mod commands;
mod facts;
mod follow_up;
mod resume;
mod run;
mod trace_buffer;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::flow::directive::{Directive, EndReason, Outcome};
use crate::flow::env::FlowEnv;
use crate::flow::limits::VISITED_CAP;
use crate::flow::program::{NodeId, NodeIndex, Program};
use crate::flow::trace::{StartReason, TraceEvent};
use crate::flow::vars::Vars;

pub use self::facts::CallFacts;
use self::trace_buffer::TraceBuffer;

/// One call walking one flow (and the flows it fetches).
#[derive(Debug, Clone)]
pub struct Session {
    env: Arc<FlowEnv>,
    facts: CallFacts,
    /// The flow the session was created with.
    root: Arc<Program>,
    /// The flow being run.
    current: Frame,
    /// Flows that fetched the current one, outermost first.
    stack: Vec<Frame>,
    state: State,
    vars: Vars,
    visited: Vec<NodeId>,
    visited_dropped: u64,
    digits: Vec<String>,
    trace: TraceBuffer,
    commands_issued: u32,
    cycle_steps: u32,
    recordings_started: u32,
    complete_count: u32,
    start_reason: StartReason,
    follow_up_taken: bool,
}

/// One flow on the session's stack.
#[derive(Debug, Clone)]
struct Frame {
    program: Arc<Program>,
    /// The `fetch_flow` node of the parent frame, left by `done` on return.
    return_to: Option<NodeIndex>,
    /// How often each goto with a loop count has jumped.
    goto_counts: Vec<(NodeIndex, u32)>,
}

impl Frame {
    fn new(program: Arc<Program>, return_to: Option<NodeIndex>) -> Frame {
        Frame {
            program,
            return_to,
            goto_counts: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    NotStarted,
    /// `pending` was handed out (a command, or a wait) and an outcome is awaited.
    Waiting {
        node: NodeIndex,
        wait: Wait,
        pending: Directive,
    },
    Ended(EndReason),
}

/// What the node in [`State::Waiting`] is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    Answer,
    Play,
    /// A menu or collect attempt, after `failures` failed ones in this visit.
    Gather {
        failures: u32,
    },
    /// The invalid-entry audio, played before the next attempt.
    InvalidAudio {
        failures: u32,
    },
    DigitsReceive,
    /// Send digits, record, sleep: `Done` leaves by `done`.
    Simple,
    Http,
    /// A connect; `bridged` once the other party answered.
    Connect {
        bridged: bool,
    },
    Hangup,
}

impl Session {
    /// A session at the start of `program` for the call described by `facts`.
    /// Built-in variables come from the facts; then the route's `dest_xform`
    /// (key → value template; objects are flattened to dotted keys) is applied.
    pub fn new(
        program: Arc<Program>,
        env: Arc<FlowEnv>,
        facts: CallFacts,
        dest_xform: Option<&Map<String, Value>>,
    ) -> Session {
        let vars = facts.builtin_vars(program.id(), 0);
        let mut session = Session::with_vars(program, env, facts, vars, 0, StartReason::Start);
        if let Some(transform) = dest_xform {
            session.apply_dest_xform(transform);
        }
        session
    }

    fn with_vars(
        program: Arc<Program>,
        env: Arc<FlowEnv>,
        facts: CallFacts,
        vars: Vars,
        complete_count: u32,
        start_reason: StartReason,
    ) -> Session {
        Session {
            env,
            facts,
            root: Arc::clone(&program),
            current: Frame::new(program, None),
            stack: Vec::new(),
            state: State::NotStarted,
            vars,
            visited: Vec::new(),
            visited_dropped: 0,
            digits: Vec::new(),
            trace: TraceBuffer::default(),
            commands_issued: 0,
            cycle_steps: 0,
            recordings_started: 0,
            complete_count,
            start_reason,
            follow_up_taken: false,
        }
    }

    /// Starts the flow and returns the first directive. Once started, returns
    /// the directive in force again (the pending command or wait, or the end).
    pub fn start(&mut self, now: DateTime<Utc>) -> Directive {
        match &self.state {
            State::NotStarted => {
                let program = Arc::clone(&self.root);
                let reason = self.start_reason;
                self.trace.push(|| TraceEvent::FlowStarted {
                    flow_id: program.id().to_owned(),
                    version: program.version(),
                    reason,
                });
                self.cycle_steps = 0;
                self.run_from(program.start(), now)
            }
            State::Waiting { pending, .. } => pending.clone(),
            State::Ended(reason) => Directive::End(reason.clone()),
        }
    }

    /// Reports how the pending command ended and returns the next directive.
    /// After the end, keeps returning the same end.
    pub fn resume(&mut self, outcome: Outcome, now: DateTime<Utc>) -> Directive {
        self.cycle_steps = 0;
        self.handle_outcome(outcome, now)
    }

    /// The oldest trace event not yet polled.
    pub fn poll_trace(&mut self) -> Option<TraceEvent> {
        self.trace.pop()
    }

    /// Turns trace recording on (the default) or off.
    pub fn set_tracing(&mut self, enabled: bool) {
        self.trace.set_enabled(enabled);
    }

    /// Trace events lost because nobody polled them in time.
    pub fn trace_dropped(&self) -> u64 {
        self.trace.dropped()
    }

    /// Ids of the nodes entered so far, in order, across fetched flows (a
    /// replayed menu counts once per visit); at most `VISITED_CAP` are kept.
    pub fn visited(&self) -> &[NodeId] {
        &self.visited
    }

    /// Node entries beyond `VISITED_CAP`, counted but not kept.
    pub fn visited_dropped(&self) -> u64 {
        self.visited_dropped
    }

    /// Every digit entry of the caller (menu, collect, digits_receive), in order.
    pub fn digits(&self) -> &[String] {
        &self.digits
    }

    /// The call's variables.
    pub fn vars(&self) -> &Vars {
        &self.vars
    }

    /// The facts the session was created with.
    pub fn facts(&self) -> &CallFacts {
        &self.facts
    }

    /// Id of the flow the session started with.
    pub fn flow_id(&self) -> &str {
        self.root.id()
    }

    /// Version of the flow the session started with (a call keeps its version).
    pub fn flow_version(&self) -> u32 {
        self.root.version()
    }

    /// Id of the flow being run now (a fetched flow while it runs).
    pub fn current_flow_id(&self) -> &str {
        self.current.program.id()
    }

    /// How many `on_complete_flow_id` hops led to this session.
    pub fn complete_count(&self) -> u32 {
        self.complete_count
    }

    /// Commands handed out so far.
    pub fn commands_issued(&self) -> u32 {
        self.commands_issued
    }

    /// Why the flow ended, once it has.
    pub fn end_reason(&self) -> Option<&EndReason> {
        match &self.state {
            State::Ended(reason) => Some(reason),
            _ => None,
        }
    }

    /// Whether the flow has ended.
    pub fn is_ended(&self) -> bool {
        matches!(self.state, State::Ended(_))
    }

    /// Id of the node whose command (or bridge) is pending.
    pub fn current_node(&self) -> Option<&NodeId> {
        match &self.state {
            State::Waiting { node, .. } => Some(&self.current.program.node(*node).id),
            _ => None,
        }
    }

    fn visit(&mut self, id: &NodeId) {
        if self.visited.len() < VISITED_CAP {
            self.visited.push(id.clone());
        } else {
            self.visited_dropped = self.visited_dropped.saturating_add(1);
        }
    }

    fn node_id(&self, node: NodeIndex) -> NodeId {
        self.current.program.node(node).id.clone()
    }

    /// Sets a variable the call layer reports (a recording's file and
    /// length…), traced at the current node.
    pub fn set_call_var(&mut self, key: &str, value: &str) {
        let node = self
            .current_node()
            .cloned()
            .unwrap_or_else(|| NodeId::from(""));
        self.set_var(&node, key, value);
    }

    fn set_var(&mut self, node: &NodeId, key: &str, value: &str) {
        self.vars.set(key, value);
        self.trace.push(|| TraceEvent::VarSet {
            node: node.clone(),
            key: key.to_owned(),
            value: value.to_owned(),
        });
    }

    fn end(&mut self, reason: EndReason) -> Directive {
        self.state = State::Ended(reason.clone());
        Directive::End(reason)
    }
}
