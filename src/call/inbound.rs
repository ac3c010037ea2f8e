//! One inbound call: its SIP dialog's state, its media leg and its flow
//! session, glued together.
//!
//! The call turns flow commands into media work (play, gather, sleep), SIP
//! work (answer, hang up) and HTTP requests, and media, SIP and HTTP events
//! into flow outcomes. It never touches the SIP endpoint or a socket itself:
//! it queues [`CallAction`]s that the [`Host`](super::Host) applies, so a call
//! can be driven and inspected alone.
//!
//! Commands whose media side does not exist yet (connecting calls — dial,
//! queues, conferences, voicemail —, recording, sending DTMF, URL playback,
//! free-text speech that matches no catalog prompt) take their failure
//! outcome at once, with a logged reason and a counter: a call never sticks.
//! After the call is gone, a flow's `on_complete_flow_id` chain still runs
//! (after-call work): its HTTP requests are made, caller-facing commands fail.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::flow::{
    Audio, CallFacts, Command, Directive, EndReason, FlowEnv, Outcome, Program, Session,
};
use crate::media::{Codec, MediaConfig, MediaEvent, MediaSession, Prompt, PromptCatalog};
use crate::sip::{build_answer, AudioCodec, CallId, Negotiated};
use crate::time::Time;

use super::cdr::{CdrRecord, HangupCause, HangupSide};
use super::gather::{Gather, GatherEnd, GatherSpec};
use super::http::{HttpRequest, HttpResult};
use super::wall::WallClock;

/// A call's number on its shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallHandle(pub u64);

/// What the call asks of the SIP endpoint and the IO shell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallAction {
    /// Send 180 Ringing.
    Ring,
    /// Send 200 OK with this SDP answer.
    Answer { sdp: String },
    /// Send this final non-2xx status.
    Reject { status: u16 },
    /// Send BYE.
    Hangup,
    /// Perform this request; `wait`: the flow waits for [`Call::http_done`].
    Http { request: HttpRequest, wait: bool },
}

/// Who the call is from and to, as the INVITE said.
#[derive(Clone, Debug)]
pub struct CallParties {
    pub sip_call: CallId,
    pub from: String,
    pub to: String,
}

/// Random values a call needs for its RTP stream, chosen by the host's seeded RNG.
#[derive(Clone, Copy, Debug)]
pub struct RtpSeed {
    pub ssrc: u32,
    pub initial_seq: u16,
    pub initial_timestamp: u32,
    pub sdp_session_id: u64,
}

/// What a call runs: the flow, the environment, its entry variables, the prompts.
#[derive(Clone)]
pub struct CallPlan {
    pub program: Arc<Program>,
    pub env: Arc<FlowEnv>,
    pub dest_xform: Option<Arc<Map<String, Value>>>,
    pub prompts: Arc<PromptCatalog>,
    pub answer_delay: Duration,
    pub wall: WallClock,
    pub shard: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the shell to open the RTP socket.
    OpeningMedia,
    /// 180 sent; answering at the instant given.
    Ringing { answer_at: Time },
    /// Answered; the flow runs.
    Active,
    /// BYE sent or received, or the call was rejected; waiting for SIP to finish.
    Ending,
    /// SIP is done.
    Ended,
}

enum Activity {
    /// Nothing the flow waits for (or the flow has ended).
    Idle,
    Playing,
    Gathering(Gather),
    Sleeping {
        until: Time,
    },
    AwaitingHttp,
    /// Bridged: waits for the bridge to end or the caller to hang up.
    Waiting,
}

/// Counters of what a call could not do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallCounters {
    /// Commands that failed because their media side is not available.
    pub unsupported_commands: u64,
    /// Prompts a play or gather named that the catalog lacks.
    pub missing_prompts: u64,
}

/// One call.
pub struct Call {
    handle: CallHandle,
    parties: CallParties,
    phase: Phase,
    negotiated: Negotiated,
    plan: CallPlan,
    session: Session,
    /// Whether `session` still has work (the call may be gone: after-call work).
    flow_running: bool,
    media: Option<MediaSession>,
    activity: Activity,
    actions: VecDeque<CallAction>,
    seed: RtpSeed,
    local_rtp: Option<SocketAddr>,
    start: Time,
    answer: Option<Time>,
    end: Option<Time>,
    cause: Option<(HangupCause, HangupSide)>,
    sip_status: u16,
    flow_end: Option<String>,
    /// Nodes and digits of sessions already finished (on_complete chains).
    earlier_nodes: Vec<String>,
    earlier_digits: Vec<String>,
    counters: CallCounters,
}

impl Call {
    /// A call whose INVITE was accepted for routing; it waits for its RTP socket.
    pub fn new(
        handle: CallHandle,
        parties: CallParties,
        negotiated: Negotiated,
        plan: CallPlan,
        seed: RtpSeed,
        now: Time,
    ) -> Call {
        let facts = CallFacts::new(
            parties.from.clone(),
            parties.to.clone(),
            parties.sip_call.to_string(),
        );
        let mut session = Session::new(
            plan.program.clone(),
            plan.env.clone(),
            facts,
            plan.dest_xform.as_deref(),
        );
        session.set_tracing(false);
        Call {
            handle,
            parties,
            phase: Phase::OpeningMedia,
            negotiated,
            plan,
            session,
            flow_running: true,
            media: None,
            activity: Activity::Idle,
            actions: VecDeque::new(),
            seed,
            local_rtp: None,
            start: now,
            answer: None,
            end: None,
            cause: None,
            sip_status: 100,
            flow_end: None,
            earlier_nodes: Vec::new(),
            earlier_digits: Vec::new(),
            counters: CallCounters::default(),
        }
    }

    /// The call's handle.
    pub fn handle(&self) -> CallHandle {
        self.handle
    }

    /// The SIP Call-ID.
    pub fn sip_call(&self) -> &CallId {
        &self.parties.sip_call
    }

    /// The next action for the endpoint or shell.
    pub fn poll_action(&mut self) -> Option<CallAction> {
        self.actions.pop_front()
    }

    /// Whether the call is over — SIP done and no after-call flow running —
    /// and its CDR can be taken.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Ended && !self.flow_running
    }

    /// Whether the call holds an RTP socket the shell must close when it ends.
    pub fn has_media_socket(&self) -> bool {
        self.local_rtp.is_some()
    }

    /// What the call could not do.
    pub fn counters(&self) -> CallCounters {
        self.counters
    }

    /// The RTP socket is open at `local`: ring or answer.
    pub fn media_opened(&mut self, now: Time, local: SocketAddr) {
        if self.phase != Phase::OpeningMedia {
            return;
        }
        self.local_rtp = Some(local);
        if self.plan.answer_delay.is_zero() {
            self.answer_now(now);
        } else {
            self.actions.push_back(CallAction::Ring);
            self.sip_status = 180;
            self.phase = Phase::Ringing {
                answer_at: now + self.plan.answer_delay,
            };
        }
    }

    /// No RTP socket could be opened: reject with 503.
    pub fn media_failed(&mut self, now: Time) {
        self.reject(now, 503, HangupCause::MediaUnavailable);
    }

    /// Rejects the call before it was answered.
    pub fn reject(&mut self, now: Time, status: u16, cause: HangupCause) {
        self.actions.push_back(CallAction::Reject { status });
        self.sip_status = status;
        self.flow_running = false;
        self.finish(now, cause, HangupSide::Callplane);
    }

    fn answer_now(&mut self, now: Time) {
        let Some(local) = self.local_rtp else {
            return;
        };
        let sdp = build_answer(
            self.seed.sdp_session_id,
            local.ip(),
            local.port(),
            &self.negotiated,
        );
        self.actions.push_back(CallAction::Answer { sdp });
        self.sip_status = 200;
        self.answer = Some(now);
        self.phase = Phase::Active;
        self.media = Some(MediaSession::new(
            MediaConfig {
                codec: match self.negotiated.codec {
                    AudioCodec::Pcmu => Codec::Pcmu,
                    AudioCodec::Pcma => Codec::Pcma,
                },
                codec_pt: self.negotiated.codec_pt,
                dtmf_pt: self.negotiated.dtmf_pt,
                remote: self.negotiated.remote_rtp,
                ssrc: self.seed.ssrc,
                initial_seq: self.seed.initial_seq,
                initial_timestamp: self.seed.initial_timestamp,
            },
            now,
        ));
        let directive = self.session.start(self.plan.wall.at(now));
        self.run(now, directive);
    }

    /// The caller cancelled before the answer (the endpoint already sent 487).
    pub fn cancelled(&mut self, now: Time) {
        self.sip_status = 487;
        self.flow_running = false;
        self.finish(now, HangupCause::Cancelled, HangupSide::Caller);
        self.settle();
    }

    /// The caller sent BYE (the endpoint already answered it).
    pub fn remote_hangup(&mut self, now: Time) {
        let was_active = self.phase == Phase::Active;
        self.finish(now, HangupCause::CallerHangup, HangupSide::Caller);
        self.settle();
        if was_active && self.flow_running {
            let directive = self
                .session
                .resume(Outcome::CallerHangup, self.plan.wall.at(now));
            self.run(now, directive);
        } else if !was_active {
            self.flow_running = false;
        }
    }

    /// The dialog is gone: our BYE completed or timed out, or the ACK never came.
    pub fn terminated(&mut self, now: Time, ack_timeout: bool) {
        if ack_timeout && self.phase == Phase::Active {
            self.finish(now, HangupCause::AckTimeout, HangupSide::Callplane);
            let directive = self
                .session
                .resume(Outcome::CallerHangup, self.plan.wall.at(now));
            self.run(now, directive);
        }
        self.phase = Phase::Ended;
        self.end.get_or_insert(now);
    }

    /// The server is going down: hang up (or reject, before the answer).
    pub fn shutdown(&mut self, now: Time) {
        match self.phase {
            Phase::OpeningMedia | Phase::Ringing { .. } => {
                self.reject(now, 503, HangupCause::Shutdown)
            }
            Phase::Active => {
                self.flow_running = false;
                self.hangup(now, HangupCause::Shutdown);
            }
            Phase::Ending | Phase::Ended => self.flow_running = false,
        }
    }

    /// A datagram arrived on the call's RTP socket.
    pub fn handle_rtp(&mut self, now: Time, from: SocketAddr, packet: &[u8]) {
        if let Some(media) = self.media.as_mut() {
            media.handle_rtp(now, from, packet);
        }
        self.drain_media_events(now);
    }

    /// The answer to a request this call's flow waits for.
    pub fn http_done(&mut self, now: Time, result: HttpResult) {
        if !matches!(self.activity, Activity::AwaitingHttp) {
            return;
        }
        self.activity = Activity::Idle;
        let outcome = match result {
            HttpResult::Response { status, body } => Outcome::Http { status, body },
            HttpResult::Failed(reason) => Outcome::Failed(reason),
        };
        let directive = self.session.resume(outcome, self.plan.wall.at(now));
        self.run(now, directive);
    }

    /// Runs every timer that is due.
    pub fn handle_timeout(&mut self, now: Time) {
        if let Phase::Ringing { answer_at } = self.phase {
            if answer_at <= now {
                self.answer_now(now);
            }
        }
        if let Some(media) = self.media.as_mut() {
            media.handle_timeout(now);
        }
        self.drain_media_events(now);
        match &mut self.activity {
            Activity::Gathering(gather) => {
                if let Some(end) = gather.timeout(now) {
                    self.activity = Activity::Idle;
                    self.gather_ended(now, end);
                }
            }
            Activity::Sleeping { until } if *until <= now => {
                self.activity = Activity::Idle;
                let directive = self.session.resume(Outcome::Done, self.plan.wall.at(now));
                self.run(now, directive);
            }
            _ => {}
        }
    }

    /// The earliest instant [`Call::handle_timeout`] must run.
    pub fn poll_timeout(&self) -> Option<Time> {
        let ring = match self.phase {
            Phase::Ringing { answer_at } => Some(answer_at),
            _ => None,
        };
        let media = self.media.as_ref().and_then(MediaSession::poll_timeout);
        let activity = match &self.activity {
            Activity::Gathering(g) => g.deadline(),
            Activity::Sleeping { until } => Some(*until),
            _ => None,
        };
        [ring, media, activity].into_iter().flatten().min()
    }

    /// Writes the next due RTP packet into `buf`; returns its length and destination.
    pub fn poll_rtp(&mut self, now: Time, buf: &mut [u8]) -> Option<(SocketAddr, usize)> {
        let media = self.media.as_mut()?;
        let len = media.poll_transmit(now, buf)?;
        Some((media.remote(), len))
    }

    /// The CDR, once the call has ended.
    pub fn cdr(&self) -> Option<CdrRecord> {
        let (cause, side) = self.cause.clone()?;
        let mut nodes = self.earlier_nodes.clone();
        nodes.extend(
            self.session
                .visited()
                .iter()
                .map(|n| n.as_str().to_string()),
        );
        let mut digits = self.earlier_digits.clone();
        digits.extend(self.session.digits().iter().cloned());
        Some(CdrRecord {
            call_id: self.parties.sip_call.to_string(),
            from: self.parties.from.clone(),
            to: self.parties.to.clone(),
            flow_id: Some(self.plan.program.id().to_string()),
            flow_version: Some(self.plan.program.version()),
            start: self.start,
            answer: self.answer,
            end: self.end.unwrap_or(self.start),
            hangup_cause: cause,
            hangup_side: side,
            sip_status: self.sip_status,
            digits,
            nodes,
            flow_end: self.flow_end.clone(),
            shard: self.plan.shard,
        })
    }

    fn drain_media_events(&mut self, now: Time) {
        while let Some(event) = self.media.as_mut().and_then(MediaSession::poll_event) {
            if self.phase != Phase::Active {
                continue;
            }
            match event {
                MediaEvent::Dtmf { digit } => self.on_digit(now, digit),
                MediaEvent::PlaybackIdle => self.on_playback_idle(now),
                _ => {}
            }
        }
    }

    fn on_digit(&mut self, now: Time, digit: char) {
        let Activity::Gathering(gather) = &mut self.activity else {
            return;
        };
        let first = !gather.has_digits();
        let end = gather.digit(now, digit);
        if first {
            if let Some(media) = self.media.as_mut() {
                media.stop_playback();
            }
        }
        if let Some(end) = end {
            self.activity = Activity::Idle;
            self.gather_ended(now, end);
        }
    }

    fn on_playback_idle(&mut self, now: Time) {
        match &mut self.activity {
            Activity::Playing => {
                self.activity = Activity::Idle;
                let directive = self.session.resume(Outcome::Done, self.plan.wall.at(now));
                self.run(now, directive);
            }
            Activity::Gathering(gather) => gather.prompt_finished(now),
            _ => {}
        }
    }

    fn gather_ended(&mut self, now: Time, end: GatherEnd) {
        let outcome = match end {
            GatherEnd::Digits(digits) => Outcome::Digits(digits),
            GatherEnd::Timeout => Outcome::Timeout,
        };
        let directive = self.session.resume(outcome, self.plan.wall.at(now));
        self.run(now, directive);
    }

    /// Executes flow directives until one waits for the media plane, the
    /// network or the caller, or the flow (and its follow-ups) end.
    fn run(&mut self, now: Time, mut directive: Directive) {
        loop {
            if !self.flow_running {
                return;
            }
            match directive {
                Directive::Execute(command) => match self.execute(now, command) {
                    Some(outcome) => {
                        directive = self.session.resume(outcome, self.plan.wall.at(now));
                    }
                    None => return,
                },
                Directive::Wait { .. } => {
                    self.activity = Activity::Waiting;
                    return;
                }
                Directive::End(reason) => {
                    if let Some(next) = self.session.take_follow_up() {
                        self.earlier_nodes.extend(
                            self.session
                                .visited()
                                .iter()
                                .map(|n| n.as_str().to_string()),
                        );
                        self.earlier_digits
                            .extend(self.session.digits().iter().cloned());
                        self.session = next;
                        self.session.set_tracing(false);
                        directive = self.session.start(self.plan.wall.at(now));
                        continue;
                    }
                    self.flow_running = false;
                    self.activity = Activity::Idle;
                    let cause = match &reason {
                        EndReason::Hangup { .. } => HangupCause::NormalClearing,
                        EndReason::CallerHangup { .. } => HangupCause::CallerHangup,
                        other => {
                            if self.flow_end.is_none() {
                                self.flow_end = Some(other.to_string());
                            }
                            log::info!("call {}: flow ended: {other}", self.parties.sip_call);
                            HangupCause::FlowEnded
                        }
                    };
                    self.hangup(now, cause);
                    return;
                }
            }
        }
    }

    /// Carries out one command: `Some(outcome)` when it completed at once,
    /// `None` when the call now waits for media, a timer or the network.
    fn execute(&mut self, now: Time, command: Command) -> Option<Outcome> {
        let caller_present = self.phase == Phase::Active;
        match command {
            Command::Http {
                method,
                url,
                headers,
                body,
                timeout,
                wait,
                ..
            } => {
                let request = HttpRequest {
                    method,
                    url,
                    headers,
                    body,
                    timeout,
                };
                self.actions.push_back(CallAction::Http { request, wait });
                if wait {
                    self.activity = Activity::AwaitingHttp;
                    None
                } else {
                    Some(Outcome::Done)
                }
            }
            Command::Hangup { .. } => {
                self.hangup(now, HangupCause::NormalClearing);
                Some(Outcome::Done)
            }
            _ if !caller_present => Some(Outcome::Failed("the call has ended".into())),
            Command::Answer { .. } => Some(Outcome::Done),
            Command::Play { audio, times, .. } => match self.resolve_all(&audio) {
                Ok(prompts) if prompts.is_empty() => Some(Outcome::Done),
                Ok(prompts) => {
                    if let Some(media) = self.media.as_mut() {
                        for _ in 0..times.max(1) {
                            for prompt in &prompts {
                                media.play(prompt.clone());
                            }
                        }
                    }
                    self.activity = Activity::Playing;
                    None
                }
                Err(reason) => Some(Outcome::Failed(reason)),
            },
            Command::Gather {
                audio,
                max_digits,
                timeout,
                terminator,
                interdigit_timeout,
                ..
            } => {
                let prompts = match self.resolve_all(&audio) {
                    Ok(prompts) => prompts,
                    Err(reason) => return Some(Outcome::Failed(reason)),
                };
                let mut gather = Gather::new(GatherSpec {
                    max_digits,
                    terminator,
                    first_digit_timeout: timeout,
                    interdigit_timeout,
                });
                if prompts.is_empty() {
                    gather.prompt_finished(now);
                } else if let Some(media) = self.media.as_mut() {
                    for prompt in prompts {
                        media.play(prompt);
                    }
                }
                self.activity = Activity::Gathering(gather);
                None
            }
            Command::Sleep { duration, .. } => {
                self.activity = Activity::Sleeping {
                    until: now + duration,
                };
                None
            }
            Command::SendDigits { .. } => self.unsupported("sending DTMF"),
            Command::RecordStart { .. } | Command::RecordStop { .. } => {
                self.unsupported("recording")
            }
            Command::Connect { kind, .. } => {
                self.unsupported(&format!("connecting calls ({})", kind.name()))
            }
        }
    }

    fn unsupported(&mut self, what: &str) -> Option<Outcome> {
        self.counters.unsupported_commands += 1;
        let reason = format!("{what} is not available on this media plane yet");
        log::warn!("call {}: {reason}", self.parties.sip_call);
        Some(Outcome::Failed(reason))
    }

    fn resolve_all(&mut self, audio: &[Audio]) -> Result<Vec<Arc<Prompt>>, String> {
        let mut prompts = Vec::with_capacity(audio.len());
        for item in audio {
            let found = match item {
                Audio::Catalog(id) => self
                    .plan
                    .prompts
                    .get(id)
                    .cloned()
                    .ok_or_else(|| format!("no prompt with id {id:?} in the catalog")),
                Audio::Speak { text, .. } => self.plan.prompts.find_by_text(text).cloned().ok_or_else(|| {
                    format!("no catalog prompt says {text:?} (free-text speech needs a TTS provider)")
                }),
                Audio::Beep => self
                    .plan
                    .prompts
                    .get(crate::media::BEEP_PROMPT_ID)
                    .cloned()
                    .ok_or_else(|| "the catalog has no beep".to_string()),
                Audio::Url(url) => Err(format!("playing a URL ({url}) is not available yet")),
            };
            match found {
                Ok(prompt) => prompts.push(prompt),
                Err(reason) => {
                    self.counters.missing_prompts += 1;
                    log::warn!("call {}: {reason}", self.parties.sip_call);
                    return Err(reason);
                }
            }
        }
        Ok(prompts)
    }

    fn hangup(&mut self, now: Time, cause: HangupCause) {
        if self.phase == Phase::Active {
            self.actions.push_back(CallAction::Hangup);
            self.finish(now, cause, HangupSide::Callplane);
        }
    }

    fn finish(&mut self, now: Time, cause: HangupCause, side: HangupSide) {
        if self.cause.is_none() {
            self.cause = Some((cause, side));
            self.end = Some(now);
        }
        self.media = None;
        if !matches!(self.activity, Activity::AwaitingHttp) {
            self.activity = Activity::Idle;
        }
        if self.phase != Phase::Ended {
            self.phase = Phase::Ending;
        }
    }

    /// Marks a call whose SIP side needs nothing more (a rejection, a BYE received).
    pub fn settle(&mut self) {
        if self.phase == Phase::Ending {
            self.phase = Phase::Ended;
        }
    }
}
