//! Non-INVITE server transaction (RFC 3261 §17.2.2). The endpoint answers every
//! non-INVITE request at once, so the transaction only remembers its response for
//! retransmitted requests until Timer J (64*T1) ends it.

use crate::sip::timers::SipTimers;
use crate::time::Time;
use std::net::SocketAddr;

/// A completed non-INVITE server transaction.
#[derive(Clone, Debug)]
pub(crate) struct NonInviteServerTx {
    pub dest: SocketAddr,
    pub response: Vec<u8>,
    pub ends_at: Time,
}

impl NonInviteServerTx {
    /// A transaction that sent `response` at `now`.
    pub(crate) fn new(now: Time, dest: SocketAddr, response: Vec<u8>, timers: &SipTimers) -> Self {
        NonInviteServerTx {
            dest,
            response,
            ends_at: now + timers.transaction_timeout(),
        }
    }
}
