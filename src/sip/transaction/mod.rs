//! RFC 3261 §17 transactions over UDP, as plain state machines: they hold the bytes to
//! (re)send and their timers, and tell the endpoint what to do; they never build
//! messages themselves.

mod invite_client;
mod invite_server;
mod key;
mod non_invite_client;
mod non_invite_server;

pub(crate) use invite_client::{InviteClientResponse, InviteClientTimeout, InviteClientTx};
pub(crate) use invite_server::{InviteAck, InviteServerTx, InviteTimeout};
pub(crate) use key::TxKey;
pub(crate) use non_invite_client::{ClientResponse, ClientTimeout, NonInviteClientTx};
pub(crate) use non_invite_server::NonInviteServerTx;
