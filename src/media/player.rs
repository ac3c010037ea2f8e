//! Prompt playback: a queue of shared prompts cut into 20 ms payload frames for one
//! codec, the last partial frame padded with the codec's silence byte; for Opus,
//! the prompt's pre-encoded packets one after the other.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::media::codec::{Codec, FRAME_SAMPLES};
use crate::media::prompt::Prompt;

/// What happened while producing one frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PlayedFrame {
    /// Set on the first frame of a prompt.
    pub(crate) started: Option<Arc<Prompt>>,
    /// Set on the last frame of a prompt (the prompt has left the queue).
    pub(crate) finished: Option<Arc<Prompt>>,
    /// Payload bytes written (160 for G.711; the packet's length for Opus).
    pub(crate) len: usize,
}

/// Plays queued prompts back to back.
#[derive(Debug, Default)]
pub(crate) struct PromptPlayer {
    /// Prompts to play, the one playing first.
    queue: VecDeque<Arc<Prompt>>,
    /// Samples of the front prompt already played.
    position: usize,
}

impl PromptPlayer {
    /// A player with nothing queued.
    pub(crate) fn new() -> PromptPlayer {
        PromptPlayer::default()
    }

    /// Queues a prompt after those already queued.
    pub(crate) fn play(&mut self, prompt: Arc<Prompt>) {
        self.queue.push_back(prompt);
    }

    /// Barge-in: drops the current and all queued prompts. Returns how many were dropped.
    pub(crate) fn stop(&mut self) -> usize {
        let dropped = self.queue.len();
        self.queue.clear();
        self.position = 0;
        dropped
    }

    /// True when nothing is playing or queued.
    pub(crate) fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// Prompts playing or waiting, including the current one.
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Writes the next 160-byte frame for `codec` into `out[..160]`. Returns `None`, and
    /// leaves `out` untouched, when idle or when `out` is shorter than a frame. A prompt
    /// with no samples plays as one silent frame so it still starts and finishes.
    pub(crate) fn next_frame(&mut self, codec: Codec, out: &mut [u8]) -> Option<PlayedFrame> {
        if codec == Codec::Opus {
            return self.next_opus_frame(out);
        }
        let frame = out.get_mut(..FRAME_SAMPLES)?;
        let prompt = self.queue.front()?;
        let encoded = prompt.encoded(codec);
        let started = (self.position == 0).then(|| Arc::clone(prompt));
        let available = encoded.get(self.position..).unwrap_or_default();
        let taken = available.len().min(FRAME_SAMPLES);
        let (audio, padding) = frame.split_at_mut(taken);
        audio.copy_from_slice(available.get(..taken).unwrap_or_default());
        padding.fill(codec.silence_byte());
        self.position += taken;
        let finished = if self.position >= encoded.len() {
            self.position = 0;
            self.queue.pop_front()
        } else {
            None
        };
        Some(PlayedFrame {
            started,
            finished,
            len: FRAME_SAMPLES,
        })
    }

    /// The next Opus packet of the front prompt into `out` (which must hold
    /// `opus::MAX_PAYLOAD` bytes); `position` counts packets. A prompt without
    /// packets plays as one packet of silence.
    fn next_opus_frame(&mut self, out: &mut [u8]) -> Option<PlayedFrame> {
        let frame = out.get_mut(..crate::media::opus::MAX_PAYLOAD)?;
        let prompt = self.queue.front()?;
        let started = (self.position == 0).then(|| Arc::clone(prompt));
        let packet = match prompt.opus_packet(self.position) {
            Some(packet) => packet,
            None => crate::media::opus::silence_frame().unwrap_or_default(),
        };
        let len = packet.len().min(frame.len());
        frame[..len].copy_from_slice(&packet[..len]);
        let packets = prompt.opus_packets();
        self.position += 1;
        let finished = if self.position >= packets {
            self.position = 0;
            self.queue.pop_front()
        } else {
            None
        };
        Some(PlayedFrame {
            started,
            finished,
            len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(id: &str, samples: usize) -> Arc<Prompt> {
        let pcm = (0..samples).map(|i| (i % 200) as i16 * 50).collect();
        Arc::new(Prompt::from_samples(id, None, pcm))
    }

    fn collect_frames(player: &mut PromptPlayer, codec: Codec) -> Vec<([u8; 160], PlayedFrame)> {
        let mut frames = Vec::new();
        let mut out = [0u8; 160];
        while let Some(played) = player.next_frame(codec, &mut out) {
            frames.push((out, played));
        }
        frames
    }

    #[test]
    fn whole_frames_then_idle() {
        let mut player = PromptPlayer::new();
        let one_second = prompt("one", 8000);
        player.play(Arc::clone(&one_second));
        let frames = collect_frames(&mut player, Codec::Pcmu);
        assert_eq!(frames.len(), 50);
        let payload: Vec<u8> = frames.iter().flat_map(|(f, _)| f.iter().copied()).collect();
        assert_eq!(&payload[..], one_second.encoded(Codec::Pcmu));
        assert_eq!(frames[0].1.started.as_ref().map(|p| p.id()), Some("one"));
        assert!(frames[1..].iter().all(|(_, p)| p.started.is_none()));
        assert!(frames[..49].iter().all(|(_, p)| p.finished.is_none()));
        assert_eq!(frames[49].1.finished.as_ref().map(|p| p.id()), Some("one"));
        assert!(player.is_idle());
    }

    #[test]
    fn last_partial_frame_is_padded_with_silence() {
        for codec in Codec::G711 {
            let mut player = PromptPlayer::new();
            let short = prompt("short", 200);
            player.play(Arc::clone(&short));
            let frames = collect_frames(&mut player, codec);
            assert_eq!(frames.len(), 2);
            let last = &frames[1].0;
            assert_eq!(&last[..40], &short.encoded(codec)[160..]);
            assert!(last[40..].iter().all(|&b| b == codec.silence_byte()));
            assert!(frames[1].1.finished.is_some());
        }
    }

    #[test]
    fn queued_prompts_follow_each_other() {
        let mut player = PromptPlayer::new();
        player.play(prompt("a", 320));
        player.play(prompt("b", 100));
        assert_eq!(player.queued(), 2);
        let frames = collect_frames(&mut player, Codec::Pcma);
        let events: Vec<(Option<&str>, Option<&str>)> = frames
            .iter()
            .map(|(_, p)| {
                (
                    p.started.as_deref().map(Prompt::id),
                    p.finished.as_deref().map(Prompt::id),
                )
            })
            .collect();
        assert_eq!(
            events,
            vec![(Some("a"), None), (None, Some("a")), (Some("b"), Some("b"))]
        );
    }

    #[test]
    fn stop_flushes_everything() {
        let mut player = PromptPlayer::new();
        player.play(prompt("a", 8000));
        player.play(prompt("b", 8000));
        let mut out = [0u8; 160];
        player.next_frame(Codec::Pcmu, &mut out);
        assert_eq!(player.stop(), 2);
        assert!(player.is_idle());
        assert!(player.next_frame(Codec::Pcmu, &mut out).is_none());
        // A new prompt starts from its beginning.
        player.play(prompt("c", 160));
        let played = player.next_frame(Codec::Pcmu, &mut out).unwrap();
        assert!(played.started.is_some() && played.finished.is_some());
    }

    #[test]
    fn empty_prompt_plays_as_one_silent_frame() {
        let mut player = PromptPlayer::new();
        player.play(prompt("empty", 0));
        let frames = collect_frames(&mut player, Codec::Pcmu);
        assert_eq!(frames.len(), 1);
        assert!(frames[0].0.iter().all(|&b| b == 0xFF));
        assert!(frames[0].1.started.is_some() && frames[0].1.finished.is_some());
    }

    #[test]
    fn short_output_buffer_yields_nothing_and_keeps_position() {
        let mut player = PromptPlayer::new();
        player.play(prompt("a", 160));
        let mut small = [0u8; 100];
        assert!(player.next_frame(Codec::Pcmu, &mut small).is_none());
        assert_eq!(player.queued(), 1);
        let mut out = [0u8; 200];
        let played = player.next_frame(Codec::Pcmu, &mut out).unwrap();
        assert!(played.started.is_some());
    }
}
