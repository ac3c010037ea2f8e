//! A blind transfer asked of the call by its caller: REFER received (RFC
//! 3515), with callplane as the transferee.
//!
//! When `[sip] accept_refer` allows it, the caller's REFER names a target; the
//! call places an outbound leg there (as `dial` does) and reports that leg's
//! progress to the caller in NOTIFYs (`100 Trying` at once, then the final
//! status). When the target answers, the call's flow moves over to it:
//! its prompts play to the new party, its gathers hear the new party's keys,
//! and the caller's own hangup (which RFC 3515 has the transferor send after
//! a successful NOTIFY) no longer ends the call — the new party's does. When
//! the target does not answer, the caller hears of it in the final NOTIFY
//! and the call goes on as before, as RFC 3515 wants of a failed transfer.

use crate::media::MediaSession;
use crate::sip::DialogEvent;

use super::{Activity, Call};
use crate::call::cdr::{HangupCause, HangupSide};
use crate::call::leg::{LegEnd, LegEvent, LegId, LegRequest};

/// A transfer in progress or done.
#[derive(Debug)]
pub(super) struct Transfer {
    /// The leg placed to the REFER's target.
    pub(super) leg: LegId,
    /// The target answered: the flow talks to it now.
    pub(super) answered: bool,
}

impl Call {
    /// The caller's REFER was accepted: call its target.
    pub(super) fn on_referred(&mut self) {
        let Some(target) = self.dialog.take_refer_target() else {
            return;
        };
        let now = self.now;
        if self.transfer.is_some() || self.connecting.is_some() || !self.flow_live() {
            // Busy connecting (or leaving): the transfer fails at once.
            self.dialog
                .notify_refer(now, 503, "Service Unavailable", true);
            return;
        }
        log::info!(
            "call {}: transfer asked for, to {target}",
            self.parties.sip_call
        );
        self.next_leg = self.next_leg.wrapping_add(1).max(1);
        let leg = self.next_leg;
        self.transfer = Some(Transfer {
            leg,
            answered: false,
        });
        self.transfer_request = Some(LegRequest {
            leg,
            target,
            caller_id: self.parties.to.clone(),
            codecs: self.plan.codecs.clone(),
        });
    }

    /// Whether `leg` is the transfer's.
    pub(super) fn is_transfer_leg(&self, leg: LegId) -> bool {
        self.transfer.as_ref().is_some_and(|t| t.leg == leg)
    }

    /// The leg the flow talks to, once a transfer is answered.
    pub(super) fn flow_leg(&self) -> Option<LegId> {
        self.transfer.as_ref().filter(|t| t.answered).map(|t| t.leg)
    }

    /// The media the flow plays to and listens to: the caller's, or the
    /// transfer target's once it answered.
    pub(super) fn flow_media(&mut self) -> Option<&mut MediaSession> {
        match self.flow_leg() {
            Some(leg) => self
                .legs
                .iter_mut()
                .find(|l| l.id() == leg)
                .and_then(|l| l.media_mut()),
            None => self.media.as_mut(),
        }
    }

    /// The transfer leg could not be placed.
    pub(super) fn transfer_refused(&mut self) {
        self.transfer = None;
        self.dialog
            .notify_refer(self.now, 503, "Service Unavailable", true);
    }

    /// An event of the transfer's leg; false when `leg` is not the transfer's.
    pub(super) fn on_transfer_leg_event(&mut self, leg: LegId, event: &LegEvent) -> bool {
        if !self.is_transfer_leg(leg) {
            return false;
        }
        let now = self.now;
        let answered = self.flow_leg().is_some();
        match event {
            // Only the first NOTIFY (100 Trying) and the final one go out
            // (RFC 3515 §2.4.5 asks no more): ringing is not reported.
            LegEvent::Progress(_) | LegEvent::EarlyMedia => {}
            LegEvent::Answered => self.transfer_answered(),
            LegEvent::Dtmf(digit) if answered => self.on_digit(*digit),
            LegEvent::Dtmf(_) => {}
            LegEvent::Media(event) if answered => self.on_media_event(event.clone()),
            LegEvent::Media(_) => {}
            LegEvent::Ended(end) if !answered => {
                let status = self
                    .legs
                    .iter()
                    .find(|l| l.id() == leg)
                    .map_or(480, |l| l.status())
                    .max(400);
                let (status, reason) = match end {
                    LegEnd::Busy => (486, "Busy Here"),
                    LegEnd::NoAnswer => (480, "Temporarily Unavailable"),
                    LegEnd::Failed(_) | LegEnd::Hangup => (status, "Failed"),
                };
                log::info!(
                    "call {}: transfer failed ({status}); the call goes on",
                    self.parties.sip_call
                );
                self.transfer = None;
                self.dialog.notify_refer(now, status, reason, true);
            }
            LegEvent::Ended(_) => {
                // The transferred party hung up: the call is over.
                self.flow_leg_hung_up();
            }
        }
        true
    }

    fn transfer_answered(&mut self) {
        let now = self.now;
        if let Some(transfer) = self.transfer.as_mut() {
            transfer.answered = true;
        }
        self.dialog.notify_refer(now, 200, "OK", true);
        log::info!(
            "call {}: transfer answered; the flow goes on with the new party",
            self.parties.sip_call
        );
        // Whatever the caller was hearing stops; the flow's current step
        // (a prompt, a gather) carries on towards the new party.
        if let Some(media) = self.media.as_mut() {
            media.stop_playback();
        }
        if matches!(self.activity, Activity::Playing) {
            self.on_playback_idle();
        }
    }

    /// The caller hung up after a transfer was answered: the flow stays with
    /// the new party. False when no transfer was answered.
    pub(super) fn caller_left_after_transfer(&mut self, event: DialogEvent) -> bool {
        if self.flow_leg().is_none() {
            return false;
        }
        if matches!(event, DialogEvent::RemoteHangup) {
            if let Some(media) = self.media.as_mut() {
                media.close();
            }
        }
        true
    }

    /// The flow's party after a transfer hung up.
    fn flow_leg_hung_up(&mut self) {
        let was_live = self.flow_live();
        self.finish(HangupCause::CallerHangup, HangupSide::Caller);
        if was_live && self.flow_running {
            let wall = self.plan.wall.at(self.now);
            let directive = self
                .session
                .resume(crate::flow::Outcome::CallerHangup, wall);
            self.run(directive);
        }
    }

    /// The flow hangs up a transferred call: the new party's leg goes.
    pub(super) fn hangup_transferred(&mut self, cause: HangupCause) -> bool {
        if self.flow_leg().is_none() {
            return false;
        }
        self.finish(cause, HangupSide::Callplane);
        true
    }
}
