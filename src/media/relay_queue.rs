//! The two ends of a relayed bridge inside a media session: the tap that keeps
//! the last packet a side received (in the clear, after SRTP), for the call to
//! hand to the other side, and the queue of packets rewritten for this side's
//! stream, sent before anything the session would send itself.
//!
//! Fixed storage, reserved when the relay starts: nothing allocates per packet.
//! A push onto a full queue drops the oldest packet (counted), so the delay a
//! relay adds never grows.

use crate::media::bridge::{BridgeSide, OutStream, Relay, RelayStats, Relayed};
use crate::media::rtp::parse_rtp;
use crate::time::Time;

/// The largest packet a relay carries (a UDP payload on an Ethernet path).
pub(crate) const RELAY_PACKET_MAX: usize = 1500;
/// Packets a relay queue holds between one input and the next drain.
const RELAY_QUEUE_PACKETS: usize = 4;

/// The last packet a side received, for the other side.
#[derive(Debug)]
pub(crate) struct RelayTap {
    packet: Vec<u8>,
    ready: bool,
}

impl RelayTap {
    pub(crate) fn new() -> RelayTap {
        RelayTap {
            packet: Vec::with_capacity(RELAY_PACKET_MAX),
            ready: false,
        }
    }

    /// Keeps `packet` (a longer one than [`RELAY_PACKET_MAX`] is not kept).
    pub(crate) fn keep(&mut self, packet: &[u8]) {
        self.ready = packet.len() <= RELAY_PACKET_MAX;
        if self.ready {
            self.packet.clear();
            self.packet.extend_from_slice(packet);
        }
    }

    /// The packet kept since the last take, if any.
    pub(crate) fn take(&mut self) -> Option<&[u8]> {
        if !std::mem::take(&mut self.ready) {
            return None;
        }
        Some(&self.packet)
    }
}

/// Packets rewritten for this side's stream, waiting to be sent.
#[derive(Debug)]
pub(crate) struct RelaySink {
    relay: Relay,
    slots: [Vec<u8>; RELAY_QUEUE_PACKETS],
    head: usize,
    len: usize,
    /// Packets dropped because the queue was full.
    pub(crate) overruns: u64,
}

impl RelaySink {
    pub(crate) fn new() -> RelaySink {
        RelaySink {
            relay: Relay::new(),
            slots: std::array::from_fn(|_| Vec::with_capacity(RELAY_PACKET_MAX)),
            head: 0,
            len: 0,
            overruns: 0,
        }
    }

    /// Rewrites `datagram` of side `from` for side `to` and queues it;
    /// `None` when it was dropped (malformed, unmapped, too long).
    pub(crate) fn push(
        &mut self,
        now: Time,
        datagram: &[u8],
        from: &BridgeSide,
        to: &BridgeSide,
        stream: OutStream,
    ) -> Option<Relayed> {
        let packet = parse_rtp(datagram).ok()?;
        if self.len == RELAY_QUEUE_PACKETS {
            self.head = (self.head + 1) % RELAY_QUEUE_PACKETS;
            self.len -= 1;
            self.overruns += 1;
        }
        let tail = (self.head + self.len) % RELAY_QUEUE_PACKETS;
        let slot = &mut self.slots[tail];
        slot.resize(RELAY_PACKET_MAX, 0);
        match self.relay.rewrite(now, &packet, from, to, stream, slot) {
            Ok(relayed) => {
                slot.truncate(relayed.len);
                self.len += 1;
                Some(relayed)
            }
            Err(_) => {
                slot.clear();
                None
            }
        }
    }

    /// The oldest queued packet, copied into `buf`; `Some(0)` when `buf`
    /// cannot hold it (the packet is dropped), `None` when nothing is queued.
    pub(crate) fn pop_into(&mut self, buf: &mut [u8]) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let slot = &self.slots[self.head];
        self.head = (self.head + 1) % RELAY_QUEUE_PACKETS;
        self.len -= 1;
        let Some(out) = buf.get_mut(..slot.len()) else {
            return Some(0);
        };
        out.copy_from_slice(slot);
        Some(slot.len())
    }

    /// Drops whatever is queued.
    pub(crate) fn clear(&mut self) -> usize {
        std::mem::take(&mut self.len)
    }

    /// The relay's counters.
    pub(crate) fn stats(&self) -> RelayStats {
        self.relay.stats()
    }
}
