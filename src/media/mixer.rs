//! The conference mixer: N participants on one shard, each sending a 20 ms
//! frame of 8 kHz audio and getting back the mix of everyone else
//! (mix-minus), with per-participant mute (heard by nobody), deaf (hears
//! nothing) and gain, join and leave tones, and the whole mix for a recording.
//!
//! Mix-minus costs O(N) per frame, not O(N²): one total of every heard
//! contribution (in `i32`, so it cannot overflow), then each participant's
//! frame is that total less its own contribution, saturated to `i16`. The
//! cost per participant stays flat as the conference grows
//! (`benches/media.rs`, `mixer/*`).
//!
//! Sans-IO, the house shape: frames go in through [`Mixer::handle_frame`],
//! the 20 ms tick through [`Mixer::handle_timeout`], and [`Mixer::poll_output`]
//! yields each participant's frame, then the recording frame, then the next
//! tick. A participant that sent nothing for a tick contributes silence (its
//! frame is consumed by the tick). Participants on other shards reach the
//! mixer over the bounded channels of [`crate::media::mixer_link`].
//!
//! The join and leave tones are two short sine beeps (rising for a join,
//! falling for a leave) made here by a phase accumulator: small enough not
//! to need the prompt catalog, and heard by every participant but deaf ones.

use std::time::Duration;

use crate::media::codec::FRAME_SAMPLES;
use crate::time::Time;

/// One 20 ms frame of 8 kHz audio.
pub type Frame = [i16; FRAME_SAMPLES];

/// The mixer's tick: one frame.
pub const MIX_INTERVAL: Duration = Duration::from_millis(20);
/// Gain is applied in Q12 fixed point (4096 = unity).
const GAIN_ONE: i32 = 1 << 12;
/// The highest gain a participant may be given, in dB.
pub const MAX_GAIN_DB: f32 = 24.0;
/// The lowest gain, in dB (below it the participant is as good as muted).
pub const MIN_GAIN_DB: f32 = -60.0;
/// Peak amplitude of the join and leave beeps (about -16 dBFS).
const TONE_PEAK: f32 = 5_000.0;
/// Each beep of a join or leave tone: 100 ms.
const BEEP_FRAMES: u32 = 5;
/// The two beeps' pitches of a join tone (a leave tone plays them reversed).
const JOIN_PITCHES_HZ: [f32; 2] = [660.0, 880.0];

/// A participant's handle in one mixer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(pub u32);

/// Why a mixer refused a request.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
pub enum MixerError {
    /// No participant has this id.
    #[error("no participant {0:?} in the conference")]
    UnknownParticipant(ParticipantId),
    /// The conference holds its maximum of participants.
    #[error("the conference is full ({0} participants)")]
    Full(usize),
    /// A gain outside [`MIN_GAIN_DB`]..=[`MAX_GAIN_DB`] (or not a number).
    #[error("gain {0} dB is outside -60..=24 dB")]
    GainOutOfRange(f32),
}

/// What the mixer wants done next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MixerOutput {
    /// The participant's mix-minus frame for this tick is ready: read it with
    /// [`Mixer::frame_for`] before polling again.
    Frame(ParticipantId),
    /// The whole mix of this tick (every unmuted participant, no tones), for
    /// a recording: [`Mixer::recording_frame`].
    Recording,
    /// Nothing more until this instant: call [`Mixer::handle_timeout`] then.
    Timeout(Time),
}

/// Counters of a mixer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MixerStats {
    /// Ticks mixed.
    pub ticks: u64,
    /// Samples that went past full scale and were saturated.
    pub clipped_samples: u64,
    /// Ticks at which a participant had sent no frame (silence was mixed).
    pub missing_frames: u64,
    /// Frames replaced before a tick took them (the sender ran ahead).
    pub overwritten_frames: u64,
}

/// One participant's state.
#[derive(Debug)]
struct Participant {
    id: ParticipantId,
    /// Its frame for the next tick, and whether one came.
    input: Frame,
    has_input: bool,
    /// What it contributes to the total at this tick (after gain).
    contribution: [i32; FRAME_SAMPLES],
    /// Its mix-minus frame of this tick.
    output: Frame,
    muted: bool,
    deaf: bool,
    /// Q12.
    gain: i32,
}

/// A join or leave tone being played.
#[derive(Clone, Copy, Debug)]
struct Tone {
    pitches: [f32; 2],
    frame: u32,
    phase: f32,
}

/// The conference mixer of one shard. See the module documentation.
#[derive(Debug)]
pub struct Mixer {
    participants: Vec<Participant>,
    capacity: usize,
    next_tick: Time,
    /// The sum of every heard contribution at this tick.
    total: [i32; FRAME_SAMPLES],
    /// The tone heard at this tick (all zero when none plays).
    tone_bus: [i32; FRAME_SAMPLES],
    tones: Vec<Tone>,
    recording: Frame,
    /// The tick was mixed and its outputs not all returned: the next index
    /// `poll_output` returns (`participants.len()`: the recording frame).
    pending: Option<usize>,
    record: bool,
    stats: MixerStats,
}

impl Mixer {
    /// A mixer for at most `capacity` participants whose first tick is at `now`.
    /// Storage for them is reserved here: joins allocate nothing.
    pub fn new(capacity: usize, now: Time) -> Mixer {
        Mixer {
            participants: Vec::with_capacity(capacity),
            capacity,
            next_tick: now,
            total: [0; FRAME_SAMPLES],
            tone_bus: [0; FRAME_SAMPLES],
            tones: Vec::with_capacity(4),
            recording: [0; FRAME_SAMPLES],
            pending: None,
            record: false,
            stats: MixerStats::default(),
        }
    }

    /// Adds a participant (unmuted, hearing, unity gain); everyone hears the join tone.
    pub fn join(&mut self, id: ParticipantId) -> Result<(), MixerError> {
        if self.index(id).is_some() {
            return Ok(());
        }
        if self.participants.len() >= self.capacity {
            return Err(MixerError::Full(self.capacity));
        }
        self.participants.push(Participant {
            id,
            input: [0; FRAME_SAMPLES],
            has_input: false,
            contribution: [0; FRAME_SAMPLES],
            output: [0; FRAME_SAMPLES],
            muted: false,
            deaf: false,
            gain: GAIN_ONE,
        });
        self.start_tone(JOIN_PITCHES_HZ);
        Ok(())
    }

    /// Removes a participant; the others hear the leave tone.
    pub fn leave(&mut self, id: ParticipantId) -> Result<(), MixerError> {
        let index = self.index(id).ok_or(MixerError::UnknownParticipant(id))?;
        self.participants.swap_remove(index);
        // A tick half returned is finished without the one who left.
        self.pending = self.pending.map(|_| 0);
        let [low, high] = JOIN_PITCHES_HZ;
        self.start_tone([high, low]);
        Ok(())
    }

    /// Participants in the conference.
    pub fn len(&self) -> usize {
        self.participants.len()
    }

    /// Nobody is in the conference.
    pub fn is_empty(&self) -> bool {
        self.participants.is_empty()
    }

    /// Muted: nobody hears the participant (it still hears the others).
    pub fn set_muted(&mut self, id: ParticipantId, muted: bool) -> Result<(), MixerError> {
        self.participant(id)?.muted = muted;
        Ok(())
    }

    /// Deaf: the participant hears nothing, tones included (it is still heard).
    pub fn set_deaf(&mut self, id: ParticipantId, deaf: bool) -> Result<(), MixerError> {
        self.participant(id)?.deaf = deaf;
        Ok(())
    }

    /// The gain applied to what the participant says, in dB.
    pub fn set_gain_db(&mut self, id: ParticipantId, gain_db: f32) -> Result<(), MixerError> {
        if !(MIN_GAIN_DB..=MAX_GAIN_DB).contains(&gain_db) {
            return Err(MixerError::GainOutOfRange(gain_db));
        }
        let linear = 10f32.powf(gain_db / 20.0);
        self.participant(id)?.gain = (linear * GAIN_ONE as f32).round() as i32;
        Ok(())
    }

    /// Whether the tick yields the whole mix for a recording.
    pub fn set_recording(&mut self, on: bool) {
        self.record = on;
    }

    /// The participant's frame for the next tick (a second one before the
    /// tick replaces the first, counted).
    pub fn handle_frame(&mut self, id: ParticipantId, frame: &Frame) -> Result<(), MixerError> {
        let participant = self.participant(id)?;
        if participant.has_input {
            self.stats.overwritten_frames += 1;
        }
        let participant = self.participant(id)?;
        participant.input = *frame;
        participant.has_input = true;
        Ok(())
    }

    /// Mixes the tick if it is due at `now`. A mixer woken late mixes once
    /// and moves its tick on to the next 20 ms after `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        if now < self.next_tick {
            return;
        }
        self.mix();
        let mut next = self.next_tick + MIX_INTERVAL;
        if next <= now {
            let behind = now.saturating_since(self.next_tick).as_micros() as u64;
            let step = MIX_INTERVAL.as_micros() as u64;
            next = self.next_tick + Duration::from_micros((behind / step + 1) * step);
        }
        self.next_tick = next;
        self.pending = Some(0);
    }

    /// The next output: each participant's frame of the tick just mixed, then
    /// the recording frame (when recording), then the next tick.
    pub fn poll_output(&mut self) -> MixerOutput {
        if let Some(index) = self.pending {
            if let Some(participant) = self.participants.get(index) {
                self.pending = Some(index + 1);
                return MixerOutput::Frame(participant.id);
            }
            self.pending = None;
            if self.record {
                return MixerOutput::Recording;
            }
        }
        MixerOutput::Timeout(self.next_tick)
    }

    /// The participant's mix-minus frame of the last tick.
    pub fn frame_for(&self, id: ParticipantId) -> Option<&Frame> {
        self.index(id).map(|index| &self.participants[index].output)
    }

    /// The whole mix of the last tick.
    pub fn recording_frame(&self) -> &Frame {
        &self.recording
    }

    /// The counters.
    pub fn stats(&self) -> MixerStats {
        self.stats
    }

    /// One tick: the total, then every participant's frame as the total less
    /// its own contribution.
    fn mix(&mut self) {
        self.stats.ticks += 1;
        self.total = [0; FRAME_SAMPLES];
        for participant in &mut self.participants {
            if !participant.has_input {
                self.stats.missing_frames += 1;
                participant.input = [0; FRAME_SAMPLES];
            }
            participant.has_input = false;
            let gain = if participant.muted {
                0
            } else {
                participant.gain
            };
            for ((own, total), sample) in participant
                .contribution
                .iter_mut()
                .zip(self.total.iter_mut())
                .zip(participant.input.iter())
            {
                *own = (i32::from(*sample) * gain) >> 12;
                *total += *own;
            }
        }
        self.fill_tone_bus();
        let mut clipped = 0u64;
        for participant in &mut self.participants {
            if participant.deaf {
                participant.output = [0; FRAME_SAMPLES];
                continue;
            }
            for (((out, total), own), tone) in participant
                .output
                .iter_mut()
                .zip(self.total.iter())
                .zip(participant.contribution.iter())
                .zip(self.tone_bus.iter())
            {
                *out = saturate(total - own + tone, &mut clipped);
            }
        }
        if self.record {
            for (out, total) in self.recording.iter_mut().zip(self.total.iter()) {
                *out = saturate(*total, &mut clipped);
            }
        }
        self.stats.clipped_samples += clipped;
    }

    /// The tones of this tick into the tone bus; finished tones are dropped.
    fn fill_tone_bus(&mut self) {
        self.tone_bus = [0; FRAME_SAMPLES];
        for tone in &mut self.tones {
            let beep = (tone.frame / BEEP_FRAMES) as usize;
            let Some(pitch) = tone.pitches.get(beep) else {
                continue;
            };
            let step = std::f32::consts::TAU * pitch / crate::media::codec::SAMPLE_RATE as f32;
            for sample in self.tone_bus.iter_mut() {
                *sample += (tone.phase.sin() * TONE_PEAK) as i32;
                tone.phase = (tone.phase + step) % std::f32::consts::TAU;
            }
            tone.frame += 1;
        }
        let frames = BEEP_FRAMES * JOIN_PITCHES_HZ.len() as u32;
        self.tones.retain(|tone| tone.frame < frames);
    }

    fn start_tone(&mut self, pitches: [f32; 2]) {
        self.tones.push(Tone {
            pitches,
            frame: 0,
            phase: 0.0,
        });
    }

    fn index(&self, id: ParticipantId) -> Option<usize> {
        self.participants.iter().position(|p| p.id == id)
    }

    fn participant(&mut self, id: ParticipantId) -> Result<&mut Participant, MixerError> {
        self.participants
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or(MixerError::UnknownParticipant(id))
    }
}

/// `value` clamped to `i16`, counting a clamp in `clipped`.
fn saturate(value: i32, clipped: &mut u64) -> i16 {
    match i16::try_from(value) {
        Ok(sample) => sample,
        Err(_) => {
            *clipped += 1;
            value.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
        }
    }
}

#[cfg(test)]
#[path = "mixer_tests.rs"]
mod tests;
