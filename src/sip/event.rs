//! What the endpoint reports to its user: call identifiers, events and datagrams to send.

use crate::sip::sdp::Sdp;
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
    pub dest: SocketAddr,
    pub payload: Vec<u8>,
}

/// Why a call ended.
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
}

/// Something the endpoint's user must know about. Every `IncomingCall` is followed by
/// exactly one `Terminated` for the same call, after which the endpoint forgets it.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A new INVITE; `100 Trying` has been sent.
    IncomingCall {
        call: CallId,
        /// Source address of the INVITE.
        source: SocketAddr,
        /// User part of the Request-URI (the dialled number), user parameters removed.
        request_user: String,
        from_user: String,
        from_display: Option<String>,
        to_user: String,
        /// The parsed offer; `None` if absent or unparseable.
        sdp: Option<Sdp>,
    },
    /// The ACK for our 2xx arrived.
    Confirmed { call: CallId },
    /// CANCEL before the final response: the endpoint already sent 200 (CANCEL) and
    /// 487 (INVITE). `Terminated { reason: Cancelled }` follows.
    Cancelled { call: CallId },
    /// BYE received in the dialog; the endpoint already answered 200.
    /// `Terminated { reason: RemoteHangup }` follows.
    RemoteHangup { call: CallId },
    /// The call is over and forgotten.
    Terminated {
        call: CallId,
        reason: TerminatedReason,
    },
}
