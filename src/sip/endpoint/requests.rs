//! Incoming requests: INVITE (new calls, retransmissions, re-INVITEs), ACK, CANCEL,
//! BYE, OPTIONS and everything we refuse.

use super::Endpoint;
use crate::sip::body::extract_sdp;
use crate::sip::dialog::{Call, CallState};
use crate::sip::event::{CallId, Event, TerminatedReason};
use crate::sip::header_value::split_list;
use crate::sip::message::{build_response, stamp_received, EchoHeaders, Request, ResponseParts};
use crate::sip::method::{Method, ALLOWED_METHODS};
use crate::sip::name_addr::uri_user;
use crate::sip::sdp::Sdp;
use crate::sip::transaction::{InviteAck, InviteServerTx, NonInviteServerTx, TxKey};
use crate::time::Time;
use ezk_sip_types::Name;
use std::net::SocketAddr;

/// Status for an INVITE inside an existing dialog: session changes are not supported.
const REINVITE_STATUS: u16 = 488;

/// A request with its transaction key and stamped echo headers.
struct Incoming {
    source: SocketAddr,
    key: TxKey,
    echo: EchoHeaders,
    request: Request,
}

impl Endpoint {
    pub(super) fn on_request(&mut self, now: Time, source: SocketAddr, request: Request) {
        let key = TxKey::for_request(&request.head, &request.method);
        let mut echo = request.head.echo.clone();
        if let Some(top) = echo.vias.first_mut() {
            *top = stamp_received(top, source);
        }
        let incoming = Incoming {
            source,
            key,
            echo,
            request,
        };
        match incoming.request.method {
            Method::Ack => self.on_ack(now, &incoming),
            Method::Invite => self.on_invite(now, incoming),
            _ => self.on_non_invite(now, incoming),
        }
    }

    fn on_invite(&mut self, now: Time, incoming: Incoming) {
        if let Some(tx) = self.invite_txs.get(&incoming.key) {
            let resend = tx
                .response_to_retransmission()
                .map(|r| (tx.dest, r.to_vec()));
            self.stats.request_retransmits_absorbed += 1;
            if let Some((dest, response)) = resend {
                self.retransmit(dest, response);
            }
            return;
        }
        let head = &incoming.request.head;
        let call_id = CallId(incoming.request.call_id().to_owned());
        let unsupported = unsupported_extensions(&incoming.request);
        if !unsupported.is_empty() {
            let extra = vec![(Name::UNSUPPORTED, unsupported.join(", "))];
            return self.reject_invite(now, &incoming, 420, extra);
        }
        if head.to.tag().is_some() {
            let in_dialog = self
                .calls
                .get(&call_id)
                .is_some_and(|call| call.matches_in_dialog(head));
            let status = if in_dialog { REINVITE_STATUS } else { 481 };
            return self.reject_invite(now, &incoming, status, Vec::new());
        }
        if self.calls.contains_key(&call_id) {
            // Same Call-ID, new branch, no To tag: a merged or looped request (§8.2.2.2).
            return self.reject_invite(now, &incoming, 482, Vec::new());
        }
        self.start_call(call_id, incoming);
    }

    fn start_call(&mut self, call_id: CallId, incoming: Incoming) {
        let Incoming {
            source,
            key,
            echo,
            request,
        } = incoming;
        let head = &request.head;
        let local_tag = self.new_tag();
        let parts = ResponseParts {
            server: &self.config.user_agent,
            ..ResponseParts::default()
        };
        let trying = build_response(&echo, 100, &parts);
        let call = Call::new(source, head, echo, key.clone(), local_tag);
        self.calls.insert(call_id.clone(), call);
        self.invite_txs.insert(
            key,
            InviteServerTx::new(source, Some(call_id.clone()), trying.clone()),
        );
        self.transmit(source, trying);
        let sdp = extract_sdp(head.content_type.as_deref(), &head.body)
            .and_then(|body| Sdp::parse(body).ok());
        self.stats.calls_offered += 1;
        self.events.push_back(Event::IncomingCall {
            call: call_id,
            source,
            request_user: uri_user(&request.uri),
            from_user: head.from.user(),
            from_display: head.from.display.clone(),
            to_user: head.to.user(),
            sdp,
        });
    }

    /// Answers an INVITE that starts no call with a final non-2xx, in its own
    /// transaction so that it is retransmitted and its ACK absorbed.
    fn reject_invite(
        &mut self,
        now: Time,
        incoming: &Incoming,
        status: u16,
        extra: Vec<(Name, String)>,
    ) {
        let tag = self.new_tag();
        let parts = ResponseParts {
            to_tag: Some(&tag),
            extra,
            server: &self.config.user_agent,
            body: None,
        };
        let response = build_response(&incoming.echo, status, &parts);
        let mut tx = InviteServerTx::new(incoming.source, None, Vec::new());
        tx.send_non_2xx(now, response.clone());
        self.invite_txs.insert(incoming.key.clone(), tx);
        self.transmit(incoming.source, response);
    }

    fn on_ack(&mut self, now: Time, incoming: &Incoming) {
        if let Some(tx) = self.invite_txs.get_mut(&incoming.key) {
            if tx.on_ack(now) == InviteAck::AbsorbedNon2xx {
                return;
            }
        }
        let head = &incoming.request.head;
        let call_id = CallId(incoming.request.call_id().to_owned());
        let Some(call) = self
            .calls
            .get_mut(&call_id)
            .filter(|call| call.matches_in_dialog(head) && call.invite_cseq == head.cseq.seq)
        else {
            self.stats.unmatched_acks += 1;
            return;
        };
        if call.state != CallState::Answered {
            return; // ACK retransmission for an already confirmed dialog.
        }
        call.state = CallState::Confirmed;
        let hangup_requested = call.hangup_requested;
        if let Some(tx) = self.invite_txs.get_mut(&call.invite_key) {
            tx.stop_2xx_retransmission();
        }
        self.events.push_back(Event::Confirmed {
            call: call_id.clone(),
        });
        if hangup_requested {
            self.send_bye(now, &call_id, true);
        }
    }

    fn on_non_invite(&mut self, now: Time, incoming: Incoming) {
        if let Some(tx) = self.server_txs.get(&incoming.key) {
            let (dest, response) = (tx.dest, tx.response.clone());
            self.stats.request_retransmits_absorbed += 1;
            self.retransmit(dest, response);
            return;
        }
        if incoming.request.method != Method::Cancel {
            let unsupported = unsupported_extensions(&incoming.request);
            if !unsupported.is_empty() {
                let extra = vec![(Name::UNSUPPORTED, unsupported.join(", "))];
                return self.respond(now, &incoming, 420, None, extra);
            }
        }
        match incoming.request.method {
            Method::Cancel => self.on_cancel(now, &incoming),
            Method::Bye => self.on_bye(now, &incoming),
            Method::Options => {
                let extra = vec![
                    (Name::ALLOW, ALLOWED_METHODS.to_owned()),
                    (Name::ACCEPT, "application/sdp".to_owned()),
                ];
                self.respond(now, &incoming, 200, None, extra);
            }
            Method::Other(_) => self.respond(now, &incoming, 501, None, Vec::new()),
            _ => {
                let extra = vec![(Name::ALLOW, ALLOWED_METHODS.to_owned())];
                self.respond(now, &incoming, 405, None, extra);
            }
        }
    }

    fn on_cancel(&mut self, now: Time, incoming: &Incoming) {
        let invite_key = incoming.key.invite_of_cancel();
        let Some(tx) = self.invite_txs.get(&invite_key) else {
            return self.respond(now, incoming, 481, None, Vec::new());
        };
        let proceeding = tx.is_proceeding();
        let call_id = tx.call.clone();
        let local_tag = call_id
            .as_ref()
            .and_then(|id| self.calls.get(id))
            .map(|call| call.local_tag.clone());
        self.respond(now, incoming, 200, local_tag.as_deref(), Vec::new());
        let Some(call_id) = call_id.filter(|_| proceeding) else {
            return; // Final response already sent: CANCEL has no effect (§9.2).
        };
        self.end_offered_call(now, &call_id, 487);
        self.events.push_back(Event::Cancelled {
            call: call_id.clone(),
        });
        self.terminate(&call_id, TerminatedReason::Cancelled);
    }

    fn on_bye(&mut self, now: Time, incoming: &Incoming) {
        let call_id = CallId(incoming.request.call_id().to_owned());
        let Some(state) = self
            .calls
            .get(&call_id)
            .filter(|call| call.matches_in_dialog(&incoming.request.head))
            .map(|call| call.state)
        else {
            return self.respond(now, incoming, 481, None, Vec::new());
        };
        self.respond(now, incoming, 200, None, Vec::new());
        match state {
            CallState::Offered => self.end_offered_call(now, &call_id, 487),
            CallState::Answered => {
                if let Some(tx) = self.invite_tx_of_call(&call_id) {
                    tx.stop_2xx_retransmission();
                }
            }
            CallState::Confirmed => {}
            CallState::ByeSent => {
                for tx in self.client_txs.values_mut() {
                    if tx.call.as_ref() == Some(&call_id) {
                        tx.call = None;
                    }
                }
            }
        }
        self.events.push_back(Event::RemoteHangup {
            call: call_id.clone(),
        });
        self.terminate(&call_id, TerminatedReason::RemoteHangup);
    }

    /// Sends a final non-2xx to the INVITE of a call that has not been answered.
    fn end_offered_call(&mut self, now: Time, call_id: &CallId, status: u16) {
        let Some(call) = self.calls.get(call_id) else {
            return;
        };
        let response = call.invite_response(
            status,
            self.config.local_addr,
            &self.config.user_agent,
            None,
        );
        let Some(tx) = self.invite_txs.get_mut(&call.invite_key) else {
            return;
        };
        tx.send_non_2xx(now, response.clone());
        let dest = tx.dest;
        self.transmit(dest, response);
    }

    fn invite_tx_of_call(&mut self, call_id: &CallId) -> Option<&mut InviteServerTx> {
        let key = &self.calls.get(call_id)?.invite_key;
        self.invite_txs.get_mut(key)
    }

    /// Answers a non-INVITE request and remembers the response for retransmissions.
    /// Out-of-dialog requests get `to_tag` (or a fresh tag) in To.
    fn respond(
        &mut self,
        now: Time,
        incoming: &Incoming,
        status: u16,
        to_tag: Option<&str>,
        extra: Vec<(Name, String)>,
    ) {
        let tag = match to_tag {
            Some(tag) => tag.to_owned(),
            None => self.new_tag(),
        };
        let parts = ResponseParts {
            to_tag: Some(&tag),
            extra,
            server: &self.config.user_agent,
            body: None,
        };
        let response = build_response(&incoming.echo, status, &parts);
        self.server_txs.insert(
            incoming.key.clone(),
            NonInviteServerTx::new(now, incoming.source, response.clone()),
        );
        self.transmit(incoming.source, response);
    }
}

/// Option tags in Require headers; the endpoint supports none (§8.2.2.3).
fn unsupported_extensions(request: &Request) -> Vec<String> {
    request
        .head
        .headers
        .get_raw(&Name::REQUIRE)
        .flat_map(|value| split_list(value.as_str()))
        .map(str::to_owned)
        .collect()
}
