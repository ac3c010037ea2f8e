//! A simulated SIP trunk for whole-call tests, in the spirit of quinn-proto's
//! test `Pair`: one [`Host`], a [`Carrier`] placing scripted calls at it, and
//! a lossy, reordering [`Network`] between them, all driven by one fake
//! clock. No sockets and no sleeping: [`Sim::run_until`] jumps from event to
//! event — the next datagram delivery, the host's deadline (returned by
//! [`drain`]), the carrier's next timer — and feeds the host through the same
//! [`drain`] loop the shard uses.
//!
//! Everything random (network, carrier, host) is seeded from
//! [`SimConfig::seed`]; ties are broken by order, and every table is ordered,
//! so one seed gives one outcome.
//!
//! - [`network`]: datagrams in flight, impairments, drop rules, and the
//!   host's shell ([`HostShell`]) that binds sockets and records CDRs.
//! - [`carrier`]: the user agent client and its per-call reports.
//! - [`fixtures`]: prompts, flows, routers and host settings.

pub(crate) mod carrier;
pub(crate) mod fixtures;
pub(crate) mod network;

mod call_tests;
mod control_tests;
mod media_tests;
mod recording_tests;
mod session_tests;
mod speech_tests;
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::call::{drain, CdrRecord, Host, Input, Router};
use crate::flow::DEMO_FLOW_JSON;
use crate::time::Time;

use self::carrier::{CallReport, CallScript, Carrier, CarrierConfig};
use self::network::{Direction, HostShell, Network, NetworkConfig};

/// Callplane's SIP address (RTP sockets bind on the same IP).
pub(crate) const HOST_SIP: &str = "127.0.0.1:5060";
/// The carrier's SIP address.
pub(crate) const CARRIER_SIP: &str = "127.0.0.2:5060";
/// The first carrier call's RTP port (on the carrier's IP).
pub(crate) const CARRIER_FIRST_RTP_PORT: u16 = 30_000;

/// Size of the datagram buffer: any UDP datagram.
const BUFFER_LEN: usize = 65_535;

/// What a simulation is made of.
#[derive(Clone, Debug)]
pub(crate) struct SimConfig {
    /// Seeds the network, the carrier and the host.
    pub(crate) seed: u64,
    pub(crate) network: NetworkConfig,
    pub(crate) router: Arc<Router>,
    /// How long the host rings before it answers.
    pub(crate) answer_delay: Duration,
    /// The source ranges the host takes calls from (empty: any).
    pub(crate) allowed_sources: Vec<ipnet::IpNet>,
    /// New INVITEs per second the host takes from one source (0: any number).
    pub(crate) invite_rate_per_source: u32,
    /// The SIP and RTP addresses the host advertises instead of its own (NAT).
    pub(crate) advertised: Option<(SocketAddr, std::net::IpAddr)>,
    /// The host's SRTP settings.
    pub(crate) srtp: super::host::SrtpSettings,
    /// `[rtp] codecs` and the trunks' `codecs` of the host (empty: caller's order).
    pub(crate) codecs: Vec<crate::sip::AudioCodec>,
    pub(crate) trunk_codecs: Vec<(ipnet::IpNet, Vec<crate::sip::AudioCodec>)>,
    /// How long calls wait for free-text speech (`None`: no speech engine).
    pub(crate) speech_timeout: Option<Duration>,
}

impl SimConfig {
    /// The demo flow, answered at once, over a clean network.
    pub(crate) fn demo(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            network: NetworkConfig::clean(),
            router: fixtures::router(DEMO_FLOW_JSON),
            answer_delay: Duration::ZERO,
            allowed_sources: Vec::new(),
            invite_rate_per_source: 0,
            advertised: None,
            srtp: Default::default(),
            codecs: Vec::new(),
            trunk_codecs: Vec::new(),
            speech_timeout: None,
        }
    }

    /// The same, with a speech engine calls wait for up to `timeout`.
    pub(crate) fn with_speech(mut self, timeout: Duration) -> SimConfig {
        self.speech_timeout = Some(timeout);
        self
    }

    /// The same, with the host advertising `sip` in Via/Contact and `rtp` in SDP.
    pub(crate) fn advertising(mut self, sip: &str, rtp: &str) -> SimConfig {
        self.advertised = Some((parse_addr(sip), parse_addr(&format!("{rtp}:0")).ip()));
        self
    }

    /// The same, taking at most `rate` new INVITEs per second from one source.
    pub(crate) fn with_invite_rate(mut self, rate: u32) -> SimConfig {
        self.invite_rate_per_source = rate;
        self
    }

    /// The same, taking calls only from `sources` (a trunk allow list).
    pub(crate) fn allowing(mut self, sources: &[&str]) -> SimConfig {
        self.allowed_sources = sources
            .iter()
            .map(|source| match source.parse() {
                Ok(net) => net,
                Err(err) => panic!("test range {source:?}: {err}"),
            })
            .collect();
        self
    }

    /// The same, over `network`.
    pub(crate) fn with_network(mut self, network: NetworkConfig) -> SimConfig {
        self.network = network;
        self
    }

    /// The same, routing every number with `router`.
    pub(crate) fn with_router(mut self, router: Arc<Router>) -> SimConfig {
        self.router = router;
        self
    }

    /// The same, ringing `delay` before the answer.
    pub(crate) fn with_answer_delay(mut self, delay: Duration) -> SimConfig {
        self.answer_delay = delay;
        self
    }
}

/// The host, the carrier, the network between them and the clock.
pub(crate) struct Sim {
    pub(crate) host: Host,
    pub(crate) network: Network,
    pub(crate) carrier: Carrier,
    pub(crate) shell: HostShell,
    now: Time,
    /// The deadline the host's last drain returned.
    host_deadline: Time,
    buf: Vec<u8>,
}

impl Sim {
    /// A simulation at time zero with no calls.
    pub(crate) fn new(config: SimConfig) -> Sim {
        let mut seeds = fastrand::Rng::with_seed(config.seed);
        let host_sip: SocketAddr = parse_addr(HOST_SIP);
        let carrier_sip: SocketAddr = parse_addr(CARRIER_SIP);
        let mut host_config = fixtures::host_config(host_sip, config.answer_delay);
        host_config.allowed_sources = config.allowed_sources.into();
        host_config.invite_rate_per_source = config.invite_rate_per_source;
        host_config.srtp = config.srtp;
        host_config.speech_timeout = config.speech_timeout;
        host_config.codecs = config.codecs.into();
        host_config.trunk_codecs = config
            .trunk_codecs
            .into_iter()
            .map(|(net, codecs)| (net, codecs.into()))
            .collect();
        if let Some((sip, rtp)) = config.advertised {
            host_config.sip_advertised = Some(sip);
            host_config.rtp_advertised = Some(rtp);
        }
        let host = Host::new(
            host_config,
            config.router,
            Arc::new(fixtures::catalog()),
            seeds.u64(..),
        );
        let network = Network::new(config.network, seeds.u64(..));
        let carrier = Carrier::new(
            CarrierConfig {
                sip_addr: carrier_sip,
                rtp_ip: carrier_sip.ip(),
                first_rtp_port: CARRIER_FIRST_RTP_PORT,
                host_sip,
            },
            seeds.u64(..),
        );
        Sim {
            host,
            network,
            carrier,
            shell: HostShell::new(host_sip),
            now: Time::ZERO,
            host_deadline: Time::NEVER,
            buf: vec![0; BUFFER_LEN],
        }
    }

    /// The clock.
    pub(crate) fn now(&self) -> Time {
        self.now
    }

    /// Places a call (its script says when it starts).
    pub(crate) fn place(&mut self, script: CallScript) {
        self.carrier.place(script);
    }

    /// Feeds `input` to the host now and drains it onto the network.
    pub(crate) fn host_input(&mut self, input: Input<'_>) {
        self.host.handle_input(self.now, input);
        self.drain_host();
    }

    /// Hands the host a control-plane command now and drains what it makes.
    pub(crate) fn host_command(
        &mut self,
        call_id: &str,
        command: crate::call::CallCommand,
    ) -> Result<(), crate::call::Refusal> {
        let applied = self.host.handle_command(self.now, call_id, command);
        self.drain_host();
        applied
    }

    /// Advances the clock by `duration`, running everything due on the way.
    pub(crate) fn run_for(&mut self, duration: Duration) {
        self.run_until(self.now + duration);
    }

    /// Advances the clock to `end`, stopping at each event on the way: the
    /// next delivery, the host's deadline, the carrier's next timer.
    pub(crate) fn run_until(&mut self, end: Time) {
        loop {
            let next = self
                .network
                .next_delivery()
                .min(self.host_deadline)
                .min(self.carrier.next_timeout());
            if next > end {
                break;
            }
            self.now = self.now.max(next);
            self.step();
        }
        self.now = self.now.max(end);
    }

    /// Runs until no call is left anywhere — the carrier has nothing more to
    /// do, nothing is in flight, no BYE of the host's is still unanswered —
    /// or `limit` passes; true if all went quiet. Dialogs lingering only to
    /// answer retransmissions (Timers J/L) do not count.
    pub(crate) fn run_until_idle(&mut self, limit: Time) -> bool {
        while self.now < limit {
            let quiet = self.network.next_delivery() == Time::NEVER
                && self.carrier.next_timeout() == Time::NEVER
                && self.host.active_calls() == 0
                && self.host.dispatcher().dialogs_hanging_up() == 0;
            if quiet {
                return true;
            }
            let next = self
                .network
                .next_delivery()
                .min(self.host_deadline)
                .min(self.carrier.next_timeout());
            if next > limit {
                break;
            }
            self.now = self.now.max(next);
            self.step();
        }
        false
    }

    /// Everything due at `self.now`: arrived datagrams, the host's timers,
    /// the carrier's timers, and what they send.
    fn step(&mut self) {
        let now = self.now;
        while let Some((direction, datagram)) = self.network.deliver(now) {
            match direction {
                Direction::ToHost => {
                    if let Some(input) = self.shell.input_for(&datagram) {
                        self.host.handle_input(now, input);
                        self.drain_host();
                    }
                }
                Direction::ToCarrier => {
                    self.carrier.handle_datagram(now, &datagram);
                    self.flush_carrier();
                }
            }
        }
        if self.host_deadline <= now {
            self.host.handle_input(now, Input::Timeout);
            self.drain_host();
            // A deadline the host did not act on must not stall the clock.
            if self.host_deadline <= now {
                self.host_deadline = now + Duration::from_millis(1);
            }
        }
        if self.carrier.next_timeout() <= now {
            self.carrier.handle_timeout(now);
            self.flush_carrier();
        }
    }

    fn drain_host(&mut self) {
        let mut io = self.shell.io(&mut self.network, self.now);
        self.host_deadline = drain(&mut self.host, self.now, &mut self.buf, &mut io);
    }

    fn flush_carrier(&mut self) {
        while let Some(datagram) = self.carrier.poll_transmit() {
            self.network.send(self.now, Direction::ToHost, datagram);
        }
    }

    /// CDRs written so far, in order.
    pub(crate) fn cdrs(&self) -> &[CdrRecord] {
        &self.shell.cdrs
    }

    /// The CDR of `call_id`; panics if the host wrote none.
    pub(crate) fn cdr(&self, call_id: &str) -> &CdrRecord {
        match self.shell.cdrs.iter().find(|cdr| cdr.call_id == call_id) {
            Some(cdr) => cdr,
            None => panic!(
                "no CDR for {call_id}; CDRs for {:?}",
                self.shell
                    .cdrs
                    .iter()
                    .map(|c| &c.call_id)
                    .collect::<Vec<_>>()
            ),
        }
    }

    /// What the carrier saw of `call_id`.
    pub(crate) fn report(&self, call_id: &str) -> &CallReport {
        self.carrier.report(call_id)
    }
}

fn parse_addr(addr: &str) -> SocketAddr {
    match addr.parse() {
        Ok(addr) => addr,
        Err(err) => panic!("bad address {addr}: {err}"),
    }
}
