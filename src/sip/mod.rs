//! SIP for callplane: a sans-IO RFC 3261 user agent over UDP and TCP that answers inbound calls
//! from carrier trunks, places outbound calls through them, and hangs both up.
//!
//! - [`message`]: parsing datagrams, serializing messages, [`call_id_of`] for dispatch.
//! - [`stream`]: framing messages out of a TCP connection's bytes (Content-Length,
//!   keep-alive pings, bounded buffers).
//! - Every message carries a [`Link`] (UDP, or TCP with the shell's [`ConnRef`]):
//!   answers leave on the connection the request came on, a dialog's own requests
//!   by the dialog's transport, with `SIP/2.0/TCP` in the Via; an outbound INVITE
//!   over [`MAX_UDP_REQUEST`] bytes moves to TCP (§18.1.1).
//! - [`sdp`]: reading offers, [`negotiate`] (PCMU/PCMA + telephone-event), [`build_answer`].
//! - [`Dispatcher`]: parses each datagram, answers what belongs to no dialog, and
//!   routes the rest to the [`Dialog`] of its Call-ID ([`Routed`]).
//! - [`Dialog`]: one call leg's dialog with its own transactions (RFC 3261 §17, UDP
//!   timers) — the object the call layer owns and drives with `ring`, `answer`,
//!   `reject` and `hangup`. [`Dispatcher::place_call`] makes one for an
//!   [`OutboundInvite`]: our INVITE (Timers A/B/D/M), early dialogs from forks,
//!   the ACKs, CANCEL, and a 401/407 answered with [`Credentials`] (digest MD5 or
//!   SHA-256, RFC 8760).
//!
//! Both have the one shape of every core: inputs through `handle_*(now, …)`,
//! everything out of one `poll_output`; **after every input, drain `poll_output`
//! until it returns `Timeout`**.
//!
//! Contract with the call layer: every dialog reports exactly one
//! [`DialogEvent::Terminated`]; `Cancelled` and `RemoteHangup` come just before it.
//! Responses go to the source address of the request (RFC 3581 style); our BYE goes
//! to the INVITE's source address.
//!
//! An INVITE without SDP (late offer) is answered with our offer in the 200 OK; the
//! caller's answer is taken from its ACK ([`Dialog::take_ack_sdp`]).
//!
//! A re-INVITE or an UPDATE (RFC 3311) with an offer is handed to the dialog's owner
//! ([`DialogEvent::Reoffer`]), which answers it (session refresh, hold and unhold, a
//! new address or codec) or refuses it. A re-INVITE without an offer asks the owner
//! for one ([`DialogEvent::OfferRequested`]); it goes in the 200 and the answer comes
//! in the ACK ([`DialogEvent::AnswerInAck`]). An UPDATE without an offer is a session
//! refresh, answered 200 (in the early dialog too). An offer crossing one of ours gets
//! 491, one crossing an unanswered one 500 with `Retry-After`. INFO carries DTMF.
//!
//! Bad input (RFC 3261 §8.2): a datagram that does not parse is answered 400 with a
//! `Warning: 399` saying what was wrong (missing or repeated headers, a bad
//! Content-Length, control characters…), 416 for a non-SIP Request-URI or 505 for
//! another SIP version, whenever it is a request with a Via; else it is counted and
//! dropped ([`message::parse_message`] lists what is refused). Outside a dialog,
//! Max-Forwards 0 gets 483 (not OPTIONS), a merged request 482, and a new INVITE with a
//! body that is not SDP (or multipart with an SDP part) 415 with `Accept`.
//! `tests/sip_corpus/` holds the messages that show it; `fuzz/` fuzzes the parsers and
//! the dispatcher.
//!
//! Session timers (RFC 4028, [`SessionTimerSettings`]): a too brief `Session-Expires`
//! gets 422 with `Min-SE` (the call layer checks the INVITE with
//! [`IncomingInvite::session_interval_too_brief`], the dialog every refresh); the 2xx
//! names the refresher; the dialog ends the call with BYE when the far end's refresh
//! does not come ([`TerminatedReason::SessionExpired`]) and sends its own refresh
//! (UPDATE, or a re-INVITE with the SDP last sent) at half the interval when we
//! refresh ([`TerminatedReason::RefreshFailed`] when it goes unanswered, 408 or 481).
//!
//! Known limits: an UPDATE with an offer in the early dialog gets 500 (no reliable
//! provisional responses, so the INVITE's own offer is still open); the answer in
//! the 2xx to our refresh re-INVITE is not applied (a refresh keeps the session);
//! outbound dialogs ask for no session timer of their own (they honour one a
//! re-INVITE or UPDATE from the far end asks for). PRACK and the other known
//! methods get 405, unknown methods 501, `Require`d extensions other than `timer`
//! 420. The SDP answer has a single audio m-line. A missing Max-Forwards
//! is accepted, and the §8.2 checks (483, 415) are not applied to requests inside a
//! dialog, whose refusal would strand the call.

mod body;
mod dialog;
mod digest;
mod dispatcher;
mod error;
mod event;
mod header_value;
mod incoming;
pub mod message;
mod method;
mod name_addr;
mod options_ping;
mod register;
mod requirements;
pub mod sdp;
mod session_timer;
mod settings;
mod shard_of;
mod stats;
pub mod stream;
mod timers;
mod transaction;

pub use dialog::{Dialog, DialogEvent, DialogOutput, OutboundInvite, MAX_UDP_REQUEST};
pub use digest::Credentials;
pub use dispatcher::{DialogOwner, Dispatcher, DispatcherOutput, Routed};
pub use error::SipError;
pub use event::{CallId, ConnRef, Link, TerminatedReason, Transmit};
pub use incoming::{DialogMessage, IncomingInvite, IncomingRequest};
pub use message::call_id_of;
pub use method::Method;
pub use name_addr::NameAddr;
pub use options_ping::{
    OptionsPing, OptionsPingConfig, OptionsPingEvent, OptionsPingOutput, TrunkState,
};
pub use register::{Registration, RegistrationConfig, RegistrationEvent, RegistrationOutput};
pub use sdp::{
    build_answer, build_offer, build_offer_with, negotiate, negotiate_with, AudioCodec,
    NegotiateError, Negotiated, OpusParams, Sdp,
};
pub use settings::{SessionTimerSettings, SipSettings};
pub use shard_of::owner_of;
pub use stats::SipStats;
pub use timers::{SipTimers, T1, T2, T4};
