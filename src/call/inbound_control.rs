//! A call's side of live-call control: applying one [`CallCommand`] from the
//! control plane inside the call core, and the [`CallSnapshot`] it reports.
//! A command the call cannot take now (the caller is not connected, the flow
//! is not blocked, a transfer is already under way) is refused with the
//! reason, and nothing changes.

use std::time::Duration;

use crate::call::cdr::{HangupCause, MediaCdr};
use crate::call::control::{CallCommand, CallSnapshot, Refusal};
use crate::call::leg::LegRequest;
use crate::flow::Outcome;
use crate::time::Time;

use super::{Activity, Call, Phase};

/// How long each key sent by `digits_send` sounds, and the gap after it (as
/// the flow action's defaults).
const DIGIT_TONE: Duration = Duration::from_millis(250);
const DIGIT_GAP: Duration = Duration::from_millis(100);

fn refused(reason: &str) -> Refusal {
    Refusal::Refused(reason.to_owned())
}

impl Call {
    /// Applies `command` now, or says why not.
    pub fn handle_command(&mut self, now: Time, command: CallCommand) -> Result<(), Refusal> {
        self.now = now;
        if matches!(self.phase, Phase::Ending | Phase::Ended) {
            return Err(refused("the call is ending"));
        }
        match command {
            CallCommand::Hangup => {
                match self.phase {
                    Phase::Starting | Phase::Ringing { .. } => {
                        self.reject(480, HangupCause::ApiHangup)
                    }
                    _ => {
                        self.flow_running = false;
                        self.hangup(HangupCause::ApiHangup);
                    }
                }
                Ok(())
            }
            CallCommand::Resume => {
                if !matches!(self.activity, Activity::Blocked) {
                    return Err(refused("the flow is not waiting at a block action"));
                }
                self.activity = Activity::Idle;
                let directive = self.session.resume(Outcome::Done, self.plan.wall.at(now));
                self.run(directive);
                Ok(())
            }
            _ if !self.flow_live() => Err(refused("the caller is not connected yet")),
            CallCommand::Play(audio) => {
                if audio.is_empty() {
                    return Err(refused("nothing to play"));
                }
                let prompts = self.resolve_all(&audio).map_err(Refusal::Refused)?;
                let media = self
                    .flow_media()
                    .ok_or_else(|| refused("the call has no media"))?;
                media.stop_playback();
                for prompt in prompts {
                    media.play(prompt);
                }
                Ok(())
            }
            CallCommand::SendDigits(digits) => {
                if digits.is_empty() || !digits.chars().all(is_dtmf_key) {
                    return Err(refused("digits must be 0-9, *, #, A-D"));
                }
                if matches!(self.activity, Activity::SendingDigits) {
                    return Err(refused("the flow is sending digits"));
                }
                let media = self
                    .flow_media()
                    .ok_or_else(|| refused("the call has no media"))?;
                media.send_digits(&digits, DIGIT_TONE, DIGIT_GAP);
                Ok(())
            }
            CallCommand::RecordingStart {
                recording_id,
                format,
            } => match self.record_start(recording_id, format, None, None, None, false, false) {
                Some(Outcome::Failed(reason)) => Err(Refusal::Refused(reason)),
                _ => Ok(()),
            },
            CallCommand::RecordingStop { recording_id } => {
                self.record_stop(recording_id);
                Ok(())
            }
            CallCommand::Transfer(target) => {
                let target = target.trim().to_owned();
                if target.is_empty() {
                    return Err(refused("no target to transfer to"));
                }
                if self.transfer.is_some() || self.connecting.is_some() {
                    return Err(refused("the call is already connecting"));
                }
                log::info!(
                    "call {}: transfer asked through the API, to {target}",
                    self.parties.sip_call
                );
                self.next_leg = self.next_leg.wrapping_add(1).max(1);
                let leg = self.next_leg;
                self.transfer = Some(super::transfer::Transfer {
                    leg,
                    answered: false,
                });
                self.transfer_request = Some(LegRequest {
                    leg,
                    target,
                    caller_id: self.parties.to.clone(),
                    codecs: self.plan.codecs.clone(),
                });
                Ok(())
            }
        }
    }

    /// The call as it is now, for the API.
    pub fn snapshot(&self, now: Time) -> CallSnapshot {
        let state = match self.phase {
            Phase::Starting | Phase::Ringing { .. } => "ringing",
            Phase::Early => "early",
            Phase::AwaitingAnswer => "answering",
            Phase::Active => "answered",
            Phase::Ending | Phase::Ended => "ending",
        };
        let activity = match &self.activity {
            Activity::Idle => "idle",
            Activity::Playing => "playing",
            Activity::Gathering(_) => "gathering",
            Activity::Sleeping { .. } => "sleeping",
            Activity::SendingDigits => "sending_digits",
            Activity::AwaitingHttp => "http",
            Activity::Voicemail => "voicemail",
            Activity::Waiting => "bridged",
            Activity::Connecting => "connecting",
            Activity::Blocked => "blocked",
            Activity::AwaitingSpeech(_) => "synthesizing",
        };
        CallSnapshot {
            id: self.parties.sip_call.to_string(),
            shard: self.plan.shard,
            from: self.parties.from.clone(),
            to: self.parties.to.clone(),
            flow_id: self.plan.program.id().to_owned(),
            flow_version: self.plan.program.version(),
            current_flow_id: self.session.current_flow_id().to_owned(),
            state,
            activity,
            node: self
                .session
                .current_node()
                .map(|node| node.as_str().to_owned()),
            variables: self.session.vars().as_map().clone(),
            duration_ms: u64::try_from(now.saturating_since(self.start).as_millis())
                .unwrap_or(u64::MAX),
            media: self
                .media
                .as_ref()
                .map(|media| MediaCdr::from_stats(&media.stats())),
        }
    }
}

fn is_dtmf_key(key: char) -> bool {
    matches!(key, '0'..='9' | '*' | '#' | 'A'..='D')
}
