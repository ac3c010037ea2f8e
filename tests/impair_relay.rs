//! The impairment relay of `tests/common/impair.rs` on its own, over loopback
//! sockets: a clean pipe both ways at 0 %, counts that match what the far side
//! really received under loss, reordering and duplication, the same fate for
//! the same seed, learned clients, added delay, unroutable datagrams, and the
//! ports freed when it is dropped.

mod common;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use common::impair::{Impairment, Relay};

/// How long a receiver waits for one more datagram before it calls the flow done.
const IDLE: Duration = Duration::from_millis(600);
/// Between two datagrams a test sends: no burst overflows a socket buffer.
const GAP: Duration = Duration::from_micros(500);

fn socket() -> UdpSocket {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a test socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("set the read timeout");
    socket
}

/// A socket whose reads wait up to 5 s (for a single expected datagram).
fn patient_socket() -> UdpSocket {
    let socket = socket();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("set the read timeout");
    socket
}

fn addr(socket: &UdpSocket) -> SocketAddr {
    socket.local_addr().expect("a test socket's address")
}

fn any_port() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// Sends datagrams numbered `0..count` (4 bytes, big-endian), `gap` apart.
fn send_numbered(from: &UdpSocket, to: SocketAddr, count: u32, gap: Duration) {
    for n in 0..count {
        from.send_to(&n.to_be_bytes(), to)
            .expect("send a numbered datagram");
        if !gap.is_zero() {
            thread::sleep(gap);
        }
    }
}

/// What one side received: each datagram's number and sender, in arrival order.
/// Waits up to 5 s for the first, then until none came for [`IDLE`].
fn receive_numbered(socket: &UdpSocket, at_most: usize) -> Vec<(u32, SocketAddr)> {
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    let first_by = Instant::now() + Duration::from_secs(5);
    let mut last: Option<Instant> = None;
    while got.len() < at_most {
        let waited_enough = match last {
            Some(last) => last.elapsed() >= IDLE,
            None => Instant::now() >= first_by,
        };
        if waited_enough {
            break;
        }
        if let Ok((len, from)) = socket.recv_from(&mut buf) {
            assert_eq!(len, 4, "a numbered datagram");
            got.push((u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]), from));
            last = Some(Instant::now());
        }
    }
    got
}

/// Sends `count` numbered datagrams from `from` to `to`, [`GAP`] apart, while
/// `at` receives them on its own thread; returns what `at` received.
fn flow(from: &UdpSocket, to: SocketAddr, at: &UdpSocket, count: u32) -> Vec<(u32, SocketAddr)> {
    let receiver = {
        let at = at.try_clone().expect("clone the receiving socket");
        thread::spawn(move || receive_numbered(&at, usize::MAX))
    };
    send_numbered(from, to, count, GAP);
    receiver.join().expect("the receiver thread")
}

/// Out-of-order arrivals (after a higher number, not a repeat) and repeats.
fn order_figures(got: &[(u32, SocketAddr)]) -> (u64, u64) {
    let mut seen = BTreeSet::new();
    let mut highest = None;
    let (mut reordered, mut repeats) = (0, 0);
    for &(n, _) in got {
        if !seen.insert(n) {
            repeats += 1;
            continue;
        }
        if highest.is_some_and(|h| n < h) {
            reordered += 1;
        }
        highest = Some(highest.map_or(n, |h: u32| h.max(n)));
    }
    (reordered, repeats)
}

#[test]
fn clean_settings_make_a_clean_pipe_both_ways() {
    let client = socket();
    let server = socket();
    let relay = Relay::builder(1)
        .route_to(any_port(), addr(&server), addr(&client))
        .start();
    let at_server = flow(&client, relay.client_facing(0), &server, 300);
    let at_client = flow(&server, relay.server_facing(), &client, 300);

    let expected: Vec<u32> = (0..300).collect();
    let numbers = |got: &[(u32, SocketAddr)]| got.iter().map(|(n, _)| *n).collect::<Vec<_>>();
    assert_eq!(
        numbers(&at_server),
        expected,
        "every datagram once, in order"
    );
    assert_eq!(
        numbers(&at_client),
        expected,
        "every datagram once, in order"
    );
    assert!(at_server
        .iter()
        .all(|(_, from)| *from == relay.server_facing()));
    assert!(at_client
        .iter()
        .all(|(_, from)| *from == relay.client_facing(0)));

    let stats = relay.stop();
    for direction in [stats.to_server, stats.to_client] {
        assert_eq!(
            (direction.received, direction.forwarded),
            (300, 300),
            "{stats}"
        );
        assert_eq!(
            (
                direction.dropped,
                direction.held,
                direction.reordered,
                direction.duplicated
            ),
            (0, 0, 0, 0),
            "{stats}"
        );
        assert_eq!(
            (direction.overflow, direction.unroutable),
            (0, 0),
            "{stats}"
        );
    }
}

#[test]
fn counts_match_what_the_far_side_received() {
    const COUNT: u32 = 1000;
    let client = socket();
    let server = socket();
    let relay = Relay::builder(7)
        .impair_to_server(Impairment::lossy(10.0, 25.0, 2.0))
        .route_to(any_port(), addr(&server), addr(&client))
        .start();
    let got = flow(&client, relay.client_facing(0), &server, COUNT);
    let stats = relay.stop();
    let to_server = stats.to_server;

    assert_eq!(to_server.received, u64::from(COUNT), "{stats}");
    assert_eq!(got.len() as u64, to_server.sent(), "what arrived: {stats}");
    let distinct: BTreeSet<u32> = got.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        u64::from(COUNT) - distinct.len() as u64,
        to_server.dropped,
        "the missing ones are the dropped ones: {stats}"
    );
    let (reordered, repeats) = order_figures(&got);
    assert_eq!(repeats, to_server.duplicated, "{stats}");
    assert_eq!(reordered, to_server.reordered, "{stats}");
    // Binomial spreads around 10 %, 25 % (of those kept) and 2 %.
    assert!((50..=150).contains(&to_server.dropped), "{stats}");
    assert!((150..=300).contains(&to_server.held), "{stats}");
    assert!(to_server.reordered >= to_server.held / 2, "{stats}");
    assert!((5..=40).contains(&to_server.duplicated), "{stats}");
    assert_eq!(stats.to_client, Default::default(), "nothing came back");
}

#[test]
fn the_same_seed_gives_the_same_fate_and_another_seed_another() {
    let run = |seed: u64| {
        let client = socket();
        let server = socket();
        let relay = Relay::builder(seed)
            .impair_both(Impairment::lossy(20.0, 30.0, 10.0))
            .route_to(any_port(), addr(&server), addr(&client))
            .start();
        let got = flow(&client, relay.client_facing(0), &server, 400);
        let stats = relay.stop();
        let mut delivered: Vec<u32> = got.iter().map(|(n, _)| *n).collect();
        delivered.sort_unstable();
        (delivered, stats.to_server.held, stats.to_server.dropped)
    };
    let first = run(42);
    assert_eq!(first, run(42), "seed 42 twice");
    assert_ne!(first.0, run(43).0, "seeds 42 and 43");
}

#[test]
fn a_learned_client_gets_the_answers() {
    let client = patient_socket();
    let server = patient_socket();
    let relay = Relay::builder(3).route(any_port(), addr(&server)).start();

    // Before the client spoke, the server's datagram has nowhere to go.
    server
        .send_to(b"early", relay.server_facing())
        .expect("send early");
    thread::sleep(Duration::from_millis(100));
    client
        .send_to(b"ping", relay.client_facing(0))
        .expect("send ping");
    let mut buf = [0u8; 16];
    let (len, from) = server.recv_from(&mut buf).expect("the ping at the server");
    assert_eq!((&buf[..len], from), (&b"ping"[..], relay.server_facing()));
    server.send_to(b"pong", from).expect("answer to the source");
    let (len, from) = client.recv_from(&mut buf).expect("the pong at the client");
    assert_eq!((&buf[..len], from), (&b"pong"[..], relay.client_facing(0)));

    // Someone the relay does not serve.
    let stranger = socket();
    stranger
        .send_to(b"who", relay.server_facing())
        .expect("send as a stranger");
    thread::sleep(Duration::from_millis(100));
    let stats = relay.stop();
    assert_eq!(stats.to_client.unroutable, 2, "{stats}");
    assert_eq!(stats.to_client.forwarded, 1, "{stats}");
}

#[test]
fn delay_and_jitter_hold_every_datagram_at_least_the_delay() {
    let client = socket();
    let server = socket();
    let delay = Duration::from_millis(80);
    let relay = Relay::builder(5)
        .impair_to_server(Impairment::CLEAN.delayed(delay, Duration::from_millis(40)))
        .route_to(any_port(), addr(&server), addr(&client))
        .start();
    let mut buf = [0u8; 16];
    for n in 0u32..5 {
        let sent = Instant::now();
        client
            .send_to(&n.to_be_bytes(), relay.client_facing(0))
            .expect("send");
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("set the read timeout");
        let (len, _) = server.recv_from(&mut buf).expect("the delayed datagram");
        assert_eq!(&buf[..len], &n.to_be_bytes());
        assert!(sent.elapsed() >= delay, "datagram {n} came early");
    }
    let stats = relay.stop();
    assert_eq!(stats.to_server.forwarded, 5, "{stats}");
}

#[test]
fn several_routes_share_the_server_facing_socket() {
    let client = patient_socket();
    let servers = [socket(), socket(), socket()];
    let mut builder = Relay::builder(9);
    for server in &servers {
        builder = builder.route_to(any_port(), addr(server), addr(&client));
    }
    let relay = builder.start();
    for (index, server) in servers.iter().enumerate() {
        server
            .send_to(&[index as u8], relay.server_facing())
            .expect("send from a server");
    }
    let mut from_routes = BTreeSet::new();
    let mut buf = [0u8; 16];
    for _ in 0..servers.len() {
        let (len, from) = client
            .recv_from(&mut buf)
            .expect("a datagram at the client");
        assert_eq!(len, 1);
        assert_eq!(
            from,
            relay.client_facing(usize::from(buf[0])),
            "its own route"
        );
        from_routes.insert(from);
    }
    assert_eq!(from_routes.len(), servers.len());
}

#[test]
fn dropping_the_relay_stops_it_and_frees_its_ports() {
    let client = socket();
    let server = socket();
    let relay = Relay::builder(11)
        .route_to(any_port(), addr(&server), addr(&client))
        .start();
    let (client_facing, server_facing) = (relay.client_facing(0), relay.server_facing());
    drop(relay);
    UdpSocket::bind(client_facing).expect("the client-facing port is free again");
    UdpSocket::bind(server_facing).expect("the server-facing port is free again");
}
