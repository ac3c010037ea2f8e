//! Handling the outcome of a pending command: menus and collects (retries,
//! validation), digit entries, HTTP responses, connects and bridges, and every
//! outcome that does not fit the command.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::flow::directive::Command;
use crate::flow::directive::{ConnectKind, Directive, EndReason, Outcome};
use crate::flow::handle::{
    ANSWERED, BUSY, COLLECTED, DONE, ERROR, INVALID, NO_ANSWER, SUCCESS, TIMEOUT,
};
use crate::flow::interpreter::commands::{gather_command, render_audio};
use crate::flow::interpreter::{Session, State, Wait};
use crate::flow::program::{AudioTemplate, GatherSpec, NodeIndex, ResponseStore, Step};
use crate::flow::trace::TraceEvent;
use crate::flow::vars::{flatten_json, VOIPBIN_CALL_STATUS, VOIPBIN_DIGITS};

/// `voipbin.call.status` once the call is answered or a connect was answered.
const STATUS_PROGRESSING: &str = "progressing";

impl Session {
    pub(super) fn handle_outcome(&mut self, outcome: Outcome, now: DateTime<Utc>) -> Directive {
        let (node, wait) = match &self.state {
            State::Ended(reason) => return Directive::End(reason.clone()),
            State::NotStarted => {
                let node = self.root.node(self.root.start()).id.clone();
                let reason = match outcome {
                    Outcome::CallerHangup => EndReason::CallerHangup { node },
                    outcome => EndReason::UnexpectedOutcome { node, outcome },
                };
                return self.end(reason);
            }
            State::Waiting { node, wait, .. } => (*node, *wait),
        };
        match (wait, outcome) {
            (Wait::Hangup, _) => {
                let node = self.node_id(node);
                self.end(EndReason::Hangup { node })
            }
            (_, Outcome::CallerHangup) => {
                let node = self.node_id(node);
                self.end(EndReason::CallerHangup { node })
            }
            (Wait::Connect { bridged }, outcome) => {
                self.connect_outcome(node, bridged, outcome, now)
            }
            (Wait::InvalidAudio { failures }, Outcome::Done | Outcome::Failed(_)) => {
                self.gather_again(node, failures)
            }
            (_, Outcome::Failed(reason)) => self.fail(node, reason, now),
            (Wait::Answer, Outcome::Done) => {
                let id = self.node_id(node);
                self.set_var(&id, VOIPBIN_CALL_STATUS, STATUS_PROGRESSING);
                self.leave(node, DONE, now)
            }
            (Wait::Play | Wait::Simple, Outcome::Done) => self.leave(node, DONE, now),
            (Wait::Simple, Outcome::Timeout) if self.is_sleep(node) => self.leave(node, DONE, now),
            (Wait::Gather { failures }, Outcome::Digits(entry)) => {
                self.gather_entry(node, failures, &entry, now)
            }
            (Wait::Gather { failures }, Outcome::Timeout) => {
                self.gather_failure(node, failures, TIMEOUT, now)
            }
            (Wait::DigitsReceive, Outcome::Digits(entry)) => {
                let id = self.node_id(node);
                self.set_var(&id, VOIPBIN_DIGITS, &entry);
                self.digits.push(entry);
                self.leave(node, DONE, now)
            }
            (Wait::DigitsReceive, Outcome::Timeout) => {
                let id = self.node_id(node);
                self.set_var(&id, VOIPBIN_DIGITS, "");
                self.leave(node, DONE, now)
            }
            (Wait::Http, Outcome::Http { status, body }) => {
                self.store_response(node, status, &body);
                let handle = if (200..300).contains(&status) {
                    SUCCESS
                } else {
                    ERROR
                };
                self.leave(node, handle, now)
            }
            (Wait::Http, Outcome::Done) => self.leave(node, DONE, now),
            (_, outcome) => {
                let node = self.node_id(node);
                self.end(EndReason::UnexpectedOutcome { node, outcome })
            }
        }
    }

    fn is_sleep(&self, node: NodeIndex) -> bool {
        matches!(self.current.program.node(node).step, Step::Sleep(_))
    }

    /// The gather spec, retry count and invalid audio of a menu or collect node.
    fn gather_parts(&self, node: NodeIndex) -> Option<(GatherSpec, u32, Vec<AudioTemplate>)> {
        match &self.current.program.node(node).step {
            Step::Menu(menu) => Some((
                menu.gather.clone(),
                menu.max_failures,
                menu.invalid_audio.clone(),
            )),
            Step::Collect(collect) => Some((
                collect.gather.clone(),
                collect.max_failures,
                collect.invalid_audio.clone(),
            )),
            _ => None,
        }
    }

    fn gather_entry(
        &mut self,
        node: NodeIndex,
        failures: u32,
        entry: &str,
        now: DateTime<Utc>,
    ) -> Directive {
        let program = Arc::clone(&self.current.program);
        let from = program.node(node);
        let terminator = match &from.step {
            Step::Menu(menu) => menu.gather.terminator,
            Step::Collect(collect) => collect.gather.terminator,
            _ => None,
        };
        let digits = match terminator {
            Some(terminator) => entry.strip_suffix(terminator).unwrap_or(entry),
            None => entry,
        };
        if digits.is_empty() {
            return self.gather_failure(node, failures, TIMEOUT, now);
        }
        self.digits.push(digits.to_owned());
        self.set_var(&from.id, VOIPBIN_DIGITS, digits);
        match &from.step {
            Step::Menu(_) => match from.exits.exact_digits(digits) {
                Some(target) => self.run_from(target, now),
                None => self.gather_failure(node, failures, INVALID, now),
            },
            Step::Collect(collect) => {
                let count = digits.chars().count();
                let valid = count >= collect.min_digits as usize
                    && count <= collect.gather.max_digits as usize
                    && collect
                        .pattern
                        .as_ref()
                        .is_none_or(|pattern| pattern.matches(digits));
                if valid {
                    self.set_var(&from.id, &collect.variable, digits);
                    self.leave(node, COLLECTED, now)
                } else {
                    self.gather_failure(node, failures, INVALID, now)
                }
            }
            _ => self.end(EndReason::UnexpectedOutcome {
                node: from.id.clone(),
                outcome: Outcome::Digits(entry.to_owned()),
            }),
        }
    }

    /// A failed attempt: play the invalid audio and retry, or leave by
    /// `handle` once `max_failures` attempts have failed.
    fn gather_failure(
        &mut self,
        node: NodeIndex,
        failures: u32,
        handle: &'static str,
        now: DateTime<Utc>,
    ) -> Directive {
        let failures = failures.saturating_add(1);
        let Some((_, max_failures, invalid_audio)) = self.gather_parts(node) else {
            return self.leave(node, handle, now);
        };
        if failures >= max_failures {
            return self.leave(node, handle, now);
        }
        if invalid_audio.is_empty() {
            return self.gather_again(node, failures);
        }
        let id = self.node_id(node);
        let audio = render_audio(&self.vars, &mut self.trace, &id, &invalid_audio);
        self.issue(
            node,
            Wait::InvalidAudio { failures },
            Command::Play {
                node: id,
                audio,
                times: 1,
            },
        )
    }

    fn gather_again(&mut self, node: NodeIndex, failures: u32) -> Directive {
        let id = self.node_id(node);
        let Some((gather, _, _)) = self.gather_parts(node) else {
            return self.end(EndReason::UnexpectedOutcome {
                node: id,
                outcome: Outcome::Done,
            });
        };
        let command = gather_command(&self.vars, &mut self.trace, id, &gather);
        self.issue(node, Wait::Gather { failures }, command)
    }

    fn store_response(&mut self, node: NodeIndex, status: u16, body: &str) {
        let program = Arc::clone(&self.current.program);
        let from = program.node(node);
        self.trace.push(|| TraceEvent::HttpResponse {
            node: from.id.clone(),
            status,
        });
        let Step::Http(http) = &from.step else {
            return;
        };
        let parsed = serde_json::from_str::<serde_json::Value>(body).ok();
        let mut pairs = Vec::new();
        match (&http.store, parsed) {
            (ResponseStore::Discard, _) => {}
            (ResponseStore::Merge, Some(value @ serde_json::Value::Object(_))) => {
                flatten_json("", &value, &mut pairs);
            }
            (ResponseStore::Merge, _) => {
                if !body.trim().is_empty() {
                    self.trace.push(|| TraceEvent::HttpBodyNotJson {
                        node: from.id.clone(),
                    });
                }
            }
            (ResponseStore::Under(key), Some(value)) if value.is_object() || value.is_array() => {
                flatten_json(key, &value, &mut pairs);
            }
            (ResponseStore::Under(key), Some(value)) => {
                pairs.push((key.clone(), crate::flow::vars::scalar_text(&value)));
            }
            (ResponseStore::Under(key), None) => pairs.push((key.clone(), body.to_owned())),
        }
        for (key, value) in pairs {
            self.set_var(&from.id, &key, &value);
        }
    }

    fn connect_outcome(
        &mut self,
        node: NodeIndex,
        bridged: bool,
        outcome: Outcome,
        now: DateTime<Utc>,
    ) -> Directive {
        let program = Arc::clone(&self.current.program);
        let from = program.node(node);
        let Step::Connect(connect) = &from.step else {
            return self.end(EndReason::UnexpectedOutcome {
                node: from.id.clone(),
                outcome,
            });
        };
        let kind = connect.kind;
        let sets_status = !matches!(
            kind,
            ConnectKind::Call | ConnectKind::Conference | ConnectKind::Voicemail
        );
        let status = |session: &mut Session, value: &str| {
            if sets_status {
                session.set_var(&from.id, VOIPBIN_CALL_STATUS, value);
            }
        };
        match (kind, outcome) {
            (ConnectKind::Call, Outcome::Failed(reason)) => self.fail(node, reason, now),
            (ConnectKind::Call, _) => self.leave(node, DONE, now),
            (
                ConnectKind::Conference | ConnectKind::Voicemail,
                Outcome::Done | Outcome::BridgeEnded,
            ) => self.leave(node, DONE, now),
            (_, Outcome::Answered) if !bridged => {
                status(self, STATUS_PROGRESSING);
                let directive = Directive::Wait {
                    node: from.id.clone(),
                };
                self.state = State::Waiting {
                    node,
                    wait: Wait::Connect { bridged: true },
                    pending: directive.clone(),
                };
                directive
            }
            (_, Outcome::BridgeEnded | Outcome::Done) => match from.exits.exact(ANSWERED) {
                Some(target) => self.run_from(target, now),
                None => self.end(EndReason::BridgeEnded {
                    node: from.id.clone(),
                }),
            },
            (ConnectKind::Queue, Outcome::Timeout | Outcome::NoAnswer) if !bridged => {
                status(self, TIMEOUT);
                self.leave(node, TIMEOUT, now)
            }
            (_, Outcome::NoAnswer | Outcome::Timeout) if !bridged => {
                status(self, NO_ANSWER);
                self.leave(node, NO_ANSWER, now)
            }
            (ConnectKind::Queue, Outcome::Busy) if !bridged => {
                status(self, BUSY);
                self.fail(node, "queue busy".to_owned(), now)
            }
            (_, Outcome::Busy) if !bridged => {
                status(self, BUSY);
                self.leave(node, BUSY, now)
            }
            (_, Outcome::Failed(reason)) => {
                status(self, crate::flow::handle::FAILED);
                self.fail(node, reason, now)
            }
            (_, outcome) => self.end(EndReason::UnexpectedOutcome {
                node: from.id.clone(),
                outcome,
            }),
        }
    }
}
