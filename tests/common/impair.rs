//! A seeded UDP impairment relay: the bad link between a test's peer (sipp,
//! "the client") and callplane ("the server"), for kernels without netem.
//!
//! # Shape
//!
//! A [`Relay`] has one **server-facing** socket and any number of **routes**.
//! Each route has its own **client-facing** socket and names the server address
//! it leads to:
//!
//! ```text
//!   client ──▶ route's client-facing socket ══ impair ══▶ server-facing socket ──▶ route's server
//!   client ◀── route's client-facing socket ◀══ impair ══ server-facing socket ◀── route's server
//! ```
//!
//! A datagram arriving on a route's client-facing socket leaves by the
//! server-facing socket to the route's server address. A datagram arriving on the
//! server-facing socket is matched to a route by where it came from (the route's
//! server address) and leaves by that route's client-facing socket, to the route's
//! client: a fixed address, or the last address that sent on the client-facing
//! socket (learned, as a NAT would). So the client is told the client-facing
//! address in place of the server's, and the server sees (and answers to) the
//! server-facing address.
//!
//! For SIP that is one route (callplane answers to the source of a request, and
//! sends its BYE there too). For RTP, give the relay one route per port of
//! callplane's RTP range, each client-facing socket on the same port of another
//! loopback address (`127.0.0.2`, named by callplane's `[rtp] advertised_address`),
//! and put the server-facing socket where the client's SDP says its media is: the
//! server's packets to the SDP address and its symmetric-RTP latch both land on
//! the relay. `tests/e2e_lossy_link.rs` wires both.
//!
//! # Impairment
//!
//! Each direction ([`Direction::ToServer`], [`Direction::ToClient`]) has its own
//! [`Impairment`]: loss, reordering and duplication in percent, an added delay
//! with uniform jitter. A datagram chosen for reordering is held back until the
//! next datagram of its route and direction has been sent (then it follows it), or
//! until a random point of the reorder window has passed, whichever is first. A
//! duplicate is sent right after its original.
//!
//! # Determinism and bounds
//!
//! Every route and direction draws from its own PRNG (`fastrand`, seeded from the
//! relay's seed, the route's index and the direction), the same number of draws
//! per datagram, so the fate of a flow's n-th datagram depends on the seed, the
//! route and n only, whatever else crosses the relay. Delay, jitter and reorder
//! window are capped at [`MAX_HOLD`] each; at most [`MAX_PENDING`] datagrams wait
//! at once (more are dropped and counted as `overflow`).
//!
//! # Counts
//!
//! [`Relay::stats`] tells per direction what happened (received, forwarded,
//! dropped, held back, reordered, duplicated, overflow, send errors), so a test
//! can assert the impairment really happened. `reordered` counts datagrams sent
//! after one of the same route and direction that arrived after them, whatever
//! the cause (a hold, or jitter larger than the spacing).
//!
//! The relay runs on its own thread and stops when dropped (or by [`Relay::stop`]).
//! Its own tests are in `tests/impair_relay.rs`.

use std::collections::HashMap;
use std::fmt;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The longest delay, jitter or reorder window an [`Impairment`] may ask for.
pub const MAX_HOLD: Duration = Duration::from_secs(5);
/// The most datagrams waiting in the relay at once.
pub const MAX_PENDING: usize = 4096;
/// The longest the relay thread sleeps before it looks at its stop flag.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Rounds of receiving between two looks at what is due.
const RECEIVE_ROUNDS: usize = 64;

/// Which way a datagram goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

/// What one direction of the link does to its datagrams.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Impairment {
    /// Datagrams dropped, in percent.
    pub loss_percent: f64,
    /// Datagrams held back to follow the next one, in percent.
    pub reorder_percent: f64,
    /// Datagrams sent twice, in percent.
    pub duplicate_percent: f64,
    /// Added to every datagram's way.
    pub delay: Duration,
    /// Up to this much more, uniformly drawn per datagram.
    pub jitter: Duration,
    /// A held-back datagram waits for the next one at most a random point in
    /// the second half of this window.
    pub reorder_window: Duration,
}

impl Impairment {
    /// No impairment: a clean pipe.
    pub const CLEAN: Impairment = Impairment {
        loss_percent: 0.0,
        reorder_percent: 0.0,
        duplicate_percent: 0.0,
        delay: Duration::ZERO,
        jitter: Duration::ZERO,
        reorder_window: Duration::from_millis(100),
    };

    /// Loss, reordering and duplication in percent; no added delay; a 100 ms
    /// reorder window.
    pub fn lossy(loss_percent: f64, reorder_percent: f64, duplicate_percent: f64) -> Impairment {
        Impairment {
            loss_percent,
            reorder_percent,
            duplicate_percent,
            ..Impairment::CLEAN
        }
    }

    /// The same with `delay` plus up to `jitter` added to every datagram.
    pub fn delayed(self, delay: Duration, jitter: Duration) -> Impairment {
        Impairment {
            delay,
            jitter,
            ..self
        }
    }

    fn check(&self, direction: Direction) {
        for (name, value) in [
            ("loss_percent", self.loss_percent),
            ("reorder_percent", self.reorder_percent),
            ("duplicate_percent", self.duplicate_percent),
        ] {
            assert!(
                (0.0..=100.0).contains(&value),
                "relay {direction:?}: {name} = {value} is not in 0..=100"
            );
        }
        for (name, value) in [
            ("delay", self.delay),
            ("jitter", self.jitter),
            ("reorder_window", self.reorder_window),
        ] {
            assert!(
                value <= MAX_HOLD,
                "relay {direction:?}: {name} = {value:?} is above {MAX_HOLD:?}"
            );
        }
    }
}

/// What the relay did in one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirectionStats {
    /// Datagrams that arrived.
    pub received: u64,
    /// Datagrams sent on (each once; duplicates are counted apart).
    pub forwarded: u64,
    /// Datagrams dropped as loss.
    pub dropped: u64,
    /// Datagrams chosen to be held back.
    pub held: u64,
    /// Datagrams sent after one of their route that arrived after them.
    pub reordered: u64,
    /// Extra copies sent.
    pub duplicated: u64,
    /// Datagrams dropped because [`MAX_PENDING`] were waiting.
    pub overflow: u64,
    /// Datagrams that could not go anywhere: from an address no route serves,
    /// or for a client not learned yet.
    pub unroutable: u64,
    /// Sends the kernel refused (an ICMP error of an earlier one, a full buffer).
    pub send_errors: u64,
}

impl DirectionStats {
    /// Datagrams put on the wire: forwarded plus duplicates.
    pub fn sent(&self) -> u64 {
        self.forwarded + self.duplicated
    }
}

/// What the relay did, both ways.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayStats {
    pub to_server: DirectionStats,
    pub to_client: DirectionStats,
}

impl RelayStats {
    /// One direction's counts.
    pub fn direction(&self, direction: Direction) -> &DirectionStats {
        match direction {
            Direction::ToServer => &self.to_server,
            Direction::ToClient => &self.to_client,
        }
    }

    fn direction_mut(&mut self, direction: Direction) -> &mut DirectionStats {
        match direction {
            Direction::ToServer => &mut self.to_server,
            Direction::ToClient => &mut self.to_client,
        }
    }
}

impl fmt::Display for RelayStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, stats) in [
            ("to server", &self.to_server),
            ("to client", &self.to_client),
        ] {
            writeln!(
                f,
                "{name}: received {}, forwarded {}, dropped {}, held {}, reordered {}, \
                 duplicated {}, overflow {}, unroutable {}, send errors {}",
                stats.received,
                stats.forwarded,
                stats.dropped,
                stats.held,
                stats.reordered,
                stats.duplicated,
                stats.overflow,
                stats.unroutable,
                stats.send_errors
            )?;
        }
        Ok(())
    }
}

/// A route being set up.
struct RouteSpec {
    socket: UdpSocket,
    server: SocketAddr,
    client: Option<SocketAddr>,
}

/// A relay being set up: its seed, impairments, server-facing address and routes.
pub struct RelayBuilder {
    seed: u64,
    to_server: Impairment,
    to_client: Impairment,
    server_facing: SocketAddr,
    routes: Vec<RouteSpec>,
}

impl RelayBuilder {
    /// The same impairment both ways.
    pub fn impair_both(self, impairment: Impairment) -> RelayBuilder {
        self.impair_to_server(impairment)
            .impair_to_client(impairment)
    }

    /// What happens to datagrams from the client to the server.
    pub fn impair_to_server(mut self, impairment: Impairment) -> RelayBuilder {
        impairment.check(Direction::ToServer);
        self.to_server = impairment;
        self
    }

    /// What happens to datagrams from the server to the client.
    pub fn impair_to_client(mut self, impairment: Impairment) -> RelayBuilder {
        impairment.check(Direction::ToClient);
        self.to_client = impairment;
        self
    }

    /// Where the server-facing socket binds (default: 127.0.0.1, any port).
    pub fn server_facing(mut self, addr: SocketAddr) -> RelayBuilder {
        self.server_facing = addr;
        self
    }

    /// A route whose client-facing socket binds `listen`, leading to `server`;
    /// the client is whoever last sent on it.
    pub fn route(self, listen: SocketAddr, server: SocketAddr) -> RelayBuilder {
        self.route_socket(bind(listen, "client-facing"), server)
    }

    /// A route whose client-facing socket binds `listen`, leading to `server`;
    /// the server's datagrams go to `client`.
    pub fn route_to(
        mut self,
        listen: SocketAddr,
        server: SocketAddr,
        client: SocketAddr,
    ) -> RelayBuilder {
        self = self.route(listen, server);
        if let Some(route) = self.routes.last_mut() {
            route.client = Some(client);
        }
        self
    }

    /// A route on a client-facing socket already bound (to learn its address
    /// before the server starts); the client is whoever last sent on it.
    pub fn route_socket(mut self, socket: UdpSocket, server: SocketAddr) -> RelayBuilder {
        assert!(
            self.routes.iter().all(|route| route.server != server),
            "relay: two routes lead to {server}: the server's datagrams could not be told apart"
        );
        self.routes.push(RouteSpec {
            socket,
            server,
            client: None,
        });
        self
    }

    /// Binds the server-facing socket and starts the relay thread.
    pub fn start(self) -> Relay {
        assert!(!self.routes.is_empty(), "relay: no route");
        let server_socket = bind(self.server_facing, "server-facing");
        let server_facing = server_socket
            .local_addr()
            .expect("the server-facing socket's address");
        let mut client_facing = Vec::new();
        let mut routes = Vec::new();
        for (index, spec) in self.routes.into_iter().enumerate() {
            let addr = spec
                .socket
                .local_addr()
                .expect("a client-facing socket's address");
            client_facing.push(addr);
            routes.push(Route {
                socket: spec.socket,
                server: spec.server,
                client: spec.client,
                fixed_client: spec.client.is_some(),
                to_server: Lane::new(self.seed, index, Direction::ToServer),
                to_client: Lane::new(self.seed, index, Direction::ToClient),
            });
        }
        for socket in std::iter::once(&server_socket).chain(routes.iter().map(|r| &r.socket)) {
            socket
                .set_nonblocking(true)
                .expect("make a relay socket non-blocking");
        }
        let stats = Arc::new(Mutex::new(RelayStats::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let by_server = routes
            .iter()
            .enumerate()
            .map(|(index, route)| (route.server, index))
            .collect();
        let worker = Worker {
            server_socket,
            routes,
            by_server,
            impairments: [self.to_server, self.to_client],
            pending: Vec::new(),
            next_order: 0,
            stats: Arc::clone(&stats),
            stop: Arc::clone(&stop),
        };
        let thread = thread::Builder::new()
            .name("impair-relay".into())
            .spawn(move || worker.run())
            .expect("start the relay thread");
        Relay {
            seed: self.seed,
            server_facing,
            client_facing,
            stats,
            stop,
            thread: Some(thread),
        }
    }
}

fn bind(addr: SocketAddr, what: &str) -> UdpSocket {
    UdpSocket::bind(addr)
        .unwrap_or_else(|err| panic!("relay: cannot bind its {what} socket on {addr}: {err}"))
}

/// A running relay; stops when dropped.
pub struct Relay {
    seed: u64,
    server_facing: SocketAddr,
    client_facing: Vec<SocketAddr>,
    stats: Arc<Mutex<RelayStats>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    /// A relay drawing from `seed`, clean both ways until told otherwise.
    pub fn builder(seed: u64) -> RelayBuilder {
        RelayBuilder {
            seed,
            to_server: Impairment::CLEAN,
            to_client: Impairment::CLEAN,
            server_facing: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            routes: Vec::new(),
        }
    }

    /// Its seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Where the server's datagrams must go (and where the client's come from).
    pub fn server_facing(&self) -> SocketAddr {
        self.server_facing
    }

    /// Route `index`'s client-facing address: where the client sends.
    pub fn client_facing(&self, index: usize) -> SocketAddr {
        self.client_facing[index]
    }

    /// What it did so far.
    pub fn stats(&self) -> RelayStats {
        *self
            .stats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stops the thread (datagrams still held are dropped) and returns the counts.
    pub fn stop(mut self) -> RelayStats {
        self.halt();
        self.stats()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() && !thread::panicking() {
                panic!("the relay thread panicked");
            }
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.halt();
    }
}

/// One route and direction's generator and order keeping.
struct Lane {
    rng: fastrand::Rng,
    /// Datagrams that arrived so far: the next one's arrival index.
    arrived: u64,
    /// The highest arrival index sent so far.
    highest_sent: Option<u64>,
}

impl Lane {
    fn new(seed: u64, route: usize, direction: Direction) -> Lane {
        let lane = ((route as u64) << 1) | u64::from(direction == Direction::ToClient);
        Lane {
            rng: fastrand::Rng::with_seed(splitmix(seed ^ splitmix(lane))),
            arrived: 0,
            highest_sent: None,
        }
    }
}

/// SplitMix64's finaliser: spreads nearby seeds apart.
fn splitmix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Route {
    socket: UdpSocket,
    server: SocketAddr,
    client: Option<SocketAddr>,
    fixed_client: bool,
    to_server: Lane,
    to_client: Lane,
}

impl Route {
    fn lane(&mut self, direction: Direction) -> &mut Lane {
        match direction {
            Direction::ToServer => &mut self.to_server,
            Direction::ToClient => &mut self.to_client,
        }
    }
}

/// A datagram waiting to be sent.
struct Pending {
    due: Instant,
    /// Ties between datagrams due at once go in arrival order.
    order: u64,
    route: usize,
    direction: Direction,
    index: u64,
    /// Held back: also sent as soon as a later datagram of its lane is.
    held: bool,
    copies: u8,
    dest: SocketAddr,
    data: Vec<u8>,
}

struct Worker {
    server_socket: UdpSocket,
    routes: Vec<Route>,
    by_server: HashMap<SocketAddr, usize>,
    /// To server, to client.
    impairments: [Impairment; 2],
    pending: Vec<Pending>,
    next_order: u64,
    stats: Arc<Mutex<RelayStats>>,
    stop: Arc<AtomicBool>,
}

impl Worker {
    fn run(mut self) {
        let mut buf = vec![0u8; 65_536];
        while !self.stop.load(Ordering::Relaxed) {
            self.wait_readable();
            let now = Instant::now();
            self.receive_all(now, &mut buf);
            self.send_due(Instant::now());
        }
    }

    /// Sleeps until a socket is readable, the next datagram is due or
    /// [`POLL_INTERVAL`] passed.
    fn wait_readable(&self) {
        let now = Instant::now();
        let wait = self
            .pending
            .iter()
            .map(|pending| pending.due.saturating_duration_since(now))
            .min()
            .unwrap_or(POLL_INTERVAL)
            .min(POLL_INTERVAL);
        if !self.pending.is_empty() && wait.is_zero() {
            return;
        }
        let mut fds: Vec<libc::pollfd> = std::iter::once(&self.server_socket)
            .chain(self.routes.iter().map(|route| &route.socket))
            .map(|socket| libc::pollfd {
                fd: socket.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // Round up so a wait of a few hundred µs does not spin.
        let timeout_ms = wait.as_micros().div_ceil(1000).max(1) as libc::c_int;
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structures that
        // lives across the call; poll(2) only writes their `revents`.
        unsafe {
            libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms);
        }
    }

    /// Takes what the sockets hold, a datagram per socket per round, for at
    /// most [`RECEIVE_ROUNDS`] rounds (then what is due gets sent).
    fn receive_all(&mut self, now: Instant, buf: &mut [u8]) {
        for _ in 0..RECEIVE_ROUNDS {
            let mut any = false;
            match self.server_socket.recv_from(buf) {
                Ok((len, from)) => {
                    any = true;
                    match self.by_server.get(&from).copied() {
                        Some(route) => match self.routes[route].client {
                            Some(client) => {
                                self.arrive(now, route, Direction::ToClient, client, &buf[..len])
                            }
                            None => self.count(Direction::ToClient, |s| s.unroutable += 1),
                        },
                        None => self.count(Direction::ToClient, |s| s.unroutable += 1),
                    }
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => {}
                // An ICMP error of an earlier send surfaces here: nothing to receive.
                Err(_) => any = true,
            }
            for route in 0..self.routes.len() {
                match self.routes[route].socket.recv_from(buf) {
                    Ok((len, from)) => {
                        any = true;
                        if !self.routes[route].fixed_client {
                            self.routes[route].client = Some(from);
                        }
                        let server = self.routes[route].server;
                        self.arrive(now, route, Direction::ToServer, server, &buf[..len]);
                    }
                    Err(err) if err.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => any = true,
                }
            }
            if !any {
                return;
            }
        }
    }

    fn impairment(&self, direction: Direction) -> &Impairment {
        match direction {
            Direction::ToServer => &self.impairments[0],
            Direction::ToClient => &self.impairments[1],
        }
    }

    /// Decides a datagram's fate: dropped, or queued (held, duplicated, delayed).
    fn arrive(
        &mut self,
        now: Instant,
        route: usize,
        direction: Direction,
        dest: SocketAddr,
        data: &[u8],
    ) {
        let impairment = *self.impairment(direction);
        let lane = self.routes[route].lane(direction);
        let index = lane.arrived;
        lane.arrived += 1;
        // The same five draws for every datagram, whatever its fate.
        let lose = lane.rng.f64() * 100.0 < impairment.loss_percent;
        let hold = lane.rng.f64() * 100.0 < impairment.reorder_percent;
        let duplicate = lane.rng.f64() * 100.0 < impairment.duplicate_percent;
        let jitter = impairment.jitter.mul_f64(lane.rng.f64());
        let window = impairment
            .reorder_window
            .mul_f64(0.5 + 0.5 * lane.rng.f64());
        self.count(direction, |s| s.received += 1);
        if lose {
            self.count(direction, |s| s.dropped += 1);
            return;
        }
        if self.pending.len() >= MAX_PENDING {
            self.count(direction, |s| s.overflow += 1);
            return;
        }
        let mut due = now + impairment.delay + jitter;
        if hold {
            due += window;
            self.count(direction, |s| s.held += 1);
        }
        let order = self.next_order;
        self.next_order += 1;
        self.pending.push(Pending {
            due,
            order,
            route,
            direction,
            index,
            held: hold,
            copies: if duplicate { 2 } else { 1 },
            dest,
            data: data.to_vec(),
        });
    }

    /// Sends every datagram due by `now`, and after each one that was not held
    /// back, the held-back datagrams of its lane that arrived before it.
    fn send_due(&mut self, now: Instant) {
        loop {
            let next = self
                .pending
                .iter()
                .enumerate()
                .filter(|(_, pending)| pending.due <= now)
                .min_by_key(|(_, pending)| (pending.due, pending.order))
                .map(|(at, _)| at);
            let Some(at) = next else { return };
            let pending = self.pending.swap_remove(at);
            let (route, direction, index, held) = (
                pending.route,
                pending.direction,
                pending.index,
                pending.held,
            );
            self.send(pending);
            if held {
                continue;
            }
            loop {
                let overtaken = self
                    .pending
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| {
                        p.held && p.route == route && p.direction == direction && p.index < index
                    })
                    .min_by_key(|(_, p)| p.index)
                    .map(|(at, _)| at);
                let Some(at) = overtaken else { break };
                let released = self.pending.swap_remove(at);
                self.send(released);
            }
        }
    }

    fn send(&mut self, pending: Pending) {
        let lane = self.routes[pending.route].lane(pending.direction);
        let reordered = lane
            .highest_sent
            .is_some_and(|highest| pending.index < highest);
        lane.highest_sent = Some(
            lane.highest_sent
                .map_or(pending.index, |h| h.max(pending.index)),
        );
        let socket = match pending.direction {
            Direction::ToServer => &self.server_socket,
            Direction::ToClient => &self.routes[pending.route].socket,
        };
        let mut failures = 0;
        for _ in 0..pending.copies {
            if socket.send_to(&pending.data, pending.dest).is_err() {
                failures += 1;
            }
        }
        self.count(pending.direction, |s| {
            s.forwarded += 1;
            s.duplicated += u64::from(pending.copies - 1);
            s.reordered += u64::from(reordered);
            s.send_errors += failures;
        });
    }

    fn count(&self, direction: Direction, change: impl FnOnce(&mut DirectionStats)) {
        let mut stats = self
            .stats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        change(stats.direction_mut(direction));
    }
}
