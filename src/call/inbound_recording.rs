//! The recording side of one inbound call: `record_start`/`record_stop` and
//! the voicemail connect kind carried out with [`CallRecordings`], recorded
//! frames fed from the media, ended recordings turned into flow variables.
//!
//! Variables set when a recording ends (the `voipbin.recording.*` family the
//! flow's `voipbin.recording.id` began):
//! `voipbin.recording.file`, `voipbin.recording.format`,
//! `voipbin.recording.duration` (seconds, one decimal),
//! `voipbin.recording.duration_ms`, `voipbin.recording.size` (bytes; empty
//! when only the writer knows it), `voipbin.recording.end_reason`; for a
//! voicemail message `voicemail.message_id`, `voicemail.mailbox`,
//! `voicemail.file`, `voicemail.duration` and `voicemail.duration_ms`.

use std::time::Duration;

use chrono::SecondsFormat;

use super::{Activity, Call};
use crate::call::recording::{
    flow_settings, recording_file, voicemail_file, Purpose, RecordingFormat, RecordingSummary,
};
use crate::flow::Outcome;
use crate::media::recorder::{Layout, Party, RecorderSettings, StopReason};
use crate::media::BEEP_PROMPT_ID;

/// A voicemail message's longest length when its mailbox sets none.
const VOICEMAIL_MAX_DEFAULT: Duration = Duration::from_secs(120);
/// The silence that ends a voicemail message.
const VOICEMAIL_SILENCE: Duration = Duration::from_secs(5);
/// The gap after the beep before the recording begins.
const BEEP_GAP: Duration = Duration::from_millis(100);

impl Call {
    /// `record_start`: the recording runs in the background; `Done` at once,
    /// `Failed` for a format callplane cannot write.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn record_start(
        &mut self,
        recording_id: String,
        format: Option<String>,
        max_duration: Option<Duration>,
        end_of_silence: Option<Duration>,
        end_of_key: Option<char>,
        beep: bool,
        dual: bool,
    ) -> Option<Outcome> {
        let Some(format) = RecordingFormat::from_flow(format.as_deref()) else {
            return Some(Outcome::Failed(format!(
                "recording format {:?} is not one of wav, mp3, ogg",
                format.unwrap_or_default()
            )));
        };
        if self.media.is_none() {
            return Some(Outcome::Failed("the call has no media".into()));
        }
        let lead_in = if beep {
            self.play_beep()
        } else {
            Duration::ZERO
        };
        self.subscribe_for_recording();
        let file = recording_file(&recording_id, format);
        log::info!(
            "call {}: recording {recording_id} to {file}",
            self.parties.sip_call
        );
        self.recordings.start(
            recording_id,
            file,
            format,
            RecorderSettings {
                layout: match dual {
                    true => Layout::Dual,
                    false => Layout::Mono,
                },
                ..flow_settings(max_duration, end_of_silence, end_of_key)
            },
            lead_in,
            Purpose::Flow,
        );
        Some(Outcome::Done)
    }

    /// `record_stop`: `Done` (also when nothing was recording).
    pub(super) fn record_stop(&mut self, recording_id: Option<String>) -> Option<Outcome> {
        if self.recordings.stop(recording_id.as_deref()) {
            self.on_recordings_ended();
        }
        Some(Outcome::Done)
    }

    /// `connect` to a voicemail box: beep, then record until `#`, silence or
    /// the box's longest length; `Done` when the message is left.
    pub(super) fn voicemail(&mut self, targets: &[String]) -> Option<Outcome> {
        let Some(mailbox) = targets.first().cloned() else {
            return Some(Outcome::Failed("voicemail without a mailbox".into()));
        };
        let Some(config) = self.plan.env.destinations.voicemail(&mailbox) else {
            return Some(Outcome::Failed(format!("no voicemail box {mailbox:?}")));
        };
        let max = config
            .max_length_sec
            .map(|s| Duration::from_secs(u64::from(s)))
            .unwrap_or(VOICEMAIL_MAX_DEFAULT);
        if self.media.is_none() {
            return Some(Outcome::Failed("the call has no media".into()));
        }
        self.voicemail_messages += 1;
        let message_id = format!("{}-vm-{}", self.parties.sip_call, self.voicemail_messages);
        let file = voicemail_file(&mailbox, &message_id);
        let received_at = self
            .plan
            .wall
            .at(self.now)
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        let lead_in = self.play_beep();
        self.subscribe_for_recording();
        log::info!(
            "call {}: voicemail for {mailbox} to {file}",
            self.parties.sip_call
        );
        self.recordings.start(
            message_id,
            file,
            RecordingFormat::Wav,
            RecorderSettings {
                max_duration: Some(max),
                end_of_silence: Some(VOICEMAIL_SILENCE),
                end_of_key: Some('#'),
                ..RecorderSettings::default()
            },
            lead_in,
            Purpose::Voicemail {
                mailbox,
                caller: self.parties.from.clone(),
                callee: self.parties.to.clone(),
                call_id: self.parties.sip_call.to_string(),
                received_at,
            },
        );
        self.activity = Activity::Voicemail;
        None
    }

    /// A frame the jitter buffer played out: every running recording gets it.
    pub(super) fn record_frame(&mut self) {
        if !self.recordings.is_recording() {
            return;
        }
        if let Some(media) = self.media.as_ref() {
            self.recordings
                .handle_frame(self.now, Party::Caller, media.received_audio());
        }
        self.on_recordings_ended();
    }

    /// A key: it may be a recording's end key. `true`: it ended the
    /// voicemail message, so it is spent (the flow has moved on).
    pub(super) fn record_digit(&mut self, digit: char) -> bool {
        if !self.recordings.is_recording() {
            return false;
        }
        let voicemail = self.recordings.voicemail_recording();
        self.recordings.handle_digit(digit);
        self.on_recordings_ended();
        voicemail && !self.recordings.voicemail_recording()
    }

    /// The call ended: every recording ends with it.
    pub(super) fn record_call_ended(&mut self) {
        if self.recordings.is_recording() {
            self.recordings.stop_all(StopReason::CallEnded);
            self.on_recordings_ended();
        }
    }

    /// Every recording that has ended sets its variables; a voicemail the
    /// flow waits for resumes it.
    fn on_recordings_ended(&mut self) {
        let mut voicemail_done = false;
        while let Some(summary) = self.recordings.poll_ended() {
            voicemail_done |= summary.mailbox.is_some();
            self.set_recording_vars(&summary);
        }
        if !self.recordings.is_recording() {
            if let Some(media) = self.media.as_mut() {
                if self.recording_subscribed {
                    media.unsubscribe_audio();
                    self.recording_subscribed = false;
                }
            }
        }
        // A call that is ending resumes its flow with the hangup instead.
        let call_goes_on = self.cause.is_none() && self.flow_live();
        if voicemail_done && matches!(self.activity, Activity::Voicemail) && call_goes_on {
            self.activity = Activity::Idle;
            if let Some(media) = self.media.as_mut() {
                media.stop_playback();
            }
            let directive = self
                .session
                .resume(Outcome::Done, self.plan.wall.at(self.now));
            self.run(directive);
        }
    }

    fn set_recording_vars(&mut self, summary: &RecordingSummary) {
        let seconds = format!("{:.1}", summary.duration_ms as f64 / 1000.0);
        let millis = summary.duration_ms.to_string();
        let size = summary
            .size_bytes
            .map(|s| s.to_string())
            .unwrap_or_default();
        let session = &mut self.session;
        if let Some(mailbox) = &summary.mailbox {
            session.set_call_var("voicemail.message_id", &summary.id);
            session.set_call_var("voicemail.mailbox", mailbox);
            session.set_call_var("voicemail.file", &summary.file);
            session.set_call_var("voicemail.duration", &seconds);
            session.set_call_var("voicemail.duration_ms", &millis);
            return;
        }
        session.set_call_var("voipbin.recording.file", &summary.file);
        session.set_call_var("voipbin.recording.format", summary.format.extension());
        session.set_call_var("voipbin.recording.duration", &seconds);
        session.set_call_var("voipbin.recording.duration_ms", &millis);
        session.set_call_var("voipbin.recording.size", &size);
        session.set_call_var("voipbin.recording.end_reason", summary.end_reason);
    }

    /// Plays the catalog's beep; how long before recording begins.
    fn play_beep(&mut self) -> Duration {
        let Some(beep) = self.plan.prompts.get(BEEP_PROMPT_ID).cloned() else {
            log::warn!("call {}: the catalog has no beep", self.parties.sip_call);
            return Duration::ZERO;
        };
        let length = beep.duration() + BEEP_GAP;
        if let Some(media) = self.media.as_mut() {
            media.play(beep);
        }
        length
    }

    fn subscribe_for_recording(&mut self) {
        if self.recording_subscribed {
            return;
        }
        if let Some(media) = self.media.as_mut() {
            media.subscribe_audio();
            self.recording_subscribed = true;
        }
    }
}
