//! Server transaction keys (RFC 3261 §17.2.3): branch + sent-by + method for RFC 3261
//! branches, and a key built from the dialog-ish headers for older (RFC 2543) peers.

use crate::sip::message::MessageHead;
use crate::sip::method::Method;

/// Identifies a server transaction. ACK uses the key of the INVITE it acknowledges.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct TxKey {
    branch: String,
    sent_by: String,
    method: String,
}

impl TxKey {
    /// The key of the server transaction `head` (a request with `method`) belongs to.
    pub(crate) fn for_request(head: &MessageHead, method: &Method) -> TxKey {
        let method = match method {
            Method::Ack => Method::Invite.as_str().to_owned(),
            other => other.as_str().to_owned(),
        };
        if head.top_via.has_rfc3261_branch() {
            TxKey {
                branch: head.top_via.branch.clone(),
                sent_by: head.top_via.sent_by.clone(),
                method,
            }
        } else {
            let top_via = head
                .echo
                .vias
                .first()
                .map(String::as_str)
                .unwrap_or_default();
            TxKey {
                branch: format!(
                    "{}|{}|{}|{}",
                    head.echo.call_id,
                    head.from.tag().unwrap_or_default(),
                    head.cseq.seq,
                    top_via
                ),
                sent_by: String::new(),
                method,
            }
        }
    }

    /// A key no received request can have: for a dialog we created, whose
    /// INVITE went out rather than in.
    pub(crate) fn of_our_invite(branch: &str) -> TxKey {
        TxKey {
            branch: branch.to_owned(),
            sent_by: String::new(),
            method: Method::Invite.as_str().to_owned(),
        }
    }

    /// The key of the INVITE transaction a CANCEL with this key targets.
    pub(crate) fn invite_of_cancel(&self) -> TxKey {
        TxKey {
            method: Method::Invite.as_str().to_owned(),
            ..self.clone()
        }
    }
}
