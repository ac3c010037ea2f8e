//! The slots of a jitter buffer: a power-of-two ring indexed by extended sequence
//! number, allocated once when the buffer is created. Inserting copies the payload
//! into its slot; nothing here allocates afterwards. A slot holds one packet of
//! the stream's codec at its largest: a 20 ms G.711 frame, or an Opus packet of up
//! to [`OPUS_MAX_PACKET`] bytes (RFC 6716 §3.4, R2).

use crate::media::codec::{Codec, FRAME_SAMPLES};

/// The largest Opus packet of one frame (RFC 6716 §3.4).
pub(super) const OPUS_MAX_PACKET: usize = 1275;

/// The payload bytes a slot keeps for a stream of `codec`.
pub(super) fn slot_bytes(codec: Codec) -> usize {
    match codec {
        Codec::Opus => OPUS_MAX_PACKET,
        _ => FRAME_SAMPLES,
    }
}

/// What a buffered packet carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Payload {
    /// One 20 ms frame of the stream's codec.
    Audio,
    /// An RFC 3389 comfort-noise packet: the noise level, in -dBov (0..=127), if the
    /// payload has one (without, the previous level is kept).
    ComfortNoise(Option<u8>),
    /// An RFC 4733 telephone-event packet of the stream: it holds a sequence
    /// number (so it is no loss) but no audio, and moves no playout time.
    Event,
}

/// One buffered packet.
#[derive(Debug, Clone)]
pub(super) struct Slot {
    /// Extended (unwrapped) sequence number.
    pub(super) seq: i64,
    /// Extended (unwrapped) RTP timestamp, in samples.
    pub(super) ts: i64,
    /// The RTP marker bit: the first packet of a talkspurt.
    pub(super) marker: bool,
    /// Audio or comfort noise.
    pub(super) payload: Payload,
    /// Bytes of `data` in use (at most one frame).
    pub(super) len: usize,
    /// The payload, copied from the datagram (room for the ring's slot size).
    pub(super) data: Box<[u8]>,
    /// Whether the slot holds a packet.
    occupied: bool,
}

impl Slot {
    fn empty(bytes: usize) -> Slot {
        Slot {
            seq: 0,
            ts: 0,
            marker: false,
            payload: Payload::Audio,
            len: 0,
            data: vec![0; bytes].into_boxed_slice(),
            occupied: false,
        }
    }
}

/// The buffered packets of one stream, at most `capacity` consecutive sequence
/// numbers apart.
#[derive(Debug)]
pub(super) struct Ring {
    slots: Box<[Slot]>,
    mask: u64,
    len: usize,
}

impl Ring {
    /// A ring of at least `min_slots` slots (rounded up to a power of two) of
    /// `slot_bytes` payload bytes each.
    pub(super) fn new(min_slots: usize, slot_bytes: usize) -> Ring {
        let capacity = min_slots.max(2).next_power_of_two();
        Ring {
            slots: (0..capacity).map(|_| Slot::empty(slot_bytes)).collect(),
            mask: capacity as u64 - 1,
            len: 0,
        }
    }

    /// How many consecutive sequence numbers the ring can hold.
    pub(super) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Packets buffered.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    fn index(&self, seq: i64) -> usize {
        (seq as u64 & self.mask) as usize
    }

    /// The packet with sequence number `seq`, if buffered.
    pub(super) fn get(&self, seq: i64) -> Option<&Slot> {
        let slot = &self.slots[self.index(seq)];
        (slot.occupied && slot.seq == seq).then_some(slot)
    }

    /// Copies a packet into its slot, replacing whatever was there (the caller keeps
    /// sequence numbers within `capacity` of each other). Returns false when the
    /// payload was longer than a slot and only its start was kept.
    pub(super) fn insert(
        &mut self,
        seq: i64,
        ts: i64,
        marker: bool,
        payload: Payload,
        data: &[u8],
    ) -> bool {
        let index = self.index(seq);
        let slot = &mut self.slots[index];
        if !slot.occupied {
            self.len += 1;
        }
        let len = data.len().min(slot.data.len());
        slot.seq = seq;
        slot.ts = ts;
        slot.marker = marker;
        slot.payload = payload;
        slot.len = len;
        slot.data[..len].copy_from_slice(&data[..len]);
        slot.occupied = true;
        len == data.len()
    }

    /// Empties the slot of `seq`, if it holds that packet.
    pub(super) fn remove(&mut self, seq: i64) {
        let index = self.index(seq);
        let slot = &mut self.slots[index];
        if slot.occupied && slot.seq == seq {
            slot.occupied = false;
            self.len -= 1;
        }
    }

    /// The lowest buffered sequence number in `from..=to`.
    pub(super) fn first_in(&self, from: i64, to: i64) -> Option<i64> {
        if self.len == 0 {
            return None;
        }
        let to = to.min(from + self.slots.len() as i64 - 1);
        (from..=to).find(|&seq| self.get(seq).is_some())
    }

    /// Empties every slot.
    pub(super) fn clear(&mut self) {
        for slot in self.slots.iter_mut() {
            slot.occupied = false;
        }
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_found_by_sequence_number_only() {
        let mut ring = Ring::new(5, FRAME_SAMPLES);
        assert_eq!(ring.capacity(), 8);
        assert!(
            !ring.insert(3, 480, false, Payload::Audio, &[1; 200]),
            "cut"
        );
        assert_eq!(ring.get(3).map(|slot| slot.len), Some(FRAME_SAMPLES));
        assert!(ring.get(11).is_none(), "same index, other packet");
        assert_eq!(ring.first_in(0, 10), Some(3));
        assert!(ring.insert(-1, 0, true, Payload::ComfortNoise(Some(60)), &[60]));
        assert_eq!(ring.first_in(-4, 10), Some(-1));
        assert_eq!(ring.len(), 2);
        ring.remove(3);
        ring.remove(3);
        assert_eq!(ring.len(), 1);
        ring.clear();
        assert_eq!(ring.first_in(-4, 10), None);
    }

    #[test]
    fn an_opus_ring_keeps_the_largest_opus_packet_whole() {
        let mut ring = Ring::new(4, slot_bytes(Codec::Opus));
        assert!(ring.insert(1, 960, false, Payload::Audio, &[7; OPUS_MAX_PACKET]));
        assert_eq!(ring.get(1).map(|slot| slot.len), Some(OPUS_MAX_PACKET));
        assert!(!ring.insert(2, 1920, false, Payload::Audio, &[7; OPUS_MAX_PACKET + 1]));
    }
}
