//! The recordings of one call: the flow's `recording_start`/`recording_stop`
//! and a voicemail message, each a [`Recorder`] fed the caller's frames, and
//! the [`RecordingWork`] they produce for the writer off the shard.
//!
//! File names are made here from ids callplane generated (the flow's
//! recording id, the SIP Call-ID, the mailbox id): every character outside
//! `[A-Za-z0-9_-]` becomes `_`, the name is cut to a safe length and a hash of
//! the whole id keeps cut or rewritten names distinct. Nothing a flow or a
//! caller sends can reach outside `recordings/` or `voicemail/<box>/`.
//!
//! Sans-IO: the call hands the work out through its `poll_output`; the shell
//! writes the files.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::media::recorder::{
    Layout, Party, Recorder, RecorderOutput, RecorderSettings, StopReason,
};
use crate::time::Time;

/// A recording's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingFormat {
    /// 16-bit PCM WAV.
    Wav,
    /// MP3 (LAME).
    Mp3,
    /// Opus in Ogg (RFC 7845).
    Ogg,
}

impl RecordingFormat {
    /// The format a flow names (`wav`, `mp3`, `ogg`; empty or none: `wav`);
    /// `None` for any other.
    pub fn from_flow(name: Option<&str>) -> Option<RecordingFormat> {
        match name.map(str::trim).unwrap_or("") {
            "" | "wav" => Some(RecordingFormat::Wav),
            "mp3" => Some(RecordingFormat::Mp3),
            "ogg" | "opus" => Some(RecordingFormat::Ogg),
            _ => None,
        }
    }

    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            RecordingFormat::Wav => "wav",
            RecordingFormat::Mp3 => "mp3",
            RecordingFormat::Ogg => "ogg",
        }
    }
}

/// Work for the recording writer. `file` is relative to the data directory
/// and names the recording in every message.
#[derive(Debug)]
pub enum RecordingWork {
    /// Create the file (0640) and write its header.
    Open {
        /// The file, relative to the data directory.
        file: Arc<str>,
        /// Its format.
        format: RecordingFormat,
        /// 1 or 2.
        channels: u16,
    },
    /// Append 8 kHz samples (interleaved when two channels).
    Append {
        /// The file.
        file: Arc<str>,
        /// The samples.
        samples: Vec<i16>,
    },
    /// Finish the file; write `metadata` (a JSON document) beside it when given.
    Close {
        /// The file.
        file: Arc<str>,
        /// `(relative path, JSON text)` of a metadata file (voicemail messages).
        metadata: Option<(String, String)>,
    },
}

/// A recording that has ended, for the CDR and the flow's variables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordingSummary {
    /// The flow's recording id, or the voicemail message id.
    pub id: String,
    /// The file, relative to the data directory.
    pub file: String,
    /// Its format.
    pub format: RecordingFormat,
    /// The recorded length.
    pub duration_ms: u64,
    /// The file's size in bytes when the call layer can know it (WAV); the
    /// writer's figure is in its log and counters.
    pub size_bytes: Option<u64>,
    /// Why it ended (`stopped`, `max_duration`, `silence`, `key`, `hangup`).
    pub end_reason: &'static str,
    /// The mailbox, for a voicemail message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mailbox: Option<String>,
}

/// What a recording is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// The flow's `recording_start`.
    Flow,
    /// A voicemail message; the JSON metadata goes beside the file.
    Voicemail {
        /// The mailbox id.
        mailbox: String,
        /// Caller, callee, Call-ID and the time the message began (RFC 3339).
        caller: String,
        callee: String,
        call_id: String,
        received_at: String,
    },
}

struct Active {
    id: String,
    file: Arc<str>,
    format: RecordingFormat,
    purpose: Purpose,
    recorder: Recorder,
}

/// The recordings of one call.
#[derive(Default)]
pub(crate) struct CallRecordings {
    active: Vec<Active>,
    out: VecDeque<RecordingWork>,
    ended: VecDeque<RecordingSummary>,
    done: Vec<RecordingSummary>,
}

impl CallRecordings {
    /// Starts recording `id` into `file` as `format`; the first `lead_in`
    /// (a beep) is not recorded.
    pub(crate) fn start(
        &mut self,
        id: String,
        file: String,
        format: RecordingFormat,
        settings: RecorderSettings,
        lead_in: Duration,
        purpose: Purpose,
    ) {
        let file: Arc<str> = file.into();
        let channels = settings.layout.channels() as u16;
        self.out.push_back(RecordingWork::Open {
            file: file.clone(),
            format,
            channels,
        });
        self.active.push(Active {
            id,
            file,
            format,
            purpose,
            recorder: Recorder::new(settings, lead_in),
        });
    }

    /// Whether a recording runs.
    pub(crate) fn is_recording(&self) -> bool {
        !self.active.is_empty()
    }

    /// Whether the voicemail message still records.
    pub(crate) fn voicemail_recording(&self) -> bool {
        self.active
            .iter()
            .any(|a| matches!(a.purpose, Purpose::Voicemail { .. }))
    }

    /// One frame for every running recording.
    pub(crate) fn handle_frame(&mut self, now: Time, party: Party, frame: &[i16]) {
        for active in &mut self.active {
            active.recorder.handle_frame(now, party, frame);
        }
        self.collect();
    }

    /// A key the caller pressed.
    pub(crate) fn handle_digit(&mut self, digit: char) {
        for active in &mut self.active {
            active.recorder.handle_digit(digit);
        }
        self.collect();
    }

    /// Stops the recording `id` (none: every one the flow started).
    /// `false` when no such recording runs.
    pub(crate) fn stop(&mut self, id: Option<&str>) -> bool {
        let mut found = false;
        for active in &mut self.active {
            let matches = match id {
                Some(id) => active.id == id,
                None => active.purpose == Purpose::Flow,
            };
            if matches {
                active.recorder.stop(StopReason::Stopped);
                found = true;
            }
        }
        self.collect();
        found
    }

    /// The call ended: every recording ends.
    pub(crate) fn stop_all(&mut self, reason: StopReason) {
        for active in &mut self.active {
            active.recorder.stop(reason);
        }
        self.collect();
    }

    /// The next piece of work for the writer.
    pub(crate) fn poll_work(&mut self) -> Option<RecordingWork> {
        self.out.pop_front()
    }

    /// The next recording that ended since the last call, for the flow's variables.
    pub(crate) fn poll_ended(&mut self) -> Option<RecordingSummary> {
        self.ended.pop_front()
    }

    /// Every recording that has ended, for the CDR.
    pub(crate) fn summaries(&self) -> &[RecordingSummary] {
        &self.done
    }

    fn collect(&mut self) {
        let mut index = 0;
        while index < self.active.len() {
            let active = &mut self.active[index];
            let mut ended = None;
            while let Some(output) = active.recorder.poll_output() {
                match output {
                    RecorderOutput::Chunk(samples) => self.out.push_back(RecordingWork::Append {
                        file: active.file.clone(),
                        samples,
                    }),
                    RecorderOutput::Ended(reason) => ended = Some(reason),
                }
            }
            let Some(reason) = ended else {
                index += 1;
                continue;
            };
            let active = self.active.swap_remove(index);
            let counters = active.recorder.counters();
            let channels = active.recorder.settings().layout.channels() as u64;
            let summary = RecordingSummary {
                id: active.id.clone(),
                file: active.file.to_string(),
                format: active.format,
                duration_ms: counters.duration().as_millis() as u64,
                size_bytes: (active.format == RecordingFormat::Wav)
                    .then(|| WAV_HEADER_BYTES + counters.frames * 160 * 2 * channels),
                end_reason: reason.name(),
                mailbox: match &active.purpose {
                    Purpose::Voicemail { mailbox, .. } => Some(mailbox.clone()),
                    Purpose::Flow => None,
                },
            };
            let metadata = match &active.purpose {
                Purpose::Flow => None,
                Purpose::Voicemail {
                    mailbox,
                    caller,
                    callee,
                    call_id,
                    received_at,
                } => {
                    let json = serde_json::json!({
                        "message_id": active.id,
                        "mailbox": mailbox,
                        "caller": caller,
                        "callee": callee,
                        "call_id": call_id,
                        "received_at": received_at,
                        "duration_ms": summary.duration_ms,
                        "file": file_name(&active.file),
                        "format": active.format.extension(),
                        "end_reason": summary.end_reason,
                    });
                    let path = format!("{}.json", strip_extension(&active.file));
                    Some((path, json.to_string()))
                }
            };
            self.out.push_back(RecordingWork::Close {
                file: active.file.clone(),
                metadata,
            });
            self.ended.push_back(summary.clone());
            self.done.push(summary);
        }
    }
}

/// The size of hound's 16-bit PCM header.
const WAV_HEADER_BYTES: u64 = 44;

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn strip_extension(path: &str) -> &str {
    path.rsplit_once('.').map_or(path, |(stem, _)| stem)
}

/// A file-name piece made from an id: `[A-Za-z0-9_-]` kept, anything else
/// `_`, at most 48 characters, then `-` and 8 hex digits of the id's SHA-256.
pub(crate) fn safe_name(id: &str) -> String {
    let mut name: String = id
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '-' => c,
            _ => '_',
        })
        .take(48)
        .collect();
    let digest = Sha256::digest(id.as_bytes());
    name.push('-');
    for byte in &digest[..4] {
        name.push_str(&format!("{byte:02x}"));
    }
    name
}

/// The file of a flow recording: `recordings/<safe id>.<ext>`.
pub(crate) fn recording_file(id: &str, format: RecordingFormat) -> String {
    format!("recordings/{}.{}", safe_name(id), format.extension())
}

/// The file of a voicemail message: `voicemail/<safe box>/<safe message id>.wav`.
pub(crate) fn voicemail_file(mailbox: &str, message_id: &str) -> String {
    format!(
        "voicemail/{}/{}.wav",
        safe_name(mailbox),
        safe_name(message_id)
    )
}

/// Settings of a flow's `recording_start`.
pub(crate) fn flow_settings(
    max_duration: Option<Duration>,
    end_of_silence: Option<Duration>,
    end_of_key: Option<char>,
) -> RecorderSettings {
    RecorderSettings {
        layout: Layout::Mono,
        max_duration: max_duration.filter(|d| !d.is_zero()),
        end_of_silence: end_of_silence.filter(|d| !d.is_zero()),
        end_of_key,
        ..RecorderSettings::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_never_leave_their_directory() {
        for id in ["../../etc/passwd", "a/b\\c", "..", "", "\u{0}x", "ok-id_1"] {
            let file = recording_file(id, RecordingFormat::Wav);
            let rest = file.strip_prefix("recordings/").expect("in recordings/");
            assert!(!rest.contains('/') && !rest.contains("..") && !rest.starts_with('.'));
            let vm = voicemail_file(id, id);
            assert_eq!(vm.matches('/').count(), 2, "{vm}");
            assert!(!vm.contains(".."), "{vm}");
        }
        assert_ne!(
            safe_name("a/b"),
            safe_name("a_b"),
            "the hash tells them apart"
        );
    }

    #[test]
    fn a_stopped_recording_hands_out_open_chunks_close_and_a_summary() {
        let mut calls = CallRecordings::default();
        calls.start(
            "c1-rec-1".into(),
            recording_file("c1-rec-1", RecordingFormat::Wav),
            RecordingFormat::Wav,
            RecorderSettings::default(),
            Duration::ZERO,
            Purpose::Flow,
        );
        for n in 0..15u32 {
            calls.handle_frame(
                Time::from_millis(u64::from(n) * 20),
                Party::Caller,
                &[900; 160],
            );
        }
        assert!(calls.stop(None));
        let work: Vec<_> = std::iter::from_fn(|| calls.poll_work()).collect();
        assert!(matches!(work[0], RecordingWork::Open { channels: 1, .. }));
        assert!(matches!(&work[1], RecordingWork::Append { samples, .. } if samples.len() == 1600));
        assert!(matches!(&work[2], RecordingWork::Append { samples, .. } if samples.len() == 800));
        assert!(matches!(
            work[3],
            RecordingWork::Close { metadata: None, .. }
        ));
        let summary = calls.poll_ended().expect("ended");
        assert_eq!(summary.duration_ms, 300);
        assert_eq!(summary.size_bytes, Some(44 + 15 * 320));
        assert_eq!(summary.end_reason, "stopped");
        assert!(!calls.is_recording());
        assert_eq!(calls.summaries().len(), 1);
    }

    #[test]
    fn a_voicemail_message_closes_with_its_metadata() {
        let mut calls = CallRecordings::default();
        let file = voicemail_file("vm1", "msg-1");
        calls.start(
            "msg-1".into(),
            file.clone(),
            RecordingFormat::Wav,
            RecorderSettings {
                end_of_key: Some('#'),
                ..RecorderSettings::default()
            },
            Duration::ZERO,
            Purpose::Voicemail {
                mailbox: "vm1".into(),
                caller: "sip:alice@example.com".into(),
                callee: "sip:100@example.com".into(),
                call_id: "abc".into(),
                received_at: "2026-01-01T00:00:00Z".into(),
            },
        );
        assert!(calls.voicemail_recording());
        calls.handle_frame(Time::ZERO, Party::Caller, &[900; 160]);
        calls.handle_digit('#');
        let work: Vec<_> = std::iter::from_fn(|| calls.poll_work()).collect();
        let Some(RecordingWork::Close {
            metadata: Some((path, json)),
            ..
        }) = work.last()
        else {
            panic!("close with metadata: {work:?}");
        };
        assert_eq!(format!("{path}.wav").replace(".json", ""), file);
        let meta: serde_json::Value = serde_json::from_str(json).expect("json");
        assert_eq!(meta["mailbox"], "vm1");
        assert_eq!(meta["caller"], "sip:alice@example.com");
        assert_eq!(meta["duration_ms"], 20);
        assert_eq!(meta["end_reason"], "key");
        assert!(!calls.voicemail_recording());
    }
}
