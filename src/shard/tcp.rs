//! SIP over TCP in the shell: one shard's listening socket and connections.
//!
//! Every shard listens on the SIP address with SO_REUSEPORT, so the kernel
//! spreads new connections over the shards; a connection lives on the shard
//! that accepted (or opened) it. Its sockets are non-blocking and watched by
//! an epoll instance of this module's own; the backend watches that one
//! descriptor ([`IoBackend::watch_readable`](super::IoBackend::watch_readable))
//! and reports [`Completion::Ready`](super::Completion::Ready), on io_uring as
//! on epoll, so both loops serve TCP through readiness.
//!
//! Bytes read go through the connection's [`StreamFramer`]; complete messages
//! are returned to the loop with the connection's [`ConnRef`] (the shard's
//! number, the table slot and its generation), which is how a message another
//! shard owns finds its way back. Writes go out at once; what the kernel does
//! not take waits in a bounded buffer for writability.
//!
//! Bounds: at most `max_connections` per shard (further accepts are closed at
//! once, counted), the framer's head and body limits (the connection is
//! closed, counted per reason), and `MAX_PENDING_WRITE` bytes unsent per
//! connection. A connection with no traffic for `idle` is closed unless a call
//! still uses it ([`TcpTransport::set_in_use`]); idleness sits in a deadline
//! queue, so a wake-up costs only what is due.
//!
//! TLS shares the connection table (`tls.rs`): a second listener, and a
//! rustls session between the socket and the framer of each TLS connection;
//! its messages reach the host marked TLS, and a message for TLS leaves only
//! on a TLS connection (a new one is a TLS client). A handshake that fails
//! (a plain TCP client on the TLS port, a certificate that does not verify)
//! closes the connection, counted; one not done within the handshake
//! timeout too.
//!
//! A response whose connection is gone goes on a new connection to the top
//! Via's sent-by (RFC 3261 §18.2.2, [`reconnect_target`]).
//!
//! Requests written to a connection of ours that never comes up (refused,
//! reset, its TLS handshake failed or overdue) are kept until it does, and
//! handed back as [`Undelivered`] when it fails — as are requests whose
//! connection could not even be started — so the SIP core can end their
//! transactions at once (RFC 3261 §8.1.3.1) instead of at Timer B or F.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use rustls::Connection;

use super::tls::{self, TlsSettings};
use crate::deadlines::DeadlineQueue;
use crate::sip::stream::{reconnect_target, Framed, StreamError, StreamFramer, StreamLimits, PONG};
use crate::sip::ConnRef;
use crate::time::Time;

/// Unsent bytes one connection may hold before it is closed as stuck.
const MAX_PENDING_WRITE: usize = 1 << 20;
/// Bytes read per call; a readable connection is read at most `READS_PER_EVENT`
/// times per wake-up (level-triggered: the rest comes at the next one).
const READ_CHUNK: usize = 16 * 1024;
const READS_PER_EVENT: usize = 4;
const LISTENER_KEY: u64 = u64::MAX;
const TLS_LISTENER_KEY: u64 = u64::MAX - 1;
const MAX_EVENTS: usize = 64;

/// Settings of SIP over TCP.
#[derive(Clone, Copy, Debug)]
pub struct TcpSettings {
    /// Connections one shard holds at most (accepted and opened).
    pub max_connections: usize,
    /// A connection without traffic this long is closed (unless in use).
    pub idle: Duration,
    /// The framer's bounds.
    pub limits: StreamLimits,
}

/// Counters of one shard's TCP transport.
#[derive(Clone, Copy, Debug, Default)]
pub struct TcpStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections refused (accepted and closed, or not opened) at the limit.
    pub refused_over_limit: u64,
    /// Connections we opened that completed.
    pub connected: u64,
    /// Connections we tried to open that failed.
    pub connect_failures: u64,
    /// Connections the peer closed (or that failed on read or write).
    pub closed_by_peer: u64,
    /// Connections closed for idleness.
    pub closed_idle: u64,
    /// Connections closed because their bytes could not be framed (all reasons).
    pub framing_errors: u64,
    /// … of which a head over the limit.
    pub head_too_long: u64,
    /// … of which a Content-Length over the limit.
    pub body_too_long: u64,
    /// … of which a message without Content-Length.
    pub missing_content_length: u64,
    /// … of which a malformed Content-Length.
    pub bad_content_length: u64,
    /// Connections closed because too much waited unsent.
    pub write_overflows: u64,
    /// SIP messages framed.
    pub messages_in: u64,
    /// SIP messages written (or queued).
    pub messages_out: u64,
    /// Keep-alive pings answered.
    pub pings_answered: u64,
    /// Responses whose connection was gone and whose Via named no address
    /// to reconnect to (or the new connection could not be opened).
    pub responses_without_connection: u64,
    /// Responses whose connection was gone, sent on a new connection to the
    /// top Via's sent-by (§18.2.2).
    pub responses_reconnected: u64,
    /// TLS connections accepted.
    pub tls_accepted: u64,
    /// TLS handshakes completed (accepted and opened).
    pub tls_handshakes: u64,
    /// TLS connections closed on a TLS error: a failed handshake (a peer
    /// that does not speak TLS, a certificate that does not verify) or a
    /// corrupt record.
    pub tls_errors: u64,
    /// TLS handshakes abandoned at the handshake timeout.
    pub tls_handshake_timeouts: u64,
    /// TLS messages to a peer we have no connection to, not sent: no
    /// `tls_ca` to verify a server with.
    pub tls_no_client_config: u64,
}

/// One message framed out of a connection.
pub(crate) struct Received {
    pub(crate) conn: ConnRef,
    pub(crate) tls: bool,
    pub(crate) from: SocketAddr,
    pub(crate) data: Vec<u8>,
}

/// A request that never left: its connection failed before it came up.
pub(crate) struct Undelivered {
    /// Where it was going.
    pub(crate) dest: SocketAddr,
    /// Over TLS.
    pub(crate) tls: bool,
    /// The whole message.
    pub(crate) data: Vec<u8>,
}

/// Where a message for a connection must be written.
pub(crate) enum Route {
    /// Written (or queued) here.
    Done,
    /// The connection belongs to this other shard: forward it there.
    Forward(usize),
}

struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    framer: StreamFramer,
    pending: Vec<u8>,
    connecting: bool,
    writable_armed: bool,
    last_active: Time,
    idle_scheduled: bool,
    in_use: u32,
    /// The TLS session of a TLS connection.
    tls: Option<Box<Connection>>,
    /// Its handshake completed (and was counted).
    handshaken: bool,
    /// Requests written before the connection came up (connected and, for
    /// TLS, handshaken): handed back as [`Undelivered`] if it never does.
    unconfirmed: Vec<Vec<u8>>,
}

impl Conn {
    /// Connected, and past the TLS handshake where there is one.
    fn is_up(&self) -> bool {
        !self.connecting && (self.tls.is_none() || self.handshaken)
    }
}

/// One shard's TCP listener and connections.
pub(crate) struct TcpTransport {
    shard: usize,
    settings: TcpSettings,
    epfd: OwnedFd,
    listener: Option<TcpListener>,
    tls_listener: Option<TcpListener>,
    tls: Option<TlsSettings>,
    conns: Vec<Option<Conn>>,
    generations: Vec<u32>,
    free: Vec<usize>,
    /// Open connections by peer and whether they are TLS.
    by_peer: HashMap<(SocketAddr, bool), usize>,
    idle: DeadlineQueue<usize>,
    /// Handshake deadlines of TLS connections: slot and generation.
    handshakes: DeadlineQueue<(usize, u32)>,
    events: Vec<libc::epoll_event>,
    stats: TcpStats,
    /// Requests whose connection failed before it came up, for
    /// [`TcpTransport::take_undelivered`].
    undelivered: Vec<Undelivered>,
}

impl TcpTransport {
    /// Listens on `addr` (TCP, when given) and on the TLS address (when
    /// `tls`), each shared with the other shards, for shard `shard`.
    pub(crate) fn listen(
        shard: usize,
        addr: Option<SocketAddr>,
        settings: TcpSettings,
        tls: Option<TlsSettings>,
    ) -> io::Result<TcpTransport> {
        let listener = addr.map(listen_on).transpose()?;
        let tls_listener = tls.as_ref().map(|tls| listen_on(tls.listen)).transpose()?;
        // SAFETY: plain syscall; the descriptor is owned below.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor nobody else owns.
        let epfd = unsafe { OwnedFd::from_raw_fd(fd) };
        let transport = TcpTransport {
            shard,
            settings,
            epfd,
            listener,
            tls_listener,
            tls,
            conns: Vec::new(),
            generations: Vec::new(),
            free: Vec::new(),
            by_peer: HashMap::new(),
            idle: DeadlineQueue::new(),
            handshakes: DeadlineQueue::new(),
            events: vec![libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS],
            stats: TcpStats::default(),
            undelivered: Vec::new(),
        };
        for (listener, key) in [
            (&transport.listener, LISTENER_KEY),
            (&transport.tls_listener, TLS_LISTENER_KEY),
        ] {
            if let Some(listener) = listener {
                transport.ctl(
                    libc::EPOLL_CTL_ADD,
                    listener.as_raw_fd(),
                    libc::EPOLLIN as u32,
                    key,
                )?;
            }
        }
        Ok(transport)
    }

    /// The descriptor the backend watches: readable when anything is ready.
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.epfd.as_raw_fd()
    }

    /// Counters.
    pub(crate) fn stats(&self) -> TcpStats {
        self.stats
    }

    /// Open connections.
    pub(crate) fn connections(&self) -> usize {
        self.by_peer.len()
    }

    /// The next idle check.
    pub(crate) fn next_deadline(&self) -> Time {
        let idle = self.idle.next().unwrap_or(Time::NEVER);
        idle.min(self.handshakes.next().unwrap_or(Time::NEVER))
    }

    /// The shard a connection reference belongs to.
    pub(crate) fn shard_of(conn: ConnRef) -> usize {
        (conn.0 >> 48) as usize
    }

    fn conn_ref(&self, index: usize) -> ConnRef {
        let generation = self.generations.get(index).copied().unwrap_or(0);
        ConnRef(
            ((self.shard as u64 & 0xFFFF) << 48)
                | ((u64::from(generation) & 0xFF_FFFF) << 24)
                | (index as u64 & 0xFF_FFFF),
        )
    }

    /// The slot of a live connection of this shard.
    fn index_of(&self, conn: ConnRef) -> Option<usize> {
        if Self::shard_of(conn) != self.shard {
            return None;
        }
        let index = (conn.0 & 0xFF_FFFF) as usize;
        let generation = ((conn.0 >> 24) & 0xFF_FFFF) as u32;
        let live = self.conns.get(index).is_some_and(Option::is_some);
        let current = self.generations.get(index).map(|g| g & 0xFF_FFFF);
        (live && current == Some(generation)).then_some(index)
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, key: u64) -> io::Result<()> {
        let mut event = libc::epoll_event { events, u64: key };
        // SAFETY: valid epoll fd, a valid event struct.
        let rc = unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), op, fd, &mut event) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Serves whatever is ready (accepts, reads, writes) and returns the
    /// messages read, in order per connection.
    pub(crate) fn poll(&mut self, now: Time, out: &mut Vec<Received>) {
        loop {
            // SAFETY: the events buffer holds MAX_EVENTS entries.
            let n = unsafe {
                libc::epoll_wait(
                    self.epfd.as_raw_fd(),
                    self.events.as_mut_ptr(),
                    MAX_EVENTS as i32,
                    0,
                )
            };
            if n <= 0 {
                return;
            }
            for i in 0..n as usize {
                let (key, flags) = match self.events.get(i) {
                    Some(event) => (event.u64, event.events),
                    None => continue,
                };
                if key == LISTENER_KEY || key == TLS_LISTENER_KEY {
                    self.accept_all(now, key == TLS_LISTENER_KEY);
                    continue;
                }
                let index = key as usize;
                if flags & libc::EPOLLOUT as u32 != 0 {
                    self.on_writable(index);
                }
                if flags & (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0 {
                    self.on_readable(now, index, out);
                }
            }
            if (n as usize) < MAX_EVENTS {
                return;
            }
        }
    }

    fn accept_all(&mut self, now: Time, tls: bool) {
        loop {
            let listener = match tls {
                true => self.tls_listener.as_ref(),
                false => self.listener.as_ref(),
            };
            let Some(listener) = listener else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => {
                    if self.by_peer.len() >= self.settings.max_connections {
                        self.stats.refused_over_limit += 1;
                        drop(stream);
                        continue;
                    }
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    stream.set_nodelay(true).ok();
                    self.stats.accepted += 1;
                    let session = match (tls, self.tls.as_ref()) {
                        (true, Some(settings)) => match tls::accept(settings) {
                            Some(session) => Some(Box::new(session)),
                            None => continue,
                        },
                        _ => None,
                    };
                    if session.is_some() {
                        self.stats.tls_accepted += 1;
                    }
                    self.insert(now, stream, peer, false, session);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
    }

    fn insert(
        &mut self,
        now: Time,
        stream: TcpStream,
        peer: SocketAddr,
        connecting: bool,
        session: Option<Box<Connection>>,
    ) -> usize {
        let index = self.free.pop().unwrap_or_else(|| {
            self.conns.push(None);
            self.generations.push(0);
            self.conns.len() - 1
        });
        let fd = stream.as_raw_fd();
        let mut conn = Conn {
            stream,
            peer,
            framer: StreamFramer::new(self.settings.limits),
            pending: Vec::new(),
            connecting,
            writable_armed: connecting,
            last_active: now,
            idle_scheduled: true,
            in_use: 0,
            tls: session,
            handshaken: false,
            unconfirmed: Vec::new(),
        };
        let tls = conn.tls.is_some();
        let mut events = libc::EPOLLIN as u32;
        if connecting {
            events |= libc::EPOLLOUT as u32;
        }
        if self
            .ctl(libc::EPOLL_CTL_ADD, fd, events, index as u64)
            .is_err()
        {
            conn.idle_scheduled = false;
            self.free.push(index);
            return index;
        }
        if let Some(slot) = self.conns.get_mut(index) {
            *slot = Some(conn);
        }
        if let Some(old) = self.by_peer.insert((peer, tls), index) {
            // Two connections to one address: the newer one is used.
            let _ = old;
        }
        self.idle.push(now + self.settings.idle, index);
        if let (true, Some(settings)) = (tls, self.tls.as_ref()) {
            let generation = self.generations.get(index).copied().unwrap_or(0);
            self.handshakes
                .push(now + settings.handshake, (index, generation));
        }
        index
    }

    fn on_readable(&mut self, now: Time, index: usize, out: &mut Vec<Received>) {
        let conn_ref = self.conn_ref(index);
        let mut buf = [0u8; READ_CHUNK];
        let mut plain = [0u8; READ_CHUNK];
        let mut close: Option<Close> = None;
        let mut framed = Framing::default();
        let mut handshaken = false;
        {
            let Some(Some(conn)) = self.conns.get_mut(index) else {
                return;
            };
            let peer = conn.peer;
            let tls = conn.tls.is_some();
            let mut sink = |framer: &mut StreamFramer, bytes: &[u8], framed: &mut Framing| {
                framed.push(framer, bytes, |message| {
                    out.push(Received {
                        conn: conn_ref,
                        tls,
                        from: peer,
                        data: message.to_vec(),
                    })
                })
            };
            for _ in 0..READS_PER_EVENT {
                let n = match conn.stream.read(&mut buf) {
                    Ok(0) => {
                        close = Some(Close::Peer);
                        break;
                    }
                    Ok(n) => n,
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        close = Some(Close::Peer);
                        break;
                    }
                };
                conn.last_active = now;
                let failed = match conn.tls.as_deref_mut() {
                    None => sink(&mut conn.framer, &buf[..n], &mut framed).map(Close::Framing),
                    Some(session) => {
                        let mut feed = |bytes: &[u8], framed: &mut Framing| {
                            sink(&mut conn.framer, bytes, framed)
                        };
                        feed_tls(session, &buf[..n], &mut plain, &mut framed, &mut feed)
                    }
                };
                if let Some(session) = conn.tls.as_deref_mut() {
                    if !conn.handshaken && !session.is_handshaking() {
                        conn.handshaken = true;
                        handshaken = true;
                        conn.unconfirmed = Vec::new();
                    }
                    // Handshake messages, alerts (a failed handshake's too).
                    while session.wants_write() {
                        if session.write_tls(&mut conn.pending).is_err() {
                            break;
                        }
                    }
                }
                if let Some(reason) = failed {
                    close = Some(reason);
                    break;
                }
                if n < buf.len() {
                    break;
                }
            }
        }
        if handshaken {
            self.stats.tls_handshakes += 1;
        }
        self.stats.messages_in += framed.messages;
        for _ in 0..framed.pongs {
            self.stats.pings_answered += 1;
            self.write(index, PONG);
        }
        // What the session queued (the handshake's flight, an alert) leaves now.
        self.flush(index);
        match close {
            Some(Close::Peer) => {
                self.stats.closed_by_peer += 1;
                self.close(index);
            }
            Some(Close::Tls(error)) => {
                self.stats.tls_errors += 1;
                log::info!(
                    "shard {}: TLS with {}: {error}; closing",
                    self.shard,
                    self.peer_of(index)
                        .map_or_else(String::new, |p| p.to_string())
                );
                self.close(index);
            }
            Some(Close::Framing(error)) => {
                self.stats.framing_errors += 1;
                match error {
                    StreamError::HeadTooLong => self.stats.head_too_long += 1,
                    StreamError::BodyTooLong => self.stats.body_too_long += 1,
                    StreamError::MissingContentLength => self.stats.missing_content_length += 1,
                    StreamError::BadContentLength => self.stats.bad_content_length += 1,
                }
                log::debug!("shard {}: TCP framing error ({error}); closing", self.shard);
                self.close(index);
            }
            None => {}
        }
    }

    fn peer_of(&self, index: usize) -> Option<SocketAddr> {
        match self.conns.get(index) {
            Some(Some(conn)) => Some(conn.peer),
            _ => None,
        }
    }

    fn on_writable(&mut self, index: usize) {
        let Some(Some(conn)) = self.conns.get_mut(index) else {
            return;
        };
        if conn.connecting {
            match conn.stream.take_error() {
                Ok(None) => {
                    conn.connecting = false;
                    self.stats.connected += 1;
                    if conn.is_up() {
                        conn.unconfirmed = Vec::new();
                    }
                }
                _ => {
                    self.stats.connect_failures += 1;
                    self.close(index);
                    return;
                }
            }
        }
        self.flush(index);
    }

    /// Writes what waits; re-arms or drops the interest in writability.
    fn flush(&mut self, index: usize) {
        let Some(Some(conn)) = self.conns.get_mut(index) else {
            return;
        };
        if conn.connecting {
            return;
        }
        let mut failed = false;
        while !conn.pending.is_empty() {
            match conn.stream.write(&conn.pending) {
                Ok(0) => {
                    failed = true;
                    break;
                }
                Ok(n) => {
                    conn.pending.drain(..n);
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            self.stats.closed_by_peer += 1;
            self.close(index);
            return;
        }
        let want = !conn.pending.is_empty();
        if want != conn.writable_armed {
            conn.writable_armed = want;
            let fd = conn.stream.as_raw_fd();
            let mut events = libc::EPOLLIN as u32;
            if want {
                events |= libc::EPOLLOUT as u32;
            }
            let _ = self.ctl(libc::EPOLL_CTL_MOD, fd, events, index as u64);
        }
    }

    /// Queues `data` on connection `index` and writes what the kernel takes.
    fn write(&mut self, index: usize, data: &[u8]) {
        let Some(Some(conn)) = self.conns.get_mut(index) else {
            return;
        };
        if conn.pending.len() + data.len() > MAX_PENDING_WRITE {
            self.stats.write_overflows += 1;
            self.close(index);
            return;
        }
        match conn.tls.as_deref_mut() {
            // Before the handshake completes the session holds the
            // plaintext, and seals it once it can.
            Some(session) => {
                if session.writer().write_all(data).is_err() {
                    self.stats.write_overflows += 1;
                    self.close(index);
                    return;
                }
                while session.wants_write() {
                    if session.write_tls(&mut conn.pending).is_err() {
                        break;
                    }
                }
            }
            None => conn.pending.extend_from_slice(data),
        }
        self.flush(index);
    }

    /// Sends one SIP message over TCP (or TLS, `tls`): on `hint` when it is
    /// this shard's, open, of that transport and connected to `dest`; else
    /// on any open connection of it to `dest`; else on a new connection: to
    /// `dest` for a request, to the top Via's sent-by for a response
    /// (§18.2.2; one naming no address is dropped and counted).
    pub(crate) fn send(
        &mut self,
        now: Time,
        hint: Option<ConnRef>,
        dest: SocketAddr,
        data: &[u8],
        response: bool,
        tls: bool,
    ) -> Route {
        if let Some(conn) = hint {
            let owner = Self::shard_of(conn);
            if owner != self.shard {
                return Route::Forward(owner);
            }
        }
        let hinted = hint.and_then(|conn| self.index_of(conn)).filter(|&index| {
            matches!(self.conns.get(index),
                    Some(Some(c)) if c.peer == dest && c.tls.is_some() == tls)
        });
        let index = match hinted.or_else(|| self.by_peer.get(&(dest, tls)).copied()) {
            Some(index) => index,
            None if response => {
                let target = reconnect_target(data);
                let open = target.and_then(|target| {
                    self.by_peer
                        .get(&(target, tls))
                        .copied()
                        .or_else(|| self.connect(now, target, tls))
                });
                match open {
                    Some(index) => {
                        self.stats.responses_reconnected += 1;
                        index
                    }
                    None => {
                        self.stats.responses_without_connection += 1;
                        return Route::Done;
                    }
                }
            }
            None => match self.connect(now, dest, tls) {
                Some(index) => index,
                None => {
                    self.undelivered.push(Undelivered {
                        dest,
                        tls,
                        data: data.to_vec(),
                    });
                    return Route::Done;
                }
            },
        };
        if let Some(Some(conn)) = self.conns.get_mut(index) {
            conn.last_active = now;
            if !response && !conn.is_up() {
                conn.unconfirmed.push(data.to_vec());
            }
        }
        self.stats.messages_out += 1;
        self.write(index, data);
        Route::Done
    }

    fn connect(&mut self, now: Time, dest: SocketAddr, tls: bool) -> Option<usize> {
        if self.by_peer.len() >= self.settings.max_connections {
            self.stats.refused_over_limit += 1;
            return None;
        }
        let session = match (tls, self.tls.as_ref()) {
            (false, _) => None,
            (true, settings) => match settings.and_then(|settings| tls::connect(settings, dest)) {
                Some(session) => Some(Box::new(session)),
                None => {
                    self.stats.tls_no_client_config += 1;
                    log::warn!(
                        "shard {}: no TLS client configuration (sip.tls_ca) to reach {dest}",
                        self.shard
                    );
                    return None;
                }
            },
        };
        let attempt = || -> io::Result<TcpStream> {
            let socket = Socket::new(Domain::for_address(dest), Type::STREAM, Some(Protocol::TCP))?;
            socket.set_nonblocking(true)?;
            socket.set_nodelay(true).ok();
            match socket.connect(&dest.into()) {
                Ok(()) => {}
                Err(err) if err.raw_os_error() == Some(libc::EINPROGRESS) => {}
                Err(err) => return Err(err),
            }
            Ok(socket.into())
        };
        match attempt() {
            Ok(stream) => Some(self.insert(now, stream, dest, true, session)),
            Err(err) => {
                log::debug!("shard {}: cannot connect to {dest}: {err}", self.shard);
                self.stats.connect_failures += 1;
                None
            }
        }
    }

    /// The requests that never left since the last call (their connection
    /// failed before it came up, or could not be started).
    pub(crate) fn take_undelivered(&mut self) -> Vec<Undelivered> {
        std::mem::take(&mut self.undelivered)
    }

    /// A call started or stopped using `conn` (this shard's).
    pub(crate) fn set_in_use(&mut self, conn: ConnRef, in_use: bool) {
        let Some(index) = self.index_of(conn) else {
            return;
        };
        if let Some(Some(conn)) = self.conns.get_mut(index) {
            conn.in_use = if in_use {
                conn.in_use.saturating_add(1)
            } else {
                conn.in_use.saturating_sub(1)
            };
        }
    }

    /// Closes connections idle past the limit and not in use, and TLS
    /// connections whose handshake is overdue.
    pub(crate) fn handle_timeout(&mut self, now: Time) {
        while let Some((_, (index, generation))) = self.handshakes.pop_due(now) {
            if self.generations.get(index) != Some(&generation) {
                continue;
            }
            let overdue = matches!(self.conns.get(index), Some(Some(c)) if !c.handshaken);
            if overdue {
                self.stats.tls_handshake_timeouts += 1;
                log::info!(
                    "shard {}: TLS handshake with {} not done in time; closing",
                    self.shard,
                    self.peer_of(index)
                        .map_or_else(String::new, |p| p.to_string())
                );
                self.close(index);
            }
        }
        while let Some((_, index)) = self.idle.pop_due(now) {
            let idle = self.settings.idle;
            let Some(Some(conn)) = self.conns.get_mut(index) else {
                continue;
            };
            if !conn.idle_scheduled {
                continue;
            }
            let expires = conn.last_active + idle;
            if expires > now {
                self.idle.push(expires, index);
            } else if conn.in_use > 0 {
                conn.last_active = now;
                self.idle.push(now + idle, index);
            } else {
                self.stats.closed_idle += 1;
                self.close(index);
            }
        }
    }

    fn close(&mut self, index: usize) {
        let Some(conn) = self.conns.get_mut(index).and_then(Option::take) else {
            return;
        };
        let fd = conn.stream.as_raw_fd();
        let _ = self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0);
        let key = (conn.peer, conn.tls.is_some());
        if self.by_peer.get(&key) == Some(&index) {
            self.by_peer.remove(&key);
        }
        if !conn.is_up() {
            let (dest, tls) = key;
            self.undelivered
                .extend(
                    conn.unconfirmed
                        .into_iter()
                        .map(|data| Undelivered { dest, tls, data }),
                );
        }
        if let Some(generation) = self.generations.get_mut(index) {
            *generation = generation.wrapping_add(1);
        }
        // Its idle entry, if any, finds an empty (or newer) slot: a newer
        // connection there was scheduled on its own, and a stale entry only
        // moves its check later.
        self.free.push(index);
    }
}

enum Close {
    Peer,
    Framing(StreamError),
    Tls(rustls::Error),
}

/// What one readiness event framed.
#[derive(Default)]
struct Framing {
    messages: u64,
    pongs: usize,
}

impl Framing {
    /// Pushes `bytes` into `framer` and hands out every complete message.
    fn push(
        &mut self,
        framer: &mut StreamFramer,
        bytes: &[u8],
        mut deliver: impl FnMut(&[u8]),
    ) -> Option<StreamError> {
        if let Err(error) = framer.push(bytes) {
            return Some(error);
        }
        loop {
            match framer.next_frame() {
                Ok(Some(Framed::Message(message))) => {
                    self.messages += 1;
                    deliver(message);
                }
                Ok(Some(Framed::Ping)) => self.pongs += 1,
                Ok(None) => return None,
                Err(error) => return Some(error),
            }
        }
    }
}

/// Feeds the bytes read from the socket into the TLS session, and its
/// plaintext into `sink` (the framer), a chunk at a time so that neither
/// the session's buffer nor the framer's overflows.
fn feed_tls(
    session: &mut Connection,
    mut bytes: &[u8],
    plain: &mut [u8],
    framed: &mut Framing,
    sink: &mut dyn FnMut(&[u8], &mut Framing) -> Option<StreamError>,
) -> Option<Close> {
    while !bytes.is_empty() {
        if session.read_tls(&mut bytes).is_err() {
            return Some(Close::Peer);
        }
        if let Err(error) = session.process_new_packets() {
            return Some(Close::Tls(error));
        }
        loop {
            match session.reader().read(plain) {
                // The peer's close_notify.
                Ok(0) => return Some(Close::Peer),
                Ok(n) => {
                    if let Some(error) = sink(plain.get(..n).unwrap_or_default(), framed) {
                        return Some(Close::Framing(error));
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return Some(Close::Peer),
            }
        }
    }
    None
}

fn listen_on(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_port(true)?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

#[cfg(test)]
#[path = "tcp_tests.rs"]
mod tests;
