//! What the SIP layer hands its users: call identifiers, datagrams to send, and why
//! a dialog ended.

use std::fmt;
use std::net::SocketAddr;

/// A call, named by its Call-ID header value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub String);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it: the source address of the request being answered, or the
    /// INVITE's source address for our own BYE.
    pub dest: SocketAddr,
    /// One complete serialized SIP message, to go out as one UDP datagram.
    pub payload: Vec<u8>,
}

/// Why a dialog ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TerminatedReason {
    /// Our 2xx was never acknowledged (Timer H); a BYE was sent.
    AckTimeout,
    /// Our BYE got a final response.
    ByeCompleted,
    /// Our BYE got no final response within 64*T1.
    ByeTimeout,
    /// We sent a final non-2xx response (`reject`, or `hangup` before answering).
    Rejected,
    /// The caller cancelled before we answered.
    Cancelled,
    /// The caller sent BYE.
    RemoteHangup,
    /// Our INVITE got this final non-2xx response (after any digest
    /// challenge was answered).
    Refused(u16),
    /// Our INVITE got no response at all within 64·T1 (Timer B).
    NoResponse,
    /// We hung up our outbound call before it was answered: CANCEL, then 487
    /// (or no final response within 64·T1 of the CANCEL).
    CancelledLocally,
    /// The far end was to refresh the session (RFC 4028) and did not before
    /// `expires − min(32 s, expires/3)`, or our own refreshes kept failing
    /// until the session expired; a BYE was sent.
    SessionExpired,
    /// Our session refresh got no response or a 408/481 (RFC 4028 §10); a
    /// BYE was sent.
    RefreshFailed,
}
