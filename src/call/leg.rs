//! One outbound leg of a call: the dialog of an INVITE we placed for the call
//! (a `dial`, `forward` or `connect`), and the media of that dialog once the
//! far end answers or sends early media.
//!
//! A leg is owned by its call, on the call's shard, as the inbound leg is: the
//! host places the INVITE ([`LegRequest`] in, [`OutboundLeg::new`] out) and
//! routes the leg's SIP and RTP back to the call, which hands them to the leg.
//! The leg is sans-IO: inputs through `handle_*(now, …)`, everything out of
//! [`OutboundLeg::poll_output`], drained until [`LegOutput::Idle`], then
//! [`OutboundLeg::deadline`] is its next timer.
//!
//! What the far end's final answer means for the flow (answered, busy, no
//! answer, failed) is decided here, from the SIP status ([`LegEnd`]); bridging
//! the leg's audio with the caller's is the call's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::media::{FrameKind, MediaConfig, MediaEvent, MediaOutput, MediaSession};
use crate::sip::sdp::{negotiate_with, SrtpPolicy, SDES_KEY_LEN};
use crate::sip::{
    AudioCodec, Dialog, DialogEvent, DialogMessage, DialogOutput, TerminatedReason, Transmit,
};
use crate::time::Time;

/// A leg's number within its call: 1, 2, … (0 is the inbound leg).
pub type LegId = u8;

/// What a call asks the host for: an outbound INVITE to `target`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegRequest {
    /// The leg the call will know it by.
    pub leg: LegId,
    /// A number (dialled through the dial trunk) or a `sip:` URI.
    pub target: String,
    /// The caller id to present (user part of our From).
    pub caller_id: String,
    /// The codecs to offer, in order of preference; empty: every codec.
    pub codecs: Arc<[AudioCodec]>,
}

/// Random values and settings the leg's media needs.
#[derive(Clone, Copy, Debug)]
pub struct LegMedia {
    /// SSRC of the stream we send.
    pub ssrc: u32,
    /// Sequence number of our first packet.
    pub initial_seq: u16,
    /// RTP timestamp of our first packet.
    pub initial_timestamp: u32,
    /// Seeds the RTCP intervals and CNAME.
    pub rtcp_seed: u64,
    /// The jitter buffer's lowest target delay and highest delay.
    pub jitter: (Duration, Duration),
    /// NTP time at core time zero, for RTCP.
    pub ntp_at_zero: u64,
}

/// How a leg ended, in the flow's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LegEnd {
    /// The far end was busy (486, 600).
    Busy,
    /// Nobody answered: the ring timeout passed, or 408/480/487 came back.
    NoAnswer,
    /// The call could not be placed or was refused otherwise; the text says why.
    Failed(String),
    /// The leg was answered and is now over (either side hung up).
    Hangup,
}

/// What a leg reports to its call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LegEvent {
    /// A provisional response (180, 183…).
    Progress(u16),
    /// Early media from the far end started (an SDP in a provisional response).
    EarlyMedia,
    /// The far end answered; media runs.
    Answered,
    /// A key the far end pressed (SIP INFO).
    Dtmf(char),
    /// Something the leg's media raised (a key pressed as RFC 4733 or
    /// in-band, a prompt finished: prompts play on a leg after a transfer).
    Media(MediaEvent),
    /// The leg is over.
    Ended(LegEnd),
}

/// What a leg wants done next.
#[derive(Debug)]
pub enum LegOutput {
    /// Send this SIP datagram.
    Sip(Transmit),
    /// An RTP packet of `len` bytes is at the start of the buffer, for `dest`.
    Rtp {
        /// The far end's RTP address.
        dest: SocketAddr,
        /// Bytes written.
        len: usize,
    },
    /// An RTCP packet of `len` bytes is at the start of the buffer, for `dest`
    /// (from the RTP socket when `mux`).
    Rtcp {
        /// The far end's RTCP address.
        dest: SocketAddr,
        /// Bytes written.
        len: usize,
        /// rtcp-mux.
        mux: bool,
    },
    /// A frame of the far end's audio: [`OutboundLeg::received_audio`].
    Audio(FrameKind),
    /// Something the call must know.
    Event(LegEvent),
    /// Nothing more until [`OutboundLeg::deadline`] or the next input.
    Idle,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// INVITE out, no final response.
    Calling,
    /// 2xx received: media runs.
    Answered,
    /// We hung up or the far end did; waiting for the dialog to finish.
    Ending,
    /// Over, reported.
    Ended,
}

/// One outbound leg.
pub struct OutboundLeg {
    id: LegId,
    target: String,
    dialog: Dialog,
    state: State,
    media: Option<MediaSession>,
    media_settings: LegMedia,
    codecs: Arc<[AudioCodec]>,
    /// Whether the far end's audio is wanted (a bridge): the media subscribes
    /// and live audio is sent.
    bridged: bool,
    /// Whether a recording of the bridged call holds a subscription to the
    /// far end's audio ([`OutboundLeg::set_recorded`]).
    recorded: bool,
    /// The ring timeout: CANCEL then.
    ring_until: Time,
    dialog_deadline: Time,
    media_deadline: Time,
    now: Time,
    /// The last SIP status the far end sent.
    status: u16,
    answered_at: Option<Time>,
    ended_at: Option<Time>,
    /// The end to report once the dialog terminates.
    end: Option<LegEnd>,
    /// The end reported.
    outcome: Option<LegEnd>,
    /// We hung it up before an answer (another leg won, or the caller left).
    cancelled: bool,
    /// When the INVITE went out.
    placed_at: Time,
    pending: Option<LegEvent>,
    /// Events of the media not yet turned into leg events.
    reported_early: bool,
}

impl OutboundLeg {
    /// A leg whose INVITE the host just placed: `dialog`, ringing until
    /// `now + ring_timeout`.
    pub fn new(
        id: LegId,
        target: String,
        dialog: Dialog,
        media_settings: LegMedia,
        codecs: Arc<[AudioCodec]>,
        ring_timeout: Duration,
        now: Time,
    ) -> OutboundLeg {
        OutboundLeg {
            id,
            target,
            dialog,
            state: State::Calling,
            media: None,
            media_settings,
            codecs,
            bridged: false,
            recorded: false,
            ring_until: now + ring_timeout,
            dialog_deadline: now,
            media_deadline: Time::NEVER,
            now,
            status: 100,
            answered_at: None,
            ended_at: None,
            end: None,
            outcome: None,
            cancelled: false,
            placed_at: now,
            pending: None,
            reported_early: false,
        }
    }

    /// The leg's number in its call.
    pub fn id(&self) -> LegId {
        self.id
    }

    /// Where it was sent.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The last SIP status the far end sent (100 before any).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// When the far end answered.
    pub fn answered_at(&self) -> Option<Time> {
        self.answered_at
    }

    /// When the leg ended.
    pub fn ended_at(&self) -> Option<Time> {
        self.ended_at
    }

    /// The leg's record for its call's CDR.
    pub fn cdr(&self) -> crate::call::cdr::LegCdr {
        let ms = |from: Time, to: Time| (to.saturating_since(from)).as_millis() as u64;
        let end = self.ended_at.unwrap_or(self.now);
        let outcome = match (&self.answered_at, &self.outcome) {
            (Some(_), _) => "answered",
            (None, Some(LegEnd::Busy)) => "busy",
            (None, Some(LegEnd::Failed(_))) => "failed",
            (None, Some(LegEnd::NoAnswer)) if self.cancelled => "cancelled",
            (None, _) if self.cancelled => "cancelled",
            (None, _) => "no_answer",
        };
        crate::call::cdr::LegCdr {
            leg: self.id,
            call_id: self.dialog.call_id().to_string(),
            target: self.target.clone(),
            outcome,
            sip_status: self.status,
            answer_ms: self.answered_at.map(|at| ms(self.placed_at, at)),
            duration_ms: self.answered_at.map_or(0, |at| ms(at, end)),
            media: self
                .media
                .as_ref()
                .map(|media| crate::call::cdr::MediaCdr::from_stats(&media.stats())),
        }
    }

    /// The leg is over and reported.
    pub fn is_ended(&self) -> bool {
        self.state == State::Ended
    }

    /// The media session, once there is one.
    pub fn media(&self) -> Option<&MediaSession> {
        self.media.as_ref()
    }

    /// The media session, to play to or listen on (after a transfer).
    pub fn media_mut(&mut self) -> Option<&mut MediaSession> {
        self.media.as_mut()
    }

    /// Hands the dialog back (to the dispatcher, which lets it linger).
    pub fn into_dialog(self) -> Dialog {
        self.dialog
    }

    /// The far end's audio is bridged from now on (or no longer).
    pub fn set_bridged(&mut self, bridged: bool) {
        if self.bridged == bridged {
            return;
        }
        self.bridged = bridged;
        if !bridged {
            self.set_recorded(false);
        }
        if let Some(media) = self.media.as_mut() {
            if !bridged && media.is_relaying() {
                media.set_relay(false);
                media.subscribe_audio();
            }
            match bridged {
                true => media.subscribe_audio(),
                false => media.unsubscribe_audio(),
            }
            media.set_live_audio(bridged);
        }
    }

    /// The bridge relays packets (both sides speak one codec) instead of
    /// decoding the far end's audio and sending the caller's as live audio.
    pub fn set_relay(&mut self, relay: bool) {
        let Some(media) = self.media.as_mut() else {
            return;
        };
        if !self.bridged || media.is_relaying() == relay {
            return;
        }
        match relay {
            true => media.unsubscribe_audio(),
            false => media.subscribe_audio(),
        }
        media.set_live_audio(!relay);
        media.set_relay(relay);
    }

    /// A recording of the call wants the far end's audio (`true`) or no
    /// longer: while the bridge relays, the leg decodes only for it.
    pub fn set_recorded(&mut self, recorded: bool) {
        let Some(media) = self.media.as_mut() else {
            return;
        };
        let wanted = recorded && self.bridged;
        if self.recorded == wanted {
            return;
        }
        self.recorded = wanted;
        match wanted {
            true => media.subscribe_audio(),
            false => media.unsubscribe_audio(),
        }
    }

    /// The frame the last [`LegOutput::Audio`] announced.
    pub fn received_audio(&self) -> Option<&[i16; crate::media::FRAME_SAMPLES]> {
        self.media.as_ref().map(|media| media.received_audio())
    }

    /// One frame of the caller's audio to send to the far end.
    pub fn send_audio(&mut self, frame: &[i16; crate::media::FRAME_SAMPLES]) {
        if let Some(media) = self.media.as_mut() {
            media.send_audio(frame);
        }
    }

    /// Keys the caller pressed, passed on to the far end.
    pub fn send_digits(&mut self, keys: &str) {
        if let Some(media) = self.media.as_mut() {
            media.send_digits(keys, Duration::from_millis(100), Duration::from_millis(60));
        }
    }

    /// A SIP message of the leg's dialog.
    pub fn handle_sip(&mut self, now: Time, message: DialogMessage) {
        self.now = now;
        self.dialog.handle_message(now, message);
    }

    /// An RTP datagram on the leg's socket.
    pub fn handle_rtp(&mut self, now: Time, from: SocketAddr, packet: &[u8]) {
        self.now = now;
        if let Some(media) = self.media.as_mut() {
            media.handle_rtp(now, from, packet);
        }
    }

    /// An RTCP datagram on the leg's RTCP socket.
    pub fn handle_rtcp(&mut self, now: Time, from: SocketAddr, packet: &[u8]) {
        self.now = now;
        if let Some(media) = self.media.as_mut() {
            media.handle_rtcp(now, from, packet);
        }
    }

    /// The clock reached the leg's deadline.
    pub fn handle_timeout(&mut self, now: Time) {
        self.now = now;
        if now >= self.dialog_deadline {
            self.dialog.handle_timeout(now);
        }
        if let Some(media) = self.media.as_mut() {
            media.handle_timeout(now);
        }
        if self.state == State::Calling && now >= self.ring_until {
            self.end_with(LegEnd::NoAnswer);
        }
    }

    /// Ends the leg from our side: CANCEL before an answer, BYE after.
    pub fn hangup(&mut self, now: Time) {
        self.now = now;
        if matches!(self.state, State::Ending | State::Ended) {
            return;
        }
        let end = match self.state {
            State::Answered => LegEnd::Hangup,
            _ => {
                self.cancelled = true;
                LegEnd::NoAnswer
            }
        };
        self.end_with(end);
    }

    fn end_with(&mut self, end: LegEnd) {
        if self.end.is_none() {
            self.end = Some(end);
        }
        self.state = State::Ending;
        if let Some(media) = self.media.as_mut() {
            media.close();
        }
        if let Err(err) = self.dialog.hangup(self.now) {
            log::debug!("leg {} to {}: hangup: {err}", self.id, self.target);
        }
    }

    /// The next thing to do; RTP is written into `buf`. Drain until `Idle`.
    pub fn poll_output(&mut self, buf: &mut [u8]) -> LegOutput {
        loop {
            if let Some(event) = self.pending.take() {
                return LegOutput::Event(event);
            }
            match self.dialog.poll_output() {
                DialogOutput::Transmit(transmit) => return LegOutput::Sip(transmit),
                DialogOutput::Event(event) => {
                    self.on_dialog_event(event);
                    continue;
                }
                DialogOutput::Timeout(at) => self.dialog_deadline = at,
            }
            let Some(media) = self.media.as_mut() else {
                self.media_deadline = Time::NEVER;
                return LegOutput::Idle;
            };
            match media.poll_output(buf) {
                MediaOutput::Transmit(len) => {
                    return LegOutput::Rtp {
                        dest: media.remote(),
                        len,
                    }
                }
                MediaOutput::Rtcp { len, dest, mux } => return LegOutput::Rtcp { len, dest, mux },
                MediaOutput::Audio(kind) => return LegOutput::Audio(kind),
                MediaOutput::Event(event) => return LegOutput::Event(LegEvent::Media(event)),
                MediaOutput::Timeout(at) => {
                    self.media_deadline = at;
                    return LegOutput::Idle;
                }
            }
        }
    }

    /// The earliest instant [`OutboundLeg::handle_timeout`] must run.
    pub fn deadline(&self) -> Time {
        let ring = match self.state {
            State::Calling => self.ring_until,
            _ => Time::NEVER,
        };
        ring.min(self.dialog_deadline).min(self.media_deadline)
    }

    fn on_dialog_event(&mut self, event: DialogEvent) {
        match event {
            DialogEvent::Progress(status) => {
                self.status = status;
                if let Some(sdp) = self.dialog.take_remote_sdp() {
                    if self.media.is_none() && self.follow_sdp(&sdp) && !self.reported_early {
                        self.reported_early = true;
                        self.pending = Some(LegEvent::EarlyMedia);
                        return;
                    }
                }
                self.pending = Some(LegEvent::Progress(status));
            }
            DialogEvent::Answered => {
                self.status = 200;
                let answer = self.dialog.take_remote_sdp();
                let usable = match answer {
                    Some(sdp) => self.follow_sdp(&sdp),
                    None => self.media.is_some(),
                };
                if self.state != State::Calling {
                    // Answered after we gave up: the dialog ACKs and BYEs it.
                    let _ = self.dialog.hangup(self.now);
                    return;
                }
                if !usable {
                    self.end_with(LegEnd::Failed(
                        "the far end's answer has no usable media".into(),
                    ));
                    return;
                }
                self.state = State::Answered;
                self.answered_at = Some(self.now);
                self.pending = Some(LegEvent::Answered);
            }
            DialogEvent::Dtmf(digit) => self.pending = Some(LegEvent::Dtmf(digit)),
            DialogEvent::RemoteHangup => {
                if self.end.is_none() {
                    self.end = Some(LegEnd::Hangup);
                }
            }
            DialogEvent::Terminated(reason) => {
                let end = self.end.take().unwrap_or_else(|| end_of(reason));
                if let TerminatedReason::Refused(status) = reason {
                    self.status = status;
                }
                self.state = State::Ended;
                self.ended_at = Some(self.now);
                if let Some(media) = self.media.as_mut() {
                    media.close();
                }
                self.outcome = Some(end.clone());
                self.pending = Some(LegEvent::Ended(end));
            }
            // Mid-dialog offers on a leg: the dialog answers what it can.
            DialogEvent::Reoffer | DialogEvent::OfferRequested => {
                let _ = self.dialog.reject_reinvite(self.now, 488);
            }
            DialogEvent::Confirmed
            | DialogEvent::Cancelled
            | DialogEvent::AnswerInAck
            | DialogEvent::Referred => {}
        }
    }

    /// Media follows the far end's SDP (early media or the answer): a new
    /// session, or the one early media started moved to the answer; false
    /// when the SDP is unusable.
    fn follow_sdp(&mut self, sdp: &crate::sip::sdp::Sdp) -> bool {
        let Ok(negotiated) = negotiate_with(sdp, &self.codecs, SrtpPolicy::Off, &[0; SDES_KEY_LEN])
        else {
            return false;
        };
        let codec = super::inbound::codec_of(negotiated.codec);
        if let Some(media) = self.media.as_mut() {
            media.renegotiate(
                negotiated.remote_rtp,
                codec,
                negotiated.codec_pt,
                negotiated.dtmf_pt,
                negotiated.we_send(),
            );
            return true;
        }
        let settings = self.media_settings;
        let mut media = MediaSession::new(
            MediaConfig {
                codec,
                codec_pt: negotiated.codec_pt,
                dtmf_pt: negotiated.dtmf_pt,
                remote: negotiated.remote_rtp,
                ssrc: settings.ssrc,
                initial_sequence: settings.initial_seq,
                initial_timestamp: settings.initial_timestamp,
                jitter_min: settings.jitter.0,
                jitter_max: settings.jitter.1,
                rtcp_mux: negotiated.rtcp_mux,
                ntp_at_zero: settings.ntp_at_zero,
                rtcp_seed: settings.rtcp_seed,
            },
            self.now,
        );
        if self.bridged {
            media.subscribe_audio();
            media.set_live_audio(true);
        }
        self.media = Some(media);
        true
    }
}

/// The flow's reading of a dialog that ended on its own.
fn end_of(reason: TerminatedReason) -> LegEnd {
    match reason {
        TerminatedReason::Refused(486 | 600) => LegEnd::Busy,
        TerminatedReason::Refused(408 | 480 | 487) => LegEnd::NoAnswer,
        TerminatedReason::Refused(status) => {
            LegEnd::Failed(format!("the far end refused with {status}"))
        }
        TerminatedReason::NoResponse => LegEnd::Failed("the far end did not respond".into()),
        TerminatedReason::CancelledLocally => LegEnd::NoAnswer,
        _ => LegEnd::Hangup,
    }
}
