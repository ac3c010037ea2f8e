//! What a shard's per-trunk SIP agents share: the carrier registrations
//! ([`sip::Registration`]) and the OPTIONS keepalives ([`sip::OptionsPing`]),
//! each a sans-IO core the shell gives to shard 0. [`TrunkAgents`] starts them
//! on the host's first input, routes their responses by owner number, runs
//! their timers only when one is due, and drains their outputs, handing each
//! event to the caller (which logs and counts it).
//!
//! Their responses reach the host as dialog messages whose [`DialogOwner`]
//! carries one of the agent bits: [`REGISTRATION_OWNER`] or
//! [`KEEPALIVE_OWNER`], never both. Call handles carry neither (their
//! generation would have to pass 2^30).

use crate::sip::message::Response;
use crate::sip::{
    self, DialogOwner, OptionsPing, OptionsPingOutput, Registration, RegistrationOutput,
};
use crate::time::Time;

/// The bit that marks a registration's owner number.
pub(crate) const REGISTRATION_OWNER: u64 = 1 << 63;
/// The bit that marks a keepalive's owner number.
pub(crate) const KEEPALIVE_OWNER: u64 = 1 << 62;
/// Every agent bit.
const AGENT_BITS: u64 = REGISTRATION_OWNER | KEEPALIVE_OWNER;

/// One output of an agent core.
pub(crate) enum AgentOutput<E> {
    /// A datagram to send.
    Transmit(sip::Transmit),
    /// Something the host logs or counts.
    Event(E),
    /// Nothing more before this instant.
    Timeout(Time),
}

/// A per-trunk agent core.
pub(crate) trait TrunkAgent {
    /// What it reports.
    type Event;
    /// Sends its first request.
    fn start(&mut self, now: Time);
    /// A response to one of its requests.
    fn handle_response(&mut self, now: Time, response: &Response);
    /// Runs its timers.
    fn handle_timeout(&mut self, now: Time);
    /// Its next output.
    fn poll(&mut self) -> AgentOutput<Self::Event>;
}

impl TrunkAgent for Registration {
    type Event = sip::RegistrationEvent;

    fn start(&mut self, now: Time) {
        Registration::start(self, now);
    }

    fn handle_response(&mut self, now: Time, response: &Response) {
        Registration::handle_response(self, now, response);
    }

    fn handle_timeout(&mut self, now: Time) {
        Registration::handle_timeout(self, now);
    }

    fn poll(&mut self) -> AgentOutput<Self::Event> {
        match self.poll_output() {
            RegistrationOutput::Transmit(transmit) => AgentOutput::Transmit(transmit),
            RegistrationOutput::Event(event) => AgentOutput::Event(event),
            RegistrationOutput::Timeout(at) => AgentOutput::Timeout(at),
        }
    }
}

impl TrunkAgent for OptionsPing {
    type Event = sip::OptionsPingEvent;

    fn start(&mut self, now: Time) {
        OptionsPing::start(self, now);
    }

    fn handle_response(&mut self, now: Time, response: &Response) {
        OptionsPing::handle_response(self, now, response);
    }

    fn handle_timeout(&mut self, now: Time) {
        OptionsPing::handle_timeout(self, now);
    }

    fn poll(&mut self) -> AgentOutput<Self::Event> {
        match self.poll_output() {
            OptionsPingOutput::Transmit(transmit) => AgentOutput::Transmit(transmit),
            OptionsPingOutput::Event(event) => AgentOutput::Event(event),
            OptionsPingOutput::Timeout(at) => AgentOutput::Timeout(at),
        }
    }
}

/// A shard's agents of one kind.
pub(crate) struct TrunkAgents<A> {
    list: Vec<A>,
    /// The agent bit of their owner numbers.
    owner_bit: u64,
    started: bool,
    /// Some agent has output not drained yet.
    dirty: bool,
    /// The earliest timer of any of them.
    deadline: Time,
}

impl<A: TrunkAgent> TrunkAgents<A> {
    /// The agents made by `make` for owner numbers `owner_bit | index`, one per
    /// config.
    pub(crate) fn new<C>(
        configs: &[C],
        owner_bit: u64,
        mut make: impl FnMut(&C, DialogOwner) -> A,
    ) -> TrunkAgents<A> {
        let list = configs
            .iter()
            .enumerate()
            .map(|(index, config)| make(config, DialogOwner(owner_bit | index as u64)))
            .collect();
        TrunkAgents {
            list,
            owner_bit,
            started: false,
            dirty: false,
            deadline: Time::NEVER,
        }
    }

    /// Starts every agent on the host's first input.
    pub(crate) fn start_once(&mut self, now: Time) {
        if self.started {
            return;
        }
        self.started = true;
        for agent in &mut self.list {
            agent.start(now);
        }
        self.dirty = !self.list.is_empty();
    }

    /// A response for the agent `owner` names; `false` if `owner` is not one
    /// of these agents'.
    pub(crate) fn on_response(
        &mut self,
        now: Time,
        owner: DialogOwner,
        response: &Response,
    ) -> bool {
        if owner.0 & AGENT_BITS != self.owner_bit {
            return false;
        }
        let index = (owner.0 & !AGENT_BITS) as usize;
        if let Some(agent) = self.list.get_mut(index) {
            agent.handle_response(now, response);
            self.dirty = true;
        }
        true
    }

    /// Runs the agents' timers if one is due.
    pub(crate) fn on_timeout(&mut self, now: Time) {
        if self.deadline > now {
            return;
        }
        for agent in &mut self.list {
            agent.handle_timeout(now);
        }
        self.dirty = true;
    }

    /// The next datagram any agent wants sent, handing each event met on the
    /// way to `on_event`; `None` once all are drained (then
    /// [`TrunkAgents::deadline`] is current).
    pub(crate) fn poll_transmit(
        &mut self,
        mut on_event: impl FnMut(&A, A::Event),
    ) -> Option<sip::Transmit> {
        if !self.dirty {
            return None;
        }
        let mut deadline = Time::NEVER;
        for agent in &mut self.list {
            loop {
                match agent.poll() {
                    AgentOutput::Transmit(transmit) => return Some(transmit),
                    AgentOutput::Event(event) => on_event(agent, event),
                    AgentOutput::Timeout(at) => {
                        deadline = deadline.min(at);
                        break;
                    }
                }
            }
        }
        self.deadline = deadline;
        self.dirty = false;
        None
    }

    /// The earliest agent timer; before the first input, at once (so the shell
    /// feeds a timeout that starts them even on a quiet server).
    pub(crate) fn deadline(&self) -> Time {
        if !self.started && !self.list.is_empty() {
            return Time::ZERO;
        }
        self.deadline
    }

    /// The agents, in config order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &A> {
        self.list.iter()
    }
}
