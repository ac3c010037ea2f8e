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
    /// Session timers (RFC 4028) of inbound calls.
    pub session_timer: SessionTimerSettings,
}

/// Session-timer settings (RFC 4028).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTimerSettings {
    /// The shortest `Session-Expires` accepted, in seconds; a shorter one is
    /// answered 422 with this as `Min-SE`. The RFC's floor is 90; less is for tests.
    pub min_se: u32,
    /// The interval we ask for, in seconds, when a caller asks for none (we
    /// then refresh); 0: no session timer unless the caller asks for one.
    pub session_expires: u32,
}

impl Default for SessionTimerSettings {
    fn default() -> Self {
        SessionTimerSettings {
            min_se: 90,
            session_expires: 0,
        }
    }
}
