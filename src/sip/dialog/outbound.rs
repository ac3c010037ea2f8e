//! The client side of a dialog (RFC 3261 §13.2, §9.1): the INVITE we send
//! for an outbound call, its retransmission and responses, early dialogs from
//! forking proxies, the ACK of the 2xx (and of every other 2xx fork, which
//! gets a BYE at once, §13.2.2.4), CANCEL, and answering a 401/407 digest
//! challenge ([`crate::sip::digest`]) with a new INVITE.
//!
//! Once the 2xx is acknowledged the dialog is an ordinary confirmed dialog:
//! BYE, re-INVITE, INFO and OPTIONS are handled as for an inbound call.

use std::net::SocketAddr;

use ezk_sip_types::{Headers, Name};

use super::{Dialog, DialogEvent, DialogState};
use crate::sip::body::extract_sdp;
use crate::sip::digest::{challenge_of, may_answer, Credentials};
use crate::sip::event::{Link, TerminatedReason};
use crate::sip::message::{serialize, Response};
use crate::sip::method::ALLOWED_METHODS;
use crate::sip::sdp::Sdp;
use crate::sip::transaction::{
    ClientTimeout, InviteClientResponse, InviteClientTimeout, InviteClientTx, NonInviteClientTx,
};
use crate::time::Time;

/// The largest request sent over UDP when the path MTU is unknown: 200 bytes
/// under 1500 (RFC 3261 §18.1.1); a larger one goes over TCP.
pub const MAX_UDP_REQUEST: usize = 1300;

/// An outbound call to place: what goes into its INVITE.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboundInvite {
    /// The Request-URI (`sip:+4930123456@carrier.example`).
    pub request_uri: String,
    /// Our From, a name-addr without tag (`"Sales" <sip:+4930999@callplane.example>`).
    pub from: String,
    /// The To, a name-addr without tag.
    pub to: String,
    /// Where every request goes: the trunk's outbound proxy or the far end
    /// itself (responses come back to our Via).
    pub dest: SocketAddr,
    /// A preloaded route set (`<sip:proxy.example;lr>`), in order.
    pub route: Vec<String>,
    /// Our SDP offer.
    pub sdp_offer: String,
    /// Answers a 401/407 challenge when given.
    pub credentials: Option<Credentials>,
    /// More headers for the INVITE (say `P-Asserted-Identity`).
    pub extra_headers: Vec<(Name, String)>,
}

/// Where our CANCEL stands.
#[derive(Debug)]
enum Cancel {
    /// Not asked for.
    No,
    /// Asked for before any provisional response: sent when one arrives (§9.1).
    Wanted,
    /// Sent; its transaction runs until its final response and Timer K.
    Sent(Option<NonInviteClientTx>),
}

/// The INVITE side of a dialog we created.
#[derive(Debug)]
pub(super) struct Uac {
    invite: OutboundInvite,
    branch: String,
    cseq: u32,
    tx: Option<InviteClientTx>,
    /// The challenged attempt, absorbing its retransmitted 401/407 until Timer D.
    challenged: Option<(String, InviteClientTx)>,
    authorization: Option<(Name, String)>,
    auth_attempts: u8,
    cancel: Cancel,
    /// To tags of the early dialogs (1xx with a tag), one per fork.
    early_tags: Vec<String>,
    /// The ACK of the 2xx, resent for each retransmission of it.
    ack: Option<Vec<u8>>,
    /// Our non-INVITE requests outside the confirmed dialog (branch,
    /// transaction): BYEs to 2xx of other forks, PRACKs in early dialogs.
    forks: Vec<(String, NonInviteClientTx)>,
    /// The last RSeq PRACKed in each early dialog (To tag, RSeq): a
    /// retransmitted reliable provisional is not reported again.
    pracked: Vec<(String, u32)>,
    /// The transport our Via and Contact name.
    link: Link,
}

impl Uac {
    fn is_idle(&self) -> bool {
        self.tx.is_none()
            && self.challenged.is_none()
            && self.forks.is_empty()
            && !matches!(self.cancel, Cancel::Sent(Some(_)))
    }

    fn deadline(&self) -> Option<Time> {
        let tx = self.tx.as_ref().map(InviteClientTx::deadline);
        let challenged = self.challenged.as_ref().map(|(_, tx)| tx.deadline());
        let cancel = match &self.cancel {
            Cancel::Sent(Some(tx)) => Some(tx.deadline()),
            _ => None,
        };
        let forks = self.forks.iter().map(|(_, tx)| tx.deadline()).min();
        [tx, challenged, cancel, forks].into_iter().flatten().min()
    }

    fn cancel_requested(&self) -> bool {
        !matches!(self.cancel, Cancel::No)
    }

    /// The INVITE of the current attempt.
    fn build_invite(
        &self,
        call_id: &str,
        local_tag: &str,
        local_addr: SocketAddr,
        ua: &str,
    ) -> Vec<u8> {
        let mut headers = self.common_headers("INVITE", call_id, local_tag, local_addr);
        headers.insert(Name::TO, self.invite.to.as_str());
        let contact = match super::peer::is_sips_uri(&self.invite.request_uri) {
            true => format!("<sips:callplane@{local_addr}>"),
            false => format!("<sip:callplane@{local_addr}{}>", self.link.uri_param()),
        };
        headers.insert(Name::CONTACT, contact);
        if let Some((name, value)) = &self.authorization {
            headers.insert(name.clone(), value.as_str());
        }
        headers.insert(Name::ALLOW, ALLOWED_METHODS);
        headers.insert(Name::SUPPORTED, super::prack::REL100_TAG);
        if !ua.is_empty() {
            headers.insert(Name::USER_AGENT, ua);
        }
        for (name, value) in &self.invite.extra_headers {
            headers.insert(name.clone(), value.as_str());
        }
        headers.insert(Name::CONTENT_TYPE, "application/sdp");
        let start = format!("INVITE {} SIP/2.0", self.invite.request_uri);
        serialize(&start, &headers, self.invite.sdp_offer.as_bytes())
    }

    /// The CANCEL of the current attempt (§9.1: same Request-URI, Via, From,
    /// To, Call-ID, CSeq number and Route as the INVITE).
    fn build_cancel(
        &self,
        call_id: &str,
        local_tag: &str,
        local_addr: SocketAddr,
        ua: &str,
    ) -> Vec<u8> {
        let mut headers = self.common_headers("CANCEL", call_id, local_tag, local_addr);
        headers.insert(Name::TO, self.invite.to.as_str());
        if !ua.is_empty() {
            headers.insert(Name::USER_AGENT, ua);
        }
        serialize(
            &format!("CANCEL {} SIP/2.0", self.invite.request_uri),
            &headers,
            &[],
        )
    }

    /// The ACK of a non-2xx final (§17.1.1.3): the INVITE's Via and Route,
    /// the response's To.
    fn build_non_2xx_ack(
        &self,
        call_id: &str,
        local_tag: &str,
        local_addr: SocketAddr,
        response_to: &str,
    ) -> Vec<u8> {
        let mut headers = self.common_headers("ACK", call_id, local_tag, local_addr);
        headers.insert(Name::TO, response_to);
        serialize(
            &format!("ACK {} SIP/2.0", self.invite.request_uri),
            &headers,
            &[],
        )
    }

    /// Via (the current attempt's branch), Max-Forwards, From, Call-ID,
    /// CSeq (its number, `method`) and Route: what every request of the
    /// INVITE transaction shares.
    fn common_headers(
        &self,
        method: &str,
        call_id: &str,
        local_tag: &str,
        local_addr: SocketAddr,
    ) -> Headers {
        let mut headers = Headers::with_capacity(12 + self.invite.route.len());
        headers.insert(
            Name::VIA,
            format!(
                "SIP/2.0/{} {local_addr};branch={};rport",
                self.link.via_name(),
                self.branch
            ),
        );
        headers.insert(Name::MAX_FORWARDS, "70");
        headers.insert(Name::FROM, format!("{};tag={local_tag}", self.invite.from));
        headers.insert(Name::CALL_ID, call_id);
        headers.insert(Name::CSEQ, format!("{} {method}", self.cseq));
        for route in &self.invite.route {
            headers.insert(Name::ROUTE, route.as_str());
        }
        headers
    }
}

impl Dialog {
    /// A dialog for an outbound call by `link`; its INVITE is the first
    /// output. Over UDP, an INVITE larger than [`MAX_UDP_REQUEST`] goes over
    /// TCP instead (RFC 3261 §18.1.1), and so does the rest of the dialog.
    pub(crate) fn new_uac_over(
        config: std::sync::Arc<crate::sip::settings::SipSettings>,
        call_id: crate::sip::event::CallId,
        invite: OutboundInvite,
        local_tag: String,
        rng_seed: u64,
        now: Time,
        link: Link,
    ) -> Dialog {
        let mut rng = fastrand::Rng::with_seed(rng_seed);
        let branch = super::new_branch(&mut rng);
        let cseq = 1;
        let key = crate::sip::transaction::TxKey::of_our_invite(&branch);
        let peer = super::Peer::new_uac(&invite, &call_id.0, local_tag, key, cseq);
        let uac = Uac {
            invite,
            branch,
            cseq,
            tx: None,
            challenged: None,
            authorization: None,
            auth_attempts: 0,
            cancel: Cancel::No,
            early_tags: Vec::new(),
            ack: None,
            forks: Vec::new(),
            pracked: Vec::new(),
            link,
        };
        let mut peer = peer;
        peer.link = link;
        let mut dialog = Dialog::blank(config, call_id, peer, DialogState::Calling, rng);
        dialog.local_sdp = Some(uac.invite.sdp_offer.clone());
        dialog.uac = Some(Box::new(uac));
        dialog.send_invite(now);
        dialog
    }

    /// The far end's SDP, once: from an 18x (early media) or the 2xx of an
    /// outbound call, taken when [`DialogEvent::Progress`] or
    /// [`DialogEvent::Answered`] is reported.
    pub fn take_remote_sdp(&mut self) -> Option<Sdp> {
        self.remote_sdp.take()
    }

    /// Early dialogs of an outbound call: one per fork that sent a 1xx with a To tag.
    pub fn early_dialogs(&self) -> usize {
        self.uac.as_ref().map_or(0, |uac| uac.early_tags.len())
    }

    /// Sends the INVITE of the current attempt.
    fn send_invite(&mut self, now: Time) {
        let Some(uac) = self.uac.as_mut() else {
            return;
        };
        let mut request = uac.build_invite(
            &self.call_id.0,
            &self.peer.local_tag,
            self.config.local_addr,
            &self.config.user_agent,
        );
        if uac.link == Link::Udp && request.len() > MAX_UDP_REQUEST {
            // §18.1.1: too close to the path MTU for UDP; the dialog moves to
            // TCP (a retried INVITE, with credentials, only grows).
            uac.link = Link::Tcp(None);
            self.peer.link = Link::Tcp(None);
            self.stats.moved_to_tcp += 1;
            request = uac.build_invite(
                &self.call_id.0,
                &self.peer.local_tag,
                self.config.local_addr,
                &self.config.user_agent,
            );
        }
        let dest = uac.invite.dest;
        uac.tx = Some(InviteClientTx::new(
            now,
            dest,
            request.clone(),
            self.config.timers,
        ));
        self.transmit(dest, request);
    }

    /// Hangs up an outbound call not yet answered: CANCEL now if a
    /// provisional arrived, else as soon as one does.
    pub(super) fn cancel_outbound(&mut self, now: Time) {
        let Some(uac) = self.uac.as_mut() else {
            return;
        };
        if uac.cancel_requested() {
            return;
        }
        uac.cancel = Cancel::Wanted;
        if uac.tx.as_ref().is_some_and(InviteClientTx::is_proceeding) {
            self.send_cancel(now);
        }
    }

    fn send_cancel(&mut self, now: Time) {
        let Some(uac) = self.uac.as_mut() else {
            return;
        };
        let request = uac.build_cancel(
            &self.call_id.0,
            &self.peer.local_tag,
            self.config.local_addr,
            &self.config.user_agent,
        );
        let dest = uac.invite.dest;
        if let Some(tx) = uac.tx.as_mut() {
            tx.cancel_sent(now);
        }
        uac.cancel = Cancel::Sent(Some(NonInviteClientTx::new(
            now,
            dest,
            request.clone(),
            self.config.timers,
        )));
        self.transmit(dest, request);
    }

    /// A response to a request of the client side; `false` if it is not one.
    pub(super) fn on_outbound_response(&mut self, now: Time, response: &Response) -> bool {
        let Some(uac) = self.uac.as_mut() else {
            return false;
        };
        let head = &response.head;
        let branch = head.top_via.branch.as_str();
        let method = &head.cseq.method;
        if *method == crate::sip::Method::Invite && branch == uac.branch {
            self.on_invite_response(now, response);
            return true;
        }
        if *method == crate::sip::Method::Invite {
            if let Some((_, tx)) = uac.challenged.as_mut().filter(|(b, _)| b == branch) {
                if tx.on_response(now, response.status) == InviteClientResponse::RejectedAgain {
                    let (dest, ack) = (tx.dest, tx.ack().to_vec());
                    self.retransmit(dest, ack);
                }
                return true;
            }
            return false;
        }
        if *method == crate::sip::Method::Cancel && branch == uac.branch {
            if let Cancel::Sent(Some(tx)) = &mut uac.cancel {
                tx.on_response(now, response.status);
            }
            return true;
        }
        if matches!(method, crate::sip::Method::Bye | crate::sip::Method::Prack) {
            if let Some((_, tx)) = uac.forks.iter_mut().find(|(b, _)| b == branch) {
                tx.on_response(now, response.status);
                return true;
            }
        }
        false
    }

    fn on_invite_response(&mut self, now: Time, response: &Response) {
        let status = response.status;
        let Some(uac) = self.uac.as_mut() else {
            return;
        };
        let Some(outcome) = uac.tx.as_mut().map(|tx| tx.on_response(now, status)) else {
            // The transaction ended (Timer M): a late 2xx retransmission still
            // deserves its ACK.
            match uac.ack.clone().filter(|_| status < 300) {
                Some(ack) => {
                    let dest = self.peer.source;
                    self.retransmit(dest, ack);
                }
                None => self.stats.unmatched_responses += 1,
            }
            return;
        };
        match outcome {
            InviteClientResponse::Provisional => self.on_provisional(now, response),
            InviteClientResponse::Accepted => self.on_accepted(now, response),
            InviteClientResponse::AcceptedAgain => {
                let same = response.head.to.tag() == self.peer.remote_tag.as_deref();
                match uac.ack.clone().filter(|_| same) {
                    Some(ack) => {
                        let dest = self.peer.source;
                        self.retransmit(dest, ack);
                    }
                    None => self.release_fork(now, response),
                }
            }
            InviteClientResponse::Rejected => self.on_rejected(now, response),
            InviteClientResponse::RejectedAgain => {
                if let Some(tx) = uac.tx.as_ref() {
                    let (dest, ack) = (tx.dest, tx.ack().to_vec());
                    self.retransmit(dest, ack);
                }
            }
            InviteClientResponse::Stray => self.stats.unmatched_responses += 1,
        }
    }

    fn on_provisional(&mut self, now: Time, response: &Response) {
        let head = &response.head;
        let Some(uac) = self.uac.as_mut() else {
            return;
        };
        if matches!(uac.cancel, Cancel::Wanted) {
            self.send_cancel(now);
            return;
        }
        if response.status == 100 {
            return;
        }
        if let Some(tag) = head.to.tag() {
            if !uac.early_tags.iter().any(|known| known == tag) {
                uac.early_tags.push(tag.to_owned());
            }
        }
        if let Some((tag, rseq)) = reliable_rseq(head) {
            match uac.pracked.iter_mut().find(|(known, _)| *known == tag) {
                Some((_, last)) if rseq <= *last => {
                    // A retransmission of one already PRACKed (RFC 3262 §4).
                    self.stats.request_retransmits_absorbed += 1;
                    return;
                }
                Some((_, last)) => *last = rseq,
                None => uac.pracked.push((tag, rseq)),
            }
            self.send_prack(now, head, rseq);
        }
        if let Some(sdp) = extract_sdp(head.content_type.as_deref(), &head.body)
            .and_then(|body| Sdp::parse(body).ok())
        {
            self.remote_sdp = Some(sdp);
        }
        self.event(DialogEvent::Progress(response.status));
    }

    /// PRACK (RFC 3262 §4) for the reliable provisional `head` in its early
    /// dialog: `RAck: RSeq CSeq INVITE`, sent to its Contact (or along its
    /// Record-Route), in a non-INVITE transaction of its own.
    fn send_prack(&mut self, now: Time, head: &crate::sip::message::MessageHead, rseq: u32) {
        let mut early = self.peer.clone();
        early.confirm_uac(head);
        self.peer.local_cseq += 1;
        let cseq = self.peer.local_cseq;
        let branch = self.new_branch();
        let rack = format!("{rseq} {} INVITE", head.cseq.seq);
        let request = early.build_request_with(
            "PRACK",
            cseq,
            &branch,
            self.config.local_addr,
            &self.config.user_agent,
            &[(Name::RACK, rack)],
            None,
        );
        let dest = early.source;
        let tx = NonInviteClientTx::new(now, dest, request.clone(), self.config.timers);
        if let Some(uac) = self.uac.as_mut() {
            uac.forks.push((branch, tx));
        }
        self.stats.pracks_sent += 1;
        self.transmit(dest, request);
    }

    /// The first 2xx: the dialog is confirmed by our ACK (sent by the dialog,
    /// not the transaction, §13.2.2.4).
    fn on_accepted(&mut self, now: Time, response: &Response) {
        let head = &response.head;
        self.peer.confirm_uac(head);
        let branch = self.new_branch();
        let ack = self.peer.build_request(
            "ACK",
            self.peer.invite_cseq,
            &branch,
            self.config.local_addr,
            &self.config.user_agent,
        );
        let dest = self.peer.source;
        let hang_up = self.uac.as_ref().is_some_and(|uac| uac.cancel_requested());
        if let Some(uac) = self.uac.as_mut() {
            uac.ack = Some(ack.clone());
            if let Cancel::Wanted = uac.cancel {
                uac.cancel = Cancel::Sent(None);
            }
        }
        self.transmit(dest, ack);
        self.remote_sdp = extract_sdp(head.content_type.as_deref(), &head.body)
            .and_then(|body| Sdp::parse(body).ok())
            .or(self.remote_sdp.take());
        self.state = DialogState::Confirmed;
        self.event(DialogEvent::Answered);
        if hang_up {
            // Our CANCEL crossed the 2xx: the call is up, so end it with BYE (§9.1).
            self.send_bye(now, true);
        }
    }

    /// A 2xx from another fork after ours: acknowledge it and end that
    /// dialog at once (§13.2.2.4).
    fn release_fork(&mut self, now: Time, response: &Response) {
        let mut fork = self.peer.clone();
        fork.confirm_uac(&response.head);
        let ack_branch = self.new_branch();
        let bye_branch = self.new_branch();
        let local_addr = self.config.local_addr;
        let ua = self.config.user_agent.clone();
        let ack = fork.build_request("ACK", fork.invite_cseq, &ack_branch, local_addr, &ua);
        let bye = fork.build_bye(&bye_branch, local_addr, &ua);
        let dest = fork.source;
        self.transmit(dest, ack);
        self.transmit(dest, bye.clone());
        self.stats.forks_released += 1;
        let tx = NonInviteClientTx::new(now, dest, bye, self.config.timers);
        if let Some(uac) = self.uac.as_mut() {
            uac.forks.push((bye_branch, tx));
        }
    }

    fn on_rejected(&mut self, now: Time, response: &Response) {
        let head = &response.head;
        let call_id = self.call_id.0.clone();
        let local_addr = self.config.local_addr;
        let Some(uac) = self.uac.as_mut() else {
            return;
        };
        let ack = uac.build_non_2xx_ack(&call_id, &self.peer.local_tag, local_addr, &head.echo.to);
        let Some(tx) = uac.tx.as_mut() else {
            return;
        };
        tx.set_ack(ack.clone());
        let dest = tx.dest;
        self.transmit(dest, ack);
        if matches!(response.status, 401 | 407) && self.answer_challenge(now, response) {
            return;
        }
        let cancelled = self.uac.as_ref().is_some_and(|uac| uac.cancel_requested());
        let reason = if cancelled {
            TerminatedReason::CancelledLocally
        } else {
            TerminatedReason::Refused(response.status)
        };
        self.terminate(now, reason);
    }

    /// Retries the INVITE with credentials for a 401/407; `false` when there
    /// is nothing (more) to answer with.
    fn answer_challenge(&mut self, now: Time, response: &Response) -> bool {
        let cnonce = format!("{:016x}", self.rng.u64(..));
        let branch = self.new_branch();
        let Some(uac) = self.uac.as_mut() else {
            return false;
        };
        let challenge = challenge_of(response.status, &response.head.headers);
        let (Some(credentials), Some((answer_name, challenge))) =
            (uac.invite.credentials.as_ref(), challenge)
        else {
            return false;
        };
        if uac.cancel_requested() || !may_answer(uac.auth_attempts, &challenge) {
            return false;
        }
        uac.auth_attempts += 1;
        let value = challenge.answer(credentials, "INVITE", &uac.invite.request_uri, &cnonce, 1);
        uac.authorization = Some((answer_name, value));
        let old_branch = std::mem::replace(&mut uac.branch, branch);
        uac.challenged = uac.tx.take().map(|tx| (old_branch, tx));
        uac.cseq += 1;
        self.peer.invite_cseq = uac.cseq;
        self.peer.local_cseq = uac.cseq;
        self.stats.auth_challenges_answered += 1;
        self.send_invite(now);
        true
    }

    /// Runs the client side's due timers.
    pub(super) fn run_outbound_timers(&mut self, now: Time) {
        let Some(uac) = self.uac.as_mut() else {
            return;
        };
        let mut resend: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
        let mut ended = None;
        if let Some(tx) = uac.tx.as_mut().filter(|tx| tx.deadline() <= now) {
            match tx.on_timeout(now) {
                InviteClientTimeout::Nothing => {}
                InviteClientTimeout::Retransmit => resend.push((tx.dest, tx.request.clone())),
                InviteClientTimeout::TimedOut => {
                    uac.tx = None;
                    ended = Some(if uac.cancel_requested() {
                        TerminatedReason::CancelledLocally
                    } else {
                        TerminatedReason::NoResponse
                    });
                }
                InviteClientTimeout::Expired => uac.tx = None,
            }
        }
        if let Some((_, tx)) = uac.challenged.as_mut() {
            if tx.on_timeout(now) != InviteClientTimeout::Nothing {
                uac.challenged = None;
            }
        }
        if let Cancel::Sent(Some(tx)) = &mut uac.cancel {
            if tx.deadline() <= now {
                match tx.on_timeout(now) {
                    ClientTimeout::Retransmit => resend.push((tx.dest, tx.request.clone())),
                    ClientTimeout::TimedOut | ClientTimeout::Expired => {
                        uac.cancel = Cancel::Sent(None)
                    }
                    ClientTimeout::Nothing => {}
                }
            }
        }
        uac.forks.retain_mut(|(_, tx)| {
            if tx.deadline() > now {
                return true;
            }
            match tx.on_timeout(now) {
                ClientTimeout::Retransmit => {
                    resend.push((tx.dest, tx.request.clone()));
                    true
                }
                ClientTimeout::Nothing => true,
                ClientTimeout::TimedOut | ClientTimeout::Expired => false,
            }
        });
        for (dest, payload) in resend {
            self.retransmit(dest, payload);
        }
        if let Some(reason) = ended {
            if self.state == DialogState::Calling {
                self.terminate(now, reason);
            }
        }
    }

    /// The client side's next deadline.
    pub(super) fn outbound_deadline(&self) -> Option<Time> {
        self.uac.as_ref().and_then(|uac| uac.deadline())
    }

    /// Whether the client side holds no transaction.
    pub(super) fn outbound_idle(&self) -> bool {
        self.uac.as_ref().is_none_or(|uac| uac.is_idle())
    }
}

/// The early dialog's To tag and the RSeq of a reliable provisional
/// (`Require: 100rel` with an `RSeq`); `None` for an unreliable one.
fn reliable_rseq(head: &crate::sip::message::MessageHead) -> Option<(String, u32)> {
    if !super::prack::lists_tag(head, &Name::REQUIRE, super::prack::REL100_TAG) {
        return None;
    }
    let rseq = head
        .headers
        .get_raw(&Name::RSEQ)
        .next()
        .and_then(|value| value.as_str().trim().parse().ok())?;
    Some((head.to.tag()?.to_owned(), rseq))
}
