//! One shard's thread: the loop that moves bytes between the backend's sockets
//! and the shard's [`Host`], and the clock into it.
//!
//! Each iteration: wait (for datagrams, a wake-up, or the host's next
//! deadline), feed each completion to the host as an [`Input`] and drain the
//! host after it, then feed the clock and drain again. Draining is
//! [`call::drain`](crate::call::drain) with this shell as its [`HostIo`]: SIP
//! and RTP datagrams go to the backend (which sends them at the next wait),
//! RTP sockets are bound and closed as the host asks, CDRs written, HTTP
//! requests handed to the worker pool.
//!
//! Sockets are found by dense index both ways: a backend [`Token`] names a
//! role (the SIP socket, the host's [`RtpSocket`] or its RTCP socket on the
//! next port), an [`RtpSocket`] names its two backend tokens. Every delivered receive slot is released exactly once,
//! after its bytes were fed; a completion whose token is no longer in the
//! table (its socket was closed earlier in the same batch) is dropped.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::call::{self, Host, HostEvent, HostIo, Input, RtpSocket, Transmit};
use crate::metrics::{Direction, ShardCounters, ShardSnapshot, PUBLISH_INTERVAL};
use crate::time::Time;

use super::backend::{Completion, IoBackend, Token, RTP_DATAGRAM, SIP_DATAGRAM};
use super::cdr_writer::CdrSink;
use super::clock::Clock;
use super::dispatch::owner_of;
use super::http::HttpPool;
use super::recording_writer::RecordingSink;
use super::tcp::{Received, Route, TcpSettings, TcpTransport};
use super::tls::TlsSettings;
use super::{ShardMsg, ShardPeer};

/// How many receives a SIP socket keeps in flight.
const SIP_RECV_DEPTH: usize = 32;
/// How many receives an RTP socket keeps in flight.
const RTP_RECV_DEPTH: usize = 2;
/// How long after its deadline a timer may fire: RTP leaves at most this much
/// late (well inside any receiver's jitter buffer), SIP and flow timers fire at
/// most this much late. Fewer wake-ups, larger send batches.
const TIMER_SLACK: Duration = Duration::from_millis(2);
/// How many completions a busy shard waits for before it wakes ahead of its
/// next timer: under load a wake-up then serves a batch of datagrams instead
/// of one (every `io_uring_enter` has a fixed cost in the kernel).
const WAKE_BATCH: usize = 64;
/// A shard whose next timer is at most this far away counts as busy: a
/// datagram then waits for that timer (plus the slack) at most.
const BATCH_HORIZON: Duration = Duration::from_millis(5);
/// How long a shutdown waits for calls to finish hanging up.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);
/// Rounds of handing undelivered requests back to the host per drain.
const UNDELIVERED_ROUNDS: usize = 4;

/// What a backend socket is for.
#[derive(Clone, Copy, Debug)]
enum Role {
    Sip,
    Rtp(RtpSocket),
    Rtcp(RtpSocket),
}

/// The shard's sockets, indexed both ways.
#[derive(Default)]
struct SocketTable {
    /// By backend token index: the token issued and what it is for.
    roles: Vec<Option<(Token, Role)>>,
    /// By host socket index: the host's name and the backend tokens of its RTP
    /// and RTCP sockets.
    rtp: Vec<Option<(RtpSocket, Token, Token)>>,
    sip: Option<Token>,
}

impl SocketTable {
    fn role(&self, token: Token) -> Option<Role> {
        match self.roles.get(token.index()) {
            Some(Some((issued, role))) if *issued == token => Some(*role),
            _ => None,
        }
    }

    /// The backend tokens of `socket`'s RTP and RTCP sockets.
    fn tokens_of(&self, socket: RtpSocket) -> Option<(Token, Token)> {
        match self.rtp.get(socket.index()) {
            Some(Some((named, rtp, rtcp))) if *named == socket => Some((*rtp, *rtcp)),
            _ => None,
        }
    }

    fn insert_sip(&mut self, token: Token) {
        put(&mut self.roles, token.index(), (token, Role::Sip));
        self.sip = Some(token);
    }

    fn insert_rtp(&mut self, socket: RtpSocket, rtp: Token, rtcp: Token) {
        put(&mut self.roles, rtp.index(), (rtp, Role::Rtp(socket)));
        put(&mut self.roles, rtcp.index(), (rtcp, Role::Rtcp(socket)));
        put(&mut self.rtp, socket.index(), (socket, rtp, rtcp));
    }

    fn remove_rtp(&mut self, socket: RtpSocket) -> Option<(Token, Token)> {
        let (rtp, rtcp) = self.tokens_of(socket)?;
        self.rtp[socket.index()] = None;
        for token in [rtp, rtcp] {
            if let Some(slot) = self.roles.get_mut(token.index()) {
                *slot = None;
            }
        }
        Some((rtp, rtcp))
    }
}

fn put<T>(table: &mut Vec<Option<T>>, index: usize, value: T) {
    if table.len() <= index {
        table.resize_with(index + 1, || None);
    }
    table[index] = Some(value);
}

/// Everything one shard owns.
pub(crate) struct ShardLoop {
    /// The shard's number (its core, with pinning).
    pub(crate) index: usize,
    /// The shard's calls.
    pub(crate) host: Host,
    /// The kernel interface: io_uring or epoll.
    pub(crate) backend: Box<dyn IoBackend>,
    /// The monotonic clock the host's time comes from.
    pub(crate) clock: Clock,
    /// Messages from other threads (forwarded SIP, HTTP answers, reloads, shutdown).
    pub(crate) inbox: Receiver<ShardMsg>,
    /// Every shard's inbox, for forwarding SIP to the Call-ID's owner.
    pub(crate) peers: Arc<Vec<ShardPeer>>,
    /// Where CDRs go.
    pub(crate) cdr: CdrSink,
    pub(crate) recordings: RecordingSink,
    /// The workers that perform flows' HTTP requests.
    pub(crate) http: HttpPool,
    /// The speech workers; `None`: no speech engine.
    pub(crate) speech: Option<crate::speech::SpeechPool>,
    /// The SIP address every shard binds with SO_REUSEPORT.
    pub(crate) sip_listen: SocketAddr,
    /// SIP over TCP on `sip_listen` too, with these settings.
    pub(crate) tcp_settings: Option<TcpSettings>,
    /// SIP over TLS on its own address, with these settings.
    pub(crate) tls_settings: Option<TlsSettings>,
    /// SIP datagrams dropped because the owner shard's inbox was full.
    pub(crate) forward_drops: u64,
    /// Shards whose shutdown has not drained yet. A drained shard goes on
    /// reading its sockets until this is zero: a response to another shard's
    /// BYE may arrive on its socket, to be forwarded.
    pub(crate) draining: Arc<AtomicUsize>,
    /// This shard's counters, read by `/metrics`.
    pub(crate) counters: Arc<ShardCounters>,
}

/// The loop's working state beside what it owns.
struct Running {
    sockets: SocketTable,
    /// The TCP listener and connections, when TCP is on.
    tcp: Option<TcpTransport>,
    /// Messages read from TCP, being fed.
    received: Vec<Received>,
    completions: Vec<Completion>,
    buf: Vec<u8>,
    deadline: Time,
    shutdown_at: Option<Time>,
    /// This shard's calls are drained (it counted itself out of `draining`).
    drained_here: bool,
}

/// Binds a UDP socket that shares its address with the other shards'.
pub fn bind_reuseport(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_port(true)?;
    socket.set_reuse_address(true)?;
    socket.set_recv_buffer_size(4 << 20).ok();
    socket.set_send_buffer_size(4 << 20).ok();
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

fn bind_rtp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_recv_buffer_size(256 << 10).ok();
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

impl ShardLoop {
    /// Runs until told to shut down and the calls have drained.
    pub(crate) fn run(mut self) -> io::Result<()> {
        let mut running = self.start()?;
        self.counters.set_running(true);
        let mut published = self.clock.now();
        let (mut woke, mut last_top) = (published, published);
        loop {
            let now = self.clock.now();
            self.counters.record_loop(now - woke, now - last_top);
            last_top = now;
            if now - published >= PUBLISH_INTERVAL {
                self.publish_counters();
                published = now;
            }
            if self.drained(&mut running, now) {
                break;
            }
            let tcp_deadline = running
                .tcp
                .as_ref()
                .map_or(Time::NEVER, TcpTransport::next_deadline);
            let deadline = running.deadline.min(tcp_deadline);
            match wait_for(deadline, now, running.shutdown_at.is_some()) {
                Some(timeout) if !timeout.is_zero() && timeout <= BATCH_HORIZON + TIMER_SLACK => {
                    self.backend
                        .wait_batch(timeout, WAKE_BATCH, &mut running.completions)?
                }
                timeout => self.backend.wait(timeout, &mut running.completions)?,
            }
            let now = self.clock.now();
            woke = now;
            self.feed_completions(now, &mut running);
            if let Some(tcp) = running.tcp.as_mut() {
                tcp.handle_timeout(now);
            }
            self.host.handle_input(now, Input::Timeout);
            self.drain(now, &mut running);
        }
        let stopped = self.stop(&mut running);
        self.publish_counters();
        self.counters.set_running(false);
        stopped
    }

    /// Copies the host's, SIP layer's and backend's counters for `/metrics`.
    fn publish_counters(&self) {
        let host = self.host.stats();
        let sip = self.host.sip_stats();
        let backend = self.backend.stats();
        self.counters.publish(&ShardSnapshot {
            calls_active: self.host.active_calls() as u64,
            calls_offered: host.calls_offered,
            calls_rejected: host.calls_rejected,
            retransmits_sent: sip.retransmits_sent,
            retransmits_absorbed: sip.request_retransmits_absorbed,
            drop_malformed_sip: sip.malformed_dropped,
            drop_unmatched_response: sip.unmatched_responses,
            drop_unmatched_ack: sip.unmatched_acks,
            drop_rtp_unknown_call: host.rtp_for_unknown_call,
            drop_inbox_full: self.forward_drops,
            drop_unknown_source: host.calls_from_unknown_sources,
            drop_source_rate: host.calls_over_source_rate,
            drop_after_close: backend.dropped_after_close,
            drop_truncated: backend.truncated,
            datagrams_received: backend.datagrams_received,
            datagrams_sent: backend.datagrams_sent,
            send_errors: backend.send_errors,
        });
    }

    /// Registers the SIP socket and logs the start.
    fn start(&mut self) -> io::Result<Running> {
        let sip_socket = bind_reuseport(self.sip_listen)?;
        let sip_token = self
            .backend
            .register(sip_socket, SIP_RECV_DEPTH, SIP_DATAGRAM)?;
        let mut sockets = SocketTable::default();
        sockets.insert_sip(sip_token);
        let tls = self.tls_settings.take();
        let tls_listen = tls.as_ref().map(|tls| tls.listen);
        let stream = self
            .tcp_settings
            .or_else(|| tls.as_ref().map(|tls| tls.stream));
        let tcp = match stream {
            Some(settings) => {
                let tcp_addr = self.tcp_settings.map(|_| self.sip_listen);
                let tcp = TcpTransport::listen(self.index, tcp_addr, settings, tls)?;
                self.backend.watch_readable(tcp.raw_fd())?;
                Some(tcp)
            }
            None => None,
        };
        log::info!(
            "shard {}: io backend: {}, SIP on {} (UDP{}){}",
            self.index,
            self.backend.name(),
            self.sip_listen,
            if self.tcp_settings.is_some() {
                ", TCP"
            } else {
                ""
            },
            tls_listen.map_or_else(String::new, |addr| format!(", TLS on {addr}"))
        );
        Ok(Running {
            sockets,
            tcp,
            received: Vec::new(),
            completions: Vec::with_capacity(256),
            buf: vec![0u8; SIP_DATAGRAM],
            // At once: the host gets a first input (and starts its registrations).
            deadline: Time::ZERO,
            shutdown_at: None,
            drained_here: false,
        })
    }

    /// Whether a shutdown has finished: this shard has no calls left and every
    /// BYE answered (or timed out), and so has every other shard (until then
    /// this one still forwards what reaches its sockets for them), or the
    /// drain limit passed.
    fn drained(&self, running: &mut Running, now: Time) -> bool {
        let Some(started) = running.shutdown_at else {
            return false;
        };
        let over = now - started > DRAIN_LIMIT;
        if !running.drained_here {
            let idle =
                self.host.active_calls() == 0 && self.host.dispatcher().dialogs_hanging_up() == 0;
            if !idle && !over {
                return false;
            }
            running.drained_here = true;
            self.draining.fetch_sub(1, Ordering::AcqRel);
        }
        over || self.draining.load(Ordering::Acquire) == 0
    }

    /// Feeds every completion of one wait to the host, draining after each.
    fn feed_completions(&mut self, now: Time, running: &mut Running) {
        let mut completions = std::mem::take(&mut running.completions);
        for completion in completions.drain(..) {
            match completion {
                Completion::Recv {
                    token,
                    from,
                    slot,
                    len,
                } => {
                    self.feed_datagram(now, running, token, from, slot, len);
                    self.backend.release(slot);
                }
                Completion::Wake => self.read_inbox(now, running),
                Completion::Ready => self.read_tcp(now, running),
            }
            self.drain(now, running);
        }
        running.completions = completions;
    }

    /// One received datagram: SIP to its owner shard, RTP to its call.
    fn feed_datagram(
        &mut self,
        now: Time,
        running: &Running,
        token: Token,
        from: SocketAddr,
        slot: usize,
        len: usize,
    ) {
        let data = self.backend.recv_data(slot, len);
        match running.sockets.role(token) {
            Some(Role::Sip) => {
                self.counters.count_sip(Direction::In, data);
                let owner = crate::sip::call_id_of(data)
                    .map(|id| owner_of(id, self.peers.len()))
                    .unwrap_or(self.index);
                if owner == self.index {
                    self.host.handle_input(now, Input::Sip { from, data });
                } else if let Some(peer) = self.peers.get(owner) {
                    let sent = peer.try_send(ShardMsg::Sip {
                        from,
                        data: data.to_vec(),
                    });
                    if !sent {
                        self.forward_drops += 1;
                    }
                }
            }
            Some(Role::Rtp(socket)) => {
                self.host
                    .handle_input(now, Input::Rtp { socket, from, data });
            }
            Some(Role::Rtcp(socket)) => {
                self.host
                    .handle_input(now, Input::Rtcp { socket, from, data });
            }
            // A late completion of a socket closed earlier in this batch.
            None => {}
        }
    }

    /// Serves the TCP connections: each message read goes to its Call-ID's
    /// owner, with its connection, and the host is drained after each.
    fn read_tcp(&mut self, now: Time, running: &mut Running) {
        let mut received = std::mem::take(&mut running.received);
        if let Some(tcp) = running.tcp.as_mut() {
            tcp.poll(now, &mut received);
        }
        for message in received.drain(..) {
            self.counters.count_sip(Direction::In, &message.data);
            let owner = crate::sip::call_id_of(&message.data)
                .map(|id| owner_of(id, self.peers.len()))
                .unwrap_or(self.index);
            if owner == self.index {
                let input = Input::SipStream {
                    from: message.from,
                    conn: message.conn,
                    tls: message.tls,
                    data: &message.data,
                };
                self.host.handle_input(now, input);
                self.drain(now, running);
            } else if let Some(peer) = self.peers.get(owner) {
                let sent = peer.try_send(ShardMsg::SipStream {
                    from: message.from,
                    conn: message.conn,
                    tls: message.tls,
                    data: message.data,
                });
                if !sent {
                    self.forward_drops += 1;
                }
            }
        }
        running.received = received;
    }

    /// Messages from other threads.
    fn read_inbox(&mut self, now: Time, running: &mut Running) {
        while let Ok(message) = self.inbox.try_recv() {
            match message {
                ShardMsg::Sip { from, data } => self
                    .host
                    .handle_input(now, Input::Sip { from, data: &data }),
                ShardMsg::SipStream {
                    from,
                    conn,
                    tls,
                    data,
                } => self.host.handle_input(
                    now,
                    Input::SipStream {
                        from,
                        conn,
                        tls,
                        data: &data,
                    },
                ),
                ShardMsg::TcpSend {
                    conn,
                    dest,
                    data,
                    response,
                    tls,
                } => {
                    if let Some(tcp) = running.tcp.as_mut() {
                        // Forwarded once at most: a reference naming yet
                        // another shard is not passed on.
                        let _ = tcp.send(now, Some(conn), dest, &data, response, tls);
                    }
                }
                ShardMsg::ConnInUse { conn, in_use } => {
                    if let Some(tcp) = running.tcp.as_mut() {
                        tcp.set_in_use(conn, in_use);
                    }
                }
                ShardMsg::Http { call, result } => {
                    self.host.handle_input(now, Input::Http { call, result })
                }
                ShardMsg::Speech { call, id, result } => self
                    .host
                    .handle_input(now, Input::Speech { call, id, result }),
                ShardMsg::Routes(router) => {
                    log::info!("shard {}: new routing table", self.index);
                    self.host.set_router(router)
                }
                ShardMsg::Command {
                    call_id,
                    command,
                    reply,
                } => {
                    let name = command.name();
                    let applied = self.host.handle_command(now, &call_id, command);
                    log::info!(
                        "shard {}: API {name} for call {call_id}: {}",
                        self.index,
                        match &applied {
                            Ok(()) => "applied".to_string(),
                            Err(refusal) => format!("refused ({refusal})"),
                        }
                    );
                    let _ = reply.send(applied);
                }
                ShardMsg::Calls { call_id, reply } => {
                    let calls = match call_id {
                        Some(id) => self.host.snapshot(&id).into_iter().collect(),
                        None => self.host.snapshots(),
                    };
                    let _ = reply.send(calls);
                }
                ShardMsg::Shutdown => {
                    if running.shutdown_at.is_none() {
                        log::info!(
                            "shard {}: shutting down, {} call(s) to drain",
                            self.index,
                            self.host.active_calls()
                        );
                        running.shutdown_at = Some(now);
                        self.host.handle_input(now, Input::Shutdown);
                    }
                }
            }
            self.drain(now, running);
        }
    }

    /// Moves everything the host wants done into the backend and the workers;
    /// requests the stream transport could not deliver go back to the host
    /// (their transactions end at once) and what that makes is moved too.
    fn drain(&mut self, now: Time, running: &mut Running) {
        self.drain_host(now, running);
        // Bounded: an undelivered request's 503 makes at most an ACK, which
        // is dropped when it cannot be delivered either.
        for _ in 0..UNDELIVERED_ROUNDS {
            let undelivered = match running.tcp.as_mut() {
                Some(tcp) => tcp.take_undelivered(),
                None => return,
            };
            if undelivered.is_empty() {
                return;
            }
            for failed in &undelivered {
                let input = Input::SipUndelivered {
                    dest: failed.dest,
                    tls: failed.tls,
                    data: &failed.data,
                };
                self.host.handle_input(now, input);
            }
            self.drain_host(now, running);
        }
    }

    fn drain_host(&mut self, now: Time, running: &mut Running) {
        let reply_to = self.peers.get(self.index).cloned();
        let mut io = ShellIo {
            index: self.index,
            now,
            backend: self.backend.as_mut(),
            sockets: &mut running.sockets,
            tcp: running.tcp.as_mut(),
            peers: &self.peers,
            cdr: &self.cdr,
            recordings: &self.recordings,
            http: &self.http,
            speech: self.speech.as_ref(),
            reply_to,
            counters: &self.counters,
        };
        running.deadline = call::drain(&mut self.host, now, &mut running.buf, &mut io);
    }

    /// Lets the last datagrams leave and logs the counters.
    fn stop(&mut self, running: &mut Running) -> io::Result<()> {
        self.backend
            .wait(Some(Duration::ZERO), &mut running.completions)?;
        let sip = self.host.sip_stats();
        let stats = self.backend.stats();
        if let Some(tcp) = running.tcp.as_ref() {
            log::info!(
                "shard {}: TCP: {} connection(s) open; {:?}",
                self.index,
                tcp.connections(),
                tcp.stats()
            );
        }
        log::info!(
            "shard {}: stopped; datagrams in {} out {}, syscalls {}, forward drops {}; calls {:?}; SIP {:?}",
            self.index,
            stats.datagrams_received,
            stats.datagrams_sent,
            stats.syscalls,
            self.forward_drops,
            self.host.stats(),
            sip
        );
        let trunks = self.host.trunk_states();
        if !trunks.is_empty() {
            log::info!(
                "shard {}: trunks {:?}; keepalives {:?}",
                self.index,
                trunks,
                self.host.keepalive_stats()
            );
        }
        Ok(())
    }
}

/// How long to wait for a deadline: up to the slack after it, so one wake-up
/// serves every call whose 20 ms grid (each has its own phase) comes due
/// meanwhile; the cores still see the real clock.
fn wait_for(deadline: Time, now: Time, shutting_down: bool) -> Option<Duration> {
    // While shutting down, wake at least every 50 ms to see whether the other
    // shards have drained.
    let cap = shutting_down.then_some(Duration::from_millis(50));
    if deadline == Time::NEVER {
        return cap;
    }
    let timeout = if deadline > now {
        deadline - now + TIMER_SLACK
    } else {
        Duration::ZERO
    };
    Some(cap.map_or(timeout, |cap| cap.min(timeout)))
}

/// The shell as the host's drain loop sees it.
struct ShellIo<'a> {
    index: usize,
    now: Time,
    backend: &'a mut dyn IoBackend,
    sockets: &'a mut SocketTable,
    tcp: Option<&'a mut TcpTransport>,
    peers: &'a [ShardPeer],
    cdr: &'a CdrSink,
    recordings: &'a RecordingSink,
    http: &'a HttpPool,
    speech: Option<&'a crate::speech::SpeechPool>,
    reply_to: Option<ShardPeer>,
    counters: &'a ShardCounters,
}

impl ShellIo<'_> {
    /// Binds a media socket on `addr` and registers it with the backend.
    fn bind(&mut self, addr: SocketAddr) -> io::Result<Token> {
        bind_rtp(addr).and_then(|udp| self.backend.register(udp, RTP_RECV_DEPTH, RTP_DATAGRAM))
    }
}

impl ShellIo<'_> {
    /// A SIP message for TCP: written here, or handed to the shard holding
    /// its connection; dropped when TCP is off.
    fn send_tcp(
        &mut self,
        hint: Option<crate::sip::ConnRef>,
        dest: SocketAddr,
        data: &[u8],
        tls: bool,
    ) {
        let Some(tcp) = self.tcp.as_deref_mut() else {
            return;
        };
        let response = data.starts_with(b"SIP/2.0 ");
        if let Route::Forward(owner) = tcp.send(self.now, hint, dest, data, response, tls) {
            if let (Some(peer), Some(conn)) = (self.peers.get(owner), hint) {
                let sent = peer.try_send(ShardMsg::TcpSend {
                    conn,
                    dest,
                    data: data.to_vec(),
                    response,
                    tls,
                });
                if !sent {
                    log::debug!(
                        "shard {}: inbox of shard {owner} full; TCP message dropped",
                        self.index
                    );
                }
            }
        }
    }
}

impl HostIo for ShellIo<'_> {
    fn transmit(&mut self, transmit: Transmit, data: &[u8]) {
        if matches!(
            transmit.socket,
            call::Socket::Sip | call::Socket::SipTcp(_) | call::Socket::SipTls(_)
        ) {
            self.counters.count_sip(Direction::Out, data);
        }
        let token = match transmit.socket {
            call::Socket::SipTcp(hint) => {
                self.send_tcp(hint, transmit.dest, data, false);
                return;
            }
            call::Socket::SipTls(hint) => {
                self.send_tcp(hint, transmit.dest, data, true);
                return;
            }
            call::Socket::Sip => self.sockets.sip,
            call::Socket::Rtp(socket) => self.sockets.tokens_of(socket).map(|(rtp, _)| rtp),
            call::Socket::Rtcp(socket) => self.sockets.tokens_of(socket).map(|(_, rtcp)| rtcp),
        };
        if let Some(token) = token {
            self.backend.send(token, transmit.dest, data);
        }
    }

    fn event(&mut self, event: HostEvent) -> Option<Input<'static>> {
        match event {
            HostEvent::BindRtp { socket, addr, rtcp } => {
                let rtp_token = match self.bind(addr) {
                    Ok(token) => token,
                    Err(err) => {
                        log::debug!("shard {}: cannot bind RTP on {addr}: {err}", self.index);
                        return Some(Input::BindFailed { socket });
                    }
                };
                match self.bind(rtcp) {
                    Ok(rtcp_token) => {
                        self.sockets.insert_rtp(socket, rtp_token, rtcp_token);
                        None
                    }
                    Err(err) => {
                        log::debug!("shard {}: cannot bind RTCP on {rtcp}: {err}", self.index);
                        self.backend.close(rtp_token);
                        Some(Input::BindFailed { socket })
                    }
                }
            }
            HostEvent::CloseRtp { socket } => {
                if let Some((rtp, rtcp)) = self.sockets.remove_rtp(socket) {
                    self.backend.close(rtp);
                    self.backend.close(rtcp);
                }
                None
            }
            HostEvent::ConnInUse { conn, in_use } => {
                if TcpTransport::shard_of(conn) == self.index {
                    if let Some(tcp) = self.tcp.as_deref_mut() {
                        tcp.set_in_use(conn, in_use);
                    }
                } else if let Some(peer) = self.peers.get(TcpTransport::shard_of(conn)) {
                    peer.send(ShardMsg::ConnInUse { conn, in_use });
                }
                None
            }
            HostEvent::Cdr(record) => {
                self.counters.record_call(&record);
                self.cdr.write(&record);
                None
            }
            HostEvent::Recording(work) => {
                self.recordings.submit(work);
                None
            }
            HostEvent::Http {
                call,
                request,
                reply,
            } => {
                let reply_to = reply.then(|| self.reply_to.clone()).flatten();
                self.http.submit(call, request, reply_to);
                None
            }
            HostEvent::Speech { call, request } => {
                super::speech::submit(self.speech, call, request, self.reply_to.clone())
            }
        }
    }
}
