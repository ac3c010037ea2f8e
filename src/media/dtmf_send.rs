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
//!
//! For a far end that did not negotiate telephone-event the same schedule is
//! played in-band: each tone slot is 20 ms of the key's two frequencies
//! (ITU-T Q.23), each at −7 dBm0, continuous in phase across the key's slots;
//! no end packets, then the pause.

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
    /// In-band: 20 ms of the key's dual tone, starting `offset` samples into it.
    Tone {
        /// Event code (0–15) of the key.
        code: u8,
        /// Samples of the key already played.
        offset: u32,
    },
    /// Ordinary audio (the pause between keys).
    Audio,
}

/// Row (low group) and column (high group) frequencies, Hz (ITU-T Q.23).
const LOW_HZ: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const HIGH_HZ: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
/// Peak of each of the two tones: −7 dBm0 (a 0 dBm0 sine peaks at 22 750).
const TONE_PEAK: f32 = 22_750.0 * 0.446_7;

/// The (low, high) frequencies of an event code's key.
pub(crate) fn frequencies(code: u8) -> (f32, f32) {
    // Keypad position of each code: 1 2 3 A / 4 5 6 B / 7 8 9 C / * 0 # D.
    let (row, column) = match code {
        0 => (3, 1),
        1..=9 => ((code - 1) / 3, (code - 1) % 3),
        10 => (3, 0),
        11 => (3, 2),
        _ => (code.saturating_sub(12).min(3), 3),
    };
    (LOW_HZ[row as usize], HIGH_HZ[column as usize])
}

/// Writes 20 ms of `code`'s dual tone into `out` (8 kHz), starting `offset`
/// samples into the key, so consecutive slots join without a click.
pub(crate) fn write_tone(code: u8, offset: u32, out: &mut [i16]) {
    let (low, high) = frequencies(code);
    for (i, sample) in out.iter_mut().enumerate() {
        let t = (offset as f32 + i as f32) / 8_000.0;
        let value = TONE_PEAK
            * ((std::f32::consts::TAU * low * t).sin() + (std::f32::consts::TAU * high * t).sin());
        *sample = value.clamp(-32_767.0, 32_767.0) as i16;
    }
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
    /// Tones in the audio instead of telephone-events.
    inband: bool,
    tone_slots: u32,
    gap_slots: u32,
    stage: Stage,
}

impl DigitSender {
    /// Sends `keys` (unknown characters are skipped), each `tone` long with
    /// `gap` between them; both are rounded up to whole 20 ms slots, at least one.
    pub(crate) fn new(keys: &str, tone: Duration, gap: Duration) -> DigitSender {
        DigitSender::with_mode(keys, tone, gap, false)
    }

    /// The same keys played in-band as dual tones.
    pub(crate) fn inband(keys: &str, tone: Duration, gap: Duration) -> DigitSender {
        DigitSender::with_mode(keys, tone, gap, true)
    }

    fn with_mode(keys: &str, tone: Duration, gap: Duration, inband: bool) -> DigitSender {
        let slots = |d: Duration| {
            let slot = FRAME_DURATION.as_micros().max(1);
            (d.as_micros().div_ceil(slot) as u32).max(1)
        };
        DigitSender {
            keys: keys.chars().filter_map(event_code).collect(),
            inband,
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
                if self.inband {
                    self.stage = if end {
                        Stage::Gap {
                            left: self.gap_slots,
                        }
                    } else {
                        Stage::Tone {
                            code,
                            timestamp,
                            sent,
                        }
                    };
                    return Slot::Tone {
                        code,
                        offset: (sent - 1) * SLOT_SAMPLES,
                    };
                }
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

    #[test]
    fn keys_map_to_their_q23_frequencies_and_inband_has_no_end_packets() {
        assert_eq!(frequencies(event_code('1').unwrap()), (697.0, 1209.0));
        assert_eq!(frequencies(event_code('5').unwrap()), (770.0, 1336.0));
        assert_eq!(frequencies(event_code('0').unwrap()), (941.0, 1336.0));
        assert_eq!(frequencies(event_code('*').unwrap()), (941.0, 1209.0));
        assert_eq!(frequencies(event_code('#').unwrap()), (941.0, 1477.0));
        assert_eq!(frequencies(event_code('D').unwrap()), (941.0, 1633.0));
        let mut sender =
            DigitSender::inband("9", Duration::from_millis(40), Duration::from_millis(20));
        let slots: Vec<Slot> = (0..3).map(|i| sender.next_slot(160 * i)).collect();
        assert_eq!(
            slots,
            vec![
                Slot::Tone { code: 9, offset: 0 },
                Slot::Tone {
                    code: 9,
                    offset: 160
                },
                Slot::Audio
            ]
        );
        assert!(sender.is_done());
    }
}
