//! What a shard's event loop needs from the kernel, and the choice between the
//! io_uring and epoll implementations of it.
//!
//! A backend owns the shard's UDP sockets. It keeps receives in flight (or
//! registered) for every socket, queues sends so that they leave in batches, and
//! blocks in [`IoBackend::wait`] until a datagram, a cross-thread wake-up or the
//! next timer deadline. Received bytes stay in the backend's own buffers: the
//! loop reads them with [`IoBackend::recv_data`] and hands the slot back with
//! [`IoBackend::release`]. Nothing here allocates per packet once warm.
//!
//! # Tokens, slots and their lifetimes
//!
//! A [`Token`] names one registration of one socket: an index into the
//! backend's socket table and the generation of that table entry. An entry's
//! index is reused only after the socket it held is entirely gone — closed,
//! every kernel operation on it reaped, every receive slot delivered for it
//! released — and each reuse bumps the generation, so a token never names two
//! sockets (short of 2³² reuses of one index). A shell may therefore keep a
//! dense table indexed by [`Token::index`] and compare [`Token::generation`], or
//! key a map by the whole token: a completion for a socket that has since been
//! closed never matches the socket registered after it.
//!
//! A receive slot named in a [`Completion::Recv`] belongs to the loop from the
//! moment `wait` returns it until the loop calls [`IoBackend::release`] for it,
//! exactly once: see [`IoBackend::release`] for what that entails.

use std::fmt;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::str::FromStr;
use std::time::Duration;

use super::epoll::EpollBackend;
use super::uring::UringBackend;
use super::waker::Waker;

/// Identifies one registration of a socket with a backend: the index of its
/// entry in the backend's socket table and that entry's generation, which
/// changes every time the index is given to a new socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token {
    index: u32,
    generation: u32,
}

impl Token {
    /// Builds a token; only backends mint them.
    pub(super) fn new(index: u32, generation: u32) -> Token {
        Token { index, generation }
    }

    /// The socket table index: dense, small, reused once the socket is gone.
    pub fn index(self) -> usize {
        self.index as usize
    }

    /// Which use of [`Token::index`] this is: a table indexed by `index()` holds
    /// this socket only while the generations match.
    pub fn generation(self) -> u32 {
        self.generation
    }
}

/// Receive buffer size for SIP sockets: any UDP datagram.
pub const SIP_DATAGRAM: usize = 65_535;
/// Receive buffer size for RTP sockets: a datagram over this is not RTP we take.
pub const RTP_DATAGRAM: usize = 2048;

/// Something the kernel finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completion {
    /// A datagram arrived on `token` from `from`; its bytes are in receive slot `slot`.
    Recv {
        /// The socket it arrived on (compare with the token the shell holds:
        /// a closed socket's late completion carries the old generation).
        token: Token,
        /// Its source address.
        from: SocketAddr,
        /// The receive slot holding its bytes: read with `recv_data`, then
        /// `release` it exactly once.
        slot: usize,
        /// Bytes received.
        len: usize,
    },
    /// Another thread called [`Waker::wake`].
    Wake,
    /// The descriptor given to [`IoBackend::watch_readable`] is readable.
    Ready,
}

/// Counters a backend keeps about its own work.
#[derive(Clone, Copy, Debug, Default)]
pub struct BackendStats {
    pub syscalls: u64,
    pub datagrams_received: u64,
    pub datagrams_sent: u64,
    pub send_errors: u64,
    pub recv_errors: u64,
    pub truncated: u64,
    /// [`IoBackend::release`] calls for a slot that was not delivered (a second
    /// release, or a slot number never handed out): ignored, counted here.
    pub stale_releases: u64,
    /// Completions dropped because their socket had been closed.
    pub dropped_after_close: u64,
}

/// The kernel interface of one shard.
pub trait IoBackend {
    /// Takes ownership of a bound UDP socket and starts receiving on it with
    /// `depth` receives in flight (io_uring) or a batch of `depth` per wake
    /// (epoll), into buffers of `max_datagram` bytes; longer datagrams are
    /// counted as truncated and dropped. The token differs from every token
    /// this backend handed out before for a socket that is still known to it
    /// (open, closing, or with delivered slots unreleased) — and, through the
    /// generation, from every earlier token with the same index.
    fn register(
        &mut self,
        socket: UdpSocket,
        depth: usize,
        max_datagram: usize,
    ) -> io::Result<Token>;
    /// Stops receiving on `token` and closes its socket once no kernel
    /// operation on it is in flight (sends already queued still leave).
    ///
    /// Late completions are dropped: no `wait` after this call returns a
    /// completion for `token`. Completions for `token` that an earlier `wait`
    /// already returned stay valid — their slots keep their bytes and must
    /// still be released — and their token no longer matches any open socket
    /// (`local_addr` is `None` for it). The token's index is not reused until
    /// every such slot has been released. Closing an unknown or already closed
    /// token does nothing.
    fn close(&mut self, token: Token);
    /// Queues one datagram; it leaves at the next `wait` (or sooner if the
    /// queue is full). On a closed or unknown token it is counted as a send
    /// error and dropped — never sent from another socket.
    fn send(&mut self, token: Token, dest: SocketAddr, data: &[u8]);
    /// Flushes queued sends and blocks until something completes or `timeout`
    /// passes, appending what completed to `out`. Every `Completion::Recv`
    /// appended hands its slot to the caller (see [`IoBackend::release`]).
    fn wait(&mut self, timeout: Option<Duration>, out: &mut Vec<Completion>) -> io::Result<()>;
    /// Like [`IoBackend::wait`] with a timeout, but may keep sleeping until
    /// `batch` operations have completed (or `timeout` passes), so that a busy
    /// shard wakes once per timer instead of once per datagram. Backends that
    /// cannot wait for a count (epoll) wake at the first completion.
    fn wait_batch(
        &mut self,
        timeout: Duration,
        batch: usize,
        out: &mut Vec<Completion>,
    ) -> io::Result<()> {
        let _ = batch;
        self.wait(Some(timeout), out)
    }
    /// The bytes of a delivered receive: `len` bytes of slot `slot`, unchanged
    /// from the moment `wait` delivered it until it is released, whatever
    /// happened to its socket meanwhile. Empty for a slot that does not exist.
    fn recv_data(&self, slot: usize, len: usize) -> &[u8];
    /// Hands a delivered receive slot back.
    ///
    /// Between the `wait` that delivered a slot and this call, the slot is the
    /// loop's: the backend neither frees it, nor reuses it, nor lets the kernel
    /// write into it, so the loop may read it with `recv_data` any number of
    /// times, across further `wait`, `close`, `register` and `send` calls. After
    /// this call the slot number means nothing to the loop: the backend re-arms
    /// it (io_uring) or pools it (epoll), or frees it if its socket is closed.
    ///
    /// Every delivered slot must be released exactly once; until then a closed
    /// socket's token index stays reserved. Releasing a slot that is not
    /// currently delivered (twice, or a number never handed out) does nothing
    /// but count [`BackendStats::stale_releases`].
    fn release(&mut self, slot: usize);
    /// Reports [`Completion::Ready`] whenever `fd` is readable: one
    /// descriptor per backend (the shell's TCP epoll instance; a second call
    /// replaces the first). Level-triggered: reported again at later waits
    /// while it stays readable. The descriptor must outlive the backend's use
    /// of it (the shell drops it after the backend).
    fn watch_readable(&mut self, fd: std::os::fd::RawFd) -> io::Result<()>;
    /// The local address of an open socket; `None` once `token` is closed.
    fn local_addr(&self, token: Token) -> Option<SocketAddr>;
    /// Counters.
    fn stats(&self) -> BackendStats;
    /// `"io_uring"` or `"epoll"`, for the log.
    fn name(&self) -> &'static str;
}

/// Which backend the operator asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IoChoice {
    /// io_uring where the kernel allows it, else epoll.
    #[default]
    Auto,
    /// io_uring or fail.
    Uring,
    /// epoll with recvmmsg/sendmmsg.
    Epoll,
}

impl FromStr for IoChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(IoChoice::Auto),
            "uring" | "io_uring" => Ok(IoChoice::Uring),
            "epoll" => Ok(IoChoice::Epoll),
            other => Err(format!("expected auto, uring or epoll, got {other:?}")),
        }
    }
}

impl fmt::Display for IoChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IoChoice::Auto => "auto",
            IoChoice::Uring => "uring",
            IoChoice::Epoll => "epoll",
        })
    }
}

/// Builds the backend `choice` names; `Auto` falls back to epoll when the
/// kernel refuses io_uring (seccomp, old kernel, `io_uring_disabled`).
pub fn open_backend(choice: IoChoice, waker: &Waker) -> io::Result<Box<dyn IoBackend>> {
    match choice {
        IoChoice::Uring => Ok(Box::new(UringBackend::new(waker)?)),
        IoChoice::Epoll => Ok(Box::new(EpollBackend::new(waker)?)),
        IoChoice::Auto => match UringBackend::new(waker) {
            Ok(backend) => Ok(Box::new(backend)),
            Err(err) => {
                // EPERM: a seccomp filter (Docker's default profile) or
                // kernel.io_uring_disabled refuses io_uring_setup.
                let why = match err.raw_os_error() {
                    Some(libc::EPERM) => " (refused: a seccomp filter, such as Docker's default, or kernel.io_uring_disabled)",
                    Some(libc::ENOSYS) => " (this kernel has no io_uring)",
                    _ => "",
                };
                log::warn!("io_uring unavailable: {err}{why}; falling back to epoll");
                Ok(Box::new(EpollBackend::new(waker)?))
            }
        },
    }
}

/// Probes whether this kernel lets the process create an io_uring.
pub fn uring_available() -> bool {
    io_uring::IoUring::new(2).is_ok()
}
