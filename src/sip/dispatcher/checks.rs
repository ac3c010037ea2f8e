//! The RFC 3261 §8.2 checks the dispatcher makes before a request outside any
//! dialog starts anything, and the answer to a request that did not parse.
//!
//! In order, for every request outside a dialog except ACK (which is never
//! answered), after retransmissions are absorbed:
//! - **Max-Forwards: 0 → 483 Too Many Hops.** OPTIONS is exempt: we are its last
//!   hop and answer it (RFC 3261 §11, §16.3 item 2). A missing Max-Forwards is
//!   taken as fine: the parser refuses only a malformed one.
//! - **A merged request → 482 Loop Detected** (§8.2.2.2): no To tag, and the same
//!   From tag, Call-ID, CSeq number and method as a transaction the dispatcher
//!   holds, but another transaction key (a copy that came by another path).
//!   Merged INVITEs of an accepted call are the dialog's to refuse (it does, 482).
//! - then the `Require` check (420) and, for an INVITE, the To-tag check (481);
//! - **for a new INVITE, a body we do not take → 415** (§8.2.3): with `Accept:
//!   application/sdp` when its type is neither SDP nor a multipart holding an SDP
//!   part (a body without Content-Type is taken as SDP), with `Accept-Encoding:
//!   identity` when it has a Content-Encoding other than identity.
//!
//! Requests inside a dialog are the dialog's (an INFO with a DTMF body is taken
//! there; other INFO bodies get 415 there).
//!
//! A datagram that does not parse is answered when it is a request with a Via
//! ([`salvage_request`](crate::sip::message::salvage_request)): 416 for a non-SIP
//! Request-URI, 505 for another SIP version, else 400 with a `Warning: 399`
//! header saying what was wrong; anything else is counted and dropped.

use ezk_sip_types::Name;

use super::Dispatcher;
use crate::sip::body::extract_sdp;
use crate::sip::header_value::split_list;
use crate::sip::incoming::IncomingRequest;
use crate::sip::message::{max_forwards, ParseError};
use crate::sip::method::Method;
use crate::time::Time;

/// What makes two requests copies of one (§8.2.2.2): Call-ID, From tag, CSeq
/// number and method.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct MergeKey {
    call_id: String,
    from_tag: String,
    cseq: u32,
    method: String,
}

impl MergeKey {
    pub(super) fn of(incoming: &IncomingRequest) -> MergeKey {
        let head = &incoming.request.head;
        MergeKey {
            call_id: head.echo.call_id.clone(),
            from_tag: head.from.tag().unwrap_or_default().to_owned(),
            cseq: head.cseq.seq,
            method: incoming.request.method.as_str().to_owned(),
        }
    }
}

/// The status and the extra headers of the answer to a request that failed to
/// parse with `error`.
pub(super) fn malformed_answer(error: &ParseError, warn_agent: &str) -> (u16, Vec<(Name, String)>) {
    match error {
        ParseError::UnsupportedUriScheme => (416, Vec::new()),
        ParseError::UnsupportedVersion => (505, Vec::new()),
        _ => (
            400,
            vec![(Name::WARNING, format!("399 {warn_agent} \"{error}\""))],
        ),
    }
}

impl Dispatcher {
    /// The Max-Forwards and merge checks; true if they answered the request.
    pub(super) fn refuse_loop(&mut self, now: Time, incoming: &IncomingRequest) -> bool {
        let method = &incoming.request.method;
        let hops = max_forwards(&incoming.request.head.headers).ok().flatten();
        if hops == Some(0) && *method != Method::Options {
            self.stats.too_many_hops_answered_483 += 1;
            self.refuse(now, incoming, 483, Vec::new());
            return true;
        }
        if incoming.request.head.to.tag().is_none() && self.is_merged(incoming) {
            self.stats.merged_answered_482 += 1;
            self.refuse(now, incoming, 482, Vec::new());
            return true;
        }
        false
    }

    /// The body check of a new INVITE; true if it answered 415.
    pub(super) fn refuse_body(&mut self, now: Time, incoming: &IncomingRequest) -> bool {
        let head = &incoming.request.head;
        if head.body.is_empty() {
            return false;
        }
        let encoded = head
            .headers
            .get_raw(&Name::CONTENT_ENCODING)
            .flat_map(|value| split_list(value.as_str()))
            .any(|coding| !coding.eq_ignore_ascii_case("identity"));
        let extra = if encoded {
            (Name::ACCEPT_ENCODING, "identity".to_owned())
        } else if extract_sdp(head.content_type.as_deref(), &head.body).is_none() {
            (Name::ACCEPT, "application/sdp".to_owned())
        } else {
            return false;
        };
        self.stats.unsupported_body_answered_415 += 1;
        self.refuse(now, incoming, 415, vec![extra]);
        true
    }

    fn is_merged(&self, incoming: &IncomingRequest) -> bool {
        self.own_slot_by_merge(&MergeKey::of(incoming)).is_some()
    }

    fn refuse(
        &mut self,
        now: Time,
        incoming: &IncomingRequest,
        status: u16,
        extra: Vec<(Name, String)>,
    ) {
        if incoming.request.method == Method::Invite {
            self.refuse_invite(now, incoming, status, extra);
        } else {
            self.respond(now, incoming, status, extra);
        }
    }
}
