//! A hash index over the entries of a [`Slab`](crate::slab::Slab): it holds
//! only `(hash, SlabKey)`, sixteen bytes an entry, and compares keys by
//! reading them from the slab. The SIP dispatcher finds its own transactions
//! by branch and by Call-ID/tag/CSeq this way.
//!
//! Why not a `HashMap<Key, SlabKey>`: its keys are strings on the heap, and
//! when the map doubles it rehashes each one — a cache miss per string — and
//! copies keys of 70-odd bytes into a table it has just allocated, faulting
//! its pages in. With a quarter of a million transactions alive (four
//! seconds of OPTIONS at 60,000/s), one doubling of the two indexes held
//! one shard silent for half a second: `callplane bench options` saw a
//! 250 ms gap on the wire, and `examples/dispatcher_pauses.rs` a 509 ms turn
//! of the sans-IO host. Keeping the hash beside a full key cut it to 87 ms
//! (the copy of 90-byte entries into fresh pages); here a doubling copies
//! sixteen bytes an entry and hashes nothing: 12 ms. `docs/bench.md` has
//! the figures.
//!
//! Keys are hashed with `RandomState` (SipHash, a random key per index):
//! they come from the network, and a fixed hash would let a peer pick
//! colliding branches.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;

use crate::slab::SlabKey;

/// `(hash, slot)` pairs, looked up by hash and confirmed by the caller.
#[derive(Default)]
pub struct SlabIndex {
    table: HashTable<(u64, SlabKey)>,
    hasher: RandomState,
}

impl std::fmt::Debug for SlabIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlabIndex")
            .field("len", &self.table.len())
            .finish()
    }
}

impl SlabIndex {
    /// An empty index.
    pub fn new() -> SlabIndex {
        SlabIndex::default()
    }

    /// The hash this index files `key` under.
    pub fn hash_of<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The slot filed under `hash` whose entry `is_key` confirms.
    pub fn find(&self, hash: u64, mut is_key: impl FnMut(SlabKey) -> bool) -> Option<SlabKey> {
        self.table
            .find(hash, |&(h, slot)| h == hash && is_key(slot))
            .map(|&(_, slot)| slot)
    }

    /// Files `slot` under `hash`. The caller has removed any slot with the
    /// same key first (one slot per key).
    pub fn insert(&mut self, hash: u64, slot: SlabKey) {
        self.table.insert_unique(hash, (hash, slot), |&(h, _)| h);
    }

    /// Removes the entry of exactly `slot` filed under `hash`; whether there was one.
    pub fn remove(&mut self, hash: u64, slot: SlabKey) -> bool {
        match self
            .table
            .find_entry(hash, |&(h, s)| h == hash && s == slot)
        {
            Ok(entry) => {
                entry.remove();
                true
            }
            Err(_) => false,
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slab::Slab;

    #[test]
    fn finds_slots_by_the_key_the_slab_holds() {
        let mut slab: Slab<String> = Slab::new();
        let mut index = SlabIndex::new();
        let mut slots = Vec::new();
        for i in 0..3_000 {
            let key = format!("z9hG4bK-{i}");
            let hash = index.hash_of(&key);
            let slot = slab.insert(key);
            index.insert(hash, slot);
            slots.push(slot);
        }
        let find = |index: &SlabIndex, slab: &Slab<String>, key: &str| {
            index.find(index.hash_of(key), |slot| {
                slab.get(slot).is_some_and(|k| k == key)
            })
        };
        assert_eq!(find(&index, &slab, "z9hG4bK-17"), Some(slots[17]));
        assert_eq!(find(&index, &slab, "z9hG4bK-none"), None);
        // Removing one slot's entry leaves the others.
        let key = slab.remove(slots[17]).unwrap();
        assert!(index.remove(index.hash_of(&key), slots[17]));
        assert!(!index.remove(index.hash_of(&key), slots[17]));
        assert_eq!(find(&index, &slab, "z9hG4bK-17"), None);
        assert_eq!(find(&index, &slab, "z9hG4bK-18"), Some(slots[18]));
        assert_eq!(index.len(), 2_999);
    }

    #[test]
    fn a_slot_is_only_found_while_the_slab_confirms_its_key() {
        let mut slab: Slab<String> = Slab::new();
        let mut index = SlabIndex::new();
        let hash = index.hash_of("a");
        let slot = slab.insert("a".to_string());
        index.insert(hash, slot);
        slab.remove(slot);
        let reused = slab.insert("b".to_string());
        assert_eq!(
            index.find(hash, |s| slab.get(s).is_some_and(|k| k == "a")),
            None
        );
        assert_ne!(slot, reused);
    }
}
