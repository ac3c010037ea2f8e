//! Recognising which prompt a caller hears: per-prompt signatures computed
//! from the prompt files the server plays, and a [`Recognizer`] that finds
//! their starts in the received audio.
//!
//! A signature is the level envelope of the prompt's opening: the RMS level
//! of each 20 ms frame in dBFS, floored at [`FLOOR_DB`], over its first
//! [`SIGNATURE_FRAMES`] frames after its leading quiet frames. The received
//! stream is cut into the same frames (one G.711 packet each). Wherever the
//! stream rises from quiet, the envelope that follows is compared with every
//! signature by Pearson correlation, which ignores the line's gain, most of
//! what clipping does (it flattens the loud frames but keeps their order) and
//! noise under the floor. A match above [`MATCH_THRESHOLD`] names the prompt;
//! its first packet is the one `lead_frames` before the onset.
//!
//! Hand-written: nothing on crates.io matches short known clips in a G.711
//! stream this cheaply (a few hundred multiply-adds per onset).

use std::collections::VecDeque;

use crate::media::PromptCatalog;
use crate::time::Time;

/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;
/// Frames of a prompt's opening compared (800 ms).
pub const SIGNATURE_FRAMES: usize = 40;
/// Levels under this count as this (dBFS): the noise a line may add is ignored.
pub const FLOOR_DB: f32 = -45.0;
/// A frame this far above the floor is sound, not quiet.
const SOUND_MARGIN_DB: f32 = 3.0;
/// The correlation a window must reach to be taken as a prompt's opening.
pub const MATCH_THRESHOLD: f32 = 0.85;
/// A signature needs this many frames (shorter prompts are not recognised).
const MIN_SIGNATURE_FRAMES: usize = 10;

/// The RMS level of one frame in dBFS, floored at [`FLOOR_DB`].
pub fn frame_level_db(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return FLOOR_DB;
    }
    let energy: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (energy / samples.len() as f64).sqrt();
    let db = 20.0 * (rms.max(1e-9) / 32_768.0).log10();
    (db as f32).max(FLOOR_DB)
}

fn is_sound(level: f32) -> bool {
    level > FLOOR_DB + SOUND_MARGIN_DB
}

/// The opening of one prompt.
#[derive(Clone, Debug, PartialEq)]
pub struct PromptSignature {
    id: String,
    /// Quiet frames before the first sound frame.
    lead_frames: usize,
    /// Levels from the first sound frame on.
    levels: Vec<f32>,
    /// The whole prompt's length in frames.
    frames: usize,
}

impl PromptSignature {
    /// The signature of 8 kHz samples; `None` when they have too little sound
    /// or an envelope too flat to tell apart (a steady tone).
    pub fn from_samples(id: &str, samples: &[i16]) -> Option<PromptSignature> {
        let levels: Vec<f32> = samples.chunks(FRAME_SAMPLES).map(frame_level_db).collect();
        let lead_frames = levels.iter().position(|&l| is_sound(l))?;
        let opening: Vec<f32> = levels[lead_frames..]
            .iter()
            .copied()
            .take(SIGNATURE_FRAMES)
            .collect();
        if opening.len() < MIN_SIGNATURE_FRAMES || variance(&opening) < 1.0 {
            return None;
        }
        Some(PromptSignature {
            id: id.to_string(),
            lead_frames,
            levels: opening,
            frames: levels.len(),
        })
    }

    /// The prompt's catalog id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Quiet frames the prompt opens with.
    pub fn lead_frames(&self) -> usize {
        self.lead_frames
    }
}

/// Signatures of every prompt of a catalog that has one (a steady beep has none).
pub fn catalog_signatures(catalog: &PromptCatalog) -> Vec<PromptSignature> {
    let mut ids = catalog.ids();
    ids.sort_unstable();
    ids.into_iter()
        .filter_map(|id| {
            let prompt = catalog.get(id)?;
            PromptSignature::from_samples(id, prompt.samples())
        })
        .collect()
}

fn variance(values: &[f32]) -> f32 {
    let n = values.len() as f32;
    let mean = values.iter().sum::<f32>() / n;
    values.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n
}

/// Pearson correlation of two equally long envelopes; 0 when either is flat.
fn correlation(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    if n == 0 {
        return 0.0;
    }
    let (a, b) = (&a[..n], &b[..n]);
    let mean_a = a.iter().sum::<f32>() / n as f32;
    let mean_b = b.iter().sum::<f32>() / n as f32;
    let (mut cov, mut var_a, mut var_b) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (x - mean_a, y - mean_b);
        cov += dx * dy;
        var_a += dx * dx;
        var_b += dy * dy;
    }
    if var_a < 1e-3 || var_b < 1e-3 {
        return 0.0;
    }
    cov / (var_a.sqrt() * var_b.sqrt())
}

/// One prompt heard.
#[derive(Clone, Debug, PartialEq)]
pub struct Heard {
    /// Its catalog id.
    pub prompt: String,
    /// When its first packet arrived.
    pub started: Time,
    /// How well its opening matched (Pearson correlation).
    pub score: f32,
}

/// Finds prompt openings in one received stream, frame by frame.
#[derive(Debug)]
pub struct Recognizer {
    /// Recent frames: level and arrival time; `history[0]` is frame `base`.
    history: VecDeque<(f32, Time)>,
    base: usize,
    capacity: usize,
    /// Frame numbers where sound began, waiting for their window to fill.
    onsets: VecDeque<usize>,
    previous_sound: bool,
    heard: Vec<Heard>,
    /// The last prompt recognised and the frame it started at.
    last: Option<(usize, usize)>,
}

impl Recognizer {
    /// A recognizer for signatures whose longest lead and opening are known
    /// from `signatures`.
    pub fn new(signatures: &[PromptSignature]) -> Recognizer {
        let longest = signatures
            .iter()
            .map(|s| s.lead_frames + s.levels.len())
            .max()
            .unwrap_or(SIGNATURE_FRAMES);
        Recognizer {
            history: VecDeque::with_capacity(longest + 2),
            base: 0,
            capacity: longest + 2,
            onsets: VecDeque::new(),
            previous_sound: false,
            heard: Vec::new(),
            last: None,
        }
    }

    /// Feeds one received 20 ms frame of linear samples that arrived at `at`.
    pub fn push_frame(&mut self, signatures: &[PromptSignature], at: Time, samples: &[i16]) {
        self.push_level(signatures, at, frame_level_db(samples));
    }

    /// Feeds one frame by its level (dBFS).
    pub fn push_level(&mut self, signatures: &[PromptSignature], at: Time, level: f32) {
        if self.history.len() == self.capacity {
            self.history.pop_front();
            self.base += 1;
        }
        let frame = self.base + self.history.len();
        self.history.push_back((level.max(FLOOR_DB), at));
        let sound = is_sound(level);
        if sound && !self.previous_sound {
            self.onsets.push_back(frame);
        }
        self.previous_sound = sound;
        self.check_onsets(signatures, false);
    }

    /// Judges the onsets still waiting with the frames there are (the stream ended).
    pub fn finish(&mut self, signatures: &[PromptSignature]) {
        self.check_onsets(signatures, true);
    }

    fn check_onsets(&mut self, signatures: &[PromptSignature], at_end: bool) {
        let end = self.base + self.history.len();
        while let Some(&onset) = self.onsets.front() {
            if onset < self.base {
                self.onsets.pop_front();
                continue;
            }
            let complete = onset + SIGNATURE_FRAMES <= end;
            if !complete && !at_end {
                return;
            }
            self.onsets.pop_front();
            let available = end - onset;
            let window: Vec<f32> = self
                .history
                .range(onset - self.base..)
                .map(|(l, _)| *l)
                .collect();
            let best = signatures
                .iter()
                .enumerate()
                .filter(|(_, s)| s.levels.len() <= available || !complete)
                .map(|(i, s)| {
                    let n = s.levels.len().min(available);
                    if n < MIN_SIGNATURE_FRAMES {
                        return (i, 0.0);
                    }
                    (i, correlation(&window[..n], &s.levels[..n]))
                })
                .max_by(|a, b| a.1.total_cmp(&b.1));
            let Some((index, score)) = best else { continue };
            if score < MATCH_THRESHOLD {
                continue;
            }
            let signature = &signatures[index];
            // The same prompt matched again inside its own length: a repeat
            // of its opening words, not a new playback.
            if let Some((last_index, last_start)) = self.last {
                if last_index == index && onset < last_start + signature.frames {
                    continue;
                }
            }
            let start = onset.saturating_sub(signature.lead_frames).max(self.base);
            let started = self.history[start - self.base].1;
            self.last = Some((index, onset));
            self.heard.push(Heard {
                prompt: signature.id.clone(),
                started,
                score,
            });
        }
    }

    /// The prompts heard so far, in order.
    pub fn heard(&self) -> &[Heard] {
        &self.heard
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assets::embedded_prompts;

    fn signatures() -> (PromptCatalog, Vec<PromptSignature>) {
        let catalog = embedded_prompts().unwrap();
        let signatures = catalog_signatures(&catalog);
        (catalog, signatures)
    }

    /// Plays `prompts` back to back with `gap` silent frames between them,
    /// each sample passed through `line`; returns what was heard and when
    /// each prompt's first frame arrived.
    fn play(
        catalog: &PromptCatalog,
        signatures: &[PromptSignature],
        prompts: &[&str],
        mut line: impl FnMut(i16) -> i16,
    ) -> (Vec<Heard>, Vec<Time>) {
        let mut recognizer = Recognizer::new(signatures);
        let mut frame_no = 0u64;
        let mut starts = Vec::new();
        let mut feed = |recognizer: &mut Recognizer, frame: &[i16]| {
            let processed: Vec<i16> = frame.iter().map(|&s| line(s)).collect();
            let at = Time::from_millis(frame_no * 20);
            frame_no += 1;
            recognizer.push_frame(signatures, at, &processed);
            at
        };
        let silence = [0i16; FRAME_SAMPLES];
        for _ in 0..10 {
            feed(&mut recognizer, &silence);
        }
        for id in prompts {
            let samples = catalog.get(id).unwrap().samples();
            let mut first = true;
            for chunk in samples.chunks(FRAME_SAMPLES) {
                let mut frame = [0i16; FRAME_SAMPLES];
                frame[..chunk.len()].copy_from_slice(chunk);
                let at = feed(&mut recognizer, &frame);
                if first {
                    starts.push(at);
                    first = false;
                }
            }
            for _ in 0..15 {
                feed(&mut recognizer, &silence);
            }
        }
        recognizer.finish(signatures);
        (recognizer.heard().to_vec(), starts)
    }

    fn ids(heard: &[Heard]) -> Vec<&str> {
        heard.iter().map(|h| h.prompt.as_str()).collect()
    }

    const DEMO: [&str; 4] = ["welcome", "menu", "sales", "goodbye"];

    #[test]
    fn every_shipped_prompt_has_a_signature_but_the_steady_beep() {
        let (catalog, signatures) = signatures();
        let mut names: Vec<&str> = signatures.iter().map(|s| s.id()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            ["goodbye", "invalid", "menu", "sales", "support", "welcome"]
        );
        assert!(catalog.get("beep").is_some());
    }

    #[test]
    fn clean_prompts_are_heard_in_order_with_their_first_packet() {
        let (catalog, signatures) = signatures();
        let (heard, starts) = play(&catalog, &signatures, &DEMO, |s| s);
        assert_eq!(ids(&heard), DEMO);
        for (h, start) in heard.iter().zip(&starts) {
            assert_eq!(h.started, *start, "{}", h.prompt);
        }
    }

    #[test]
    fn prompts_through_noise_are_recognised() {
        let (catalog, signatures) = signatures();
        let mut rng = fastrand::Rng::with_seed(7);
        // White noise of about -52 dBFS RMS, a noisy line under the speech.
        let (heard, starts) = play(&catalog, &signatures, &DEMO, |s| {
            let noise = rng.i32(-150..=150);
            (i32::from(s) + noise).clamp(-32_768, 32_767) as i16
        });
        assert_eq!(ids(&heard), DEMO);
        for (h, start) in heard.iter().zip(&starts) {
            let off = h.started.as_millis().abs_diff(start.as_millis());
            assert!(off <= 40, "{} found {off} ms off", h.prompt);
        }
    }

    #[test]
    fn clipped_and_quieter_prompts_are_recognised() {
        let (catalog, signatures) = signatures();
        // Overdriven by 12 dB and hard-clipped at full scale, as a line with
        // too much gain clips; then 6 dB down.
        let (heard, _) = play(&catalog, &signatures, &DEMO, |s| {
            ((i32::from(s) * 4).clamp(-32_767, 32_767) / 2) as i16
        });
        assert_eq!(ids(&heard), DEMO);
    }

    #[test]
    fn a_wrong_prompt_is_heard_as_itself() {
        let (catalog, signatures) = signatures();
        let played = ["welcome", "menu", "support", "goodbye"];
        let (heard, _) = play(&catalog, &signatures, &played, |s| s);
        assert_eq!(ids(&heard), played);
        assert_ne!(ids(&heard), DEMO);
    }

    #[test]
    fn silence_and_noise_alone_are_no_prompt() {
        let (_, signatures) = signatures();
        let mut recognizer = Recognizer::new(&signatures);
        let mut rng = fastrand::Rng::with_seed(3);
        for n in 0..500u64 {
            let frame: Vec<i16> = (0..FRAME_SAMPLES).map(|_| rng.i16(-100..=100)).collect();
            recognizer.push_frame(&signatures, Time::from_millis(n * 20), &frame);
        }
        recognizer.finish(&signatures);
        assert!(recognizer.heard().is_empty());
    }

    #[test]
    fn levels_are_rms_dbfs_floored() {
        assert_eq!(frame_level_db(&[0; 160]), FLOOR_DB);
        let full: Vec<i16> = (0..160)
            .map(|n| if n % 2 == 0 { 32_767 } else { -32_767 })
            .collect();
        assert!(frame_level_db(&full).abs() < 0.01);
        assert_eq!(frame_level_db(&[]), FLOOR_DB);
    }
}
