//! RFC 4733 telephone-event (DTMF) detection: turns a stream of event packets into
//! digits, each reported once.
//!
//! An event is identified by its RTP timestamp: every packet of one key press, including
//! the three retransmitted end packets, carries the same timestamp. A digit is reported
//! on the first packet seen of a new event, so a lost marker bit or lost start packets
//! cannot hide it. RFC 4733 §2.5.1.3 splits events longer than the 16-bit duration field
//! into segments; a segment after the first has a new timestamp but no marker, the same
//! event code, and starts where the previous segment ended. Such a continuation is folded
//! into the event it continues instead of counting again.

/// Samples of slack allowed between where a segment should start (previous timestamp +
/// last duration seen) and the timestamp of a continuation segment, to absorb lost
/// duration updates (200 ms at 8 kHz).
const CONTINUATION_SLACK: u32 = 1_600;
/// Packets whose timestamp lies up to this far (10 s at 8 kHz) before the current event
/// are late or reordered leftovers of earlier events and are ignored.
const STALE_WINDOW: u32 = 80_000;
/// Length of the RFC 4733 event payload.
const EVENT_PAYLOAD_LEN: usize = 4;

/// The digit for an RFC 4733 event code: 0-9, `*` (10), `#` (11), A-D (12-15).
fn event_digit(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + (event - 12))),
        _ => None,
    }
}

/// The event currently (or last) seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfEventState {
    /// RTP timestamp of the current segment.
    pub timestamp: u32,
    /// The key: `0`-`9`, `*`, `#` or `A`-`D`.
    pub digit: char,
    /// Whether an end packet has been seen.
    pub ended: bool,
    /// Largest duration seen in the current segment, in timestamp units.
    pub duration: u16,
    /// Packets received for this event, over all its segments and retransmissions.
    pub packets: u32,
}

/// Detector for one incoming stream.
#[derive(Debug, Clone, Default)]
pub struct DtmfDetector {
    /// The event being received or last received; `None` before the first packet.
    current: Option<DtmfEventState>,
    /// Digits reported so far.
    digits: u64,
    /// Packets ignored: too short, not a DTMF event, or stale.
    ignored_packets: u64,
}

impl DtmfDetector {
    /// A detector that has seen no packet yet.
    pub fn new() -> DtmfDetector {
        DtmfDetector::default()
    }

    /// Feeds one telephone-event packet; returns the digit if this packet is the first
    /// seen of a new event. Short payloads and non-DTMF event codes are ignored.
    pub fn handle_packet(
        &mut self,
        rtp_timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Option<char> {
        let Some(&[event, flags, duration_high, duration_low]) =
            payload.first_chunk::<EVENT_PAYLOAD_LEN>()
        else {
            self.ignored_packets += 1;
            return None;
        };
        let Some(digit) = event_digit(event) else {
            self.ignored_packets += 1;
            return None;
        };
        let end = flags & 0x80 != 0;
        let duration = u16::from_be_bytes([duration_high, duration_low]);

        if let Some(current) = &mut self.current {
            let ahead = rtp_timestamp.wrapping_sub(current.timestamp);
            let same_event = ahead == 0 && current.digit == digit;
            let continuation = !marker
                && !current.ended
                && current.digit == digit
                && ahead != 0
                && ahead <= u32::from(current.duration) + CONTINUATION_SLACK;
            if same_event || continuation {
                if continuation {
                    current.timestamp = rtp_timestamp;
                    current.duration = 0;
                }
                current.packets = current.packets.saturating_add(1);
                current.ended |= end;
                current.duration = current.duration.max(duration);
                return None;
            }
            let behind = current.timestamp.wrapping_sub(rtp_timestamp);
            if behind != 0 && behind <= STALE_WINDOW {
                self.ignored_packets += 1;
                return None;
            }
        }
        self.current = Some(DtmfEventState {
            timestamp: rtp_timestamp,
            digit,
            ended: end,
            duration,
            packets: 1,
        });
        self.digits += 1;
        Some(digit)
    }

    /// The event being received or last received.
    pub fn current_event(&self) -> Option<&DtmfEventState> {
        self.current.as_ref()
    }

    /// Digits reported so far.
    pub fn digits_detected(&self) -> u64 {
        self.digits
    }

    /// Packets ignored: too short, not a DTMF event, or stale.
    pub fn ignored_packets(&self) -> u64 {
        self.ignored_packets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One telephone-event packet as (timestamp, marker, payload).
    type Packet = (u32, bool, [u8; 4]);

    fn payload(event: u8, end: bool, duration: u16) -> [u8; 4] {
        let [high, low] = duration.to_be_bytes();
        [event, if end { 0x8A } else { 0x0A }, high, low]
    }

    /// A key press as a typical sender emits it: marker on the first packet, duration
    /// rising every 50 ms, then three end packets, all with the same timestamp.
    fn key_press(event: u8, timestamp: u32, total_duration: u16) -> Vec<Packet> {
        let mut packets = Vec::new();
        let mut duration = 0u16;
        while duration < total_duration {
            duration = duration.saturating_add(400).min(total_duration);
            packets.push((
                timestamp,
                packets.is_empty(),
                payload(event, false, duration),
            ));
        }
        for _ in 0..3 {
            packets.push((timestamp, false, payload(event, true, total_duration)));
        }
        packets
    }

    fn detect(detector: &mut DtmfDetector, packets: &[Packet]) -> String {
        packets
            .iter()
            .filter_map(|(ts, marker, p)| detector.handle_packet(*ts, *marker, p))
            .collect()
    }

    #[test]
    fn one_press_gives_one_digit() {
        let mut detector = DtmfDetector::new();
        let packets = key_press(5, 10_000, 1600);
        assert_eq!(detect(&mut detector, &packets), "5");
        let state = detector.current_event().unwrap();
        assert!(state.ended);
        assert_eq!(state.packets, packets.len() as u32);
        assert_eq!(state.duration, 1600);
    }

    #[test]
    fn missing_marker_neither_loses_nor_doubles() {
        let mut detector = DtmfDetector::new();
        let mut packets = key_press(1, 10_000, 1600);
        for packet in &mut packets {
            packet.1 = false;
        }
        assert_eq!(detect(&mut detector, &packets), "1");
        // Start packets lost entirely: the end packets alone still give the digit once.
        let ends: Vec<Packet> = key_press(2, 30_000, 800)
            .into_iter()
            .rev()
            .take(3)
            .collect();
        assert_eq!(detect(&mut detector, &ends), "2");
    }

    #[test]
    fn duplicated_end_packets_count_once() {
        let mut detector = DtmfDetector::new();
        let mut packets = key_press(9, 500, 800);
        let end = *packets.last().unwrap();
        packets.extend([end; 5]);
        assert_eq!(detect(&mut detector, &packets), "9");
    }

    #[test]
    fn same_digit_twice_counts_twice() {
        let mut detector = DtmfDetector::new();
        let mut packets = key_press(7, 8_000, 800);
        packets.extend(key_press(7, 8_000 + 1_600, 800));
        assert_eq!(detect(&mut detector, &packets), "77");
        assert_eq!(detector.digits_detected(), 2);
    }

    #[test]
    fn same_digit_twice_without_markers_counts_twice() {
        let mut detector = DtmfDetector::new();
        let mut packets = key_press(7, 8_000, 800);
        packets.extend(key_press(7, 8_000 + 1_600, 800));
        for packet in &mut packets {
            packet.1 = false;
        }
        assert_eq!(detect(&mut detector, &packets), "77");
    }

    #[test]
    fn long_event_with_continuation_segments_counts_once() {
        let mut detector = DtmfDetector::new();
        let start = 4_000_000_000u32; // the segments wrap the 32-bit timestamp
        let mut packets = Vec::new();
        let mut timestamp = start;
        for segment in 0..3 {
            let mut duration = 0u16;
            while duration < u16::MAX {
                duration = duration.saturating_add(400);
                let first = duration == 400;
                packets.push((
                    timestamp,
                    first && segment == 0,
                    payload(4, false, duration),
                ));
            }
            timestamp = timestamp.wrapping_add(u32::from(u16::MAX));
        }
        packets.extend(
            key_press(4, timestamp, 2_000)
                .into_iter()
                .map(|(ts, _, p)| (ts, false, p)),
        );
        assert_eq!(detect(&mut detector, &packets), "4");
        assert_eq!(
            detector.current_event().unwrap().packets,
            packets.len() as u32
        );
        // A fresh press after the long one ended counts again.
        assert_eq!(
            detect(
                &mut detector,
                &key_press(4, timestamp.wrapping_add(4_000), 800)
            ),
            "4"
        );
    }

    #[test]
    fn continuation_survives_lost_duration_updates() {
        let mut detector = DtmfDetector::new();
        // First segment: only an early packet arrives; the next segment starts at +0xFFFF.
        let mut packets = vec![(100, true, payload(3, false, 64_000))];
        packets.extend(
            key_press(3, 100 + u32::from(u16::MAX), 800)
                .into_iter()
                .skip(1),
        );
        assert_eq!(detect(&mut detector, &packets), "3");
    }

    #[test]
    fn different_digit_with_new_timestamp_is_a_new_event_even_without_end() {
        let mut detector = DtmfDetector::new();
        let mut packets = key_press(1, 0, 800);
        packets.truncate(2); // end packets lost
        packets.extend(
            key_press(2, 800, 800)
                .into_iter()
                .map(|(ts, _, p)| (ts, false, p)),
        );
        assert_eq!(detect(&mut detector, &packets), "12");
    }

    #[test]
    fn marker_on_new_timestamp_is_a_new_press_even_without_end() {
        let mut detector = DtmfDetector::new();
        let mut packets = key_press(6, 0, 800);
        packets.truncate(2); // end packets lost
        packets.extend(key_press(6, 900, 800));
        assert_eq!(detect(&mut detector, &packets), "66");
    }

    #[test]
    fn late_packets_of_an_earlier_event_are_ignored() {
        let mut detector = DtmfDetector::new();
        let first = key_press(1, 1_000, 800);
        let mut packets = first.clone();
        packets.extend(key_press(2, 3_000, 800));
        packets.push(*first.last().unwrap());
        assert_eq!(detect(&mut detector, &packets), "12");
        assert_eq!(detector.ignored_packets(), 1);
    }

    #[test]
    fn star_hash_and_letters_map() {
        let mut detector = DtmfDetector::new();
        let mut packets = Vec::new();
        for (i, event) in [10u8, 11, 12, 15, 0].into_iter().enumerate() {
            packets.extend(key_press(event, i as u32 * 2_000, 800));
        }
        assert_eq!(detect(&mut detector, &packets), "*#AD0");
    }

    #[test]
    fn short_and_non_dtmf_payloads_are_ignored() {
        let mut detector = DtmfDetector::new();
        assert_eq!(detector.handle_packet(0, true, &[1, 0x0A, 0]), None);
        assert_eq!(detector.handle_packet(0, true, &[]), None);
        assert_eq!(
            detector.handle_packet(0, true, &payload(16, false, 400)),
            None
        );
        assert_eq!(
            detector.handle_packet(0, true, &payload(255, true, 400)),
            None
        );
        assert_eq!(detector.ignored_packets(), 4);
        assert!(detector.current_event().is_none());
        // Trailing bytes (e.g. a second event block) do not hide the first event.
        assert_eq!(
            detector.handle_packet(0, true, &[8, 0x0A, 0, 160, 9, 0, 0, 0]),
            Some('8')
        );
    }

    #[test]
    fn event_codes_map_to_digits() {
        let digits: String = (0..=15).filter_map(event_digit).collect();
        assert_eq!(digits, "0123456789*#ABCD");
        assert_eq!(event_digit(16), None);
    }
}
