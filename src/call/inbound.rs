//! One inbound call: its SIP dialog's state, its media leg and its flow
//! session, glued together.
//!
//! The call turns flow commands into media work (play, gather) and SIP work
//! (answer, hang up), and media and SIP events into flow outcomes. It never
//! touches the SIP endpoint itself: it queues [`CallAction`]s that the
//! [`Host`](super::Host) applies, so a call can be driven and inspected alone.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::flow::{Command, Directive, EndReason, Outcome, Program, PromptRef, Session};
use crate::media::{Codec, MediaConfig, MediaEvent, MediaSession, Prompt, PromptCatalog};
use crate::sip::{build_answer, AudioCodec, CallId, Negotiated};
use crate::time::Time;

use super::cdr::{CdrRecord, HangupCause, HangupSide};
use super::gather::{Gather, GatherEnd, GatherSpec};

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

#[derive(Debug)]
enum Phase {
    /// Waiting for the shell to open the RTP socket.
    OpeningMedia,
    /// 180 sent; answering at the instant given.
    Ringing { answer_at: Time },
    /// Answered; the flow runs.
    Active,
    /// BYE sent or received, or the call was rejected; waiting for SIP to finish.
    Ending,
    /// Nothing more will happen; the CDR is ready.
    Ended,
}

enum Activity {
    Idle,
    Playing,
    Gathering(Gather),
}

/// One call.
pub struct Call {
    handle: CallHandle,
    parties: CallParties,
    phase: Phase,
    negotiated: Negotiated,
    session: Session,
    media: Option<MediaSession>,
    activity: Activity,
    prompts: Arc<PromptCatalog>,
    actions: VecDeque<CallAction>,
    answer_delay: Duration,
    seed: RtpSeed,
    local_rtp: Option<SocketAddr>,
    start: Time,
    answer: Option<Time>,
    end: Option<Time>,
    cause: Option<(HangupCause, HangupSide)>,
    sip_status: u16,
    flow_end: Option<String>,
    shard: usize,
}

impl Call {
    /// A call whose INVITE was accepted for routing; it waits for its RTP socket.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        handle: CallHandle,
        parties: CallParties,
        negotiated: Negotiated,
        program: Arc<Program>,
        prompts: Arc<PromptCatalog>,
        answer_delay: Duration,
        seed: RtpSeed,
        shard: usize,
        now: Time,
    ) -> Call {
        let vars = [
            ("caller_cid".to_string(), parties.from.clone()),
            ("voipbin.call.caller_id".to_string(), parties.from.clone()),
            (
                "voipbin.call.source.target".to_string(),
                parties.from.clone(),
            ),
            (
                "voipbin.call.destination.target".to_string(),
                parties.to.clone(),
            ),
            ("voipbin.call.id".to_string(), parties.sip_call.to_string()),
        ];
        Call {
            handle,
            parties,
            phase: Phase::OpeningMedia,
            negotiated,
            session: Session::new(program, vars),
            media: None,
            activity: Activity::Idle,
            prompts,
            actions: VecDeque::new(),
            answer_delay,
            seed,
            local_rtp: None,
            start: now,
            answer: None,
            end: None,
            cause: None,
            sip_status: 100,
            flow_end: None,
            shard,
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

    /// Whether the call is over and its CDR can be taken.
    pub fn is_ended(&self) -> bool {
        matches!(self.phase, Phase::Ended)
    }

    /// Whether the call holds an RTP socket the shell must close when it ends.
    pub fn has_media_socket(&self) -> bool {
        self.local_rtp.is_some()
    }

    /// The RTP socket is open at `local`: ring or answer.
    pub fn media_opened(&mut self, now: Time, local: SocketAddr) {
        if !matches!(self.phase, Phase::OpeningMedia) {
            return;
        }
        self.local_rtp = Some(local);
        if self.answer_delay.is_zero() {
            self.answer_now(now);
        } else {
            self.actions.push_back(CallAction::Ring);
            self.sip_status = 180;
            self.phase = Phase::Ringing {
                answer_at: now + self.answer_delay,
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
        let directive = self.session.start();
        self.run(now, directive);
    }

    /// The caller cancelled before the answer (the endpoint already sent 487).
    pub fn cancelled(&mut self, now: Time) {
        self.sip_status = 487;
        self.finish(now, HangupCause::Cancelled, HangupSide::Caller);
    }

    /// The caller sent BYE (the endpoint already answered it).
    pub fn remote_hangup(&mut self, now: Time) {
        if matches!(self.phase, Phase::Active) {
            let _ = self.session.resume(Outcome::CallerHangup);
        }
        self.finish(now, HangupCause::CallerHangup, HangupSide::Caller);
    }

    /// The dialog is gone: our BYE completed or timed out, or the ACK never came.
    pub fn terminated(&mut self, now: Time, ack_timeout: bool) {
        if ack_timeout && !matches!(self.phase, Phase::Ending | Phase::Ended) {
            self.finish(now, HangupCause::AckTimeout, HangupSide::Callplane);
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
            Phase::Active => self.hangup(now, HangupCause::Shutdown),
            Phase::Ending | Phase::Ended => {}
        }
    }

    /// A datagram arrived on the call's RTP socket.
    pub fn handle_rtp(&mut self, now: Time, from: SocketAddr, packet: &[u8]) {
        if let Some(media) = self.media.as_mut() {
            media.handle_rtp(now, from, packet);
        }
        self.drain_media_events(now);
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
        if let Activity::Gathering(gather) = &mut self.activity {
            if let Some(end) = gather.timeout(now) {
                self.activity = Activity::Idle;
                self.gather_ended(now, end);
            }
        }
    }

    /// The earliest instant [`Call::handle_timeout`] must run.
    pub fn poll_timeout(&self) -> Option<Time> {
        let ring = match self.phase {
            Phase::Ringing { answer_at } => Some(answer_at),
            _ => None,
        };
        let media = self.media.as_ref().and_then(MediaSession::poll_timeout);
        let gather = match &self.activity {
            Activity::Gathering(g) => g.deadline(),
            _ => None,
        };
        [ring, media, gather].into_iter().flatten().min()
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
        Some(CdrRecord {
            call_id: self.parties.sip_call.to_string(),
            from: self.parties.from.clone(),
            to: self.parties.to.clone(),
            flow_id: Some(self.session.flow_id().to_string()),
            flow_version: Some(self.session.flow_version()),
            start: self.start,
            answer: self.answer,
            end: self.end.unwrap_or(self.start),
            hangup_cause: cause,
            hangup_side: side,
            sip_status: self.sip_status,
            digits: self.session.digits().to_vec(),
            nodes: self.session.visited().to_vec(),
            flow_end: self.flow_end.clone(),
            shard: self.shard,
        })
    }

    fn drain_media_events(&mut self, now: Time) {
        while let Some(event) = self.media.as_mut().and_then(MediaSession::poll_event) {
            if !matches!(self.phase, Phase::Active) {
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
                let directive = self.session.resume(Outcome::Done);
                self.run(now, directive);
            }
            Activity::Gathering(gather) => gather.prompt_finished(now),
            Activity::Idle => {}
        }
    }

    fn gather_ended(&mut self, now: Time, end: GatherEnd) {
        let outcome = match end {
            GatherEnd::Digits(digits) => Outcome::Digits(digits),
            GatherEnd::Timeout => Outcome::Timeout,
        };
        let directive = self.session.resume(outcome);
        self.run(now, directive);
    }

    /// Executes flow directives until one waits for the media plane or ends the call.
    fn run(&mut self, now: Time, mut directive: Directive) {
        loop {
            if !matches!(self.phase, Phase::Active) {
                return;
            }
            match directive {
                Directive::Execute(Command::Play { prompt, .. }) => match self.resolve(&prompt) {
                    Ok(prompt) => {
                        if let Some(media) = self.media.as_mut() {
                            media.play(prompt);
                        }
                        self.activity = Activity::Playing;
                        return;
                    }
                    Err(reason) => directive = self.session.resume(Outcome::Failed(reason)),
                },
                Directive::Execute(Command::Gather {
                    prompt,
                    max_digits,
                    timeout,
                    terminator,
                    interdigit_timeout,
                    ..
                }) => {
                    let mut gather = Gather::new(GatherSpec {
                        max_digits,
                        terminator,
                        first_digit_timeout: timeout,
                        interdigit_timeout,
                    });
                    match self.resolve_optional(&prompt) {
                        Ok(Some(prompt)) => {
                            if let Some(media) = self.media.as_mut() {
                                media.play(prompt);
                            }
                        }
                        Ok(None) => gather.prompt_finished(now),
                        Err(reason) => {
                            directive = self.session.resume(Outcome::Failed(reason));
                            continue;
                        }
                    }
                    self.activity = Activity::Gathering(gather);
                    return;
                }
                Directive::Execute(Command::Hangup { .. }) => {
                    self.hangup(now, HangupCause::NormalClearing);
                    return;
                }
                Directive::End(reason) => {
                    let cause = match reason {
                        EndReason::Hangup { .. } => HangupCause::NormalClearing,
                        EndReason::CallerHangup => HangupCause::CallerHangup,
                        other => {
                            self.flow_end = Some(other.to_string());
                            log::info!("call {}: flow ended: {}", self.parties.sip_call, other);
                            HangupCause::FlowEnded
                        }
                    };
                    self.hangup(now, cause);
                    return;
                }
            }
        }
    }

    fn resolve(&self, prompt: &PromptRef) -> Result<Arc<Prompt>, String> {
        self.resolve_optional(prompt)?
            .ok_or_else(|| "the command names no prompt".to_string())
    }

    fn resolve_optional(&self, prompt: &PromptRef) -> Result<Option<Arc<Prompt>>, String> {
        if let Some(id) = &prompt.id {
            return self
                .prompts
                .get(id)
                .cloned()
                .map(Some)
                .ok_or_else(|| format!("no prompt with id {id:?} in the catalog"));
        }
        if let Some(text) = &prompt.text {
            return self
                .prompts
                .find_by_text(text)
                .cloned()
                .map(Some)
                .ok_or_else(|| {
                    format!(
                        "no catalog prompt says {text:?} (free-text speech needs a TTS provider)"
                    )
                });
        }
        Ok(None)
    }

    fn hangup(&mut self, now: Time, cause: HangupCause) {
        if matches!(self.phase, Phase::Active) {
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
        self.activity = Activity::Idle;
        if !matches!(self.phase, Phase::Ended) {
            self.phase = Phase::Ending;
        }
    }

    /// Marks a call whose SIP side needs nothing more (a rejection, a BYE received).
    pub fn settle(&mut self) {
        if matches!(self.phase, Phase::Ending) {
            self.phase = Phase::Ended;
        }
    }
}
