//! Timers: which transaction is due next, and running the due ones.

use super::Endpoint;
use crate::sip::event::TerminatedReason;
use crate::sip::transaction::{ClientTimeout, InviteTimeout};
use crate::time::Time;

impl Endpoint {
    /// Earliest instant at which `handle_timeout` must be called (`None`: no timer).
    /// Linear in the number of live transactions.
    pub fn poll_timeout(&self) -> Option<Time> {
        let invite = self.invite_txs.values().filter_map(|tx| tx.deadline());
        let server = self.server_txs.values().map(|tx| tx.ends_at);
        let client = self.client_txs.values().map(|tx| tx.deadline());
        invite.chain(server).chain(client).min()
    }

    /// Runs every timer due at `now`: retransmissions, Timer H (BYE for an
    /// unacknowledged 2xx), Timer F for our BYE, and transaction clean-up.
    pub fn handle_timeout(&mut self, now: Time) {
        self.run_invite_timers(now);
        self.server_txs.retain(|_, tx| tx.ends_at > now);
        self.run_client_timers(now);
    }

    fn run_invite_timers(&mut self, now: Time) {
        let due: Vec<_> = self
            .invite_txs
            .iter()
            .filter(|(_, tx)| tx.deadline().is_some_and(|at| at <= now))
            .map(|(key, _)| key.clone())
            .collect();
        for key in due {
            let Some(tx) = self.invite_txs.get_mut(&key) else {
                continue;
            };
            match tx.on_timeout(now) {
                InviteTimeout::Nothing => {}
                InviteTimeout::Retransmit => {
                    let (dest, response) = (tx.dest, tx.last_response().to_vec());
                    self.retransmit(dest, response);
                }
                InviteTimeout::AckTimeout2xx => {
                    let call = tx.call.clone();
                    self.invite_txs.remove(&key);
                    self.stats.ack_timeouts += 1;
                    if let Some(call) = call.filter(|call| self.calls.contains_key(call)) {
                        // §13.3.1.4: no ACK, so end the dialog with a BYE.
                        self.send_bye(now, &call, false);
                        self.terminate(&call, TerminatedReason::AckTimeout);
                    }
                }
                InviteTimeout::AckTimeoutNon2xx => {
                    self.invite_txs.remove(&key);
                    self.stats.ack_timeouts += 1;
                }
                InviteTimeout::Expired => {
                    self.invite_txs.remove(&key);
                }
            }
        }
    }

    fn run_client_timers(&mut self, now: Time) {
        let due: Vec<_> = self
            .client_txs
            .iter()
            .filter(|(_, tx)| tx.deadline() <= now)
            .map(|(branch, _)| branch.clone())
            .collect();
        for branch in due {
            let Some(tx) = self.client_txs.get_mut(&branch) else {
                continue;
            };
            match tx.on_timeout(now) {
                ClientTimeout::Nothing => {}
                ClientTimeout::Retransmit => {
                    let (dest, request) = (tx.dest, tx.request.clone());
                    self.retransmit(dest, request);
                }
                ClientTimeout::TimedOut => {
                    let call = tx.call.take();
                    self.client_txs.remove(&branch);
                    self.stats.bye_timeouts += 1;
                    if let Some(call) = call {
                        self.terminate(&call, TerminatedReason::ByeTimeout);
                    }
                }
                ClientTimeout::Expired => {
                    self.client_txs.remove(&branch);
                }
            }
        }
    }
}
