//! REFER received in a dialog (RFC 3515): blind transfer asked of us by the
//! far end, and the implicit `refer` subscription that reports its progress
//! in NOTIFYs carrying a `message/sipfrag` status line.
//!
//! Off unless the dialog's owner allows it ([`Dialog::allow_refer`]): then a
//! REFER gets 405 as any method we do not take. When allowed, a REFER in a
//! confirmed dialog with exactly one `Refer-To` naming a `sip:` URI gets 202
//! Accepted, a first NOTIFY (`SIP/2.0 100 Trying`) goes out at once, and
//! [`DialogEvent::Referred`] tells the owner, which reads the target with
//! [`Dialog::take_refer_target`] and reports the outcome of its call there
//! with [`Dialog::notify_refer`] (a final status ends the subscription:
//! `Subscription-State: terminated;reason=noresource`). A second REFER while
//! one is in progress gets 491; one without a usable `Refer-To` (none, several,
//! not `sip:`, or with embedded headers such as `Replaces`: attended transfer
//! is not taken) gets 400. `Refer-Sub: false` (RFC 4488) is not honoured: the
//! subscription is kept, which the RFC allows.
//!
//! Each NOTIFY is its own non-INVITE client transaction (Timers E/F); its
//! response is absorbed and not interpreted, beyond ending the
//! subscription early on a 481 (the far end has forgotten it).

use ezk_sip_types::Name;

use super::{Dialog, DialogEvent, DialogState};
use crate::sip::incoming::IncomingRequest;
use crate::sip::message::Response;
use crate::sip::method::Method;
use crate::sip::name_addr::NameAddr;
use crate::sip::transaction::{ClientResponse, ClientTimeout, NonInviteClientTx};
use crate::time::Time;

/// How long the subscription lives, in seconds, as the NOTIFYs say.
const SUBSCRIPTION_SECS: u32 = 60;

/// A NOTIFY of ours in flight.
#[derive(Debug)]
pub(super) struct OurNotify {
    branch: String,
    tx: NonInviteClientTx,
}

/// The refer subscription of a dialog.
#[derive(Debug, Default)]
pub(super) struct Refers {
    /// The owner allows REFER.
    pub(super) allowed: bool,
    /// A transfer in progress: its target until taken, and whether a final
    /// NOTIFY has gone out.
    active: bool,
    target: Option<String>,
    notifies: Vec<OurNotify>,
}

impl Refers {
    pub(super) fn deadline(&self) -> Option<Time> {
        self.notifies.iter().map(|n| n.tx.deadline()).min()
    }

    pub(super) fn is_idle(&self) -> bool {
        self.notifies.is_empty()
    }
}

impl Dialog {
    /// Lets REFER in (`true`): see the module doc. Off by default.
    pub fn allow_refer(&mut self, allowed: bool) {
        self.refers.allowed = allowed;
    }

    /// The `sip:` URI of the REFER that [`DialogEvent::Referred`] reported.
    pub fn take_refer_target(&mut self) -> Option<String> {
        self.refers.target.take()
    }

    /// Reports the transfer's progress to the far end: the status line of
    /// the call placed to the target (`final_` for its final status, which
    /// ends the subscription).
    pub fn notify_refer(&mut self, now: Time, status: u16, reason: &str, final_: bool) {
        if !self.refers.active || self.state == DialogState::Terminated {
            return;
        }
        if final_ {
            self.refers.active = false;
        }
        self.send_notify(now, status, reason, final_);
    }

    pub(super) fn on_refer(&mut self, now: Time, incoming: &IncomingRequest) {
        let head = &incoming.request.head;
        if !self.refers.allowed {
            let extra = vec![(Name::ALLOW, crate::sip::method::ALLOWED_METHODS.to_owned())];
            return self.respond(now, incoming, 405, None, extra);
        }
        let in_dialog = self.state == DialogState::Confirmed && self.peer.matches_in_dialog(head);
        if !in_dialog {
            return self.respond(now, incoming, 481, None, Vec::new());
        }
        if self.refers.active {
            return self.respond(now, incoming, 491, None, Vec::new());
        }
        let mut values = head.headers.get_raw(&Name::REFER_TO);
        let target = match (values.next(), values.next()) {
            (Some(value), None) => refer_target(value),
            _ => None,
        };
        let Some(target) = target else {
            return self.respond(now, incoming, 400, None, Vec::new());
        };
        self.respond(now, incoming, 202, None, Vec::new());
        self.refers.active = true;
        self.refers.target = Some(target);
        self.send_notify(now, 100, "Trying", false);
        self.event(DialogEvent::Referred);
    }

    /// A response to one of our NOTIFYs; false when it is not one.
    pub(super) fn on_notify_response(&mut self, now: Time, response: &Response) -> bool {
        let head = &response.head;
        if head.cseq.method != Method::Notify {
            return false;
        }
        let Some(at) = self
            .refers
            .notifies
            .iter()
            .position(|n| n.branch == head.top_via.branch)
        else {
            return false;
        };
        let notify = &mut self.refers.notifies[at];
        let last = notify.tx.on_response(now, response.status) == ClientResponse::Final;
        if last && response.status == 481 {
            self.refers.active = false;
        }
        true
    }

    pub(super) fn run_notify_timers(&mut self, now: Time) {
        let mut resend = Vec::new();
        self.refers.notifies.retain_mut(|notify| {
            if notify.tx.deadline() > now {
                return true;
            }
            match notify.tx.on_timeout(now) {
                ClientTimeout::Nothing => true,
                ClientTimeout::Retransmit => {
                    resend.push((notify.tx.dest, notify.tx.request.clone()));
                    true
                }
                ClientTimeout::TimedOut | ClientTimeout::Expired => false,
            }
        });
        for (dest, request) in resend {
            self.retransmit(dest, request);
        }
    }

    fn send_notify(&mut self, now: Time, status: u16, reason: &str, final_: bool) {
        let branch = self.new_branch();
        self.peer.local_cseq += 1;
        let cseq = self.peer.local_cseq;
        let state = match final_ {
            true => "terminated;reason=noresource".to_owned(),
            false => format!("active;expires={SUBSCRIPTION_SECS}"),
        };
        let extra = [
            (Name::EVENT, "refer".to_owned()),
            (Name::SUBSCRIPTION_STATE, state),
        ];
        let body = format!("SIP/2.0 {status} {}\r\n", clean_reason(reason));
        let request = self.peer.build_request_with(
            "NOTIFY",
            cseq,
            &branch,
            self.config.local_addr,
            &self.config.user_agent,
            &extra,
            Some(("message/sipfrag;version=2.0", &body)),
        );
        let dest = self.peer.source;
        self.refers.notifies.push(OurNotify {
            branch,
            tx: NonInviteClientTx::new(now, dest, request.clone(), self.config.timers),
        });
        self.transmit(dest, request);
    }
}

/// The URI of a `Refer-To` value, when it is a plain `sip:` URI (no
/// embedded headers such as `Replaces`, no `sips:` — we place the call over
/// whatever reaches it).
fn refer_target(value: &str) -> Option<String> {
    let addr = NameAddr::parse(value).ok()?;
    let uri = addr.uri.trim();
    let lower = uri.to_ascii_lowercase();
    if !lower.starts_with("sip:") || uri.contains('?') {
        return None;
    }
    Some(uri.to_owned())
}

/// A reason phrase fit for a status line: printable ASCII only.
fn clean_reason(reason: &str) -> String {
    let cleaned: String = reason
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(64)
        .collect();
    match cleaned.trim().is_empty() {
        true => "Unknown".to_owned(),
        false => cleaned.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refer_to_takes_a_plain_sip_uri_only() {
        assert_eq!(
            refer_target("<sip:alice@192.0.2.1:5070>").as_deref(),
            Some("sip:alice@192.0.2.1:5070")
        );
        assert_eq!(
            refer_target("sip:bob@192.0.2.1").as_deref(),
            Some("sip:bob@192.0.2.1")
        );
        assert_eq!(
            refer_target("<sip:bob@192.0.2.1?Replaces=abc%40x>"),
            None,
            "attended transfer is not taken"
        );
        assert_eq!(refer_target("<tel:+4930123>"), None);
        assert_eq!(refer_target(""), None);
    }

    #[test]
    fn reasons_are_cleaned_for_the_status_line() {
        assert_eq!(clean_reason("Busy Here"), "Busy Here");
        assert_eq!(clean_reason("a\r\nVia: x"), "aVia: x");
        assert_eq!(clean_reason("\u{7}"), "Unknown");
    }
}
