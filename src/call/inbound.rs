//! One inbound call: its SIP dialog, its media leg and its flow session, glued
//! together.
//!
//! The call owns its [`Dialog`] and its [`MediaSession`]. It turns flow
//! commands into media work (play, gather, sleep), dialog work (ring, answer,
//! hang up) and HTTP requests, and dialog, media and HTTP events into flow
//! outcomes — all inside the call: inputs go in through `handle_*(now, …)`,
//! and [`Call::poll_output`] yields what must leave (SIP and RTP datagrams,
//! HTTP requests), handling the dialog's and the media's events as it drains
//! them. After every input, drain `poll_output` until it returns
//! [`CallOutput::Idle`]; [`Call::deadline`] is then the call's next timer.
//!
//! Recording and voicemail run through `inbound_recording.rs` (the
//! recorder is fed the frames the jitter buffer plays out; its file work
//! leaves as [`CallOutput::Recording`]). Commands whose media side does not
//! exist yet (URL playback) take their failure outcome at once, with a
//! logged reason and a counter: a call never sticks. Free text that no
//! catalog prompt speaks is synthesized off the shard (`inbound_speech.rs`:
//! it leaves as [`CallOutput::Speech`] and comes back through
//! [`Call::speech_done`]).
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
use crate::media::{
    Codec, MediaConfig, MediaEvent, MediaOutput, MediaSession, Prompt, PromptCatalog, Srtp,
    SrtpKey, SrtpSuite,
};
use crate::sip::sdp::{negotiate_with, NegotiateError, SdesSuite, Sdp, SrtpPolicy, SDES_KEY_LEN};
use crate::sip::{
    build_answer, build_offer_with, sdp::Direction, AudioCodec, CallId, Dialog, DialogEvent,
    DialogMessage, DialogOutput, Negotiated, TerminatedReason, Transmit,
};
use crate::slab::SlabKey;
use crate::time::{Time, WallClock};

use super::cdr::{CdrRecord, HangupCause, HangupSide, MediaCdr};
use super::recording::{CallRecordings, RecordingWork};

#[path = "inbound_recording.rs"]
mod recording_hooks;
#[path = "inbound_speech.rs"]
mod speech_hooks;
use super::gather::{Gather, GatherEnd, GatherLimits};
use super::http::{HttpRequest, HttpResult};
use super::leg::{LegId, LegRequest, OutboundLeg};
use super::speech::SpeechWanted;

#[path = "connect.rs"]
mod connect;
#[path = "inbound_control.rs"]
mod control_hooks;
#[path = "transfer.rs"]
mod transfer;

/// A call's number on its shard: a dense index with a generation, so a stale
/// handle (an HTTP answer for a call long gone) finds nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallHandle(pub(crate) SlabKey);

/// What a call wants done next.
#[derive(Debug)]
pub enum CallOutput {
    /// Send this SIP datagram.
    Sip(Transmit),
    /// An RTP packet of `len` bytes is at the start of the caller's buffer; send
    /// it to `dest` from the call's RTP socket.
    Rtp {
        /// The far end's RTP address.
        dest: SocketAddr,
        /// Bytes written.
        len: usize,
    },
    /// An RTCP packet of `len` bytes is at the start of the caller's buffer; send
    /// it to `dest` from the call's RTCP socket (RTP + 1).
    Rtcp {
        /// The far end's RTCP address.
        dest: SocketAddr,
        /// Bytes written.
        len: usize,
    },
    /// An RTP packet of `len` bytes for an outbound leg, from that leg's socket.
    LegRtp {
        /// The leg.
        leg: LegId,
        /// The far end's RTP address.
        dest: SocketAddr,
        /// Bytes written.
        len: usize,
    },
    /// An RTCP packet of `len` bytes for an outbound leg, from that leg's RTCP socket.
    LegRtcp {
        /// The leg.
        leg: LegId,
        /// The far end's RTCP address.
        dest: SocketAddr,
        /// Bytes written.
        len: usize,
    },
    /// Place this outbound INVITE for the call, then hand the dialog back
    /// with [`Call::leg_placed`] (or say why not with [`Call::leg_refused`]).
    PlaceLeg(LegRequest),
    /// Perform this request; with `wait` the flow waits for [`Call::http_done`].
    Http {
        /// The request.
        request: HttpRequest,
        /// Whether the answer must come back.
        wait: bool,
    },
    /// Hand this to the recording writer (off the shard; never waited for).
    Recording(RecordingWork),
    /// Have this sentence synthesized; the flow waits for [`Call::speech_done`].
    Speech(SpeechWanted),
    /// Nothing more until [`Call::deadline`] or the next input.
    Idle,
}

/// Who the call is from and to, as the INVITE said.
#[derive(Clone, Debug)]
pub struct CallParties {
    /// The Call-ID of the inbound dialog.
    pub sip_call: CallId,
    /// User part of the From URI: the caller.
    pub from: String,
    /// User part of the Request-URI: the dialled number.
    pub to: String,
}

/// Random values a call needs for its RTP stream, chosen by the host's seeded RNG.
#[derive(Clone, Copy, Debug)]
pub struct RtpSeed {
    /// Synchronisation source of the stream we send.
    pub ssrc: u32,
    /// Sequence number of our first RTP packet.
    pub initial_seq: u16,
    /// RTP timestamp of our first packet.
    pub initial_timestamp: u32,
    /// The `o=` session id of our SDP.
    pub sdp_session_id: u64,
    /// Seeds the RTCP intervals and CNAME.
    pub rtcp_seed: u64,
    /// Our SDES master key and salt, for when the call uses SRTP.
    pub srtp_key: [u8; SDES_KEY_LEN],
}

/// What a call runs: the flow, the environment, its entry variables, the prompts.
#[derive(Clone)]
pub struct CallPlan {
    /// The flow the route chose, at the version current when the call arrived.
    pub program: Arc<Program>,
    /// Schedules, published flows and destinations the flow may refer to.
    pub env: Arc<FlowEnv>,
    /// Variables set on entry (a route's `dest_xform`).
    pub dest_xform: Option<Arc<Map<String, Value>>>,
    /// The prompts `play`/`talk` resolve against.
    pub prompts: Arc<PromptCatalog>,
    /// How long to ring (180) before answering; zero answers at once.
    pub answer_delay: Duration,
    /// The flow or its route asks for early media: a 183 with our answer
    /// first, the 200 when the flow answers (or needs an answered call).
    pub early_media: bool,
    /// Maps core time to UTC for schedules and date conditions.
    pub wall: WallClock,
    /// The shard that owns the call (for the CDR).
    pub shard: usize,
    /// The jitter buffer's lowest target delay and highest delay.
    pub jitter: (Duration, Duration),
    /// SRTP for this call (its trunk's policy, else `[rtp] srtp`).
    pub srtp: SrtpPolicy,
    /// The codecs of this call's trunk (or `[rtp] codecs`) in order of preference;
    /// empty: every codec, in the caller's order.
    pub codecs: Arc<[AudioCodec]>,
    /// How long a play or gather waits for free-text speech (`[speech]
    /// timeout_ms`); `None`: no speech engine, free text fails at once.
    pub speech_timeout: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Accepted; rings or answers when first driven (by then the shell has
    /// bound the RTP socket, or reported that it could not).
    Starting,
    /// 180 sent; answering at the instant given.
    Ringing { answer_at: Time },
    /// 183 sent with our answer: media flows and the flow runs, unanswered,
    /// until it answers, needs an answered call or refuses the call.
    Early,
    /// 200 sent with our offer (late offer); media and the flow start when the
    /// ACK brings the answer.
    AwaitingAnswer,
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
    /// Sending keys as telephone-events; resumes at `MediaEvent::DigitsSent`.
    SendingDigits,
    AwaitingHttp,
    /// A play or gather waits for its free-text speech.
    AwaitingSpeech(Box<speech_hooks::PendingSpeech>),
    /// Recording a voicemail message; resumes when it ends.
    Voicemail,
    /// Bridged: waits for the bridge to end or the caller to hang up.
    Waiting,
    /// A connect command's legs ring; resumes when one answers or all fail.
    Connecting,
    /// At a `block` action: resumes when the API says so
    /// ([`CallCommand::Resume`](crate::call::CallCommand::Resume)).
    Blocked,
}

/// Counters of what a call could not do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallCounters {
    /// Commands that failed because their media side is not available.
    pub unsupported_commands: u64,
    /// Prompts a play or gather named that the catalog lacks.
    pub missing_prompts: u64,
    /// Whether the call was answered.
    pub answered: bool,
    /// Whether callplane refused the call with a final non-2xx.
    pub rejected: bool,
    /// Whether the call had early media (a 183 with our SDP).
    pub early_media: bool,
    /// Offerless re-INVITEs whose ACK carried no usable answer to our offer
    /// (the session stayed as it was).
    pub unusable_ack_answers: u64,
    /// Free-text speech that failed or came too late (the node failed).
    pub speech_failures: u64,
}

/// One call.
pub struct Call {
    handle: CallHandle,
    parties: CallParties,
    dialog: Dialog,
    phase: Phase,
    /// The media agreed with the caller; `None` until the answer to our offer
    /// arrives, for an INVITE that came without SDP (late offer).
    negotiated: Option<Negotiated>,
    plan: CallPlan,
    session: Session,
    /// Whether `session` still has work (the call may be gone: after-call work).
    flow_running: bool,
    media: Option<MediaSession>,
    activity: Activity,
    http_out: VecDeque<(HttpRequest, bool)>,
    seed: RtpSeed,
    /// The `o=` version of the last description we sent (RFC 3264 §8).
    sdp_version: u64,
    /// Our RTP address, advertised in the answer.
    local_rtp: SocketAddr,
    /// The instant of the last input.
    now: Time,
    dialog_deadline: Time,
    media_deadline: Time,
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
    /// Outbound legs (dial, forward, transfer).
    legs: Vec<OutboundLeg>,
    /// The connect command being carried out.
    connecting: Option<connect::Connecting>,
    /// The number of the last leg made.
    next_leg: LegId,
    /// The status the last connect command's failure maps to, for a caller
    /// still unanswered when the flow refuses the call.
    dial_status: Option<u16>,
    /// A blind transfer the caller asked for (REFER).
    transfer: Option<transfer::Transfer>,
    /// The records of legs that are over and gone.
    leg_cdrs: Vec<super::cdr::LegCdr>,
    /// The transfer's leg, until the host places it.
    transfer_request: Option<LegRequest>,
    /// The call's recordings (flow recordings, a voicemail message).
    recordings: CallRecordings,
    /// Whether the recordings asked the media for decoded frames.
    recording_subscribed: bool,
    /// Voicemail messages left so far (numbers the next one's id).
    voicemail_messages: u32,
    /// Speech requests not yet handed to the shell.
    speech_out: VecDeque<SpeechWanted>,
    /// The number of the next speech request.
    next_speech: u64,
}

impl Call {
    /// A call accepted for routing, with its dialog and the RTP address it will
    /// advertise; it rings or answers when first driven. `negotiated` is `None`
    /// for a late offer: the 200 then carries our offer and media starts when
    /// the ACK brings the answer.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        handle: CallHandle,
        parties: CallParties,
        dialog: Dialog,
        negotiated: Option<Negotiated>,
        plan: CallPlan,
        seed: RtpSeed,
        local_rtp: SocketAddr,
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
            dialog,
            phase: Phase::Starting,
            negotiated,
            plan,
            session,
            flow_running: true,
            media: None,
            activity: Activity::Idle,
            http_out: VecDeque::new(),
            sdp_version: seed.sdp_session_id,
            seed,
            local_rtp,
            now,
            dialog_deadline: Time::NEVER,
            media_deadline: Time::NEVER,
            start: now,
            answer: None,
            end: None,
            cause: None,
            sip_status: 100,
            flow_end: None,
            earlier_nodes: Vec::new(),
            earlier_digits: Vec::new(),
            counters: CallCounters::default(),
            legs: Vec::new(),
            connecting: None,
            next_leg: 0,
            dial_status: None,
            transfer: None,
            transfer_request: None,
            leg_cdrs: Vec::new(),
            recordings: CallRecordings::default(),
            recording_subscribed: false,
            voicemail_messages: 0,
            speech_out: VecDeque::new(),
            next_speech: 0,
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

    /// Whether the call is over — hung up, cancelled or refused, and no
    /// after-call flow running — and its CDR can be taken. The dialog may
    /// still be finishing (our BYE waiting for its 200, retransmitted until
    /// Timer F): it does that alone once handed back to the dispatcher, so the
    /// CDR is written when the call ends, not when the BYE completes.
    pub fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Ending | Phase::Ended) && !self.flow_running
    }

    /// What the call could not do, and whether it was answered or refused.
    pub fn counters(&self) -> CallCounters {
        self.counters
    }

    /// Whether the flow runs with the caller there: answered, or in early media.
    fn flow_live(&self) -> bool {
        matches!(self.phase, Phase::Active | Phase::Early)
    }

    /// The call's dialog, handed back when the call is retired.
    pub fn into_dialog(self) -> Dialog {
        self.dialog
    }

    /// Moves the RTP address to advertise, before the call has rung or
    /// answered (the first port could not be bound). `false`: too late.
    pub fn rebind(&mut self, local: SocketAddr) -> bool {
        if self.phase != Phase::Starting {
            return false;
        }
        self.local_rtp = local;
        true
    }

    /// No RTP socket could be had: reject with 503 before the answer, hang up
    /// after it.
    pub fn media_unavailable(&mut self, now: Time) {
        self.now = now;
        match self.phase {
            Phase::Starting | Phase::Ringing { .. } => {
                self.reject(503, HangupCause::MediaUnavailable)
            }
            Phase::Early => {
                self.flow_running = false;
                self.reject(503, HangupCause::MediaUnavailable)
            }
            Phase::AwaitingAnswer | Phase::Active => {
                self.flow_running = false;
                self.hangup(HangupCause::MediaUnavailable);
            }
            Phase::Ending | Phase::Ended => {}
        }
    }

    /// A SIP message the dispatcher routed to this call's dialog.
    pub fn handle_sip(&mut self, now: Time, message: DialogMessage) {
        self.now = now;
        self.dialog.handle_message(now, message);
    }

    /// A datagram arrived on the call's RTP socket.
    pub fn handle_rtp(&mut self, now: Time, from: SocketAddr, packet: &[u8]) {
        self.now = now;
        if let Some(media) = self.media.as_mut() {
            media.handle_rtp(now, from, packet);
        }
        self.relay_from_caller(now);
    }

    /// A datagram arrived on the call's RTCP socket.
    pub fn handle_rtcp(&mut self, now: Time, from: SocketAddr, packet: &[u8]) {
        self.now = now;
        if let Some(media) = self.media.as_mut() {
            media.handle_rtcp(now, from, packet);
        }
    }

    /// The answer to a request this call's flow waits for.
    pub fn http_done(&mut self, now: Time, result: HttpResult) {
        self.now = now;
        if !matches!(self.activity, Activity::AwaitingHttp) {
            return;
        }
        self.activity = Activity::Idle;
        let outcome = match result {
            HttpResult::Response { status, body } => Outcome::Http { status, body },
            HttpResult::Failed(reason) => Outcome::Failed(reason),
        };
        let directive = self.session.resume(outcome, self.plan.wall.at(now));
        self.run(directive);
    }

    /// Runs every timer that is due: the dialog's, the media's, the flow's.
    pub fn handle_timeout(&mut self, now: Time) {
        self.now = now;
        if self.dialog_deadline <= now {
            self.dialog.handle_timeout(now);
        }
        if let Phase::Ringing { answer_at } = self.phase {
            if answer_at <= now {
                self.answer_now();
            }
        }
        if let Some(media) = self.media.as_mut() {
            media.handle_timeout(now);
        }
        self.legs_timeout(now);
        match &mut self.activity {
            Activity::Gathering(gather) => {
                if let Some(end) = gather.timeout(now) {
                    self.activity = Activity::Idle;
                    self.gather_ended(end);
                }
            }
            Activity::Sleeping { until } if *until <= now => {
                self.activity = Activity::Idle;
                let directive = self.session.resume(Outcome::Done, self.plan.wall.at(now));
                self.run(directive);
            }
            Activity::AwaitingSpeech(_) => self.speech_timeout(now),
            _ => {}
        }
    }

    /// The server is going down: hang up (or reject, before the answer).
    pub fn shutdown(&mut self, now: Time) {
        self.now = now;
        match self.phase {
            Phase::Starting | Phase::Ringing { .. } | Phase::Early => {
                self.reject(503, HangupCause::Shutdown)
            }
            Phase::AwaitingAnswer | Phase::Active => {
                self.flow_running = false;
                self.hangup(HangupCause::Shutdown);
            }
            Phase::Ending | Phase::Ended => self.flow_running = false,
        }
    }

    /// The next thing to send or do; RTP is written into `buf`. Handles the
    /// dialog's and the media's events on the way. After every input, call
    /// until it returns [`CallOutput::Idle`].
    pub fn poll_output(&mut self, buf: &mut [u8]) -> CallOutput {
        if self.phase == Phase::Starting {
            self.start();
        }
        loop {
            match self.dialog.poll_output() {
                DialogOutput::Transmit(transmit) => return CallOutput::Sip(transmit),
                DialogOutput::Event(event) => {
                    self.on_dialog_event(event);
                    continue;
                }
                DialogOutput::Timeout(at) => self.dialog_deadline = at,
            }
            if let Some((request, wait)) = self.http_out.pop_front() {
                return CallOutput::Http { request, wait };
            }
            if let Some(request) = self.take_speech_request() {
                return CallOutput::Speech(request);
            }
            if let Some(request) = self.take_leg_request() {
                return CallOutput::PlaceLeg(request);
            }
            if let Some(output) = self.poll_legs(buf) {
                return output;
            }
            if let Some(work) = self.recordings.poll_work() {
                return CallOutput::Recording(work);
            }
            let Some(media) = self.media.as_mut() else {
                self.media_deadline = Time::NEVER;
                return CallOutput::Idle;
            };
            match media.poll_output(buf) {
                MediaOutput::Transmit(len) => {
                    return CallOutput::Rtp {
                        dest: media.remote(),
                        len,
                    }
                }
                MediaOutput::Rtcp { len, dest, mux } => {
                    return match mux {
                        true => CallOutput::Rtp { dest, len },
                        false => CallOutput::Rtcp { dest, len },
                    }
                }
                MediaOutput::Event(event) => self.on_media_event(event),
                // Frames come out only for a subscribed consumer: the
                // bridge, a recording.
                MediaOutput::Audio(_) => {
                    self.caller_audio();
                    self.record_frame();
                }
                MediaOutput::Timeout(at) => {
                    self.media_deadline = at;
                    return CallOutput::Idle;
                }
            }
        }
    }

    /// The earliest instant [`Call::handle_timeout`] must run
    /// ([`Time::NEVER`]: no timer). Valid once `poll_output` returned `Idle`.
    pub fn deadline(&self) -> Time {
        let ring = match self.phase {
            Phase::Ringing { answer_at } => answer_at,
            _ => Time::NEVER,
        };
        let activity = match &self.activity {
            Activity::Gathering(g) => g.deadline().unwrap_or(Time::NEVER),
            Activity::Sleeping { until } => *until,
            Activity::AwaitingSpeech(pending) => pending.deadline(),
            _ => Time::NEVER,
        };
        ring.min(activity)
            .min(self.dialog_deadline)
            .min(self.media_deadline)
            .min(self.legs_deadline())
    }

    /// Rings or answers, once: the RTP address is settled by now.
    fn start(&mut self) {
        if self.plan.early_media {
            match self.negotiated.clone() {
                Some(negotiated) => return self.early_now(negotiated),
                None => log::info!(
                    "call {}: early media needs an offer in the INVITE; answering at once",
                    self.parties.sip_call
                ),
            }
        }
        if self.plan.answer_delay.is_zero() {
            self.answer_now();
        } else {
            match self.dialog.ring(self.now) {
                Ok(()) => {
                    self.sip_status = 180;
                    self.phase = Phase::Ringing {
                        answer_at: self.now + self.plan.answer_delay,
                    };
                }
                Err(err) => {
                    log::warn!("call {}: cannot ring: {err}", self.parties.sip_call);
                    self.phase = Phase::Ringing {
                        answer_at: self.now,
                    };
                }
            }
        }
    }

    /// Rejects the call before it was answered; the flow stops.
    fn reject(&mut self, status: u16, cause: HangupCause) {
        self.refuse(status, cause);
        self.flow_running = false;
    }

    /// Sends a final non-2xx to a call not answered; a flow that asked for
    /// it goes on to its end (and its `on_complete_flow_id` chain).
    fn refuse(&mut self, status: u16, cause: HangupCause) {
        if let Err(err) = self.dialog.reject(self.now, status) {
            log::warn!(
                "call {}: cannot reject with {status}: {err}",
                self.parties.sip_call
            );
        }
        self.counters.rejected = true;
        self.sip_status = status;
        self.finish(cause, HangupSide::Callplane);
    }

    /// Sends 183 Session Progress with our answer (reliably when the caller
    /// supports 100rel): media starts and the flow runs before the answer.
    fn early_now(&mut self, negotiated: Negotiated) {
        let sdp = build_answer(
            self.seed.sdp_session_id,
            self.sdp_version,
            self.local_rtp.ip(),
            self.local_rtp.port(),
            &negotiated,
        );
        match self.dialog.early_media(self.now, &sdp) {
            Ok(_reliable) => {
                self.counters.early_media = true;
                self.sip_status = 183;
                self.start_media(negotiated, Phase::Early);
            }
            Err(err) => {
                log::warn!("call {}: cannot send 183: {err}", self.parties.sip_call);
                self.answer_now();
            }
        }
    }

    /// The flow answers a call in early media: the 200 carries the answer
    /// the 183 carried; media and the flow go on.
    fn answer_early(&mut self) {
        let Some(negotiated) = self.negotiated.clone() else {
            return;
        };
        let sdp = build_answer(
            self.seed.sdp_session_id,
            self.sdp_version,
            self.local_rtp.ip(),
            self.local_rtp.port(),
            &negotiated,
        );
        if let Err(err) = self.dialog.answer(self.now, &sdp) {
            log::warn!("call {}: cannot answer: {err}", self.parties.sip_call);
            return;
        }
        self.counters.answered = true;
        self.sip_status = 200;
        self.answer = Some(self.now);
        self.phase = Phase::Active;
    }

    /// Sends the 200 OK: with our answer, or with our offer for a late offer.
    fn answer_now(&mut self) {
        let now = self.now;
        let (session, ip, port) = (
            self.seed.sdp_session_id,
            self.local_rtp.ip(),
            self.local_rtp.port(),
        );
        let sdp = match &self.negotiated {
            Some(negotiated) => build_answer(session, self.sdp_version, ip, port, negotiated),
            None => {
                let srtp = (self.plan.srtp == SrtpPolicy::Required).then_some(&self.seed.srtp_key);
                build_offer_with(session, ip, port, &self.plan.codecs, srtp)
            }
        };
        if let Err(err) = self.dialog.answer(now, &sdp) {
            log::warn!("call {}: cannot answer: {err}", self.parties.sip_call);
            return;
        }
        self.counters.answered = true;
        self.sip_status = 200;
        self.answer = Some(now);
        match self.negotiated.clone() {
            Some(negotiated) => self.start_media(negotiated, Phase::Active),
            None => self.phase = Phase::AwaitingAnswer,
        }
    }

    /// The ACK confirmed a late-offer call: its SDP must answer our offer.
    /// Without a usable answer the call ends with BYE.
    fn take_answer(&mut self) {
        let answer = self.dialog.take_ack_sdp();
        match answer.as_ref().map(|sdp| self.negotiate(sdp)) {
            Some(Ok(negotiated)) => {
                self.negotiated = Some(negotiated.clone());
                self.start_media(negotiated, Phase::Active);
            }
            other => {
                let why = match other {
                    Some(Err(err)) => format!("the ACK's SDP answer is unusable: {err}"),
                    _ => "the ACK carried no SDP answer to our offer".to_string(),
                };
                log::info!("call {}: {why}", self.parties.sip_call);
                self.flow_running = false;
                self.hangup(HangupCause::NoMediaAnswer);
            }
        }
    }

    /// A re-INVITE's offer (session refresh, hold and unhold, a new address or
    /// codec): answered with our description at a new `o=` version, and the
    /// media follows it; an offer we cannot take is refused with 488 and the
    /// session stays as it was.
    fn on_reoffer(&mut self) {
        let offer = self.dialog.take_reoffer();
        let current_srtp = self.negotiated.as_ref().map(|n| n.srtp.is_some());
        let usable = offer
            .as_ref()
            .map(|sdp| self.negotiate(sdp))
            .and_then(Result::ok)
            .filter(|_| self.phase == Phase::Active)
            // A session does not move between RTP and SRTP.
            .filter(|n| current_srtp.is_none_or(|secure| secure == n.srtp.is_some()));
        let Some(negotiated) = usable else {
            self.refuse_reinvite();
            return;
        };
        if self.answer_reinvite_with(&negotiated) {
            self.follow(negotiated);
        }
    }

    /// A re-INVITE without an offer (RFC 6337 §5.3): we offer our current
    /// session (its codec and telephone-event, sendrecv so that a caller
    /// who held us can resume) at a new `o=` version; the answer comes in the
    /// ACK ([`Call::on_ack_answer`]).
    fn on_offer_requested(&mut self) {
        let current = self
            .negotiated
            .clone()
            .filter(|_| self.phase == Phase::Active);
        let Some(current) = current else {
            self.refuse_reinvite();
            return;
        };
        let offer = Negotiated {
            direction: Direction::SendRecv,
            ..current
        };
        self.answer_reinvite_with(&offer);
    }

    /// Refuses the pending re-INVITE or UPDATE with 488; the session stays.
    fn refuse_reinvite(&mut self) {
        if let Err(err) = self.dialog.reject_reinvite(self.now, 488) {
            log::warn!(
                "call {}: cannot refuse a re-INVITE: {err}",
                self.parties.sip_call
            );
        }
    }

    /// Answers the pending re-INVITE or UPDATE with our description of
    /// `session` at a new `o=` version; `false` if the dialog refused.
    fn answer_reinvite_with(&mut self, session: &Negotiated) -> bool {
        self.sdp_version += 1;
        let sdp = build_answer(
            self.seed.sdp_session_id,
            self.sdp_version,
            self.local_rtp.ip(),
            self.local_rtp.port(),
            session,
        );
        match self.dialog.answer_reinvite(self.now, &sdp) {
            Ok(()) => true,
            Err(err) => {
                log::warn!(
                    "call {}: cannot answer a re-INVITE: {err}",
                    self.parties.sip_call
                );
                false
            }
        }
    }

    /// The ACK of an offerless re-INVITE carries the answer to our offer:
    /// the media follows it (hold, unhold, a new address or codec). Without
    /// a usable answer the session stays as it was, and it is counted
    /// ([`CallCounters::unusable_ack_answers`]).
    fn on_ack_answer(&mut self) {
        let answer = self.dialog.take_ack_sdp();
        let current_srtp = self.negotiated.as_ref().map(|n| n.srtp.is_some());
        let negotiated = match answer.as_ref().map(|sdp| self.negotiate(sdp)) {
            Some(Ok(negotiated))
                if self.phase == Phase::Active
                    && current_srtp.is_none_or(|secure| secure == negotiated.srtp.is_some()) =>
            {
                negotiated
            }
            other => {
                self.counters.unusable_ack_answers += 1;
                let why = match other {
                    Some(Err(err)) => format!("unusable ({err})"),
                    Some(Ok(_)) => "too late (the call is ending)".to_string(),
                    None => "missing".to_string(),
                };
                log::info!(
                    "call {}: the ACK's answer to our re-INVITE offer is {why}; the session stays",
                    self.parties.sip_call
                );
                return;
            }
        };
        self.follow(negotiated);
    }

    /// An offer or answer of the far end, read under the call's SRTP policy
    /// with our key.
    fn negotiate(&self, sdp: &Sdp) -> Result<Negotiated, NegotiateError> {
        negotiate_with(sdp, &self.plan.codecs, self.plan.srtp, &self.seed.srtp_key)
    }

    /// The media follows a newly negotiated session (address, codec, direction).
    fn follow(&mut self, negotiated: Negotiated) {
        let rekeyed = match (&self.negotiated, &negotiated.srtp) {
            (Some(current), Some(sdes)) => current.srtp.as_ref() != Some(sdes),
            _ => false,
        };
        if let (true, Some(media), Some(sdes)) = (rekeyed, self.media.as_mut(), &negotiated.srtp) {
            media.secure(srtp_of(sdes));
        }
        if let Some(media) = self.media.as_mut() {
            media.renegotiate(
                negotiated.remote_rtp,
                codec_of(negotiated.codec),
                negotiated.codec_pt,
                negotiated.dtmf_pt,
                negotiated.we_send(),
            );
        }
        self.negotiated = Some(negotiated);
    }

    /// Media flows and the flow starts, in `phase` (answered, or early media).
    fn start_media(&mut self, negotiated: Negotiated, phase: Phase) {
        let now = self.now;
        self.phase = phase;
        self.media = Some(MediaSession::new(
            MediaConfig {
                codec: codec_of(negotiated.codec),
                codec_pt: negotiated.codec_pt,
                dtmf_pt: negotiated.dtmf_pt,
                remote: negotiated.remote_rtp,
                ssrc: self.seed.ssrc,
                initial_sequence: self.seed.initial_seq,
                initial_timestamp: self.seed.initial_timestamp,
                jitter_min: self.plan.jitter.0,
                jitter_max: self.plan.jitter.1,
                rtcp_mux: negotiated.rtcp_mux,
                ntp_at_zero: ntp_of(self.plan.wall),
                rtcp_seed: self.seed.rtcp_seed,
            },
            now,
        ));
        if let (Some(media), Some(sdes)) = (self.media.as_mut(), &negotiated.srtp) {
            media.secure(srtp_of(sdes));
        }
        let directive = self.session.start(self.plan.wall.at(now));
        self.run(directive);
    }

    fn on_dialog_event(&mut self, event: DialogEvent) {
        let now = self.now;
        if matches!(
            event,
            DialogEvent::RemoteHangup | DialogEvent::Terminated(_)
        ) && self.caller_left_after_transfer(event)
        {
            return;
        }
        match event {
            DialogEvent::Referred => self.on_referred(),
            DialogEvent::Confirmed => {
                if self.phase == Phase::AwaitingAnswer {
                    self.take_answer();
                }
            }
            DialogEvent::Reoffer => self.on_reoffer(),
            DialogEvent::OfferRequested => self.on_offer_requested(),
            DialogEvent::AnswerInAck => self.on_ack_answer(),
            // Only dialogs we create with an INVITE of ours report these.
            DialogEvent::Progress(_) | DialogEvent::Answered => {}
            DialogEvent::Dtmf(digit) => {
                if self.flow_live() {
                    self.on_digit(digit);
                }
            }
            DialogEvent::Cancelled => {
                self.sip_status = 487;
                self.flow_running = false;
                self.finish(HangupCause::Cancelled, HangupSide::Caller);
            }
            DialogEvent::RemoteHangup => {
                let was_active = self.flow_live();
                self.finish(HangupCause::CallerHangup, HangupSide::Caller);
                if was_active && self.flow_running {
                    let directive = self
                        .session
                        .resume(Outcome::CallerHangup, self.plan.wall.at(now));
                    self.run(directive);
                } else if !was_active {
                    self.flow_running = false;
                }
            }
            DialogEvent::Terminated(reason) => {
                let ended_by_sip = match reason {
                    TerminatedReason::AckTimeout => Some(HangupCause::AckTimeout),
                    TerminatedReason::SessionExpired => Some(HangupCause::SessionExpired),
                    TerminatedReason::RefreshFailed => Some(HangupCause::RefreshFailed),
                    _ => None,
                };
                if reason == TerminatedReason::PrackTimeout && self.flow_live() {
                    // Our reliable 183 was never PRACKed: the INVITE got 504.
                    log::info!(
                        "call {}: no PRACK for our reliable 183; refused with 504",
                        self.parties.sip_call
                    );
                    self.sip_status = 504;
                    self.counters.answered = false;
                    self.answer = None;
                    self.counters.rejected = true;
                    self.flow_running = false;
                    self.finish(HangupCause::PrackTimeout, HangupSide::Callplane);
                }
                if let Some(cause) = ended_by_sip.filter(|_| self.phase == Phase::Active) {
                    self.finish(cause, HangupSide::Callplane);
                    let directive = self
                        .session
                        .resume(Outcome::CallerHangup, self.plan.wall.at(now));
                    self.run(directive);
                } else if self.phase == Phase::AwaitingAnswer {
                    // The flow never started: no ACK, so no answer to our offer.
                    self.flow_running = false;
                    self.finish(HangupCause::AckTimeout, HangupSide::Callplane);
                }
                self.phase = Phase::Ended;
                self.end.get_or_insert(now);
            }
        }
    }

    fn on_media_event(&mut self, event: MediaEvent) {
        if !self.flow_live() {
            return;
        }
        match event {
            MediaEvent::Dtmf { digit } => self.on_digit(digit),
            MediaEvent::PlaybackIdle => self.on_playback_idle(),
            MediaEvent::DigitsSent => {
                if matches!(self.activity, Activity::SendingDigits) {
                    self.activity = Activity::Idle;
                    let wall = self.plan.wall.at(self.now);
                    let directive = self.session.resume(Outcome::Done, wall);
                    self.run(directive);
                }
            }
            _ => {}
        }
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
            early_media: self.counters.early_media,
            digits,
            nodes,
            flow_end: self.flow_end.clone(),
            shard: self.plan.shard,
            media: self
                .media
                .as_ref()
                .map(|media| MediaCdr::from_stats(&media.stats())),
            legs: self.leg_records(),
            recordings: self.recordings.summaries().to_vec(),
        })
    }

    fn on_digit(&mut self, digit: char) {
        if self.record_digit(digit) {
            return;
        }
        let now = self.now;
        if matches!(self.activity, Activity::Waiting) && self.caller_digit_in_bridge(digit) {
            return;
        }
        let Activity::Gathering(gather) = &mut self.activity else {
            return;
        };
        let first = !gather.has_digits();
        let end = gather.digit(now, digit);
        if first {
            if let Some(media) = self.flow_media() {
                media.stop_playback();
            }
        }
        if let Some(end) = end {
            self.activity = Activity::Idle;
            self.gather_ended(end);
        }
    }

    fn on_playback_idle(&mut self) {
        let now = self.now;
        match &mut self.activity {
            Activity::Playing => {
                self.activity = Activity::Idle;
                let directive = self.session.resume(Outcome::Done, self.plan.wall.at(now));
                self.run(directive);
            }
            Activity::Gathering(gather) => gather.prompt_finished(now),
            _ => {}
        }
    }

    fn gather_ended(&mut self, end: GatherEnd) {
        let now = self.now;
        let outcome = match end {
            GatherEnd::Digits(digits) => Outcome::Digits(digits),
            GatherEnd::Timeout => Outcome::Timeout,
        };
        let directive = self.session.resume(outcome, self.plan.wall.at(now));
        self.run(directive);
    }

    /// Executes flow directives until one waits for the media plane, the
    /// network or the caller, or the flow (and its follow-ups) end.
    fn run(&mut self, mut directive: Directive) {
        let now = self.now;
        loop {
            if !self.flow_running {
                return;
            }
            match directive {
                Directive::Execute(command) => match self.execute(command) {
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
                    self.hangup(cause);
                    return;
                }
            }
        }
    }

    /// Carries out one command: `Some(outcome)` when it completed at once,
    /// `None` when the call now waits for media, a timer or the network.
    fn execute(&mut self, command: Command) -> Option<Outcome> {
        let now = self.now;
        let caller_present = self.flow_live();
        if self.phase == Phase::Early && needs_answer(&command) {
            self.answer_early();
        }
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
                self.http_out.push_back((request, wait));
                if wait {
                    self.activity = Activity::AwaitingHttp;
                    None
                } else {
                    Some(Outcome::Done)
                }
            }
            Command::Hangup {
                sip_status, reason, ..
            } if self.phase == Phase::Early => {
                // Never answered: the refusal goes out after the announcement.
                let status = sip_status
                    .or_else(|| reason.as_deref().and_then(status_of_reason))
                    .or(self.dial_status)
                    .unwrap_or(EARLY_HANGUP_STATUS);
                self.refuse(status, HangupCause::NormalClearing);
                Some(Outcome::Done)
            }
            Command::Hangup { .. } => {
                self.hangup(HangupCause::NormalClearing);
                Some(Outcome::Done)
            }
            _ if !caller_present => Some(Outcome::Failed("the call has ended".into())),
            Command::Answer { .. } => Some(Outcome::Done),

            Command::Play { audio, times, .. } => match self.resolve_or_speak(&audio) {
                Ok(slots) => self.play_slots(slots, times),
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
                let slots = match self.resolve_or_speak(&audio) {
                    Ok(slots) => slots,
                    Err(reason) => return Some(Outcome::Failed(reason)),
                };
                let limits = GatherLimits {
                    max_digits,
                    terminator,
                    first_digit_timeout: timeout,
                    interdigit_timeout,
                };
                self.gather_slots(slots, limits)
            }
            Command::Sleep { duration, .. } => {
                self.activity = Activity::Sleeping {
                    until: now + duration,
                };
                None
            }
            Command::Block { .. } => {
                self.activity = Activity::Blocked;
                None
            }
            Command::SendDigits {
                digits, tone, gap, ..
            } => match self.flow_media() {
                Some(media) => {
                    media.send_digits(&digits, tone, gap);
                    self.activity = Activity::SendingDigits;
                    None
                }
                None => Some(Outcome::Failed("the call has no media".into())),
            },
            Command::RecordStart {
                recording_id,
                format,
                max_duration,
                end_of_silence,
                end_of_key,
                beep,
                dual,
                ..
            } => self.record_start(
                recording_id,
                format,
                max_duration,
                end_of_silence,
                end_of_key,
                beep,
                dual,
            ),
            Command::RecordStop { recording_id, .. } => self.record_stop(recording_id),
            Command::Connect {
                kind: crate::flow::ConnectKind::Voicemail,
                targets,
                ..
            } => self.voicemail(&targets),
            Command::Connect {
                kind,
                targets,
                source,
                timeout,
                ..
            } => self.start_connect(kind, targets, source, timeout),
        }
    }

    fn unsupported(&mut self, what: &str) -> Option<Outcome> {
        self.counters.unsupported_commands += 1;
        let reason = format!("{what} is not available on this media plane yet");
        log::warn!("call {}: {reason}", self.parties.sip_call);
        Some(Outcome::Failed(reason))
    }

    pub(super) fn resolve_all(&mut self, audio: &[Audio]) -> Result<Vec<Arc<Prompt>>, String> {
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
                    format!("no catalog prompt says {text:?} (and no speech engine runs: see [speech])")
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

    fn hangup(&mut self, cause: HangupCause) {
        if self.hangup_transferred(cause.clone()) {
            return;
        }
        if self.phase == Phase::Early {
            let status = self.dial_status.unwrap_or(EARLY_HANGUP_STATUS);
            return self.refuse(status, cause);
        }
        if matches!(self.phase, Phase::Active | Phase::AwaitingAnswer) {
            if let Err(err) = self.dialog.hangup(self.now) {
                log::warn!("call {}: cannot hang up: {err}", self.parties.sip_call);
            }
            self.finish(cause, HangupSide::Callplane);
        }
    }

    fn finish(&mut self, cause: HangupCause, side: HangupSide) {
        let now = self.now;
        self.caller_left();
        if self.cause.is_none() {
            self.cause = Some((cause, side));
            self.end = Some(now);
        }
        self.record_call_ended();
        if let Some(media) = self.media.as_mut() {
            // Its last output is an RTCP BYE; its figures stay for the CDR.
            media.close();
        }
        self.media_deadline = Time::NEVER;
        if !matches!(self.activity, Activity::AwaitingHttp) {
            self.activity = Activity::Idle;
        }
        if self.phase != Phase::Ended {
            self.phase = Phase::Ending;
        }
    }
}

/// The status a call in early media is refused with when the flow hangs up
/// without naming one (as a hangup before the answer always was).
const EARLY_HANGUP_STATUS: u16 = 480;

/// Whether a command needs an answered call: a call in early media is
/// answered before it runs. Playing, sleeping, HTTP and hanging up do not.
fn needs_answer(command: &Command) -> bool {
    match command {
        Command::Answer { .. }
        | Command::Gather { .. }
        | Command::SendDigits { .. }
        | Command::RecordStart { .. }
        | Command::RecordStop { .. } => true,
        // Answer-on-bridge: the caller is answered when the far end answers.
        Command::Connect { .. } => false,
        Command::Play { .. }
        | Command::Sleep { .. }
        | Command::Block { .. }
        | Command::Http { .. } => false,
        Command::Hangup { .. } => false,
    }
}

/// The SIP status a hangup `reason` word names, for a call never answered
/// (VoIPBIN's `hangup` reasons): `busy` 486, `noanswer` 480, `declined` 603,
/// `unallocated`/`not_found` 404, `gone` 410; other reasons name none.
fn status_of_reason(reason: &str) -> Option<u16> {
    match reason.trim().to_ascii_lowercase().as_str() {
        "busy" => Some(486),
        "noanswer" | "no_answer" => Some(480),
        "declined" | "decline" | "rejected" => Some(603),
        "unallocated" | "not_found" | "notfound" => Some(404),
        "gone" => Some(410),
        _ => None,
    }
}

/// The NTP timestamp (32.32, seconds since 1900) of core time zero.
pub(super) fn ntp_of(wall: WallClock) -> u64 {
    const UNIX_TO_NTP_SECS: i64 = 2_208_988_800;
    let origin = wall.at(Time::ZERO);
    let secs = (origin.timestamp() + UNIX_TO_NTP_SECS).max(0) as u64;
    let fraction = (u64::from(origin.timestamp_subsec_micros()) << 32) / 1_000_000;
    (secs << 32) | fraction
}

/// The media layer's codec for a negotiated one.
pub(super) fn codec_of(codec: AudioCodec) -> Codec {
    match codec {
        AudioCodec::Pcmu => Codec::Pcmu,
        AudioCodec::Pcma => Codec::Pcma,
        AudioCodec::Opus => Codec::Opus,
    }
}

/// The media plane's SRTP context for a negotiated SDES exchange.
fn srtp_of(sdes: &crate::sip::sdp::Sdes) -> Srtp {
    let suite = match sdes.suite {
        SdesSuite::AesCm128HmacSha1_80 => SrtpSuite::AesCm128HmacSha1_80,
        SdesSuite::AesCm128HmacSha1_32 => SrtpSuite::AesCm128HmacSha1_32,
    };
    Srtp::new(
        suite,
        &SrtpKey::from_bytes(sdes.local_key),
        &SrtpKey::from_bytes(sdes.remote_key),
    )
}
