//! The io_uring backend: receives kept in flight on every socket, sends pushed
//! onto the submission queue and submitted together with the wait, so one
//! `io_uring_enter` carries a whole loop iteration's work.
//!
//! # Memory the kernel writes into
//!
//! Every operation the kernel may still touch points only into memory that
//! this backend neither frees nor reuses until that operation's completion has
//! been reaped from the completion queue:
//!
//! - **Receives.** A receive slot is a `Box<RecvSlot>` holding the `msghdr`,
//!   `iovec` and `sockaddr_storage` of its operation, with the datagram buffer
//!   in its own boxed slice; neither moves when the slot table grows. A slot is
//!   in exactly one [`RecvState`]: `Armed` from the moment its `RecvMsg` is
//!   pushed until the completion carrying its user data is reaped, `Delivered`
//!   from the `Completion::Recv` that hands it to the loop until the loop's
//!   `release`, `Parked` while only the backend holds it. Only a `Parked` slot
//!   is (re-)armed — so a slot never has two receives in the kernel — and only
//!   a `Parked` slot is freed, so neither the kernel (`Armed`) nor the loop
//!   (`Delivered`) ever sees its memory go away or change owner. `release` of a
//!   slot that is not `Delivered` is counted and ignored.
//! - **Completions are matched exactly.** User data carries the operation kind,
//!   the slot index and a per-slot arm sequence number; a completion whose
//!   sequence is not the slot's current `Armed` one changes nothing.
//! - **Cancels.** Closing a socket cancels its `Armed` receives with
//!   `AsyncCancel`, which points at no memory of ours: it names its target by
//!   user data, index *and* sequence, so it cannot hit a later receive in the
//!   same slot. The cancelled receive's completion (`-ECANCELED`, or a datagram
//!   that won the race and is dropped) is what frees the slot; the cancel's own
//!   completion only matters if it says `-EALREADY` (the receive was already
//!   running), in which case — like a cancel that found no room in the
//!   submission queue — it is issued again at the next `wait` while its
//!   target is still armed.
//! - **Sends.** A send slot is a `Box<SendSlot>` (header, iovec, address, bytes)
//!   marked in the kernel from its push until its completion is reaped; only
//!   then does it return to the free list, and its byte vector is refilled
//!   (and may reallocate) only while it is free.
//! - **The wake-up read** goes into a boxed `u64`; one read is in flight at a
//!   time and the next is armed only after its completion is reaped.
//! - **File descriptors.** A queued submission names its socket by fd number,
//!   so a closing socket's fd is closed only once none of its receives is
//!   armed and none of its sends is in the kernel: the number cannot be reused
//!   under an operation. Its table entry, and with it the token index, lives on
//!   until its last delivered slot is released; the next use of the index has
//!   a new generation.
//! - **Drop.** Dropping the backend cancels every armed receive and the wake-up
//!   read, then reaps (for up to a second) until the kernel holds none of our
//!   operations. Anything still in the kernel after that — the ring is gone
//!   from another thread, or the kernel is stuck — has its slot leaked rather
//!   than freed, so tearing down the ring (asynchronous in the kernel) can
//!   never write into freed memory.

use std::io;
use std::mem;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use io_uring::{opcode, squeue, types, IoUring};

use super::backend::{BackendStats, Completion, IoBackend, Token};
use super::sockaddr::{empty_storage, read_sockaddr, write_sockaddr};
use super::waker::Waker;

const KIND_SHIFT: u32 = 56;
const SEQ_SHIFT: u32 = 32;
const SEQ_MASK: u32 = 0x00FF_FFFF;
const INDEX_MASK: u64 = 0xFFFF_FFFF;
const KIND_RECV: u64 = 1;
const KIND_SEND: u64 = 2;
const KIND_WAKE: u64 = 3;
const KIND_CANCEL: u64 = 4;
const KIND_CANCEL_WAKE: u64 = 5;
/// The poll of the descriptor of [`IoBackend::watch_readable`].
const KIND_READY: u64 = 6;

/// User data of an operation: kind, arm sequence (24 bits) and slot index.
fn user_data(kind: u64, seq: u32, index: usize) -> u64 {
    (kind << KIND_SHIFT) | (u64::from(seq & SEQ_MASK) << SEQ_SHIFT) | (index as u64 & INDEX_MASK)
}

/// The inverse of [`user_data`].
fn split_user_data(data: u64) -> (u64, u32, usize) {
    (
        data >> KIND_SHIFT,
        ((data >> SEQ_SHIFT) as u32) & SEQ_MASK,
        (data & INDEX_MASK) as usize,
    )
}

/// Who holds a receive slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RecvState {
    /// A `RecvMsg` into the slot is queued or in the kernel, its completion not reaped.
    Armed,
    /// Handed to the loop in a `Completion::Recv`; the loop's until `release`.
    Delivered,
    /// The backend's alone: about to be armed or freed, or waiting to be armed
    /// again because the submission queue was full.
    Parked,
}

/// Memory of one receive operation.
struct RecvSlot {
    hdr: libc::msghdr,
    iov: libc::iovec,
    addr: libc::sockaddr_storage,
    buf: Box<[u8]>,
    token: Token,
    state: RecvState,
    /// Sequence number of the slot's latest arm, in its user data.
    seq: u32,
}

/// Memory of one send operation.
struct SendSlot {
    hdr: libc::msghdr,
    iov: libc::iovec,
    addr: libc::sockaddr_storage,
    buf: Vec<u8>,
    token: Token,
    seq: u32,
    /// Pushed and its completion not reaped yet.
    in_kernel: bool,
}

/// An open or closing socket.
struct Live {
    /// `None` once closing and no operation on the fd is left in the kernel.
    socket: Option<UdpSocket>,
    /// Every receive slot still allocated for this socket, in any state.
    slots: Vec<usize>,
    /// How many of `slots` are `Armed`.
    armed: usize,
    /// Sends pushed and not reaped.
    sends: usize,
    closing: bool,
}

/// One entry of the socket table; its index is a token's index.
struct SocketEntry {
    generation: u32,
    live: Option<Live>,
}

/// One shard's io_uring.
pub(crate) struct UringBackend {
    ring: IoUring,
    sockets: Vec<SocketEntry>,
    free_tokens: Vec<u32>,
    recv_slots: Vec<Option<Box<RecvSlot>>>,
    free_recv_slots: Vec<usize>,
    /// Slots whose arm found the submission queue full; retried at `wait`.
    parked: Vec<usize>,
    /// Boxed: the kernel holds pointers into a slot while the Vec may grow.
    #[allow(clippy::vec_box)]
    send_slots: Vec<Box<SendSlot>>,
    free_send_slots: Vec<usize>,
    /// User data of receives whose cancel found the submission queue full.
    pending_cancels: Vec<u64>,
    wake_fd: i32,
    wake_buf: Box<u64>,
    wake_armed: bool,
    /// The descriptor of [`IoBackend::watch_readable`] and whether its
    /// one-shot poll is in the kernel (re-armed at the next `wait`, after the
    /// shell has served what was ready).
    ready_fd: Option<i32>,
    ready_armed: bool,
    /// Per slot index: receives pushed and not reaped (a check: never above 1).
    kernel_recvs: Vec<u8>,
    /// The most `kernel_recvs` ever reached for one slot.
    max_kernel_recvs: u8,
    scratch: Vec<usize>,
    reaped: Vec<(u64, i32, u32)>,
    stats: BackendStats,
}

impl UringBackend {
    /// Creates the ring and arms the read of the shard's wake-up eventfd.
    pub(crate) fn new(waker: &Waker) -> io::Result<UringBackend> {
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
            parked: Vec::new(),
            send_slots: Vec::new(),
            free_send_slots: Vec::new(),
            pending_cancels: Vec::new(),
            wake_fd: waker.raw_fd(),
            wake_buf: Box::new(0),
            wake_armed: false,
            ready_fd: None,
            ready_armed: false,
            kernel_recvs: Vec::new(),
            max_kernel_recvs: 0,
            scratch: Vec::new(),
            reaped: Vec::with_capacity(1024),
            stats: BackendStats::default(),
        };
        backend.arm_wake();
        backend.ring.submit()?;
        Ok(backend)
    }

    /// The most receives that were ever in the kernel at once for one slot.
    #[cfg(test)]
    pub(super) fn max_kernel_recvs_per_slot(&self) -> u8 {
        self.max_kernel_recvs
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

    /// Queues one submission, submitting the queue first if it is full.
    /// `false`: there was still no room; the caller undoes its bookkeeping.
    ///
    /// # Safety
    ///
    /// Every pointer in `entry` must stay valid until its completion
    /// is reaped (see the module doc for how each kind of operation ensures it).
    unsafe fn push(&mut self, entry: &squeue::Entry) -> bool {
        // SAFETY: the caller guarantees the entry's memory outlives the operation.
        if unsafe { self.ring.submission().push(entry) }.is_ok() {
            return true;
        }
        self.stats.syscalls += 1;
        if let Err(err) = self.ring.submit() {
            log::warn!("io_uring submit failed while the queue was full: {err}");
        }
        // SAFETY: as above.
        if unsafe { self.ring.submission().push(entry) }.is_ok() {
            return true;
        }
        log::error!("io_uring submission queue still full; operation deferred or dropped");
        false
    }

    /// Arms the one-shot poll of the watched descriptor, if it is not armed.
    fn arm_ready(&mut self) {
        let Some(fd) = self.ready_fd.filter(|_| !self.ready_armed) else {
            return;
        };
        let entry = opcode::PollAdd::new(types::Fd(fd), libc::POLLIN as u32)
            .build()
            .user_data(user_data(KIND_READY, 0, 0));
        // SAFETY: a poll points at no memory of ours.
        self.ready_armed = unsafe { self.push(&entry) };
    }

    fn arm_wake(&mut self) {
        if self.wake_armed {
            return;
        }
        let entry = opcode::Read::new(
            types::Fd(self.wake_fd),
            &mut *self.wake_buf as *mut u64 as *mut u8,
            8,
        )
        .build()
        .user_data(user_data(KIND_WAKE, 0, 0));
        // SAFETY: wake_buf is boxed, only one read is in flight (wake_armed),
        // and Drop leaks the box if that read is never reaped.
        self.wake_armed = unsafe { self.push(&entry) };
    }

    /// Arms a `Parked` slot (or frees it if its socket is closing).
    fn arm_recv(&mut self, slot_index: usize) {
        let token = match self.recv_slots.get(slot_index) {
            Some(Some(slot)) if slot.state == RecvState::Parked => slot.token,
            Some(Some(_)) => {
                debug_assert!(false, "arming receive slot {slot_index} that is not parked");
                return;
            }
            _ => return,
        };
        let fd = match self.live(token) {
            Some(live) if !live.closing => live.socket.as_ref().map(|s| s.as_raw_fd()),
            _ => None,
        };
        let Some(fd) = fd else {
            self.free_recv_slot(slot_index);
            return;
        };
        let Some(Some(slot)) = self.recv_slots.get_mut(slot_index) else {
            return;
        };
        slot.seq = slot.seq.wrapping_add(1) & SEQ_MASK;
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
            .user_data(user_data(KIND_RECV, slot.seq, slot_index));
        // SAFETY: the header, iovec, address and buffer are in the boxed slot,
        // which is marked Armed below and so is neither freed nor re-armed
        // until this operation's completion is reaped (or leaked by Drop).
        if unsafe { self.push(&entry) } {
            if let Some(Some(slot)) = self.recv_slots.get_mut(slot_index) {
                slot.state = RecvState::Armed;
            }
            if let Some(live) = self.live_mut(token) {
                live.armed += 1;
            }
            let count = &mut self.kernel_recvs[slot_index];
            *count = count.saturating_add(1);
            self.max_kernel_recvs = self.max_kernel_recvs.max(*count);
            debug_assert!(*count <= 1, "two receives in flight into slot {slot_index}");
        } else {
            self.parked.push(slot_index);
        }
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
            state: RecvState::Parked,
            seq: 0,
        });
        match self.free_recv_slots.pop() {
            Some(index) => {
                self.recv_slots[index] = Some(slot);
                index
            }
            None => {
                self.recv_slots.push(Some(slot));
                self.kernel_recvs.push(0);
                self.recv_slots.len() - 1
            }
        }
    }

    /// Frees a `Parked` slot and lets its socket finish closing.
    fn free_recv_slot(&mut self, slot_index: usize) {
        let token = match self.recv_slots.get(slot_index) {
            Some(Some(slot)) if slot.state == RecvState::Parked => slot.token,
            Some(Some(_)) => {
                debug_assert!(
                    false,
                    "freeing receive slot {slot_index} that is not parked"
                );
                return;
            }
            _ => return,
        };
        self.recv_slots[slot_index] = None;
        self.free_recv_slots.push(slot_index);
        if let Some(live) = self.live_mut(token) {
            live.slots.retain(|&s| s != slot_index);
        }
        self.finish_close_if_idle(token);
    }

    /// Closes a closing socket's fd once the kernel holds no operation on it,
    /// and frees its table entry once no slot of it is left either.
    fn finish_close_if_idle(&mut self, token: Token) {
        let Some(entry) = self.sockets.get_mut(token.index()) else {
            return;
        };
        if entry.generation != token.generation() {
            return;
        }
        let Some(live) = entry.live.as_mut() else {
            return;
        };
        if !live.closing {
            return;
        }
        if live.armed == 0 && live.sends == 0 {
            live.socket = None;
        }
        if live.socket.is_none() && live.slots.is_empty() {
            entry.live = None;
            entry.generation = entry.generation.wrapping_add(1);
            self.free_tokens.push(token.index() as u32);
        }
    }

    fn on_recv(&mut self, slot_index: usize, seq: u32, result: i32, out: &mut Vec<Completion>) {
        if let Some(count) = self.kernel_recvs.get_mut(slot_index) {
            *count = count.saturating_sub(1);
        }
        let Some(Some(slot)) = self.recv_slots.get_mut(slot_index) else {
            debug_assert!(false, "completion for freed receive slot {slot_index}");
            return;
        };
        if slot.state != RecvState::Armed || slot.seq != seq {
            debug_assert!(false, "stale completion for receive slot {slot_index}");
            return;
        }
        slot.state = RecvState::Parked;
        let token = slot.token;
        let truncated =
            slot.hdr.msg_flags & libc::MSG_TRUNC != 0 || result as usize > slot.buf.len();
        let from = read_sockaddr(&slot.addr);
        let closing = match self.live_mut(token) {
            Some(live) => {
                live.armed = live.armed.saturating_sub(1);
                live.closing
            }
            None => true,
        };
        if closing {
            if result >= 0 {
                self.stats.dropped_after_close += 1;
            }
            self.free_recv_slot(slot_index);
            return;
        }
        match (result, from) {
            (len, Some(from)) if len >= 0 && !truncated => {
                self.stats.datagrams_received += 1;
                if let Some(Some(slot)) = self.recv_slots.get_mut(slot_index) {
                    slot.state = RecvState::Delivered;
                }
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

    fn on_send(&mut self, slot_index: usize, seq: u32, result: i32) {
        if result < 0 {
            self.stats.send_errors += 1;
        } else {
            self.stats.datagrams_sent += 1;
        }
        let Some(slot) = self.send_slots.get_mut(slot_index) else {
            return;
        };
        if !slot.in_kernel || slot.seq != seq {
            debug_assert!(false, "stale completion for send slot {slot_index}");
            return;
        }
        slot.in_kernel = false;
        let token = slot.token;
        self.free_send_slots.push(slot_index);
        if let Some(live) = self.live_mut(token) {
            live.sends = live.sends.saturating_sub(1);
        }
        self.finish_close_if_idle(token);
    }

    /// Queues the cancel of the receive with user data `target`, or keeps it for the next `wait`.
    fn push_cancel(&mut self, target: u64) {
        let (kind, seq, index) = split_user_data(target);
        let own = if kind == KIND_RECV {
            user_data(KIND_CANCEL, seq, index)
        } else {
            user_data(KIND_CANCEL_WAKE, 0, 0)
        };
        let cancel = opcode::AsyncCancel::new(target).build().user_data(own);
        // SAFETY: a cancel points at no memory; it names its target by value.
        if !unsafe { self.push(&cancel) } {
            self.pending_cancels.push(target);
        }
    }

    /// Retries the arms and cancels that found the submission queue full.
    fn retry_deferred(&mut self) {
        if !self.parked.is_empty() {
            let mut parked = mem::take(&mut self.parked);
            for &slot in &parked {
                // arm_recv skips a slot that is no longer parked, frees one whose socket closed.
                if matches!(self.recv_slots.get(slot), Some(Some(s)) if s.state == RecvState::Parked)
                {
                    self.arm_recv(slot);
                }
            }
            parked.clear();
            if self.parked.is_empty() {
                self.parked = parked;
            }
        }
        if !self.pending_cancels.is_empty() {
            let cancels = mem::take(&mut self.pending_cancels);
            for target in cancels {
                let (_, seq, slot) = split_user_data(target);
                let still_armed = matches!(
                    self.recv_slots.get(slot),
                    Some(Some(s)) if s.state == RecvState::Armed && s.seq == seq
                );
                if still_armed {
                    self.push_cancel(target);
                }
            }
        }
        if !self.wake_armed {
            self.arm_wake();
        }
    }
}

impl IoBackend for UringBackend {
    fn register(
        &mut self,
        socket: UdpSocket,
        depth: usize,
        max_datagram: usize,
    ) -> io::Result<Token> {
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
        let entry = &mut self.sockets[index];
        debug_assert!(entry.live.is_none());
        entry.live = Some(Live {
            socket: Some(socket),
            slots: Vec::with_capacity(depth.max(1)),
            armed: 0,
            sends: 0,
            closing: false,
        });
        let token = Token::new(index as u32, entry.generation);
        for _ in 0..depth.max(1) {
            let slot = self.new_recv_slot(token, max_datagram);
            if let Some(live) = self.live_mut(token) {
                live.slots.push(slot);
            }
            self.arm_recv(slot);
        }
        Ok(token)
    }

    fn close(&mut self, token: Token) {
        let mut slots = mem::take(&mut self.scratch);
        match self.live_mut(token) {
            Some(live) if !live.closing => {
                live.closing = true;
                slots.extend_from_slice(&live.slots);
            }
            _ => {
                self.scratch = slots;
                return;
            }
        }
        for &slot in &slots {
            let (state, seq) = match self.recv_slots.get(slot) {
                Some(Some(s)) => (s.state, s.seq),
                _ => continue,
            };
            match state {
                RecvState::Armed => self.push_cancel(user_data(KIND_RECV, seq, slot)),
                RecvState::Parked => self.free_recv_slot(slot),
                // The loop's until it releases it.
                RecvState::Delivered => {}
            }
        }
        slots.clear();
        self.scratch = slots;
        self.finish_close_if_idle(token);
    }

    fn send(&mut self, token: Token, dest: SocketAddr, data: &[u8]) {
        let fd = match self.live(token) {
            Some(live) if !live.closing => live.socket.as_ref().map(|s| s.as_raw_fd()),
            _ => None,
        };
        let Some(fd) = fd else {
            self.stats.send_errors += 1;
            return;
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
                    seq: 0,
                    in_kernel: false,
                }));
                self.send_slots.len() - 1
            }
        };
        let slot = &mut self.send_slots[index];
        debug_assert!(!slot.in_kernel);
        slot.token = token;
        slot.seq = slot.seq.wrapping_add(1) & SEQ_MASK;
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
            .user_data(user_data(KIND_SEND, slot.seq, index));
        // SAFETY: the header, iovec, address and bytes are in the boxed slot,
        // marked in the kernel below and so not reused or freed until this
        // operation's completion is reaped (or leaked by Drop).
        if unsafe { self.push(&entry) } {
            self.send_slots[index].in_kernel = true;
            if let Some(live) = self.live_mut(token) {
                live.sends += 1;
            }
        } else {
            self.stats.send_errors += 1;
            self.free_send_slots.push(index);
        }
    }

    fn wait(&mut self, timeout: Option<Duration>, out: &mut Vec<Completion>) -> io::Result<()> {
        self.enter(timeout, 1, out)
    }

    fn wait_batch(
        &mut self,
        timeout: Duration,
        batch: usize,
        out: &mut Vec<Completion>,
    ) -> io::Result<()> {
        self.enter(Some(timeout), batch.max(1), out)
    }

    fn recv_data(&self, slot: usize, len: usize) -> &[u8] {
        match self.recv_slots.get(slot) {
            // Only a delivered slot: the kernel may be writing into an armed one.
            Some(Some(s)) if s.state == RecvState::Delivered => &s.buf[..len.min(s.buf.len())],
            _ => &[],
        }
    }

    fn release(&mut self, slot_index: usize) {
        match self.recv_slots.get_mut(slot_index) {
            Some(Some(slot)) if slot.state == RecvState::Delivered => {
                slot.state = RecvState::Parked;
            }
            _ => {
                self.stats.stale_releases += 1;
                return;
            }
        }
        // Re-armed if its socket is open, freed if it is closing.
        self.arm_recv(slot_index);
    }

    fn watch_readable(&mut self, fd: std::os::fd::RawFd) -> io::Result<()> {
        self.ready_fd = Some(fd);
        self.arm_ready();
        Ok(())
    }

    fn local_addr(&self, token: Token) -> Option<SocketAddr> {
        match self.live(token) {
            Some(live) if !live.closing => live.socket.as_ref()?.local_addr().ok(),
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

impl UringBackend {
    /// One `io_uring_enter`: submits what is queued and waits for `want`
    /// completions or the timeout (none: wait for `want`), then reaps.
    fn enter(
        &mut self,
        timeout: Option<Duration>,
        want: usize,
        out: &mut Vec<Completion>,
    ) -> io::Result<()> {
        self.retry_deferred();
        self.arm_ready();
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
                self.ring.submitter().submit_with_args(want, &args)
            }
            None => self.ring.submit_and_wait(want),
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
            let (kind, seq, index) = split_user_data(data);
            match kind {
                KIND_RECV => self.on_recv(index, seq, result, out),
                KIND_SEND => self.on_send(index, seq, result),
                KIND_WAKE => {
                    self.wake_armed = false;
                    out.push(Completion::Wake);
                    self.arm_wake();
                }
                KIND_READY => {
                    self.ready_armed = false;
                    out.push(Completion::Ready);
                }
                KIND_CANCEL if result == -libc::EALREADY => {
                    self.pending_cancels.push(user_data(KIND_RECV, seq, index));
                }
                _ => {}
            }
        }
        self.reaped = reaped;
        Ok(())
    }
}

impl Drop for UringBackend {
    fn drop(&mut self) {
        // Cancel everything the kernel may still write into.
        for index in 0..self.recv_slots.len() {
            if let Some(Some(slot)) = self.recv_slots.get(index) {
                if slot.state == RecvState::Armed {
                    let target = user_data(KIND_RECV, slot.seq, index);
                    self.push_cancel(target);
                }
            }
        }
        if self.wake_armed {
            self.push_cancel(user_data(KIND_WAKE, 0, 0));
        }
        if self.ready_armed {
            self.push_cancel(user_data(KIND_READY, 0, 0));
        }
        // Reap until the kernel holds none of our operations (bounded).
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            let in_kernel = self.wake_armed
                || self.ready_armed
                || self.send_slots.iter().any(|s| s.in_kernel)
                || self
                    .recv_slots
                    .iter()
                    .flatten()
                    .any(|s| s.state == RecvState::Armed);
            if !in_kernel || Instant::now() >= deadline {
                break;
            }
            let ts = types::Timespec::new().nsec(10_000_000);
            let args = types::SubmitArgs::new().timespec(&ts);
            if let Err(err) = self.ring.submitter().submit_with_args(1, &args) {
                match err.raw_os_error() {
                    Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY)
                    | Some(libc::EAGAIN) => {}
                    // E.g. dropped on another thread than the single issuer: leak below.
                    _ => break,
                }
            }
            self.reaped.clear();
            for cqe in self.ring.completion() {
                self.reaped
                    .push((cqe.user_data(), cqe.result(), cqe.flags()));
            }
            for &(data, _result, _flags) in &self.reaped {
                let (kind, seq, index) = split_user_data(data);
                match kind {
                    KIND_RECV => {
                        if let Some(Some(slot)) = self.recv_slots.get_mut(index) {
                            if slot.state == RecvState::Armed && slot.seq == seq {
                                slot.state = RecvState::Parked;
                            }
                        }
                    }
                    KIND_SEND => {
                        if let Some(slot) = self.send_slots.get_mut(index) {
                            if slot.seq == seq {
                                slot.in_kernel = false;
                            }
                        }
                    }
                    KIND_WAKE => self.wake_armed = false,
                    KIND_READY => self.ready_armed = false,
                    _ => {}
                }
            }
        }
        // Whatever is still in the kernel is leaked, never freed under it.
        let mut leaked = 0usize;
        for entry in &mut self.recv_slots {
            if matches!(entry, Some(slot) if slot.state == RecvState::Armed) {
                if let Some(slot) = entry.take() {
                    Box::leak(slot);
                    leaked += 1;
                }
            }
        }
        for slot in mem::take(&mut self.send_slots) {
            if slot.in_kernel {
                Box::leak(slot);
                leaked += 1;
            }
        }
        if self.wake_armed {
            Box::leak(mem::replace(&mut self.wake_buf, Box::new(0)));
            leaked += 1;
        }
        if leaked > 0 {
            log::warn!("io_uring backend dropped with {leaked} operation(s) still in the kernel; their memory is leaked");
        }
    }
}
