//! The deadline queue every core keeps its timers in: a binary heap with lazy
//! deletion. Asking for the next deadline is O(1); a wake-up costs
//! O(due · log n) — nothing alive is scanned.
//!
//! The queue does not know what its keys name. An owner pushes `(at, key)`
//! whenever a key's deadline becomes earlier than the one it last pushed, and
//! remembers that instant beside the value; an entry popped whose instant is not
//! the one remembered (the deadline moved, or the value is gone) is stale and is
//! skipped. A deadline that moves later costs one spurious wake-up at the old
//! instant, after which the owner pushes the new one.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::time::Time;

/// Deadlines of keys `K`, earliest first.
#[derive(Debug)]
pub struct DeadlineQueue<K: Ord> {
    heap: BinaryHeap<Reverse<(Time, K)>>,
}

impl<K: Ord + Copy> Default for DeadlineQueue<K> {
    fn default() -> Self {
        DeadlineQueue::new()
    }
}

impl<K: Ord + Copy> DeadlineQueue<K> {
    /// An empty queue.
    pub fn new() -> DeadlineQueue<K> {
        DeadlineQueue {
            heap: BinaryHeap::new(),
        }
    }

    /// Records that `key` is due at `at`.
    pub fn push(&mut self, at: Time, key: K) {
        self.heap.push(Reverse((at, key)));
    }

    /// The earliest instant pushed and not yet popped (possibly stale: an early
    /// answer only costs a wake-up that finds nothing due).
    pub fn next(&self) -> Option<Time> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Removes and returns the earliest entry due at or before `now`.
    pub fn pop_due(&mut self, now: Time) -> Option<(Time, K)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse(entry)| entry),
            _ => None,
        }
    }

    /// Entries held, stale ones included.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// Pushes `at` for `key` if it is earlier than `scheduled` (the instant last
/// pushed for it), and updates `scheduled`. The one rule owners follow.
pub fn schedule<K: Ord + Copy>(
    queue: &mut DeadlineQueue<K>,
    scheduled: &mut Option<Time>,
    at: Time,
    key: K,
) {
    if at == Time::NEVER {
        return;
    }
    if scheduled.is_none_or(|current| at < current) {
        *scheduled = Some(at);
        queue.push(at, key);
    }
}

/// Whether a popped entry at `at` is the live one for a value whose remembered
/// instant is `scheduled`; if so the value is no longer scheduled.
pub fn take_if_live(scheduled: &mut Option<Time>, at: Time) -> bool {
    if *scheduled == Some(at) {
        *scheduled = None;
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_order_and_skips_stale_entries() {
        let mut queue = DeadlineQueue::new();
        let mut scheduled = [None, None];
        schedule(&mut queue, &mut scheduled[0], Time::from_millis(30), 0usize);
        schedule(&mut queue, &mut scheduled[1], Time::from_millis(20), 1usize);
        // Earlier for key 0: pushed again; the 30 ms entry becomes stale.
        schedule(&mut queue, &mut scheduled[0], Time::from_millis(10), 0usize);
        // Later for key 1: not pushed.
        schedule(&mut queue, &mut scheduled[1], Time::from_millis(40), 1usize);
        assert_eq!(queue.next(), Some(Time::from_millis(10)));
        let mut live = Vec::new();
        while let Some((at, key)) = queue.pop_due(Time::from_millis(35)) {
            if take_if_live(&mut scheduled[key], at) {
                live.push((at.as_millis(), key));
            }
        }
        assert_eq!(live, vec![(10, 0), (20, 1)]);
        assert!(queue.is_empty());
    }
}
