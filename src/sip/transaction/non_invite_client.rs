//! Non-INVITE client transaction (RFC 3261 §17.1.2) for the BYEs we send: Timer E
//! retransmission, Timer F timeout, Timer K to absorb response retransmissions.

use crate::sip::timers::{Backoff, SipTimers};
use crate::time::Time;
use std::net::SocketAddr;

#[derive(Clone, Debug)]
enum State {
    Trying,
    Proceeding,
    Completed { ends_at: Time },
}

/// What a response meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClientResponse {
    Provisional,
    /// The first final response.
    Final,
    /// A retransmitted final response.
    Duplicate,
}

/// What a timer firing means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClientTimeout {
    Nothing,
    /// Resend the request.
    Retransmit,
    /// No final response within 64*T1 (Timer F).
    TimedOut,
    /// Timer K ran out; forget the transaction.
    Expired,
}

/// One outgoing non-INVITE request.
#[derive(Clone, Debug)]
pub(crate) struct NonInviteClientTx {
    pub dest: SocketAddr,
    pub request: Vec<u8>,
    state: State,
    retransmit: Backoff,
    timeout_at: Time,
    t4: std::time::Duration,
}

impl NonInviteClientTx {
    /// A transaction whose request was sent at `now`.
    pub(crate) fn new(now: Time, dest: SocketAddr, request: Vec<u8>, timers: SipTimers) -> Self {
        NonInviteClientTx {
            dest,
            request,
            state: State::Trying,
            retransmit: Backoff::start(now, &timers),
            timeout_at: now + timers.transaction_timeout(),
            t4: timers.t4,
        }
    }

    /// Feeds a response with status `status`.
    pub(crate) fn on_response(&mut self, now: Time, status: u16) -> ClientResponse {
        match self.state {
            State::Completed { .. } => ClientResponse::Duplicate,
            _ if status < 200 => {
                if matches!(self.state, State::Trying) {
                    self.retransmit.hold_at_t2(now);
                }
                self.state = State::Proceeding;
                ClientResponse::Provisional
            }
            _ => {
                self.state = State::Completed {
                    ends_at: now + self.t4,
                };
                ClientResponse::Final
            }
        }
    }

    /// When `on_timeout` must next run.
    pub(crate) fn deadline(&self) -> Time {
        match self.state {
            State::Completed { ends_at } => ends_at,
            _ => self.retransmit.next_at().min(self.timeout_at),
        }
    }

    /// Runs due timers.
    pub(crate) fn on_timeout(&mut self, now: Time) -> ClientTimeout {
        match self.state {
            State::Completed { ends_at } if ends_at <= now => ClientTimeout::Expired,
            State::Completed { .. } => ClientTimeout::Nothing,
            _ if self.timeout_at <= now => ClientTimeout::TimedOut,
            _ if self.retransmit.is_due(now) => {
                self.retransmit.advance(now);
                ClientTimeout::Retransmit
            }
            _ => ClientTimeout::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx() -> NonInviteClientTx {
        NonInviteClientTx::new(
            Time::ZERO,
            "192.0.2.1:5060".parse().unwrap(),
            b"BYE".to_vec(),
            SipTimers::default(),
        )
    }

    #[test]
    fn retransmits_on_timer_e_and_times_out_on_timer_f() {
        let mut tx = tx();
        let mut fired = Vec::new();
        loop {
            let at = tx.deadline();
            let outcome = tx.on_timeout(at);
            fired.push(at.as_millis());
            if outcome == ClientTimeout::TimedOut {
                break;
            }
            assert_eq!(outcome, ClientTimeout::Retransmit);
        }
        assert_eq!(
            fired,
            vec![500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500, 32000]
        );
    }

    #[test]
    fn provisional_switches_to_t2_and_final_completes() {
        let mut tx = tx();
        assert_eq!(
            tx.on_response(Time::from_millis(100), 100),
            ClientResponse::Provisional
        );
        assert_eq!(
            tx.on_timeout(Time::from_millis(500)),
            ClientTimeout::Retransmit
        );
        assert_eq!(tx.deadline(), Time::from_millis(4500));
        assert_eq!(
            tx.on_response(Time::from_millis(600), 200),
            ClientResponse::Final
        );
        assert_eq!(
            tx.on_response(Time::from_millis(700), 200),
            ClientResponse::Duplicate
        );
        assert_eq!(tx.deadline(), Time::from_millis(5600));
        assert_eq!(
            tx.on_timeout(Time::from_millis(5600)),
            ClientTimeout::Expired
        );
    }
}
