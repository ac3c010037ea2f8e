//! Packet indices: the 48-bit SRTP index a receiver estimates from the 16-bit
//! sequence number and its rollover counter (RFC 3711 §3.3.1 and appendix A),
//! the sender's counterpart, and the 64-packet replay window (§3.3.2) kept
//! for SRTP and SRTCP indices alike.

/// Packets behind the highest index that the window still remembers.
pub(crate) const REPLAY_WINDOW: u64 = 64;

/// Estimates the index of a packet with `seq` from the highest index seen
/// (`s_l` and ROC are its low 16 and high 32 bits), as RFC 3711 appendix A:
/// the guess closest to `s_l`. `None` for a packet from before index 0.
pub(crate) fn estimate(highest: u64, seq: u16) -> Option<u64> {
    let s_l = (highest & 0xffff) as i64;
    let roc = (highest >> 16) as i64;
    let seq_i = i64::from(seq);
    let v = if s_l < 32768 {
        if seq_i - s_l > 32768 {
            roc - 1
        } else {
            roc
        }
    } else if s_l - 32768 > seq_i {
        roc + 1
    } else {
        roc
    };
    let index = v * 65536 + seq_i;
    u64::try_from(index).ok()
}

/// The sender's index: its sequence numbers only go forward, so the rollover
/// counter goes up each time the sequence number wraps.
#[derive(Debug, Clone, Default)]
pub(crate) struct SendIndex {
    highest: Option<u64>,
}

impl SendIndex {
    /// The index of the packet about to be sent with `seq`.
    pub(crate) fn next(&mut self, seq: u16) -> u64 {
        let index = match self.highest {
            None => u64::from(seq),
            Some(highest) => estimate(highest, seq).unwrap_or(u64::from(seq)),
        };
        if self.highest.is_none_or(|highest| index > highest) {
            self.highest = Some(index);
        }
        index
    }
}

/// The receiver's view of one stream: the highest index authenticated and
/// which of the `REPLAY_WINDOW` before it were seen.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReplayWindow {
    /// Highest index accepted; `None` before the first.
    highest: Option<u64>,
    /// Bit k set: `highest - k` was accepted.
    seen: u64,
}

impl ReplayWindow {
    /// The highest index accepted so far; `None` before the first packet,
    /// whose index is then its sequence number (ROC 0, RFC 3711 §3.3.1).
    pub(crate) fn highest(&self) -> Option<u64> {
        self.highest
    }

    /// Whether `index` may be accepted: newer than the highest, or inside the
    /// window and not seen yet.
    pub(crate) fn check(&self, index: u64) -> bool {
        let Some(highest) = self.highest else {
            return true;
        };
        if index > highest {
            return true;
        }
        let behind = highest - index;
        behind < REPLAY_WINDOW && self.seen & (1 << behind) == 0
    }

    /// Records `index` as accepted (after its tag was checked).
    pub(crate) fn accept(&mut self, index: u64) {
        match self.highest {
            Some(highest) if index <= highest => {
                let behind = highest - index;
                if behind < REPLAY_WINDOW {
                    self.seen |= 1 << behind;
                }
            }
            Some(highest) => {
                let ahead = index - highest;
                self.seen = if ahead >= REPLAY_WINDOW {
                    0
                } else {
                    self.seen << ahead
                };
                self.seen |= 1;
                self.highest = Some(index);
            }
            None => {
                self.seen = 1;
                self.highest = Some(index);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimation_follows_appendix_a_across_a_wrap() {
        // Near the top of the sequence space, a small seq belongs to the next ROC.
        assert_eq!(estimate(65_530, 3), Some(65_536 + 3));
        assert_eq!(estimate(65_530, 65_500), Some(65_500));
        // Just after a wrap, a large seq is a late packet of the previous ROC.
        assert_eq!(estimate(65_536 + 5, 65_534), Some(65_534));
        assert_eq!(estimate(65_536 + 5, 9), Some(65_536 + 9));
        // Before index 0 there is nothing.
        assert_eq!(estimate(5, 65_534), None);
        // Several rollovers later.
        let highest = (7u64 << 16) | 40_000;
        assert_eq!(estimate(highest, 40_010), Some((7 << 16) | 40_010));
        assert_eq!(estimate(highest, 100), Some((8 << 16) | 100));
    }

    #[test]
    fn the_sender_counts_rollovers() {
        let mut index = SendIndex::default();
        assert_eq!(index.next(65_534), 65_534);
        assert_eq!(index.next(65_535), 65_535);
        assert_eq!(index.next(0), 65_536);
        assert_eq!(index.next(1), 65_537);
    }

    #[test]
    fn the_window_refuses_replays_and_the_too_old() {
        let mut window = ReplayWindow::default();
        assert!(window.check(1000));
        window.accept(1000);
        assert!(!window.check(1000), "a replay");
        assert!(window.check(1001));
        window.accept(1002);
        assert!(window.check(1001), "late but unseen");
        window.accept(1001);
        assert!(!window.check(1001));
        assert!(window.check(1002 - 63) && !window.check(1000));
        assert!(!window.check(1002 - 64), "behind the window");
        window.accept(5000);
        assert!(!window.check(1002), "a jump forgets the old window");
        assert!(window.check(4990));
        assert_eq!(window.highest(), Some(5000));
    }
}
