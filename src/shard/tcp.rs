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
//! TLS later wraps the same connection table: a rustls session between the
//! socket and the framer, nothing in the SIP core changes.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::deadlines::DeadlineQueue;
use crate::sip::stream::{Framed, StreamError, StreamFramer, StreamLimits, PONG};
use crate::sip::ConnRef;
use crate::time::Time;

/// Unsent bytes one connection may hold before it is closed as stuck.
const MAX_PENDING_WRITE: usize = 1 << 20;
/// Bytes read per call; a readable connection is read at most `READS_PER_EVENT`
/// times per wake-up (level-triggered: the rest comes at the next one).
const READ_CHUNK: usize = 16 * 1024;
const READS_PER_EVENT: usize = 4;
const LISTENER_KEY: u64 = u64::MAX;
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
    /// Responses whose connection was gone (§18.2.2: we do not reconnect).
    pub responses_without_connection: u64,
}

/// One message framed out of a connection.
pub(crate) struct Received {
    pub(crate) conn: ConnRef,
    pub(crate) from: SocketAddr,
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
}

/// One shard's TCP listener and connections.
pub(crate) struct TcpTransport {
    shard: usize,
    settings: TcpSettings,
    epfd: OwnedFd,
    listener: TcpListener,
    conns: Vec<Option<Conn>>,
    generations: Vec<u32>,
    free: Vec<usize>,
    by_peer: HashMap<SocketAddr, usize>,
    idle: DeadlineQueue<usize>,
    events: Vec<libc::epoll_event>,
    stats: TcpStats,
}

impl TcpTransport {
    /// Listens on `addr` (shared with the other shards) for shard `shard`.
    pub(crate) fn listen(
        shard: usize,
        addr: SocketAddr,
        settings: TcpSettings,
    ) -> io::Result<TcpTransport> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_port(true)?;
        socket.set_reuse_address(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        let listener: TcpListener = socket.into();
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
            conns: Vec::new(),
            generations: Vec::new(),
            free: Vec::new(),
            by_peer: HashMap::new(),
            idle: DeadlineQueue::new(),
            events: vec![libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS],
            stats: TcpStats::default(),
        };
        transport.ctl(
            libc::EPOLL_CTL_ADD,
            transport.listener.as_raw_fd(),
            libc::EPOLLIN as u32,
            LISTENER_KEY,
        )?;
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
        self.idle.next().unwrap_or(Time::NEVER)
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
                if key == LISTENER_KEY {
                    self.accept_all(now);
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

    fn accept_all(&mut self, now: Time) {
        loop {
            match self.listener.accept() {
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
                    self.insert(now, stream, peer, false);
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
        };
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
        if let Some(old) = self.by_peer.insert(peer, index) {
            // Two connections to one address: the newer one is used.
            let _ = old;
        }
        self.idle.push(now + self.settings.idle, index);
        index
    }

    fn on_readable(&mut self, now: Time, index: usize, out: &mut Vec<Received>) {
        let conn_ref = self.conn_ref(index);
        let mut buf = [0u8; READ_CHUNK];
        let mut close: Option<Close> = None;
        let mut pongs = 0usize;
        let mut messages = 0u64;
        {
            let Some(Some(conn)) = self.conns.get_mut(index) else {
                return;
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
                let pushed = conn.framer.push(&buf[..n]);
                let mut failed = pushed.err();
                while failed.is_none() {
                    match conn.framer.next_frame() {
                        Ok(Some(Framed::Message(message))) => {
                            messages += 1;
                            out.push(Received {
                                conn: conn_ref,
                                from: conn.peer,
                                data: message.to_vec(),
                            })
                        }
                        Ok(Some(Framed::Ping)) => pongs += 1,
                        Ok(None) => break,
                        Err(error) => failed = Some(error),
                    }
                }
                if let Some(error) = failed {
                    close = Some(Close::Framing(error));
                    break;
                }
                if n < buf.len() {
                    break;
                }
            }
        }
        self.stats.messages_in += messages;
        for _ in 0..pongs {
            self.stats.pings_answered += 1;
            self.write(index, PONG);
        }
        match close {
            Some(Close::Peer) => {
                self.stats.closed_by_peer += 1;
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

    fn on_writable(&mut self, index: usize) {
        let Some(Some(conn)) = self.conns.get_mut(index) else {
            return;
        };
        if conn.connecting {
            match conn.stream.take_error() {
                Ok(None) => {
                    conn.connecting = false;
                    self.stats.connected += 1;
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
        conn.pending.extend_from_slice(data);
        self.flush(index);
    }

    /// Sends one SIP message: on `hint` when it is this shard's, open and
    /// connected to `dest`; else on any open connection to `dest`; else, for
    /// a request, on a new connection to `dest`. A response with no
    /// connection is dropped and counted (§18.2.2 would let us connect to
    /// the Via's sent-by; we do not).
    pub(crate) fn send(
        &mut self,
        now: Time,
        hint: Option<ConnRef>,
        dest: SocketAddr,
        data: &[u8],
        response: bool,
    ) -> Route {
        if let Some(conn) = hint {
            let owner = Self::shard_of(conn);
            if owner != self.shard {
                return Route::Forward(owner);
            }
        }
        let hinted = hint
            .and_then(|conn| self.index_of(conn))
            .filter(|&index| matches!(self.conns.get(index), Some(Some(c)) if c.peer == dest));
        let index = match hinted.or_else(|| self.by_peer.get(&dest).copied()) {
            Some(index) => index,
            None if response => {
                self.stats.responses_without_connection += 1;
                return Route::Done;
            }
            None => match self.connect(now, dest) {
                Some(index) => index,
                None => return Route::Done,
            },
        };
        if let Some(Some(conn)) = self.conns.get_mut(index) {
            conn.last_active = now;
        }
        self.stats.messages_out += 1;
        self.write(index, data);
        Route::Done
    }

    fn connect(&mut self, now: Time, dest: SocketAddr) -> Option<usize> {
        if self.by_peer.len() >= self.settings.max_connections {
            self.stats.refused_over_limit += 1;
            return None;
        }
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
            Ok(stream) => Some(self.insert(now, stream, dest, true)),
            Err(err) => {
                log::debug!("shard {}: cannot connect to {dest}: {err}", self.shard);
                self.stats.connect_failures += 1;
                None
            }
        }
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

    /// Closes connections idle past the limit and not in use.
    pub(crate) fn handle_timeout(&mut self, now: Time) {
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
        if self.by_peer.get(&conn.peer) == Some(&index) {
            self.by_peer.remove(&conn.peer);
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
}
