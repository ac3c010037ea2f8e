//! What every dialog and the dispatcher of one shard say about themselves.

use std::net::SocketAddr;

/// Static SIP settings of one shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipConfig {
    /// Address advertised in our Via and Contact headers.
    pub local_addr: SocketAddr,
    /// Sent as `Server` (responses) and `User-Agent` (requests); omitted when empty.
    pub user_agent: String,
}
