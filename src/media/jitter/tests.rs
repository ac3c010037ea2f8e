//! Scripted arrival patterns replayed on a fake clock.

use super::*;

const SSRC: u32 = 0x1234_5678;
const MS: u64 = 1_000;

/// Loud µ-law code of frame `n` (each frame is one constant code, so the frame that
/// played can be read back from its samples).
fn code_of(n: u64) -> u8 {
    0x80 + (n % 64) as u8
}

/// Which frame a played block of samples came from (from the last sample, after any
/// recovery cross-fade).
fn frame_id(out: &[i16; FRAME_SAMPLES]) -> u8 {
    Codec::Pcmu
        .encode_sample(out[FRAME_SAMPLES - 1])
        .wrapping_sub(0x80)
}

/// One packet of the scripted stream.
#[derive(Clone, Debug)]
struct Sent {
    arrival: Time,
    pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
    marker: bool,
    payload: Vec<u8>,
}

/// Frame `n` of a regular stream sent at `n·20 ms` (+ `start`), arriving `delay` later.
fn audio(n: u64, seq0: u16, ts0: u32, arrival: Time) -> Sent {
    Sent {
        arrival,
        pt: 0,
        seq: seq0.wrapping_add(n as u16),
        ts: ts0.wrapping_add(n as u32 * 160),
        ssrc: SSRC,
        marker: n == 0,
        payload: vec![code_of(n); FRAME_SAMPLES],
    }
}

fn at(ms: u64) -> Time {
    Time::from_micros(ms * MS)
}

/// A played frame: when, what kind, which frame id and the samples.
#[derive(Clone, Debug)]
struct Played {
    at: Time,
    kind: FrameKind,
    id: u8,
    samples: [i16; FRAME_SAMPLES],
}

/// Replays `packets` (sorted by arrival) into `jb`, driving its timeouts, until `end`.
fn replay(jb: &mut JitterBuffer, packets: &[Sent], end: Time) -> Vec<Played> {
    let mut played = Vec::new();
    let mut out = [0i16; FRAME_SAMPLES];
    let mut next_packet = 0;
    let mut wake = packets.first().map_or(Time::ZERO, |p| p.arrival);
    jb.handle_timeout(wake.min(packets.first().map_or(wake, |p| p.arrival)));
    loop {
        loop {
            match jb.poll_output(&mut out) {
                JitterOutput::Frame(kind) => played.push(Played {
                    at: wake,
                    kind,
                    id: frame_id(&out),
                    samples: out,
                }),
                JitterOutput::Timeout(t) => {
                    wake = t;
                    break;
                }
            }
        }
        let packet_due = packets.get(next_packet).map(|p| p.arrival);
        match packet_due {
            Some(arrival) if arrival <= wake => {
                let p = &packets[next_packet];
                next_packet += 1;
                if arrival > end {
                    break;
                }
                let rtp = RtpPacket {
                    payload_type: p.pt,
                    marker: p.marker,
                    sequence: p.seq,
                    timestamp: p.ts,
                    ssrc: p.ssrc,
                    payload: &p.payload,
                };
                wake = arrival;
                jb.handle_packet(arrival, &rtp);
            }
            _ => {
                if wake > end {
                    break;
                }
                jb.handle_timeout(wake);
            }
        }
    }
    played
}

fn kinds(played: &[Played]) -> Vec<FrameKind> {
    played.iter().map(|p| p.kind).collect()
}

fn audio_ids(played: &[Played]) -> Vec<u8> {
    played
        .iter()
        .filter(|p| p.kind == FrameKind::Audio)
        .map(|p| p.id)
        .collect()
}

/// Concealed frames before the last audio frame (the end of a scripted stream is
/// concealed like any loss).
fn concealed_in_stream(played: &[Played]) -> usize {
    let last = played
        .iter()
        .rposition(|p| p.kind == FrameKind::Audio)
        .unwrap_or(0);
    played[..last]
        .iter()
        .filter(|p| p.kind == FrameKind::Concealed)
        .count()
}

fn buffer() -> JitterBuffer {
    JitterBuffer::new(JitterConfig::default(), Codec::Pcmu)
}

/// A stream of `frames` frames sent every 20 ms from 0, each arriving `delay_ms` later.
fn steady(frames: u64, delay_ms: u64) -> Vec<Sent> {
    (0..frames)
        .map(|n| audio(n, 1000, 50_000, at(n * 20 + delay_ms)))
        .collect()
}

#[test]
fn before_any_input_there_is_no_timer_and_the_grid_starts_at_the_first_input() {
    let mut jb = buffer();
    let mut out = [1i16; FRAME_SAMPLES];
    assert_eq!(jb.poll_output(&mut out), JitterOutput::Timeout(Time::NEVER));
    jb.handle_timeout(at(5));
    assert_eq!(
        jb.poll_output(&mut out),
        JitterOutput::Frame(FrameKind::Silence)
    );
    assert_eq!(out, [0; FRAME_SAMPLES]);
    assert_eq!(jb.poll_output(&mut out), JitterOutput::Timeout(at(25)));
}

#[test]
fn steady_stream_plays_every_frame_in_order_after_the_start_delay() {
    let mut jb = buffer();
    let packets = steady(50, 10);
    let played = replay(&mut jb, &packets, at(1200));
    let first_audio = played
        .iter()
        .position(|p| p.kind == FrameKind::Audio)
        .unwrap();
    // First packet arrives at 10 ms; 60 ms start delay; grid starts at 10 ms.
    assert_eq!(played[first_audio].at, at(70));
    assert!(played[..first_audio]
        .iter()
        .all(|p| p.kind == FrameKind::Silence));
    let expected: Vec<u8> = (0..50).map(|n| code_of(n) - 0x80).collect();
    assert_eq!(audio_ids(&played), expected);
    let stats = jb.stats();
    assert_eq!(stats.received, 50);
    assert_eq!(
        (stats.lost, stats.late, concealed_in_stream(&played)),
        (0, 0, 0)
    );
    assert_eq!(stats.jitter, 0);
    assert_eq!(stats.current_delay, Duration::from_millis(60));
}

#[test]
fn reordered_packets_within_the_depth_come_out_in_sequence() {
    let mut jb = buffer();
    let mut packets = steady(40, 10);
    // Swap pairs (n, n+1) for n = 4, 10, 20, and hold frame 30 back by 35 ms.
    for n in [4usize, 10, 20] {
        let (a, b) = (packets[n].arrival, packets[n + 1].arrival);
        packets[n].arrival = b;
        packets[n + 1].arrival = a;
    }
    packets[30].arrival += Duration::from_millis(35);
    packets.sort_by_key(|p| p.arrival);
    let played = replay(&mut jb, &packets, at(1200));
    let expected: Vec<u8> = (0..40).map(|n| code_of(n) - 0x80).collect();
    assert_eq!(audio_ids(&played), expected);
    let stats = jb.stats();
    assert_eq!(stats.reordered, 4);
    assert_eq!(
        (stats.lost, stats.late, concealed_in_stream(&played)),
        (0, 0, 0)
    );
}

#[test]
fn duplicates_are_dropped_and_counted() {
    let mut jb = buffer();
    let mut packets = steady(30, 10);
    for n in [3usize, 7, 7, 15] {
        let mut copy = packets[n].clone();
        copy.arrival += Duration::from_millis(5);
        packets.push(copy);
    }
    // A copy of frame 2 long after it played is a duplicate too, not late.
    let mut stale = packets[2].clone();
    stale.arrival = at(400);
    packets.push(stale);
    packets.sort_by_key(|p| p.arrival);
    let played = replay(&mut jb, &packets, at(800));
    let expected: Vec<u8> = (0..30).map(|n| code_of(n) - 0x80).collect();
    assert_eq!(audio_ids(&played), expected);
    let stats = jb.stats();
    assert_eq!((stats.received, stats.duplicated), (35, 5));
    assert_eq!(
        (stats.lost, stats.late, concealed_in_stream(&played)),
        (0, 0, 0)
    );
}

#[test]
fn a_packet_later_than_its_playout_is_concealed_then_dropped_as_late() {
    let mut jb = buffer();
    let mut packets = steady(30, 10);
    // Frame 10 is due at 70 + 200 = 270 ms; it arrives at 300 ms.
    packets[10].arrival = at(300);
    packets.sort_by_key(|p| p.arrival);
    let played = replay(&mut jb, &packets, at(800));
    let slot = played.iter().position(|p| p.at == at(270)).unwrap();
    assert_eq!(played[slot].kind, FrameKind::Concealed);
    assert_eq!(played[slot + 1].kind, FrameKind::Audio);
    assert_eq!(played[slot + 1].id, code_of(11) - 0x80);
    let stats = jb.stats();
    assert_eq!(
        (stats.late, stats.lost, concealed_in_stream(&played)),
        (1, 1, 1)
    );
    assert_eq!(stats.audio_frames, 29);
}

/// A 200 Hz tone (period 40 samples) as µ-law frames.
fn tone_frame(n: u64) -> Vec<u8> {
    (0..FRAME_SAMPLES as u64)
        .map(|i| {
            let t = (n * FRAME_SAMPLES as u64 + i) as f64;
            let sample = (t * std::f64::consts::TAU / 40.0).sin() * 8_000.0;
            Codec::Pcmu.encode_sample(sample as i16)
        })
        .collect()
}

fn peak(samples: &[i16]) -> i32 {
    samples
        .iter()
        .map(|&s| i32::from(s).abs())
        .max()
        .unwrap_or(0)
}

#[test]
fn loss_is_concealed_by_repetition_fading_to_silence_after_60_ms_then_recovers() {
    let mut jb = buffer();
    let mut packets: Vec<Sent> = steady(40, 10);
    for (n, packet) in packets.iter_mut().enumerate() {
        packet.payload = tone_frame(n as u64);
    }
    // Frames 10..15 lost (100 ms), frame 25 lost alone.
    packets.retain(|p| {
        let n = p.seq.wrapping_sub(1000);
        !(10..15).contains(&n) && n != 25
    });
    let played = replay(&mut jb, &packets, at(1200));
    let kinds = kinds(&played);
    let start = played.iter().position(|p| p.at == at(270)).unwrap();
    assert_eq!(
        kinds[start - 1..start + 6],
        [
            FrameKind::Audio,
            FrameKind::Concealed,
            FrameKind::Concealed,
            FrameKind::Concealed,
            FrameKind::Silence,
            FrameKind::Silence,
            FrameKind::Audio,
        ]
    );
    let before = peak(&played[start - 1].samples);
    let conceal: Vec<i32> = (0..3).map(|k| peak(&played[start + k].samples)).collect();
    // Flat for 10 ms, then 20 % less per 10 ms: peaks at about 1, 0.8, 0.4 of the tone.
    assert!(conceal[0] >= before * 9 / 10, "{conceal:?} vs {before}");
    assert!(conceal[1] <= before * 85 / 100 && conceal[1] >= before * 7 / 10);
    assert!(conceal[2] <= before * 45 / 100 && conceal[2] >= before * 3 / 10);
    // The repetition continues the tone: the concealed frame correlates with it.
    let continued = &played[start].samples;
    let expected: Vec<i16> = (0..FRAME_SAMPLES)
        .map(|i| Codec::Pcmu.decode_sample(tone_frame(10)[i]))
        .collect();
    let error = continued[..80]
        .iter()
        .zip(&expected)
        .map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs())
        .max()
        .unwrap();
    assert!(error < 400, "repetition drifts from the tone by {error}");
    assert_eq!(played[start + 3].samples, [0; FRAME_SAMPLES]);
    // Recovery after silence fades in over 4 ms.
    let back = &played[start + 5].samples;
    assert_eq!(back[0], 0);
    assert!(peak(&back[..8]) < 2_000 && peak(&back[32..]) > 7_000);
    // A single loss: the seam into and out of the concealed frame has no jump larger
    // than the tone's own steepest step.
    let single = played.iter().position(|p| p.at == at(570)).unwrap();
    assert_eq!(kinds[single], FrameKind::Concealed);
    let steepest = (8_000.0 * std::f64::consts::TAU / 40.0) as i32 + 300;
    let seam: Vec<i16> = played[single - 1..=single + 1]
        .iter()
        .flat_map(|p| p.samples)
        .collect();
    let jump = seam
        .windows(2)
        .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
        .max()
        .unwrap();
    assert!(jump <= steepest, "jump {jump} > {steepest}");
    let stats = jb.stats();
    assert_eq!(
        (stats.lost, concealed_in_stream(&played), stats.late),
        (6, 4, 0)
    );
}

#[test]
fn sequence_and_timestamp_wrap_without_loss_or_reset() {
    let mut jb = buffer();
    let packets: Vec<Sent> = (0..30)
        .map(|n| audio(n, u16::MAX - 9, u32::MAX - 800, at(n * 20 + 10)))
        .collect();
    let played = replay(&mut jb, &packets, at(900));
    let expected: Vec<u8> = (0..30).map(|n| code_of(n) - 0x80).collect();
    assert_eq!(audio_ids(&played), expected);
    let stats = jb.stats();
    assert_eq!(
        (stats.resets, stats.lost, stats.late, stats.reordered),
        (0, 0, 0, 0)
    );
}

#[test]
fn ssrc_change_and_timestamp_jump_start_a_new_stream() {
    let mut jb = buffer();
    let mut packets = steady(20, 10);
    // A new source at 510 ms (the old one has drained) with unrelated numbering.
    packets.extend((0..20).map(|n| Sent {
        ssrc: 0xABCD,
        ..audio(n + 20, 7, 900_000, at(500 + n * 20 + 10))
    }));
    // Then the same source jumps 60 s ahead in timestamp.
    packets.extend((0..20).map(|n| Sent {
        ssrc: 0xABCD,
        ..audio(
            n + 40,
            27,
            900_000 + 20 * 160 + 480_000,
            at(1000 + n * 20 + 10),
        )
    }));
    let played = replay(&mut jb, &packets, at(1600));
    let expected: Vec<u8> = (0..60).map(|n| code_of(n) - 0x80).collect();
    assert_eq!(audio_ids(&played), expected);
    let stats = jb.stats();
    assert_eq!(stats.resets, 2);
    assert_eq!((stats.lost, stats.late), (0, 0));
}

#[test]
fn dtx_with_comfort_noise_plays_noise_not_concealment() {
    let mut jb = buffer();
    let mut packets = steady(20, 10);
    // Frame 20 is an RFC 3389 packet (level 50 dBov); the next talkspurt resumes 1 s
    // later in timestamps, with the next sequence number and the marker bit.
    packets.push(Sent {
        pt: CN_PAYLOAD_TYPE,
        payload: vec![50],
        ..audio(20, 1000, 50_000, at(20 * 20 + 10))
    });
    let resume_ts = 50_000 + 21 * 160 + 8_000;
    packets.extend((0..20).map(|n| Sent {
        seq: 1021 + n as u16,
        ts: resume_ts + n as u32 * 160,
        marker: n == 0,
        ..audio(n + 21, 1000, 50_000, at(21 * 20 + 1000 + n * 20 + 10))
    }));
    let played = replay(&mut jb, &packets, at(2400));
    assert_eq!(concealed_in_stream(&played), 0);
    let cn: Vec<&Played> = played
        .iter()
        .filter(|p| p.kind == FrameKind::ComfortNoise)
        .collect();
    assert!(cn.len() >= 45, "{} comfort noise frames", cn.len());
    assert!(cn.iter().all(|p| (1..=600).contains(&peak(&p.samples))));
    let expected: Vec<u8> = (0..20).chain(21..41).map(|n| code_of(n) - 0x80).collect();
    assert_eq!(audio_ids(&played), expected);
    let stats = jb.stats();
    assert_eq!(
        (stats.lost, stats.late, concealed_in_stream(&played)),
        (0, 0, 0)
    );
    assert_eq!(stats.talkspurts, 2);
}

#[test]
fn dtx_gap_without_comfort_noise_is_silence_and_no_loss() {
    let mut jb = buffer();
    let mut packets = steady(20, 10);
    let resume_ts = 50_000 + 20 * 160 + 8_000;
    packets.extend((0..20).map(|n| Sent {
        seq: 1020 + n as u16,
        ts: resume_ts + n as u32 * 160,
        marker: n == 0,
        ..audio(n + 20, 1000, 50_000, at(20 * 20 + 1000 + n * 20 + 10))
    }));
    let played = replay(&mut jb, &packets, at(2400));
    // Until the next packet shows no sequence gap, the end of the talkspurt cannot be
    // told from a loss: at most the 60 ms fade is concealment, then silence.
    let stats = jb.stats();
    assert!(concealed_in_stream(&played) <= 3, "{stats:?}");
    assert!(stats.silence_frames >= 45);
    assert_eq!((stats.lost, stats.late), (0, 0));
    let expected: Vec<u8> = (0..40).map(|n| code_of(n) - 0x80).collect();
    assert_eq!(audio_ids(&played), expected);
    assert!(played
        .iter()
        .filter(|p| p.kind == FrameKind::Silence)
        .all(|p| p.samples == [0; FRAME_SAMPLES]));
}

/// Deterministic xorshift in 0..bound.
fn rng(state: &mut u32, bound: u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    u64::from(*state) % bound
}

/// Talkspurts of `talk` frames separated by `gap` frames of DTX (one RFC 3389 packet,
/// then none; the next talkspurt has the next sequence number and the marker bit),
/// each packet arriving with `jitter(n)` ms of delay.
fn talkspurts(
    frames: u64,
    talk: u64,
    gap: u64,
    base: u64,
    mut jitter: impl FnMut(u64) -> u64,
) -> Vec<Sent> {
    let mut packets = Vec::new();
    let mut seq = 0u16;
    for n in 0..frames {
        if n % (talk + gap) > talk {
            continue;
        }
        if n % (talk + gap) == talk {
            packets.push(Sent {
                seq,
                pt: CN_PAYLOAD_TYPE,
                payload: vec![70],
                ..audio(n, 0, 0, at(n * 20 + base + jitter(n)))
            });
            seq = seq.wrapping_add(1);
            continue;
        }
        packets.push(Sent {
            seq,
            marker: n % (talk + gap) == 0,
            ..audio(n, 0, 0, at(n * 20 + base + jitter(n)))
        });
        seq = seq.wrapping_add(1);
    }
    packets.sort_by_key(|p| p.arrival);
    packets
}

#[test]
fn target_delay_follows_the_jitter_and_changes_at_talkspurt_starts() {
    let mut jb = buffer();
    let mut state = 7u32;
    // 30 s of 1 s talkspurts and 0.4 s pauses: the first 15 s with 0..60 ms of
    // uniform jitter, the rest with none.
    let packets = talkspurts(1500, 50, 20, 10, |n| {
        if n < 750 {
            rng(&mut state, 60)
        } else {
            0
        }
    });
    let (early, late_half): (Vec<Sent>, Vec<Sent>) =
        packets.into_iter().partition(|p| p.arrival < at(15_000));
    let played = replay(&mut jb, &early, at(15_000));
    let jittery = jb.stats().clone();
    assert!(
        (60..=120).contains(&jittery.target_delay.as_millis()),
        "{jittery:?}"
    );
    assert!(jittery.current_delay >= jittery.target_delay);
    assert!(jittery.current_delay <= Duration::from_millis(200));
    assert!(jittery.late * 100 <= jittery.received, "{jittery:?}");
    assert_eq!(
        jittery.drift_corrections, 0,
        "loud frames are never dropped"
    );
    assert!(jittery.gap_adjustments > 0);
    // Every concealed frame is a late packet (there is no loss).
    assert_eq!(concealed_in_stream(&played) as u64, jittery.late);

    let mut rest = late_half;
    rest.retain(|p| p.arrival >= at(15_000));
    replay(&mut jb, &rest, at(30_000));
    let calm = jb.stats();
    assert_eq!(calm.target_delay, Duration::from_millis(20), "{calm:?}");
    assert!(calm.current_delay < Duration::from_millis(45), "{calm:?}");
    assert!(calm.current_delay >= Duration::from_millis(20), "{calm:?}");
    assert_eq!(calm.late, jittery.late, "no late packets once calm");
}

/// One hour of a loss-free stream from a far end whose clock runs `ppm` fast (or
/// slow): 1 s of speech is 45 loud frames then 5 quiet ones, with 0..3 ms of jitter.
fn drift_hour(ppm: i64) -> JitterStats {
    let mut jb = buffer();
    let mut out = [0i16; FRAME_SAMPLES];
    let mut state = 99u32;
    let frames = 180_000u64;
    let period_ns = 20_000_000i64 * 1_000_000 / (1_000_000 + ppm);
    let mut min_delay = Duration::MAX;
    let mut max_delay = Duration::ZERO;
    let mut payload = [0u8; FRAME_SAMPLES];
    jb.handle_timeout(Time::ZERO);
    let mut next_frame = Time::ZERO;
    for n in 0..frames {
        let arrival = Time::from_micros(
            (n as i64 * period_ns / 1_000) as u64 + 10_000 + rng(&mut state, 3) * MS,
        );
        while next_frame <= arrival {
            jb.handle_timeout(next_frame);
            while let JitterOutput::Frame(_) = jb.poll_output(&mut out) {}
            next_frame = jb.next_frame_time().unwrap();
        }
        payload.fill(if n % 50 < 45 { 0x90 } else { 0xFF });
        let rtp = RtpPacket {
            payload_type: 0,
            marker: n == 0,
            sequence: n as u16,
            timestamp: (n * 160) as u32,
            ssrc: SSRC,
            payload: &payload,
        };
        jb.handle_packet(arrival, &rtp);
        while let JitterOutput::Frame(_) = jb.poll_output(&mut out) {}
        if n > 500 {
            min_delay = min_delay.min(jb.stats().current_delay);
            max_delay = max_delay.max(jb.stats().current_delay);
        }
    }
    assert!(max_delay <= Duration::from_millis(200), "max {max_delay:?}");
    assert!(min_delay >= Duration::from_millis(10), "min {min_delay:?}");
    jb.stats().clone()
}

#[test]
fn clock_drift_of_100_ppm_for_an_hour_neither_starves_nor_grows() {
    for ppm in [100, -100] {
        let stats = drift_hour(ppm);
        assert_eq!(stats.concealed_frames, 0, "{ppm} ppm: {stats:?}");
        assert_eq!((stats.lost, stats.late), (0, 0), "{ppm} ppm: {stats:?}");
        // 100 ppm of an hour is 360 ms: 18 frames, plus the move from the 60 ms start
        // delay to the 20 ms target when the far end runs fast.
        assert!(
            (15..=25).contains(&stats.drift_corrections),
            "{ppm} ppm: {stats:?}"
        );
        assert!(stats.current_delay >= stats.target_delay);
        assert!(stats.current_delay < stats.target_delay + Duration::from_millis(25));
    }
}

#[test]
fn other_payload_types_are_ignored() {
    let mut jb = buffer();
    let mut packets = steady(10, 10);
    packets.push(Sent {
        pt: 101,
        ..audio(3, 1000, 50_000, at(75))
    });
    packets.sort_by_key(|p| p.arrival);
    let played = replay(&mut jb, &packets, at(400));
    assert_eq!(audio_ids(&played).len(), 10);
    assert_eq!((jb.stats().ignored, jb.stats().received), (1, 10));
}

#[test]
fn a_late_caller_gets_every_due_frame_at_once() {
    let mut jb = buffer();
    let mut out = [0i16; FRAME_SAMPLES];
    jb.handle_timeout(at(0));
    jb.handle_timeout(at(100));
    let mut frames = 0;
    while let JitterOutput::Frame(_) = jb.poll_output(&mut out) {
        frames += 1;
    }
    assert_eq!(frames, 6);
    assert_eq!(jb.poll_output(&mut out), JitterOutput::Timeout(at(120)));
}

/// Frames 0..20 of audio, six telephone-event packets of one key press (RFC 4733:
/// one timestamp, 20 ms apart) where frames 20..26 would be, then audio again.
fn stream_with_a_key_press(reorder_events: bool) -> Vec<Sent> {
    let mut packets = steady(20, 10);
    let event_ts = 50_000 + 20 * 160;
    for i in 0..6u64 {
        packets.push(Sent {
            pt: 101,
            seq: 1020 + i as u16,
            ts: event_ts,
            marker: i == 0,
            payload: vec![1, 10, 0, 160],
            ..audio(20 + i, 1000, 50_000, at((20 + i) * 20 + 10))
        });
    }
    packets.extend((26..40).map(|n| audio(n, 1000, 50_000, at(n * 20 + 10))));
    if reorder_events {
        // The second and third event packets swap places.
        let (a, b) = (packets[21].arrival, packets[22].arrival);
        packets[21].arrival = b;
        packets[22].arrival = a;
        packets.sort_by_key(|p| p.arrival);
    }
    packets
}

#[test]
fn telephone_events_hold_sequence_numbers_without_loss_or_audio() {
    for reorder in [false, true] {
        let mut jb = JitterBuffer::new(
            JitterConfig {
                event_pt: Some(101),
                ..JitterConfig::default()
            },
            Codec::Pcmu,
        );
        let played = replay(&mut jb, &stream_with_a_key_press(reorder), at(1200));
        let stats = jb.stats().clone();
        assert_eq!((stats.received, stats.events), (40, 6));
        assert_eq!((stats.lost, stats.late), (0, 0), "{stats:?}");
        let expected: Vec<u8> = (0..20).chain(26..40).map(|n| code_of(n) - 0x80).collect();
        assert_eq!(audio_ids(&played), expected);
        assert_eq!(stats.reordered, u64::from(reorder));
    }
    // Without `event_pt` the same packets are ignored, and their numbers lost.
    let mut jb = buffer();
    replay(&mut jb, &stream_with_a_key_press(false), at(1200));
    assert_eq!((jb.stats().ignored, jb.stats().lost), (6, 6));
}

#[test]
fn without_decoding_the_stats_are_the_same_and_nothing_is_decoded() {
    let mut packets = steady(60, 10);
    packets[10].arrival = at(400);
    let (a, b) = (packets[20].arrival, packets[21].arrival);
    packets[20].arrival = b;
    packets[21].arrival = a;
    let copy = packets[30].clone();
    packets.push(copy);
    packets.remove(40);
    packets.sort_by_key(|p| p.arrival);
    let mut decoding = buffer();
    let played = replay(&mut decoding, &packets, at(1600));
    let mut counting = buffer();
    counting.set_decoding(false);
    assert!(!counting.is_decoding());
    let counted = replay(&mut counting, &packets, at(1600));
    assert_eq!(kinds(&played), kinds(&counted));
    let (with, without) = (decoding.stats(), counting.stats());
    assert_eq!(with.decoded_frames, 58);
    assert_eq!(without.decoded_frames, 0);
    assert_eq!(
        JitterStats {
            decoded_frames: 0,
            ..with.clone()
        },
        *without
    );
    assert_eq!(
        (
            without.lost,
            without.late,
            without.reordered,
            without.duplicated
        ),
        (2, 1, 2, 1)
    );
}
