//! The mixer on a fake clock: mix-minus, mute, deaf, gain, saturation, tones,
//! the recording feed and the tick.

use super::*;

const A: ParticipantId = ParticipantId(1);
const B: ParticipantId = ParticipantId(2);
const C: ParticipantId = ParticipantId(3);

/// A mixer with `ids` joined and their join tones over.
fn conference(ids: &[ParticipantId]) -> (Mixer, Time) {
    let mut mixer = Mixer::new(8, Time::ZERO);
    for id in ids {
        mixer.join(*id).unwrap();
    }
    let mut now = Time::ZERO;
    for _ in 0..BEEP_FRAMES * 2 {
        tick(&mut mixer, now);
        now += MIX_INTERVAL;
    }
    (mixer, now)
}

/// Runs a tick at `now` and drains it; returns the outputs in order.
fn tick(mixer: &mut Mixer, now: Time) -> Vec<MixerOutput> {
    mixer.handle_timeout(now);
    let mut outputs = Vec::new();
    loop {
        let output = mixer.poll_output();
        outputs.push(output);
        if matches!(output, MixerOutput::Timeout(_)) {
            return outputs;
        }
    }
}

fn constant(value: i16) -> Frame {
    [value; FRAME_SAMPLES]
}

#[test]
fn nobody_hears_themselves() {
    let (mut mixer, now) = conference(&[A, B, C]);
    mixer.handle_frame(A, &constant(100)).unwrap();
    mixer.handle_frame(B, &constant(20)).unwrap();
    mixer.handle_frame(C, &constant(3)).unwrap();
    tick(&mut mixer, now);
    assert_eq!(mixer.frame_for(A), Some(&constant(23)));
    assert_eq!(mixer.frame_for(B), Some(&constant(103)));
    assert_eq!(mixer.frame_for(C), Some(&constant(120)));
}

#[test]
fn a_tick_yields_every_frame_then_the_recording_then_the_next_tick() {
    let (mut mixer, now) = conference(&[A, B]);
    mixer.set_recording(true);
    mixer.handle_frame(A, &constant(7)).unwrap();
    mixer.handle_frame(B, &constant(5)).unwrap();
    let outputs = tick(&mut mixer, now);
    assert_eq!(outputs.len(), 4);
    assert!(outputs.contains(&MixerOutput::Frame(A)));
    assert!(outputs.contains(&MixerOutput::Frame(B)));
    assert_eq!(outputs[2], MixerOutput::Recording);
    assert_eq!(outputs[3], MixerOutput::Timeout(now + MIX_INTERVAL));
    assert_eq!(mixer.recording_frame(), &constant(12));
    // Before the next tick is due nothing is mixed.
    assert_eq!(tick(&mut mixer, now + Duration::from_millis(5)).len(), 1);
}

#[test]
fn a_muted_participant_is_heard_by_nobody_but_hears_everyone() {
    let (mut mixer, now) = conference(&[A, B, C]);
    mixer.set_muted(A, true).unwrap();
    mixer.set_recording(true);
    mixer.handle_frame(A, &constant(100)).unwrap();
    mixer.handle_frame(B, &constant(20)).unwrap();
    mixer.handle_frame(C, &constant(3)).unwrap();
    tick(&mut mixer, now);
    assert_eq!(mixer.frame_for(A), Some(&constant(23)));
    assert_eq!(mixer.frame_for(B), Some(&constant(3)));
    assert_eq!(mixer.frame_for(C), Some(&constant(20)));
    assert_eq!(mixer.recording_frame(), &constant(23));
}

#[test]
fn a_deaf_participant_hears_nothing_but_is_heard() {
    let (mut mixer, now) = conference(&[A, B]);
    mixer.set_deaf(A, true).unwrap();
    mixer.handle_frame(A, &constant(100)).unwrap();
    mixer.handle_frame(B, &constant(20)).unwrap();
    tick(&mut mixer, now);
    assert_eq!(mixer.frame_for(A), Some(&constant(0)));
    assert_eq!(mixer.frame_for(B), Some(&constant(100)));
    // A deaf participant hears no tones either.
    mixer.join(C).unwrap();
    tick(&mut mixer, now + MIX_INTERVAL);
    assert_eq!(mixer.frame_for(A), Some(&constant(0)));
}

#[test]
fn gain_scales_what_a_participant_says() {
    let (mut mixer, now) = conference(&[A, B]);
    mixer.set_gain_db(A, 6.0206).unwrap();
    mixer.set_gain_db(B, -6.0206).unwrap();
    mixer.handle_frame(A, &constant(1000)).unwrap();
    mixer.handle_frame(B, &constant(1000)).unwrap();
    tick(&mut mixer, now);
    assert_eq!(mixer.frame_for(B), Some(&constant(2000)));
    assert_eq!(mixer.frame_for(A), Some(&constant(500)));
    assert_eq!(
        mixer.set_gain_db(A, 30.0),
        Err(MixerError::GainOutOfRange(30.0))
    );
    assert!(mixer.set_gain_db(A, f32::NAN).is_err());
}

#[test]
fn loud_sums_saturate_and_are_counted() {
    let (mut mixer, now) = conference(&[A, B, C]);
    mixer.handle_frame(A, &constant(30_000)).unwrap();
    mixer.handle_frame(B, &constant(30_000)).unwrap();
    mixer.handle_frame(C, &constant(-30_000)).unwrap();
    tick(&mut mixer, now);
    assert_eq!(mixer.frame_for(C), Some(&constant(i16::MAX)));
    assert_eq!(mixer.frame_for(A), Some(&constant(0)));
    let negative = [i16::MIN; FRAME_SAMPLES];
    mixer.handle_frame(A, &negative).unwrap();
    mixer.handle_frame(B, &negative).unwrap();
    tick(&mut mixer, now + MIX_INTERVAL);
    assert_eq!(mixer.frame_for(C), Some(&negative));
    assert_eq!(mixer.stats().clipped_samples, 2 * FRAME_SAMPLES as u64);
}

#[test]
fn a_participant_that_sent_nothing_is_silence_and_counted() {
    let (mut mixer, now) = conference(&[A, B]);
    let before = mixer.stats().missing_frames;
    mixer.handle_frame(A, &constant(9)).unwrap();
    tick(&mut mixer, now);
    assert_eq!(mixer.frame_for(A), Some(&constant(0)));
    assert_eq!(mixer.frame_for(B), Some(&constant(9)));
    assert_eq!(mixer.stats().missing_frames, before + 1);
    // A frame is used by one tick only.
    tick(&mut mixer, now + MIX_INTERVAL);
    assert_eq!(mixer.frame_for(B), Some(&constant(0)));
}

#[test]
fn join_and_leave_tones_are_heard_for_two_beeps() {
    let (mut mixer, mut now) = conference(&[A]);
    mixer.join(B).unwrap();
    let mut loud_frames = 0;
    for _ in 0..BEEP_FRAMES * 2 + 2 {
        tick(&mut mixer, now);
        let frame = mixer.frame_for(A).unwrap();
        let peak = frame.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        if peak > 1000 {
            loud_frames += 1;
        }
        now += MIX_INTERVAL;
    }
    assert_eq!(loud_frames, BEEP_FRAMES * 2);
    mixer.set_recording(true);
    mixer.leave(B).unwrap();
    tick(&mut mixer, now);
    assert!(mixer.frame_for(A).unwrap().iter().any(|s| s.abs() > 1000));
    assert_eq!(mixer.frame_for(B), None);
    assert!(
        mixer.recording_frame().iter().all(|s| *s == 0),
        "tones stay out of the recording"
    );
}

#[test]
fn unknown_participants_and_a_full_conference_are_errors() {
    let mut mixer = Mixer::new(2, Time::ZERO);
    mixer.join(A).unwrap();
    mixer.join(B).unwrap();
    assert_eq!(mixer.join(C), Err(MixerError::Full(2)));
    assert_eq!(
        mixer.handle_frame(C, &constant(0)),
        Err(MixerError::UnknownParticipant(C))
    );
    assert_eq!(mixer.leave(C), Err(MixerError::UnknownParticipant(C)));
    assert_eq!(
        mixer.set_muted(C, true),
        Err(MixerError::UnknownParticipant(C))
    );
    mixer.leave(A).unwrap();
    assert_eq!(mixer.len(), 1);
}

#[test]
fn a_late_wakeup_mixes_once_and_keeps_the_grid() {
    let (mut mixer, now) = conference(&[A, B]);
    let before = mixer.stats().ticks;
    let outputs = tick(&mut mixer, now + Duration::from_millis(65));
    assert_eq!(mixer.stats().ticks, before + 1);
    assert_eq!(
        outputs.last(),
        Some(&MixerOutput::Timeout(now + Duration::from_millis(80)))
    );
}

#[test]
fn a_second_frame_before_the_tick_replaces_the_first() {
    let (mut mixer, now) = conference(&[A, B]);
    mixer.handle_frame(A, &constant(1)).unwrap();
    mixer.handle_frame(A, &constant(2)).unwrap();
    tick(&mut mixer, now);
    assert_eq!(mixer.frame_for(B), Some(&constant(2)));
    assert_eq!(mixer.stats().overwritten_frames, 1);
}
