//! SIP for callplane: a sans-IO RFC 3261 user agent over UDP that answers inbound calls
//! from carrier trunks, places outbound calls through them, and hangs both up.
//!
//! - [`message`]: parsing datagrams, serializing messages, [`call_id_of`] for dispatch.
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
//! A re-INVITE with an offer is handed to the dialog's owner ([`DialogEvent::Reoffer`]),
//! which answers it (session refresh, hold and unhold, a new address or codec) or
//! refuses it; INFO carries DTMF.
//!
//! Known limits: a re-INVITE without an offer is answered 488; UPDATE and the other
//! known methods get 405, unknown methods 501, `Require`d extensions 420. The SDP
//! answer has a single audio m-line.

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
mod requirements;
pub mod sdp;
mod session_timer;
mod settings;
mod stats;
mod timers;
mod transaction;

pub use dialog::{Dialog, DialogEvent, DialogOutput, OutboundInvite};
pub use digest::Credentials;
pub use dispatcher::{DialogOwner, Dispatcher, DispatcherOutput, Routed};
pub use error::SipError;
pub use event::{CallId, TerminatedReason, Transmit};
pub use incoming::{DialogMessage, IncomingInvite, IncomingRequest};
pub use message::call_id_of;
pub use method::Method;
pub use name_addr::NameAddr;
pub use sdp::{build_answer, build_offer, negotiate, AudioCodec, NegotiateError, Negotiated, Sdp};
pub use settings::{SessionTimerSettings, SipSettings};
pub use stats::SipStats;
pub use timers::{SipTimers, T1, T2, T4};
