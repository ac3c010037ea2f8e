//! Requests and responses inside a dialog: INVITE retransmissions and
//! re-INVITEs (with or without an offer), UPDATE (RFC 3311), ACK, CANCEL,
//! BYE, OPTIONS and everything refused, and the final response to our BYE.
//!
//! Offer/answer glare: a re-INVITE or an UPDATE with an offer while one of
//! ours is outstanding (our refresh re-INVITE, or our offer in the 200 to an
//! offerless re-INVITE, awaiting its ACK) gets 491; one while another is being
//! answered gets 500 with `Retry-After`. A `Session-Expires` below our
//! minimum gets 422 with `Min-SE`.

use ezk_sip_types::Name;

use super::info_dtmf::{read_info, InfoBody};
use super::{Dialog, DialogEvent, DialogState, Reinvite};
use crate::sip::body::extract_sdp;
use crate::sip::event::TerminatedReason;
use crate::sip::incoming::IncomingRequest;
use crate::sip::message::Response;
use crate::sip::method::{Method, ALLOWED_METHODS};
use crate::sip::requirements::unsupported_extensions;
use crate::sip::sdp::Sdp;
use crate::sip::session_timer::{SessionTimer, TimerRequest};
use crate::sip::transaction::{
    ClientResponse, InviteAck, InviteServerTx, NonInviteServerTx, TxKey,
};
use crate::time::Time;

/// Status for a re-INVITE whose body is no SDP we can read, or that comes
/// before the dialog can take one.
const REINVITE_STATUS: u16 = 488;

/// `Retry-After` seconds of a 500 to a request that crosses one being answered.
const RETRY_AFTER_SECS: &str = "2";

/// What an offer-carrying request found in the dialog.
enum OfferState {
    /// Nothing in the way.
    Free,
    /// Another re-INVITE or UPDATE is being answered: 500 with `Retry-After`.
    Busy,
    /// An offer of ours awaits its answer: 491.
    Glare,
}

impl Dialog {
    pub(super) fn on_request(&mut self, now: Time, incoming: IncomingRequest) {
        match incoming.request.method {
            Method::Ack => self.on_ack(now, &incoming),
            Method::Invite => self.on_invite(now, &incoming),
            _ => self.on_non_invite(now, &incoming),
        }
    }

    pub(super) fn on_response(&mut self, now: Time, response: &Response) {
        if self.on_outbound_response(now, response)
            || self.on_refresh_response(now, response)
            || self.on_notify_response(now, response)
        {
            return;
        }
        let head = &response.head;
        let ours = self
            .bye
            .as_mut()
            .filter(|bye| head.cseq.method == Method::Bye && bye.branch == head.top_via.branch);
        let Some(bye) = ours else {
            self.stats.unmatched_responses += 1;
            return;
        };
        if bye.tx.on_response(now, response.status) == ClientResponse::Final && bye.report {
            bye.report = false;
            self.terminate(now, TerminatedReason::ByeCompleted);
        }
    }

    fn on_invite(&mut self, now: Time, incoming: &IncomingRequest) {
        let resend = self
            .invite_tx
            .as_ref()
            .filter(|_| self.peer.invite_key == incoming.key)
            .or_else(|| {
                self.refused_invites
                    .iter()
                    .find(|(key, _)| *key == incoming.key)
                    .map(|(_, tx)| tx)
            })
            .map(|tx| {
                tx.response_to_retransmission()
                    .map(|r| (tx.dest, r.to_vec()))
            });
        if let Some(resend) = resend {
            self.stats.request_retransmits_absorbed += 1;
            if let Some((dest, response)) = resend {
                self.retransmit(dest, response);
            }
            return;
        }
        let unsupported = unsupported_extensions(&incoming.request);
        if !unsupported.is_empty() {
            let extra = vec![(Name::UNSUPPORTED, unsupported.join(", "))];
            return self.refuse_invite(now, incoming, 420, extra);
        }
        let head = &incoming.request.head;
        let status = if head.to.tag().is_some() {
            let in_dialog =
                self.state != DialogState::Terminated && self.peer.matches_in_dialog(head);
            if in_dialog {
                return self.on_reinvite(now, incoming);
            }
            481
        } else {
            // Same Call-ID, new branch, no To tag: a merged or looped request (§8.2.2.2).
            482
        };
        self.refuse_invite(now, incoming, status, Vec::new());
    }

    /// An INVITE inside the dialog, once the dialog is confirmed: with an
    /// offer its owner answers it ([`DialogEvent::Reoffer`]); without one the
    /// owner offers in the 200 ([`DialogEvent::OfferRequested`]) and the
    /// answer comes in the ACK. Glare and too brief session intervals are
    /// refused here (see the module doc); a body that is no readable SDP gets 488.
    fn on_reinvite(&mut self, now: Time, incoming: &IncomingRequest) {
        if let Some(pending) = &self.reinvite {
            if pending.request.key == incoming.key {
                // A retransmission: resend what was sent, if anything.
                let resend = pending
                    .tx
                    .response_to_retransmission()
                    .filter(|r| !r.is_empty())
                    .map(|r| (pending.tx.dest, r.to_vec()));
                self.stats.request_retransmits_absorbed += 1;
                if let Some((dest, response)) = resend {
                    self.retransmit(dest, response);
                }
                return;
            }
        }
        match self.offer_state() {
            OfferState::Busy => {
                let extra = vec![(Name::RETRY_AFTER, RETRY_AFTER_SECS.to_owned())];
                return self.refuse_invite(now, incoming, 500, extra);
            }
            OfferState::Glare => return self.refuse_invite(now, incoming, 491, Vec::new()),
            OfferState::Free => {}
        }
        if self.state == DialogState::Answered {
            // Our 200 is not acknowledged yet: the caller may try again later.
            return self.refuse_invite(now, incoming, 491, Vec::new());
        }
        if self.state != DialogState::Confirmed {
            return self.refuse_invite(now, incoming, REINVITE_STATUS, Vec::new());
        }
        let timer = match self.refresh_timer(&incoming.request.head) {
            Ok(timer) => timer,
            Err(min_se) => {
                let extra = vec![(Name::MIN_SE, min_se.to_string())];
                return self.refuse_invite(now, incoming, 422, extra);
            }
        };
        let head = &incoming.request.head;
        let offer = match extract_sdp(head.content_type.as_deref(), &head.body) {
            None if head.body.is_empty() => None,
            body => match body.and_then(|body| Sdp::parse(body).ok()) {
                Some(offer) => Some(offer),
                None => return self.refuse_invite(now, incoming, REINVITE_STATUS, Vec::new()),
            },
        };
        let offerless = offer.is_none();
        self.reinvite = Some(Reinvite {
            request: incoming.clone(),
            tx: InviteServerTx::new(incoming.source, Vec::new(), self.config.timers),
            offer,
            offerless,
            update: false,
            timer,
        });
        self.event(if offerless {
            DialogEvent::OfferRequested
        } else {
            DialogEvent::Reoffer
        });
    }

    /// Whether an offer may be taken now.
    fn offer_state(&self) -> OfferState {
        if let Some(pending) = &self.reinvite {
            if pending.tx.is_proceeding() {
                return OfferState::Busy;
            }
            if pending.offerless && !pending.update {
                return OfferState::Glare;
            }
        }
        if self.refresh_offer_outstanding() {
            return OfferState::Glare;
        }
        OfferState::Free
    }

    /// The session timer a refresh request (`head`) asks for, or the
    /// `Min-SE` of the 422 it deserves.
    fn refresh_timer(
        &self,
        head: &crate::sip::message::MessageHead,
    ) -> Result<Option<SessionTimer>, u32> {
        let request = TimerRequest::read(head);
        let settings = &self.config.session_timer;
        if let Some(min_se) = request.too_brief(settings) {
            return Err(min_se);
        }
        Ok(request.negotiate(settings, self.session.map(|clock| clock.timer)))
    }

    /// UPDATE (RFC 3311). Confirmed: with an offer the owner answers it as a
    /// re-offer ([`DialogEvent::Reoffer`], 200 with the answer); without one
    /// it is a session refresh, answered 200 at once. Early (our 180 sent,
    /// no final response): without an offer 200, with one 500 and
    /// `Retry-After` (the INVITE's own offer is still unanswered).
    fn on_update(&mut self, now: Time, incoming: &IncomingRequest) {
        let head = &incoming.request.head;
        let matches = self.state != DialogState::Terminated && self.peer.matches_in_dialog(head);
        if !matches {
            return self.respond(now, incoming, 481, None, Vec::new());
        }
        let has_body = !head.body.is_empty();
        let contact = (
            Name::CONTACT,
            format!("<sip:callplane@{}>", self.config.local_addr),
        );
        if self.state != DialogState::Confirmed {
            if has_body {
                let extra = vec![(Name::RETRY_AFTER, RETRY_AFTER_SECS.to_owned())];
                return self.respond(now, incoming, 500, None, extra);
            }
            return self.respond(now, incoming, 200, None, vec![contact]);
        }
        if has_body {
            match self.offer_state() {
                OfferState::Busy => {
                    let extra = vec![(Name::RETRY_AFTER, RETRY_AFTER_SECS.to_owned())];
                    return self.respond(now, incoming, 500, None, extra);
                }
                OfferState::Glare => return self.respond(now, incoming, 491, None, Vec::new()),
                OfferState::Free => {}
            }
        }
        let timer = match self.refresh_timer(head) {
            Ok(timer) => timer,
            Err(min_se) => {
                let extra = vec![(Name::MIN_SE, min_se.to_string())];
                return self.respond(now, incoming, 422, None, extra);
            }
        };
        if !has_body {
            let mut extra = vec![contact];
            extra.extend(timer.iter().flat_map(SessionTimer::response_headers));
            self.respond(now, incoming, 200, None, extra);
            self.session_refreshed(now, timer);
            return;
        }
        let offer = extract_sdp(head.content_type.as_deref(), &head.body)
            .and_then(|body| Sdp::parse(body).ok());
        if offer.is_none() {
            return self.respond(now, incoming, REINVITE_STATUS, None, Vec::new());
        }
        self.reinvite = Some(Reinvite {
            request: incoming.clone(),
            tx: InviteServerTx::new(incoming.source, Vec::new(), self.config.timers),
            offer,
            offerless: false,
            update: true,
            timer,
        });
        self.event(DialogEvent::Reoffer);
    }

    /// Answers an INVITE that starts nothing with a final non-2xx, in its own
    /// transaction so that it is retransmitted and its ACK absorbed.
    fn refuse_invite(
        &mut self,
        now: Time,
        incoming: &IncomingRequest,
        status: u16,
        extra: Vec<(Name, String)>,
    ) {
        let tag = self.new_tag();
        let response = incoming.response(status, &tag, extra, &self.config.user_agent);
        let tx =
            InviteServerTx::refused(now, incoming.source, response.clone(), self.config.timers);
        self.refused_invites.push((incoming.key.clone(), tx));
        self.transmit(incoming.source, response);
    }

    fn on_ack(&mut self, now: Time, incoming: &IncomingRequest) {
        let own = self
            .invite_tx
            .as_mut()
            .filter(|_| self.peer.invite_key == incoming.key);
        if let Some(tx) = own {
            if tx.on_ack(now) == InviteAck::AbsorbedNon2xx {
                return;
            }
        }
        if let Some((_, tx)) = self
            .refused_invites
            .iter_mut()
            .find(|(key, _)| *key == incoming.key)
        {
            tx.on_ack(now);
            return;
        }
        let head = &incoming.request.head;
        if let Some(reinvite) = self.reinvite.as_mut().filter(|r| !r.update) {
            let for_reinvite = reinvite.request.request.head.cseq.seq == head.cseq.seq
                && self.peer.matches_in_dialog(head);
            if for_reinvite {
                let for_2xx = reinvite.tx.on_ack(now) == InviteAck::For2xx;
                reinvite.tx.stop_2xx_retransmission();
                if for_2xx && reinvite.offerless {
                    // The answer to the offer in our 200 (once: the flag clears).
                    reinvite.offerless = false;
                    self.ack_sdp = extract_sdp(head.content_type.as_deref(), &head.body)
                        .and_then(|body| Sdp::parse(body).ok());
                    self.event(DialogEvent::AnswerInAck);
                }
                return;
            }
        }
        let matches = self.state != DialogState::Terminated
            && self.peer.matches_in_dialog(head)
            && self.peer.invite_cseq == head.cseq.seq;
        if !matches {
            self.stats.unmatched_acks += 1;
            return;
        }
        if self.state != DialogState::Answered {
            return; // ACK retransmission for an already confirmed dialog.
        }
        self.state = DialogState::Confirmed;
        self.ack_sdp = extract_sdp(head.content_type.as_deref(), &head.body)
            .and_then(|body| Sdp::parse(body).ok());
        if let Some(tx) = self.invite_tx.as_mut() {
            tx.stop_2xx_retransmission();
        }
        self.event(DialogEvent::Confirmed);
        if self.hangup_requested {
            self.send_bye(now, true);
        }
    }

    fn on_non_invite(&mut self, now: Time, incoming: &IncomingRequest) {
        let pending_update = self
            .reinvite
            .as_ref()
            .is_some_and(|r| r.update && r.request.key == incoming.key);
        if pending_update {
            // Its owner has not answered yet: nothing to resend.
            self.stats.request_retransmits_absorbed += 1;
            return;
        }
        if let Some((_, tx)) = self.server_txs.iter().find(|(key, _)| *key == incoming.key) {
            let (dest, response) = (tx.dest, tx.response.clone());
            self.stats.request_retransmits_absorbed += 1;
            self.retransmit(dest, response);
            return;
        }
        if incoming.request.method != Method::Cancel {
            let unsupported = unsupported_extensions(&incoming.request);
            if !unsupported.is_empty() {
                let extra = vec![(Name::UNSUPPORTED, unsupported.join(", "))];
                return self.respond(now, incoming, 420, None, extra);
            }
        }
        match incoming.request.method {
            Method::Cancel => self.on_cancel(now, incoming),
            Method::Bye => self.on_bye(now, incoming),
            Method::Info => self.on_info(now, incoming),
            Method::Update => self.on_update(now, incoming),
            Method::Prack => self.on_prack(now, incoming),
            Method::Refer => self.on_refer(now, incoming),
            Method::Options => {
                let extra = vec![
                    (Name::ALLOW, ALLOWED_METHODS.to_owned()),
                    (Name::ACCEPT, "application/sdp".to_owned()),
                    (Name::SUPPORTED, crate::sip::requirements::supported_tags()),
                ];
                self.respond(now, incoming, 200, None, extra);
            }
            Method::Other(_) => self.respond(now, incoming, 501, None, Vec::new()),
            _ => {
                let extra = vec![(Name::ALLOW, ALLOWED_METHODS.to_owned())];
                self.respond(now, incoming, 405, None, extra);
            }
        }
    }

    fn on_cancel(&mut self, now: Time, incoming: &IncomingRequest) {
        let invite_key = incoming.key.invite_of_cancel();
        let ours = self.peer.invite_key == invite_key;
        let own_tx = self.invite_tx.as_ref().filter(|_| ours);
        let refused = self
            .refused_invites
            .iter()
            .any(|(key, _)| *key == invite_key);
        if own_tx.is_none() && !refused {
            return self.respond(now, incoming, 481, None, Vec::new());
        }
        let proceeding = own_tx.is_some_and(InviteServerTx::is_proceeding);
        let live = self.state != DialogState::Terminated;
        let local_tag = (own_tx.is_some() && live).then(|| self.peer.local_tag.clone());
        self.respond(now, incoming, 200, local_tag.as_deref(), Vec::new());
        if !(proceeding && live) {
            return; // Final response already sent: CANCEL has no effect (§9.2).
        }
        self.end_offered(now, 487);
        self.event(DialogEvent::Cancelled);
        self.terminate(now, TerminatedReason::Cancelled);
    }

    fn on_bye(&mut self, now: Time, incoming: &IncomingRequest) {
        let matches = self.state != DialogState::Terminated
            && self.peer.matches_in_dialog(&incoming.request.head);
        if !matches {
            return self.respond(now, incoming, 481, None, Vec::new());
        }
        self.respond(now, incoming, 200, None, Vec::new());
        match self.state {
            DialogState::Offered => self.end_offered(now, 487),
            DialogState::Answered => {
                if let Some(tx) = self.invite_tx.as_mut() {
                    tx.stop_2xx_retransmission();
                }
            }
            DialogState::ByeSent => {
                if let Some(bye) = self.bye.as_mut() {
                    bye.report = false;
                }
            }
            DialogState::Calling | DialogState::Confirmed | DialogState::Terminated => {}
        }
        self.event(DialogEvent::RemoteHangup);
        self.terminate(now, TerminatedReason::RemoteHangup);
    }

    /// INFO in the dialog: DTMF bodies become [`DialogEvent::Dtmf`]; other
    /// body types get 415 with `Accept`; outside the dialog, 481.
    fn on_info(&mut self, now: Time, incoming: &IncomingRequest) {
        let head = &incoming.request.head;
        let matches = self.state != DialogState::Terminated && self.peer.matches_in_dialog(head);
        if !matches {
            return self.respond(now, incoming, 481, None, Vec::new());
        }
        match read_info(head.content_type.as_deref(), &head.body) {
            InfoBody::Digit(digit) => {
                self.respond(now, incoming, 200, None, Vec::new());
                self.event(DialogEvent::Dtmf(digit));
            }
            InfoBody::Unreadable => self.respond(now, incoming, 200, None, Vec::new()),
            InfoBody::OtherType => {
                let accept = "application/dtmf-relay, application/dtmf".to_owned();
                self.respond(now, incoming, 415, None, vec![(Name::ACCEPT, accept)]);
            }
        }
    }

    /// Sends a final non-2xx to the INVITE of a call that has not been answered.
    pub(super) fn end_offered(&mut self, now: Time, status: u16) {
        self.drop_reliable();
        let response = self.peer.invite_response(
            status,
            self.config.local_addr,
            &self.config.user_agent,
            None,
            Vec::new(),
        );
        let Some(tx) = self.invite_tx.as_mut() else {
            return;
        };
        tx.send_non_2xx(now, response.clone());
        let dest = tx.dest;
        self.transmit(dest, response);
    }

    /// Answers a non-INVITE request and remembers the response for
    /// retransmissions. `to_tag` (or a fresh tag) goes in a To without one.
    pub(super) fn respond(
        &mut self,
        now: Time,
        incoming: &IncomingRequest,
        status: u16,
        to_tag: Option<&str>,
        extra: Vec<(Name, String)>,
    ) {
        let tag = match to_tag {
            Some(tag) => tag.to_owned(),
            None => self.new_tag(),
        };
        let response = incoming.response(status, &tag, extra, &self.config.user_agent);
        self.remember_response(now, incoming.key.clone(), incoming.source, response.clone());
        self.transmit(incoming.source, response);
    }

    /// Keeps a final response to a non-INVITE request for its retransmissions
    /// (Timer J).
    pub(super) fn remember_response(
        &mut self,
        now: Time,
        key: TxKey,
        dest: std::net::SocketAddr,
        response: Vec<u8>,
    ) {
        self.server_txs.push((
            key,
            NonInviteServerTx::new(now, dest, response, &self.config.timers),
        ));
    }
}
