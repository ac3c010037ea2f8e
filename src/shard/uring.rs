//! The io_uring backend: receives kept in flight on every socket, sends pushed
//! onto the submission queue and submitted together with the wait, so one
//! `io_uring_enter` carries a whole loop iteration's work.
//!
//! Every operation's memory (message header, address, iovec, buffer) lives in a
//! boxed slot that outlives the operation: a slot is only reused or freed after
//! its completion has been reaped. Closing a socket cancels its receives and
//! frees the socket once the last of its operations has completed.

use std::io;
use std::mem;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use io_uring::{opcode, squeue, types, IoUring};

use super::backend::{BackendStats, Completion, IoBackend, Token};
use super::sockaddr::{empty_storage, read_sockaddr, write_sockaddr};
use super::waker::Waker;

const KIND_SHIFT: u32 = 56;
const KIND_RECV: u64 = 1;
const KIND_SEND: u64 = 2;
const KIND_WAKE: u64 = 3;
const KIND_CANCEL: u64 = 4;
const INDEX_MASK: u64 = (1 << KIND_SHIFT) - 1;

fn user_data(kind: u64, index: usize) -> u64 {
    (kind << KIND_SHIFT) | (index as u64 & INDEX_MASK)
}

/// Memory of one receive operation.
struct RecvSlot {
    hdr: libc::msghdr,
    iov: libc::iovec,
    addr: libc::sockaddr_storage,
    buf: Box<[u8]>,
    token: Token,
    in_flight: bool,
}

/// Memory of one send operation.
struct SendSlot {
    hdr: libc::msghdr,
    iov: libc::iovec,
    addr: libc::sockaddr_storage,
    buf: Vec<u8>,
    token: Token,
}

struct SocketEntry {
    socket: UdpSocket,
    slots: Vec<usize>,
    in_flight: usize,
    closing: bool,
}

/// One shard's io_uring.
pub struct UringBackend {
    ring: IoUring,
    sockets: Vec<Option<SocketEntry>>,
    free_tokens: Vec<u32>,
    recv_slots: Vec<Option<Box<RecvSlot>>>,
    free_recv_slots: Vec<usize>,
    /// Boxed: the kernel holds pointers into a slot while the Vec may grow.
    #[allow(clippy::vec_box)]
    send_slots: Vec<Box<SendSlot>>,
    free_send_slots: Vec<usize>,
    wake_fd: i32,
    wake_buf: Box<u64>,
    reaped: Vec<(u64, i32, u32)>,
    stats: BackendStats,
}

impl UringBackend {
    /// Creates the ring and arms the read of the shard's wake-up eventfd.
    pub fn new(waker: &Waker) -> io::Result<UringBackend> {
        // The ring is used by its shard's thread only (SINGLE_ISSUER), so the
        // kernel may defer completion work until the loop enters it to wait
        // (DEFER_TASKRUN, ≥ 6.1) instead of interrupting it; older kernels get
        // COOP_TASKRUN (≥ 5.19), then a plain ring.
        let ring = IoUring::builder()
            .setup_cqsize(8192)
            .setup_single_issuer()
            .setup_defer_taskrun()
            .build(2048)
            .or_else(|_| {
                IoUring::builder()
                    .setup_cqsize(8192)
                    .setup_coop_taskrun()
                    .build(2048)
            })
            .or_else(|_| IoUring::builder().setup_cqsize(8192).build(2048))?;
        let mut backend = UringBackend {
            ring,
            sockets: Vec::new(),
            free_tokens: Vec::new(),
            recv_slots: Vec::new(),
            free_recv_slots: Vec::new(),
            send_slots: Vec::new(),
            free_send_slots: Vec::new(),
            wake_fd: waker.raw_fd(),
            wake_buf: Box::new(0),
            reaped: Vec::with_capacity(1024),
            stats: BackendStats::default(),
        };
        backend.arm_wake();
        backend.ring.submit()?;
        Ok(backend)
    }

    fn push(&mut self, entry: squeue::Entry) {
        // SAFETY: every entry points into a boxed slot that stays alive until its completion.
        if unsafe { self.ring.submission().push(&entry) }.is_ok() {
            return;
        }
        self.stats.syscalls += 1;
        if let Err(err) = self.ring.submit() {
            log::warn!("io_uring submit failed while the queue was full: {err}");
        }
        // SAFETY: as above.
        if unsafe { self.ring.submission().push(&entry) }.is_err() {
            self.stats.send_errors += 1;
            log::error!("io_uring submission queue still full; operation dropped");
        }
    }

    fn arm_wake(&mut self) {
        let entry = opcode::Read::new(
            types::Fd(self.wake_fd),
            &mut *self.wake_buf as *mut u64 as *mut u8,
            8,
        )
        .build()
        .user_data(user_data(KIND_WAKE, 0));
        self.push(entry);
    }

    fn arm_recv(&mut self, slot_index: usize) {
        let Some(Some(slot)) = self.recv_slots.get_mut(slot_index) else {
            return;
        };
        let Some(Some(entry)) = self.sockets.get_mut(slot.token.0 as usize) else {
            return;
        };
        let fd = entry.socket.as_raw_fd();
        entry.in_flight += 1;
        slot.in_flight = true;
        slot.iov.iov_base = slot.buf.as_mut_ptr() as *mut libc::c_void;
        slot.iov.iov_len = slot.buf.len();
        slot.hdr.msg_name = &mut slot.addr as *mut _ as *mut libc::c_void;
        slot.hdr.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        slot.hdr.msg_iov = &mut slot.iov;
        slot.hdr.msg_iovlen = 1;
        slot.hdr.msg_control = std::ptr::null_mut();
        slot.hdr.msg_controllen = 0;
        slot.hdr.msg_flags = 0;
        let hdr: *mut libc::msghdr = &mut slot.hdr;
        // MSG_TRUNC: the result is the datagram's real length, so a truncated
        // one is recognised whether or not the kernel copies msg_flags back.
        let entry = opcode::RecvMsg::new(types::Fd(fd), hdr)
            .flags(libc::MSG_TRUNC as u32)
            .build()
            .user_data(user_data(KIND_RECV, slot_index));
        self.push(entry);
    }

    fn new_recv_slot(&mut self, token: Token, max_datagram: usize) -> usize {
        let slot = Box::new(RecvSlot {
            // SAFETY: zeroed C structs are valid; they are filled before use.
            hdr: unsafe { mem::zeroed() },
            iov: libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            },
            addr: empty_storage(),
            buf: vec![0u8; max_datagram].into_boxed_slice(),
            token,
            in_flight: false,
        });
        match self.free_recv_slots.pop() {
            Some(index) => {
                self.recv_slots[index] = Some(slot);
                index
            }
            None => {
                self.recv_slots.push(Some(slot));
                self.recv_slots.len() - 1
            }
        }
    }

    fn finish_close_if_idle(&mut self, token: Token) {
        let idle = matches!(
            self.sockets.get(token.0 as usize),
            Some(Some(entry)) if entry.closing && entry.in_flight == 0
        );
        if !idle {
            return;
        }
        if let Some(entry) = self
            .sockets
            .get_mut(token.0 as usize)
            .and_then(Option::take)
        {
            for slot in entry.slots {
                let held = matches!(self.recv_slots.get(slot), Some(Some(s)) if !s.in_flight && s.token == token);
                if held {
                    self.recv_slots[slot] = None;
                    self.free_recv_slots.push(slot);
                }
            }
            self.free_tokens.push(token.0);
        }
    }

    fn on_recv(&mut self, slot_index: usize, result: i32, out: &mut Vec<Completion>) {
        let Some(Some(slot)) = self.recv_slots.get_mut(slot_index) else {
            return;
        };
        slot.in_flight = false;
        let token = slot.token;
        let truncated =
            slot.hdr.msg_flags & libc::MSG_TRUNC != 0 || result as usize > slot.buf.len();
        let from = read_sockaddr(&slot.addr);
        let closing = match self.sockets.get_mut(token.0 as usize) {
            Some(Some(entry)) => {
                entry.in_flight = entry.in_flight.saturating_sub(1);
                entry.closing
            }
            _ => true,
        };
        if closing {
            self.release(slot_index);
            return;
        }
        match (result, from) {
            (len, Some(from)) if len >= 0 && !truncated => {
                self.stats.datagrams_received += 1;
                out.push(Completion::Recv {
                    token,
                    from,
                    slot: slot_index,
                    len: len as usize,
                });
            }
            (len, _) if len >= 0 => {
                self.stats.truncated += 1;
                self.arm_recv(slot_index);
            }
            _ => {
                self.stats.recv_errors += 1;
                self.arm_recv(slot_index);
            }
        }
    }

    fn on_send(&mut self, slot_index: usize, result: i32) {
        if result < 0 {
            self.stats.send_errors += 1;
        } else {
            self.stats.datagrams_sent += 1;
        }
        let Some(slot) = self.send_slots.get(slot_index) else {
            return;
        };
        let token = slot.token;
        self.free_send_slots.push(slot_index);
        if let Some(Some(entry)) = self.sockets.get_mut(token.0 as usize) {
            entry.in_flight = entry.in_flight.saturating_sub(1);
        }
        self.finish_close_if_idle(token);
    }
}

impl IoBackend for UringBackend {
    fn register(
        &mut self,
        socket: UdpSocket,
        depth: usize,
        max_datagram: usize,
    ) -> io::Result<Token> {
        let token = match self.free_tokens.pop() {
            Some(index) => Token(index),
            None => {
                self.sockets.push(None);
                Token((self.sockets.len() - 1) as u32)
            }
        };
        self.sockets[token.0 as usize] = Some(SocketEntry {
            socket,
            slots: Vec::with_capacity(depth),
            in_flight: 0,
            closing: false,
        });
        for _ in 0..depth.max(1) {
            let slot = self.new_recv_slot(token, max_datagram);
            if let Some(Some(entry)) = self.sockets.get_mut(token.0 as usize) {
                entry.slots.push(slot);
            }
            self.arm_recv(slot);
        }
        Ok(token)
    }

    fn close(&mut self, token: Token) {
        let Some(Some(entry)) = self.sockets.get_mut(token.0 as usize) else {
            return;
        };
        if entry.closing {
            return;
        }
        entry.closing = true;
        let in_flight: Vec<usize> = entry
            .slots
            .iter()
            .copied()
            .filter(|&slot| matches!(self.recv_slots.get(slot), Some(Some(s)) if s.in_flight))
            .collect();
        for slot in in_flight {
            let cancel = opcode::AsyncCancel::new(user_data(KIND_RECV, slot))
                .build()
                .user_data(user_data(KIND_CANCEL, slot));
            self.push(cancel);
        }
        self.finish_close_if_idle(token);
    }

    fn send(&mut self, token: Token, dest: SocketAddr, data: &[u8]) {
        let fd = match self.sockets.get_mut(token.0 as usize) {
            Some(Some(entry)) if !entry.closing => {
                entry.in_flight += 1;
                entry.socket.as_raw_fd()
            }
            _ => {
                self.stats.send_errors += 1;
                return;
            }
        };
        let index = match self.free_send_slots.pop() {
            Some(index) => index,
            None => {
                self.send_slots.push(Box::new(SendSlot {
                    // SAFETY: zeroed C structs are valid; they are filled below.
                    hdr: unsafe { mem::zeroed() },
                    iov: libc::iovec {
                        iov_base: std::ptr::null_mut(),
                        iov_len: 0,
                    },
                    addr: empty_storage(),
                    buf: Vec::with_capacity(1500),
                    token,
                }));
                self.send_slots.len() - 1
            }
        };
        let slot = &mut self.send_slots[index];
        slot.token = token;
        slot.buf.clear();
        slot.buf.extend_from_slice(data);
        let addr_len = write_sockaddr(&dest, &mut slot.addr);
        slot.iov.iov_base = slot.buf.as_mut_ptr() as *mut libc::c_void;
        slot.iov.iov_len = slot.buf.len();
        slot.hdr.msg_name = &mut slot.addr as *mut _ as *mut libc::c_void;
        slot.hdr.msg_namelen = addr_len;
        slot.hdr.msg_iov = &mut slot.iov;
        slot.hdr.msg_iovlen = 1;
        slot.hdr.msg_control = std::ptr::null_mut();
        slot.hdr.msg_controllen = 0;
        slot.hdr.msg_flags = 0;
        let hdr: *const libc::msghdr = &slot.hdr;
        let entry = opcode::SendMsg::new(types::Fd(fd), hdr)
            .build()
            .user_data(user_data(KIND_SEND, index));
        self.push(entry);
    }

    fn wait(&mut self, timeout: Option<Duration>, out: &mut Vec<Completion>) -> io::Result<()> {
        self.stats.syscalls += 1;
        let result = match timeout {
            Some(t) if t.is_zero() => {
                // GETEVENTS with a zero timeout: runs deferred completion work
                // without sleeping.
                let ts = types::Timespec::new();
                let args = types::SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(1, &args)
            }
            Some(t) => {
                let ts = types::Timespec::new()
                    .sec(t.as_secs())
                    .nsec(t.subsec_nanos());
                let args = types::SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(1, &args)
            }
            None => self.ring.submit_and_wait(1),
        };
        if let Err(err) = result {
            match err.raw_os_error() {
                Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY) | Some(libc::EAGAIN) => {}
                _ => return Err(err),
            }
        }
        self.reaped.clear();
        for cqe in self.ring.completion() {
            self.reaped
                .push((cqe.user_data(), cqe.result(), cqe.flags()));
        }
        let reaped = mem::take(&mut self.reaped);
        for &(data, result, _flags) in &reaped {
            let index = (data & INDEX_MASK) as usize;
            match data >> KIND_SHIFT {
                KIND_RECV => self.on_recv(index, result, out),
                KIND_SEND => self.on_send(index, result),
                KIND_WAKE => {
                    out.push(Completion::Wake);
                    self.arm_wake();
                }
                _ => {}
            }
        }
        self.reaped = reaped;
        Ok(())
    }

    fn recv_data(&self, slot: usize, len: usize) -> &[u8] {
        match self.recv_slots.get(slot) {
            Some(Some(s)) => &s.buf[..len.min(s.buf.len())],
            _ => &[],
        }
    }

    fn release(&mut self, slot_index: usize) {
        let Some(Some(slot)) = self.recv_slots.get(slot_index) else {
            return;
        };
        let token = slot.token;
        let closing = !matches!(self.sockets.get(token.0 as usize), Some(Some(e)) if !e.closing);
        if closing {
            self.recv_slots[slot_index] = None;
            self.free_recv_slots.push(slot_index);
            if let Some(Some(entry)) = self.sockets.get_mut(token.0 as usize) {
                entry.slots.retain(|&s| s != slot_index);
            }
            self.finish_close_if_idle(token);
        } else {
            self.arm_recv(slot_index);
        }
    }

    fn local_addr(&self, token: Token) -> Option<SocketAddr> {
        match self.sockets.get(token.0 as usize) {
            Some(Some(entry)) => entry.socket.local_addr().ok(),
            _ => None,
        }
    }

    fn stats(&self) -> BackendStats {
        self.stats
    }

    fn name(&self) -> &'static str {
        "io_uring"
    }
}
