//! The thin IO shell of one generator thread: a shard backend (io_uring or
//! epoll), the SIP socket, one RTP socket per call, and the clock; it feeds
//! the [`Generator`] what arrived and sends what it asks for, the way
//! `shard::event_loop` drives `Host`.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::shard::{
    open_backend, Clock, Completion, IoBackend, IoChoice, Token, Waker, RTP_DATAGRAM, SIP_DATAGRAM,
};
use crate::time::Time;

use super::call::{CallRecord, CallShared};
use super::generator::{Generator, GeneratorConfig, Output, Second, Via};

/// Receives kept in flight on the SIP socket.
const SIP_DEPTH: usize = 64;
/// Receives kept in flight per RTP socket.
const RTP_DEPTH: usize = 2;
/// The longest sleep, so a stop request is seen.
const MAX_WAIT: Duration = Duration::from_millis(100);

/// Live counters one thread publishes for the progress line.
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Calls started.
    pub started: AtomicU64,
    /// Calls up.
    pub active: AtomicU64,
    /// Calls ended.
    pub finished: AtomicU64,
    /// Calls failed.
    pub failed: AtomicU64,
}

/// What one thread measured.
pub struct ThreadResult {
    /// The calls.
    pub records: Vec<CallRecord>,
    /// Every gap between RTP arrivals, µs.
    pub gaps_us: Vec<u32>,
    /// Per-second figures.
    pub seconds: Vec<Second>,
    /// `"io_uring"` or `"epoll"`.
    pub backend: &'static str,
}

/// The address this machine uses to reach `target` (what our Via and SDP name).
pub fn local_ip_towards(target: SocketAddr) -> io::Result<IpAddr> {
    let bind: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse().map_err(io::Error::other)?
    } else {
        "[::]:0".parse().map_err(io::Error::other)?
    };
    let probe = UdpSocket::bind(bind)?;
    probe.connect(target)?;
    Ok(probe.local_addr()?.ip())
}

/// Runs one generator until its calls are done (or `stop` is set and the
/// calls up have ended).
pub fn run_generator(
    clock: Clock,
    io: IoChoice,
    mut config: GeneratorConfig,
    shared: Arc<CallShared>,
    stop: Arc<AtomicBool>,
    live: Arc<LiveCounters>,
) -> io::Result<ThreadResult> {
    let waker = Waker::new()?;
    let mut backend = open_backend(io, &waker)?;
    let ip = local_ip_towards(config.target)?;
    let sip_socket = UdpSocket::bind(SocketAddr::new(ip, 0))?;
    config.local_sip = sip_socket.local_addr()?;
    let sip = backend.register(sip_socket, SIP_DEPTH, SIP_DATAGRAM)?;
    let mut generator = Generator::new(clock.now(), config, shared);
    let mut shell = Shell {
        backend: backend.as_mut(),
        sip,
        rtp_ip: ip,
        by_key: HashMap::new(),
        by_token: HashMap::new(),
        buf: vec![0u8; SIP_DATAGRAM],
    };
    let mut completions = Vec::with_capacity(256);
    let mut stopping = false;
    loop {
        let now = clock.now();
        if !stopping && stop.load(Ordering::Relaxed) {
            stopping = true;
            generator.stop();
        }
        generator.handle_timeout(now);
        let deadline = shell.drain(&mut generator, &clock);
        publish(&generator, &live);
        if generator.is_done() {
            break;
        }
        let now = clock.now();
        let wait = if deadline <= now {
            Duration::ZERO
        } else {
            (deadline - now).min(MAX_WAIT)
        };
        completions.clear();
        shell.backend.wait(Some(wait), &mut completions)?;
        let now = clock.now();
        for completion in completions.drain(..) {
            let Completion::Recv {
                token,
                from,
                slot,
                len,
            } = completion
            else {
                continue;
            };
            {
                let data = shell.backend.recv_data(slot, len);
                if token == shell.sip {
                    generator.handle_sip(now, from, data);
                } else if let Some(&key) = shell.by_token.get(&token) {
                    generator.handle_rtp(now, key, data);
                }
            }
            shell.backend.release(slot);
            shell.drain(&mut generator, &clock);
        }
    }
    let backend_name = shell.backend.name();
    let (records, gaps_us, seconds) = generator.finish();
    Ok(ThreadResult {
        records,
        gaps_us,
        seconds,
        backend: backend_name,
    })
}

fn publish(generator: &Generator, live: &LiveCounters) {
    let p = generator.progress();
    live.started.store(p.started, Ordering::Relaxed);
    live.active.store(p.active, Ordering::Relaxed);
    live.finished.store(p.finished, Ordering::Relaxed);
    live.failed.store(p.failed, Ordering::Relaxed);
}

struct Shell<'a> {
    backend: &'a mut dyn IoBackend,
    sip: Token,
    rtp_ip: IpAddr,
    by_key: HashMap<u64, Token>,
    by_token: HashMap<Token, u64>,
    buf: Vec<u8>,
}

impl Shell<'_> {
    /// Does what the generator asks until it names its next deadline.
    fn drain(&mut self, generator: &mut Generator, clock: &Clock) -> Time {
        loop {
            match generator.poll_output(&mut self.buf) {
                Output::Timeout(at) => return at,
                Output::Transmit { via, dest, len } => {
                    let token = match via {
                        Via::Sip => Some(self.sip),
                        Via::Rtp(key) => self.by_key.get(&key).copied(),
                    };
                    if let Some(token) = token {
                        self.backend.send(token, dest, &self.buf[..len]);
                    }
                }
                Output::BindRtp(key) => {
                    let bound =
                        UdpSocket::bind(SocketAddr::new(self.rtp_ip, 0)).and_then(|socket| {
                            let local = socket.local_addr()?;
                            let token = self.backend.register(socket, RTP_DEPTH, RTP_DATAGRAM)?;
                            Ok((token, local))
                        });
                    let local = match bound {
                        Ok((token, local)) => {
                            self.by_key.insert(key, token);
                            self.by_token.insert(token, key);
                            Some(local)
                        }
                        Err(err) => {
                            log::warn!("cannot open an RTP socket: {err}");
                            None
                        }
                    };
                    generator.handle_rtp_socket(clock.now(), key, local);
                }
                Output::CloseRtp(key) => {
                    if let Some(token) = self.by_key.remove(&key) {
                        self.by_token.remove(&token);
                        self.backend.close(token);
                    }
                }
            }
        }
    }
}
