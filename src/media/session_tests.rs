//! Tests of `MediaSession` driven by a fake clock, as the IO shell would drive it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::media::rtp::{parse_rtp, RtpSender};

const START: Time = Time::from_millis(1_000);
const SSRC: u32 = 0x1234_5678;
const FIRST_SEQ: u16 = 65_530;
const FIRST_TS: u32 = u32::MAX - 500;
const DTMF_PT: u8 = 101;

fn remote() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 10], 40_000))
}

fn config(codec: Codec) -> MediaConfig {
    MediaConfig {
        codec,
        codec_pt: codec.payload_type(),
        dtmf_pt: Some(DTMF_PT),
        remote: remote(),
        ssrc: SSRC,
        initial_seq: FIRST_SEQ,
        initial_timestamp: FIRST_TS,
    }
}

fn session(codec: Codec) -> MediaSession {
    MediaSession::new(config(codec), START)
}

fn prompt(id: &str, samples: usize) -> Arc<Prompt> {
    let pcm = (0..samples)
        .map(|i| ((i * 97) % 4000) as i16 - 2000)
        .collect();
    Arc::new(Prompt::from_samples(id, None, pcm))
}

/// A sent packet, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sent {
    marker: bool,
    payload_type: u8,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    payload: Vec<u8>,
}

/// Wakes the session at `now` as the shell does and returns what it sends.
fn wake(session: &mut MediaSession, now: Time) -> Vec<Sent> {
    session.handle_timeout(now);
    let mut sent = Vec::new();
    let mut buf = [0u8; 1500];
    while let Some(len) = session.poll_transmit(now, &mut buf) {
        assert_eq!(len, PACKET_LEN);
        let packet = parse_rtp(&buf[..len]).unwrap();
        sent.push(Sent {
            marker: packet.marker,
            payload_type: packet.payload_type,
            sequence: packet.sequence,
            timestamp: packet.timestamp,
            ssrc: packet.ssrc,
            payload: packet.payload.to_vec(),
        });
    }
    sent
}

/// Runs the session on time for `slots` slots, waking exactly at each `poll_timeout`.
fn run_slots(session: &mut MediaSession, slots: usize) -> Vec<Sent> {
    let mut sent = Vec::new();
    for _ in 0..slots {
        let now = session.poll_timeout().unwrap();
        let batch = wake(session, now);
        assert_eq!(batch.len(), 1, "one packet per on-time wake");
        sent.extend(batch);
    }
    sent
}

fn events(session: &mut MediaSession) -> Vec<MediaEvent> {
    std::iter::from_fn(|| session.poll_event()).collect()
}

fn assert_contiguous(sent: &[Sent], first_seq: u16, first_ts: u32) {
    for (i, packet) in sent.iter().enumerate() {
        assert_eq!(
            packet.sequence,
            first_seq.wrapping_add(i as u16),
            "seq of #{i}"
        );
        assert_eq!(
            packet.timestamp,
            first_ts.wrapping_add(i as u32 * 160),
            "timestamp of #{i}"
        );
        assert_eq!(packet.ssrc, SSRC);
        assert_eq!(packet.payload.len(), 160);
    }
}

#[test]
fn one_second_prompt_is_fifty_frames_then_silence() {
    for codec in Codec::ALL {
        let mut session = session(codec);
        let silence = vec![codec.silence_byte(); 160];
        let mut sent = run_slots(&mut session, 3);
        let welcome = prompt("welcome", 8000);
        session.play(Arc::clone(&welcome));
        assert!(session.is_playing());
        sent.extend(run_slots(&mut session, 55));

        assert_contiguous(&sent, FIRST_SEQ, FIRST_TS);
        assert!(sent.iter().all(|p| p.payload_type == codec.payload_type()));
        let markers: Vec<usize> = (0..sent.len()).filter(|&i| sent[i].marker).collect();
        assert_eq!(markers, vec![0, 3], "stream start and prompt after silence");

        assert!(sent[..3].iter().all(|p| p.payload == silence));
        let audio: Vec<u8> = sent[3..53].iter().flat_map(|p| p.payload.clone()).collect();
        assert_eq!(&audio[..], welcome.encoded(codec));
        assert!(sent[53..].iter().all(|p| p.payload == silence));
        assert!(!session.is_playing());

        assert_eq!(
            events(&mut session),
            vec![
                MediaEvent::PromptStarted {
                    id: "welcome".into()
                },
                MediaEvent::PromptFinished {
                    id: "welcome".into()
                },
                MediaEvent::PlaybackIdle,
            ]
        );
        assert_eq!(session.stats().packets_sent, 58);
        assert_eq!(session.stats().prompt_frames_sent, 50);
    }
}

#[test]
fn events_are_emitted_when_the_frames_are_sent() {
    let mut session = session(Codec::Pcmu);
    session.play(prompt("short", 320));
    assert!(
        events(&mut session).is_empty(),
        "nothing before the first packet"
    );
    run_slots(&mut session, 1);
    assert_eq!(
        events(&mut session),
        vec![MediaEvent::PromptStarted { id: "short".into() }]
    );
    run_slots(&mut session, 1);
    assert_eq!(
        events(&mut session),
        vec![
            MediaEvent::PromptFinished { id: "short".into() },
            MediaEvent::PlaybackIdle
        ]
    );
}

#[test]
fn prompt_at_stream_start_and_back_to_back_prompts_are_marked_once() {
    let mut session = session(Codec::Pcma);
    session.play(prompt("a", 200));
    session.play(prompt("b", 160));
    let sent = run_slots(&mut session, 5);
    let markers: Vec<bool> = sent.iter().map(|p| p.marker).collect();
    assert_eq!(markers, vec![true, false, false, false, false]);
    assert_eq!(
        events(&mut session),
        vec![
            MediaEvent::PromptStarted { id: "a".into() },
            MediaEvent::PromptFinished { id: "a".into() },
            MediaEvent::PromptStarted { id: "b".into() },
            MediaEvent::PromptFinished { id: "b".into() },
            MediaEvent::PlaybackIdle,
        ]
    );
}

#[test]
fn poll_timeout_moves_by_twenty_ms_on_a_fixed_grid() {
    let mut session = session(Codec::Pcmu);
    assert_eq!(session.poll_timeout(), Some(START));
    // Nothing is due before the first slot.
    assert!(wake(&mut session, Time::from_millis(999)).is_empty());
    assert_eq!(wake(&mut session, START).len(), 1);
    assert_eq!(
        session.poll_timeout(),
        Some(START + Duration::from_millis(20))
    );
    // Waking 7 ms late sends the slot but does not shift the grid.
    assert_eq!(wake(&mut session, Time::from_millis(1_027)).len(), 1);
    assert_eq!(session.poll_timeout(), Some(Time::from_millis(1_040)));
    // Waking early sends nothing.
    assert!(wake(&mut session, Time::from_millis(1_039)).is_empty());
    assert_eq!(session.poll_timeout(), Some(Time::from_millis(1_040)));
}

#[test]
fn late_wake_sends_every_due_packet() {
    let mut session = session(Codec::Pcmu);
    session.play(prompt("p", 8000));
    let sent = wake(&mut session, START + Duration::from_millis(110));
    assert_eq!(sent.len(), 6, "slots at 0, 20, ..., 100 ms");
    assert_contiguous(&sent, FIRST_SEQ, FIRST_TS);
    assert_eq!(
        session.poll_timeout(),
        Some(START + Duration::from_millis(120))
    );
    // Exactly 200 ms late is still within the limit: a burst of 11.
    let sent = wake(&mut session, START + Duration::from_millis(320));
    assert_eq!(sent.len(), 11);
    assert_eq!(session.stats().packets_skipped, 0);
}

#[test]
fn very_late_wake_skips_ahead_instead_of_bursting() {
    let mut session = session(Codec::Pcmu);
    let long = prompt("long", 16_000);
    session.play(Arc::clone(&long));
    let first = wake(&mut session, START);
    assert_eq!(first.len(), 1);

    // Next slot was due at +20 ms; waking at +1010 ms is 990 ms late.
    let sent = wake(&mut session, START + Duration::from_millis(1_010));
    assert_eq!(sent.len(), 1, "only the current slot is sent");
    assert_eq!(session.stats().packets_skipped, 49);
    let packet = &sent[0];
    assert_eq!(
        packet.sequence,
        FIRST_SEQ.wrapping_add(1),
        "no sequence gap"
    );
    assert_eq!(
        packet.timestamp,
        FIRST_TS.wrapping_add(50 * 160),
        "timestamp reflects the skipped time"
    );
    assert!(packet.marker, "marker after the gap");
    // Prompt audio resumes where it was.
    assert_eq!(&packet.payload[..], &long.encoded(Codec::Pcmu)[160..320]);
    assert_eq!(
        session.poll_timeout(),
        Some(START + Duration::from_millis(1_020))
    );
    // And on-time operation continues without markers.
    let next = run_slots(&mut session, 2);
    assert!(next.iter().all(|p| !p.marker));
    assert_eq!(next[0].timestamp, FIRST_TS.wrapping_add(51 * 160));
}

#[test]
fn skipping_without_transmit_also_happens_in_handle_timeout() {
    let mut session = session(Codec::Pcmu);
    session.handle_timeout(START + Duration::from_millis(5_000));
    assert_eq!(session.stats().packets_skipped, 250);
    assert_eq!(
        session.poll_timeout(),
        Some(START + Duration::from_millis(5_000))
    );
}

#[test]
fn barge_in_switches_to_silence_at_once() {
    let mut session = session(Codec::Pcmu);
    session.play(prompt("menu", 8000));
    session.play(prompt("more", 8000));
    run_slots(&mut session, 5);
    events(&mut session);
    session.stop_playback();
    assert!(!session.is_playing());
    let sent = run_slots(&mut session, 2);
    assert!(sent
        .iter()
        .all(|p| p.payload == vec![0xFF; 160] && !p.marker));
    assert!(events(&mut session).is_empty());
    // The next prompt starts after silence, so it is marked.
    session.play(prompt("next", 160));
    let sent = run_slots(&mut session, 1);
    assert!(sent[0].marker);
}

#[test]
fn too_small_buffer_drops_the_slot() {
    let mut session = session(Codec::Pcmu);
    let mut small = [0u8; PACKET_LEN - 1];
    assert_eq!(session.poll_transmit(START, &mut small), None);
    assert_eq!(session.stats().send_buffer_too_small, 1);
    assert_eq!(
        session.poll_timeout(),
        Some(START + Duration::from_millis(20))
    );
    let sent = run_slots(&mut session, 1);
    assert_eq!(sent[0].sequence, FIRST_SEQ);
    assert_eq!(sent[0].timestamp, FIRST_TS.wrapping_add(160));
    assert!(sent[0].marker);
}

/// Builds incoming RTP as a remote party would.
struct RemoteParty {
    sender: RtpSender,
}

impl RemoteParty {
    fn new() -> RemoteParty {
        RemoteParty {
            sender: RtpSender::new(0xABCD, 100, 50_000),
        }
    }

    fn packet(&mut self, payload_type: u8, marker: bool, payload: &[u8], advance: u32) -> Vec<u8> {
        let mut buf = vec![0u8; 12 + payload.len()];
        let len = self
            .sender
            .write_packet(&mut buf, payload_type, marker, payload, advance)
            .unwrap();
        buf.truncate(len);
        buf
    }

    /// A key press: start packet with marker, two updates, three end packets, all on
    /// one timestamp; afterwards the timestamp moves on by 2000.
    fn key_press(&mut self, event: u8) -> Vec<Vec<u8>> {
        let mut packets = Vec::new();
        for (i, duration) in [160u16, 400, 800, 960, 960, 960].into_iter().enumerate() {
            let end = i >= 3;
            let [high, low] = duration.to_be_bytes();
            let payload = [event, if end { 0x8A } else { 0x0A }, high, low];
            packets.push(self.packet(DTMF_PT, i == 0, &payload, 0));
        }
        self.sender.skip_samples(2_000);
        packets
    }
}

#[test]
fn dtmf_packets_become_one_digit_event_each() {
    let mut session = session(Codec::Pcmu);
    let mut remote_party = RemoteParty::new();
    let now = START;
    for event in [1u8, 1, 10, 11] {
        for packet in remote_party.key_press(event) {
            session.handle_rtp(now, remote(), &packet);
        }
    }
    let digits: Vec<MediaEvent> = events(&mut session);
    assert_eq!(
        digits,
        ['1', '1', '*', '#']
            .into_iter()
            .map(|digit| MediaEvent::Dtmf { digit })
            .collect::<Vec<_>>()
    );
    let stats = session.stats();
    assert_eq!(stats.dtmf_packets, 24);
    assert_eq!(stats.dtmf_digits, 4);
    assert_eq!(stats.packets_received, 24);
    assert_eq!(
        session.dtmf_detector().current_event().map(|e| e.packets),
        Some(6)
    );
}

#[test]
fn received_packets_are_classified_and_counted() {
    let mut session = session(Codec::Pcmu);
    let mut remote_party = RemoteParty::new();
    let audio = remote_party.packet(0, true, &[0xFF; 160], 160);
    session.handle_rtp(START, remote(), &audio);
    let elsewhere = SocketAddr::from(([198, 51, 100, 7], 5_000));
    session.handle_rtp(START, elsewhere, &audio);
    let comfort_noise = remote_party.packet(13, false, &[40], 160);
    session.handle_rtp(START, remote(), &comfort_noise);
    session.handle_rtp(START, remote(), &[0x80, 0, 1]);
    session.handle_rtp(START, remote(), &[0x40; 20]);
    session.handle_rtp(START, remote(), &[]);
    let short_dtmf = remote_party.packet(DTMF_PT, true, &[5, 0], 0);
    session.handle_rtp(START, remote(), &short_dtmf);

    let stats = session.stats();
    assert_eq!(stats.packets_received, 7);
    assert_eq!(stats.audio_packets_received, 2);
    assert_eq!(stats.from_unexpected_source, 1);
    assert_eq!(stats.unknown_payload_type, 1);
    assert_eq!(stats.malformed, 3);
    assert_eq!(stats.dtmf_packets, 1);
    assert_eq!(stats.dtmf_digits, 0);
    assert!(events(&mut session).is_empty());
    assert_eq!(session.remote(), remote());
}

#[test]
fn dtmf_from_another_source_is_still_detected() {
    let mut session = session(Codec::Pcmu);
    let mut remote_party = RemoteParty::new();
    let elsewhere = SocketAddr::from(([198, 51, 100, 7], 5_000));
    for packet in remote_party.key_press(3) {
        session.handle_rtp(START, elsewhere, &packet);
    }
    assert_eq!(events(&mut session), vec![MediaEvent::Dtmf { digit: '3' }]);
    assert_eq!(session.stats().from_unexpected_source, 6);
}

#[test]
fn session_without_telephone_event_ignores_dtmf_payload_type() {
    let mut session = MediaSession::new(
        MediaConfig {
            dtmf_pt: None,
            ..config(Codec::Pcmu)
        },
        START,
    );
    for packet in RemoteParty::new().key_press(3) {
        session.handle_rtp(START, remote(), &packet);
    }
    assert!(events(&mut session).is_empty());
    assert_eq!(session.stats().unknown_payload_type, 6);
}

#[test]
fn unpolled_events_are_bounded() {
    let mut session = session(Codec::Pcmu);
    let mut remote_party = RemoteParty::new();
    for _ in 0..300 {
        let first = remote_party.key_press(5).swap_remove(0);
        session.handle_rtp(START, remote(), &first);
    }
    assert_eq!(session.stats().dtmf_digits, 300);
    assert_eq!(session.stats().events_dropped, 300 - 256);
    assert_eq!(events(&mut session).len(), 256);
}

#[test]
fn garbage_input_never_panics() {
    let mut session = session(Codec::Pcma);
    let mut state = 0x9E37_79B9u32;
    let mut buf = [0u8; 64];
    for _ in 0..5_000 {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let len = (state % 64) as usize;
        for (i, byte) in buf.iter_mut().enumerate().take(len) {
            *byte = (state >> (i % 4 * 8)) as u8 ^ i as u8;
        }
        buf[0] = 0x80;
        buf[1] = if state & 1 == 0 { DTMF_PT } else { state as u8 };
        session.handle_rtp(START, remote(), &buf[..len]);
    }
    assert_eq!(session.stats().packets_received, 5_000);
}
