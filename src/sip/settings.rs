//! What every dialog and the dispatcher of one shard say about themselves (named
//! apart from `config::SipConfig`, the `[sip]` section these are made from).

use std::net::SocketAddr;

use crate::sip::timers::SipTimers;

/// Static SIP settings of one shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipSettings {
    /// Address advertised in our Via and Contact headers.
    pub local_addr: SocketAddr,
    /// Sent as `Server` (responses) and `User-Agent` (requests); omitted when empty.
    pub user_agent: String,
    /// T1, T2 and T4 for every transaction.
    pub timers: SipTimers,
}
