//! Tests of `MediaSession` driven by a fake clock, as the call layer drives it: every
//! input is followed by draining `poll_output` until it returns `Timeout`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::media::rtp::{parse_rtp, RtpSender};
use crate::media::{InbandDtmfConfig, InbandDtmfDetector, PACKET_LEN};

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
        initial_sequence: FIRST_SEQ,
        initial_timestamp: FIRST_TS,
        jitter_min: MediaConfig::JITTER_MIN,
        jitter_max: MediaConfig::JITTER_MAX,
        rtcp_mux: false,
        ntp_at_zero: 0,
        rtcp_seed: 1,
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

/// One output of `poll_output`, with sent packets decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Output {
    Packet(Sent),
    Event(MediaEvent),
    Rtcp(Vec<u8>),
    /// A frame of received audio, for a subscribed consumer.
    Audio(Vec<i16>),
    Timeout(Time),
}

/// Drains `poll_output` until `Timeout`, which is the last element returned.
fn drain_outputs(session: &mut MediaSession) -> Vec<Output> {
    let mut outputs = Vec::new();
    let mut buf = [0u8; 1500];
    loop {
        let output = match session.poll_output(&mut buf) {
            MediaOutput::Transmit(len) => {
                let packet = parse_rtp(&buf[..len]).unwrap();
                if packet.payload_type != crate::media::OPUS_PAYLOAD_TYPE {
                    assert_eq!(len, PACKET_LEN);
                }
                Output::Packet(Sent {
                    marker: packet.marker,
                    payload_type: packet.payload_type,
                    sequence: packet.sequence,
                    timestamp: packet.timestamp,
                    ssrc: packet.ssrc,
                    payload: packet.payload.to_vec(),
                })
            }
            MediaOutput::Event(event) => Output::Event(event),
            MediaOutput::Rtcp { len, .. } => Output::Rtcp(buf[..len].to_vec()),
            MediaOutput::Audio(_) => Output::Audio(session.received_audio().to_vec()),
            MediaOutput::Timeout(at) => Output::Timeout(at),
        };
        let done = matches!(output, Output::Timeout(_));
        outputs.push(output);
        if done {
            return outputs;
        }
        assert!(outputs.len() < 10_000, "poll_output never returned Timeout");
    }
}

/// A session and what its drains produced, as the call layer sees it.
struct Leg {
    session: MediaSession,
    /// Events drained so far and not yet taken by `events()`.
    events: Vec<MediaEvent>,
    /// The last `Timeout` drained; a new session's first packet is due at `START`.
    timeout: Time,
    /// RTCP compounds sent.
    rtcp: Vec<Vec<u8>>,
    /// Frames of received audio handed out (while subscribed).
    audio: Vec<Vec<i16>>,
}

impl Leg {
    fn new(session: MediaSession) -> Leg {
        Leg {
            session,
            events: Vec::new(),
            timeout: START,
            rtcp: Vec::new(),
            audio: Vec::new(),
        }
    }

    /// Drains the session after an input; returns the packets, keeps the events.
    fn drain(&mut self) -> Vec<Sent> {
        let mut sent = Vec::new();
        for output in drain_outputs(&mut self.session) {
            match output {
                Output::Packet(packet) => sent.push(packet),
                Output::Event(event) => self.events.push(event),
                Output::Rtcp(packet) => self.rtcp.push(packet),
                Output::Audio(frame) => self.audio.push(frame),
                Output::Timeout(at) => self.timeout = at,
            }
        }
        sent
    }

    /// Wakes the session at `now` and returns what it sends.
    fn wake(&mut self, now: Time) -> Vec<Sent> {
        self.session.handle_timeout(now);
        self.drain()
    }

    /// Hands the session one received datagram and drains it.
    fn receive(&mut self, now: Time, from: SocketAddr, packet: &[u8]) {
        self.session.handle_rtp(now, from, packet);
        self.drain();
    }

    /// Runs the session on time for `slots` slots, waking exactly at each `Timeout`.
    fn run_slots(&mut self, slots: usize) -> Vec<Sent> {
        let mut sent = Vec::new();
        for _ in 0..slots {
            let batch = self.wake(self.timeout);
            assert_eq!(batch.len(), 1, "one packet per on-time wake");
            sent.extend(batch);
        }
        sent
    }

    /// The events drained since the last call.
    fn events(&mut self) -> Vec<MediaEvent> {
        std::mem::take(&mut self.events)
    }
}

fn leg(codec: Codec) -> Leg {
    Leg::new(session(codec))
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
    for codec in Codec::G711 {
        let mut leg = leg(codec);
        let silence = vec![codec.silence_byte(); 160];
        let mut sent = leg.run_slots(3);
        let welcome = prompt("welcome", 8000);
        leg.session.play(Arc::clone(&welcome));
        assert!(leg.session.is_playing());
        sent.extend(leg.run_slots(55));

        assert_contiguous(&sent, FIRST_SEQ, FIRST_TS);
        assert!(sent.iter().all(|p| p.payload_type == codec.payload_type()));
        let markers: Vec<usize> = (0..sent.len()).filter(|&i| sent[i].marker).collect();
        assert_eq!(markers, vec![0, 3], "stream start and prompt after silence");

        assert!(sent[..3].iter().all(|p| p.payload == silence));
        let audio: Vec<u8> = sent[3..53].iter().flat_map(|p| p.payload.clone()).collect();
        assert_eq!(&audio[..], welcome.encoded(codec));
        assert!(sent[53..].iter().all(|p| p.payload == silence));
        assert!(!leg.session.is_playing());

        assert_eq!(
            leg.events(),
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
        assert_eq!(leg.session.stats().packets_sent, 58);
        assert_eq!(leg.session.stats().prompt_packets_sent, 50);
    }
}

#[test]
fn events_are_emitted_when_the_frames_are_sent() {
    let mut leg = leg(Codec::Pcmu);
    leg.session.play(prompt("short", 320));
    leg.session.handle_timeout(Time::from_millis(999));
    assert!(
        leg.drain().is_empty() && leg.events().is_empty(),
        "nothing before the first packet"
    );
    leg.run_slots(1);
    assert_eq!(
        leg.events(),
        vec![MediaEvent::PromptStarted { id: "short".into() }]
    );
    leg.run_slots(1);
    assert_eq!(
        leg.events(),
        vec![
            MediaEvent::PromptFinished { id: "short".into() },
            MediaEvent::PlaybackIdle
        ]
    );
}

#[test]
fn prompt_at_stream_start_and_back_to_back_prompts_are_marked_once() {
    let mut leg = leg(Codec::Pcma);
    leg.session.play(prompt("a", 200));
    leg.session.play(prompt("b", 160));
    let sent = leg.run_slots(5);
    let markers: Vec<bool> = sent.iter().map(|p| p.marker).collect();
    assert_eq!(markers, vec![true, false, false, false, false]);
    assert_eq!(
        leg.events(),
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
fn timeout_moves_by_twenty_ms_on_a_fixed_grid() {
    let mut leg = leg(Codec::Pcmu);
    // Nothing is due before the first slot, which is due at creation.
    assert!(leg.wake(Time::from_millis(999)).is_empty());
    assert_eq!(leg.timeout, START);
    assert_eq!(leg.wake(START).len(), 1);
    assert_eq!(leg.timeout, START + Duration::from_millis(20));
    // Waking 7 ms late sends the slot but does not shift the grid.
    assert_eq!(leg.wake(Time::from_millis(1_027)).len(), 1);
    assert_eq!(leg.timeout, Time::from_millis(1_040));
    // Waking early sends nothing.
    assert!(leg.wake(Time::from_millis(1_039)).is_empty());
    assert_eq!(leg.timeout, Time::from_millis(1_040));
}

#[test]
fn late_wake_sends_every_due_packet() {
    let mut leg = leg(Codec::Pcmu);
    leg.session.play(prompt("p", 8000));
    let sent = leg.wake(START + Duration::from_millis(110));
    assert_eq!(sent.len(), 6, "slots at 0, 20, ..., 100 ms");
    assert_contiguous(&sent, FIRST_SEQ, FIRST_TS);
    assert_eq!(leg.timeout, START + Duration::from_millis(120));
    // Exactly 200 ms late is still within the limit: a burst of 11.
    let sent = leg.wake(START + Duration::from_millis(320));
    assert_eq!(sent.len(), 11);
    assert_eq!(leg.session.stats().slots_skipped, 0);
}

#[test]
fn very_late_wake_skips_ahead_instead_of_bursting() {
    let mut leg = leg(Codec::Pcmu);
    let long = prompt("long", 16_000);
    leg.session.play(Arc::clone(&long));
    let first = leg.wake(START);
    assert_eq!(first.len(), 1);

    // Next slot was due at +20 ms; waking at +1010 ms is 990 ms late.
    let sent = leg.wake(START + Duration::from_millis(1_010));
    assert_eq!(sent.len(), 1, "only the current slot is sent");
    assert_eq!(leg.session.stats().slots_skipped, 49);
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
    assert_eq!(leg.timeout, START + Duration::from_millis(1_020));
    // And on-time operation continues without markers.
    let next = leg.run_slots(2);
    assert!(next.iter().all(|p| !p.marker));
    assert_eq!(next[0].timestamp, FIRST_TS.wrapping_add(51 * 160));
}

#[test]
fn skipping_without_transmit_also_happens_in_handle_timeout() {
    let mut leg = leg(Codec::Pcmu);
    leg.session
        .handle_timeout(START + Duration::from_millis(5_000));
    assert_eq!(leg.session.stats().slots_skipped, 250);
    // The slot due at +5000 ms is the next one written.
    let sent = leg.drain();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].timestamp, FIRST_TS.wrapping_add(250 * 160));
    assert_eq!(leg.timeout, START + Duration::from_millis(5_020));
}

#[test]
fn very_late_input_other_than_timeout_skips_too() {
    let mut leg = leg(Codec::Pcmu);
    leg.receive(START + Duration::from_millis(5_000), remote(), &[]);
    assert_eq!(leg.session.stats().slots_skipped, 250);
    assert_eq!(leg.session.stats().packets_sent, 1);
    assert_eq!(leg.timeout, START + Duration::from_millis(5_020));
}

#[test]
fn barge_in_switches_to_silence_at_once() {
    let mut leg = leg(Codec::Pcmu);
    leg.session.play(prompt("menu", 8000));
    leg.session.play(prompt("more", 8000));
    leg.run_slots(5);
    leg.events();
    leg.session.stop_playback();
    assert!(!leg.session.is_playing());
    let sent = leg.run_slots(2);
    assert!(sent
        .iter()
        .all(|p| p.payload == vec![0xFF; 160] && !p.marker));
    assert!(leg.events().is_empty());
    // The next prompt starts after silence, so it is marked.
    leg.session.play(prompt("next", 160));
    let sent = leg.run_slots(1);
    assert!(sent[0].marker);
}

#[test]
fn too_small_buffer_drops_the_slot() {
    let mut leg = leg(Codec::Pcmu);
    let mut small = [0u8; PACKET_LEN - 1];
    assert_eq!(
        leg.session.poll_output(&mut small),
        MediaOutput::Timeout(START + Duration::from_millis(20))
    );
    assert_eq!(leg.session.stats().send_buffer_too_small, 1);
    leg.timeout = START + Duration::from_millis(20);
    let sent = leg.run_slots(1);
    assert_eq!(sent[0].sequence, FIRST_SEQ);
    assert_eq!(sent[0].timestamp, FIRST_TS.wrapping_add(160));
    assert!(sent[0].marker);
}

#[test]
fn drain_gives_events_first_then_one_packet_per_due_slot_then_the_grid() {
    let mut session = session(Codec::Pcmu);
    let mut remote_party = RemoteParty::new();
    // A key press arrives before the first slot was sent: the digit comes out first.
    let press = remote_party.key_press(1).swap_remove(0);
    session.handle_rtp(START, remote(), &press);
    let outputs = drain_outputs(&mut session);
    assert!(matches!(
        outputs[..],
        [
            Output::Event(MediaEvent::Dtmf { digit: '1' }),
            Output::Packet(_),
            Output::Timeout(_)
        ]
    ));
    assert_eq!(
        outputs[2],
        Output::Timeout(START + Duration::from_millis(20))
    );

    // On time: exactly one packet per slot, and Timeout is the next 20 ms slot.
    for slot in 1..=10u64 {
        let now = START + Duration::from_millis(20 * slot);
        session.handle_timeout(now);
        let outputs = drain_outputs(&mut session);
        assert!(
            matches!(outputs[..], [Output::Packet(_), Output::Timeout(_)]),
            "slot {slot}: {outputs:?}"
        );
        assert_eq!(outputs[1], Output::Timeout(now + Duration::from_millis(20)));
    }
    // A wake 5 ms past a slot changes neither the count nor the grid.
    session.handle_timeout(START + Duration::from_millis(225));
    let outputs = drain_outputs(&mut session);
    assert_eq!(outputs.len(), 2);
    assert_eq!(
        outputs[1],
        Output::Timeout(START + Duration::from_millis(240))
    );
    // Draining again without a new input gives only the Timeout.
    assert_eq!(
        drain_outputs(&mut session),
        vec![Output::Timeout(START + Duration::from_millis(240))]
    );
}

#[test]
fn playback_idle_comes_before_the_next_packet_so_prompts_chain_without_a_gap() {
    let mut session = session(Codec::Pcmu);
    let first = prompt("first", 160);
    let second = prompt("second", 320);
    session.play(Arc::clone(&first));
    let mut next = Some(Arc::clone(&second));
    // Three slots due at once (0, 20 and 40 ms).
    session.handle_timeout(START + Duration::from_millis(40));
    let mut buf = [0u8; PACKET_LEN];
    let mut packets = Vec::new();
    let mut seen = Vec::new();
    loop {
        match session.poll_output(&mut buf) {
            MediaOutput::Transmit(len) => {
                let packet = parse_rtp(&buf[..len]).unwrap();
                packets.push((packet.marker, packet.payload.to_vec()));
                seen.push("packet".to_owned());
            }
            MediaOutput::Event(event) => {
                if event == MediaEvent::PlaybackIdle {
                    // The caller reacts at once: the very next packet is the next prompt.
                    if let Some(prompt) = next.take() {
                        session.play(prompt);
                    }
                }
                seen.push(format!("{event:?}"));
            }
            MediaOutput::Rtcp { .. } => seen.push("rtcp".to_owned()),
            MediaOutput::Audio(_) => unreachable!("nothing subscribed"),
            MediaOutput::Timeout(at) => {
                assert_eq!(at, START + Duration::from_millis(60));
                break;
            }
        }
    }
    assert_eq!(
        seen,
        vec![
            "packet",
            "PromptStarted { id: \"first\" }",
            "PromptFinished { id: \"first\" }",
            "PlaybackIdle",
            "packet",
            "PromptStarted { id: \"second\" }",
            "packet",
            "PromptFinished { id: \"second\" }",
            "PlaybackIdle",
        ]
    );
    assert_eq!(packets[0].1, first.encoded(Codec::Pcmu));
    assert_eq!(packets[1].1, second.encoded(Codec::Pcmu)[..160]);
    assert_eq!(packets[2].1, second.encoded(Codec::Pcmu)[160..]);
    let markers: Vec<bool> = packets.iter().map(|(marker, _)| *marker).collect();
    assert_eq!(
        markers,
        vec![true, false, false],
        "no gap, so no new talkspurt"
    );
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
    let mut leg = leg(Codec::Pcmu);
    let mut remote_party = RemoteParty::new();
    let now = START;
    for event in [1u8, 1, 10, 11] {
        for packet in remote_party.key_press(event) {
            leg.receive(now, remote(), &packet);
        }
    }
    let digits: Vec<MediaEvent> = leg.events();
    assert_eq!(
        digits,
        ['1', '1', '*', '#']
            .into_iter()
            .map(|digit| MediaEvent::Dtmf { digit })
            .collect::<Vec<_>>()
    );
    let stats = leg.session.stats();
    assert_eq!(stats.dtmf_packets_received, 24);
    assert_eq!(stats.dtmf_digits, 4);
    assert_eq!(stats.packets_received, 24);
    assert_eq!(
        leg.session
            .dtmf_detector()
            .current_event()
            .map(|e| e.packets),
        Some(6)
    );
}

#[test]
fn received_packets_are_classified_and_counted() {
    let mut leg = leg(Codec::Pcmu);
    let mut remote_party = RemoteParty::new();
    let audio = remote_party.packet(0, true, &[0xFF; 160], 160);
    leg.receive(START, remote(), &audio);
    let elsewhere = SocketAddr::from(([198, 51, 100, 7], 5_000));
    leg.receive(START, elsewhere, &audio);
    let comfort_noise = remote_party.packet(13, false, &[40], 160);
    leg.receive(START, remote(), &comfort_noise);
    leg.receive(START, remote(), &[0x80, 0, 1]);
    leg.receive(START, remote(), &[0x40; 20]);
    leg.receive(START, remote(), &[]);
    let short_dtmf = remote_party.packet(DTMF_PT, true, &[5, 0], 0);
    leg.receive(START, remote(), &short_dtmf);

    let stats = leg.session.stats();
    assert_eq!(stats.packets_received, 7);
    assert_eq!(stats.audio_packets_received, 2);
    assert_eq!(stats.from_unexpected_source, 1);
    assert_eq!(stats.unknown_payload_type, 0);
    assert_eq!(stats.comfort_noise_received, 1);
    assert_eq!(stats.malformed, 3);
    assert_eq!(
        stats.inbound.received, 4,
        "audio twice, comfort noise, telephone-event"
    );
    assert_eq!(stats.dtmf_packets_received, 1);
    assert_eq!(stats.dtmf_digits, 0);
    assert!(leg.events().is_empty());
    assert_eq!(leg.session.remote(), remote());
}

#[test]
fn dtmf_from_another_source_is_still_detected() {
    let mut leg = leg(Codec::Pcmu);
    let mut remote_party = RemoteParty::new();
    let elsewhere = SocketAddr::from(([198, 51, 100, 7], 5_000));
    for packet in remote_party.key_press(3) {
        leg.receive(START, elsewhere, &packet);
    }
    assert_eq!(leg.events(), vec![MediaEvent::Dtmf { digit: '3' }]);
    // Three packets from the new address latch the stream there (symmetric
    // RTP); the rest come from the remote.
    assert_eq!(
        leg.session.stats().from_unexpected_source,
        u64::from(LATCH_PACKETS)
    );
    assert_eq!(leg.session.remote(), elsewhere);
}

#[test]
fn session_without_telephone_event_ignores_dtmf_payload_type() {
    let mut leg = Leg::new(MediaSession::new(
        MediaConfig {
            dtmf_pt: None,
            ..config(Codec::Pcmu)
        },
        START,
    ));
    for packet in RemoteParty::new().key_press(3) {
        leg.receive(START, remote(), &packet);
    }
    assert!(leg.events().is_empty());
    assert_eq!(leg.session.stats().unknown_payload_type, 6);
}

#[test]
fn undrained_events_are_bounded() {
    let mut leg = leg(Codec::Pcmu);
    let mut remote_party = RemoteParty::new();
    for _ in 0..300 {
        let first = remote_party.key_press(5).swap_remove(0);
        leg.session.handle_rtp(START, remote(), &first);
    }
    assert_eq!(leg.session.stats().dtmf_digits, 300);
    assert_eq!(leg.session.stats().events_dropped, 300 - 256);
    leg.drain();
    assert_eq!(leg.events().len(), 256);
}

#[test]
fn garbage_input_never_panics() {
    let mut leg = leg(Codec::Pcma);
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
        leg.receive(START, remote(), &buf[..len]);
    }
    assert_eq!(leg.session.stats().packets_received, 5_000);
}

fn nat() -> SocketAddr {
    SocketAddr::from(([198, 51, 100, 7], 31_000))
}

#[test]
fn media_from_a_new_address_moves_the_stream_there_after_three_valid_packets() {
    let mut session = session(Codec::Pcmu);
    let mut far = RemoteParty::new();
    let audio = [0xFFu8; 160];
    for i in 0..LATCH_PACKETS {
        assert_eq!(session.remote(), remote(), "not yet: {i} packets");
        let packet = far.packet(0, i == 0, &audio, 160);
        session.handle_rtp(START, nat(), &packet);
    }
    assert_eq!(session.remote(), nat(), "latched onto the NAT address");
    assert_eq!(session.stats().remote_latches, 1);
}

#[test]
fn a_stray_packet_or_a_foreign_stream_does_not_move_the_stream() {
    let mut session = session(Codec::Pcmu);
    let mut far = RemoteParty::new();
    let audio = [0xFFu8; 160];
    // The far end's own media establishes its SSRC.
    session.handle_rtp(START, remote(), &far.packet(0, true, &audio, 160));
    // Single strays between genuine packets never reach the count.
    for _ in 0..10 {
        session.handle_rtp(START, nat(), &far.packet(0, false, &audio, 160));
        session.handle_rtp(START, remote(), &far.packet(0, false, &audio, 160));
    }
    // Another SSRC from another address: someone else's stream.
    let mut stranger = RemoteParty {
        sender: RtpSender::new(0x1234, 1, 1),
    };
    for _ in 0..10 {
        session.handle_rtp(START, nat(), &stranger.packet(0, false, &audio, 160));
    }
    // A payload type we did not negotiate does not count either.
    for _ in 0..10 {
        session.handle_rtp(START, nat(), &far.packet(96, false, &audio, 160));
    }
    assert_eq!(session.remote(), remote());
    assert_eq!(session.stats().remote_latches, 0);
    // Three in a row from the new address with the far end's SSRC: it moved.
    for _ in 0..LATCH_PACKETS {
        session.handle_rtp(START, nat(), &far.packet(0, false, &audio, 160));
    }
    assert_eq!(session.remote(), nat());
}

#[test]
fn send_digits_writes_rfc4733_events_that_our_detector_reads_back() {
    let mut session = session(Codec::Pcmu);
    session.send_digits("1#", Duration::from_millis(100), Duration::from_millis(60));
    let mut receiver = MediaSession::new(config(Codec::Pcmu), START);
    let mut buf = [0u8; 1500];
    let mut events = Vec::new();
    let mut sent_events = Vec::new();
    let mut sequences = Vec::new();
    let mut now = START;
    for _ in 0..40 {
        session.handle_timeout(now);
        loop {
            match session.poll_output(&mut buf) {
                MediaOutput::Transmit(len) => {
                    let packet = parse_rtp(&buf[..len]).unwrap();
                    sequences.push(packet.sequence);
                    if packet.payload_type == DTMF_PT {
                        assert_eq!(len, 16, "header plus a 4-byte event");
                        let p = packet.payload;
                        let duration = u16::from_be_bytes([p[2], p[3]]);
                        sent_events.push((
                            p[0],
                            p[1] & 0x80 != 0,
                            duration,
                            packet.marker,
                            packet.timestamp,
                        ));
                    } else {
                        assert_eq!(len, PACKET_LEN);
                    }
                    receiver.handle_rtp(now, remote(), &buf[..len]);
                }
                MediaOutput::Event(event) => events.push(event),
                MediaOutput::Rtcp { .. } | MediaOutput::Audio(_) => {}
                MediaOutput::Timeout(_) => break,
            }
        }
        while let MediaOutput::Event(event) = receiver.poll_output(&mut [0u8; 0]) {
            events.push(event);
        }
        now += Duration::from_millis(20);
    }
    // '1': 5 packets of 100 ms (durations 160..800, marker on the first, E on the
    // last), the last repeated twice more; all on the event's start timestamp.
    let one: Vec<_> = sent_events.iter().filter(|e| e.0 == 1).collect();
    assert_eq!(one.len(), 7);
    let durations: Vec<u16> = one.iter().map(|e| e.2).collect();
    assert_eq!(durations, vec![160, 320, 480, 640, 800, 800, 800]);
    assert_eq!(one.iter().filter(|e| e.3).count(), 1, "one marker");
    assert!(one[0].3);
    assert_eq!(one.iter().filter(|e| e.1).count(), 3, "three end packets");
    assert!(one.iter().all(|e| e.4 == one[0].4), "one timestamp per key");
    assert_eq!(
        sent_events.iter().filter(|e| e.0 == 11).count(),
        7,
        "'#' is event 11"
    );
    // The sequence numbers stay contiguous through events and audio.
    assert!(sequences.windows(2).all(|w| w[1] == w[0].wrapping_add(1)));
    let digits: Vec<char> = events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Dtmf { digit } => Some(*digit),
            _ => None,
        })
        .collect();
    assert_eq!(digits, vec!['1', '#'], "our own detector reads them back");
    assert_eq!(
        events
            .iter()
            .filter(|e| **e == MediaEvent::DigitsSent)
            .count(),
        1
    );
    assert_eq!(session.stats().dtmf_packets_sent, 14);
}

#[test]
fn send_digits_without_telephone_event_plays_dual_tones_the_inband_detector_hears() {
    let mut session = MediaSession::new(
        MediaConfig {
            dtmf_pt: None,
            ..config(Codec::Pcmu)
        },
        START,
    );
    session.send_digits("5", Duration::from_millis(100), Duration::from_millis(60));
    let mut detector = InbandDtmfDetector::new(InbandDtmfConfig::default());
    let mut buf = [0u8; 1500];
    let mut heard = Vec::new();
    let mut sent_all = false;
    let mut now = START;
    for _ in 0..20 {
        session.handle_timeout(now);
        loop {
            match session.poll_output(&mut buf) {
                MediaOutput::Transmit(len) => {
                    let packet = parse_rtp(&buf[..len]).unwrap();
                    assert_eq!(packet.payload_type, 0, "tones travel as PCMU audio");
                    let pcm: Vec<i16> = packet
                        .payload
                        .iter()
                        .map(|&code| Codec::Pcmu.decode_sample(code))
                        .collect();
                    heard.extend(detector.handle_frame(&pcm));
                }
                MediaOutput::Event(MediaEvent::DigitsSent) => sent_all = true,
                MediaOutput::Event(_) | MediaOutput::Rtcp { .. } | MediaOutput::Audio(_) => {}
                MediaOutput::Timeout(_) => break,
            }
        }
        now += Duration::from_millis(20);
    }
    assert_eq!(heard, vec!['5'], "the in-band detector hears the key once");
    assert!(sent_all);
    assert_eq!(session.stats().inband_tone_packets_sent, 5);
    assert_eq!(session.stats().dtmf_packets_sent, 0);
}

/// One PCMU frame of key `key`'s dual tone, `offset` samples into the tone.
fn tone_payload(key: char, offset: u32) -> Vec<u8> {
    use crate::media::{event_code, write_tone};
    let mut pcm = [0i16; 160];
    write_tone(event_code(key).unwrap(), offset, &mut pcm);
    pcm.iter().map(|&s| Codec::Pcmu.encode_sample(s)).collect()
}

/// Hands `arrivals` (sorted by arrival) to the leg at their instants, waking it at
/// every timeout in between, until `end`; returns the digits raised.
fn receive_over_time(leg: &mut Leg, arrivals: &[(Time, Vec<u8>)], end: Time) -> Vec<char> {
    let mut next = 0;
    loop {
        let packet_at = arrivals.get(next).map_or(Time::NEVER, |(at, _)| *at);
        let at = packet_at.min(leg.timeout);
        if at > end {
            break;
        }
        if packet_at <= leg.timeout {
            leg.receive(at, remote(), &arrivals[next].1);
            next += 1;
        } else {
            leg.wake(at);
        }
    }
    leg.events()
        .into_iter()
        .filter_map(|event| match event {
            MediaEvent::Dtmf { digit } => Some(digit),
            _ => None,
        })
        .collect()
}

fn without_telephone_event() -> Leg {
    Leg::new(MediaSession::new(
        MediaConfig {
            dtmf_pt: None,
            ..config(Codec::Pcmu)
        },
        START,
    ))
}

#[test]
fn a_far_end_without_telephone_event_is_listened_to_in_band() {
    let mut far = RemoteParty::new();
    let arrivals: Vec<(Time, Vec<u8>)> = (0..15u32)
        .map(|i| {
            let payload = if i < 5 {
                tone_payload('7', i * 160)
            } else {
                vec![0xFF; 160]
            };
            let at = START + Duration::from_millis(u64::from(i) * 20 + 5);
            (at, far.packet(0, i == 0, &payload, 160))
        })
        .collect();
    let mut without = without_telephone_event();
    let digits = receive_over_time(&mut without, &arrivals, START + Duration::from_millis(500));
    assert_eq!(digits, vec!['7']);
    let stats = without.session.stats();
    assert_eq!(stats.inband_digits, 1);
    assert_eq!(stats.inbound.received, 15);
    assert!(stats.inbound.decoded_frames >= 15, "{:?}", stats.inbound);
    // With telephone-event negotiated, audio is not decoded for DTMF.
    let mut with = leg(Codec::Pcmu);
    assert!(receive_over_time(&mut with, &arrivals, START + Duration::from_millis(500)).is_empty());
    assert_eq!(with.session.stats().inband_digits, 0);
    assert_eq!(with.session.stats().inbound.decoded_frames, 0);
}

#[test]
fn reordered_inband_tones_are_heard_in_timestamp_order() {
    // "77": three frames of tone, two of pause (40 ms, which ends a key press), three
    // of tone, with silence around; packets 9 (pause) and 10 (tone) swap places on
    // the way, 20 ms of jitter.
    let mut far = RemoteParty::new();
    let frames: Vec<Vec<u8>> = (0..25u32)
        .map(|i| match i {
            5..=7 => tone_payload('7', (i - 5) * 160),
            10..=12 => tone_payload('7', (i - 10) * 160),
            _ => vec![0xFF; 160],
        })
        .collect();
    let mut arrivals: Vec<(Time, Vec<u8>)> = frames
        .iter()
        .enumerate()
        .map(|(i, payload)| {
            let at = START + Duration::from_millis(i as u64 * 20 + 10);
            (at, far.packet(0, i == 0, payload, 160))
        })
        .collect();
    let (early, late) = (arrivals[9].0, arrivals[10].0);
    arrivals[9].0 = late + Duration::from_millis(1);
    arrivals[10].0 = early;
    arrivals.sort_by_key(|(at, _)| *at);

    // Decoded in arrival order, the pause is cut in two 20 ms halves and bridged:
    // one key press.
    let mut arrival_order = InbandDtmfDetector::new(InbandDtmfConfig::default());
    let mut heard = Vec::new();
    for (_, packet) in &arrivals {
        let pcm: Vec<i16> = parse_rtp(packet)
            .unwrap()
            .payload
            .iter()
            .map(|&code| Codec::Pcmu.decode_sample(code))
            .collect();
        heard.extend(arrival_order.handle_frame(&pcm));
    }
    assert_eq!(heard, vec!['7'], "arrival order loses the second press");

    let mut leg = without_telephone_event();
    let digits = receive_over_time(&mut leg, &arrivals, START + Duration::from_millis(900));
    assert_eq!(
        digits,
        vec!['7', '7'],
        "the jitter buffer restores the order"
    );
    let inbound = leg.session.stats().inbound;
    assert_eq!((inbound.received, inbound.reordered), (25, 1));
    assert_eq!((inbound.lost, inbound.late), (0, 0));
}

#[test]
fn a_call_with_telephone_events_decodes_nothing() {
    let mut far = RemoteParty::new();
    let mut arrivals = Vec::new();
    let mut at = START;
    for i in 0..10 {
        arrivals.push((at, far.packet(0, i == 0, &[0xFF; 160], 160)));
        at += Duration::from_millis(20);
    }
    for packet in far.key_press(4) {
        arrivals.push((at, packet));
        at += Duration::from_millis(20);
    }
    for _ in 0..10 {
        arrivals.push((at, far.packet(0, false, &tone_payload('4', 0), 160)));
        at += Duration::from_millis(20);
    }
    let mut leg = leg(Codec::Pcmu);
    assert!(!leg.session.needs_audio());
    let digits = receive_over_time(&mut leg, &arrivals, at + Duration::from_millis(200));
    assert_eq!(
        digits,
        vec!['4'],
        "RFC 4733 only: the tone in the audio is not heard"
    );
    let inbound = leg.session.stats().inbound;
    assert_eq!(inbound.decoded_frames, 0);
    assert_eq!((inbound.received, inbound.events), (26, 6));
    assert_eq!(inbound.lost, 0, "telephone-events are no loss");
    assert!(inbound.audio_frames >= 19, "{inbound:?}");
    // A consumer subscribing turns decoding on; leaving turns it off again.
    leg.session.subscribe_audio();
    assert!(leg.session.needs_audio());
    leg.session.unsubscribe_audio();
    assert!(!leg.session.needs_audio());
}

#[test]
fn reports_go_to_rtp_plus_one_and_close_ends_with_a_bye() {
    use crate::media::{Compound, RtcpPacket};
    let mut leg = leg(Codec::Pcmu);
    let mut far = RemoteParty::new();
    for _ in 0..250 {
        let now = leg.timeout;
        leg.receive(now, remote(), &far.packet(0, false, &[0xFF; 160], 160));
    }
    let sent = leg.rtcp.clone();
    assert!(
        (1..=3).contains(&sent.len()),
        "{} reports in 5 s",
        sent.len()
    );
    let packets: Vec<_> = Compound::parse(&sent[0]).unwrap().collect();
    match &packets[..] {
        [Ok(RtcpPacket::SenderReport { ssrc, blocks, .. }), Ok(RtcpPacket::Other { .. })] => {
            assert_eq!(*ssrc, SSRC);
            assert_eq!(blocks.clone().next().map(|b| b.ssrc), Some(0xABCD));
        }
        other => panic!("{other:?}"),
    }
    leg.session.close();
    let outputs = drain_outputs(&mut leg.session);
    let [Output::Rtcp(bye), Output::Timeout(Time::NEVER)] = &outputs[..] else {
        panic!("{outputs:?}");
    };
    let last = Compound::parse(bye).unwrap().last();
    assert!(matches!(
        last,
        Some(Ok(RtcpPacket::Bye { ssrc: Some(SSRC) }))
    ));
    assert_eq!(
        drain_outputs(&mut leg.session),
        vec![Output::Timeout(Time::NEVER)]
    );
    assert_eq!(leg.session.stats().rtcp.reports_sent, sent.len() as u64 + 1);
}

#[test]
fn rtcp_on_the_rtp_port_is_demultiplexed() {
    use crate::media::{write_receiver_report, ReportBlock};
    let mut session = MediaSession::new(
        MediaConfig {
            rtcp_mux: true,
            ..config(Codec::Pcmu)
        },
        START,
    );
    let mut rr = [0u8; 64];
    let block = ReportBlock {
        ssrc: SSRC,
        fraction_lost: 128,
        cumulative_lost: 5,
        ..ReportBlock::default()
    };
    let len = write_receiver_report(&mut rr, 0xABCD, &[block]).unwrap();
    session.handle_rtp(START, remote(), &rr[..len]);
    // Garbage that looks like RTCP by its second byte is counted, not parsed as RTP.
    session.handle_rtp(START, remote(), &[0x80, 201, 0, 9]);
    let stats = session.stats();
    assert_eq!(stats.rtcp_on_rtp_port, 2);
    assert_eq!((stats.rtcp.reports_received, stats.rtcp.malformed), (1, 1));
    assert_eq!(stats.rtcp.remote_fraction_lost, Some(128));
    assert_eq!(stats.rtcp.remote_cumulative_lost, Some(5));
    assert_eq!((stats.malformed, stats.unknown_payload_type), (0, 0));
}

/// A leg with SRTP and the far end's context, keyed crosswise as SDES keys them.
fn secure_leg(suite: crate::media::SrtpSuite) -> (MediaSession, crate::media::Srtp) {
    use crate::media::{Srtp, SrtpKey};
    let ours = SrtpKey::from_bytes([0x11; 30]);
    let theirs = SrtpKey::from_bytes([0x22; 30]);
    let mut session = session(Codec::Pcmu);
    session.secure(Srtp::new(suite, &ours, &theirs));
    (session, Srtp::new(suite, &theirs, &ours))
}

#[test]
fn with_srtp_what_is_sent_is_protected_and_what_is_received_unprotected() {
    use crate::media::{SrtpSuite, SRTCP_OVERHEAD};
    for suite in SrtpSuite::ALL {
        let (mut session, mut far) = secure_leg(suite);
        let mut buf = [0u8; 1500];
        let mut now = START;
        let mut packets = 0;
        let mut reports = 0;
        for _ in 0..300 {
            loop {
                match session.poll_output(&mut buf) {
                    MediaOutput::Transmit(len) => {
                        assert_eq!(len, PACKET_LEN + suite.rtp_tag_len());
                        let plain = far.unprotect_rtp(&mut buf[..len]).expect("authenticates");
                        let packet = parse_rtp(&buf[..plain]).unwrap();
                        assert_eq!(packet.payload_type, 0);
                        assert!(packet.payload.iter().all(|b| *b == 0xff), "µ-law silence");
                        packets += 1;
                    }
                    MediaOutput::Rtcp { len, .. } => {
                        let plain = far.unprotect_rtcp(&mut buf[..len]).expect("SRTCP");
                        assert_eq!(plain + SRTCP_OVERHEAD, len);
                        assert!(crate::media::is_rtcp(&buf[..plain]));
                        reports += 1;
                    }
                    MediaOutput::Event(_) | MediaOutput::Audio(_) => {}
                    MediaOutput::Timeout(at) => {
                        now = at;
                        break;
                    }
                }
            }
            session.handle_timeout(now);
        }
        assert!(
            packets >= 299 && reports >= 1,
            "{packets} packets, {reports} reports"
        );

        // A key press from the far end, protected: one digit. A replay and a
        // tampered copy are counted and dropped.
        let mut remote_party = RemoteParty::new();
        for (i, packet) in remote_party.key_press(5).into_iter().enumerate() {
            let mut wire = packet.clone();
            wire.resize(packet.len() + 10, 0);
            let len = far.protect_rtp(&mut wire, packet.len()).unwrap();
            if i == 0 {
                let mut tampered = wire[..len].to_vec();
                tampered[14] ^= 0x40;
                session.handle_rtp(now, remote(), &tampered);
            }
            session.handle_rtp(now, remote(), &wire[..len]);
            if i == 0 {
                session.handle_rtp(now, remote(), &wire[..len]);
            }
        }
        // Plain RTP is not SRTP: it fails authentication.
        let plain = remote_party.packet(0, false, &[0xff; 160], 160);
        session.handle_rtp(now, remote(), &plain);
        let digits: Vec<MediaEvent> = drain_secure(&mut session);
        assert_eq!(digits, vec![MediaEvent::Dtmf { digit: '5' }]);
        let stats = session.srtp_stats().unwrap();
        assert_eq!(stats.suite, Some(suite));
        assert_eq!(
            (stats.rtp_unprotected, stats.replays, stats.auth_failures),
            (6, 1, 2)
        );
        assert_eq!(session.stats().dtmf_packets_received, 6);
    }
}

/// The events of a secure leg (its packets are protected, so the plain
/// `drain_outputs` cannot read them).
fn drain_secure(session: &mut MediaSession) -> Vec<MediaEvent> {
    let mut buf = [0u8; 1500];
    let mut events = Vec::new();
    loop {
        match session.poll_output(&mut buf) {
            MediaOutput::Event(event) => events.push(event),
            MediaOutput::Timeout(_) => return events,
            _ => {}
        }
    }
}

/// An Opus leg with no telephone-event: its keys travel in-band.
fn opus_config() -> MediaConfig {
    MediaConfig {
        codec_pt: 96,
        dtmf_pt: None,
        ..config(Codec::Opus)
    }
}

#[test]
fn an_opus_leg_sends_its_prompt_and_inband_keys_and_a_second_leg_hears_the_key() {
    let mut sender = MediaSession::new(opus_config(), START);
    let mut receiver = MediaSession::new(
        MediaConfig {
            remote: SocketAddr::from(([192, 0, 2, 20], 40_002)),
            ssrc: 99,
            ..opus_config()
        },
        START,
    );
    assert!(
        receiver.needs_audio(),
        "no telephone-event: digits are listened for in-band"
    );
    sender.play(prompt("tone", 4000));
    let mut buf = [0u8; 1500];
    let mut now = START;
    let mut sent: Vec<(u16, u32, usize)> = Vec::new();
    let mut heard = Vec::new();
    let mut silence_packets = 0;
    for slot in 0..60 {
        if slot == 30 {
            sender.send_digits("5", Duration::from_millis(100), Duration::from_millis(60));
        }
        sender.handle_timeout(now);
        loop {
            match sender.poll_output(&mut buf) {
                MediaOutput::Transmit(len) => {
                    assert!(len <= PACKET_LEN, "an Opus packet fits a session buffer");
                    let packet = parse_rtp(&buf[..len]).unwrap();
                    assert_eq!(packet.payload_type, 96);
                    sent.push((packet.sequence, packet.timestamp, packet.payload.len()));
                    if Some(packet.payload) == crate::media::opus_silence_frame() {
                        silence_packets += 1;
                    }
                    let from = receiver.remote();
                    receiver.handle_rtp(now, from, &buf[..len]);
                }
                MediaOutput::Event(_) | MediaOutput::Rtcp { .. } | MediaOutput::Audio(_) => {}
                MediaOutput::Timeout(_) => break,
            }
        }
        receiver.handle_timeout(now);
        let mut rbuf = [0u8; 1500];
        loop {
            match receiver.poll_output(&mut rbuf) {
                MediaOutput::Event(MediaEvent::Dtmf { digit }) => heard.push(digit),
                MediaOutput::Timeout(_) => break,
                _ => {}
            }
        }
        now += Duration::from_millis(20);
    }
    assert_eq!(sent.len(), 60);
    for pair in sent.windows(2) {
        assert_eq!(pair[1].0, pair[0].0.wrapping_add(1));
        assert_eq!(pair[1].1.wrapping_sub(pair[0].1), 960, "48 kHz timestamps");
    }
    assert_eq!(sent[0].1, FIRST_TS);
    // 25 prompt packets, tones from slot 30, silence between and after.
    assert_eq!(sender.stats().prompt_packets_sent, 25);
    assert_eq!(sender.stats().inband_tone_packets_sent, 5);
    assert!(silence_packets >= 20, "{silence_packets} silence packets");
    assert_eq!(
        heard,
        vec!['5'],
        "the receiving leg decodes Opus and hears the key"
    );
    let stats = receiver.inbound_stats();
    assert!(stats.decoded_frames >= 50, "{stats:?}");
    assert_eq!(stats.decode_errors, 0);
}

/// A 1 kHz tone at 8 kHz, `frame` frames in: a continuous sine across frames.
fn tone_frame(frame: usize) -> [i16; 160] {
    let mut pcm = [0i16; 160];
    for (i, sample) in pcm.iter_mut().enumerate() {
        let n = (frame * 160 + i) as f64;
        *sample = (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * n / 8000.0).sin()) as i16;
    }
    pcm
}

/// The energy of the 1 kHz component of `pcm` relative to all of its energy.
fn share_at_1khz(pcm: &[i16]) -> f64 {
    let (mut re, mut im, mut all) = (0.0, 0.0, 0.0);
    for (n, &sample) in pcm.iter().enumerate() {
        let x = f64::from(sample);
        let phase = 2.0 * std::f64::consts::PI * 1000.0 * n as f64 / 8000.0;
        re += x * phase.cos();
        im += x * phase.sin();
        all += x * x;
    }
    if all == 0.0 {
        return 0.0;
    }
    2.0 * (re * re + im * im) / (pcm.len() as f64 * all)
}

#[test]
fn subscribed_audio_comes_out_frame_by_frame_and_unsubscribed_never() {
    let mut leg = leg(Codec::Pcmu);
    let mut far = RtpSender::new(7, 100, 1_000);
    let mut packet = [0u8; PACKET_LEN];
    let mut now = START;
    let mut send = |leg: &mut Leg, now: Time, frame: usize| {
        far.write_header(&mut packet[..RTP_HEADER_LEN], 0, frame == 0, 160)
            .unwrap();
        Codec::Pcmu.encode(&tone_frame(frame), &mut packet[RTP_HEADER_LEN..]);
        leg.receive(now, remote(), &packet);
    };
    for frame in 0..10 {
        send(&mut leg, now, frame);
        now += Duration::from_millis(20);
        leg.wake(now);
    }
    assert!(
        leg.audio.is_empty(),
        "no consumer: no frames, nothing decoded"
    );
    leg.session.subscribe_audio();
    for frame in 10..60 {
        send(&mut leg, now, frame);
        now += Duration::from_millis(20);
        leg.wake(now);
    }
    assert!(
        leg.audio.len() >= 45,
        "a frame per 20 ms: {}",
        leg.audio.len()
    );
    let heard: Vec<i16> = leg.audio[5..].iter().flatten().copied().collect();
    assert!(share_at_1khz(&heard) > 0.9, "the tone comes out decoded");
    leg.session.unsubscribe_audio();
    let before = leg.audio.len();
    for frame in 60..70 {
        send(&mut leg, now, frame);
        now += Duration::from_millis(20);
        leg.wake(now);
    }
    assert_eq!(leg.audio.len(), before, "unsubscribed: no more frames");
}

#[test]
fn live_audio_is_sent_in_the_legs_codec_and_a_prompt_takes_precedence() {
    let mut leg = leg(Codec::Pcma);
    leg.drain();
    leg.session.set_live_audio(true);
    let mut sent = Vec::new();
    for frame in 0..20 {
        leg.session.send_audio(&tone_frame(frame));
        sent.extend(leg.wake(leg.timeout));
    }
    let pcm: Vec<i16> = sent
        .iter()
        .skip(1)
        .flat_map(|packet| packet.payload.iter().map(|&c| Codec::Pcma.decode_sample(c)))
        .collect();
    assert!(share_at_1khz(&pcm) > 0.9, "the live tone goes out as PCMA");
    let stats = leg.session.live_audio_stats().unwrap();
    assert!(stats.sent >= 19, "{stats:?}");
    leg.session.play(prompt("hello", 1600));
    leg.session.send_audio(&tone_frame(0));
    leg.wake(leg.timeout);
    assert_eq!(
        leg.session.stats().prompt_packets_sent,
        1,
        "the prompt plays over live audio"
    );
    leg.session.set_live_audio(false);
    assert!(leg.session.live_audio_stats().is_none());
}

#[test]
fn a_bridge_of_two_sessions_carries_audio_from_pcmu_to_opus() {
    let mut a = leg(Codec::Pcmu);
    let mut b = Leg::new(MediaSession::new(
        MediaConfig {
            codec_pt: crate::media::OPUS_PAYLOAD_TYPE,
            ..config(Codec::Opus)
        },
        START,
    ));
    a.session.subscribe_audio();
    b.session.set_live_audio(true);
    let mut far = RtpSender::new(9, 1, 0);
    let mut packet = [0u8; PACKET_LEN];
    let mut opus_heard = Vec::new();
    let mut now = START;
    for frame in 0..60 {
        far.write_header(&mut packet[..RTP_HEADER_LEN], 0, frame == 0, 160)
            .unwrap();
        Codec::Pcmu.encode(&tone_frame(frame), &mut packet[RTP_HEADER_LEN..]);
        a.receive(now, remote(), &packet);
        now += Duration::from_millis(20);
        a.wake(now);
        for frame in a.audio.drain(..) {
            let frame: [i16; 160] = frame.try_into().unwrap();
            b.session.send_audio(&frame);
        }
        opus_heard.extend(b.wake(now));
    }
    let mut decoder = crate::media::OpusDecoder::new().unwrap();
    let mut wide = vec![0i16; crate::media::OPUS_FRAME_SAMPLES];
    let mut pcm = Vec::new();
    for packet in &opus_heard[20..] {
        assert_eq!(packet.payload_type, crate::media::OPUS_PAYLOAD_TYPE);
        let samples = decoder.decode(&packet.payload, &mut wide).unwrap();
        // Every sixth sample: 48 kHz down to the tone's 8 kHz grid.
        pcm.extend(wide[..samples].iter().step_by(6).copied());
    }
    assert!(
        share_at_1khz(&pcm) > 0.8,
        "A's tone is heard in B's Opus stream"
    );
}

#[test]
fn an_inband_key_is_muted_for_audio_consumers_but_still_reported() {
    let mut leg = without_telephone_event();
    leg.session.subscribe_audio();
    let mut far = RtpSender::new(11, 1, 0);
    let mut packet = [0u8; PACKET_LEN];
    let mut now = START;
    // 10 frames of speech-like tone, 8 frames (160 ms) of key 5, 10 of tone.
    for frame in 0..28 {
        far.write_header(&mut packet[..RTP_HEADER_LEN], 0, frame == 0, 160)
            .unwrap();
        let payload: Vec<u8> = if (10..18).contains(&frame) {
            tone_payload('5', (frame as u32 - 10) * 160)
        } else {
            tone_frame(frame)
                .iter()
                .map(|&s| Codec::Pcmu.encode_sample(s))
                .collect()
        };
        packet[RTP_HEADER_LEN..].copy_from_slice(&payload);
        leg.receive(now, remote(), &packet);
        now += Duration::from_millis(20);
        leg.wake(now);
    }
    leg.wake(now + Duration::from_millis(200));
    let digits: Vec<char> = leg
        .events()
        .into_iter()
        .filter_map(|e| match e {
            MediaEvent::Dtmf { digit } => Some(digit),
            _ => None,
        })
        .collect();
    assert_eq!(digits, vec!['5'], "the key is still reported");
    let muted = leg.session.stats().inband_frames_suppressed;
    assert!(muted >= 6, "most of the key's 8 frames are muted: {muted}");
    let mut detector = InbandDtmfDetector::new(InbandDtmfConfig::default());
    let heard: Vec<char> = leg
        .audio
        .iter()
        .filter_map(|frame| detector.handle_frame(frame))
        .collect();
    assert!(
        heard.is_empty(),
        "no key is left in the consumers' audio: {heard:?}"
    );
    let loud = leg
        .audio
        .iter()
        .filter(|f| f.iter().any(|s| s.abs() > 1000))
        .count();
    assert!(
        loud >= 15,
        "the rest of the audio passes: {loud} loud frames"
    );
}
