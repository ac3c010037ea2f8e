//! The simulated UDP network between the carrier and callplane, and the shell
//! side of the host that puts its datagrams onto it.
//!
//! The network owns every datagram in flight, each with the instant it will
//! arrive. Each direction has its own [`LinkConfig`]: a base latency plus
//! seeded jitter (jitter larger than the spacing of two datagrams reorders
//! them), a loss probability and a duplication probability (the copy travels
//! with its own jitter). [`DropRule`]s drop chosen SIP requests on purpose,
//! before any random loss, so a test can lose exactly "the first two ACKs of
//! call x". All randomness comes from one seeded [`fastrand::Rng`]; ties in
//! delivery time are broken by send order, so a seed fixes the outcome.
//!
//! [`HostShell`] is what the shard's event loop is to the host: it turns
//! [`Transmit`]s into datagrams from the right source address (the SIP address
//! or the RTP address the host bound), remembers which address each
//! [`RtpSocket`] is bound to so datagrams can be delivered back as
//! [`Input::Rtp`], and records CDRs and HTTP requests.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::net::SocketAddr;
use std::time::Duration;

use crate::call::{
    CallHandle, CdrRecord, HostEvent, HostIo, HttpRequest, Input, RtpSocket, SpeechWanted,
};
use crate::call::{Socket, Transmit};
use crate::sip::message::{parse_message, Message};
use crate::sip::Method;
use crate::time::Time;

/// Which way a datagram travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// From the carrier to callplane.
    ToHost,
    /// From callplane to the carrier.
    ToCarrier,
}

/// How one direction of the network treats datagrams.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct LinkConfig {
    /// The least time a datagram takes.
    pub(crate) latency: Duration,
    /// Extra delay, uniform in `0..=jitter`, drawn per datagram.
    pub(crate) jitter: Duration,
    /// Probability that a datagram is lost.
    pub(crate) loss: f64,
    /// Probability that a datagram that is not lost arrives twice.
    pub(crate) duplicate: f64,
}

impl LinkConfig {
    /// A link that delivers everything, in order, after `latency`.
    pub(crate) const fn clean(latency: Duration) -> LinkConfig {
        LinkConfig {
            latency,
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

/// Both directions of the network and its size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct NetworkConfig {
    /// Carrier to callplane.
    pub(crate) to_host: LinkConfig,
    /// Callplane to carrier.
    pub(crate) to_carrier: LinkConfig,
    /// Datagrams in flight at most; more are dropped (a full router queue).
    pub(crate) capacity: usize,
}

impl NetworkConfig {
    /// 10 ms each way, nothing lost, nothing reordered.
    pub(crate) const fn clean() -> NetworkConfig {
        NetworkConfig {
            to_host: LinkConfig::clean(Duration::from_millis(10)),
            to_carrier: LinkConfig::clean(Duration::from_millis(10)),
            capacity: 100_000,
        }
    }

    /// The same impairment both ways.
    pub(crate) const fn symmetric(link: LinkConfig) -> NetworkConfig {
        NetworkConfig {
            to_host: link,
            to_carrier: link,
            capacity: 100_000,
        }
    }
}

/// Which SIP messages a [`DropRule`] takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SipMatch {
    /// Requests of this method.
    Request(Method),
    /// Responses to requests of this method (by CSeq).
    ResponseTo(Method),
}

/// Drops the first `count` SIP messages that match `what` within call
/// `call_id` travelling in `direction`, before any random loss.
#[derive(Clone, Debug)]
pub(crate) struct DropRule {
    pub(crate) direction: Direction,
    pub(crate) what: SipMatch,
    pub(crate) call_id: String,
    pub(crate) count: usize,
}

/// One datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Datagram {
    pub(crate) from: SocketAddr,
    pub(crate) to: SocketAddr,
    pub(crate) data: Vec<u8>,
}

/// What happened to the datagrams sent so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct NetworkStats {
    pub(crate) sent: u64,
    pub(crate) delivered: u64,
    pub(crate) lost: u64,
    pub(crate) duplicated: u64,
    pub(crate) dropped_by_rule: u64,
    pub(crate) dropped_queue_full: u64,
}

struct InFlight {
    deliver_at: Time,
    /// Send order: breaks ties so equal delivery times pop deterministically.
    order: u64,
    direction: Direction,
    datagram: Datagram,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.deliver_at, self.order) == (other.deliver_at, other.order)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.deliver_at, self.order).cmp(&(other.deliver_at, other.order))
    }
}

/// Datagrams in flight between the carrier and the host.
pub(crate) struct Network {
    config: NetworkConfig,
    rng: fastrand::Rng,
    in_flight: BinaryHeap<Reverse<InFlight>>,
    next_order: u64,
    rules: Vec<DropRule>,
    stats: NetworkStats,
}

impl Network {
    /// An empty network whose randomness is fixed by `seed`.
    pub(crate) fn new(config: NetworkConfig, seed: u64) -> Network {
        Network {
            config,
            rng: fastrand::Rng::with_seed(seed),
            in_flight: BinaryHeap::new(),
            next_order: 0,
            rules: Vec::new(),
            stats: NetworkStats::default(),
        }
    }

    /// Adds a rule that drops chosen SIP requests.
    pub(crate) fn add_drop_rule(&mut self, rule: DropRule) {
        self.rules.push(rule);
    }

    /// Counters so far.
    pub(crate) fn stats(&self) -> NetworkStats {
        self.stats
    }

    /// Sends `datagram` at `now`: it may be dropped, lost, delayed or doubled.
    pub(crate) fn send(&mut self, now: Time, direction: Direction, datagram: Datagram) {
        self.stats.sent += 1;
        if self.dropped_by_rule(direction, &datagram.data) {
            self.stats.dropped_by_rule += 1;
            return;
        }
        let link = match direction {
            Direction::ToHost => self.config.to_host,
            Direction::ToCarrier => self.config.to_carrier,
        };
        if self.rng.f64() < link.loss {
            self.stats.lost += 1;
            return;
        }
        let copies = if self.rng.f64() < link.duplicate {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            if self.in_flight.len() >= self.config.capacity {
                self.stats.dropped_queue_full += 1;
                continue;
            }
            let jitter = self.rng.u64(0..=link.jitter.as_micros() as u64);
            let deliver_at = now + link.latency + Duration::from_micros(jitter);
            let order = self.next_order;
            self.next_order += 1;
            self.in_flight.push(Reverse(InFlight {
                deliver_at,
                order,
                direction,
                datagram: datagram.clone(),
            }));
        }
    }

    /// When the next datagram arrives ([`Time::NEVER`]: none in flight).
    pub(crate) fn next_delivery(&self) -> Time {
        self.in_flight
            .peek()
            .map_or(Time::NEVER, |Reverse(next)| next.deliver_at)
    }

    /// The next datagram that has arrived by `now`, with its direction.
    pub(crate) fn deliver(&mut self, now: Time) -> Option<(Direction, Datagram)> {
        if self.next_delivery() > now {
            return None;
        }
        let Reverse(next) = self.in_flight.pop()?;
        self.stats.delivered += 1;
        Some((next.direction, next.datagram))
    }

    fn dropped_by_rule(&mut self, direction: Direction, data: &[u8]) -> bool {
        if !self
            .rules
            .iter()
            .any(|rule| rule.direction == direction && rule.count > 0)
        {
            return false;
        }
        let (what, call_id) = match parse_message(data) {
            Ok(Message::Request(request)) => (
                SipMatch::Request(request.method.clone()),
                request.call_id().to_string(),
            ),
            Ok(Message::Response(response)) => (
                SipMatch::ResponseTo(response.head.cseq.method.clone()),
                response.call_id().to_string(),
            ),
            Err(_) => return false,
        };
        let rule = self.rules.iter_mut().find(|rule| {
            rule.direction == direction
                && rule.count > 0
                && rule.what == what
                && rule.call_id == call_id
        });
        match rule {
            Some(rule) => {
                rule.count -= 1;
                true
            }
            None => false,
        }
    }
}

/// A request a call made, as the shell received it.
#[derive(Clone, Debug)]
pub(crate) struct HttpCall {
    pub(crate) call: CallHandle,
    pub(crate) request: HttpRequest,
    /// Whether the call waits for an [`Input::Http`] answer.
    pub(crate) reply: bool,
}

/// The host's side of the network: its addresses, sockets and records.
pub(crate) struct HostShell {
    sip_addr: SocketAddr,
    bound: BTreeMap<RtpSocket, SocketAddr>,
    /// By bound address: the socket and whether it is the RTCP one (RTP + 1).
    by_addr: BTreeMap<SocketAddr, (RtpSocket, bool)>,
    /// Every socket the host ever asked to bind, in order.
    pub(crate) binds: Vec<(RtpSocket, SocketAddr)>,
    /// CDRs in the order the host wrote them.
    pub(crate) cdrs: Vec<CdrRecord>,
    /// HTTP requests in the order the calls made them.
    pub(crate) http: Vec<HttpCall>,
    /// Speech requests in the order the calls made them.
    pub(crate) speech: Vec<(CallHandle, SpeechWanted)>,
    /// SIP requests the host sent, by (Call-ID, method), retransmissions included.
    pub(crate) requests_sent: BTreeMap<(String, String), u32>,
    /// RTP the host sent from a socket it had not bound (must stay 0).
    pub(crate) rtp_from_unbound_socket: u64,
    /// Datagrams for a host address no socket is bound to.
    pub(crate) undeliverable: u64,
    /// RTP ports someone else holds: binding one fails (`Input::BindFailed`).
    pub(crate) taken_ports: BTreeSet<u16>,
    /// Binds refused because their port was taken, in order.
    pub(crate) refused_binds: Vec<SocketAddr>,
}

impl HostShell {
    /// A shell for a host that listens for SIP on `sip_addr`.
    pub(crate) fn new(sip_addr: SocketAddr) -> HostShell {
        HostShell {
            sip_addr,
            bound: BTreeMap::new(),
            by_addr: BTreeMap::new(),
            binds: Vec::new(),
            cdrs: Vec::new(),
            http: Vec::new(),
            speech: Vec::new(),
            requests_sent: BTreeMap::new(),
            rtp_from_unbound_socket: 0,
            undeliverable: 0,
            taken_ports: BTreeSet::new(),
            refused_binds: Vec::new(),
        }
    }

    /// How many times the host sent a `method` request within `call_id`.
    pub(crate) fn requests_sent(&self, call_id: &str, method: &str) -> u32 {
        self.requests_sent
            .get(&(call_id.to_string(), method.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// RTP sockets bound now.
    pub(crate) fn bound_sockets(&self) -> usize {
        self.bound.len()
    }

    /// `datagram` as the host's input: SIP for the SIP address, RTP for a
    /// bound socket's address; `None` (counted) for any other address.
    pub(crate) fn input_for<'a>(&mut self, datagram: &'a Datagram) -> Option<Input<'a>> {
        if datagram.to == self.sip_addr {
            return Some(Input::Sip {
                from: datagram.from,
                data: &datagram.data,
            });
        }
        match self.by_addr.get(&datagram.to) {
            Some(&(socket, false)) => Some(Input::Rtp {
                socket,
                from: datagram.from,
                data: &datagram.data,
            }),
            Some(&(socket, true)) => Some(Input::Rtcp {
                socket,
                from: datagram.from,
                data: &datagram.data,
            }),
            None => {
                self.undeliverable += 1;
                None
            }
        }
    }

    /// The shell for one drain at `now`, sending onto `network`.
    pub(crate) fn io<'a>(&'a mut self, network: &'a mut Network, now: Time) -> ShellIo<'a> {
        ShellIo {
            shell: self,
            network,
            now,
        }
    }
}

/// [`HostIo`] for one drain: the shell and the network it sends onto.
pub(crate) struct ShellIo<'a> {
    shell: &'a mut HostShell,
    network: &'a mut Network,
    now: Time,
}

impl HostIo for ShellIo<'_> {
    fn transmit(&mut self, transmit: Transmit, data: &[u8]) {
        let from = match transmit.socket {
            // The simulated trunk speaks UDP only; a TCP message is a SIP one.
            Socket::Sip | Socket::SipTcp(_) | Socket::SipTls(_) => {
                if let Ok(Message::Request(request)) = parse_message(data) {
                    let key = (
                        request.call_id().to_string(),
                        request.method.as_str().to_string(),
                    );
                    *self.shell.requests_sent.entry(key).or_default() += 1;
                }
                self.shell.sip_addr
            }
            Socket::Rtp(socket) => match self.shell.bound.get(&socket) {
                Some(&addr) => addr,
                None => {
                    self.shell.rtp_from_unbound_socket += 1;
                    return;
                }
            },
            Socket::Rtcp(socket) => match self.shell.bound.get(&socket) {
                Some(&addr) => SocketAddr::new(addr.ip(), addr.port() + 1),
                None => {
                    self.shell.rtp_from_unbound_socket += 1;
                    return;
                }
            },
        };
        let datagram = Datagram {
            from,
            to: transmit.dest,
            data: data.to_vec(),
        };
        self.network.send(self.now, Direction::ToCarrier, datagram);
    }

    fn event(&mut self, event: HostEvent) -> Option<Input<'static>> {
        match event {
            HostEvent::ConnInUse { .. } => {}
            HostEvent::BindRtp { socket, addr, rtcp } => {
                let taken = &self.shell.taken_ports;
                if taken.contains(&addr.port()) || taken.contains(&rtcp.port()) {
                    self.shell.refused_binds.push(addr);
                    return Some(Input::BindFailed { socket });
                }
                if let Some(old) = self.shell.bound.insert(socket, addr) {
                    self.shell.by_addr.remove(&old);
                    self.shell
                        .by_addr
                        .remove(&SocketAddr::new(old.ip(), old.port() + 1));
                }
                self.shell.by_addr.insert(addr, (socket, false));
                self.shell.by_addr.insert(rtcp, (socket, true));
                self.shell.binds.push((socket, addr));
            }
            HostEvent::CloseRtp { socket } => {
                if let Some(addr) = self.shell.bound.remove(&socket) {
                    self.shell.by_addr.remove(&addr);
                    self.shell
                        .by_addr
                        .remove(&SocketAddr::new(addr.ip(), addr.port() + 1));
                }
            }
            HostEvent::Cdr(cdr) => self.shell.cdrs.push(*cdr),
            // The simulated shell writes no files.
            HostEvent::Recording(_) => {}
            HostEvent::Http {
                call,
                request,
                reply,
            } => self.shell.http.push(HttpCall {
                call,
                request,
                reply,
            }),
            HostEvent::Speech { call, request } => self.shell.speech.push((call, request)),
        }
        None
    }
}
