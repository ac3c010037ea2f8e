//! What a shard's event loop needs from the kernel, and the choice between the
//! io_uring and epoll implementations of it.
//!
//! A backend owns the shard's UDP sockets. It keeps receives in flight (or
//! registered) for every socket, queues sends so that they leave in batches, and
//! blocks in [`IoBackend::wait`] until a datagram, a cross-thread wake-up or the
//! next timer deadline. Received bytes stay in the backend's own buffers: the
//! loop reads them with [`IoBackend::recv_data`] and hands the slot back with
//! [`IoBackend::release`]. Nothing here allocates per packet once warm.

use std::fmt;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::str::FromStr;
use std::time::Duration;

use super::epoll::EpollBackend;
use super::uring::UringBackend;
use super::waker::Waker;

/// Identifies one socket registered with a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub u32);

impl Token {
    /// Position in the backend's socket table: dense, for the shell's own tables.
    pub fn index(self) -> usize {
        self.0 as usize
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
        token: Token,
        from: SocketAddr,
        slot: usize,
        len: usize,
    },
    /// Another thread called [`Waker::wake`].
    Wake,
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
}

/// The kernel interface of one shard.
pub trait IoBackend {
    /// Takes ownership of a bound UDP socket and starts receiving on it with
    /// `depth` receives in flight (io_uring) or a batch of `depth` per wake
    /// (epoll), into buffers of `max_datagram` bytes; longer datagrams are
    /// counted as truncated and dropped.
    fn register(
        &mut self,
        socket: UdpSocket,
        depth: usize,
        max_datagram: usize,
    ) -> io::Result<Token>;
    /// Stops receiving on `token` and closes its socket once nothing is in flight.
    fn close(&mut self, token: Token);
    /// Queues one datagram; it leaves at the next `wait` (or sooner if the queue is full).
    fn send(&mut self, token: Token, dest: SocketAddr, data: &[u8]);
    /// Flushes queued sends and blocks until something completes or `timeout` passes.
    fn wait(&mut self, timeout: Option<Duration>, out: &mut Vec<Completion>) -> io::Result<()>;
    /// The bytes of a completed receive.
    fn recv_data(&self, slot: usize, len: usize) -> &[u8];
    /// Hands a receive slot back (io_uring re-arms the receive with it).
    fn release(&mut self, slot: usize);
    /// The local address of a registered socket.
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
                log::warn!("io_uring unavailable ({err}); falling back to epoll");
                Ok(Box::new(EpollBackend::new(waker)?))
            }
        },
    }
}

/// Probes whether this kernel lets the process create an io_uring.
pub fn uring_available() -> bool {
    io_uring::IoUring::new(2).is_ok()
}
