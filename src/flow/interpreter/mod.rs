//! The per-call flow interpreter: a pure state machine over a shared
//! [`Program`]. `start` and `resume` return the next [`Directive`]; pure-logic
//! nodes are resolved in between, at most [`STEP_LIMIT`] nodes per call.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::flow::directive::{Command, Directive, EndReason, Outcome};
use crate::flow::handle::{digit_handle, DONE, FAILED, INVALID, TIMEOUT};
use crate::flow::program::{GatherSpec, MenuStep, NodeIndex, Program, Step};

/// How many nodes one `start` or `resume` may enter before the flow is ended
/// with [`EndReason::StepLimit`] (a loop of pure-logic nodes).
pub const STEP_LIMIT: u32 = 1000;

/// One call walking one flow.
#[derive(Debug, Clone)]
pub struct Session {
    program: Arc<Program>,
    state: State,
    visited: Vec<String>,
    digits: Vec<String>,
    vars: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    NotStarted,
    /// `pending` was handed out and its outcome is awaited.
    Waiting {
        node: NodeIndex,
        wait: Wait,
        pending: Command,
    },
    Ended(EndReason),
}

/// What the node in [`State::Waiting`] is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// A play; `plays_left` more follow this one.
    Play {
        plays_left: u32,
    },
    /// A menu attempt, after `failures` failed ones in this visit.
    Gather {
        failures: u32,
    },
    /// The menu's invalid prompt, played before the next attempt.
    InvalidPrompt {
        failures: u32,
    },
    Hangup,
}

impl Session {
    /// A session at the start of `program`, with initial variables (caller id, route data...).
    pub fn new(program: Arc<Program>, vars: impl IntoIterator<Item = (String, String)>) -> Session {
        Session {
            program,
            state: State::NotStarted,
            visited: Vec::new(),
            digits: Vec::new(),
            vars: vars.into_iter().collect(),
        }
    }

    /// Starts the flow and returns the first directive. Once started, returns
    /// the directive in force again (the pending command, or the end).
    pub fn start(&mut self) -> Directive {
        match &self.state {
            State::NotStarted => self.run_from(self.program.start()),
            State::Waiting { pending, .. } => Directive::Execute(pending.clone()),
            State::Ended(reason) => Directive::End(reason.clone()),
        }
    }

    /// Reports how the pending command ended and returns the next directive.
    /// After the end, keeps returning the same end.
    pub fn resume(&mut self, outcome: Outcome) -> Directive {
        let (node, wait, pending) = match &self.state {
            State::Ended(reason) => return Directive::End(reason.clone()),
            State::NotStarted => {
                let reason = match outcome {
                    Outcome::CallerHangup => EndReason::CallerHangup,
                    outcome => EndReason::UnexpectedOutcome {
                        node: self.node_id(self.program.start()),
                        outcome,
                    },
                };
                return self.end(reason);
            }
            State::Waiting {
                node,
                wait,
                pending,
            } => (*node, *wait, pending.clone()),
        };
        match (wait, &outcome) {
            (Wait::Hangup, _) => self.end(EndReason::Hangup {
                node: self.node_id(node),
            }),
            (_, Outcome::CallerHangup) => self.end(EndReason::CallerHangup),
            (_, Outcome::Failed(reason)) => self.command_failed(node, reason.clone()),
            (Wait::Play { plays_left }, Outcome::Done) if plays_left > 0 => {
                let wait = Wait::Play {
                    plays_left: plays_left - 1,
                };
                self.issue(node, wait, pending)
            }
            (Wait::Play { .. }, Outcome::Done) => self.leave(node, DONE),
            (Wait::InvalidPrompt { failures }, Outcome::Done) => {
                self.with_menu(node, &outcome, |session, menu| {
                    let command = gather_command(session.node_id(node), &menu.gather);
                    session.issue(node, Wait::Gather { failures }, command)
                })
            }
            (Wait::Gather { failures }, Outcome::Digits(digits)) => {
                self.with_menu(node, &outcome, |session, menu| {
                    session.menu_entry(node, menu, failures, digits)
                })
            }
            (Wait::Gather { failures }, Outcome::Timeout) => {
                self.with_menu(node, &outcome, |session, menu| {
                    session.menu_failure(node, menu, failures, TIMEOUT)
                })
            }
            _ => self.end(EndReason::UnexpectedOutcome {
                node: self.node_id(node),
                outcome,
            }),
        }
    }

    /// Ids of the nodes entered so far, in order (a replayed menu counts once per visit).
    pub fn visited(&self) -> &[String] {
        &self.visited
    }

    /// Every digit string the caller entered in a menu, in order.
    pub fn digits(&self) -> &[String] {
        &self.digits
    }

    /// The call's variables.
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    /// Id of the flow being run.
    pub fn flow_id(&self) -> &str {
        self.program.id()
    }

    /// Version of the flow being run.
    pub fn flow_version(&self) -> u32 {
        self.program.version()
    }

    /// Why the flow ended, once it has.
    pub fn end_reason(&self) -> Option<&EndReason> {
        match &self.state {
            State::Ended(reason) => Some(reason),
            _ => None,
        }
    }

    /// Id of the node whose command is pending.
    pub fn current_node(&self) -> Option<&str> {
        match &self.state {
            State::Waiting { node, .. } => Some(&self.program.node(*node).id),
            _ => None,
        }
    }

    fn node_id(&self, node: NodeIndex) -> String {
        self.program.node(node).id.clone()
    }

    /// Runs `then` with the menu step of `node`. The session only waits on a
    /// menu at a menu node; the other arm guards that invariant without panicking.
    fn with_menu(
        &mut self,
        node: NodeIndex,
        outcome: &Outcome,
        then: impl FnOnce(&mut Session, &MenuStep) -> Directive,
    ) -> Directive {
        let program = Arc::clone(&self.program);
        match &program.node(node).step {
            Step::Menu(menu) => then(self, menu),
            _ => self.end(EndReason::UnexpectedOutcome {
                node: self.node_id(node),
                outcome: outcome.clone(),
            }),
        }
    }

    /// Enters `first` and follows pure nodes until a command or the end.
    fn run_from(&mut self, first: NodeIndex) -> Directive {
        let program = Arc::clone(&self.program);
        let mut current = first;
        for _ in 0..STEP_LIMIT {
            let node = program.node(current);
            self.visited.push(node.id.clone());
            match &node.step {
                Step::Pass => match node.exits.select(DONE) {
                    Some(next) => current = next,
                    None => {
                        return self.end(EndReason::NoEdge {
                            node: node.id.clone(),
                            outcome: DONE.to_owned(),
                        })
                    }
                },
                Step::Play(play) => {
                    let command = Command::Play {
                        node: node.id.clone(),
                        prompt: play.prompt.clone(),
                    };
                    let plays_left = play.times.saturating_sub(1);
                    return self.issue(current, Wait::Play { plays_left }, command);
                }
                Step::Menu(menu) => {
                    let command = gather_command(node.id.clone(), &menu.gather);
                    return self.issue(current, Wait::Gather { failures: 0 }, command);
                }
                Step::Hangup => {
                    let command = Command::Hangup {
                        node: node.id.clone(),
                    };
                    return self.issue(current, Wait::Hangup, command);
                }
            }
        }
        self.end(EndReason::StepLimit)
    }

    /// Leaves `node` by the exit for `handle` (else its default exit).
    fn leave(&mut self, node: NodeIndex, handle: &str) -> Directive {
        match self.program.node(node).exits.select(handle) {
            Some(next) => self.run_from(next),
            None => self.end(EndReason::NoEdge {
                node: self.node_id(node),
                outcome: handle.to_owned(),
            }),
        }
    }

    /// A failed command leaves by an explicit `failed` edge only; otherwise the flow ends.
    fn command_failed(&mut self, node: NodeIndex, reason: String) -> Directive {
        match self.program.node(node).exits.exact(FAILED) {
            Some(next) => self.run_from(next),
            None => self.end(EndReason::Failed {
                node: self.node_id(node),
                reason,
            }),
        }
    }

    fn menu_entry(
        &mut self,
        node: NodeIndex,
        menu: &MenuStep,
        failures: u32,
        entered: &str,
    ) -> Directive {
        let digits = match menu.gather.terminator {
            Some(terminator) => entered.strip_suffix(terminator).unwrap_or(entered),
            None => entered,
        };
        if digits.is_empty() {
            return self.menu_failure(node, menu, failures, TIMEOUT);
        }
        self.digits.push(digits.to_owned());
        match self.program.node(node).exits.exact(&digit_handle(digits)) {
            Some(next) => self.run_from(next),
            None => self.menu_failure(node, menu, failures, INVALID),
        }
    }

    /// A failed attempt: replay the menu, or leave by `handle` once
    /// `max_failures` attempts have failed.
    fn menu_failure(
        &mut self,
        node: NodeIndex,
        menu: &MenuStep,
        failures: u32,
        handle: &str,
    ) -> Directive {
        let failures = failures.saturating_add(1);
        if failures >= menu.max_failures {
            return self.leave(node, handle);
        }
        let id = self.node_id(node);
        match &menu.invalid_prompt {
            Some(prompt) => {
                let command = Command::Play {
                    node: id,
                    prompt: prompt.clone(),
                };
                self.issue(node, Wait::InvalidPrompt { failures }, command)
            }
            None => self.issue(
                node,
                Wait::Gather { failures },
                gather_command(id, &menu.gather),
            ),
        }
    }

    fn issue(&mut self, node: NodeIndex, wait: Wait, command: Command) -> Directive {
        self.state = State::Waiting {
            node,
            wait,
            pending: command.clone(),
        };
        Directive::Execute(command)
    }

    fn end(&mut self, reason: EndReason) -> Directive {
        self.state = State::Ended(reason.clone());
        Directive::End(reason)
    }
}

fn gather_command(node: String, gather: &GatherSpec) -> Command {
    Command::Gather {
        node,
        prompt: gather.prompt.clone(),
        max_digits: gather.max_digits,
        timeout: gather.timeout,
        terminator: gather.terminator,
        interdigit_timeout: gather.interdigit_timeout,
    }
}
