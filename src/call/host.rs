//! All the calls of one shard: the sans-IO core the shard's event loop drives.
//!
//! One door in, one door out, as str0m's `Rtc`: everything arrives through
//! [`Host::handle_input`] (SIP and RTP datagrams, the clock, a failed bind, an
//! HTTP answer, shutdown) and everything leaves through [`Host::poll_output`]:
//! datagrams written into the caller's buffer ([`Output::Transmit`]), work for
//! the shell ([`Output::Event`]: bind or close an RTP socket, write a CDR,
//! make an HTTP request) and the next deadline ([`Output::Timeout`]).
//!
//! **After every input, drain `poll_output` until it returns `Timeout`**
//! ([`drain`](super::drain) does exactly that, for the shard and the tests).
//!
//! The host owns the call table (a [`Slab`], found by dense index from a
//! [`CallHandle`] or an [`RtpSocket`]), the RTP port pool, the SIP
//! [`Dispatcher`] and one [`DeadlineQueue`] of call deadlines, so the next
//! deadline is O(1) and a wake-up touches only the calls that are due.
//! Choosing a port is data: the 200 OK is built with the port the host picked,
//! and the shell binds it when it drains the [`HostEvent::BindRtp`] queued
//! before anything of the call's is sent.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::deadlines::{schedule, take_if_live, DeadlineQueue};
use crate::media::{PromptCatalog, SrtpKeySource};
use crate::sip::sdp::{negotiate_with, NegotiateError, SrtpPolicy};
use crate::sip::{
    self, DialogMessage, DialogOwner, Dispatcher, DispatcherOutput, IncomingInvite, Routed,
    SessionTimerSettings, SipSettings, SipTimers,
};
use crate::slab::{Slab, SlabKey};
use crate::time::{Time, WallClock};

use super::admission::{Admission, AdmissionControl};
use super::cdr::{CdrRecord, HangupCause, HangupSide};
use super::control::{CallCommand, CallSnapshot, Refusal};
use super::dial_target::{clean_caller_id, resolve, DialTrunk};
use super::http::{HttpRequest, HttpResult};
use super::inbound::{Call, CallHandle, CallOutput, CallParties, CallPlan, RtpSeed};
use super::keepalives::{KeepaliveStats, Keepalives};
use super::leg::{LegId, LegMedia, LegRequest};
use super::ports::PortPool;
use super::recording::RecordingWork;
use super::registrations::{RegistrationStats, Registrations};
use super::routing::Router;
use super::speech::{SpeechResult, SpeechWanted};

/// How many ports a call tries before it is refused for want of media.
const BIND_ATTEMPTS: u8 = 16;

/// The bit that marks a [`DialogOwner`] as an outbound leg's (the rest is a
/// counter); calls' owners are their slab keys, whose generation never gets
/// this high, and trunk agents use the two bits above it.
const LEG_OWNER: u64 = 1 << 61;

/// The host's name for one RTP socket: dense, generation-checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RtpSocket(SlabKey);

impl RtpSocket {
    /// Position in the host's socket table (dense, reused), for the shell's own tables.
    pub fn index(self) -> usize {
        self.0.index()
    }
}

/// Which socket a datagram leaves from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Socket {
    /// The shard's SIP socket.
    Sip,
    /// SIP over TCP: this connection when it is open and connected to `dest`,
    /// else any open connection to `dest`, else (a request) a new one; a
    /// response with no connection left is dropped (see [`sip::Link::Tcp`]).
    SipTcp(Option<sip::ConnRef>),
    /// SIP over TLS: as [`Socket::SipTcp`], on the shell's TLS connections
    /// (a new one is a TLS client connection).
    SipTls(Option<sip::ConnRef>),
    /// A call's RTP socket.
    Rtp(RtpSocket),
    /// The RTCP socket (RTP port + 1) of a call's RTP socket.
    Rtcp(RtpSocket),
}

/// A datagram the host wrote into the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The socket to send it from.
    pub socket: Socket,
    /// Where to send it.
    pub dest: SocketAddr,
    /// Bytes written at the start of the buffer.
    pub len: usize,
}

/// What the IO shell must do for the host.
#[derive(Debug)]
pub enum HostEvent {
    /// Bind two UDP sockets now: RTP on `addr` and RTCP on `rtcp` (the next
    /// port) for `socket`. If either fails, close the other and feed
    /// [`Input::BindFailed`] back before the next `poll_output`.
    BindRtp {
        /// The host's name for the pair (datagrams arrive as [`Input::Rtp`] and
        /// [`Input::Rtcp`]).
        socket: RtpSocket,
        /// Address and (even) port of RTP.
        addr: SocketAddr,
        /// Address and port of RTCP: `addr`'s port + 1.
        rtcp: SocketAddr,
    },
    /// The call is over: close this RTP socket and its RTCP socket.
    CloseRtp {
        /// The socket to close.
        socket: RtpSocket,
    },
    /// A call started (`in_use`) or stopped using the stream connection
    /// `conn` for its dialog: a connection in use is not closed for idleness.
    ConnInUse {
        /// The connection the call's INVITE came on.
        conn: sip::ConnRef,
        /// Started (true) or stopped (false).
        in_use: bool,
    },
    /// Append this record to the CDR file.
    Cdr(Box<CdrRecord>),
    /// Hand this to the recording writer; nothing comes back.
    Recording(RecordingWork),
    /// Perform this request and, when `reply`, feed the answer back as [`Input::Http`].
    Http {
        /// The call that asked.
        call: CallHandle,
        /// What to send.
        request: HttpRequest,
        /// Whether the call waits for the answer.
        reply: bool,
    },
    /// Have this sentence synthesized and feed the prompt back as [`Input::Speech`].
    Speech {
        /// The call that waits for it.
        call: CallHandle,
        /// What to say.
        request: SpeechWanted,
    },
}

/// Something that happened, for [`Host::handle_input`].
#[derive(Debug)]
pub enum Input<'a> {
    /// A SIP datagram for a call this shard owns (or a new one).
    Sip {
        /// Its source address.
        from: SocketAddr,
        /// The datagram.
        data: &'a [u8],
    },
    /// A SIP message framed on a TCP (or TLS) connection, for a call this
    /// shard owns (or a new one).
    SipStream {
        /// The connection's peer address.
        from: SocketAddr,
        /// The connection (possibly another shard's) it came on.
        conn: sip::ConnRef,
        /// The connection is TLS.
        tls: bool,
        /// One complete message.
        data: &'a [u8],
    },
    /// A SIP request the shell could not deliver over a stream: its
    /// connection was refused or its TLS handshake failed (RFC 3261
    /// §8.1.3.1: its transaction ends at once as on a 503).
    SipUndelivered {
        /// Where it was going.
        dest: SocketAddr,
        /// Over TLS.
        tls: bool,
        /// The whole request.
        data: &'a [u8],
    },
    /// A datagram on an RTP socket.
    Rtp {
        /// The socket it arrived on.
        socket: RtpSocket,
        /// Its source address.
        from: SocketAddr,
        /// The datagram.
        data: &'a [u8],
    },
    /// A datagram on the RTCP socket of an RTP socket.
    Rtcp {
        /// The RTP socket whose RTCP socket it arrived on.
        socket: RtpSocket,
        /// Its source address.
        from: SocketAddr,
        /// The datagram.
        data: &'a [u8],
    },
    /// The clock reached a deadline the host gave.
    Timeout,
    /// The shell could not bind `socket` (its port is taken by someone else).
    BindFailed {
        /// The socket of the failed [`HostEvent::BindRtp`].
        socket: RtpSocket,
    },
    /// The answer to a request a call made with `reply`.
    Http {
        /// The call that asked.
        call: CallHandle,
        /// What came back.
        result: HttpResult,
    },
    /// The speech a call asked for with [`HostEvent::Speech`].
    Speech {
        /// The call that asked.
        call: CallHandle,
        /// The request's number ([`SpeechWanted::id`]).
        id: u64,
        /// The prompt, or why there is none.
        result: SpeechResult,
    },
    /// Stop taking calls and hang up the ones in progress.
    Shutdown,
}

/// What the host wants done next.
#[derive(Debug)]
pub enum Output {
    /// Send the first `len` bytes of the buffer.
    Transmit(Transmit),
    /// Do this for the host.
    Event(HostEvent),
    /// Nothing more until this instant ([`Time::NEVER`]: no timer); then feed
    /// [`Input::Timeout`].
    Timeout(Time),
}

/// Settings of one shard's host.
#[derive(Clone, Debug)]
pub struct HostConfig {
    /// The shard's number (in CDRs and logs).
    pub shard: usize,
    /// The SIP address advertised in Via and Contact.
    pub sip_addr: SocketAddr,
    /// The SIP address our Via and Contact headers name, when it differs from
    /// the bound one (behind NAT); `None`: `sip_addr`.
    pub sip_advertised: Option<SocketAddr>,
    /// The address RTP sockets bind and the SDP advertises.
    pub rtp_ip: IpAddr,
    /// The address our SDP names for RTP, when it differs from the bound one
    /// (behind NAT); `None`: `rtp_ip`.
    pub rtp_advertised: Option<IpAddr>,
    /// Sent as `Server`/`User-Agent`; omitted when empty.
    pub user_agent: String,
    /// How long to ring (180) before answering.
    pub answer_delay: Duration,
    /// T1, T2 and T4 of every SIP transaction.
    pub sip_timers: SipTimers,
    /// Session timers (RFC 4028): the shortest interval accepted (422
    /// below it) and the one we ask for.
    pub session_timer: SessionTimerSettings,
    /// The source ranges new calls may come from (the trunks'); empty: any.
    /// An INVITE from elsewhere gets 403 and is counted, with no CDR.
    pub allowed_sources: Arc<[ipnet::IpNet]>,
    /// New INVITEs per second one source address may send to the whole server
    /// (0: no limit); past it they get 503 with `Retry-After`, counted, no CDR.
    pub invite_rate_per_source: u32,
    /// UTC at the shell's time origin, for schedules and date conditions.
    pub wall: WallClock,
    /// The shard's share of the RTP port range: every `shards`-th even port of `min..=max`.
    pub rtp_ports: (u16, u16),
    /// How many shards share the port range.
    pub shards: usize,
    /// The jitter buffer's lowest target delay and highest delay, per call.
    pub jitter: (Duration, Duration),
    /// The carrier registrations this shard keeps (the shell gives them all
    /// to shard 0; the others get none).
    pub registrations: Arc<[sip::RegistrationConfig]>,
    /// The trunks' OPTIONS keepalives this shard sends (all on shard 0, as
    /// the registrations).
    pub keepalives: Arc<[sip::OptionsPingConfig]>,
    /// The port of the shell's TLS listener (Via and Contact of dialogs
    /// over TLS name it); `None`: no TLS.
    pub sip_tls_port: Option<u16>,
    /// The sources of trunks that require TLS: an INVITE from one of them
    /// over UDP or TCP gets 403, counted.
    pub tls_only_sources: Arc<[ipnet::IpNet]>,
    /// `[rtp] codecs`: preferred codecs in order; empty: the caller's order.
    pub codecs: Arc<[sip::AudioCodec]>,
    /// Trunks' own `codecs`, by source range (the first range holding the
    /// INVITE's source wins over `codecs`).
    pub trunk_codecs: Arc<[(ipnet::IpNet, Arc<[sip::AudioCodec]>)]>,
    /// SRTP: the policies and where our keys come from.
    pub srtp: SrtpSettings,
    /// The trunk flows dial numbers through (`[dial] trunk`); `None`: only
    /// `sip:` URIs can be dialled.
    pub dial_trunk: Option<DialTrunk>,
    /// `[sip] accept_refer`: callers may transfer their call by REFER.
    pub accept_refer: bool,
    /// `[speech] timeout_ms` when a speech engine runs; `None`: free text
    /// that no catalog prompt speaks fails at once.
    pub speech_timeout: Option<Duration>,
}

/// SRTP with SDES keys, for every call of a shard.
#[derive(Clone, Default)]
pub struct SrtpSettings {
    /// `[rtp] srtp`: for callers of no trunk with its own policy.
    pub policy: SrtpPolicy,
    /// The trunks' own policies, by the source ranges they allow; the first match wins.
    pub trunks: Arc<[(ipnet::IpNet, SrtpPolicy)]>,
    /// Keys the generator of our SDES keys: 16 bytes of the operating
    /// system's entropy, read once by the shell (the core reads none).
    pub key_seed: [u8; 16],
}

impl std::fmt::Debug for SrtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The seed stays out of logs.
        f.debug_struct("SrtpSettings")
            .field("policy", &self.policy)
            .field("trunks", &self.trunks)
            .finish_non_exhaustive()
    }
}

impl SrtpSettings {
    /// The policy for a call from `source`.
    pub fn policy_for(&self, source: IpAddr) -> SrtpPolicy {
        self.trunks
            .iter()
            .find(|(net, _)| net.contains(&source))
            .map_or(self.policy, |(_, policy)| *policy)
    }
}

/// Counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostStats {
    /// New INVITEs seen.
    pub calls_offered: u64,
    /// Calls answered with 200 (counted when they end).
    pub calls_answered: u64,
    /// Calls refused with a final non-2xx by callplane.
    pub calls_rejected: u64,
    /// Calls retired.
    pub calls_ended: u64,
    /// RTP datagrams for a socket no call holds any more.
    pub rtp_for_unknown_call: u64,
    /// Flow commands that failed because their media side is not available yet.
    pub unsupported_commands: u64,
    /// Prompts flows named that the catalog lacks.
    pub missing_prompts: u64,
    /// Offerless re-INVITEs whose ACK carried no usable answer (the session stayed).
    pub unusable_ack_answers: u64,
    /// Free-text speech that failed or came too late (its node failed).
    pub speech_failures: u64,
    /// Ports the shell could not bind.
    pub bind_failures: u64,
    /// New INVITEs refused with 403 because no trunk allows their source.
    pub calls_from_unknown_sources: u64,
    /// New INVITEs refused with 503 because their source was over its rate.
    pub calls_over_source_rate: u64,
    /// New INVITEs refused with 403 because their trunk requires TLS and
    /// they came over UDP or TCP.
    pub calls_refused_not_tls: u64,
    /// Outbound legs placed for calls (dial, forward, transfer).
    pub legs_placed: u64,
    /// Outbound legs that could not be placed (no route to the target, no port).
    pub legs_refused: u64,
}

struct CallEntry {
    call: Call,
    /// The call's log span (`call_id`, `shard`), entered whenever the host
    /// works on the call, so its log lines carry them.
    span: tracing::Span,
    socket: RtpSocket,
    /// Each outbound leg's RTP socket and dialog owner.
    legs: Vec<(LegId, RtpSocket, u64)>,
    /// The deadline last pushed into the queue for this call.
    scheduled: Option<Time>,
    /// Whether the call is in the ready queue.
    queued: bool,
}

struct SocketEntry {
    call: CallHandle,
    port: u16,
    attempts: u8,
    /// The call's leg the socket is for (0: the inbound leg).
    leg: LegId,
}

/// The calls of one shard.
pub struct Host {
    config: HostConfig,
    dispatcher: Dispatcher,
    router: Arc<Router>,
    prompts: Arc<PromptCatalog>,
    calls: Slab<CallEntry>,
    sockets: Slab<SocketEntry>,
    ports: PortPool,
    admission: AdmissionControl,
    timers: DeadlineQueue<SlabKey>,
    /// Calls touched by an input whose output is not drained yet.
    ready: VecDeque<CallHandle>,
    events: VecDeque<HostEvent>,
    rng: fastrand::Rng,
    now: Time,
    draining: bool,
    stats: HostStats,
    registrations: Registrations,
    keepalives: Keepalives,
    /// Our SDES keys, one per call.
    srtp_keys: SrtpKeySource,
    /// The call and leg of each outbound leg's dialog owner.
    leg_owners: HashMap<u64, (CallHandle, LegId)>,
    next_leg_owner: u64,
}

impl Host {
    /// A host with no calls.
    pub fn new(
        config: HostConfig,
        router: Arc<Router>,
        prompts: Arc<PromptCatalog>,
        seed: u64,
    ) -> Host {
        let mut dispatcher = Dispatcher::new(
            SipSettings {
                local_addr: config.sip_advertised.unwrap_or(config.sip_addr),
                user_agent: config.user_agent.clone(),
                timers: config.sip_timers,
                session_timer: config.session_timer,
            },
            seed ^ 0x5151_5151,
        );
        dispatcher.set_shard(config.shard, config.shards);
        if let Some(port) = config.sip_tls_port {
            dispatcher.set_tls_port(port);
        }
        let registrations = Registrations::new(&config.registrations, &mut dispatcher);
        let keepalives = Keepalives::new(&config.keepalives, &mut dispatcher);
        let (min, max) = config.rtp_ports;
        let ports = PortPool::new(min, max, config.shard, config.shards);
        let admission = AdmissionControl::new(
            config.allowed_sources.clone(),
            config.invite_rate_per_source,
            config.shards,
        );
        let srtp_keys = SrtpKeySource::new(config.srtp.key_seed, config.shard as u64);
        Host {
            config,
            dispatcher,
            router,
            prompts,
            calls: Slab::new(),
            sockets: Slab::new(),
            ports,
            admission,
            timers: DeadlineQueue::new(),
            ready: VecDeque::new(),
            events: VecDeque::new(),
            rng: fastrand::Rng::with_seed(seed),
            now: Time::ZERO,
            draining: false,
            stats: HostStats::default(),
            registrations,
            keepalives,
            srtp_keys,
            leg_owners: HashMap::new(),
            next_leg_owner: 0,
        }
    }

    /// Feeds one input. Then drain [`Host::poll_output`] until `Timeout`.
    pub fn handle_input(&mut self, now: Time, input: Input<'_>) {
        self.now = self.now.max(now);
        let now = self.now;
        self.registrations.start_once(now);
        self.keepalives.start_once(now);
        match input {
            Input::Sip { from, data } => self.on_sip(now, from, sip::Link::Udp, data),
            Input::SipStream {
                from,
                conn,
                tls,
                data,
            } => {
                let link = match tls {
                    true => sip::Link::Tls(Some(conn)),
                    false => sip::Link::Tcp(Some(conn)),
                };
                self.on_sip(now, from, link, data)
            }
            Input::SipUndelivered { dest, tls, data } => {
                let link = match tls {
                    true => sip::Link::Tls(None),
                    false => sip::Link::Tcp(None),
                };
                let routed = self
                    .dispatcher
                    .handle_transport_error(now, dest, link, data);
                self.route_sip(now, routed);
            }
            Input::Rtp { socket, from, data } => self.on_rtp(now, socket, from, data, false),
            Input::Rtcp { socket, from, data } => self.on_rtp(now, socket, from, data, true),
            Input::Timeout => self.on_timeout(now),
            Input::BindFailed { socket } => self.on_bind_failed(now, socket),
            Input::Http { call, result } => {
                if let Some(entry) = self.calls.get_mut(call.0) {
                    entry.span.in_scope(|| entry.call.http_done(now, result));
                    self.mark_ready(call);
                }
            }
            Input::Speech { call, id, result } => {
                if let Some(entry) = self.calls.get_mut(call.0) {
                    entry
                        .span
                        .in_scope(|| entry.call.speech_done(now, id, result));
                    self.mark_ready(call);
                }
            }
            Input::Shutdown => self.on_shutdown(now),
        }
    }

    /// The next thing to do; datagrams are written into `buf` (which must hold
    /// any SIP datagram: 64 KiB). After every input, call until `Timeout`.
    pub fn poll_output(&mut self, buf: &mut [u8]) -> Output {
        loop {
            // Socket requests first: a call's port is bound before its 200 OK leaves.
            if let Some(event) = self.events.pop_front() {
                return Output::Event(event);
            }
            let sip_deadline = match self.dispatcher.poll_output() {
                DispatcherOutput::Transmit(transmit) => {
                    if let Some(out) = sip_transmit(transmit, buf) {
                        return Output::Transmit(out);
                    }
                    continue;
                }
                DispatcherOutput::Timeout(at) => at,
            };
            if let Some(transmit) = self.registrations.poll_transmit() {
                if let Some(out) = sip_transmit(transmit, buf) {
                    return Output::Transmit(out);
                }
                continue;
            }
            if let Some(transmit) = self.keepalives.poll_transmit() {
                if let Some(out) = sip_transmit(transmit, buf) {
                    return Output::Transmit(out);
                }
                continue;
            }
            let Some(&handle) = self.ready.front() else {
                let calls = self.timers.next().unwrap_or(Time::NEVER);
                let registrations = self.registrations.deadline();
                let keepalives = self.keepalives.deadline();
                return Output::Timeout(calls.min(sip_deadline).min(registrations).min(keepalives));
            };
            let Some(entry) = self.calls.get_mut(handle.0) else {
                self.ready.pop_front();
                continue;
            };
            let socket = entry.socket;
            let polled = {
                let _in_call = entry.span.enter();
                entry.call.poll_output(buf)
            };
            match polled {
                CallOutput::Sip(transmit) => {
                    if let Some(out) = sip_transmit(transmit, buf) {
                        return Output::Transmit(out);
                    }
                }
                CallOutput::Rtp { dest, len } => {
                    return Output::Transmit(Transmit {
                        socket: Socket::Rtp(socket),
                        dest,
                        len,
                    })
                }
                CallOutput::Rtcp { dest, len } => {
                    return Output::Transmit(Transmit {
                        socket: Socket::Rtcp(socket),
                        dest,
                        len,
                    })
                }
                CallOutput::LegRtp { leg, dest, len } => {
                    if let Some(socket) = leg_socket(entry, leg) {
                        return Output::Transmit(Transmit {
                            socket: Socket::Rtp(socket),
                            dest,
                            len,
                        });
                    }
                }
                CallOutput::LegRtcp { leg, dest, len } => {
                    if let Some(socket) = leg_socket(entry, leg) {
                        return Output::Transmit(Transmit {
                            socket: Socket::Rtcp(socket),
                            dest,
                            len,
                        });
                    }
                }
                CallOutput::PlaceLeg(request) => self.place_leg(handle, request),
                CallOutput::Http { request, wait } => {
                    return Output::Event(HostEvent::Http {
                        call: handle,
                        request,
                        reply: wait,
                    })
                }
                CallOutput::Recording(work) => return Output::Event(HostEvent::Recording(work)),
                CallOutput::Speech(request) => {
                    return Output::Event(HostEvent::Speech {
                        call: handle,
                        request,
                    })
                }
                CallOutput::Idle => {
                    self.ready.pop_front();
                    entry.queued = false;
                    if entry.call.is_finished() {
                        self.retire(handle);
                    } else {
                        let at = entry.call.deadline();
                        schedule(&mut self.timers, &mut entry.scheduled, at, handle.0);
                        self.release_finished_legs(handle);
                    }
                }
            }
        }
    }

    /// Replaces the routing table (a new configuration or newly published
    /// flows). Calls in progress keep the flow and version they started with.
    pub fn set_router(&mut self, router: Arc<Router>) {
        self.router = router;
    }

    /// Applies a control-plane command to the call whose SIP Call-ID is
    /// `call_id`, or says why not. Then drain [`Host::poll_output`] until
    /// `Timeout`. Finding the call walks the call table: commands come at
    /// the control plane's pace, not the media's.
    pub fn handle_command(
        &mut self,
        now: Time,
        call_id: &str,
        command: CallCommand,
    ) -> Result<(), Refusal> {
        self.now = self.now.max(now);
        let now = self.now;
        let handle = self.find_call(call_id).ok_or(Refusal::NoSuchCall)?;
        let entry = self.calls.get_mut(handle.0).ok_or(Refusal::NoSuchCall)?;
        let applied = entry
            .span
            .in_scope(|| entry.call.handle_command(now, command));
        self.mark_ready(handle);
        applied
    }

    /// Every call in progress on this shard, as the API shows it.
    pub fn snapshots(&self) -> Vec<CallSnapshot> {
        self.calls
            .keys()
            .filter_map(|key| self.calls.get(key))
            .filter(|entry| !entry.call.is_finished())
            .map(|entry| entry.call.snapshot(self.now))
            .collect()
    }

    /// The call in progress whose SIP Call-ID is `call_id`.
    pub fn snapshot(&self, call_id: &str) -> Option<CallSnapshot> {
        let handle = self.find_call(call_id)?;
        self.calls
            .get(handle.0)
            .map(|entry| entry.call.snapshot(self.now))
    }

    fn find_call(&self, call_id: &str) -> Option<CallHandle> {
        self.calls.keys().map(CallHandle).find(|handle| {
            self.calls
                .get(handle.0)
                .is_some_and(|entry| entry.call.sip_call().0 == call_id)
        })
    }

    /// Calls in progress on this shard.
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// Counters of the host.
    pub fn stats(&self) -> HostStats {
        self.stats
    }

    /// Counters of the SIP layer (a dialog is counted once its call is gone).
    pub fn sip_stats(&self) -> sip::SipStats {
        self.dispatcher.stats()
    }

    /// Counters of the carrier registrations this shard keeps.
    pub fn registration_stats(&self) -> RegistrationStats {
        self.registrations.stats
    }

    /// Counters and trunk states of the OPTIONS keepalives this shard sends.
    pub fn keepalive_stats(&self) -> KeepaliveStats {
        self.keepalives.stats()
    }

    /// Each keepalive trunk's name and state (`unknown`, `up`, `down`).
    pub fn trunk_states(&self) -> Vec<(String, &'static str)> {
        self.keepalives
            .states()
            .map(|(name, state)| (name.to_owned(), state.as_str()))
            .collect()
    }

    /// Whether every carrier registration of this shard stands (true with none).
    pub fn registered(&self) -> bool {
        self.registrations.all_registered()
    }

    /// The SIP dispatcher, for its counters and sizes.
    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }

    /// The RTP address our SDP names for `port`.
    fn advertised_rtp(&self, port: u16) -> SocketAddr {
        SocketAddr::new(
            self.config.rtp_advertised.unwrap_or(self.config.rtp_ip),
            port,
        )
    }

    fn mark_ready(&mut self, handle: CallHandle) {
        if let Some(entry) = self.calls.get_mut(handle.0) {
            if !entry.queued {
                entry.queued = true;
                self.ready.push_back(handle);
            }
        }
    }

    fn on_sip(&mut self, now: Time, from: SocketAddr, link: sip::Link, data: &[u8]) {
        let routed = match link {
            sip::Link::Tcp(Some(conn)) => {
                self.dispatcher.handle_stream_message(now, from, conn, data)
            }
            link => self.dispatcher.handle_message(now, from, link, data),
        };
        self.route_sip(now, routed);
    }

    /// Hands what the dispatcher routed to its call (or registration, or
    /// keepalive).
    fn route_sip(&mut self, now: Time, routed: Option<Routed>) {
        match routed {
            None => {}
            Some(Routed::NewInvite(invite)) => self.incoming_call(now, *invite),
            Some(Routed::Dialog { owner, message }) => {
                if let DialogMessage::Response(response) = &message {
                    if self.registrations.on_response(now, owner, response)
                        || self.keepalives.on_response(now, owner, response)
                    {
                        return;
                    }
                }
                if owner.0 & LEG_OWNER != 0 {
                    if let Some(&(handle, leg)) = self.leg_owners.get(&owner.0) {
                        if let Some(entry) = self.calls.get_mut(handle.0) {
                            entry
                                .span
                                .in_scope(|| entry.call.handle_leg_sip(now, leg, message));
                            self.mark_ready(handle);
                        }
                    }
                    return;
                }
                let handle = CallHandle(SlabKey::from_u64(owner.0));
                if let Some(entry) = self.calls.get_mut(handle.0) {
                    entry.span.in_scope(|| entry.call.handle_sip(now, message));
                    self.mark_ready(handle);
                }
            }
        }
    }

    fn on_rtp(&mut self, now: Time, socket: RtpSocket, from: SocketAddr, data: &[u8], rtcp: bool) {
        let Some((handle, leg)) = self.sockets.get(socket.0).map(|s| (s.call, s.leg)) else {
            self.stats.rtp_for_unknown_call += 1;
            return;
        };
        match self.calls.get_mut(handle.0) {
            Some(entry) => {
                entry.span.in_scope(|| match (leg, rtcp) {
                    (0, true) => entry.call.handle_rtcp(now, from, data),
                    (0, false) => entry.call.handle_rtp(now, from, data),
                    (leg, rtcp) => entry.call.handle_leg_rtp(now, leg, from, data, rtcp),
                });
                self.mark_ready(handle);
            }
            None => self.stats.rtp_for_unknown_call += 1,
        }
    }

    fn on_timeout(&mut self, now: Time) {
        self.dispatcher.handle_timeout(now);
        self.registrations.on_timeout(now);
        self.keepalives.on_timeout(now);
        while let Some((at, key)) = self.timers.pop_due(now) {
            let Some(entry) = self.calls.get_mut(key) else {
                continue;
            };
            if !take_if_live(&mut entry.scheduled, at) {
                continue;
            }
            entry.span.in_scope(|| entry.call.handle_timeout(now));
            self.mark_ready(CallHandle(key));
        }
    }

    fn on_bind_failed(&mut self, now: Time, socket: RtpSocket) {
        self.stats.bind_failures += 1;
        let Some(entry) = self.sockets.get(socket.0) else {
            return;
        };
        let (failed, handle, attempts) = (entry.port, entry.call, entry.attempts);
        if entry.leg != 0 {
            // A leg's offer named this port already: the leg goes without media.
            log::warn!(
                "shard {}: the RTP port of an outbound leg could not be bound",
                self.config.shard
            );
            return;
        }
        let retry = if attempts < BIND_ATTEMPTS {
            self.ports.take()
        } else {
            None
        };
        // The port is someone else's for now: it goes back last.
        self.ports.put(failed);
        let addr = retry.map(|port| SocketAddr::new(self.config.rtp_ip, port));
        let advertised = retry.map(|port| self.advertised_rtp(port));
        let moved = advertised.is_some_and(|advertised| {
            self.calls
                .get_mut(handle.0)
                .is_some_and(|entry| entry.call.rebind(advertised))
        });
        match (retry, addr) {
            (Some(port), Some(addr)) if moved => {
                if let Some(entry) = self.sockets.get_mut(socket.0) {
                    entry.port = port;
                    entry.attempts += 1;
                }
                let rtcp = rtcp_of(addr);
                self.events
                    .push_back(HostEvent::BindRtp { socket, addr, rtcp });
            }
            _ => {
                if let Some(port) = retry {
                    self.ports.put(port);
                }
                log::warn!(
                    "shard {}: no RTP port could be bound for a call",
                    self.config.shard
                );
                self.sockets.remove(socket.0);
                if let Some(entry) = self.calls.get_mut(handle.0) {
                    let _in_call = entry.span.enter();
                    entry.call.media_unavailable(now);
                }
            }
        }
        self.mark_ready(handle);
    }

    fn on_shutdown(&mut self, now: Time) {
        self.draining = true;
        let handles: Vec<SlabKey> = self.calls.keys().collect();
        for key in handles {
            if let Some(entry) = self.calls.get_mut(key) {
                entry.span.in_scope(|| entry.call.shutdown(now));
                self.mark_ready(CallHandle(key));
            }
        }
    }

    fn incoming_call(&mut self, now: Time, invite: IncomingInvite) {
        let span = call_span(invite.call_id(), self.config.shard);
        let _in_call = span.clone().entered();
        self.accept_or_refuse(now, invite, span);
    }

    fn accept_or_refuse(&mut self, now: Time, invite: IncomingInvite, span: tracing::Span) {
        self.stats.calls_offered += 1;
        let source = invite.source().ip();
        let tls_required = !invite.link().is_tls()
            && self
                .config
                .tls_only_sources
                .iter()
                .any(|net| net.contains(&source));
        let (status, extra) = match self.admission.admit(now, source) {
            Admission::Admit if tls_required => {
                self.stats.calls_refused_not_tls += 1;
                log::debug!("INVITE from {source}, whose trunk requires TLS, over UDP/TCP: 403");
                (403, Vec::new())
            }
            Admission::Admit => (0, Vec::new()),
            Admission::UnknownSource => {
                self.stats.calls_from_unknown_sources += 1;
                log::debug!("INVITE from {source}, which no trunk allows: 403");
                (403, Vec::new())
            }
            Admission::OverRate { retry_after_secs } => {
                self.stats.calls_over_source_rate += 1;
                log::debug!("INVITE from {source} over its rate: 503");
                let retry = (
                    ezk_sip_types::Name::RETRY_AFTER,
                    retry_after_secs.to_string(),
                );
                (503, vec![retry])
            }
        };
        if status != 0 {
            if let Err(err) = self.dispatcher.reject_with(now, invite, status, extra) {
                log::warn!("cannot refuse an INVITE from {source}: {err}");
            }
            return;
        }
        let parties = CallParties {
            sip_call: invite.call_id().clone(),
            from: invite.from_user(),
            to: invite.request_user(),
        };
        if self.draining {
            return self.reject_unrouted(now, invite, parties, 503, HangupCause::Shutdown);
        }
        if let Some(min_se) = invite.session_interval_too_brief(&self.config.session_timer) {
            log::debug!("INVITE from {source} asks a session interval below {min_se} s: 422");
            let extra = vec![(ezk_sip_types::Name::MIN_SE, min_se.to_string())];
            return self.reject_unrouted_with(
                now,
                invite,
                parties,
                (422, extra),
                HangupCause::SessionIntervalTooSmall,
            );
        }
        let Some(target) = self.router.route(&parties.to).cloned() else {
            return self.reject_unrouted(now, invite, parties, 404, HangupCause::NoRoute);
        };
        let srtp = self.config.srtp.policy_for(source);
        let srtp_key = *self.srtp_keys.next_key().as_bytes();
        let codecs = self
            .config
            .trunk_codecs
            .iter()
            .find(|(net, _)| net.contains(&source))
            .map_or_else(|| self.config.codecs.clone(), |(_, codecs)| codecs.clone());
        let offer = invite
            .sdp()
            .map(|sdp| negotiate_with(sdp, &codecs, srtp, &srtp_key));
        let negotiated = match (invite.has_offer(), offer) {
            // No SDP at all: a late offer; the answer comes in the ACK.
            (false, _) => None,
            (true, Some(Ok(negotiated))) => Some(negotiated),
            (true, Some(Err(NegotiateError::SrtpRequired))) => {
                log::debug!("INVITE from {source} offers no SRTP, which its trunk requires: 488");
                return self.reject_unrouted(now, invite, parties, 488, HangupCause::SrtpRequired);
            }
            _ => {
                return self.reject_unrouted(now, invite, parties, 488, HangupCause::NoCommonCodec)
            }
        };
        let Some(port) = self.ports.take() else {
            log::warn!("shard {}: RTP port range exhausted", self.config.shard);
            return self.reject_unrouted(now, invite, parties, 503, HangupCause::MediaUnavailable);
        };
        let handle = CallHandle(self.calls.next_key());
        let socket = RtpSocket(self.sockets.insert(SocketEntry {
            call: handle,
            port,
            attempts: 1,
            leg: 0,
        }));
        let seed = RtpSeed {
            ssrc: self.rng.u32(..),
            initial_seq: self.rng.u16(..),
            initial_timestamp: self.rng.u32(..),
            sdp_session_id: self.rng.u64(1..u64::MAX >> 1),
            rtcp_seed: self.rng.u64(..),
            srtp_key,
        };
        let plan = CallPlan {
            early_media: target.early_media || target.program.early_media(),
            program: target.program,
            env: self.router.env().clone(),
            dest_xform: target.dest_xform,
            prompts: self.prompts.clone(),
            answer_delay: self.config.answer_delay,
            wall: self.config.wall,
            shard: self.config.shard,
            jitter: self.config.jitter,
            srtp,
            codecs,
            speech_timeout: self.config.speech_timeout,
        };
        if let Some(conn) = invite.link().conn() {
            self.events
                .push_back(HostEvent::ConnInUse { conn, in_use: true });
        }
        let mut dialog = self
            .dispatcher
            .accept(invite, DialogOwner(handle.0.to_u64()));
        dialog.allow_refer(self.config.accept_refer);
        let addr = SocketAddr::new(self.config.rtp_ip, port);
        let advertised = self.advertised_rtp(port);
        let call = Call::new(
            handle, parties, dialog, negotiated, plan, seed, advertised, now,
        );
        let key = self.calls.insert(CallEntry {
            call,
            span,
            socket,
            legs: Vec::new(),
            scheduled: None,
            queued: false,
        });
        debug_assert_eq!(key, handle.0);
        log::debug!("call accepted from {source}");
        let rtcp = rtcp_of(addr);
        self.events
            .push_back(HostEvent::BindRtp { socket, addr, rtcp });
        self.mark_ready(handle);
    }

    /// Rejects a call that never got a `Call` (no route, no codec, no port, draining).
    fn reject_unrouted(
        &mut self,
        now: Time,
        invite: IncomingInvite,
        parties: CallParties,
        status: u16,
        cause: HangupCause,
    ) {
        self.reject_unrouted_with(now, invite, parties, (status, Vec::new()), cause);
    }

    /// [`Host::reject_unrouted`] with extra headers in the final response.
    fn reject_unrouted_with(
        &mut self,
        now: Time,
        invite: IncomingInvite,
        parties: CallParties,
        (status, extra): (u16, Vec<(ezk_sip_types::Name, String)>),
        cause: HangupCause,
    ) {
        self.stats.calls_rejected += 1;
        log::debug!("call refused with {status}: {cause:?}");
        if let Err(err) = self.dispatcher.reject_with(now, invite, status, extra) {
            log::warn!(
                "call {}: cannot reject with {status}: {err}",
                parties.sip_call
            );
        }
        self.events.push_back(HostEvent::Cdr(Box::new(CdrRecord {
            call_id: parties.sip_call.to_string(),
            from: parties.from,
            to: parties.to,
            flow_id: None,
            flow_version: None,
            start: now,
            answer: None,
            end: now,
            hangup_cause: cause,
            hangup_side: HangupSide::Callplane,
            sip_status: status,
            early_media: false,
            digits: Vec::new(),
            nodes: Vec::new(),
            flow_end: None,
            shard: self.config.shard,
            media: None,
            legs: Vec::new(),
            recordings: Vec::new(),
        })));
    }

    /// Removes a finished call: its CDR, its socket and port, its dialog back
    /// to the dispatcher.
    fn retire(&mut self, handle: CallHandle) {
        let Some(mut entry) = self.calls.remove(handle.0) else {
            return;
        };
        for (_, dialog) in entry.call.take_all_legs() {
            self.dispatcher.release(dialog);
        }
        for (_, socket, owner) in entry.legs.drain(..) {
            self.close_leg_socket(socket, owner);
        }
        self.stats.calls_ended += 1;
        let _in_call = entry.span.clone().entered();
        let counters = entry.call.counters();
        self.stats.unsupported_commands += counters.unsupported_commands;
        self.stats.missing_prompts += counters.missing_prompts;
        self.stats.unusable_ack_answers += counters.unusable_ack_answers;
        self.stats.speech_failures += counters.speech_failures;
        self.stats.calls_answered += u64::from(counters.answered);
        self.stats.calls_rejected += u64::from(counters.rejected);
        if let Some(socket) = self.sockets.remove(entry.socket.0) {
            self.ports.put(socket.port);
            self.events.push_back(HostEvent::CloseRtp {
                socket: entry.socket,
            });
        }
        if let Some(cdr) = entry.call.cdr() {
            log::debug!(
                "call ended: {:?} by {:?}, SIP status {}",
                cdr.hangup_cause,
                cdr.hangup_side,
                cdr.sip_status
            );
            self.events.push_back(HostEvent::Cdr(Box::new(cdr)));
        }
        let dialog = entry.call.into_dialog();
        if let Some(conn) = dialog.link().conn() {
            self.events.push_back(HostEvent::ConnInUse {
                conn,
                in_use: false,
            });
        }
        self.dispatcher.release(dialog);
    }
}

impl Host {
    /// Places the outbound INVITE a call asked for, on the call's shard: a
    /// port of the shard's range for its media, our offer, the dialog.
    fn place_leg(&mut self, handle: CallHandle, request: LegRequest) {
        let now = self.now;
        let resolved = resolve(&request.target, self.config.dial_trunk.as_ref());
        let port = match &resolved {
            Ok(_) => self.ports.take(),
            Err(_) => None,
        };
        let (resolved, port) = match (resolved, port) {
            (Ok(resolved), Some(port)) => (resolved, port),
            (Err(why), _) => return self.refuse_leg(handle, &request, why),
            (Ok(_), None) => {
                return self.refuse_leg(handle, &request, "RTP port range exhausted".into())
            }
        };
        self.stats.legs_placed += 1;
        let socket = RtpSocket(self.sockets.insert(SocketEntry {
            call: handle,
            port,
            attempts: BIND_ATTEMPTS,
            leg: request.leg,
        }));
        let addr = SocketAddr::new(self.config.rtp_ip, port);
        self.events.push_back(HostEvent::BindRtp {
            socket,
            addr,
            rtcp: rtcp_of(addr),
        });
        let advertised = self.advertised_rtp(port);
        let session_id = self.rng.u64(1..u64::MAX >> 1);
        let sdp_offer = sip::build_offer_with(
            session_id,
            advertised.ip(),
            advertised.port(),
            &request.codecs,
            None,
        );
        let local = self.config.sip_advertised.unwrap_or(self.config.sip_addr);
        let credentials = match resolved.via_trunk {
            true => self
                .config
                .dial_trunk
                .as_ref()
                .and_then(|trunk| trunk.credentials.clone()),
            false => None,
        };
        let invite = sip::OutboundInvite {
            from: format!("<sip:{}@{local}>", clean_caller_id(&request.caller_id)),
            to: format!("<{}>", resolved.request_uri),
            request_uri: resolved.request_uri,
            dest: resolved.dest,
            route: Vec::new(),
            sdp_offer,
            credentials,
            extra_headers: Vec::new(),
        };
        self.next_leg_owner += 1;
        let owner = LEG_OWNER | self.next_leg_owner;
        let link = match resolved.via_trunk {
            true => self
                .config
                .dial_trunk
                .as_ref()
                .map_or(sip::Link::Udp, |trunk| trunk.link),
            false => sip::Link::Udp,
        };
        let dialog = self
            .dispatcher
            .place_call_over(now, invite, DialogOwner(owner), link);
        self.leg_owners.insert(owner, (handle, request.leg));
        let media = LegMedia {
            ssrc: self.rng.u32(..),
            initial_seq: self.rng.u16(..),
            initial_timestamp: self.rng.u32(..),
            rtcp_seed: self.rng.u64(..),
            jitter: self.config.jitter,
            ntp_at_zero: super::inbound::ntp_of(self.config.wall),
        };
        if let Some(entry) = self.calls.get_mut(handle.0) {
            entry.legs.push((request.leg, socket, owner));
            entry.call.leg_placed(now, request, dialog, media);
        }
    }

    fn refuse_leg(&mut self, handle: CallHandle, request: &LegRequest, why: String) {
        self.stats.legs_refused += 1;
        if let Some(entry) = self.calls.get_mut(handle.0) {
            entry.call.leg_refused(self.now, request, why);
        }
    }

    /// Gives the dialogs of a call's ended legs back to the dispatcher and
    /// closes their sockets.
    fn release_finished_legs(&mut self, handle: CallHandle) {
        loop {
            let Some(entry) = self.calls.get_mut(handle.0) else {
                return;
            };
            let Some((leg, dialog)) = entry.call.take_finished_leg() else {
                return;
            };
            let position = entry.legs.iter().position(|(id, _, _)| *id == leg);
            let sockets = position.map(|at| entry.legs.swap_remove(at));
            self.dispatcher.release(dialog);
            if let Some((_, socket, owner)) = sockets {
                self.close_leg_socket(socket, owner);
            }
        }
    }

    fn close_leg_socket(&mut self, socket: RtpSocket, owner: u64) {
        self.leg_owners.remove(&owner);
        if let Some(entry) = self.sockets.remove(socket.0) {
            self.ports.put(entry.port);
            self.events.push_back(HostEvent::CloseRtp { socket });
        }
    }
}

/// The RTP socket of one of a call's outbound legs.
fn leg_socket(entry: &CallEntry, leg: LegId) -> Option<RtpSocket> {
    entry
        .legs
        .iter()
        .find(|(id, _, _)| *id == leg)
        .map(|(_, socket, _)| *socket)
}

/// The log span of one call: its Call-ID and shard, on every line logged
/// while the host works on it (docs/operations.md, "Logs").
fn call_span(call_id: &crate::sip::CallId, shard: usize) -> tracing::Span {
    tracing::info_span!("call", call_id = %call_id, shard)
}

/// The RTCP address of an RTP address: the next port (RFC 3550 §11). The port
/// pool hands out even ports whose next one is in the range too.
fn rtcp_of(rtp: SocketAddr) -> SocketAddr {
    SocketAddr::new(rtp.ip(), rtp.port().saturating_add(1))
}

/// Copies a SIP datagram into the caller's buffer; one too large for it is
/// dropped with a log line (`buf` is sized for any UDP datagram).
fn sip_transmit(transmit: sip::Transmit, buf: &mut [u8]) -> Option<Transmit> {
    let len = transmit.payload.len();
    match buf.get_mut(..len) {
        Some(out) => {
            out.copy_from_slice(&transmit.payload);
            let socket = match transmit.link {
                sip::Link::Udp => Socket::Sip,
                sip::Link::Tcp(conn) => Socket::SipTcp(conn),
                sip::Link::Tls(conn) => Socket::SipTls(conn),
            };
            Some(Transmit {
                socket,
                dest: transmit.dest,
                len,
            })
        }
        None => {
            log::warn!(
                "SIP datagram of {len} bytes to {} does not fit the send buffer; dropped",
                transmit.dest
            );
            None
        }
    }
}
