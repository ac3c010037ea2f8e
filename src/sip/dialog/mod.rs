//! One SIP dialog (RFC 3261 §12) with its own transactions and timers: the
//! object a call owns for each of its legs, as quinn-proto's `Connection` is
//! owned apart from its `Endpoint`.
//!
//! The [`Dispatcher`](crate::sip::Dispatcher) parses datagrams and hands each
//! message of this dialog's Call-ID to [`Dialog::handle_message`]; the call
//! drives it with [`Dialog::ring`], [`Dialog::answer`], [`Dialog::reject`] and
//! [`Dialog::hangup`] and the clock with [`Dialog::handle_timeout`].
//! Everything the dialog wants done comes out of [`Dialog::poll_output`]:
//! datagrams to send, [`DialogEvent`]s, and the instant of its next timer.
//!
//! **After every input, drain `poll_output` until it returns `Timeout`.**
//!
//! Mid-dialog offers (re-INVITE with or without SDP, UPDATE) are handed to
//! the owner (`requests.rs`); the session timer (RFC 4028) runs in the dialog
//! itself (`refresh.rs`): it refreshes or ends the call with BYE on its own.
//! Reliable provisionals (RFC 3262: our 183 with early media, its PRACK, the
//! 2xx held for it) are in `prack.rs`.
//!
//! A dialog holds a handful of transactions (its INVITE, our BYE, the requests
//! it answered), so finding one is a short linear walk inside the dialog;
//! nothing here is shared with other dialogs. Every dialog reports exactly one
//! [`DialogEvent::Terminated`]; `Cancelled` and `RemoteHangup` come just
//! before it. After that it may still hold transactions (answering
//! retransmissions until Timers J/L end): its owner then hands it back with
//! [`Dispatcher::release`](crate::sip::Dispatcher::release).

mod info_dtmf;
mod outbound;
mod peer;
mod prack;
mod refer;
mod refresh;
mod requests;
mod timeouts;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::sip::error::SipError;
use crate::sip::event::{CallId, Link, TerminatedReason, Transmit};
use crate::sip::incoming::{DialogMessage, IncomingRequest};
use crate::sip::message::{build_response, ResponseParts};
use crate::sip::sdp::Sdp;
use crate::sip::session_timer::{SessionClock, SessionTimer, TimerRequest};
use crate::sip::settings::SipSettings;
use crate::sip::stats::SipStats;
use crate::sip::transaction::{InviteServerTx, NonInviteClientTx, NonInviteServerTx, TxKey};
use crate::time::Time;

pub use outbound::{OutboundInvite, MAX_UDP_REQUEST};
pub(crate) use peer::Peer;
pub(crate) use prack::REL100_TAG;

/// Status sent when `hangup` is called before the call was answered.
const HANGUP_BEFORE_ANSWER_STATUS: u16 = 480;

/// Where a dialog stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DialogState {
    /// Our INVITE is out, no final response yet (possibly early dialogs).
    Calling,
    /// INVITE received, no final response yet (possibly 180 sent).
    Offered,
    /// 2xx sent, waiting for the ACK.
    Answered,
    /// ACK received: the dialog is confirmed.
    Confirmed,
    /// We sent BYE and wait for its final response.
    ByeSent,
    /// Over: `Terminated` was reported. Transactions may linger.
    Terminated,
}

/// What the dialog's owner must know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogEvent {
    /// The ACK for our 2xx arrived.
    Confirmed,
    /// CANCEL before the final response: 200 (CANCEL) and 487 (INVITE) are
    /// already sent. `Terminated(Cancelled)` follows.
    Cancelled,
    /// BYE received; 200 already sent. `Terminated(RemoteHangup)` follows.
    RemoteHangup,
    /// A key pressed, carried in a SIP INFO (`application/dtmf-relay` or
    /// `application/dtmf`); 200 already sent.
    Dtmf(char),
    /// A re-INVITE or an UPDATE with a new offer ([`Dialog::take_reoffer`]):
    /// answer it with [`Dialog::answer_reinvite`] or refuse it with
    /// [`Dialog::reject_reinvite`].
    Reoffer,
    /// A re-INVITE without an offer (RFC 3261 §14.1, RFC 6337): answer it
    /// with our offer through [`Dialog::answer_reinvite`] (or refuse it with
    /// [`Dialog::reject_reinvite`]); the answer comes in its ACK
    /// ([`DialogEvent::AnswerInAck`]).
    OfferRequested,
    /// The ACK of our 200 to an offerless re-INVITE arrived: its SDP, the
    /// answer to our offer, is in [`Dialog::take_ack_sdp`] (`None` when it
    /// carried none, or none that parsed).
    AnswerInAck,
    /// A provisional response (101–199) to our INVITE, from an early dialog;
    /// an SDP it carried (early media) is in [`Dialog::take_remote_sdp`].
    Progress(u16),
    /// A 2xx to our INVITE, already acknowledged: the dialog is confirmed and
    /// the far end's answer is in [`Dialog::take_remote_sdp`].
    Answered,
    /// A REFER was accepted (202 sent, the first NOTIFY out): place a call
    /// to [`Dialog::take_refer_target`] and report it with
    /// [`Dialog::notify_refer`]. Only when [`Dialog::allow_refer`] allowed it.
    Referred,
    /// The dialog is over (reported once).
    Terminated(TerminatedReason),
}

/// What the dialog wants done next.
#[derive(Clone, Debug, PartialEq)]
pub enum DialogOutput {
    /// Send this datagram.
    Transmit(Transmit),
    /// Something happened.
    Event(DialogEvent),
    /// Nothing more until this instant ([`Time::NEVER`]: no timer): call
    /// [`Dialog::handle_timeout`] then.
    Timeout(Time),
}

#[derive(Debug)]
enum Pending {
    Transmit(Transmit),
    Event(DialogEvent),
}

/// A re-INVITE (or an UPDATE) in the dialog and its transaction.
#[derive(Debug)]
struct Reinvite {
    request: IncomingRequest,
    /// The INVITE server transaction (unused for an UPDATE, which is
    /// answered in a non-INVITE one).
    tx: InviteServerTx,
    /// Its offer, until the owner takes it.
    offer: Option<Sdp>,
    /// It came without an offer: our 2xx carries one, its ACK the answer.
    offerless: bool,
    /// An UPDATE (RFC 3311), not a re-INVITE.
    update: bool,
    /// The session timer its 2xx establishes.
    timer: Option<SessionTimer>,
}

/// Our BYE in flight.
#[derive(Debug)]
struct OurBye {
    branch: String,
    tx: NonInviteClientTx,
    /// Whether its end reports `Terminated` (not for the BYE after an ACK timeout,
    /// which was reported already).
    report: bool,
}

/// One inbound dialog and its transactions.
#[derive(Debug)]
pub struct Dialog {
    config: Arc<SipSettings>,
    call_id: CallId,
    peer: Peer,
    state: DialogState,
    /// `hangup` was called before the ACK arrived; BYE goes out once it does (§15).
    hangup_requested: bool,
    /// The INVITE transaction that created the dialog, until it ends.
    invite_tx: Option<InviteServerTx>,
    /// INVITEs refused inside the dialog (re-INVITE, merged), until they end.
    refused_invites: Vec<(TxKey, InviteServerTx)>,
    /// Non-INVITE requests answered, kept for their retransmissions (Timer J).
    server_txs: Vec<(TxKey, NonInviteServerTx)>,
    bye: Option<OurBye>,
    /// The SDP of the ACK that confirmed the dialog (the answer to a late offer).
    ack_sdp: Option<Sdp>,
    /// A re-INVITE being answered, until its ACK (or Timer H).
    reinvite: Option<Reinvite>,
    /// The client side of a dialog we created ([`Dialog::new_uac_over`]).
    uac: Option<Box<outbound::Uac>>,
    /// The far end's SDP in a response to our INVITE, until taken.
    remote_sdp: Option<Sdp>,
    /// The session timer our 200 to the INVITE will establish.
    offered_timer: Option<SessionTimer>,
    /// The session timer running (RFC 4028), from our 2xx on.
    session: Option<SessionClock>,
    /// Our session refresh in flight (UPDATE or re-INVITE).
    refresh: Option<refresh::OurRefresh>,
    /// The SDP we last sent (answer or offer): the body of a re-INVITE refresh.
    local_sdp: Option<String>,
    /// Reliable provisionals (RFC 3262): what the INVITE allows, the one
    /// awaiting its PRACK, a 2xx held back for it.
    reliability: prack::Reliability,
    /// REFER received (RFC 3515): whether it is allowed, and its NOTIFYs.
    refers: refer::Refers,
    rng: fastrand::Rng,
    pending: VecDeque<Pending>,
    stats: SipStats,
}

impl Dialog {
    /// A dialog for a new INVITE; sends 100 Trying.
    pub(crate) fn new_uas(
        config: Arc<SipSettings>,
        call_id: CallId,
        incoming: IncomingRequest,
        local_tag: String,
        rng_seed: u64,
    ) -> Dialog {
        let IncomingRequest {
            source,
            link,
            key,
            echo,
            request,
        } = incoming;
        let parts = ResponseParts {
            server: &config.user_agent,
            ..ResponseParts::default()
        };
        let trying = build_response(&echo, 100, &parts);
        let timers = config.timers;
        let mut peer = Peer::new(source, &request.head, echo, key, local_tag);
        peer.link = link;
        // A sips: INVITE reaches a dialog only over TLS (else 416).
        peer.sips = link.is_tls() && peer::is_sips_uri(&request.uri);
        let rng = fastrand::Rng::with_seed(rng_seed);
        let timer_request = TimerRequest::read(&request.head);
        let offered_timer = timer_request.negotiate(&config.session_timer, None);
        let rel100 = prack::Rel100::read(&request.head);
        let mut dialog = Dialog::blank(config, call_id, peer, DialogState::Offered, rng);
        dialog.offered_timer = offered_timer;
        let rseq = dialog.rng.u32(1..1 << 31);
        dialog.reliability = prack::Reliability::new(rel100, rseq);
        dialog.invite_tx = Some(InviteServerTx::new(source, trying.clone(), timers));
        dialog.transmit(source, trying);
        dialog
    }

    /// A dialog with no transaction yet.
    fn blank(
        config: Arc<SipSettings>,
        call_id: CallId,
        peer: Peer,
        state: DialogState,
        rng: fastrand::Rng,
    ) -> Dialog {
        Dialog {
            config,
            call_id,
            peer,
            state,
            hangup_requested: false,
            invite_tx: None,
            refused_invites: Vec::new(),
            server_txs: Vec::new(),
            bye: None,
            ack_sdp: None,
            reinvite: None,
            uac: None,
            remote_sdp: None,
            offered_timer: None,
            session: None,
            refresh: None,
            local_sdp: None,
            reliability: prack::Reliability::default(),
            refers: refer::Refers::default(),
            rng,
            pending: VecDeque::with_capacity(4),
            stats: SipStats::default(),
        }
    }

    /// The Call-ID.
    pub fn call_id(&self) -> &CallId {
        &self.call_id
    }

    /// The transport of the dialog (its INVITE's; for an outbound call, TCP
    /// when the INVITE was too large for UDP).
    pub fn link(&self) -> Link {
        self.peer.link
    }

    /// A message the dispatcher routed here.
    pub fn handle_message(&mut self, now: Time, message: DialogMessage) {
        match message {
            DialogMessage::Request(incoming) => self.on_request(now, *incoming),
            DialogMessage::Response(response) => self.on_response(now, &response),
        }
    }

    /// The next thing to do. After every input, call until it returns `Timeout`.
    pub fn poll_output(&mut self) -> DialogOutput {
        match self.pending.pop_front() {
            Some(Pending::Transmit(transmit)) => DialogOutput::Transmit(transmit),
            Some(Pending::Event(event)) => DialogOutput::Event(event),
            None => DialogOutput::Timeout(self.deadline()),
        }
    }

    /// Whether the dialog is over and holds no transaction: it can be dropped.
    pub fn is_finished(&self) -> bool {
        self.state == DialogState::Terminated
            && self.invite_tx.is_none()
            && self.refused_invites.is_empty()
            && self.server_txs.is_empty()
            && self.bye.is_none()
            && self.reinvite.is_none()
            && self.refresh.is_none()
            && self.reliability.unacked.is_none()
            && self.refers.is_idle()
            && self.outbound_idle()
            && self.pending.is_empty()
    }

    /// The SDP the confirming ACK carried, once (the answer when our 200 held
    /// the offer: to a late-offer INVITE, [`DialogEvent::Confirmed`], or to an
    /// offerless re-INVITE, [`DialogEvent::AnswerInAck`]); `None` if it had
    /// none or it did not parse.
    pub fn take_ack_sdp(&mut self) -> Option<Sdp> {
        self.ack_sdp.take()
    }

    /// The offer of the re-INVITE just reported ([`DialogEvent::Reoffer`]), once.
    pub fn take_reoffer(&mut self) -> Option<Sdp> {
        self.reinvite
            .as_mut()
            .and_then(|reinvite| reinvite.offer.take())
    }

    /// Answers the pending re-INVITE or UPDATE with 200 OK carrying `sdp`:
    /// the answer to its offer ([`DialogEvent::Reoffer`]), or our offer
    /// when it had none ([`DialogEvent::OfferRequested`]). A re-INVITE's 200
    /// is retransmitted until its ACK. The 200 refreshes the session timer.
    pub fn answer_reinvite(&mut self, now: Time, sdp: &str) -> Result<(), SipError> {
        let contact = self.peer.contact(self.config.local_addr);
        let reinvite = self.reinvite.as_mut().ok_or(SipError::WrongState)?;
        if !reinvite.tx.is_proceeding() {
            return Err(SipError::WrongState);
        }
        let mut extra = vec![(ezk_sip_types::Name::CONTACT, contact)];
        extra.extend(
            reinvite
                .timer
                .iter()
                .flat_map(SessionTimer::response_headers),
        );
        let response = reinvite.request.response_with_body(
            200,
            &self.peer.local_tag,
            extra,
            &self.config.user_agent,
            Some(("application/sdp", sdp.as_bytes())),
        );
        let (dest, timer) = (reinvite.tx.dest, reinvite.timer);
        if reinvite.update {
            let key = reinvite.request.key.clone();
            self.reinvite = None;
            self.remember_response(now, key, dest, response.clone());
        } else {
            reinvite.tx.send_2xx(now, response.clone());
        }
        self.local_sdp = Some(sdp.to_owned());
        self.session_refreshed(now, timer);
        self.transmit(dest, response);
        Ok(())
    }

    /// Refuses the pending re-INVITE or UPDATE (e.g. 488); the session stays
    /// as it was.
    pub fn reject_reinvite(&mut self, now: Time, status: u16) -> Result<(), SipError> {
        if !(300..=699).contains(&status) {
            return Err(SipError::InvalidStatus(status));
        }
        let reinvite = self.reinvite.as_mut().ok_or(SipError::WrongState)?;
        if !reinvite.tx.is_proceeding() {
            return Err(SipError::WrongState);
        }
        let response = reinvite.request.response(
            status,
            &self.peer.local_tag,
            Vec::new(),
            &self.config.user_agent,
        );
        let dest = reinvite.tx.dest;
        // Refused: no offer of ours awaits an answer in its ACK.
        reinvite.offerless = false;
        if reinvite.update {
            let key = reinvite.request.key.clone();
            self.reinvite = None;
            self.remember_response(now, key, dest, response.clone());
        } else {
            reinvite.tx.send_non_2xx(now, response.clone());
        }
        self.transmit(dest, response);
        Ok(())
    }

    /// Whether the dialog has reported `Terminated` (its transactions may linger).
    pub fn is_terminated(&self) -> bool {
        self.state == DialogState::Terminated
    }

    /// Counters of this dialog's work (folded into the dispatcher's on release).
    pub(crate) fn stats(&self) -> &SipStats {
        &self.stats
    }

    /// Sends 180 Ringing (with our To tag, Contact and Record-Route);
    /// reliably (RFC 3262) when the INVITE requires `100rel`.
    pub fn ring(&mut self, now: Time) -> Result<(), SipError> {
        self.provisional(now, 180, None).map(|_| ())
    }

    /// Sends 183 Session Progress with `sdp_answer` (early media). It is
    /// reliable (`Require: 100rel`, `RSeq`; retransmitted until its PRACK)
    /// when the INVITE supports or requires `100rel`; a later
    /// [`Dialog::answer`] then waits for that PRACK. Returns whether it is
    /// reliable. The SDP is the answer: the 200 must carry the same one.
    pub fn early_media(&mut self, now: Time, sdp_answer: &str) -> Result<bool, SipError> {
        let reliable = self.provisional(now, 183, Some(sdp_answer))?;
        self.local_sdp = Some(sdp_answer.to_owned());
        Ok(reliable)
    }

    /// Whether the INVITE supports or requires reliable provisionals.
    pub fn peer_supports_100rel(&self) -> bool {
        self.reliability.rel100 != prack::Rel100::No
    }

    /// Sends a provisional response; `true` when it went reliably.
    fn provisional(&mut self, now: Time, status: u16, sdp: Option<&str>) -> Result<bool, SipError> {
        let reliable = self.reliability.rel100.reliable(sdp.is_some());
        if reliable && self.reliability.unacked.is_some() {
            // §3: no second reliable provisional before the first is PRACKed.
            return Err(SipError::WrongState);
        }
        let rseq = reliable.then(|| self.reliability.take_rseq());
        let extra = match rseq {
            Some(rseq) => vec![
                (ezk_sip_types::Name::REQUIRE, prack::REL100_TAG.to_owned()),
                (ezk_sip_types::Name::RSEQ, rseq.to_string()),
            ],
            None => Vec::new(),
        };
        let response = self.offered_response_with(status, sdp, extra)?;
        let tx = self.invite_tx.as_mut().ok_or(SipError::WrongState)?;
        tx.send_provisional(response.clone());
        let dest = tx.dest;
        if let Some(rseq) = rseq {
            self.stats.reliable_provisionals_sent += 1;
            self.hold_reliable(now, rseq, dest, response.clone(), sdp.is_some());
        }
        self.transmit(dest, response);
        Ok(reliable)
    }

    /// Sends 200 OK with `sdp_answer` as body, our To tag and
    /// `Contact: <sip:callplane@local_addr>`; retransmitted until the ACK arrives.
    /// With a session timer (RFC 4028) the 200 carries `Session-Expires` (and
    /// `Require: timer` when the caller supports it), and the timer starts.
    ///
    /// After a reliable 183 that carried the answer, the 200 is held until
    /// its PRACK (RFC 3262 §3) and goes out then.
    pub fn answer(&mut self, now: Time, sdp_answer: &str) -> Result<(), SipError> {
        let waits = self
            .reliability
            .unacked
            .as_ref()
            .is_some_and(|unacked| unacked.carries_sdp);
        if waits && self.state == DialogState::Offered {
            self.reliability.deferred_answer = Some(sdp_answer.to_owned());
            return Ok(());
        }
        let response = self.offered_response(200, Some(sdp_answer))?;
        let tx = self.invite_tx.as_mut().ok_or(SipError::WrongState)?;
        tx.send_2xx(now, response.clone());
        let dest = tx.dest;
        self.state = DialogState::Answered;
        self.drop_reliable();
        self.local_sdp = Some(sdp_answer.to_owned());
        self.session_refreshed(now, self.offered_timer);
        self.transmit(dest, response);
        Ok(())
    }

    /// Sends a final non-2xx response (300..=699) and ends the dialog
    /// (`Terminated(Rejected)`); retransmitted until the caller's ACK.
    pub fn reject(&mut self, now: Time, status: u16) -> Result<(), SipError> {
        if !(300..=699).contains(&status) {
            return Err(SipError::InvalidStatus(status));
        }
        let response = self.offered_response(status, None)?;
        let tx = self.invite_tx.as_mut().ok_or(SipError::WrongState)?;
        tx.send_non_2xx(now, response.clone());
        let dest = tx.dest;
        self.drop_reliable();
        self.transmit(dest, response);
        self.terminate(now, TerminatedReason::Rejected);
        Ok(())
    }

    /// Hangs up. A confirmed dialog gets a BYE (`Terminated` when it completes
    /// or times out); before the ACK the BYE waits for it (§15); a call not yet
    /// answered is rejected with 480; an outbound call not yet answered is
    /// cancelled (`Terminated(CancelledLocally)` when its INVITE ends, or a
    /// BYE if a 2xx crosses the CANCEL). Hanging up twice is a no-op.
    pub fn hangup(&mut self, now: Time) -> Result<(), SipError> {
        match self.state {
            DialogState::Calling => {
                self.cancel_outbound(now);
                Ok(())
            }
            DialogState::Offered => self.reject(now, HANGUP_BEFORE_ANSWER_STATUS),
            DialogState::Answered => {
                self.hangup_requested = true;
                Ok(())
            }
            DialogState::Confirmed => {
                self.send_bye(now, true);
                Ok(())
            }
            DialogState::ByeSent => Ok(()),
            DialogState::Terminated => Err(SipError::UnknownCall),
        }
    }

    /// A response to the INVITE while the call is still offered.
    fn offered_response(&self, status: u16, sdp: Option<&str>) -> Result<Vec<u8>, SipError> {
        self.offered_response_with(status, sdp, Vec::new())
    }

    /// [`Dialog::offered_response`] with `extra` headers.
    fn offered_response_with(
        &self,
        status: u16,
        sdp: Option<&str>,
        mut extra: Vec<(ezk_sip_types::Name, String)>,
    ) -> Result<Vec<u8>, SipError> {
        match self.state {
            DialogState::Offered => {
                let timer = self.offered_timer.filter(|_| status == 200);
                extra.extend(timer.iter().flat_map(SessionTimer::response_headers));
                Ok(self.peer.invite_response(
                    status,
                    self.config.local_addr,
                    &self.config.user_agent,
                    sdp,
                    extra,
                ))
            }
            DialogState::Terminated => Err(SipError::UnknownCall),
            _ => Err(SipError::WrongState),
        }
    }

    /// Sends a BYE in the dialog. With `report`, its end reports `Terminated`.
    fn send_bye(&mut self, now: Time, report: bool) {
        let branch = self.new_branch();
        let request = self
            .peer
            .build_bye(&branch, self.config.local_addr, &self.config.user_agent);
        if self.state != DialogState::Terminated {
            self.state = DialogState::ByeSent;
        }
        let dest = self.peer.source;
        self.bye = Some(OurBye {
            branch,
            tx: NonInviteClientTx::new(now, dest, request.clone(), self.config.timers),
            report,
        });
        self.transmit(dest, request);
    }

    /// Reports the end once.
    fn terminate(&mut self, now: Time, reason: TerminatedReason) {
        if self.state != DialogState::Terminated {
            self.state = DialogState::Terminated;
            self.drop_reliable();
            self.refuse_pending_reinvite(now);
            self.pending
                .push_back(Pending::Event(DialogEvent::Terminated(reason)));
        }
    }

    /// A re-INVITE still unanswered when the dialog ends gets 487 (RFC 3261
    /// §15.1.2), so that its transaction ends too and the dialog can finish.
    fn refuse_pending_reinvite(&mut self, now: Time) {
        let Some(reinvite) = self.reinvite.as_mut().filter(|r| r.tx.is_proceeding()) else {
            return;
        };
        let response = reinvite.request.response(
            487,
            &self.peer.local_tag,
            Vec::new(),
            &self.config.user_agent,
        );
        reinvite.tx.send_non_2xx(now, response.clone());
        let dest = reinvite.tx.dest;
        self.transmit(dest, response);
    }

    fn event(&mut self, event: DialogEvent) {
        self.pending.push_back(Pending::Event(event));
    }

    fn transmit(&mut self, dest: SocketAddr, payload: Vec<u8>) {
        self.stats.transmits += 1;
        let link = self.peer.link;
        self.pending.push_back(Pending::Transmit(Transmit {
            dest,
            payload,
            link,
        }));
    }

    /// A timer-driven resend (or a stored response for a retransmitted
    /// request). On a stream only a 2xx to INVITE is resent (§13.3.1.4: the
    /// UAS core resends it until the ACK whatever the transport), and the ACK
    /// answering a resent 2xx; other requests and responses rely on the
    /// transport (§17.1.1.2, §17.2.1).
    fn retransmit(&mut self, dest: SocketAddr, payload: Vec<u8>) {
        let always = payload.starts_with(b"SIP/2.0 2") || payload.starts_with(b"ACK ");
        if self.peer.link.is_stream() && !always {
            self.stats.retransmits_suppressed += 1;
            return;
        }
        self.stats.retransmits_sent += 1;
        self.transmit(dest, payload);
    }

    fn new_tag(&mut self) -> String {
        format!("{:016x}", self.rng.u64(..))
    }

    /// A fresh RFC 3261 Via branch (magic cookie and 64 random bits).
    fn new_branch(&mut self) -> String {
        new_branch(&mut self.rng)
    }
}

/// A fresh RFC 3261 Via branch drawn from `rng`.
pub(crate) fn new_branch(rng: &mut fastrand::Rng) -> String {
    format!("z9hG4bK{:016x}", rng.u64(..))
}
