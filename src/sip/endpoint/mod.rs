//! The sans-IO SIP endpoint (UAS for inbound calls over UDP, UAC for our own BYE), in
//! the style of str0m: feed datagrams and time in, poll transmits, events and the next
//! timeout out. It owns the transactions and dialogs; the call layer drives calls with
//! `ring`, `answer`, `reject` and `hangup`.

mod calls;
mod requests;
mod responses;
mod timeouts;

#[cfg(test)]
mod tests;

use crate::sip::dialog::Call;
use crate::sip::error::SipError;
use crate::sip::event::{CallId, Event, TerminatedReason, Transmit};
use crate::sip::message::{
    build_response, parse_message, salvage_request, stamp_received, Message, ParseError,
    ResponseParts,
};
use crate::sip::method::Method;
use crate::sip::stats::SipStats;
use crate::sip::transaction::{InviteServerTx, NonInviteClientTx, NonInviteServerTx, TxKey};
use crate::time::Time;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

/// Static configuration of an endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointConfig {
    /// Address advertised in our Via and Contact headers.
    pub local_addr: SocketAddr,
    /// Sent as `Server` (responses) and `User-Agent` (requests); omitted when empty.
    pub user_agent: String,
}

/// A SIP endpoint for many concurrent calls. Deterministic: all randomness (tags,
/// branches) comes from the seeded generator, all time from the arguments.
#[derive(Debug)]
pub struct Endpoint {
    config: EndpointConfig,
    rng: fastrand::Rng,
    calls: BTreeMap<CallId, Call>,
    invite_txs: BTreeMap<TxKey, InviteServerTx>,
    server_txs: BTreeMap<TxKey, NonInviteServerTx>,
    /// Our BYEs, by Via branch.
    client_txs: BTreeMap<String, NonInviteClientTx>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: SipStats,
}

impl Endpoint {
    /// A new endpoint; `rng_seed` seeds tags and branches.
    pub fn new(config: EndpointConfig, rng_seed: u64) -> Endpoint {
        Endpoint {
            config,
            rng: fastrand::Rng::with_seed(rng_seed),
            calls: BTreeMap::new(),
            invite_txs: BTreeMap::new(),
            server_txs: BTreeMap::new(),
            client_txs: BTreeMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: SipStats::default(),
        }
    }

    /// Feeds one received datagram.
    pub fn handle_datagram(&mut self, now: Time, from: SocketAddr, data: &[u8]) {
        self.stats.datagrams += 1;
        if is_keepalive(data) {
            self.stats.keepalives += 1;
            return;
        }
        match parse_message(data) {
            Ok(Message::Request(request)) => {
                self.stats.requests += 1;
                self.on_request(now, from, request);
            }
            Ok(Message::Response(response)) => {
                self.stats.responses += 1;
                self.on_response(now, response);
            }
            Err(error) => self.on_malformed(from, data, &error),
        }
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Counters.
    pub fn stats(&self) -> &SipStats {
        &self.stats
    }

    /// Calls the endpoint tracks: offered, answered, confirmed or hanging up.
    pub fn active_dialogs(&self) -> usize {
        self.calls.len()
    }

    /// Answers a request that failed to parse with 400 (or 416 for a non-SIP
    /// Request-URI) when its echo headers can be salvaged; never answers ACKs.
    fn on_malformed(&mut self, from: SocketAddr, data: &[u8], error: &ParseError) {
        let Some(mut salvaged) = salvage_request(data).filter(|s| s.method != Method::Ack) else {
            self.stats.malformed_dropped += 1;
            return;
        };
        let status = if *error == ParseError::UnsupportedUriScheme {
            self.stats.unsupported_uri_answered_416 += 1;
            416
        } else {
            self.stats.malformed_answered_400 += 1;
            400
        };
        if let Some(top) = salvaged.echo.vias.first_mut() {
            *top = stamp_received(top, from);
        }
        let tag = self.new_tag();
        let parts = ResponseParts {
            to_tag: Some(&tag),
            server: &self.config.user_agent,
            ..ResponseParts::default()
        };
        let response = build_response(&salvaged.echo, status, &parts);
        self.transmit(from, response);
    }

    fn transmit(&mut self, dest: SocketAddr, payload: Vec<u8>) {
        self.stats.transmits += 1;
        self.transmits.push_back(Transmit { dest, payload });
    }

    fn retransmit(&mut self, dest: SocketAddr, payload: Vec<u8>) {
        self.stats.retransmits_sent += 1;
        self.transmit(dest, payload);
    }

    fn new_tag(&mut self) -> String {
        format!("{:016x}", self.rng.u64(..))
    }

    fn new_branch(&mut self) -> String {
        format!("z9hG4bK{:016x}", self.rng.u64(..))
    }

    /// Forgets `call` and reports it terminated.
    fn terminate(&mut self, call: &CallId, reason: TerminatedReason) {
        if self.calls.remove(call).is_some() {
            self.events.push_back(Event::Terminated {
                call: call.clone(),
                reason,
            });
        }
    }

    fn call_mut(&mut self, call: &CallId) -> Result<&mut Call, SipError> {
        self.calls.get_mut(call).ok_or(SipError::UnknownCall)
    }
}

/// Datagrams of only line breaks, spaces or NULs are keep-alives.
fn is_keepalive(data: &[u8]) -> bool {
    data.iter()
        .all(|byte| matches!(byte, b'\r' | b'\n' | b' ' | b'\t' | 0))
}
