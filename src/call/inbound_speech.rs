//! The speech side of one inbound call: a play or gather whose audio holds
//! free text that no catalog prompt speaks asks for synthesis
//! ([`CallOutput::Speech`](super::CallOutput::Speech)) and waits, keeping the
//! play or gather it will start; the prompts come back through
//! [`Call::speech_done`]. A synthesis error, or no answer by the deadline
//! (`[speech] timeout_ms`), takes the node's failure outcome. Without a speech
//! engine, free text fails at once as before.

use std::sync::Arc;

use super::{Activity, Call};
use crate::call::gather::{Gather, GatherLimits};
use crate::call::speech::{SpeechResult, SpeechWanted};
use crate::flow::{Audio, Outcome};
use crate::media::Prompt;
use crate::time::Time;

/// One piece of a play's or gather's audio.
#[derive(Debug)]
pub(super) enum Slot {
    /// Known now (a catalog prompt, a beep, a synthesized sentence).
    Ready(Arc<Prompt>),
    /// Being synthesized under this request number.
    Speaking(u64),
}

/// What starts once every slot is ready.
#[derive(Debug)]
pub(super) enum AfterSpeech {
    /// Play the prompts `times` times.
    Play {
        /// Repetitions (at least one).
        times: u32,
    },
    /// Gather digits over the prompts.
    Gather(GatherLimits),
}

/// A play or gather waiting for its speech.
#[derive(Debug)]
pub(super) struct PendingSpeech {
    /// The audio in order.
    slots: Vec<Slot>,
    /// What the audio is for.
    then: AfterSpeech,
    /// When waiting becomes the node's failure.
    deadline: Time,
}

impl PendingSpeech {
    /// The instant the wait fails.
    pub(super) fn deadline(&self) -> Time {
        self.deadline
    }
}

impl Call {
    /// The audio of a play or gather: every piece ready, or some being
    /// synthesized (their requests queued for [`Call::poll_output`]).
    pub(super) fn resolve_or_speak(&mut self, audio: &[Audio]) -> Result<Vec<Slot>, String> {
        let mut slots = Vec::with_capacity(audio.len());
        for item in audio {
            match item {
                Audio::Speak {
                    text,
                    language,
                    voice,
                } if self.plan.speech_timeout.is_some()
                    && self.plan.prompts.find_by_text(text).is_none() =>
                {
                    let id = self.next_speech;
                    self.next_speech += 1;
                    self.speech_out.push_back(SpeechWanted {
                        id,
                        text: text.clone(),
                        language: language.clone(),
                        voice: voice.clone(),
                    });
                    slots.push(Slot::Speaking(id));
                }
                other => {
                    let mut found = self.resolve_all(std::slice::from_ref(other))?;
                    slots.extend(found.pop().map(Slot::Ready));
                }
            }
        }
        Ok(slots)
    }

    /// Plays `slots` (`times` times) now, or waits for their speech.
    pub(super) fn play_slots(&mut self, slots: Vec<Slot>, times: u32) -> Option<Outcome> {
        match ready(slots) {
            Ok(prompts) if prompts.is_empty() => Some(Outcome::Done),
            Ok(prompts) => {
                self.start_play(&prompts, times);
                None
            }
            Err(slots) => self.await_speech(slots, AfterSpeech::Play { times }),
        }
    }

    /// Gathers over `slots` now, or waits for their speech first.
    pub(super) fn gather_slots(
        &mut self,
        slots: Vec<Slot>,
        limits: GatherLimits,
    ) -> Option<Outcome> {
        match ready(slots) {
            Ok(prompts) => {
                self.start_gather(prompts, limits);
                None
            }
            Err(slots) => self.await_speech(slots, AfterSpeech::Gather(limits)),
        }
    }

    fn await_speech(&mut self, slots: Vec<Slot>, then: AfterSpeech) -> Option<Outcome> {
        let timeout = self.plan.speech_timeout.unwrap_or_default();
        self.activity = Activity::AwaitingSpeech(Box::new(PendingSpeech {
            slots,
            then,
            deadline: self.now + timeout,
        }));
        None
    }

    fn start_play(&mut self, prompts: &[Arc<Prompt>], times: u32) {
        if let Some(media) = self.flow_media() {
            for _ in 0..times.max(1) {
                for prompt in prompts {
                    media.play(prompt.clone());
                }
            }
        }
        self.activity = Activity::Playing;
    }

    fn start_gather(&mut self, prompts: Vec<Arc<Prompt>>, limits: GatherLimits) {
        let mut gather = Gather::new(limits);
        if prompts.is_empty() {
            gather.prompt_finished(self.now);
        } else if let Some(media) = self.flow_media() {
            for prompt in prompts {
                media.play(prompt);
            }
        }
        self.activity = Activity::Gathering(gather);
    }

    /// The speech of request `id` came back (from the speech workers).
    pub fn speech_done(&mut self, now: Time, id: u64, result: SpeechResult) {
        self.now = now;
        let Activity::AwaitingSpeech(pending) = &mut self.activity else {
            return;
        };
        let Some(slot) = pending
            .slots
            .iter_mut()
            .find(|slot| matches!(slot, Slot::Speaking(waiting) if *waiting == id))
        else {
            return;
        };
        match result {
            Ok(prompt) => *slot = Slot::Ready(prompt),
            Err(reason) => {
                self.counters.speech_failures += 1;
                log::warn!("call {}: speech failed: {reason}", self.parties.sip_call);
                return self.speech_failed(reason);
            }
        }
        if pending
            .slots
            .iter()
            .any(|slot| matches!(slot, Slot::Speaking(_)))
        {
            return;
        }
        let Activity::AwaitingSpeech(pending) =
            std::mem::replace(&mut self.activity, Activity::Idle)
        else {
            return;
        };
        let PendingSpeech { slots, then, .. } = *pending;
        let prompts = match ready(slots) {
            Ok(prompts) => prompts,
            Err(_) => return,
        };
        match then {
            AfterSpeech::Play { times } => self.start_play(&prompts, times),
            AfterSpeech::Gather(limits) => self.start_gather(prompts, limits),
        }
    }

    /// The wait for speech is over at `now` if its deadline passed.
    pub(super) fn speech_timeout(&mut self, now: Time) {
        let Activity::AwaitingSpeech(pending) = &self.activity else {
            return;
        };
        if pending.deadline > now {
            return;
        }
        self.counters.speech_failures += 1;
        let waited = self.plan.speech_timeout.unwrap_or_default();
        let reason = format!("no speech within {} ms", waited.as_millis());
        log::warn!("call {}: {reason}", self.parties.sip_call);
        self.speech_failed(reason);
    }

    fn speech_failed(&mut self, reason: String) {
        self.activity = Activity::Idle;
        let directive = self
            .session
            .resume(Outcome::Failed(reason), self.plan.wall.at(self.now));
        self.run(directive);
    }

    /// The next synthesis request to hand to the shell.
    pub(super) fn take_speech_request(&mut self) -> Option<SpeechWanted> {
        self.speech_out.pop_front()
    }
}

/// The prompts of `slots` if all are ready, else the slots back.
fn ready(slots: Vec<Slot>) -> Result<Vec<Arc<Prompt>>, Vec<Slot>> {
    if slots.iter().any(|slot| matches!(slot, Slot::Speaking(_))) {
        return Err(slots);
    }
    Ok(slots
        .into_iter()
        .filter_map(|slot| match slot {
            Slot::Ready(prompt) => Some(prompt),
            Slot::Speaking(_) => None,
        })
        .collect())
}
