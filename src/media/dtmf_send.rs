//! Sending DTMF as RFC 4733 telephone-events (for a flow's `digits_send`):
//! which packet goes in each 20 ms slot of the stream while keys are sent.
//!
//! A key of `tone` length takes `ceil(tone / 20 ms)` slots. Each slot carries
//! an event packet on the negotiated telephone-event payload type with the
//! event's start timestamp (the same for every packet of one key), the marker
//! bit on the first packet and a duration growing by 160 samples per packet.
//! The last packet has the E bit; it is sent three times in all (RFC 4733
//! §2.5.1.4), in consecutive slots. Then `gap` of ordinary audio (silence)
//! slots, then the next key. The RTP clock runs on through the events, so the
//! audio after them needs no jump.

use std::collections::VecDeque;
use std::time::Duration;

use super::codec::FRAME_DURATION;

/// Volume field of the event packets: 10 means −10 dBm0, a usual level.
const EVENT_VOLUME: u8 = 10;
/// Samples of one 20 ms slot at 8 kHz.
const SLOT_SAMPLES: u32 = 160;
/// How many times the final packet of an event is sent.
const END_PACKETS: u8 = 3;
/// The longest event duration the 16-bit field holds, in samples.
const MAX_DURATION: u32 = u16::MAX as u32;

/// The RFC 4733 event code of a key (`0`–`9`, `*`, `#`, `A`–`D`).
pub(crate) fn event_code(key: char) -> Option<u8> {
    match key.to_ascii_uppercase() {
        digit @ '0'..='9' => Some(digit as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        letter @ 'A'..='D' => Some(12 + (letter as u8 - b'A')),
        _ => None,
    }
}

/// What one slot of the stream carries while keys are being sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// A telephone-event packet.
    Event {
        /// Event code (0–15).
        code: u8,
        /// RTP timestamp of the event's first packet.
        timestamp: u32,
        /// Samples since the event started, this packet's included.
        duration: u16,
        /// The first packet of the event.
        marker: bool,
        /// The event has ended (E bit).
        end: bool,
    },
    /// Ordinary audio (the pause between keys).
    Audio,
}

impl Slot {
    /// Writes an event slot's 4-byte payload into `payload`.
    pub(crate) fn write_event_payload(code: u8, end: bool, duration: u16, payload: &mut [u8; 4]) {
        payload[0] = code;
        payload[1] = (u8::from(end) << 7) | (EVENT_VOLUME & 0x3F);
        payload[2..4].copy_from_slice(&duration.to_be_bytes());
    }
}

/// Where the sender is within the current key.
#[derive(Clone, Copy, Debug)]
enum Stage {
    /// Sending the key's packets: `sent` so far.
    Tone { code: u8, timestamp: u32, sent: u32 },
    /// Repeating the final packet: `left` more to send.
    Ending {
        code: u8,
        timestamp: u32,
        duration: u16,
        left: u8,
    },
    /// Audio slots before the next key: `left` more.
    Gap { left: u32 },
    /// Between keys, the next one not yet started.
    Idle,
}

/// Keys being sent on one stream.
#[derive(Debug)]
pub(crate) struct DigitSender {
    keys: VecDeque<u8>,
    tone_slots: u32,
    gap_slots: u32,
    stage: Stage,
}

impl DigitSender {
    /// Sends `keys` (unknown characters are skipped), each `tone` long with
    /// `gap` between them; both are rounded up to whole 20 ms slots, at least one.
    pub(crate) fn new(keys: &str, tone: Duration, gap: Duration) -> DigitSender {
        let slots = |d: Duration| {
            let slot = FRAME_DURATION.as_micros().max(1);
            (d.as_micros().div_ceil(slot) as u32).max(1)
        };
        DigitSender {
            keys: keys.chars().filter_map(event_code).collect(),
            tone_slots: slots(tone),
            gap_slots: slots(gap),
            stage: Stage::Idle,
        }
    }

    /// Whether every key has been sent (its gap included).
    pub(crate) fn is_done(&self) -> bool {
        self.keys.is_empty() && matches!(self.stage, Stage::Idle)
    }

    /// What the next slot carries; `timestamp` is the RTP timestamp that slot
    /// would have as audio.
    pub(crate) fn next_slot(&mut self, timestamp: u32) -> Slot {
        if let Stage::Idle = self.stage {
            match self.keys.pop_front() {
                Some(code) => {
                    self.stage = Stage::Tone {
                        code,
                        timestamp,
                        sent: 0,
                    }
                }
                None => return Slot::Audio,
            }
        }
        match self.stage {
            Stage::Tone {
                code,
                timestamp,
                sent,
            } => {
                let sent = sent + 1;
                let duration = (sent * SLOT_SAMPLES).min(MAX_DURATION) as u16;
                let end = sent >= self.tone_slots;
                self.stage = if end {
                    Stage::Ending {
                        code,
                        timestamp,
                        duration,
                        left: END_PACKETS - 1,
                    }
                } else {
                    Stage::Tone {
                        code,
                        timestamp,
                        sent,
                    }
                };
                Slot::Event {
                    code,
                    timestamp,
                    duration,
                    marker: sent == 1,
                    end,
                }
            }
            Stage::Ending {
                code,
                timestamp,
                duration,
                left,
            } => {
                self.stage = if left > 1 {
                    Stage::Ending {
                        code,
                        timestamp,
                        duration,
                        left: left - 1,
                    }
                } else {
                    Stage::Gap {
                        left: self.gap_slots,
                    }
                };
                Slot::Event {
                    code,
                    timestamp,
                    duration,
                    marker: false,
                    end: true,
                }
            }
            Stage::Gap { left } => {
                self.stage = if left > 1 {
                    Stage::Gap { left: left - 1 }
                } else {
                    Stage::Idle
                };
                Slot::Audio
            }
            Stage::Idle => Slot::Audio,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_codes() {
        let codes: Vec<Option<u8>> = "09*#aD x".chars().map(event_code).collect();
        assert_eq!(
            codes,
            vec![
                Some(0),
                Some(9),
                Some(10),
                Some(11),
                Some(12),
                Some(15),
                None,
                None
            ]
        );
    }

    #[test]
    fn one_key_is_its_tone_slots_three_end_packets_then_the_gap() {
        let mut sender =
            DigitSender::new("5", Duration::from_millis(60), Duration::from_millis(40));
        let slots: Vec<Slot> = (0..8).map(|i| sender.next_slot(1000 + 160 * i)).collect();
        let event = |duration, marker, end| Slot::Event {
            code: 5,
            timestamp: 1000,
            duration,
            marker,
            end,
        };
        assert_eq!(
            slots,
            vec![
                event(160, true, false),
                event(320, false, false),
                event(480, false, true),
                event(480, false, true),
                event(480, false, true),
                Slot::Audio,
                Slot::Audio,
                Slot::Audio,
            ]
        );
        assert!(sender.is_done());
    }
}
