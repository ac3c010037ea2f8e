//! The IO shell: one thread per core, each with its own event loop over
//! io_uring (or epoll where io_uring is refused), its own sockets, timers and
//! calls. Everything a call does happens on the shard that took it.
//!
//! This module is deliberately thin: it moves datagrams between sockets and the
//! sans-IO [`Host`](crate::call::Host), reads the clock, binds the ports the host picks, writes
//! CDRs, and hands SIP datagrams to the shard that owns their Call-ID.

mod backend;
mod cdr_writer;
mod clock;
mod dispatch;
mod epoll;
mod event_loop;
mod http;
mod recording_writer;
mod sockaddr;
mod speech;
mod tcp;
mod tls;
mod uring;
mod waker;

pub use backend::{
    open_backend, uring_available, Completion, IoBackend, IoChoice, Token, RTP_DATAGRAM,
    SIP_DATAGRAM,
};
pub use cdr_writer::{CdrSink, CdrWriter};
pub use clock::Clock;
pub use dispatch::owner_of;
pub use event_loop::bind_reuseport;
pub use http::{HttpPool, HttpWorkers};
pub use recording_writer::{RecordingSink, RecordingStats, RecordingWriter};
pub use tcp::{TcpSettings, TcpStats};
pub use tls::{TlsFiles, TlsSettings};
pub use waker::Waker;

use std::net::SocketAddr;
use std::sync::mpsc::{channel, sync_channel, SyncSender, TrySendError};
use std::sync::Arc;

use crate::call::{
    CallCommand, CallHandle, CallSnapshot, Host, HostConfig, HttpResult, Refusal, Router,
};
use crate::media::PromptCatalog;
use crate::metrics::ShardCounters;

use event_loop::ShardLoop;

/// How many messages a shard's inbox holds before senders must wait (or, for
/// shards, drop): bounded, so a flood on one core cannot exhaust memory.
const INBOX_CAPACITY: usize = 8192;

/// A message from another thread to a shard.
#[derive(Debug)]
pub enum ShardMsg {
    /// A SIP datagram another shard received for a call this shard owns.
    Sip {
        /// The datagram's source address (where responses go).
        from: SocketAddr,
        /// The datagram as received, unparsed.
        data: Vec<u8>,
    },
    /// A SIP message framed on another shard's TCP connection, for a call
    /// this shard owns; answers go back through [`ShardMsg::TcpSend`].
    SipStream {
        /// The connection's peer address.
        from: SocketAddr,
        /// The connection (the sending shard's).
        conn: crate::sip::ConnRef,
        /// The connection is TLS.
        tls: bool,
        /// One complete message.
        data: Vec<u8>,
    },
    /// A SIP message to write on a TCP connection this shard holds.
    TcpSend {
        /// The connection the core named.
        conn: crate::sip::ConnRef,
        /// Where the message goes (another connection to it, or a new one,
        /// if `conn` is gone).
        dest: SocketAddr,
        /// The serialized message.
        data: Vec<u8>,
        /// Whether it is a response (without a connection it goes to the
        /// top Via's sent-by, §18.2.2).
        response: bool,
        /// It must go over TLS.
        tls: bool,
    },
    /// A call on another shard started or stopped using this shard's connection.
    ConnInUse {
        /// The connection.
        conn: crate::sip::ConnRef,
        /// Started (true) or stopped (false).
        in_use: bool,
    },
    /// The result of an HTTP request a call on this shard made.
    Http {
        /// The call that made the request; if it has ended meanwhile the result is dropped.
        call: CallHandle,
        /// The response, or why there is none.
        result: HttpResult,
    },
    /// The speech a call on this shard waits for.
    Speech {
        /// The call; if it has ended meanwhile the prompt is dropped.
        call: CallHandle,
        /// The request's number.
        id: u64,
        /// The prompt, or why there is none.
        result: crate::call::SpeechResult,
    },
    /// A new routing table (configuration reloaded, flows published).
    Routes(Arc<Router>),
    /// A live-call command from the control plane for a call this shard
    /// owns; the shard applies it and answers on `reply` (never waiting:
    /// a requester that gave up is not waited for).
    Command {
        /// The call's SIP Call-ID.
        call_id: String,
        /// What to do.
        command: CallCommand,
        /// Where the applied/refused answer goes.
        reply: tokio::sync::oneshot::Sender<Result<(), Refusal>>,
    },
    /// The control plane asks for the calls in progress (all of them, or
    /// the one with this Call-ID).
    Calls {
        /// Only this call; none: every call of the shard.
        call_id: Option<String>,
        /// Where the list goes.
        reply: tokio::sync::oneshot::Sender<Vec<CallSnapshot>>,
    },
    /// Stop taking calls, hang up, drain, exit.
    Shutdown,
}

/// How to reach a shard from another thread.
#[derive(Clone, Debug)]
pub struct ShardPeer {
    sender: SyncSender<ShardMsg>,
    waker: Arc<Waker>,
}

impl ShardPeer {
    /// Delivers a message and wakes the shard, waiting for room in its inbox.
    /// For threads that may block (signals, HTTP workers) — never a shard.
    pub fn send(&self, message: ShardMsg) {
        if self.sender.send(message).is_ok() {
            self.waker.wake();
        }
    }

    /// Delivers a message if the inbox has room; a shard never blocks on
    /// another. `false`: the inbox was full (or the shard gone) and the message
    /// was dropped — for SIP, the sender's retransmission comes again.
    pub fn try_send(&self, message: ShardMsg) -> bool {
        match self.sender.try_send(message) {
            Ok(()) => {
                self.waker.wake();
                true
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
        }
    }
}

/// What the shards of one server share.
pub struct ServerPlan {
    /// How many shard threads to start (already resolved from "0 = one per core";
    /// 0 here starts one).
    pub shards: usize,
    /// Which IO backend every shard opens.
    pub io: IoChoice,
    /// The host settings every shard starts from (`rtp_ports` is the whole
    /// range; each shard takes its share); `shard` and `shards` are set per shard.
    pub host: HostConfig,
    /// The routing table the shards start with (replaced later by [`ShardMsg::Routes`]).
    pub router: Arc<Router>,
    /// The prompts calls can play, shared read-only.
    pub prompts: Arc<PromptCatalog>,
    /// Where every shard sends the CDRs of ended calls.
    pub cdr: CdrSink,
    /// Where every shard sends its calls' recordings.
    pub recordings: RecordingSink,
    /// The HTTP worker pool flows' HTTP requests go to.
    pub http: HttpPool,
    /// The speech workers free text goes to; `None`: no speech engine.
    pub speech: Option<crate::speech::SpeechPool>,
    /// The shared time origin, so all shards' `Time`s agree.
    pub clock: Clock,
    /// Pin shard thread `i` to core `i` (modulo the core count).
    pub pin_threads: bool,
    /// SIP over TCP on the SIP address too; `None`: UDP only.
    pub tcp: Option<TcpSettings>,
    /// SIP over TLS on its own address; `None`: no TLS.
    pub tls: Option<TlsSettings>,
}

/// A running server: its shards' threads and the way to stop them.
pub struct Server {
    peers: Arc<Vec<ShardPeer>>,
    counters: Arc<[Arc<ShardCounters>]>,
    done: std::sync::mpsc::Receiver<(usize, std::io::Result<()>)>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Starts one thread per shard.
    pub fn start(plan: ServerPlan) -> std::io::Result<Server> {
        ensure_address_free(plan.host.sip_addr)?;
        if plan.tcp.is_some() {
            ensure_tcp_address_free(plan.host.sip_addr)?;
        }
        if let Some(tls) = &plan.tls {
            ensure_tcp_address_free(tls.listen)?;
        }
        let shards = plan.shards.max(1);
        let mut inboxes = Vec::with_capacity(shards);
        let mut peers = Vec::with_capacity(shards);
        for _ in 0..shards {
            let (sender, receiver) = sync_channel(INBOX_CAPACITY);
            let waker = Arc::new(Waker::new()?);
            peers.push(ShardPeer {
                sender,
                waker: waker.clone(),
            });
            inboxes.push((receiver, waker));
        }
        let peers = Arc::new(peers);
        let counters: Arc<[Arc<ShardCounters>]> = (0..shards)
            .map(|_| Arc::new(ShardCounters::new()))
            .collect();
        let draining = Arc::new(std::sync::atomic::AtomicUsize::new(shards));
        let (done_tx, done) = channel();
        let mut threads = Vec::with_capacity(shards);
        let seed_base = plan.clock.now().as_micros() ^ u64::from(std::process::id()) << 32;
        for (index, (inbox, waker)) in inboxes.into_iter().enumerate() {
            let peers = peers.clone();
            let shard_counters = counters[index].clone();
            let draining = draining.clone();
            let done_tx = done_tx.clone();
            // Carrier registrations and OPTIONS keepalives live on shard 0 only.
            let (registrations, keepalives) = match index {
                0 => (
                    plan.host.registrations.clone(),
                    plan.host.keepalives.clone(),
                ),
                _ => (Vec::new().into(), Vec::new().into()),
            };
            let host_config = HostConfig {
                shard: index,
                shards,
                registrations,
                keepalives,
                ..plan.host.clone()
            };
            let router = plan.router.clone();
            let prompts = plan.prompts.clone();
            let cdr = plan.cdr.clone();
            let recordings = plan.recordings.clone();
            let http = plan.http.clone();
            let speech = plan.speech.clone();
            let clock = plan.clock;
            let io = plan.io;
            let pin = plan.pin_threads;
            let tcp_settings = plan.tcp;
            let tls_settings = plan.tls.clone();
            let thread = std::thread::Builder::new()
                .name(format!("shard-{index}"))
                .spawn(move || {
                    if pin {
                        pin_to_core(index);
                    }
                    let result = open_backend(io, &waker).and_then(|backend| {
                        let sip_listen = host_config.sip_addr;
                        let seed = seed_base
                            .wrapping_add(index as u64)
                            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
                        ShardLoop {
                            index,
                            host: Host::new(host_config, router, prompts, seed),
                            backend,
                            clock,
                            inbox,
                            peers,
                            cdr,
                            recordings,
                            http,
                            speech,
                            sip_listen,
                            tcp_settings,
                            tls_settings,
                            forward_drops: 0,
                            draining,
                            counters: shard_counters,
                        }
                        .run()
                    });
                    let _ = done_tx.send((index, result));
                })?;
            threads.push(thread);
        }
        Ok(Server {
            peers,
            counters,
            done,
            threads,
        })
    }

    /// Handles for sending messages to the shards (e.g. a shutdown).
    pub fn peers(&self) -> Arc<Vec<ShardPeer>> {
        self.peers.clone()
    }

    /// Every shard's counters, in shard order (what `/metrics` reads).
    pub fn counters(&self) -> Arc<[Arc<ShardCounters>]> {
        self.counters.clone()
    }

    /// Waits for every shard to stop; the first failure stops the others too.
    pub fn wait(self) -> Result<(), String> {
        let mut first_error = None;
        for _ in 0..self.threads.len() {
            match self.done.recv() {
                Ok((_, Ok(()))) => {}
                Ok((index, Err(err))) => {
                    log::error!("shard {index} failed: {err}");
                    if first_error.is_none() {
                        first_error = Some(format!("shard {index}: {err}"));
                    }
                    for peer in self.peers.iter() {
                        peer.send(ShardMsg::Shutdown);
                    }
                }
                Err(_) => break,
            }
        }
        for thread in self.threads {
            let _ = thread.join();
        }
        match first_error {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

/// The shards bind the SIP address with SO_REUSEPORT, which would also let them
/// share it with another process of the same user — a second callplane would
/// silently take half the calls. An exclusive bind first proves nobody holds it.
fn ensure_address_free(addr: SocketAddr) -> std::io::Result<()> {
    match std::net::UdpSocket::bind(addr) {
        Ok(_probe) => Ok(()),
        Err(err) => Err(std::io::Error::new(
            err.kind(),
            format!("SIP address {addr} is in use ({err}); is another callplane running?"),
        )),
    }
}

/// Refuses to start when the SIP TCP port is taken (say, by another
/// callplane: SO_REUSEPORT would otherwise share it silently).
fn ensure_tcp_address_free(addr: SocketAddr) -> std::io::Result<()> {
    match std::net::TcpListener::bind(addr) {
        Ok(_probe) => Ok(()),
        Err(err) => Err(std::io::Error::new(
            err.kind(),
            format!("SIP TCP address {addr} is in use ({err}); set [sip] tcp = false to run without TCP"),
        )),
    }
}

fn pin_to_core(index: usize) {
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET stays within it for small indices.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        libc::CPU_SET(index % cores, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            log::warn!(
                "shard {index}: cannot pin to a core: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

#[cfg(test)]
mod backend_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_inbox_drops_instead_of_blocking_the_sender() {
        let (sender, receiver) = sync_channel(1);
        let peer = ShardPeer {
            sender,
            waker: Arc::new(Waker::new().expect("eventfd")),
        };
        let sip = || ShardMsg::Sip {
            from: "127.0.0.1:5060".parse().unwrap(),
            data: b"OPTIONS".to_vec(),
        };
        assert!(peer.try_send(sip()));
        assert!(!peer.try_send(sip()), "second message must not fit");
        assert!(matches!(receiver.try_recv(), Ok(ShardMsg::Sip { .. })));
        assert!(peer.try_send(sip()), "room again after the shard drained");
        drop(receiver);
        assert!(!peer.try_send(sip()), "a gone shard is a drop, not a panic");
    }
}
