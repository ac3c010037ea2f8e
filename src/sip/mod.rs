//! SIP for callplane: a sans-IO RFC 3261 user agent over UDP that answers inbound calls
//! from carrier trunks and hangs them up.
//!
//! - [`message`]: parsing datagrams, serializing messages, [`call_id_of`] for dispatch.
//! - [`sdp`]: reading offers, [`negotiate`] (PCMU/PCMA + telephone-event), [`build_answer`].
//! - [`Endpoint`]: transactions (RFC 3261 §17, UDP timers) and dialogs behind a
//!   `handle_datagram` / `handle_timeout` / `poll_*` interface.
//!
//! Contract with the call layer: every [`Event::IncomingCall`] is followed by exactly one
//! [`Event::Terminated`] for that call; `Cancelled` and `RemoteHangup` come just before
//! it. Responses go to the source address of the request (RFC 3581 style); our BYE goes
//! to the INVITE's source address.
//!
//! Known limits: a re-INVITE inside an established dialog is answered 488 (session
//! changes are not supported), UPDATE/INFO and the other known methods get 405, unknown
//! methods 501, `Require`d extensions 420. The SDP answer has a single audio m-line.

mod body;
mod dialog;
mod endpoint;
mod error;
mod event;
mod header_value;
pub mod message;
mod method;
mod name_addr;
pub mod sdp;
mod stats;
mod timers;
mod transaction;

pub use endpoint::{Endpoint, EndpointConfig};
pub use error::SipError;
pub use event::{CallId, Event, TerminatedReason, Transmit};
pub use message::call_id_of;
pub use method::Method;
pub use name_addr::NameAddr;
pub use sdp::{build_answer, negotiate, AudioCodec, NegotiateError, Negotiated, Sdp};
pub use stats::SipStats;
pub use timers::{T1, T2, T4};
