//! The run loop: enter nodes from a starting index, resolve pure-logic steps
//! in place, and stop at the first command, the end of the flow, or a limit.
//! Also leaving a node by an outcome, returning from fetched flows, and
//! failures.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::flow::directive::{Command, Directive, EndReason};
use crate::flow::handle::{DONE, FAILED, FALSE, JUMP, TRUE};
use crate::flow::interpreter::trace_buffer::render;
use crate::flow::interpreter::{Frame, Session, State, Wait};
use crate::flow::limits::{EXECUTION_LIMIT, FETCH_DEPTH_LIMIT, STEP_LIMIT};
use crate::flow::program::{FlowFormat, NodeId, NodeIndex, ProgramNode, Step};
use crate::flow::schedule::DatetimeCondition;
use crate::flow::trace::{StartReason, TraceEvent};

/// What entering one node leads to.
enum Next {
    /// Leave by the exit for this outcome handle.
    Leave(&'static str),
    /// Go to this node of the current flow.
    Goto(NodeIndex),
    /// The node handed out a directive (a command), or the flow ended.
    Stop(Directive),
}

impl Session {
    /// Enters `first` and follows pure nodes until a command, the end, or a limit.
    pub(super) fn run_from(&mut self, first: NodeIndex, now: DateTime<Utc>) -> Directive {
        let mut current = first;
        loop {
            let program = Arc::clone(&self.current.program);
            let node = program.node(current);
            if self.cycle_steps >= STEP_LIMIT {
                return self.end(EndReason::StepLimit {
                    node: node.id.clone(),
                });
            }
            self.cycle_steps += 1;
            self.visit(&node.id);
            let next = match &node.step {
                step if step.is_pure() => self.pure_step(current, node, now),
                _ => Next::Stop(self.command_step(current, node)),
            };
            let handle = match next {
                Next::Stop(directive) => return directive,
                Next::Goto(target) => {
                    current = target;
                    continue;
                }
                Next::Leave(handle) => handle,
            };
            match node.exits.select(handle) {
                Some(target) => current = target,
                None => match self.flow_finished(&node.id, handle) {
                    Ok(target) => current = target,
                    Err(reason) => return self.end(reason),
                },
            }
        }
    }

    /// Leaves `node` (of the current flow) by the exit for `handle`, else its
    /// default exit; with neither, the current flow is over.
    pub(super) fn leave(&mut self, node: NodeIndex, handle: &str, now: DateTime<Utc>) -> Directive {
        let program = Arc::clone(&self.current.program);
        let from = program.node(node);
        match from.exits.select(handle) {
            Some(target) => self.run_from(target, now),
            None => match self.flow_finished(&from.id, handle) {
                Ok(target) => self.run_from(target, now),
                Err(reason) => self.end(reason),
            },
        }
    }

    /// A failure at `node` leaves by an explicit `failed` exit only; otherwise
    /// the flow ends with `EndReason::Failed`.
    pub(super) fn fail(
        &mut self,
        node: NodeIndex,
        reason: String,
        now: DateTime<Utc>,
    ) -> Directive {
        match self.failure_target(node, reason) {
            Ok(target) => self.run_from(target, now),
            Err(reason) => self.end(reason),
        }
    }

    fn failure_target(&mut self, node: NodeIndex, reason: String) -> Result<NodeIndex, EndReason> {
        let program = Arc::clone(&self.current.program);
        let from = program.node(node);
        match from.exits.exact(FAILED) {
            Some(target) => {
                self.trace.push(|| TraceEvent::CommandFailed {
                    node: from.id.clone(),
                    reason,
                });
                Ok(target)
            }
            None => Err(EndReason::Failed {
                node: from.id.clone(),
                reason,
            }),
        }
    }

    /// The current flow has nowhere to go after `node` returned `handle`:
    /// return to the flow that fetched it (leaving its fetch node by `done`),
    /// or end the session.
    fn flow_finished(&mut self, node: &NodeId, handle: &str) -> Result<NodeIndex, EndReason> {
        let mut last = (node.clone(), handle.to_owned());
        loop {
            let Some(parent) = self.stack.pop() else {
                return Err(match self.current.program.format() {
                    FlowFormat::ActionArray => EndReason::EndOfActions { node: last.0 },
                    _ => EndReason::NoEdge {
                        node: last.0,
                        outcome: last.1,
                    },
                });
            };
            let child = std::mem::replace(&mut self.current, parent);
            let program = Arc::clone(&self.current.program);
            self.trace.push(|| TraceEvent::FlowStarted {
                flow_id: program.id().to_owned(),
                version: program.version(),
                reason: StartReason::Return,
            });
            let Some(fetch) = child.return_to else {
                continue;
            };
            let fetch_node = program.node(fetch);
            match fetch_node.exits.select(DONE) {
                Some(target) => return Ok(target),
                None => last = (fetch_node.id.clone(), DONE.to_owned()),
            }
        }
    }

    fn pure_step(&mut self, index: NodeIndex, node: &ProgramNode, now: DateTime<Utc>) -> Next {
        let id = &node.id;
        match &node.step {
            Step::SetVars(pairs) => {
                for (key, value) in pairs {
                    let value = render(&self.vars, &mut self.trace, id, value).into_owned();
                    self.set_var(id, key, &value);
                }
                Next::Leave(DONE)
            }
            Step::Compare(compare) => {
                let left = render(&self.vars, &mut self.trace, id, &compare.left);
                let right = render(&self.vars, &mut self.trace, id, &compare.right);
                let holds = compare.holds(&left, &right);
                self.decision(id, if holds { TRUE } else { FALSE })
            }
            Step::Branch(value) => {
                let value = render(&self.vars, &mut self.trace, id, value);
                let target = node.exits.exact(&value).or(node.exits.default_exit());
                let outcome = value.into_owned();
                match target {
                    Some(target) => {
                        self.trace.push(|| TraceEvent::Decision {
                            node: id.clone(),
                            outcome,
                        });
                        Next::Goto(target)
                    }
                    None => Next::Leave(DONE),
                }
            }
            Step::Goto { loop_count } => self.goto(index, id, *loop_count),
            Step::TimeCondition { schedule_id } => {
                let schedule_id = render(&self.vars, &mut self.trace, id, schedule_id);
                let outcome = self
                    .env
                    .schedule(&schedule_id)
                    .map(|schedule| schedule.evaluate(now).handle());
                let schedule_id = schedule_id.into_owned();
                match outcome {
                    Some(outcome) => self.decision(id, outcome),
                    None => {
                        let reason = format!("no schedule {schedule_id:?}");
                        match self.failure_target(index, reason) {
                            Ok(target) => Next::Goto(target),
                            Err(reason) => Next::Stop(self.end(reason)),
                        }
                    }
                }
            }
            Step::DatetimeCondition(spec) => {
                let condition = DatetimeCondition {
                    comparison: spec.op,
                    minute: spec.minute,
                    hour: spec.hour,
                    day: spec.day,
                    month: spec.month,
                    weekdays: spec.weekdays.clone(),
                };
                self.decision(id, if condition.matches(now) { TRUE } else { FALSE })
            }
            Step::FetchFlow { flow_id } => {
                let flow_id = render(&self.vars, &mut self.trace, id, flow_id).into_owned();
                self.fetch(index, id, flow_id)
            }
            Step::Stop => Next::Stop(self.end(EndReason::Stopped { node: id.clone() })),
            Step::Skip { action, reason } => {
                self.trace.push(|| TraceEvent::ActionSkipped {
                    node: id.clone(),
                    action: action.clone(),
                    reason: reason.clone(),
                });
                Next::Leave(DONE)
            }
            _ => Next::Leave(DONE),
        }
    }

    fn decision(&mut self, node: &NodeId, outcome: &'static str) -> Next {
        self.trace.push(|| TraceEvent::Decision {
            node: node.clone(),
            outcome: outcome.to_owned(),
        });
        Next::Leave(outcome)
    }

    /// A goto jumps; with a loop count it jumps that many times in this
    /// session (per flow on the stack), then falls through by `done`.
    fn goto(&mut self, index: NodeIndex, id: &NodeId, loop_count: Option<u32>) -> Next {
        let Some(limit) = loop_count else {
            return Next::Leave(JUMP);
        };
        let counts = &mut self.current.goto_counts;
        let used = match counts.iter_mut().find(|(node, _)| *node == index) {
            Some((_, used)) => used,
            None => {
                counts.push((index, 0));
                match counts.last_mut() {
                    Some((_, used)) => used,
                    None => return Next::Leave(JUMP),
                }
            }
        };
        if *used < limit {
            *used += 1;
            Next::Leave(JUMP)
        } else {
            self.trace.push(|| TraceEvent::GotoExhausted {
                node: id.clone(),
                loop_count: limit,
            });
            Next::Leave(DONE)
        }
    }

    fn fetch(&mut self, index: NodeIndex, id: &NodeId, flow_id: String) -> Next {
        let Some(program) = self.env.flow(&flow_id).cloned() else {
            return Next::Stop(self.end(EndReason::FlowNotFound {
                node: id.clone(),
                flow_id,
            }));
        };
        if self.stack.len() >= FETCH_DEPTH_LIMIT {
            return Next::Stop(self.end(EndReason::DepthLimit {
                node: id.clone(),
                flow_id,
            }));
        }
        let return_to = Some(index);
        let start = program.start();
        self.trace.push(|| TraceEvent::FlowStarted {
            flow_id: program.id().to_owned(),
            version: program.version(),
            reason: StartReason::Fetch,
        });
        let parent = std::mem::replace(&mut self.current, Frame::new(program, return_to));
        self.stack.push(parent);
        Next::Goto(start)
    }

    /// Hands `command` out while `node` waits with `wait`, unless the
    /// session already handed out `EXECUTION_LIMIT` commands.
    pub(super) fn issue(&mut self, node: NodeIndex, wait: Wait, command: Command) -> Directive {
        if self.commands_issued >= EXECUTION_LIMIT {
            return self.end(EndReason::ExecutionLimit {
                node: command.node().clone(),
            });
        }
        self.commands_issued += 1;
        let directive = Directive::Execute(command);
        self.state = State::Waiting {
            node,
            wait,
            pending: directive.clone(),
        };
        directive
    }
}
