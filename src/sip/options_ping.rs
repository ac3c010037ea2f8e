//! OPTIONS keepalives to a trunk (RFC 3261 §11): one OPTIONS every interval,
//! sent as a non-INVITE client transaction to the trunk's address, and the
//! trunk's state (up/down) that their answers give.
//!
//! What counts as alive: any final response except 408 and 5xx/6xx. RFC 3261
//! §11 lets a peer answer OPTIONS with whatever it would answer an INVITE, so
//! a 404, 405, 481 or a 401/407 challenge still proves that a SIP stack is
//! there and answering. A failure is no final response (Timer F), a 408 (a
//! proxy that could not reach the next hop), a 5xx (the peer cannot serve:
//! 503 overloaded or shutting down) or a 6xx. The trunk goes down after
//! `failures` consecutive failures and up again at the first alive answer;
//! it starts unknown and takes the state of the first such decision.
//!
//! Schedule: the first OPTIONS on [`OptionsPing::start`], then one every
//! `interval` counted from the previous one's sending; never two at once (if
//! a transaction outlives the interval, the next goes out when it ends).
//!
//! The usual core shape: [`OptionsPing::start`],
//! [`OptionsPing::handle_response`] (the dispatcher routes responses by the
//! pinger's Call-ID, the branch is checked here) and
//! [`OptionsPing::handle_timeout`] in, one [`OptionsPing::poll_output`] out.
//! OPTIONS go over UDP.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ezk_sip_types::{Headers, Name};

use crate::sip::event::{Link, Transmit};
use crate::sip::message::{serialize, Response};
use crate::sip::settings::SipSettings;
use crate::sip::transaction::{ClientResponse, ClientTimeout, NonInviteClientTx};
use crate::time::Time;

/// Which trunk to ping, where and how often.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionsPingConfig {
    /// The trunk's name, for the logs.
    pub trunk: String,
    /// Where the OPTIONS go (the Request-URI is `sip:` this address).
    pub dest: SocketAddr,
    /// Time between two OPTIONS.
    pub interval: Duration,
    /// Consecutive failures that take the trunk down (at least 1).
    pub failures: u32,
    /// The trunk's transport (a stream one: any open connection to `dest`,
    /// else a new one; nothing retransmitted on it).
    pub link: Link,
}

/// A trunk's state as its keepalives see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrunkState {
    /// No decision yet.
    Unknown,
    /// Answering.
    Up,
    /// `failures` OPTIONS in a row failed.
    Down,
}

impl TrunkState {
    /// `unknown`, `up` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrunkState::Unknown => "unknown",
            TrunkState::Up => "up",
            TrunkState::Down => "down",
        }
    }
}

/// What a pinger reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionsPingEvent {
    /// The trunk changed state.
    StateChanged {
        /// The new state (never `Unknown`).
        state: TrunkState,
        /// The status that decided it (`None`: no response).
        status: Option<u16>,
    },
}

/// What the pinger wants done next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionsPingOutput {
    /// Send this datagram.
    Transmit(Transmit),
    /// Something happened.
    Event(OptionsPingEvent),
    /// Nothing more until this instant ([`Time::NEVER`]: not started).
    Timeout(Time),
}

#[derive(Debug)]
enum Phase {
    Idle,
    /// An OPTIONS is out; it was sent at `sent_at`.
    Pinging {
        branch: String,
        tx: NonInviteClientTx,
        sent_at: Time,
    },
    /// The next OPTIONS goes out at `next_at`.
    Waiting {
        next_at: Time,
    },
}

/// The keepalives of one trunk.
#[derive(Debug)]
pub struct OptionsPing {
    settings: Arc<SipSettings>,
    config: OptionsPingConfig,
    call_id: String,
    local_tag: String,
    cseq: u32,
    phase: Phase,
    state: TrunkState,
    consecutive_failures: u32,
    rng: fastrand::Rng,
    pending: VecDeque<OptionsPingOutput>,
    /// OPTIONS sent (retransmissions not counted).
    pub options_sent: u64,
    /// OPTIONS that failed (no response, 408, 5xx, 6xx).
    pub options_failed: u64,
}

impl OptionsPing {
    /// A pinger with the Call-ID `call_id` (the dispatcher routes its
    /// responses by it); `seed` seeds tags and branches.
    pub fn new(
        settings: Arc<SipSettings>,
        config: OptionsPingConfig,
        call_id: String,
        seed: u64,
    ) -> OptionsPing {
        let mut rng = fastrand::Rng::with_seed(seed);
        let local_tag = format!("{:016x}", rng.u64(..));
        OptionsPing {
            settings,
            config,
            call_id,
            local_tag,
            cseq: 0,
            phase: Phase::Idle,
            state: TrunkState::Unknown,
            consecutive_failures: 0,
            rng,
            pending: VecDeque::new(),
            options_sent: 0,
            options_failed: 0,
        }
    }

    /// The trunk's name.
    pub fn trunk(&self) -> &str {
        &self.config.trunk
    }

    /// Failures since the last alive answer.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// The trunk's current state.
    pub fn state(&self) -> TrunkState {
        self.state
    }

    /// Sends the first OPTIONS.
    pub fn start(&mut self, now: Time) {
        if matches!(self.phase, Phase::Idle) {
            self.send_options(now);
        }
    }

    /// A response the dispatcher routed here by Call-ID.
    pub fn handle_response(&mut self, now: Time, response: &Response) {
        let Phase::Pinging {
            branch,
            tx,
            sent_at,
        } = &mut self.phase
        else {
            return;
        };
        if response.head.top_via.branch != *branch {
            return;
        }
        if tx.on_response(now, response.status) != ClientResponse::Final {
            return;
        }
        let sent_at = *sent_at;
        let alive = !matches!(response.status, 408 | 500..=699);
        self.finish(now, sent_at, alive, Some(response.status));
    }

    /// Runs the timer due at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        match &mut self.phase {
            Phase::Idle => {}
            Phase::Pinging { tx, sent_at, .. } => {
                if tx.deadline() > now {
                    return;
                }
                let sent_at = *sent_at;
                match tx.on_timeout(now) {
                    ClientTimeout::Retransmit if self.config.link.is_stream() => {}
                    ClientTimeout::Retransmit => {
                        let transmit = Transmit {
                            dest: tx.dest,
                            payload: tx.request.clone(),
                            link: Link::Udp,
                        };
                        self.pending
                            .push_back(OptionsPingOutput::Transmit(transmit));
                    }
                    ClientTimeout::TimedOut => self.finish(now, sent_at, false, None),
                    ClientTimeout::Nothing | ClientTimeout::Expired => {}
                }
            }
            Phase::Waiting { next_at } => {
                if *next_at <= now {
                    self.send_options(now);
                }
            }
        }
    }

    /// The next thing to do. After every input, call until it returns `Timeout`.
    pub fn poll_output(&mut self) -> OptionsPingOutput {
        if let Some(output) = self.pending.pop_front() {
            return output;
        }
        OptionsPingOutput::Timeout(match &self.phase {
            Phase::Idle => Time::NEVER,
            Phase::Pinging { tx, .. } => tx.deadline(),
            Phase::Waiting { next_at } => *next_at,
        })
    }

    /// One OPTIONS ended, alive or not; schedules the next.
    fn finish(&mut self, now: Time, sent_at: Time, alive: bool, status: Option<u16>) {
        self.phase = Phase::Waiting {
            next_at: (sent_at + self.config.interval).max(now),
        };
        let new_state = if alive {
            self.consecutive_failures = 0;
            TrunkState::Up
        } else {
            self.options_failed += 1;
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
            if self.consecutive_failures < self.config.failures.max(1) {
                return;
            }
            TrunkState::Down
        };
        if new_state != self.state {
            self.state = new_state;
            self.pending
                .push_back(OptionsPingOutput::Event(OptionsPingEvent::StateChanged {
                    state: new_state,
                    status,
                }));
        }
    }

    fn send_options(&mut self, now: Time) {
        self.cseq += 1;
        let branch = crate::sip::dialog::new_branch(&mut self.rng);
        let local_addr = self.settings.local_addr;
        let dest = self.config.dest;
        let link = self.config.link;
        let mut headers = Headers::with_capacity(10);
        headers.insert(
            Name::VIA,
            format!(
                "SIP/2.0/{} {local_addr};branch={branch};rport",
                link.via_name()
            ),
        );
        headers.insert(Name::MAX_FORWARDS, "70");
        headers.insert(
            Name::FROM,
            format!("<sip:callplane@{local_addr}>;tag={}", self.local_tag),
        );
        headers.insert(Name::TO, format!("<sip:{dest}>"));
        headers.insert(Name::CALL_ID, self.call_id.as_str());
        headers.insert(Name::CSEQ, format!("{} OPTIONS", self.cseq));
        headers.insert(
            Name::CONTACT,
            format!("<sip:callplane@{local_addr}{}>", link.uri_param()),
        );
        headers.insert(Name::ACCEPT, "application/sdp");
        if !self.settings.user_agent.is_empty() {
            headers.insert(Name::USER_AGENT, self.settings.user_agent.as_str());
        }
        let start = format!("OPTIONS sip:{dest} SIP/2.0");
        let request = serialize(&start, &headers, &[]);
        let tx = NonInviteClientTx::new(now, dest, request.clone(), self.settings.timers);
        self.phase = Phase::Pinging {
            branch,
            tx,
            sent_at: now,
        };
        self.options_sent += 1;
        self.pending
            .push_back(OptionsPingOutput::Transmit(Transmit {
                dest,
                payload: request,
                link,
            }));
    }
}

#[cfg(test)]
mod tests;
