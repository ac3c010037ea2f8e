//! A dialog's timers: retransmissions of its responses and of our BYE, Timer H
//! (BYE for an unacknowledged 2xx), Timer F for our BYE, the session timer
//! (`refresh.rs`), and the end of each transaction. A dialog holds a handful of transactions, so its next deadline
//! is the minimum of a few values, not a scan of anything shared.

use super::Dialog;
use crate::sip::event::TerminatedReason;
use crate::sip::transaction::{ClientTimeout, InviteServerTx, InviteTimeout};
use crate::time::Time;

/// What an INVITE server transaction's timer asks of its dialog.
enum InviteStep {
    Keep,
    Resend(std::net::SocketAddr, Vec<u8>),
    End {
        unacknowledged_2xx: bool,
        ack_timeout: bool,
    },
}

fn step(tx: &mut InviteServerTx, now: Time) -> InviteStep {
    match tx.on_timeout(now) {
        InviteTimeout::Nothing => InviteStep::Keep,
        InviteTimeout::Retransmit => InviteStep::Resend(tx.dest, tx.last_response().to_vec()),
        InviteTimeout::AckTimeout2xx => InviteStep::End {
            unacknowledged_2xx: true,
            ack_timeout: true,
        },
        InviteTimeout::AckTimeoutNon2xx => InviteStep::End {
            unacknowledged_2xx: false,
            ack_timeout: true,
        },
        InviteTimeout::Expired => InviteStep::End {
            unacknowledged_2xx: false,
            ack_timeout: false,
        },
    }
}

impl Dialog {
    /// Runs every timer of the dialog that is due at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        self.run_invite_timer(now);
        self.run_reliable_timer(now);
        self.run_reinvite_timer(now);
        self.run_refused_timers(now);
        self.server_txs.retain(|(_, tx)| tx.ends_at > now);
        self.run_bye_timer(now);
        self.run_notify_timers(now);
        self.run_outbound_timers(now);
        self.run_session_timer(now);
    }

    /// The earliest instant a timer of the dialog is due ([`Time::NEVER`]: none).
    pub(super) fn deadline(&self) -> Time {
        let invite = self.invite_tx.as_ref().and_then(InviteServerTx::deadline);
        let refused = self
            .refused_invites
            .iter()
            .filter_map(|(_, tx)| tx.deadline())
            .min();
        let server = self.server_txs.iter().map(|(_, tx)| tx.ends_at).min();
        let bye = self.bye.as_ref().map(|bye| bye.tx.deadline());
        let reinvite = self.reinvite.as_ref().and_then(|r| r.tx.deadline());
        let outbound = self.outbound_deadline();
        let session = self.session_deadline();
        let reliable = self.reliability.deadline();
        let notify = self.refers.deadline();
        [
            invite, refused, server, bye, reinvite, outbound, session, reliable, notify,
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(Time::NEVER)
    }

    fn run_invite_timer(&mut self, now: Time) {
        let Some(tx) = self.invite_tx.as_mut() else {
            return;
        };
        if tx.deadline().is_none_or(|at| at > now) {
            return;
        }
        match step(tx, now) {
            InviteStep::Keep => {}
            InviteStep::Resend(dest, response) => self.retransmit(dest, response),
            InviteStep::End {
                unacknowledged_2xx,
                ack_timeout,
            } => {
                self.invite_tx = None;
                if ack_timeout {
                    self.stats.ack_timeouts += 1;
                }
                if unacknowledged_2xx && self.state != super::DialogState::Terminated {
                    // §13.3.1.4: no ACK, so end the dialog with a BYE.
                    self.send_bye(now, false);
                    self.terminate(now, TerminatedReason::AckTimeout);
                }
            }
        }
    }

    fn run_reinvite_timer(&mut self, now: Time) {
        let Some(reinvite) = self.reinvite.as_mut() else {
            return;
        };
        if reinvite.tx.deadline().is_none_or(|at| at > now) {
            return;
        }
        match step(&mut reinvite.tx, now) {
            InviteStep::Keep => {}
            InviteStep::Resend(dest, response) => self.retransmit(dest, response),
            InviteStep::End {
                unacknowledged_2xx,
                ack_timeout,
            } => {
                self.reinvite = None;
                if ack_timeout {
                    self.stats.ack_timeouts += 1;
                }
                if unacknowledged_2xx && self.state == super::DialogState::Confirmed {
                    // §14.2: a 2xx to a re-INVITE never acknowledged ends the dialog.
                    self.send_bye(now, false);
                    self.terminate(now, TerminatedReason::AckTimeout);
                }
            }
        }
    }

    fn run_refused_timers(&mut self, now: Time) {
        let mut index = 0;
        while index < self.refused_invites.len() {
            let tx = &mut self.refused_invites[index].1;
            if tx.deadline().is_none_or(|at| at > now) {
                index += 1;
                continue;
            }
            match step(tx, now) {
                InviteStep::Keep => index += 1,
                InviteStep::Resend(dest, response) => {
                    self.retransmit(dest, response);
                    index += 1;
                }
                InviteStep::End { ack_timeout, .. } => {
                    self.refused_invites.swap_remove(index);
                    if ack_timeout {
                        self.stats.ack_timeouts += 1;
                    }
                }
            }
        }
    }

    fn run_bye_timer(&mut self, now: Time) {
        let Some(bye) = self.bye.as_mut() else {
            return;
        };
        if bye.tx.deadline() > now {
            return;
        }
        match bye.tx.on_timeout(now) {
            ClientTimeout::Nothing => {}
            ClientTimeout::Retransmit => {
                let (dest, request) = (bye.tx.dest, bye.tx.request.clone());
                self.retransmit(dest, request);
            }
            ClientTimeout::TimedOut => {
                let report = bye.report;
                self.bye = None;
                self.stats.bye_timeouts += 1;
                if report {
                    self.terminate(now, TerminatedReason::ByeTimeout);
                }
            }
            ClientTimeout::Expired => self.bye = None,
        }
    }
}
