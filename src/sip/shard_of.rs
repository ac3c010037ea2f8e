//! Which shard owns a SIP message: a stable hash of its Call-ID.
//!
//! A trunk sends all its calls from one address, so the kernel's
//! SO_REUSEPORT hashing would put them all on one socket; the shard that
//! receives a datagram looks up the Call-ID and hands the datagram to the
//! owner, so every message of a call meets the same core. The Call-IDs a
//! shard makes for its own requests (outbound calls, registrations) are
//! chosen to hash to itself, so their responses come home.

/// The shard (of `shards`) that owns the call with this Call-ID.
pub fn owner_of(call_id: &[u8], shards: usize) -> usize {
    if shards <= 1 {
        return 0;
    }
    // FNV-1a: stable across runs and processes, cheap for short keys.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in call_id {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % shards as u64) as usize
}
