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

/// One connection of the shell's stream transport, named opaquely: the shell
/// packs into it whatever finds the connection again (its shard, its table
/// slot, a generation), the SIP core only hands it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnRef(pub u64);

/// The transport a message came by, or must leave by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Link {
    /// A UDP datagram from (to) the shard's SIP socket.
    #[default]
    Udp,
    /// TCP. For a message that arrived: the connection it came on. For a
    /// message to send: the connection to use when it is still open and
    /// connected to the destination; `None` (or a closed one): any open
    /// connection to the destination, else — for a request — a new one.
    /// A response whose connection is gone goes on a new connection to the
    /// top Via's sent-by (RFC 3261 §18.2.2, [`reconnect_target`](super::stream::reconnect_target)).
    Tcp(Option<ConnRef>),
    /// TLS over TCP (RFC 3261 §26.2): as [`Link::Tcp`], with the shell's TLS
    /// session between the socket and the framing. Via says `SIP/2.0/TLS`,
    /// our Contact `;transport=tls`; a `sips:` Request-URI must arrive by it.
    Tls(Option<ConnRef>),
}

impl Link {
    /// Whether the transport is reliable and stream-framed (no retransmissions
    /// of requests or non-2xx responses, §17.1.1.2 and §17.2.1).
    pub fn is_stream(self) -> bool {
        matches!(self, Link::Tcp(_) | Link::Tls(_))
    }

    /// Whether the transport is TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, Link::Tls(_))
    }

    /// The stream connection named, if any.
    pub fn conn(self) -> Option<ConnRef> {
        match self {
            Link::Tcp(conn) | Link::Tls(conn) => conn,
            Link::Udp => None,
        }
    }

    /// The same transport with `conn` as its connection (UDP stays UDP).
    pub fn with_conn(self, conn: Option<ConnRef>) -> Link {
        match self {
            Link::Tcp(_) => Link::Tcp(conn),
            Link::Tls(_) => Link::Tls(conn),
            Link::Udp => Link::Udp,
        }
    }

    /// The transport token of a Via header (`SIP/2.0/UDP`).
    pub(crate) fn via_name(self) -> &'static str {
        match self {
            Link::Udp => "UDP",
            Link::Tcp(_) => "TCP",
            Link::Tls(_) => "TLS",
        }
    }

    /// The URI parameter a Contact carries for it (empty for UDP, the default).
    pub(crate) fn uri_param(self) -> &'static str {
        match self {
            Link::Udp => "",
            Link::Tcp(_) => ";transport=tcp",
            Link::Tls(_) => ";transport=tls",
        }
    }
}

/// A message to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it: the source address of the request being answered, or the
    /// INVITE's source address for our own BYE.
    pub dest: SocketAddr,
    /// One complete serialized SIP message, to go out as one UDP datagram (or
    /// written whole on a stream).
    pub payload: Vec<u8>,
    /// The transport (and connection) it leaves by.
    pub link: Link,
}

impl Transmit {
    /// Whether the payload is a response (on a stream whose connection is
    /// gone it is dropped; a request opens a new connection).
    pub fn is_response(&self) -> bool {
        self.payload.starts_with(b"SIP/2.0 ")
    }
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
    /// Our reliable provisional (RFC 3262) got no PRACK within 64·T1: the
    /// INVITE was refused with a 5xx.
    PrackTimeout,
    /// Our session refresh got no response or a 408/481 (RFC 4028 §10); a
    /// BYE was sent.
    RefreshFailed,
}
