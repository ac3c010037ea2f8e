//! Two scripted legs on a fake clock: leg A's packets (PCMU 0, telephone-event
//! 101) relayed to leg B (PCMU 0, telephone-event 96) whose own stream numbering
//! runs from its own random start.

use super::*;
use crate::media::rtp::parse_rtp;

const A: BridgeSide = BridgeSide {
    codec: Codec::Pcmu,
    codec_pt: 0,
    dtmf_pt: Some(101),
};
const B: BridgeSide = BridgeSide {
    codec: Codec::Pcmu,
    codec_pt: 0,
    dtmf_pt: Some(96),
};

/// The scripted sender of leg A.
struct Leg {
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    buf: [u8; 200],
}

impl Leg {
    fn new(ssrc: u32, sequence: u16, timestamp: u32) -> Leg {
        Leg {
            ssrc,
            sequence,
            timestamp,
            buf: [0; 200],
        }
    }

    /// The next packet: payload type `pt`, payload `payload`; numbering advanced.
    fn packet(&mut self, pt: u8, marker: bool, payload: &[u8]) -> Vec<u8> {
        let mut header = [0u8; 12];
        header[0] = 0x80;
        header[1] = (u8::from(marker) << 7) | pt;
        header[2..4].copy_from_slice(&self.sequence.to_be_bytes());
        header[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        header[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        self.buf[..12].copy_from_slice(&header);
        self.buf[12..12 + payload.len()].copy_from_slice(payload);
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(160);
        self.buf[..12 + payload.len()].to_vec()
    }
}

/// Leg B's outgoing numbering as its session keeps it: a relayed packet moves
/// its sequence on, its media clock runs with time.
struct Sink {
    relay: Relay,
    stream: OutStream,
    started: Time,
    clock_at_start: u32,
    out: [u8; 200],
}

impl Sink {
    fn new() -> Sink {
        Sink {
            relay: Relay::new(),
            stream: OutStream {
                ssrc: 0xB0B0_B0B0,
                next_sequence: 40_000,
                timestamp: 7_000_000,
            },
            started: Time::ZERO,
            clock_at_start: 7_000_000,
            out: [0; 200],
        }
    }

    fn relay(&mut self, now: Time, datagram: &[u8]) -> Result<(Relayed, Vec<u8>), RelayError> {
        let elapsed = now.saturating_since(self.started).as_micros() * 8 / 1000;
        self.stream.timestamp = self.clock_at_start.wrapping_add(elapsed as u32);
        let packet = parse_rtp(datagram).expect("scripted packets parse");
        let relayed = self
            .relay
            .rewrite(now, &packet, &A, &B, self.stream, &mut self.out)?;
        if is_ahead(relayed.sequence.wrapping_add(1), self.stream.next_sequence) {
            self.stream.next_sequence = relayed.sequence.wrapping_add(1);
        }
        Ok((relayed, self.out[..relayed.len].to_vec()))
    }
}

fn ms(millis: u64) -> Time {
    Time::from_millis(millis)
}

#[test]
fn a_continuous_stream_keeps_one_offset_and_takes_the_other_sides_ssrc() {
    let mut leg = Leg::new(0xAAAA, 100, 5_000);
    let mut sink = Sink::new();
    let mut outs = Vec::new();
    for n in 0..50u64 {
        let datagram = leg.packet(0, n == 0, &[n as u8; 160]);
        let (relayed, bytes) = sink.relay(ms(n * 20), &datagram).unwrap();
        let parsed = parse_rtp(&bytes).unwrap();
        assert_eq!(parsed.ssrc, 0xB0B0_B0B0);
        assert_eq!(parsed.payload_type, 0);
        assert_eq!(parsed.payload, &[n as u8; 160][..]);
        assert_eq!(
            (parsed.sequence, parsed.timestamp),
            (relayed.sequence, relayed.timestamp)
        );
        outs.push(relayed);
    }
    assert_eq!(
        outs[0].sequence, 40_000,
        "anchored on the stream's next sequence"
    );
    assert_eq!(
        outs[0].timestamp, 7_000_000,
        "anchored on the stream's clock"
    );
    assert!(outs[0].marker);
    for pair in outs.windows(2) {
        assert_eq!(pair[1].sequence, pair[0].sequence.wrapping_add(1));
        assert_eq!(pair[1].timestamp, pair[0].timestamp.wrapping_add(160));
        assert!(!pair[1].marker);
    }
    assert_eq!(sink.relay.stats().relayed, 50);
    assert_eq!(sink.relay.stats().reanchors, 0);
}

#[test]
fn sequence_and_timestamp_wraps_are_no_jump() {
    let mut leg = Leg::new(1, u16::MAX - 2, u32::MAX - 320);
    let mut sink = Sink::new();
    let mut last = None::<Relayed>;
    for n in 0..6u64 {
        let datagram = leg.packet(0, false, &[0; 160]);
        let (relayed, _) = sink.relay(ms(n * 20), &datagram).unwrap();
        if let Some(last) = last {
            assert_eq!(relayed.sequence, last.sequence.wrapping_add(1));
            assert_eq!(relayed.timestamp, last.timestamp.wrapping_add(160));
        }
        last = Some(relayed);
    }
    assert_eq!(sink.relay.stats().reanchors, 0);
}

#[test]
fn a_new_talkspurt_passes_its_marker_and_its_silence_unchanged() {
    let mut leg = Leg::new(1, 10, 0);
    let mut sink = Sink::new();
    let (first, _) = sink.relay(ms(0), &leg.packet(0, true, &[1; 160])).unwrap();
    // 2 s of silence suppressed: timestamp jumps 16 000, sequence does not.
    leg.timestamp = leg.timestamp.wrapping_add(16_000);
    let datagram = leg.packet(0, true, &[2; 160]);
    let (spurt, _) = sink.relay(ms(2_020), &datagram).unwrap();
    assert!(spurt.marker);
    assert_eq!(spurt.sequence, first.sequence.wrapping_add(1));
    assert_eq!(spurt.timestamp, first.timestamp.wrapping_add(16_160));
    assert_eq!(sink.relay.stats().reanchors, 0);
}

#[test]
fn loss_and_reordering_keep_their_gaps() {
    let mut leg = Leg::new(1, 500, 0);
    let mut sink = Sink::new();
    let p0 = leg.packet(0, false, &[0; 160]);
    let p1 = leg.packet(0, false, &[0; 160]);
    let p2 = leg.packet(0, false, &[0; 160]);
    let _lost = leg.packet(0, false, &[0; 160]);
    let p4 = leg.packet(0, false, &[0; 160]);
    let (r0, _) = sink.relay(ms(0), &p0).unwrap();
    let (r2, _) = sink.relay(ms(40), &p2).unwrap();
    let (r1, _) = sink.relay(ms(45), &p1).unwrap();
    let (r4, _) = sink.relay(ms(80), &p4).unwrap();
    assert_eq!(r2.sequence, r0.sequence.wrapping_add(2));
    assert_eq!(
        r1.sequence,
        r0.sequence.wrapping_add(1),
        "late packet keeps its place"
    );
    assert_eq!(
        r4.sequence,
        r0.sequence.wrapping_add(4),
        "the loss stays visible"
    );
    assert_eq!(r4.timestamp, r0.timestamp.wrapping_add(640));
    assert_eq!(sink.relay.stats().reanchors, 0);
}

#[test]
fn a_new_ssrc_after_a_reinvite_continues_the_outgoing_stream() {
    let mut leg = Leg::new(1, 1_000, 90_000);
    let mut sink = Sink::new();
    let mut last = None;
    for n in 0..10u64 {
        last = Some(
            sink.relay(ms(n * 20), &leg.packet(0, false, &[0; 160]))
                .unwrap()
                .0,
        );
    }
    let last = last.unwrap();
    // The far end restarts: another SSRC, sequence and timestamp from elsewhere.
    let mut restarted = Leg::new(2, 60_000, 3);
    let (first, _) = sink
        .relay(ms(220), &restarted.packet(0, false, &[0; 160]))
        .unwrap();
    assert_eq!(first.sequence, last.sequence.wrapping_add(1));
    assert!(first.marker, "the outgoing stream marks the discontinuity");
    assert_eq!(
        first.timestamp,
        7_000_000 + 220 * 8,
        "the outgoing clock now"
    );
    let (second, _) = sink
        .relay(ms(240), &restarted.packet(0, false, &[0; 160]))
        .unwrap();
    assert_eq!(second.sequence, first.sequence.wrapping_add(1));
    assert_eq!(second.timestamp, first.timestamp.wrapping_add(160));
    assert!(!second.marker);
    assert_eq!(sink.relay.stats().reanchors, 1);
}

#[test]
fn a_sequence_jump_in_one_ssrc_reanchors() {
    let mut leg = Leg::new(1, 10, 0);
    let mut sink = Sink::new();
    let (a, _) = sink.relay(ms(0), &leg.packet(0, false, &[0; 160])).unwrap();
    leg.sequence = leg.sequence.wrapping_add(20_000);
    let (b, _) = sink
        .relay(ms(20), &leg.packet(0, false, &[0; 160]))
        .unwrap();
    assert_eq!(b.sequence, a.sequence.wrapping_add(1));
    assert_eq!(b.timestamp, a.timestamp.wrapping_add(160));
    assert!(b.marker);
    assert_eq!(sink.relay.stats().reanchors, 1);
}

#[test]
fn a_timestamp_jump_without_a_sequence_jump_reanchors_the_timestamp_only() {
    let mut leg = Leg::new(1, 10, 0);
    let mut sink = Sink::new();
    let (a, _) = sink.relay(ms(0), &leg.packet(0, false, &[0; 160])).unwrap();
    leg.timestamp = leg.timestamp.wrapping_add(0x4000_0000);
    let (b, _) = sink
        .relay(ms(20), &leg.packet(0, false, &[0; 160]))
        .unwrap();
    assert_eq!(b.sequence, a.sequence.wrapping_add(1));
    assert_eq!(b.timestamp, a.timestamp.wrapping_add(160));
    assert!(b.marker);
    let (c, _) = sink
        .relay(ms(40), &leg.packet(0, false, &[0; 160]))
        .unwrap();
    assert_eq!(c.timestamp, b.timestamp.wrapping_add(160));
    assert_eq!(sink.relay.stats().reanchors, 1);
}

#[test]
fn telephone_events_pass_through_retimestamped_under_the_other_payload_type() {
    let mut leg = Leg::new(1, 10, 8_000);
    let mut sink = Sink::new();
    let (audio, _) = sink.relay(ms(0), &leg.packet(0, false, &[0; 160])).unwrap();
    // Key 5 pressed for 300 ms: every packet carries the event's start time.
    let start = leg.timestamp;
    let mut event_outs = Vec::new();
    for n in 0..18u64 {
        let duration = ((n + 1) * 160) as u16;
        let end = n >= 15;
        let mut payload = [5u8, 10, 0, 0];
        if end {
            payload[1] |= 0x80;
        }
        payload[2..4].copy_from_slice(&duration.min(2400).to_be_bytes());
        leg.timestamp = start;
        let datagram = leg.packet(101, n == 0, &payload);
        let (relayed, bytes) = sink.relay(ms(20 + n * 20), &datagram).unwrap();
        let parsed = parse_rtp(&bytes).unwrap();
        assert_eq!(
            parsed.payload_type, 96,
            "mapped to the other side's telephone-event"
        );
        assert_eq!(
            parsed.payload,
            &payload[..],
            "duration and end bit unchanged"
        );
        assert_eq!(parsed.marker, n == 0);
        event_outs.push(relayed);
    }
    for relayed in &event_outs {
        assert_eq!(relayed.timestamp, audio.timestamp.wrapping_add(160));
    }
    // Audio goes on after the event without re-anchoring.
    leg.timestamp = start.wrapping_add(18 * 160);
    let (after, _) = sink
        .relay(ms(380), &leg.packet(0, false, &[0; 160]))
        .unwrap();
    assert_eq!(
        after.timestamp,
        audio.timestamp.wrapping_add(160 + 18 * 160)
    );
    assert_eq!(after.sequence, audio.sequence.wrapping_add(19));
    assert_eq!(sink.relay.stats().events, 18);
    assert_eq!(sink.relay.stats().reanchors, 0);
}

#[test]
fn unmapped_payload_types_and_small_buffers_are_dropped_and_counted() {
    let mut leg = Leg::new(1, 10, 0);
    let mut relay = Relay::new();
    let stream = OutStream {
        ssrc: 9,
        next_sequence: 1,
        timestamp: 1,
    };
    let datagram = leg.packet(18, false, &[0; 20]);
    let packet = parse_rtp(&datagram).unwrap();
    let mut out = [0u8; 200];
    assert_eq!(
        relay.rewrite(ms(0), &packet, &A, &B, stream, &mut out),
        Err(RelayError::UnmappedPayloadType(18))
    );
    let datagram = leg.packet(0, false, &[0; 160]);
    let packet = parse_rtp(&datagram).unwrap();
    assert_eq!(
        relay.rewrite(ms(20), &packet, &A, &B, stream, &mut out[..100]),
        Err(RelayError::BufferTooSmall {
            needed: 172,
            available: 100
        })
    );
    let no_events = BridgeSide { dtmf_pt: None, ..B };
    let datagram = leg.packet(101, true, &[1, 0, 0, 160]);
    let packet = parse_rtp(&datagram).unwrap();
    assert_eq!(
        relay.rewrite(ms(40), &packet, &A, &no_events, stream, &mut out),
        Err(RelayError::UnmappedPayloadType(101))
    );
    assert_eq!(relay.stats().dropped, 3);
    assert_eq!(relay.stats().relayed, 0);
}

#[test]
fn reset_after_transcoding_anchors_on_the_stream_again() {
    let mut leg = Leg::new(1, 10, 0);
    let mut sink = Sink::new();
    sink.relay(ms(0), &leg.packet(0, false, &[0; 160])).unwrap();
    // Transcoded packets moved the outgoing stream on meanwhile.
    sink.stream.next_sequence = sink.stream.next_sequence.wrapping_add(50);
    sink.relay.reset();
    let (relayed, _) = sink
        .relay(ms(1_020), &leg.packet(0, false, &[0; 160]))
        .unwrap();
    assert_eq!(relayed.sequence, sink.stream.next_sequence.wrapping_sub(1));
    assert_eq!(relayed.timestamp, 7_000_000 + 1_020 * 8);
    assert!(relayed.marker);
}

#[test]
fn relay_needs_one_codec_and_telephone_event_on_both_sides() {
    assert_eq!(bridge_mode(&A, &B), BridgeMode::Relay);
    let pcma = BridgeSide {
        codec: Codec::Pcma,
        codec_pt: 8,
        ..B
    };
    assert_eq!(bridge_mode(&A, &pcma), BridgeMode::Transcode);
    let inband = BridgeSide { dtmf_pt: None, ..A };
    assert_eq!(bridge_mode(&inband, &B), BridgeMode::Transcode);
    assert_eq!(bridge_mode(&B, &inband), BridgeMode::Transcode);
}
