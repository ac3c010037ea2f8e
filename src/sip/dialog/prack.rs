//! Reliable provisional responses, UAS side (RFC 3262): whether the caller
//! supports or requires `100rel`, our `RSeq` numbers, the one reliable
//! provisional outstanding (retransmitted from T1, doubling, until its PRACK;
//! after 64·T1 the INVITE is refused with a 5xx, §3), the PRACK that
//! acknowledges it (matched by `RAck: RSeq CSeq method`, 200; anything else
//! 481), and the 2xx that waits for that PRACK when the provisional carried
//! the answer.
//!
//! Hand-written rather than taken from a crate: it is a few dozen lines of
//! state inside the dialog, driven by the dialog's own clock.

use std::net::SocketAddr;
use std::time::Duration;

use ezk_sip_types::Name;

use super::{Dialog, DialogState};
use crate::sip::event::TerminatedReason;
use crate::sip::header_value::split_list;
use crate::sip::incoming::IncomingRequest;
use crate::sip::message::MessageHead;
use crate::time::Time;

/// The option tag of reliable provisional responses.
pub(crate) const REL100_TAG: &str = "100rel";

/// Status of the INVITE when a reliable provisional was never PRACKed (§3:
/// "SHOULD reject the original request with a 5xx").
pub(crate) const PRACK_TIMEOUT_STATUS: u16 = 504;

/// What the INVITE said about `100rel`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Rel100 {
    /// Neither supported nor required: provisionals are unreliable.
    #[default]
    No,
    /// `Supported: 100rel`: provisionals carrying SDP are sent reliably.
    Supported,
    /// `Require: 100rel`: every provisional but 100 is sent reliably.
    Required,
}

impl Rel100 {
    /// Reads the INVITE's `Require` and `Supported`.
    pub(crate) fn read(head: &MessageHead) -> Rel100 {
        if lists_tag(head, &Name::REQUIRE, REL100_TAG) {
            Rel100::Required
        } else if lists_tag(head, &Name::SUPPORTED, REL100_TAG) {
            Rel100::Supported
        } else {
            Rel100::No
        }
    }

    /// Whether a provisional (with an SDP or not) goes out reliably.
    pub(crate) fn reliable(self, carries_sdp: bool) -> bool {
        match self {
            Rel100::No => false,
            Rel100::Supported => carries_sdp,
            Rel100::Required => true,
        }
    }
}

/// Whether header `name` of `head` lists option tag `tag`.
pub(crate) fn lists_tag(head: &MessageHead, name: &Name, tag: &str) -> bool {
    head.headers.get_raw(name).any(|value| {
        split_list(value.as_str())
            .iter()
            .any(|listed| listed.eq_ignore_ascii_case(tag))
    })
}

/// `RAck: <rseq> <cseq> <method>` (RFC 3262 §7.2); `None` if malformed.
pub(crate) fn parse_rack(value: &str) -> Option<(u32, u32, &str)> {
    let mut parts = value.split_ascii_whitespace();
    let rseq = parts.next()?.parse().ok()?;
    let cseq = parts.next()?.parse().ok()?;
    let method = parts.next()?;
    parts.next().is_none().then_some((rseq, cseq, method))
}

/// One reliable provisional awaiting its PRACK.
#[derive(Debug)]
pub(super) struct Unacked {
    pub rseq: u32,
    dest: SocketAddr,
    response: Vec<u8>,
    next_at: Time,
    interval: Duration,
    give_up_at: Time,
    /// It carried our SDP answer: a 2xx must wait for its PRACK.
    pub carries_sdp: bool,
    /// How many times it was resent.
    pub resent: u32,
}

/// The dialog's reliable-provisional state.
#[derive(Debug, Default)]
pub(super) struct Reliability {
    pub rel100: Rel100,
    /// The `RSeq` of our next reliable provisional.
    next_rseq: u32,
    pub unacked: Option<Unacked>,
    /// The 2xx body (our answer) held back until the PRACK arrives.
    pub deferred_answer: Option<String>,
}

impl Reliability {
    /// The state for an INVITE with `rel100`; `rseq` is the first `RSeq`
    /// (RFC 3262 §3: 1 to 2**31 − 1, chosen at random).
    pub(super) fn new(rel100: Rel100, rseq: u32) -> Reliability {
        Reliability {
            rel100,
            next_rseq: rseq.clamp(1, (1 << 31) - 1),
            unacked: None,
            deferred_answer: None,
        }
    }

    /// The next `RSeq`.
    pub(super) fn take_rseq(&mut self) -> u32 {
        let rseq = self.next_rseq;
        self.next_rseq = self.next_rseq.wrapping_add(1);
        rseq
    }

    /// The instant its retransmission or give-up is due.
    pub(super) fn deadline(&self) -> Option<Time> {
        self.unacked
            .as_ref()
            .map(|unacked| unacked.next_at.min(unacked.give_up_at))
    }
}

impl Dialog {
    /// Keeps a reliable provisional for retransmission until its PRACK.
    pub(super) fn hold_reliable(
        &mut self,
        now: Time,
        rseq: u32,
        dest: SocketAddr,
        response: Vec<u8>,
        carries_sdp: bool,
    ) {
        let t1 = self.config.timers.t1;
        self.reliability.unacked = Some(Unacked {
            rseq,
            dest,
            response,
            next_at: now + t1,
            interval: t1,
            give_up_at: now + self.config.timers.transaction_timeout(),
            carries_sdp,
            resent: 0,
        });
    }

    /// PRACK (RFC 3262 §3): acknowledges our outstanding reliable
    /// provisional when its `RAck` names it (200); then a 2xx held back for
    /// it goes out. A PRACK that matches nothing gets 481.
    pub(super) fn on_prack(&mut self, now: Time, incoming: &IncomingRequest) {
        let head = &incoming.request.head;
        let in_dialog = self.state != DialogState::Terminated && self.peer.matches_in_dialog(head);
        let rack =
            head.headers.get_raw(&Name::RACK).next().and_then(|value| {
                parse_rack(value.as_str()).map(|(r, c, m)| (r, c, m == "INVITE"))
            });
        let invite_cseq = self.peer.invite_cseq;
        let matched = in_dialog
            && self
                .reliability
                .unacked
                .as_ref()
                .is_some_and(|unacked| rack == Some((unacked.rseq, invite_cseq, true)));
        if !matched {
            self.stats.unmatched_pracks += 1;
            return self.respond(now, incoming, 481, None, Vec::new());
        }
        self.reliability.unacked = None;
        self.stats.pracks_received += 1;
        self.respond(now, incoming, 200, None, Vec::new());
        if let Some(sdp) = self.reliability.deferred_answer.take() {
            if let Err(err) = self.answer(now, &sdp) {
                log::warn!("call {}: cannot send the held 2xx: {err}", self.call_id);
            }
        }
    }

    /// Resends the unacknowledged provisional (T1, doubling), or gives up
    /// after 64·T1: 5xx to the INVITE, `Terminated(PrackTimeout)`.
    pub(super) fn run_reliable_timer(&mut self, now: Time) {
        let Some(unacked) = self.reliability.unacked.as_mut() else {
            return;
        };
        if unacked.give_up_at <= now {
            self.reliability.unacked = None;
            self.reliability.deferred_answer = None;
            self.stats.prack_timeouts += 1;
            if self.state == DialogState::Offered {
                self.end_offered(now, PRACK_TIMEOUT_STATUS);
                self.terminate(now, TerminatedReason::PrackTimeout);
            }
            return;
        }
        if unacked.next_at > now {
            return;
        }
        while unacked.next_at <= now {
            unacked.interval *= 2;
            unacked.next_at += unacked.interval;
        }
        unacked.resent += 1;
        let (dest, response) = (unacked.dest, unacked.response.clone());
        self.stats.reliable_provisionals_resent += 1;
        self.retransmit(dest, response);
    }

    /// A final response went out: nothing more to retransmit reliably.
    pub(super) fn drop_reliable(&mut self) {
        self.reliability.unacked = None;
        self.reliability.deferred_answer = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rack_parses_three_fields() {
        assert_eq!(parse_rack("776656 1 INVITE"), Some((776656, 1, "INVITE")));
        assert_eq!(parse_rack("  5   2  INVITE "), Some((5, 2, "INVITE")));
        assert_eq!(parse_rack("5 2"), None);
        assert_eq!(parse_rack("x 2 INVITE"), None);
        assert_eq!(parse_rack("5 2 INVITE extra"), None);
    }

    #[test]
    fn reliability_follows_the_invite() {
        assert!(!Rel100::No.reliable(true));
        assert!(Rel100::Supported.reliable(true));
        assert!(!Rel100::Supported.reliable(false));
        assert!(Rel100::Required.reliable(false));
    }

    #[test]
    fn rseq_stays_in_range() {
        let mut rel = Reliability::new(Rel100::Supported, 0);
        assert_eq!(rel.take_rseq(), 1);
        assert_eq!(rel.take_rseq(), 2);
        let mut high = Reliability::new(Rel100::Supported, u32::MAX);
        assert_eq!(high.take_rseq(), (1 << 31) - 1);
    }
}
