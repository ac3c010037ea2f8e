//! Building the command of a node that touches the caller or the network,
//! with every template expanded.

use crate::flow::directive::{Audio, Command, Directive, EndReason};
use crate::flow::interpreter::trace_buffer::{render, render_optional, TraceBuffer};
use crate::flow::interpreter::{Session, Wait};
use crate::flow::program::{
    AudioTemplate, GatherSpec, NodeId, NodeIndex, ProgramNode, RecordStep, Step,
};
use crate::flow::trace::TraceEvent;
use crate::flow::vars::{Vars, VOIPBIN_RECORDING_ID};

impl Session {
    /// Hands out the command of `node`.
    pub(super) fn command_step(&mut self, index: NodeIndex, node: &ProgramNode) -> Directive {
        let id = node.id.clone();
        let (vars, trace) = (&self.vars, &mut self.trace);
        let (wait, command) = match &node.step {
            Step::Answer => (Wait::Answer, Command::Answer { node: id }),
            Step::Play(play) => (
                Wait::Play,
                Command::Play {
                    audio: render_audio(vars, trace, &id, &play.audio),
                    node: id,
                    times: play.times,
                },
            ),
            Step::Menu(menu) => (
                Wait::Gather { failures: 0 },
                gather_command(vars, trace, id, &menu.gather),
            ),
            Step::Collect(collect) => (
                Wait::Gather { failures: 0 },
                gather_command(vars, trace, id, &collect.gather),
            ),
            Step::DigitsReceive(gather) => {
                (Wait::DigitsReceive, gather_command(vars, trace, id, gather))
            }
            Step::SendDigits(send) => (
                Wait::Simple,
                Command::SendDigits {
                    digits: render(vars, trace, &id, &send.digits).into_owned(),
                    node: id,
                    tone: send.tone,
                    gap: send.gap,
                },
            ),
            Step::Http(http) => {
                let url = render(vars, trace, &id, &http.url).into_owned();
                let headers = http
                    .headers
                    .iter()
                    .map(|(name, value)| {
                        (name.clone(), render(vars, trace, &id, value).into_owned())
                    })
                    .collect();
                let body = render_optional(vars, trace, &id, http.body.as_ref());
                trace.push(|| TraceEvent::HttpRequest {
                    node: id.clone(),
                    method: http.method.clone(),
                    url: url.clone(),
                    wait: http.wait,
                });
                (
                    Wait::Http,
                    Command::Http {
                        node: id,
                        method: http.method.clone(),
                        url,
                        headers,
                        body,
                        timeout: http.timeout,
                        wait: http.wait,
                    },
                )
            }
            Step::Connect(connect) => (
                Wait::Connect { bridged: false },
                Command::Connect {
                    targets: connect
                        .targets
                        .iter()
                        .map(|target| render(vars, trace, &id, target).into_owned())
                        .collect(),
                    source: render_optional(vars, trace, &id, connect.source.as_ref()),
                    flow_id: render_optional(vars, trace, &id, connect.flow_id.as_ref()),
                    node: id,
                    kind: connect.kind,
                    timeout: connect.timeout,
                    early_media: connect.early_media,
                    flow: connect.flow.clone(),
                },
            ),
            Step::Record(RecordStep::Start(start)) => {
                self.recordings_started = self.recordings_started.saturating_add(1);
                let recording_id =
                    format!("{}-rec-{}", self.facts.call_id, self.recordings_started);
                self.set_var(&id, VOIPBIN_RECORDING_ID, &recording_id);
                (
                    Wait::Simple,
                    Command::RecordStart {
                        node: id,
                        recording_id,
                        format: start.format.clone(),
                        max_duration: start.max_duration,
                        end_of_silence: start.end_of_silence,
                        end_of_key: start.end_of_key,
                        beep: start.beep,
                        dual: start.dual,
                    },
                )
            }
            Step::Record(RecordStep::Stop) => (
                Wait::Simple,
                Command::RecordStop {
                    recording_id: vars.get(VOIPBIN_RECORDING_ID).map(str::to_owned),
                    node: id,
                },
            ),
            Step::Sleep(duration) => (
                Wait::Simple,
                Command::Sleep {
                    node: id,
                    duration: *duration,
                },
            ),
            Step::Block => (Wait::Simple, Command::Block { node: id }),
            Step::Hangup { reason, sip_status } => (
                Wait::Hangup,
                Command::Hangup {
                    reason: render_optional(vars, trace, &id, reason.as_ref()),
                    sip_status: *sip_status,
                    node: id,
                },
            ),
            Step::Pass
            | Step::SetVars(_)
            | Step::Compare(_)
            | Step::Branch(_)
            | Step::Goto { .. }
            | Step::TimeCondition { .. }
            | Step::DatetimeCondition(_)
            | Step::FetchFlow { .. }
            | Step::Stop
            | Step::Skip { .. } => {
                return self.end(EndReason::Failed {
                    node: id,
                    reason: "a pure-logic node has no command".to_owned(),
                })
            }
        };
        self.issue(index, wait, command)
    }
}

/// The gather command of `gather` for node `id`.
pub(super) fn gather_command(
    vars: &Vars,
    trace: &mut TraceBuffer,
    id: NodeId,
    gather: &GatherSpec,
) -> Command {
    Command::Gather {
        audio: render_audio(vars, trace, &id, &gather.audio),
        node: id,
        max_digits: gather.max_digits,
        timeout: gather.timeout,
        terminator: gather.terminator,
        interdigit_timeout: gather.interdigit_timeout,
    }
}

/// Audio with its templates expanded.
pub(super) fn render_audio(
    vars: &Vars,
    trace: &mut TraceBuffer,
    id: &NodeId,
    audio: &[AudioTemplate],
) -> Vec<Audio> {
    audio
        .iter()
        .map(|piece| match piece {
            AudioTemplate::Catalog(prompt) => {
                Audio::Catalog(render(vars, trace, id, prompt).into_owned())
            }
            AudioTemplate::Speak {
                text,
                language,
                voice,
            } => Audio::Speak {
                text: render(vars, trace, id, text).into_owned(),
                language: render_optional(vars, trace, id, language.as_ref()),
                voice: render_optional(vars, trace, id, voice.as_ref()),
            },
            AudioTemplate::Url(url) => Audio::Url(render(vars, trace, id, url).into_owned()),
            AudioTemplate::Beep => Audio::Beep,
        })
        .collect()
}
