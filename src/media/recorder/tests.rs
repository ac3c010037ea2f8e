//! Recorder tests, driven by a fake clock: frames at 20 ms steps.

use std::net::SocketAddr;
use std::time::Duration;

use super::*;
use crate::media::g711::ulaw_encode;
use crate::media::{Codec, MediaConfig, MediaOutput, MediaSession};

const START: Time = Time::from_millis(5_000);

fn tone(amplitude: i16) -> Vec<i16> {
    (0..FRAME_SAMPLES)
        .map(|i| {
            let phase = (i as f64) * 2.0 * std::f64::consts::PI * 400.0 / 8000.0;
            (phase.sin() * f64::from(amplitude)) as i16
        })
        .collect()
}

fn at(frame: u64) -> Time {
    START + FRAME * u32::try_from(frame).unwrap()
}

/// Feeds `frames` caller frames from frame index `from` and returns every output.
fn feed(recorder: &mut Recorder, from: u64, frames: u64, frame: &[i16]) -> Vec<RecorderOutput> {
    let mut outputs = Vec::new();
    for n in from..from + frames {
        recorder.handle_frame(at(n), Party::Caller, frame);
        while let Some(output) = recorder.poll_output() {
            outputs.push(output);
        }
    }
    outputs
}

fn samples_of(outputs: &[RecorderOutput]) -> usize {
    outputs
        .iter()
        .map(|o| match o {
            RecorderOutput::Chunk(samples) => samples.len(),
            RecorderOutput::Ended(_) => 0,
        })
        .sum()
}

fn ended(outputs: &[RecorderOutput]) -> Option<StopReason> {
    outputs.iter().find_map(|o| match o {
        RecorderOutput::Ended(reason) => Some(*reason),
        RecorderOutput::Chunk(_) => None,
    })
}

#[test]
fn chunks_are_two_hundred_ms_and_the_rest_comes_at_the_stop() {
    let mut recorder = Recorder::new(RecorderSettings::default(), Duration::ZERO);
    let outputs = feed(&mut recorder, 0, 25, &tone(3000));
    assert_eq!(outputs.len(), 2, "two full chunks after 25 frames");
    for output in &outputs {
        assert!(
            matches!(output, RecorderOutput::Chunk(s) if s.len() == CHUNK_FRAMES * FRAME_SAMPLES)
        );
    }
    recorder.stop(StopReason::Stopped);
    let rest: Vec<_> = std::iter::from_fn(|| recorder.poll_output()).collect();
    assert!(matches!(&rest[0], RecorderOutput::Chunk(s) if s.len() == 5 * FRAME_SAMPLES));
    assert_eq!(rest[1], RecorderOutput::Ended(StopReason::Stopped));
    assert_eq!(recorder.counters().frames, 25);
    assert_eq!(recorder.counters().duration(), Duration::from_millis(500));
    assert_eq!(recorder.started_at(), Some(START));
    // Frames after the end are ignored.
    recorder.handle_frame(at(26), Party::Caller, &tone(3000));
    assert_eq!(recorder.poll_output(), None);
    assert_eq!(recorder.counters().frames, 25);
}

#[test]
fn recycled_buffers_stop_the_allocations() {
    let mut recorder = Recorder::new(RecorderSettings::default(), Duration::ZERO);
    let frame = tone(3000);
    for n in 0..200 {
        recorder.handle_frame(at(n), Party::Caller, &frame);
        while let Some(output) = recorder.poll_output() {
            if let RecorderOutput::Chunk(buffer) = output {
                recorder.recycle(buffer);
            }
        }
    }
    assert_eq!(recorder.counters().chunks, 20);
    assert_eq!(
        recorder.counters().allocations,
        1,
        "one spare buffer, then reuse"
    );
}

#[test]
fn max_duration_ends_on_the_last_frame_allowed() {
    let settings = RecorderSettings {
        max_duration: Some(Duration::from_secs(2)),
        ..RecorderSettings::default()
    };
    let mut recorder = Recorder::new(settings, Duration::ZERO);
    let outputs = feed(&mut recorder, 0, 150, &tone(3000));
    assert_eq!(ended(&outputs), Some(StopReason::MaxDuration));
    assert_eq!(samples_of(&outputs), 100 * FRAME_SAMPLES);
    assert_eq!(recorder.counters().duration(), Duration::from_secs(2));
}

#[test]
fn silence_ends_after_the_end_of_silence_time_and_speech_resets_it() {
    let settings = RecorderSettings {
        end_of_silence: Some(Duration::from_secs(1)),
        ..RecorderSettings::default()
    };
    let mut recorder = Recorder::new(settings, Duration::ZERO);
    let quiet = tone(40);
    let mut outputs = feed(&mut recorder, 0, 40, &quiet);
    outputs.extend(feed(&mut recorder, 40, 10, &tone(4000)));
    outputs.extend(feed(&mut recorder, 50, 40, &quiet));
    assert_eq!(ended(&outputs), None, "0.8 s of silence is not enough");
    outputs.extend(feed(&mut recorder, 90, 30, &quiet));
    assert_eq!(ended(&outputs), Some(StopReason::Silence));
    assert_eq!(
        recorder.counters().frames,
        100,
        "ends on the 50th silent frame"
    );
}

#[test]
fn the_end_key_ends_and_other_keys_do_not() {
    let settings = RecorderSettings {
        end_of_key: Some('#'),
        ..RecorderSettings::default()
    };
    let mut recorder = Recorder::new(settings, Duration::ZERO);
    let mut outputs = feed(&mut recorder, 0, 12, &tone(3000));
    recorder.handle_digit('5');
    assert!(!recorder.is_ended());
    recorder.handle_digit('#');
    outputs.extend(std::iter::from_fn(|| recorder.poll_output()));
    assert_eq!(ended(&outputs), Some(StopReason::Key('#')));
    assert_eq!(samples_of(&outputs), 12 * FRAME_SAMPLES);
}

#[test]
fn the_lead_in_skips_the_beep() {
    let mut recorder = Recorder::new(RecorderSettings::default(), Duration::from_millis(300));
    feed(&mut recorder, 0, 20, &tone(3000));
    assert_eq!(recorder.counters().skipped_frames, 15);
    assert_eq!(recorder.counters().frames, 5);
    assert_eq!(recorder.started_at(), Some(at(15)));
}

#[test]
fn dual_puts_the_caller_left_and_the_other_party_right_and_mono_mixes() {
    let caller = vec![1000i16; FRAME_SAMPLES];
    let other = vec![-300i16; FRAME_SAMPLES];
    for (layout, expect) in [(Layout::Dual, vec![1000, -300]), (Layout::Mono, vec![700])] {
        let settings = RecorderSettings {
            layout,
            ..RecorderSettings::default()
        };
        let mut recorder = Recorder::new(settings, Duration::ZERO);
        recorder.handle_frame(at(0), Party::Other, &other);
        recorder.handle_frame(at(0), Party::Caller, &caller);
        // No other-party frame this time: its side is silence.
        recorder.handle_frame(at(1), Party::Caller, &caller);
        recorder.stop(StopReason::CallEnded);
        let Some(RecorderOutput::Chunk(samples)) = recorder.poll_output() else {
            panic!("a chunk");
        };
        let per = layout.channels();
        assert_eq!(samples.len(), 2 * FRAME_SAMPLES * per);
        assert_eq!(&samples[..per], &expect[..], "{layout:?}");
        let second = &samples[FRAME_SAMPLES * per..FRAME_SAMPLES * per + per];
        assert_eq!(second[0], 1000);
        if per == 2 {
            assert_eq!(second[1], 0);
        }
    }
}

#[test]
fn short_or_long_frames_keep_twenty_ms_each() {
    let mut recorder = Recorder::new(RecorderSettings::default(), Duration::ZERO);
    recorder.handle_frame(at(0), Party::Caller, &[500; 40]);
    recorder.handle_frame(at(1), Party::Caller, &[500; 400]);
    recorder.handle_frame(at(2), Party::Caller, &[]);
    recorder.stop(StopReason::Stopped);
    let outputs: Vec<_> = std::iter::from_fn(|| recorder.poll_output()).collect();
    assert_eq!(samples_of(&outputs), 3 * FRAME_SAMPLES);
}

fn remote() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 10], 40_000))
}

fn rtp(sequence: u16, timestamp: u32, pcm: &[i16]) -> Vec<u8> {
    let mut packet = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0xCA, 0xFE, 0, 1];
    packet[2..4].copy_from_slice(&sequence.to_be_bytes());
    packet[4..8].copy_from_slice(&timestamp.to_be_bytes());
    packet.extend(pcm.iter().map(|&s| ulaw_encode(s)));
    packet
}

/// A caller sends 3 s of tone in 20 ms packets, a tenth of them lost and some
/// reordered; the recording made from the jitter buffer's frames is 3 s long
/// (give or take the buffer's delay), the tone where packets came.
#[test]
fn loss_and_reordering_keep_the_timeline() {
    let mut media = MediaSession::new(
        MediaConfig {
            codec: Codec::Pcmu,
            codec_pt: 0,
            dtmf_pt: None,
            remote: remote(),
            ssrc: 7,
            initial_sequence: 1,
            initial_timestamp: 1,
            jitter_min: MediaConfig::JITTER_MIN,
            jitter_max: MediaConfig::JITTER_MAX,
            rtcp_mux: false,
            ntp_at_zero: 0,
            rtcp_seed: 1,
        },
        START,
    );
    media.subscribe_audio();
    let mut recorder = Recorder::new(RecorderSettings::default(), Duration::ZERO);
    let frame = tone(6000);
    let mut buf = vec![0u8; 1500];
    let mut written = Vec::new();
    let mut held: Option<Vec<u8>> = None;
    let sent_frames = 150u32;
    for n in 0..sent_frames + 20 {
        let now = START + FRAME * n;
        if n < sent_frames && n % 10 != 3 {
            let packet = rtp(n as u16, n * 160, &frame);
            if n % 10 == 6 {
                held = Some(packet); // arrives after the next one
            } else {
                media.handle_rtp(now, remote(), &packet);
                if let Some(late) = held.take() {
                    media.handle_rtp(now, remote(), &late);
                }
            }
        }
        media.handle_timeout(now);
        loop {
            match media.poll_output(&mut buf) {
                MediaOutput::Audio(_) => {
                    let pcm = *media.received_audio();
                    recorder.handle_frame(now, Party::Caller, &pcm);
                }
                MediaOutput::Timeout(_) => break,
                _ => {}
            }
        }
        while let Some(output) = recorder.poll_output() {
            if let RecorderOutput::Chunk(samples) = output {
                written.extend(samples);
            }
        }
    }
    recorder.stop(StopReason::CallEnded);
    while let Some(output) = recorder.poll_output() {
        if let RecorderOutput::Chunk(samples) = output {
            written.extend(samples);
        }
    }
    let frames = written.len() / FRAME_SAMPLES;
    // Every 20 ms of the call is a frame (the first ones wait for the buffer's delay).
    assert!(
        (150..=171).contains(&frames),
        "{frames} frames for 3.4 s of call"
    );
    // Loud frames where packets came (concealment fills the lost ones too).
    let loud = written
        .chunks(FRAME_SAMPLES)
        .filter(|f| !is_silent(f, 1000))
        .count();
    assert!(loud >= 135, "{loud} loud frames");
}
