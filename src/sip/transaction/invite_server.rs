//! INVITE server transaction (RFC 3261 §17.2.1 with RFC 6026's Accepted state). The 2xx
//! retransmission that §13.3.1.4 gives to the UAS core lives here too, so that one
//! object answers "what to resend and when" for an INVITE.

use crate::sip::timers::{Backoff, SipTimers};
use crate::time::Time;
use std::net::SocketAddr;

#[derive(Clone, Debug)]
enum State {
    /// No final response yet.
    Proceeding,
    /// 2xx sent; retransmitted until the ACK arrives (`retransmit` then `None`),
    /// transaction kept until `ends_at` (Timer H / L) to answer INVITE retransmissions.
    Accepted {
        retransmit: Option<Backoff>,
        ends_at: Time,
    },
    /// Non-2xx final sent; retransmitted (Timer G) until ACK or Timer H.
    Completed { retransmit: Backoff, ends_at: Time },
    /// ACK for the non-2xx received; absorbing ACK retransmissions until Timer I.
    Confirmed { ends_at: Time },
}

/// What an ACK meant to the transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InviteAck {
    /// ACK for our non-2xx final; absorbed.
    AbsorbedNon2xx,
    /// The transaction sent a 2xx: the ACK belongs to the dialog.
    For2xx,
    /// No final response sent yet; the ACK is meaningless.
    Unexpected,
}

/// What a timer firing means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InviteTimeout {
    Nothing,
    /// Resend `last_response`.
    Retransmit,
    /// 2xx never acknowledged; the transaction is over.
    AckTimeout2xx,
    /// Non-2xx never acknowledged; the transaction is over.
    AckTimeoutNon2xx,
    /// The transaction is over, nothing to do.
    Expired,
}

/// One INVITE server transaction.
#[derive(Clone, Debug)]
pub(crate) struct InviteServerTx {
    /// Where responses go.
    pub dest: SocketAddr,
    last_response: Vec<u8>,
    state: State,
    timers: SipTimers,
}

impl InviteServerTx {
    /// A transaction that has just sent `first_response` (normally 100 Trying).
    pub(crate) fn new(dest: SocketAddr, first_response: Vec<u8>, timers: SipTimers) -> Self {
        InviteServerTx {
            dest,
            timers,
            last_response: first_response,
            state: State::Proceeding,
        }
    }

    /// A transaction for an INVITE refused at once with the non-2xx `response`.
    pub(crate) fn refused(
        now: Time,
        dest: SocketAddr,
        response: Vec<u8>,
        timers: SipTimers,
    ) -> Self {
        let mut tx = InviteServerTx::new(dest, Vec::new(), timers);
        tx.send_non_2xx(now, response);
        tx
    }

    /// The response sent last.
    pub(crate) fn last_response(&self) -> &[u8] {
        &self.last_response
    }

    /// True until a final response has been sent.
    pub(crate) fn is_proceeding(&self) -> bool {
        matches!(self.state, State::Proceeding)
    }

    /// Records a provisional response; ignored after a final one.
    pub(crate) fn send_provisional(&mut self, response: Vec<u8>) {
        if self.is_proceeding() {
            self.last_response = response;
        }
    }

    /// Records a 2xx and starts its retransmission.
    pub(crate) fn send_2xx(&mut self, now: Time, response: Vec<u8>) {
        if self.is_proceeding() {
            self.last_response = response;
            self.state = State::Accepted {
                retransmit: Some(Backoff::start(now, &self.timers)),
                ends_at: now + self.timers.transaction_timeout(),
            };
        }
    }

    /// Records a non-2xx final and starts Timers G and H.
    pub(crate) fn send_non_2xx(&mut self, now: Time, response: Vec<u8>) {
        if self.is_proceeding() {
            self.last_response = response;
            self.state = State::Completed {
                retransmit: Backoff::start(now, &self.timers),
                ends_at: now + self.timers.transaction_timeout(),
            };
        }
    }

    /// The response to resend for a retransmitted INVITE (none once confirmed).
    pub(crate) fn response_to_retransmission(&self) -> Option<&[u8]> {
        match self.state {
            State::Confirmed { .. } => None,
            _ => Some(&self.last_response),
        }
    }

    /// Feeds an ACK carrying this transaction's key.
    pub(crate) fn on_ack(&mut self, now: Time) -> InviteAck {
        match self.state {
            State::Proceeding => InviteAck::Unexpected,
            State::Accepted { .. } => InviteAck::For2xx,
            State::Completed { .. } => {
                self.state = State::Confirmed {
                    ends_at: now + self.timers.t4,
                };
                InviteAck::AbsorbedNon2xx
            }
            State::Confirmed { .. } => InviteAck::AbsorbedNon2xx,
        }
    }

    /// Stops 2xx retransmission because the dialog got its ACK (or ended).
    pub(crate) fn stop_2xx_retransmission(&mut self) {
        if let State::Accepted { retransmit, .. } = &mut self.state {
            *retransmit = None;
        }
    }

    /// When `on_timeout` must next run.
    pub(crate) fn deadline(&self) -> Option<Time> {
        match &self.state {
            State::Proceeding => None,
            State::Accepted {
                retransmit,
                ends_at,
            } => Some(retransmit.map_or(*ends_at, |r| r.next_at().min(*ends_at))),
            State::Completed {
                retransmit,
                ends_at,
            } => Some(retransmit.next_at().min(*ends_at)),
            State::Confirmed { ends_at } => Some(*ends_at),
        }
    }

    /// Runs due timers.
    pub(crate) fn on_timeout(&mut self, now: Time) -> InviteTimeout {
        match &mut self.state {
            State::Proceeding => InviteTimeout::Nothing,
            State::Accepted {
                retransmit,
                ends_at,
            } => {
                if *ends_at <= now {
                    return match retransmit {
                        Some(_) => InviteTimeout::AckTimeout2xx,
                        None => InviteTimeout::Expired,
                    };
                }
                retransmit_if_due(retransmit.as_mut(), now)
            }
            State::Completed {
                retransmit,
                ends_at,
            } => {
                if *ends_at <= now {
                    return InviteTimeout::AckTimeoutNon2xx;
                }
                retransmit_if_due(Some(retransmit), now)
            }
            State::Confirmed { ends_at } if *ends_at <= now => InviteTimeout::Expired,
            State::Confirmed { .. } => InviteTimeout::Nothing,
        }
    }
}

fn retransmit_if_due(retransmit: Option<&mut Backoff>, now: Time) -> InviteTimeout {
    match retransmit {
        Some(backoff) if backoff.is_due(now) => {
            backoff.advance(now);
            InviteTimeout::Retransmit
        }
        _ => InviteTimeout::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx() -> InviteServerTx {
        InviteServerTx::new(
            "192.0.2.1:5060".parse().unwrap(),
            b"100".to_vec(),
            SipTimers::default(),
        )
    }

    fn run_until(tx: &mut InviteServerTx, end: Time) -> Vec<(u64, InviteTimeout)> {
        let mut fired = Vec::new();
        while let Some(at) = tx.deadline().filter(|at| *at <= end) {
            let outcome = tx.on_timeout(at);
            fired.push((at.as_millis(), outcome));
            if matches!(
                outcome,
                InviteTimeout::Expired
                    | InviteTimeout::AckTimeout2xx
                    | InviteTimeout::AckTimeoutNon2xx
            ) {
                break;
            }
        }
        fired
    }

    #[test]
    fn unacknowledged_2xx_is_retransmitted_then_times_out() {
        let mut tx = tx();
        assert_eq!(tx.deadline(), None);
        tx.send_2xx(Time::ZERO, b"200".to_vec());
        let fired = run_until(&mut tx, Time::from_millis(40_000));
        let times: Vec<u64> = fired.iter().map(|(at, _)| *at).collect();
        assert_eq!(
            times,
            vec![500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500, 32000]
        );
        assert_eq!(
            fired.last().map(|(_, o)| *o),
            Some(InviteTimeout::AckTimeout2xx)
        );
        assert_eq!(tx.response_to_retransmission(), Some(&b"200"[..]));
    }

    #[test]
    fn acknowledged_2xx_lingers_silently_until_timer_l() {
        let mut tx = tx();
        tx.send_2xx(Time::ZERO, b"200".to_vec());
        assert_eq!(tx.on_ack(Time::from_millis(100)), InviteAck::For2xx);
        tx.stop_2xx_retransmission();
        assert_eq!(
            run_until(&mut tx, Time::from_millis(40_000)),
            vec![(32_000, InviteTimeout::Expired)]
        );
    }

    #[test]
    fn non_2xx_is_absorbed_by_ack_then_ends_after_t4() {
        let mut tx = tx();
        tx.send_non_2xx(Time::ZERO, b"487".to_vec());
        assert_eq!(
            tx.on_timeout(Time::from_millis(500)),
            InviteTimeout::Retransmit
        );
        assert_eq!(tx.on_ack(Time::from_millis(600)), InviteAck::AbsorbedNon2xx);
        assert_eq!(tx.response_to_retransmission(), None);
        assert_eq!(tx.deadline(), Some(Time::from_millis(5600)));
        assert_eq!(
            tx.on_timeout(Time::from_millis(5600)),
            InviteTimeout::Expired
        );
    }

    #[test]
    fn unacknowledged_non_2xx_times_out() {
        let mut tx = tx();
        tx.send_non_2xx(Time::ZERO, b"486".to_vec());
        assert_eq!(
            tx.on_timeout(Time::from_millis(60_000)),
            InviteTimeout::AckTimeoutNon2xx
        );
    }

    #[test]
    fn ack_before_final_and_late_responses_are_ignored() {
        let mut tx = tx();
        assert_eq!(tx.on_ack(Time::ZERO), InviteAck::Unexpected);
        tx.send_provisional(b"180".to_vec());
        assert_eq!(tx.response_to_retransmission(), Some(&b"180"[..]));
        tx.send_non_2xx(Time::ZERO, b"480".to_vec());
        tx.send_2xx(Time::ZERO, b"200".to_vec());
        tx.send_provisional(b"183".to_vec());
        assert_eq!(tx.last_response(), b"480");
    }
}
