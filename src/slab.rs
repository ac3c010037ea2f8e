//! Dense storage with generation-checked keys: the call table, the RTP sockets
//! and the SIP dispatcher's own transactions live in one each, so the packet
//! path finds an entry by index, not by hashing.
//!
//! Hand-written rather than the `slab` crate: that crate's keys are bare
//! indices, and an index reused after a removal would silently name the new
//! entry. Here every key carries the generation of the entry it was issued for,
//! so a stale key (a late packet of a finished call, a timer of a freed
//! transaction) finds nothing instead of the wrong thing.

/// Names one entry of a [`Slab`]: its index and the generation it was issued for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlabKey {
    index: u32,
    generation: u32,
}

impl SlabKey {
    /// The entry's position: dense, reused after removal.
    pub fn index(self) -> usize {
        self.index as usize
    }

    /// How many times the position was used before this entry.
    pub fn generation(self) -> u32 {
        self.generation
    }

    /// The key as one number (index in the low half), for opaque handles.
    pub fn to_u64(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    /// The key [`SlabKey::to_u64`] made.
    pub fn from_u64(value: u64) -> SlabKey {
        SlabKey {
            index: value as u32,
            generation: (value >> 32) as u32,
        }
    }
}

struct Entry<T> {
    generation: u32,
    value: Option<T>,
}

/// Values stored by dense index; freed positions are reused with a new generation.
pub struct Slab<T> {
    entries: Vec<Entry<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab::new()
    }
}

impl<T> Slab<T> {
    /// An empty slab.
    pub fn new() -> Slab<T> {
        Slab {
            entries: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }

    /// Stores `value` and returns its key.
    pub fn insert(&mut self, value: T) -> SlabKey {
        self.len += 1;
        match self.free.pop() {
            Some(index) => {
                let entry = &mut self.entries[index as usize];
                entry.generation = entry.generation.wrapping_add(1);
                entry.value = Some(value);
                SlabKey {
                    index,
                    generation: entry.generation,
                }
            }
            None => {
                let index = self.entries.len() as u32;
                self.entries.push(Entry {
                    generation: 0,
                    value: Some(value),
                });
                SlabKey {
                    index,
                    generation: 0,
                }
            }
        }
    }

    /// The key the next [`Slab::insert`] will return.
    pub fn next_key(&self) -> SlabKey {
        match self.free.last() {
            Some(&index) => SlabKey {
                index,
                generation: self.entries[index as usize].generation.wrapping_add(1),
            },
            None => SlabKey {
                index: self.entries.len() as u32,
                generation: 0,
            },
        }
    }

    /// The value of `key`, if it is still stored.
    pub fn get(&self, key: SlabKey) -> Option<&T> {
        let entry = self.entries.get(key.index())?;
        if entry.generation != key.generation {
            return None;
        }
        entry.value.as_ref()
    }

    /// The value of `key`, if it is still stored.
    pub fn get_mut(&mut self, key: SlabKey) -> Option<&mut T> {
        let entry = self.entries.get_mut(key.index())?;
        if entry.generation != key.generation {
            return None;
        }
        entry.value.as_mut()
    }

    /// Takes the value of `key` out; its position is reused by a later insert.
    pub fn remove(&mut self, key: SlabKey) -> Option<T> {
        let entry = self.entries.get_mut(key.index())?;
        if entry.generation != key.generation {
            return None;
        }
        let value = entry.value.take()?;
        self.free.push(key.index);
        self.len -= 1;
        Some(value)
    }

    /// How many values are stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keys of every stored value, in index order.
    pub fn keys(&self) -> impl Iterator<Item = SlabKey> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.value.is_some())
            .map(|(index, entry)| SlabKey {
                index: index as u32,
                generation: entry.generation,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_keys_find_nothing_after_reuse() {
        let mut slab = Slab::new();
        let a = slab.insert("a");
        assert_eq!(slab.remove(a), Some("a"));
        assert_eq!(slab.next_key().index(), a.index());
        let b = slab.insert("b");
        assert_eq!(b.index(), a.index());
        assert_ne!(a, b);
        assert_eq!(slab.get(a), None);
        assert_eq!(slab.remove(a), None);
        assert_eq!(slab.get(b), Some(&"b"));
        assert_eq!(slab.len(), 1);
        assert_eq!(SlabKey::from_u64(b.to_u64()), b);
        assert_eq!(slab.keys().collect::<Vec<_>>(), vec![b]);
    }
}
