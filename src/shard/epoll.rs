//! The epoll backend, for kernels or sandboxes that refuse io_uring: the same
//! shard code over level-triggered epoll, `recvmmsg` to read a batch per ready
//! socket and `sendmmsg` to flush queued sends per socket in one call.
//!
//! Receive slots are pooled buffers that the loop borrows between
//! [`IoBackend::wait`] and [`IoBackend::release`]; queued sends live in one
//! reusable byte arena. Nothing is allocated per packet once warm.
//!
//! The kernel writes into a slot only during the `recvmmsg` of one
//! `receive_batch`, which takes free slots only, so memory the loop holds is
//! never written. A slot is `Delivered` from the `Completion::Recv` naming it
//! until the loop's `release`; it is pooled again only by that release, and a
//! release of a slot that is not delivered is counted and ignored, so a slot is
//! never in the pool twice nor handed out while the loop still reads it.
//!
//! Tokens follow the contract in [`super::backend`]: closing a socket closes
//! its fd at once (no operation outlives a syscall here), but its table entry —
//! and the token index — is kept until every slot delivered for it has been
//! released, and the index's next use has a new generation. The epoll key of a
//! socket carries index and generation, and queued sends are checked against
//! the generation, so nothing meant for a closed socket reaches its successor.

use std::io;
use std::mem;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::backend::{BackendStats, Completion, IoBackend, Token};
use super::sockaddr::{empty_storage, read_sockaddr, write_sockaddr};
use super::waker::Waker;

const WAKE_KEY: u64 = u64::MAX;
/// The key of the descriptor of [`IoBackend::watch_readable`].
const READY_KEY: u64 = u64::MAX - 1;
const MAX_EVENTS: usize = 256;
const SEND_BATCH: usize = 64;

struct RecvSlot {
    addr: libc::sockaddr_storage,
    buf: Box<[u8]>,
    /// The socket this slot's datagram came from while the loop holds it.
    delivered: Option<Token>,
}

/// An open socket, or a closed one whose delivered slots are not all released.
struct Live {
    /// `None` once closed.
    socket: Option<UdpSocket>,
    depth: usize,
    max_datagram: usize,
    /// Slots delivered for this socket and not released yet.
    delivered: usize,
}

/// One entry of the socket table; its index is a token's index.
struct SocketEntry {
    generation: u32,
    live: Option<Live>,
}

fn epoll_key(token: Token) -> u64 {
    (u64::from(token.generation()) << 32) | token.index() as u64
}

struct PendingSend {
    token: Token,
    dest: SocketAddr,
    start: usize,
    len: usize,
}

/// One shard's epoll instance.
pub(crate) struct EpollBackend {
    epfd: OwnedFd,
    wake_fd: i32,
    sockets: Vec<SocketEntry>,
    free_tokens: Vec<u32>,
    slots: Vec<RecvSlot>,
    free_slots: Vec<usize>,
    pending: Vec<PendingSend>,
    send_bytes: Vec<u8>,
    events: Vec<libc::epoll_event>,
    batch_slots: Vec<usize>,
    batch_iov: Vec<libc::iovec>,
    batch_hdr: Vec<libc::mmsghdr>,
    batch_addr: Vec<libc::sockaddr_storage>,
    stats: BackendStats,
}

impl EpollBackend {
    /// Creates the epoll instance and registers the shard's wake-up eventfd.
    pub(crate) fn new(waker: &Waker) -> io::Result<EpollBackend> {
        // SAFETY: plain syscall; the fd is owned below.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is fresh and ours.
        let epfd = unsafe { OwnedFd::from_raw_fd(fd) };
        let backend = EpollBackend {
            epfd,
            wake_fd: waker.raw_fd(),
            sockets: Vec::new(),
            free_tokens: Vec::new(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            pending: Vec::new(),
            send_bytes: Vec::new(),
            events: vec![libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS],
            batch_slots: Vec::new(),
            batch_iov: Vec::new(),
            batch_hdr: Vec::new(),
            batch_addr: Vec::new(),
            stats: BackendStats::default(),
        };
        backend.ctl(libc::EPOLL_CTL_ADD, waker.raw_fd(), WAKE_KEY)?;
        Ok(backend)
    }

    fn ctl(&self, op: libc::c_int, fd: i32, key: u64) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: key,
        };
        // SAFETY: valid epoll fd, valid event struct.
        let rc = unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), op, fd, &mut event) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn live(&self, token: Token) -> Option<&Live> {
        match self.sockets.get(token.index()) {
            Some(entry) if entry.generation == token.generation() => entry.live.as_ref(),
            _ => None,
        }
    }

    fn live_mut(&mut self, token: Token) -> Option<&mut Live> {
        match self.sockets.get_mut(token.index()) {
            Some(entry) if entry.generation == token.generation() => entry.live.as_mut(),
            _ => None,
        }
    }

    /// Frees a closed socket's table entry once none of its slots is delivered.
    fn finish_close_if_idle(&mut self, token: Token) {
        let Some(entry) = self.sockets.get_mut(token.index()) else {
            return;
        };
        if entry.generation != token.generation() {
            return;
        }
        if matches!(&entry.live, Some(live) if live.socket.is_none() && live.delivered == 0) {
            entry.live = None;
            entry.generation = entry.generation.wrapping_add(1);
            self.free_tokens.push(token.index() as u32);
        }
    }

    fn take_slot(&mut self, max_datagram: usize) -> usize {
        if let Some(index) = self.free_slots.pop() {
            if self.slots[index].buf.len() < max_datagram {
                self.slots[index].buf = vec![0u8; max_datagram].into_boxed_slice();
            }
            return index;
        }
        self.slots.push(RecvSlot {
            addr: empty_storage(),
            buf: vec![0u8; max_datagram].into_boxed_slice(),
            delivered: None,
        });
        self.slots.len() - 1
    }

    /// Reads up to one batch from a readable socket.
    fn receive_batch(&mut self, token: Token, out: &mut Vec<Completion>) {
        let (fd, depth, max_datagram) = match self.live(token) {
            Some(Live {
                socket: Some(socket),
                depth,
                max_datagram,
                ..
            }) => (socket.as_raw_fd(), *depth, *max_datagram),
            _ => return,
        };
        self.batch_slots.clear();
        for _ in 0..depth {
            let slot = self.take_slot(max_datagram);
            self.batch_slots.push(slot);
        }
        self.batch_iov.clear();
        self.batch_hdr.clear();
        for &slot in &self.batch_slots {
            let s = &mut self.slots[slot];
            self.batch_iov.push(libc::iovec {
                iov_base: s.buf.as_mut_ptr() as *mut libc::c_void,
                iov_len: s.buf.len(),
            });
        }
        for (i, &slot) in self.batch_slots.iter().enumerate() {
            let s = &mut self.slots[slot];
            // SAFETY: a zeroed mmsghdr is valid; pointers set below stay valid for the call.
            let mut hdr: libc::mmsghdr = unsafe { mem::zeroed() };
            hdr.msg_hdr.msg_name = &mut s.addr as *mut _ as *mut libc::c_void;
            hdr.msg_hdr.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            hdr.msg_hdr.msg_iov = &mut self.batch_iov[i];
            hdr.msg_hdr.msg_iovlen = 1;
            self.batch_hdr.push(hdr);
        }
        self.stats.syscalls += 1;
        // SAFETY: batch_hdr holds `depth` headers pointing at live slots.
        let got = unsafe {
            libc::recvmmsg(
                fd,
                self.batch_hdr.as_mut_ptr(),
                self.batch_hdr.len() as libc::c_uint,
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                std::ptr::null_mut(),
            )
        };
        let got = if got < 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::WouldBlock && err.kind() != io::ErrorKind::Interrupted {
                self.stats.recv_errors += 1;
            }
            0
        } else {
            got as usize
        };
        let mut delivered = 0;
        for i in 0..self.batch_slots.len() {
            let slot = self.batch_slots[i];
            if i >= got {
                self.free_slots.push(slot);
                continue;
            }
            let hdr = &self.batch_hdr[i];
            let from = read_sockaddr(&self.slots[slot].addr);
            match from {
                Some(from)
                    if hdr.msg_hdr.msg_flags & libc::MSG_TRUNC == 0
                        && (hdr.msg_len as usize) <= self.slots[slot].buf.len() =>
                {
                    self.stats.datagrams_received += 1;
                    self.slots[slot].delivered = Some(token);
                    delivered += 1;
                    out.push(Completion::Recv {
                        token,
                        from,
                        slot,
                        len: hdr.msg_len as usize,
                    });
                }
                _ => {
                    self.stats.truncated += 1;
                    self.free_slots.push(slot);
                }
            }
        }
        if let Some(live) = self.live_mut(token) {
            live.delivered += delivered;
        }
    }

    /// Sends every queued datagram, one `sendmmsg` per run of the same socket.
    fn flush(&mut self) {
        let mut start = 0;
        while start < self.pending.len() {
            let token = self.pending[start].token;
            let mut end = start + 1;
            while end < self.pending.len()
                && self.pending[end].token == token
                && end - start < SEND_BATCH
            {
                end += 1;
            }
            self.send_run(token, start, end);
            start = end;
        }
        self.pending.clear();
        self.send_bytes.clear();
    }

    fn send_run(&mut self, token: Token, start: usize, end: usize) {
        let fd = match self.live(token) {
            Some(Live {
                socket: Some(socket),
                ..
            }) => socket.as_raw_fd(),
            _ => {
                self.stats.send_errors += (end - start) as u64;
                return;
            }
        };
        let count = end - start;
        self.batch_iov.clear();
        self.batch_hdr.clear();
        self.batch_addr.clear();
        self.batch_addr.resize(count, empty_storage());
        for send in &self.pending[start..end] {
            self.batch_iov.push(libc::iovec {
                iov_base: self.send_bytes[send.start..].as_ptr() as *mut libc::c_void,
                iov_len: send.len,
            });
        }
        for i in 0..count {
            let send = &self.pending[start + i];
            let len = write_sockaddr(&send.dest, &mut self.batch_addr[i]);
            // SAFETY: a zeroed mmsghdr is valid; pointers set below stay valid for the call.
            let mut hdr: libc::mmsghdr = unsafe { mem::zeroed() };
            hdr.msg_hdr.msg_name = &mut self.batch_addr[i] as *mut _ as *mut libc::c_void;
            hdr.msg_hdr.msg_namelen = len;
            hdr.msg_hdr.msg_iov = &mut self.batch_iov[i];
            hdr.msg_hdr.msg_iovlen = 1;
            self.batch_hdr.push(hdr);
        }
        let mut sent = 0usize;
        while sent < count {
            self.stats.syscalls += 1;
            // SAFETY: headers from `sent` on point at live iovecs, addresses and bytes.
            let rc = unsafe {
                libc::sendmmsg(
                    fd,
                    self.batch_hdr[sent..].as_mut_ptr(),
                    (count - sent) as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if rc <= 0 {
                let err = io::Error::last_os_error();
                if rc < 0 && err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // The first unsent datagram failed (unreachable, would block, …): count
                // it and carry on with the rest.
                self.stats.send_errors += 1;
                sent += 1;
                continue;
            }
            self.stats.datagrams_sent += rc as u64;
            sent += rc as usize;
        }
    }
}

impl IoBackend for EpollBackend {
    fn register(
        &mut self,
        socket: UdpSocket,
        depth: usize,
        max_datagram: usize,
    ) -> io::Result<Token> {
        socket.set_nonblocking(true)?;
        let index = match self.free_tokens.pop() {
            Some(index) => index as usize,
            None => {
                self.sockets.push(SocketEntry {
                    generation: 0,
                    live: None,
                });
                self.sockets.len() - 1
            }
        };
        let token = Token::new(index as u32, self.sockets[index].generation);
        if let Err(err) = self.ctl(libc::EPOLL_CTL_ADD, socket.as_raw_fd(), epoll_key(token)) {
            self.free_tokens.push(index as u32);
            return Err(err);
        }
        self.sockets[index].live = Some(Live {
            socket: Some(socket),
            depth: depth.max(1),
            max_datagram,
            delivered: 0,
        });
        Ok(token)
    }

    fn close(&mut self, token: Token) {
        // Queued sends for this socket leave first.
        if self.pending.iter().any(|p| p.token == token) {
            self.flush();
        }
        let Some(socket) = self.live_mut(token).and_then(|live| live.socket.take()) else {
            return;
        };
        let _ = self.ctl(libc::EPOLL_CTL_DEL, socket.as_raw_fd(), 0);
        drop(socket);
        self.finish_close_if_idle(token);
    }

    fn send(&mut self, token: Token, dest: SocketAddr, data: &[u8]) {
        if !matches!(self.live(token), Some(live) if live.socket.is_some()) {
            self.stats.send_errors += 1;
            return;
        }
        let start = self.send_bytes.len();
        self.send_bytes.extend_from_slice(data);
        self.pending.push(PendingSend {
            token,
            dest,
            start,
            len: data.len(),
        });
        if self.pending.len() >= 4 * SEND_BATCH {
            self.flush();
        }
    }

    fn wait(&mut self, timeout: Option<Duration>, out: &mut Vec<Completion>) -> io::Result<()> {
        self.flush();
        let timeout_ms = match timeout {
            None => -1,
            Some(t) => {
                let ms = t.as_micros().div_ceil(1000);
                ms.min(i32::MAX as u128) as i32
            }
        };
        self.stats.syscalls += 1;
        // SAFETY: the events buffer holds MAX_EVENTS entries.
        let n = unsafe {
            libc::epoll_wait(
                self.epfd.as_raw_fd(),
                self.events.as_mut_ptr(),
                MAX_EVENTS as i32,
                timeout_ms,
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(err);
        }
        for i in 0..n as usize {
            let key = self.events[i].u64;
            if key == READY_KEY {
                out.push(Completion::Ready);
            } else if key == WAKE_KEY {
                let mut value: u64 = 0;
                // SAFETY: non-blocking eventfd read into a valid u64.
                unsafe {
                    libc::read(self.wake_fd, &mut value as *mut u64 as *mut libc::c_void, 8);
                }
                out.push(Completion::Wake);
            } else {
                self.receive_batch(Token::new(key as u32, (key >> 32) as u32), out);
            }
        }
        Ok(())
    }

    fn recv_data(&self, slot: usize, len: usize) -> &[u8] {
        match self.slots.get(slot) {
            Some(s) if s.delivered.is_some() => &s.buf[..len.min(s.buf.len())],
            _ => &[],
        }
    }

    fn release(&mut self, slot: usize) {
        let Some(token) = self.slots.get_mut(slot).and_then(|s| s.delivered.take()) else {
            self.stats.stale_releases += 1;
            return;
        };
        self.free_slots.push(slot);
        if let Some(live) = self.live_mut(token) {
            live.delivered = live.delivered.saturating_sub(1);
        }
        self.finish_close_if_idle(token);
    }

    fn watch_readable(&mut self, fd: std::os::fd::RawFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, READY_KEY)
    }

    fn local_addr(&self, token: Token) -> Option<SocketAddr> {
        self.live(token)?.socket.as_ref()?.local_addr().ok()
    }

    fn stats(&self) -> BackendStats {
        self.stats
    }

    fn name(&self) -> &'static str {
        "epoll"
    }
}
