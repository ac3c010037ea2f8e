//! Session timers in a dialog (RFC 4028): the clock between refreshes, our
//! refresh when we are the refresher — at half the interval, an UPDATE when
//! the far end's `Allow` lists it, else a re-INVITE carrying the SDP we last
//! sent (an unchanged session, so its `o=` version stays) — and ending the
//! call with BYE when the far end's refresh does not come by
//! `expires − min(32 s, expires/3)` ([`TerminatedReason::SessionExpired`])
//! or ours gets no response, 408 or 481 ([`TerminatedReason::RefreshFailed`]).
//!
//! Every refresh, received or sent, restarts the clock. Another failure of
//! our refresh (491, 500…) tries again halfway to the expiry; a 422 retries
//! at once with its `Min-SE`. The answer in the 2xx to a re-INVITE refresh
//! is not applied to the media: a refresh re-uses the session.

use std::time::Duration;

use ezk_sip_types::Name;

use super::{Dialog, DialogState};
use crate::sip::event::TerminatedReason;
use crate::sip::message::{MessageHead, Response};
use crate::sip::method::ALLOWED_METHODS;
use crate::sip::session_timer::{
    read_min_se, read_response, Refresher, SessionClock, SessionTimer,
};
use crate::sip::transaction::{
    ClientResponse, ClientTimeout, InviteClientResponse, InviteClientTimeout, InviteClientTx,
    NonInviteClientTx,
};
use crate::time::Time;

/// The shortest wait before retrying a refresh that failed.
const RETRY_FLOOR: Duration = Duration::from_secs(1);

/// Our session refresh and its transaction.
#[derive(Debug)]
pub(super) struct OurRefresh {
    branch: String,
    cseq: u32,
    tx: RefreshTx,
    /// Its final response arrived (the transaction may still absorb
    /// retransmissions).
    answered: bool,
    /// The ACK of the 2xx to our re-INVITE, resent for its retransmissions.
    ack: Option<Vec<u8>>,
}

#[derive(Debug)]
enum RefreshTx {
    Update(NonInviteClientTx),
    Reinvite(InviteClientTx),
}

impl OurRefresh {
    fn deadline(&self) -> Time {
        match &self.tx {
            RefreshTx::Update(tx) => tx.deadline(),
            RefreshTx::Reinvite(tx) => tx.deadline(),
        }
    }
}

impl Dialog {
    /// The session was refreshed (or started) at `now` with `timer` (`None`:
    /// no session timer from now on).
    pub(super) fn session_refreshed(&mut self, now: Time, timer: Option<SessionTimer>) {
        self.session = timer.map(|timer| SessionClock::start(now, timer));
    }

    /// Whether our refresh re-INVITE (an offer) awaits its final response.
    pub(super) fn refresh_offer_outstanding(&self) -> bool {
        self.refresh
            .as_ref()
            .is_some_and(|r| !r.answered && matches!(r.tx, RefreshTx::Reinvite(_)))
    }

    fn refresh_in_flight(&self) -> bool {
        self.refresh.as_ref().is_some_and(|r| !r.answered)
    }

    /// The session timer's and our refresh's next deadline.
    pub(super) fn session_deadline(&self) -> Option<Time> {
        let tx = self.refresh.as_ref().map(OurRefresh::deadline);
        let clock = self
            .session
            .as_ref()
            .filter(|_| self.state == DialogState::Confirmed)
            .map(|clock| match clock.timer.refresher {
                Refresher::Peer => clock.due_at,
                Refresher::Us if self.refresh_in_flight() => clock.expires_at,
                Refresher::Us => clock.due_at.min(clock.expires_at),
            });
        [tx, clock].into_iter().flatten().min()
    }

    /// Runs the session timer and our refresh's transaction.
    pub(super) fn run_session_timer(&mut self, now: Time) {
        self.run_refresh_tx(now);
        if self.state != DialogState::Confirmed {
            return;
        }
        let Some(clock) = self.session else {
            return;
        };
        match clock.timer.refresher {
            Refresher::Peer if clock.due_at <= now => {
                self.end_session(now, TerminatedReason::SessionExpired)
            }
            Refresher::Us if clock.expires_at <= now => {
                self.end_session(now, TerminatedReason::SessionExpired)
            }
            Refresher::Us if clock.due_at <= now && !self.refresh_in_flight() => {
                self.send_refresh(now, clock.timer)
            }
            _ => {}
        }
    }

    /// Ends the call with BYE: the session expired or could not be refreshed.
    fn end_session(&mut self, now: Time, reason: TerminatedReason) {
        self.session = None;
        self.stats.session_expiries += 1;
        self.send_bye(now, false);
        self.terminate(now, reason);
    }

    /// Sends our refresh: UPDATE if the far end allows it, else a re-INVITE
    /// with the SDP we last sent.
    fn send_refresh(&mut self, now: Time, timer: SessionTimer) {
        let branch = self.new_branch();
        self.peer.local_cseq += 1;
        let cseq = self.peer.local_cseq;
        let local_addr = self.config.local_addr;
        let mut extra = timer.request_headers();
        extra.push((Name::CONTACT, format!("<sip:callplane@{local_addr}>")));
        extra.push((Name::ALLOW, ALLOWED_METHODS.to_owned()));
        let ua = &self.config.user_agent;
        let dest = self.peer.source;
        let timers = self.config.timers;
        let (request, tx) = match self
            .local_sdp
            .as_deref()
            .filter(|_| !self.peer.allows_update)
        {
            Some(sdp) => {
                let body = Some(("application/sdp", sdp));
                let request = self
                    .peer
                    .build_request_with("INVITE", cseq, &branch, local_addr, ua, &extra, body);
                let tx = InviteClientTx::new(now, dest, request.clone(), timers);
                (request, RefreshTx::Reinvite(tx))
            }
            None => {
                let request = self
                    .peer
                    .build_request_with("UPDATE", cseq, &branch, local_addr, ua, &extra, None);
                let tx = NonInviteClientTx::new(now, dest, request.clone(), timers);
                (request, RefreshTx::Update(tx))
            }
        };
        self.refresh = Some(OurRefresh {
            branch,
            cseq,
            tx,
            answered: false,
            ack: None,
        });
        self.stats.session_refreshes_sent += 1;
        self.transmit(dest, request);
    }

    /// A response to our refresh; `false` if it is not one.
    pub(super) fn on_refresh_response(&mut self, now: Time, response: &Response) -> bool {
        let head = &response.head;
        let Some(refresh) = self.refresh.as_mut() else {
            return false;
        };
        if head.top_via.branch != refresh.branch {
            return false;
        }
        let status = response.status;
        let local_addr = self.config.local_addr;
        let ua = &self.config.user_agent;
        let dest = self.peer.source;
        let mut send = None;
        let fresh = match &mut refresh.tx {
            RefreshTx::Update(tx) => tx.on_response(now, status) == ClientResponse::Final,
            RefreshTx::Reinvite(tx) => match tx.on_response(now, status) {
                InviteClientResponse::Provisional | InviteClientResponse::Stray => false,
                InviteClientResponse::Accepted => {
                    // §13.2.2.4: the 2xx is acknowledged by the dialog, on a new branch.
                    let branch = super::new_branch(&mut self.rng);
                    let ack = self
                        .peer
                        .build_request("ACK", refresh.cseq, &branch, local_addr, ua);
                    refresh.ack = Some(ack.clone());
                    send = Some(ack);
                    true
                }
                InviteClientResponse::AcceptedAgain => {
                    send = refresh.ack.clone();
                    false
                }
                InviteClientResponse::Rejected => {
                    let ack = self.peer.build_request(
                        "ACK",
                        refresh.cseq,
                        &refresh.branch,
                        local_addr,
                        ua,
                    );
                    tx.set_ack(ack.clone());
                    send = Some(ack);
                    true
                }
                InviteClientResponse::RejectedAgain => {
                    send = Some(tx.ack().to_vec());
                    false
                }
            },
        };
        if fresh {
            refresh.answered = true;
        }
        if let Some(ack) = send {
            self.transmit(dest, ack);
        }
        if fresh {
            self.refresh_answered(now, status, head);
        }
        true
    }

    /// The final response to our refresh.
    fn refresh_answered(&mut self, now: Time, status: u16, head: &MessageHead) {
        if self.state != DialogState::Confirmed {
            return;
        }
        let Some(mut timer) = self.session.map(|clock| clock.timer) else {
            return;
        };
        match status {
            200..=299 => {
                if let Some((interval, refresher)) = read_response(head) {
                    timer.interval = interval;
                    timer.refresher = refresher.unwrap_or(timer.refresher);
                }
                self.session_refreshed(now, Some(timer));
            }
            408 | 481 => self.end_session(now, TerminatedReason::RefreshFailed),
            _ => {
                let Some(clock) = self.session.as_mut() else {
                    return;
                };
                match read_min_se(head).filter(|min| status == 422 && *min > timer.interval) {
                    Some(min_se) => {
                        clock.timer.interval = min_se;
                        clock.due_at = now;
                    }
                    None => {
                        let half = clock.expires_at.saturating_since(now) / 2;
                        clock.due_at = now + half.max(RETRY_FLOOR);
                    }
                }
            }
        }
    }

    fn run_refresh_tx(&mut self, now: Time) {
        let Some(refresh) = self.refresh.as_mut() else {
            return;
        };
        if refresh.deadline() > now {
            return;
        }
        let (resend, timed_out, expired) = match &mut refresh.tx {
            RefreshTx::Update(tx) => match tx.on_timeout(now) {
                ClientTimeout::Nothing => (None, false, false),
                ClientTimeout::Retransmit => (Some((tx.dest, tx.request.clone())), false, false),
                ClientTimeout::TimedOut => (None, true, false),
                ClientTimeout::Expired => (None, false, true),
            },
            RefreshTx::Reinvite(tx) => match tx.on_timeout(now) {
                InviteClientTimeout::Nothing => (None, false, false),
                InviteClientTimeout::Retransmit => {
                    (Some((tx.dest, tx.request.clone())), false, false)
                }
                InviteClientTimeout::TimedOut => (None, true, false),
                InviteClientTimeout::Expired => (None, false, true),
            },
        };
        let unanswered = !refresh.answered;
        if let Some((dest, request)) = resend {
            self.retransmit(dest, request);
        }
        if timed_out || expired {
            self.refresh = None;
            if timed_out && unanswered && self.state == DialogState::Confirmed {
                self.end_session(now, TerminatedReason::RefreshFailed);
            }
        }
    }
}
