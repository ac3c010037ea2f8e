//! The `dial` / `forward` / `transfer` side of a call: the outbound legs a
//! connect command places, the first answer winning, and the bridge between
//! the caller and the leg that answered.
//!
//! Every target rings at once (first 2xx wins; the others are cancelled, and
//! a late 2xx is acknowledged and hung up by its dialog). While the legs
//! ring, a call still in early media stays unanswered (answer-on-bridge): it
//! is answered when a leg answers, and a call that ends without any answer is
//! refused with the status the far end gave (busy → 486, …).
//!
//! The bridge decodes each side's audio out of its own jitter buffer and
//! sends it, re-encoded in the other side's codec, as the other side's live
//! audio ([`crate::media::LiveAudio`]): the two legs may speak different
//! codecs (transcoding), and each keeps its own loss concealment and pacing.
//! Keys the caller presses are passed on to the far end as RFC 4733 events.
//!
//! When both sides negotiated one codec and telephone-event
//! ([`crate::media::bridge_mode`]) the bridge relays instead: each packet a
//! side receives is rewritten into the other side's stream and sent on
//! undecoded ([`crate::media::Relay`]), RFC 4733 events with it. The mode is
//! checked again as packets and frames cross, so a re-INVITE on either side
//! that changes the codecs moves the bridge between relaying and transcoding.

use std::collections::VecDeque;
use std::time::Duration;

use crate::flow::{ConnectKind, Outcome};
use crate::media::recorder::Party;
use crate::media::{bridge_mode, BridgeMode, BridgeSide, FRAME_SAMPLES};
use crate::sip::{Dialog, DialogMessage};
use crate::time::Time;

use super::{Activity, Call, CallOutput, Phase};
use crate::call::leg::{LegEnd, LegEvent, LegId, LegMedia, LegOutput, LegRequest, OutboundLeg};

/// How long a dialled party may ring when the flow names no timeout.
pub(super) const DEFAULT_RING_TIMEOUT: Duration = Duration::from_secs(60);

/// The connect command a call is carrying out.
#[derive(Debug)]
pub(super) struct Connecting {
    /// The leg bridged to the caller, once one answered.
    pub(super) bridged: Option<LegId>,
    /// How long each leg rings.
    pub(super) ring_timeout: Duration,
    /// Legs asked for and not placed yet by the host.
    pub(super) requests: VecDeque<LegRequest>,
    /// Legs placed or asked for, still ringing or up.
    pub(super) live: usize,
    /// The most telling end among the legs that failed (busy beats no answer
    /// beats failure), reported when none answers.
    pub(super) worst: Option<LegEnd>,
    /// The last final status a leg got, for an unanswered caller.
    pub(super) status: u16,
}

impl Call {
    /// Starts a connect command: one leg per target, all ringing at once.
    pub(super) fn start_connect(
        &mut self,
        kind: ConnectKind,
        targets: Vec<String>,
        source: Option<String>,
        timeout: Option<Duration>,
    ) -> Option<Outcome> {
        if !matches!(
            kind,
            ConnectKind::Dial | ConnectKind::Forward | ConnectKind::Transfer
        ) {
            return self.unsupported(&format!("connecting calls ({})", kind.name()));
        }
        let targets: Vec<String> = targets
            .into_iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        if targets.is_empty() {
            return Some(Outcome::Failed("no target to connect to".into()));
        }
        let caller_id = source.unwrap_or_else(|| self.parties.from.clone());
        let mut requests = VecDeque::new();
        for target in targets {
            self.next_leg = self.next_leg.wrapping_add(1).max(1);
            requests.push_back(LegRequest {
                leg: self.next_leg,
                target,
                caller_id: caller_id.clone(),
                codecs: self.plan.codecs.clone(),
            });
        }
        self.connecting = Some(Connecting {
            bridged: None,
            ring_timeout: timeout.unwrap_or(DEFAULT_RING_TIMEOUT),
            live: requests.len(),
            requests,
            worst: None,
            status: 0,
        });
        self.activity = Activity::Connecting;
        None
    }

    /// The next leg the host must place, if any.
    pub fn take_leg_request(&mut self) -> Option<LegRequest> {
        if let Some(request) = self.transfer_request.take() {
            return Some(request);
        }
        self.connecting.as_mut()?.requests.pop_front()
    }

    /// How long the legs of the current connect command ring.
    pub fn leg_ring_timeout(&self) -> Duration {
        self.connecting
            .as_ref()
            .map_or(DEFAULT_RING_TIMEOUT, |c| c.ring_timeout)
    }

    /// The host placed `request`'s INVITE: `dialog` is the leg's.
    pub fn leg_placed(&mut self, now: Time, request: LegRequest, dialog: Dialog, media: LegMedia) {
        self.now = now;
        let ring = self.leg_ring_timeout();
        let leg = OutboundLeg::new(
            request.leg,
            request.target,
            dialog,
            media,
            request.codecs,
            ring,
            now,
        );
        let wanted = self.connecting.is_some() || self.is_transfer_leg(leg.id());
        if !wanted || !self.flow_live() {
            // The caller went away meanwhile: the leg is cancelled at once.
            let mut leg = leg;
            leg.hangup(now);
            self.legs.push(leg);
            return;
        }
        self.legs.push(leg);
    }

    /// The host could not place `request` (no route to its target, no port).
    pub fn leg_refused(&mut self, now: Time, request: &LegRequest, why: String) {
        self.now = now;
        log::info!(
            "call {}: cannot dial {}: {why}",
            self.parties.sip_call,
            request.target
        );
        if self.is_transfer_leg(request.leg) {
            return self.transfer_refused();
        }
        self.leg_over(LegEnd::Failed(why));
    }

    /// A SIP message of one of the call's legs.
    pub fn handle_leg_sip(&mut self, now: Time, leg: LegId, message: DialogMessage) {
        self.now = now;
        if let Some(leg) = self.legs.iter_mut().find(|l| l.id() == leg) {
            leg.handle_sip(now, message);
        }
    }

    /// An RTP (or, with `rtcp`, RTCP) datagram on one of the call's legs.
    pub fn handle_leg_rtp(
        &mut self,
        now: Time,
        leg: LegId,
        from: std::net::SocketAddr,
        data: &[u8],
        rtcp: bool,
    ) {
        self.now = now;
        if let Some(leg) = self.legs.iter_mut().find(|l| l.id() == leg) {
            match rtcp {
                true => leg.handle_rtcp(now, from, data),
                false => leg.handle_rtp(now, from, data),
            }
        }
        if !rtcp && self.bridged_leg() == Some(leg) {
            self.relay_from_leg(now);
        }
    }

    /// Relayed bridge: the packet the caller just sent goes on to the leg.
    pub(super) fn relay_from_caller(&mut self, now: Time) {
        let Some(leg) = self.bridged_leg() else {
            return;
        };
        if !self.refresh_bridge_mode() {
            return;
        }
        let Some(media) = self.media.as_mut() else {
            return;
        };
        let from = BridgeSide::from(media.config());
        let Some(packet) = media.take_relayed() else {
            return;
        };
        if let Some(to) = self
            .legs
            .iter_mut()
            .find(|l| l.id() == leg)
            .and_then(OutboundLeg::media_mut)
        {
            to.relay_packet(now, &from, packet);
        }
    }

    /// Relayed bridge: the packet the leg just received goes on to the caller.
    fn relay_from_leg(&mut self, now: Time) {
        let Some(leg) = self.bridged_leg() else {
            return;
        };
        if !self.refresh_bridge_mode() {
            return;
        }
        let Some(media) = self
            .legs
            .iter_mut()
            .find(|l| l.id() == leg)
            .and_then(OutboundLeg::media_mut)
        else {
            return;
        };
        let from = BridgeSide::from(media.config());
        let Some(packet) = media.take_relayed() else {
            return;
        };
        if let Some(to) = self.media.as_mut() {
            to.relay_packet(now, &from, packet);
        }
    }

    /// Puts the bridge in the mode the two sides' negotiated media call for
    /// (they may have changed by a re-INVITE); returns whether it relays.
    pub(super) fn refresh_bridge_mode(&mut self) -> bool {
        let Some(leg) = self.bridged_leg() else {
            return false;
        };
        let Some(index) = self.legs.iter().position(|l| l.id() == leg) else {
            return false;
        };
        let (Some(caller), Some(far)) = (self.media.as_mut(), self.legs[index].media()) else {
            return false;
        };
        let caller_side = BridgeSide::from(caller.config());
        let far_side = BridgeSide::from(far.config());
        let relay = bridge_mode(&caller_side, &far_side) == BridgeMode::Relay
            && bridge_mode(&far_side, &caller_side) == BridgeMode::Relay;
        // A recording hears the other party too: a relaying leg decodes
        // while one runs.
        let recording = self.recordings.is_recording();
        if caller.is_relaying() == relay {
            self.legs[index].set_recorded(recording);
            return relay;
        }
        log::debug!(
            "call {}: bridge to leg {leg} {}",
            self.parties.sip_call,
            if relay { "relays" } else { "transcodes" }
        );
        match relay {
            true => caller.unsubscribe_audio(),
            false => caller.subscribe_audio(),
        }
        caller.set_live_audio(!relay);
        caller.set_relay(relay);
        self.legs[index].set_relay(relay);
        self.legs[index].set_recorded(recording);
        relay
    }

    /// Runs the legs' timers due at `now`.
    pub(super) fn legs_timeout(&mut self, now: Time) {
        for leg in &mut self.legs {
            if leg.deadline() <= now {
                leg.handle_timeout(now);
            }
        }
    }

    /// The legs' earliest deadline.
    pub(super) fn legs_deadline(&self) -> Time {
        self.legs
            .iter()
            .map(OutboundLeg::deadline)
            .min()
            .unwrap_or(Time::NEVER)
    }

    /// Drains the legs: the first output that must leave, or `None` when every
    /// leg is idle. Legs that ended and whose dialogs are done are given back
    /// through [`Call::take_finished_leg`].
    pub(super) fn poll_legs(&mut self, buf: &mut [u8]) -> Option<CallOutput> {
        let mut index = 0;
        while index < self.legs.len() {
            match self.legs[index].poll_output(buf) {
                LegOutput::Sip(transmit) => return Some(CallOutput::Sip(transmit)),
                LegOutput::Rtp { dest, len } => {
                    let leg = self.legs[index].id();
                    return Some(CallOutput::LegRtp { leg, dest, len });
                }
                LegOutput::Rtcp { dest, len, mux } => {
                    let leg = self.legs[index].id();
                    return Some(match mux {
                        true => CallOutput::LegRtp { leg, dest, len },
                        false => CallOutput::LegRtcp { leg, dest, len },
                    });
                }
                LegOutput::Audio(_) => {
                    let leg = self.legs[index].id();
                    if self.bridged_leg() == Some(leg) {
                        if let Some(frame) = self.legs[index].received_audio() {
                            let frame: [i16; FRAME_SAMPLES] = *frame;
                            if let Some(media) = self.media.as_mut().filter(|m| !m.is_relaying()) {
                                media.send_audio(&frame);
                            }
                            if self.recordings.is_recording() {
                                // The other party: a dual recording's right channel,
                                // mixed into a mono one.
                                self.recordings.handle_frame(self.now, Party::Other, &frame);
                            }
                        }
                    }
                }
                LegOutput::Event(event) => {
                    let leg = self.legs[index].id();
                    self.on_leg_event(leg, event);
                }
                LegOutput::Idle => index += 1,
            }
        }
        None
    }

    /// A frame of the caller's audio, for the bridged leg.
    pub(super) fn caller_audio(&mut self) {
        let Some(leg) = self.bridged_leg() else {
            return;
        };
        if self.refresh_bridge_mode() {
            return;
        }
        let Some(media) = self.media.as_ref() else {
            return;
        };
        let frame: [i16; FRAME_SAMPLES] = *media.received_audio();
        if let Some(leg) = self.legs.iter_mut().find(|l| l.id() == leg) {
            leg.send_audio(&frame);
        }
    }

    /// A key the caller pressed while bridged: passed on to the far end.
    pub(super) fn caller_digit_in_bridge(&mut self, digit: char) -> bool {
        let Some(leg) = self.bridged_leg() else {
            return false;
        };
        if self.media.as_ref().is_some_and(|m| m.is_relaying()) {
            // The key's RFC 4733 packets were relayed as they came.
            return true;
        }
        if let Some(leg) = self.legs.iter_mut().find(|l| l.id() == leg) {
            let mut keys = [0u8; 4];
            leg.send_digits(digit.encode_utf8(&mut keys));
        }
        true
    }

    /// The leg bridged to the caller.
    pub(super) fn bridged_leg(&self) -> Option<LegId> {
        self.connecting.as_ref()?.bridged
    }

    /// A leg whose dialog is done, for the host to release.
    pub fn take_finished_leg(&mut self) -> Option<(LegId, Dialog)> {
        let index = self.legs.iter().position(OutboundLeg::is_ended)?;
        let leg = self.legs.swap_remove(index);
        self.leg_cdrs.push(leg.cdr());
        Some((leg.id(), leg.into_dialog()))
    }

    /// Every leg's dialog, for a call being retired.
    pub fn take_all_legs(&mut self) -> Vec<(LegId, Dialog)> {
        let legs: Vec<OutboundLeg> = self.legs.drain(..).collect();
        legs.into_iter()
            .map(|leg| {
                self.leg_cdrs.push(leg.cdr());
                (leg.id(), leg.into_dialog())
            })
            .collect()
    }

    /// The records of every leg, gone or not, in the order they were placed.
    pub(super) fn leg_records(&self) -> Vec<crate::call::cdr::LegCdr> {
        let mut records: Vec<_> = self.leg_cdrs.clone();
        records.extend(self.legs.iter().map(OutboundLeg::cdr));
        records.sort_by_key(|record| record.leg);
        records
    }

    /// Hangs up every leg (the caller left, or the flow hangs up).
    pub(super) fn hangup_legs(&mut self) {
        let now = self.now;
        for leg in &mut self.legs {
            leg.hangup(now);
        }
        if let Some(connecting) = self.connecting.as_mut() {
            connecting.requests.clear();
        }
    }

    fn on_leg_event(&mut self, leg: LegId, event: LegEvent) {
        if self.on_transfer_leg_event(leg, &event) {
            return;
        }
        match event {
            LegEvent::Progress(_) | LegEvent::EarlyMedia => {}
            LegEvent::Dtmf(_) | LegEvent::Media(_) => {}
            LegEvent::Answered => self.on_leg_answered(leg),
            LegEvent::Ended(end) => {
                let bridged = self.bridged_leg() == Some(leg);
                if bridged {
                    self.bridge_ended();
                } else if self
                    .connecting
                    .as_ref()
                    .is_some_and(|c| c.bridged.is_none())
                {
                    if let Some(status) = self
                        .legs
                        .iter()
                        .find(|l| l.id() == leg)
                        .map(OutboundLeg::status)
                    {
                        if let Some(c) = self.connecting.as_mut() {
                            c.status = status;
                        }
                    }
                    self.leg_over(end);
                }
            }
        }
    }

    fn on_leg_answered(&mut self, leg: LegId) {
        let now = self.now;
        let first = self
            .connecting
            .as_ref()
            .is_some_and(|c| c.bridged.is_none());
        if !first || !self.flow_live() {
            if let Some(other) = self.legs.iter_mut().find(|l| l.id() == leg) {
                other.hangup(now);
            }
            return;
        }
        for other in self.legs.iter_mut().filter(|l| l.id() != leg) {
            other.hangup(now);
        }
        if let Some(connecting) = self.connecting.as_mut() {
            connecting.bridged = Some(leg);
            connecting.requests.clear();
        }
        if self.phase == Phase::Early {
            // Answer-on-bridge: the caller is answered as the far end is.
            self.answer_early();
        }
        if let Some(media) = self.media.as_mut() {
            media.stop_playback();
            media.subscribe_audio();
            media.set_live_audio(true);
        }
        if let Some(leg) = self.legs.iter_mut().find(|l| l.id() == leg) {
            leg.set_bridged(true);
        }
        self.refresh_bridge_mode();
        self.activity = Activity::Waiting;
        self.resume_flow(Outcome::Answered);
    }

    /// A leg that rang ended without answering; once every leg has, the
    /// flow learns the most telling outcome.
    fn leg_over(&mut self, end: LegEnd) {
        let Some(connecting) = self.connecting.as_mut() else {
            return;
        };
        connecting.live = connecting.live.saturating_sub(1);
        let rank = |end: &LegEnd| match end {
            LegEnd::Busy => 3,
            LegEnd::NoAnswer => 2,
            LegEnd::Failed(_) => 1,
            LegEnd::Hangup => 0,
        };
        if connecting
            .worst
            .as_ref()
            .is_none_or(|w| rank(&end) > rank(w))
        {
            connecting.worst = Some(end);
        }
        if connecting.live > 0 {
            return;
        }
        let outcome = match connecting.worst.take() {
            Some(LegEnd::Busy) => Outcome::Busy,
            Some(LegEnd::NoAnswer) => Outcome::NoAnswer,
            Some(LegEnd::Failed(why)) => Outcome::Failed(why),
            Some(LegEnd::Hangup) | None => Outcome::NoAnswer,
        };
        self.dial_status = match &outcome {
            Outcome::Busy => Some(486),
            Outcome::NoAnswer => Some(480),
            _ => Some(connecting.status).filter(|s| *s >= 400),
        };
        self.connecting = None;
        self.activity = Activity::Idle;
        self.resume_flow(outcome);
    }

    /// The bridged leg hung up (or failed): the flow goes on after the bridge.
    fn bridge_ended(&mut self) {
        self.connecting = None;
        if let Some(media) = self.media.as_mut() {
            match media.is_relaying() {
                true => media.set_relay(false),
                false => media.unsubscribe_audio(),
            }
            media.set_live_audio(false);
        }
        if self.flow_live() {
            self.activity = Activity::Idle;
            self.resume_flow(Outcome::BridgeEnded);
        }
    }

    fn resume_flow(&mut self, outcome: Outcome) {
        if !self.flow_running {
            return;
        }
        let directive = self.session.resume(outcome, self.plan.wall.at(self.now));
        self.run(directive);
    }

    /// The caller left: the legs go too.
    pub(super) fn caller_left(&mut self) {
        self.hangup_legs();
        self.connecting = None;
        self.transfer_request = None;
    }
}
