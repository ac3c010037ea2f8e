//! INVITE client transaction (RFC 3261 §17.1.1 with RFC 6026's Accepted
//! state) for the INVITEs we send: Timer A retransmission until a response,
//! Timer B timeout, Timer D absorbing retransmitted non-2xx finals (each
//! answered with the stored ACK), Timer M absorbing retransmitted 2xx (which
//! the dialog answers with its own ACK, §13.2.2.4).
//!
//! A transaction in Proceeding waits for its final response without a timer,
//! as the RFC says; once the dialog has sent a CANCEL it gives the INVITE
//! 64·T1 more ([`InviteClientTx::cancel_sent`], §9.1) and then times out.

use std::net::SocketAddr;
use std::time::Duration;

use crate::sip::timers::{Backoff, SipTimers};
use crate::time::Time;

/// How long a completed transaction absorbs retransmitted non-2xx finals over
/// UDP (Timer D, "at least 32 seconds").
const TIMER_D: Duration = Duration::from_secs(32);

#[derive(Clone, Debug)]
enum State {
    /// INVITE sent, nothing heard: Timer A and B run.
    Calling {
        retransmit: Backoff,
        timeout_at: Time,
    },
    /// A provisional arrived; no timer unless a CANCEL was sent.
    Proceeding { give_up_at: Option<Time> },
    /// A 2xx arrived; retransmitted 2xx are absorbed until Timer M.
    Accepted { ends_at: Time },
    /// A non-2xx final arrived and was acknowledged; until Timer D.
    Completed { ends_at: Time },
}

/// What a response means to the transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InviteClientResponse {
    /// 1xx before any final response.
    Provisional,
    /// The first 2xx: the dialog sends the ACK itself.
    Accepted,
    /// A 2xx after the first one (a retransmission or another fork).
    AcceptedAgain,
    /// The first non-2xx final: acknowledge it with [`InviteClientTx::set_ack`].
    Rejected,
    /// A retransmitted non-2xx final: resend [`InviteClientTx::ack`].
    RejectedAgain,
    /// A response that means nothing now (a 1xx after a final).
    Stray,
}

/// What a timer firing means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InviteClientTimeout {
    Nothing,
    /// Resend the INVITE (Timer A).
    Retransmit,
    /// No response within 64·T1 (Timer B), or no final response within 64·T1
    /// of our CANCEL.
    TimedOut,
    /// Timer D or M ran out: forget the transaction.
    Expired,
}

/// One INVITE we sent.
#[derive(Clone, Debug)]
pub(crate) struct InviteClientTx {
    pub dest: SocketAddr,
    pub request: Vec<u8>,
    /// The ACK of a non-2xx final, resent on its retransmissions.
    ack: Vec<u8>,
    state: State,
    timers: SipTimers,
}

impl InviteClientTx {
    /// A transaction whose INVITE `request` was sent at `now`.
    pub(crate) fn new(now: Time, dest: SocketAddr, request: Vec<u8>, timers: SipTimers) -> Self {
        let uncapped = SipTimers {
            t2: timers.transaction_timeout(),
            ..timers
        };
        InviteClientTx {
            dest,
            request,
            ack: Vec::new(),
            state: State::Calling {
                retransmit: Backoff::start(now, &uncapped),
                timeout_at: now + timers.transaction_timeout(),
            },
            timers,
        }
    }

    /// Feeds a response with status `status` received at `now`.
    pub(crate) fn on_response(&mut self, now: Time, status: u16) -> InviteClientResponse {
        let waiting = matches!(self.state, State::Calling { .. } | State::Proceeding { .. });
        match status {
            100..=199 if waiting => {
                if let State::Calling { .. } = self.state {
                    self.state = State::Proceeding { give_up_at: None };
                }
                InviteClientResponse::Provisional
            }
            100..=199 => InviteClientResponse::Stray,
            200..=299 if waiting => {
                self.state = State::Accepted {
                    ends_at: now + self.timers.transaction_timeout(),
                };
                InviteClientResponse::Accepted
            }
            200..=299 => match self.state {
                State::Accepted { .. } => InviteClientResponse::AcceptedAgain,
                _ => InviteClientResponse::Stray,
            },
            _ if waiting => {
                self.state = State::Completed {
                    ends_at: now + TIMER_D.max(self.timers.transaction_timeout() / 2),
                };
                InviteClientResponse::Rejected
            }
            _ => match self.state {
                State::Completed { .. } => InviteClientResponse::RejectedAgain,
                _ => InviteClientResponse::Stray,
            },
        }
    }

    /// Stores the ACK just sent for the non-2xx final.
    pub(crate) fn set_ack(&mut self, ack: Vec<u8>) {
        self.ack = ack;
    }

    /// The ACK of the non-2xx final (empty before one arrived).
    pub(crate) fn ack(&self) -> &[u8] {
        &self.ack
    }

    /// Whether a provisional response arrived and no final one yet: a CANCEL
    /// may be sent now (§9.1).
    pub(crate) fn is_proceeding(&self) -> bool {
        matches!(self.state, State::Proceeding { .. })
    }

    /// Our CANCEL went out at `now`: without a final response within 64·T1
    /// the transaction times out.
    pub(crate) fn cancel_sent(&mut self, now: Time) {
        let at = now + self.timers.transaction_timeout();
        match &mut self.state {
            State::Proceeding { give_up_at } => *give_up_at = Some(at),
            State::Calling { timeout_at, .. } => *timeout_at = (*timeout_at).min(at),
            _ => {}
        }
    }

    /// When `on_timeout` must next run ([`Time::NEVER`]: no timer).
    pub(crate) fn deadline(&self) -> Time {
        match &self.state {
            State::Calling {
                retransmit,
                timeout_at,
            } => retransmit.next_at().min(*timeout_at),
            State::Proceeding { give_up_at } => give_up_at.unwrap_or(Time::NEVER),
            State::Accepted { ends_at } | State::Completed { ends_at } => *ends_at,
        }
    }

    /// Runs due timers.
    pub(crate) fn on_timeout(&mut self, now: Time) -> InviteClientTimeout {
        match &mut self.state {
            State::Calling { timeout_at, .. } if *timeout_at <= now => {
                InviteClientTimeout::TimedOut
            }
            State::Calling { retransmit, .. } if retransmit.is_due(now) => {
                retransmit.advance(now);
                InviteClientTimeout::Retransmit
            }
            State::Proceeding {
                give_up_at: Some(at),
            } if *at <= now => InviteClientTimeout::TimedOut,
            State::Accepted { ends_at } | State::Completed { ends_at } if *ends_at <= now => {
                InviteClientTimeout::Expired
            }
            _ => InviteClientTimeout::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx() -> InviteClientTx {
        InviteClientTx::new(
            Time::ZERO,
            "192.0.2.1:5060".parse().unwrap(),
            b"INVITE".to_vec(),
            SipTimers::default(),
        )
    }

    #[test]
    fn timer_a_doubles_without_the_t2_cap_until_timer_b() {
        let mut tx = tx();
        let mut fired = Vec::new();
        loop {
            let at = tx.deadline();
            let outcome = tx.on_timeout(at);
            fired.push(at.as_millis());
            if outcome == InviteClientTimeout::TimedOut {
                break;
            }
            assert_eq!(outcome, InviteClientTimeout::Retransmit);
        }
        assert_eq!(fired, vec![500, 1500, 3500, 7500, 15500, 31500, 32000]);
    }

    #[test]
    fn provisional_stops_retransmission_and_waits_without_a_timer() {
        let mut tx = tx();
        assert_eq!(
            tx.on_response(Time::from_millis(100), 100),
            InviteClientResponse::Provisional
        );
        assert!(tx.is_proceeding());
        assert_eq!(tx.deadline(), Time::NEVER);
        tx.cancel_sent(Time::from_millis(1000));
        assert_eq!(tx.deadline(), Time::from_millis(33_000));
        assert_eq!(
            tx.on_timeout(Time::from_millis(33_000)),
            InviteClientTimeout::TimedOut
        );
    }

    #[test]
    fn non_2xx_is_acknowledged_and_its_retransmissions_absorbed_until_timer_d() {
        let mut tx = tx();
        assert_eq!(
            tx.on_response(Time::from_millis(50), 486),
            InviteClientResponse::Rejected
        );
        tx.set_ack(b"ACK".to_vec());
        assert_eq!(
            tx.on_response(Time::from_millis(60), 486),
            InviteClientResponse::RejectedAgain
        );
        assert_eq!(tx.ack(), b"ACK");
        assert_eq!(
            tx.on_response(Time::from_millis(70), 180),
            InviteClientResponse::Stray
        );
        assert_eq!(tx.deadline(), Time::from_millis(32_050));
        assert_eq!(
            tx.on_timeout(Time::from_millis(32_050)),
            InviteClientTimeout::Expired
        );
    }

    #[test]
    fn accepted_absorbs_further_2xx_until_timer_m() {
        let mut tx = tx();
        assert_eq!(
            tx.on_response(Time::from_millis(10), 180),
            InviteClientResponse::Provisional
        );
        assert_eq!(
            tx.on_response(Time::from_millis(20), 200),
            InviteClientResponse::Accepted
        );
        assert!(!tx.is_proceeding());
        assert_eq!(
            tx.on_response(Time::from_millis(30), 200),
            InviteClientResponse::AcceptedAgain
        );
        assert_eq!(
            tx.on_response(Time::from_millis(40), 503),
            InviteClientResponse::Stray
        );
        assert_eq!(tx.deadline(), Time::from_millis(32_020));
        assert_eq!(
            tx.on_timeout(Time::from_millis(32_020)),
            InviteClientTimeout::Expired
        );
    }
}
