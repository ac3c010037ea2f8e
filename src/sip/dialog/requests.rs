//! Requests and responses inside a dialog: INVITE retransmissions and
//! re-INVITEs, ACK, CANCEL, BYE, OPTIONS and everything refused, and the final
//! response to our BYE.

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
use crate::sip::transaction::{ClientResponse, InviteAck, InviteServerTx, NonInviteServerTx};
use crate::time::Time;

/// Status for an INVITE inside an established dialog: session changes are not supported.
const REINVITE_STATUS: u16 = 488;

impl Dialog {
    pub(super) fn on_request(&mut self, now: Time, incoming: IncomingRequest) {
        match incoming.request.method {
            Method::Ack => self.on_ack(now, &incoming),
            Method::Invite => self.on_invite(now, &incoming),
            _ => self.on_non_invite(now, &incoming),
        }
    }

    pub(super) fn on_response(&mut self, now: Time, response: &Response) {
        if self.on_outbound_response(now, response) {
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

    /// An INVITE inside the dialog. With an offer, once the dialog is
    /// confirmed, its owner answers it ([`DialogEvent::Reoffer`]); while another
    /// re-INVITE is unanswered, 500 with `Retry-After` (§14.2); without an
    /// offer (we would have to offer and take the answer from the ACK), 488.
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
            if pending.tx.is_proceeding() {
                let extra = vec![(Name::RETRY_AFTER, "2".to_owned())];
                return self.refuse_invite(now, incoming, 500, extra);
            }
        }
        let head = &incoming.request.head;
        let offer = extract_sdp(head.content_type.as_deref(), &head.body)
            .and_then(|body| Sdp::parse(body).ok());
        if self.state != DialogState::Confirmed || offer.is_none() {
            return self.refuse_invite(now, incoming, REINVITE_STATUS, Vec::new());
        }
        self.reinvite = Some(Reinvite {
            request: incoming.clone(),
            tx: InviteServerTx::new(incoming.source, Vec::new(), self.config.timers),
            offer,
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
        if let Some(reinvite) = self.reinvite.as_mut() {
            let for_reinvite = reinvite.request.request.head.cseq.seq == head.cseq.seq
                && self.peer.matches_in_dialog(head);
            if for_reinvite {
                reinvite.tx.on_ack(now);
                reinvite.tx.stop_2xx_retransmission();
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
            Method::Options => {
                let extra = vec![
                    (Name::ALLOW, ALLOWED_METHODS.to_owned()),
                    (Name::ACCEPT, "application/sdp".to_owned()),
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
    fn end_offered(&mut self, now: Time, status: u16) {
        let response = self.peer.invite_response(
            status,
            self.config.local_addr,
            &self.config.user_agent,
            None,
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
    fn respond(
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
        self.server_txs.push((
            incoming.key.clone(),
            NonInviteServerTx::new(now, incoming.source, response.clone(), &self.config.timers),
        ));
        self.transmit(incoming.source, response);
    }
}
