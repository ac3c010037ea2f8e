//! Both backends against real loopback sockets: datagrams in and out, batches,
//! wake-ups, timeouts, closing a socket with receives in flight, and closing
//! sockets while the loop still holds their completions.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::backend::{
    open_backend, uring_available, Completion, IoBackend, IoChoice, Token, RTP_DATAGRAM,
};
use super::epoll::EpollBackend;
use super::uring::UringBackend;
use super::waker::Waker;

fn loopback() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").expect("bind loopback")
}

fn backends() -> Vec<(IoChoice, Arc<Waker>, Box<dyn IoBackend>)> {
    let mut out = Vec::new();
    let mut choices = vec![IoChoice::Epoll];
    if uring_available() {
        choices.push(IoChoice::Uring);
    }
    for choice in choices {
        let waker = Arc::new(Waker::new().expect("eventfd"));
        let backend = open_backend(choice, &waker).expect("backend");
        out.push((choice, waker, backend));
    }
    out
}

/// Waits until `want` receives completed (bounded: 2 s).
fn collect(backend: &mut dyn IoBackend, want: usize) -> Vec<(SocketAddr, Vec<u8>)> {
    let mut got = Vec::new();
    let mut completions = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    while got.len() < want && Instant::now() < deadline {
        backend
            .wait(Some(Duration::from_millis(50)), &mut completions)
            .expect("wait");
        for c in completions.drain(..) {
            if let Completion::Recv {
                from, slot, len, ..
            } = c
            {
                got.push((from, backend.recv_data(slot, len).to_vec()));
                backend.release(slot);
            }
        }
    }
    got
}

#[test]
fn receives_and_sends_a_batch() {
    for (choice, _waker, mut backend) in backends() {
        let server = loopback();
        let server_addr = server.local_addr().unwrap();
        let token = backend.register(server, 4, RTP_DATAGRAM).expect("register");
        assert_eq!(backend.local_addr(token), Some(server_addr));
        let peer = loopback();
        peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        for i in 0..20u8 {
            peer.send_to(&[i; 100], server_addr).unwrap();
        }
        let got = collect(backend.as_mut(), 20);
        assert_eq!(got.len(), 20, "{choice}: received {}", got.len());
        assert!(got
            .iter()
            .all(|(from, data)| *from == peer.local_addr().unwrap() && data.len() == 100));
        for i in 0..10u8 {
            backend.send(token, peer.local_addr().unwrap(), &[i; 50]);
        }
        let mut completions = Vec::new();
        backend
            .wait(Some(Duration::ZERO), &mut completions)
            .unwrap();
        let mut buf = [0u8; 200];
        for i in 0..10u8 {
            let (n, from) = peer.recv_from(&mut buf).expect("datagram from backend");
            assert_eq!((n, from, buf[0]), (50, server_addr, i), "{choice}");
        }
    }
}

#[test]
fn wake_returns_from_an_unbounded_wait() {
    for (choice, waker, mut backend) in backends() {
        let remote = waker.clone();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            remote.wake();
        });
        let mut completions = Vec::new();
        let started = Instant::now();
        while !completions.contains(&Completion::Wake) && started.elapsed() < Duration::from_secs(2)
        {
            backend.wait(None, &mut completions).expect("wait");
        }
        assert!(completions.contains(&Completion::Wake), "{choice}: no wake");
        thread.join().unwrap();
        // The wake-up is re-armed: a second one is seen too.
        completions.clear();
        waker.wake();
        backend
            .wait(Some(Duration::from_secs(1)), &mut completions)
            .unwrap();
        assert!(
            completions.contains(&Completion::Wake),
            "{choice}: second wake lost"
        );
    }
}

#[test]
fn timeout_returns_empty_handed() {
    for (choice, _waker, mut backend) in backends() {
        let mut completions = Vec::new();
        let started = Instant::now();
        // A wait may return early on EINTR (here: io_uring task work of the other
        // backend on this thread); the event loop then simply waits again.
        while started.elapsed() < Duration::from_millis(20) {
            backend
                .wait(Some(Duration::from_millis(20)), &mut completions)
                .unwrap();
        }
        assert!(completions.is_empty(), "{choice}: {completions:?}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{choice}: wait overran its timeout"
        );
    }
}

#[test]
fn closed_socket_stops_receiving_and_its_port_is_free_again() {
    for (choice, _waker, mut backend) in backends() {
        let server = loopback();
        let addr = server.local_addr().unwrap();
        let token = backend.register(server, 2, RTP_DATAGRAM).unwrap();
        backend.close(token);
        // Let the cancellations complete.
        let mut completions = Vec::new();
        for _ in 0..5 {
            backend
                .wait(Some(Duration::from_millis(10)), &mut completions)
                .unwrap();
        }
        assert!(completions.is_empty(), "{choice}: {completions:?}");
        let rebound = UdpSocket::bind(addr);
        assert!(rebound.is_ok(), "{choice}: port still held after close");
        // A new socket may reuse the token and works normally.
        let token2 = backend.register(rebound.unwrap(), 2, RTP_DATAGRAM).unwrap();
        let peer = loopback();
        peer.send_to(b"hello", addr).unwrap();
        let got = collect(backend.as_mut(), 1);
        assert_eq!(got.len(), 1, "{choice}");
        assert_eq!(got[0].1, b"hello");
        backend.close(token2);
    }
}

#[test]
fn oversized_datagram_is_counted_not_delivered() {
    for (choice, _waker, mut backend) in backends() {
        let server = loopback();
        let addr = server.local_addr().unwrap();
        backend.register(server, 2, 64).unwrap();
        let peer = loopback();
        peer.send_to(&[0u8; 500], addr).unwrap();
        peer.send_to(&[1u8; 10], addr).unwrap();
        let got = collect(backend.as_mut(), 1);
        assert_eq!(got.len(), 1, "{choice}");
        assert_eq!(got[0].1, vec![1u8; 10]);
        assert_eq!(backend.stats().truncated, 1, "{choice}");
    }
}

/// A delivered receive the test has not processed yet.
#[derive(Clone, Copy, Debug)]
struct Held {
    token: Token,
    slot: usize,
    len: usize,
}

/// Waits until `want` receives completed, without releasing them (bounded: 2 s).
fn hold(backend: &mut dyn IoBackend, want: usize) -> Vec<Held> {
    let mut held = Vec::new();
    let mut completions = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    while held.len() < want && Instant::now() < deadline {
        backend
            .wait(Some(Duration::from_millis(50)), &mut completions)
            .expect("wait");
        for c in completions.drain(..) {
            if let Completion::Recv {
                token, slot, len, ..
            } = c
            {
                held.push(Held { token, slot, len });
            }
        }
    }
    held
}

/// The io_uring backend's own count of receives in the kernel per slot.
fn uring_arms(backend: &UringBackend) -> u8 {
    backend.max_kernel_recvs_per_slot()
}

/// epoll keeps nothing in the kernel between calls.
fn no_arms(_: &EpollBackend) -> u8 {
    0
}

/// The call-churn race: a socket's completions are delivered, the socket is
/// closed and a new one registered before the loop has processed them.
fn stale_completions_stay_the_old_sockets<B: IoBackend>(
    name: &str,
    backend: &mut B,
    arms: fn(&B) -> u8,
) {
    let old = loopback();
    let old_addr = old.local_addr().unwrap();
    let old_token = backend.register(old, 2, RTP_DATAGRAM).unwrap();
    let peer = loopback();
    peer.send_to(b"old-0", old_addr).unwrap();
    peer.send_to(b"old-1", old_addr).unwrap();
    // Both queued before the wait, so they come in one batch where the kernel allows.
    std::thread::sleep(Duration::from_millis(20));
    let stale = hold(backend, 2);
    assert_eq!(stale.len(), 2, "{name}: old socket's datagrams");
    assert!(stale.iter().all(|h| h.token == old_token), "{name}");

    // A BYE early in the batch closes the socket, an INVITE opens another.
    backend.close(old_token);
    let new = loopback();
    let new_addr = new.local_addr().unwrap();
    let new_token = backend.register(new, 2, RTP_DATAGRAM).unwrap();
    assert_ne!(new_token, old_token, "{name}: a held token was given again");
    assert!(
        new_token.index() != old_token.index() || new_token.generation() != old_token.generation(),
        "{name}"
    );
    assert_eq!(backend.local_addr(old_token), None, "{name}: closed token");
    assert_eq!(backend.local_addr(new_token), Some(new_addr), "{name}");
    peer.send_to(b"new-0", new_addr).unwrap();
    let fresh = hold(backend, 1);
    assert_eq!(fresh.len(), 1, "{name}: new socket's datagram");
    assert_eq!(fresh[0].token, new_token, "{name}");
    assert_eq!(
        backend.recv_data(fresh[0].slot, fresh[0].len),
        b"new-0",
        "{name}"
    );
    assert!(
        stale.iter().all(|h| h.slot != fresh[0].slot),
        "{name}: a held slot was reused"
    );

    // Now the loop gets to the stale completions.
    for (i, h) in stale.iter().enumerate() {
        assert_ne!(h.token, new_token, "{name}: stale completion looks current");
        assert_eq!(
            backend.recv_data(h.slot, h.len),
            format!("old-{i}").as_bytes(),
            "{name}: a held slot's bytes changed"
        );
        backend.release(h.slot);
    }
    backend.release(fresh[0].slot);
    assert_eq!(backend.stats().stale_releases, 0, "{name}");
    assert!(arms(backend) <= 1, "{name}: a slot was armed twice");
    // A second release of the same slot is a counted no-op.
    backend.release(stale[0].slot);
    assert_eq!(backend.stats().stale_releases, 1, "{name}");
    assert!(arms(backend) <= 1, "{name}: a slot was armed twice");

    // The new socket goes on receiving, each datagram once, into its own slots.
    for i in 1..=2 {
        peer.send_to(format!("new-{i}").as_bytes(), new_addr)
            .unwrap();
    }
    let later = hold(backend, 2);
    let mut bodies: Vec<Vec<u8>> = later
        .iter()
        .map(|h| {
            assert_eq!(h.token, new_token, "{name}");
            backend.recv_data(h.slot, h.len).to_vec()
        })
        .collect();
    for h in &later {
        backend.release(h.slot);
    }
    bodies.sort();
    let want: Vec<Vec<u8>> = (1..=2).map(|i| format!("new-{i}").into_bytes()).collect();
    assert_eq!(bodies, want, "{name}");
    assert!(arms(backend) <= 1, "{name}: a slot was armed twice");

    // Once released, the old index may come back, with another generation.
    let third = backend.register(loopback(), 2, RTP_DATAGRAM).unwrap();
    assert_ne!(third, old_token, "{name}");
    assert_ne!(third, new_token, "{name}");
    backend.close(new_token);
    backend.close(third);
}

#[test]
fn completions_held_across_close_and_reopen_stay_the_old_sockets() {
    let waker = Waker::new().expect("eventfd");
    let mut epoll = EpollBackend::new(&waker).expect("epoll");
    stale_completions_stay_the_old_sockets("epoll", &mut epoll, no_arms);
    if uring_available() {
        let mut uring = UringBackend::new(&waker).expect("io_uring");
        stale_completions_stay_the_old_sockets("io_uring", &mut uring, uring_arms);
    }
}

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Opens and closes thousands of sockets with traffic flowing both ways,
/// closing and registering while completions are still undelivered to the
/// "loop"; every datagram must come out on the socket it was sent to.
fn churn<B: IoBackend>(name: &str, backend: &mut B, arms: fn(&B) -> u8) {
    const CYCLES: usize = 5000;
    const LIVE: usize = 12;
    let started = Instant::now();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let peer = loopback();
    peer.set_nonblocking(true).unwrap();
    let peer_addr = peer.local_addr().unwrap();
    // Every registration ever made: its port and serial, which the peer puts
    // in what it sends there.
    let mut known: HashMap<Token, (u16, u32)> = HashMap::new();
    let mut live: Vec<Token> = Vec::new();
    let mut held: Vec<Held> = Vec::new();
    let mut completions = Vec::new();
    let mut serial = 0u32;
    let mut closed = 0usize;
    let mut checked = 0usize;
    let mut echoed = 0usize;
    let mut buf = [0u8; 256];
    let mut open = |backend: &mut B, known: &mut HashMap<Token, (u16, u32)>, rng: &mut Rng| {
        let socket = loopback();
        let port = socket.local_addr().unwrap().port();
        let token = backend
            .register(socket, 1 + rng.below(3), RTP_DATAGRAM)
            .unwrap();
        serial += 1;
        let previous = known.insert(token, (port, serial));
        assert!(
            previous.is_none(),
            "{name}: token {token:?} handed out twice"
        );
        token
    };
    for _ in 0..LIVE {
        let token = open(backend, &mut known, &mut rng);
        live.push(token);
    }
    while closed < CYCLES {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{name}: churn too slow ({closed} cycles)"
        );
        // Traffic to the sockets, and from them.
        for _ in 0..6 {
            let token = live[rng.below(live.len())];
            let (port, serial) = known[&token];
            let mut payload = [0u8; 6];
            payload[..2].copy_from_slice(&port.to_le_bytes());
            payload[2..].copy_from_slice(&serial.to_le_bytes());
            let _ = peer.send_to(&payload, SocketAddr::from(([127, 0, 0, 1], port)));
        }
        for _ in 0..3 {
            let token = live[rng.below(live.len())];
            backend.send(token, peer_addr, &known[&token].1.to_le_bytes());
        }
        let timeout = if rng.below(4) == 0 {
            Duration::from_millis(1)
        } else {
            Duration::ZERO
        };
        backend.wait(Some(timeout), &mut completions).expect("wait");
        for c in completions.drain(..) {
            if let Completion::Recv {
                token, slot, len, ..
            } = c
            {
                held.push(Held { token, slot, len });
            }
        }
        // The loop gets to some of what it holds, in any order.
        let process = if held.is_empty() {
            0
        } else {
            rng.below(held.len() + 1)
        };
        for _ in 0..process {
            let h = held.swap_remove(rng.below(held.len()));
            let data = backend.recv_data(h.slot, h.len);
            assert_eq!(data.len(), 6, "{name}: {h:?}");
            let port = u16::from_le_bytes([data[0], data[1]]);
            let serial = u32::from_le_bytes([data[2], data[3], data[4], data[5]]);
            assert_eq!(
                known.get(&h.token),
                Some(&(port, serial)),
                "{name}: datagram for port {port} delivered with token {:?}",
                h.token
            );
            match backend.local_addr(h.token) {
                Some(addr) => {
                    assert!(live.contains(&h.token), "{name}");
                    assert_eq!(addr.port(), port, "{name}");
                }
                None => assert!(
                    !live.contains(&h.token),
                    "{name}: open socket has no address"
                ),
            }
            backend.release(h.slot);
            checked += 1;
        }
        // Calls end and begin while completions are still held.
        for _ in 0..rng.below(3) {
            let victim = live.swap_remove(rng.below(live.len()));
            if rng.below(2) == 0 {
                backend.send(victim, peer_addr, b"bye");
            }
            backend.close(victim);
            assert_eq!(backend.local_addr(victim), None, "{name}");
            closed += 1;
            let token = open(backend, &mut known, &mut rng);
            live.push(token);
        }
        loop {
            match peer.recv_from(&mut buf) {
                Ok(_) => echoed += 1,
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(err) => panic!("{name}: peer: {err}"),
            }
        }
    }
    for h in held.drain(..) {
        backend.release(h.slot);
    }
    for token in live.drain(..) {
        backend.close(token);
    }
    for _ in 0..5 {
        backend
            .wait(Some(Duration::from_millis(5)), &mut completions)
            .expect("wait");
        for c in completions.drain(..) {
            if let Completion::Recv { slot, .. } = c {
                backend.release(slot);
            }
        }
    }
    let stats = backend.stats();
    assert_eq!(stats.stale_releases, 0, "{name}");
    assert!(arms(backend) <= 1, "{name}: a slot was armed twice");
    assert!(
        checked > CYCLES && echoed > CYCLES,
        "{name}: too little traffic: {checked} checked, {echoed} sent back"
    );
    eprintln!(
        "{name}: {closed} sockets closed, {checked} datagrams checked, {echoed} sent, {} dropped after close, {:?}",
        stats.dropped_after_close,
        started.elapsed()
    );
}

#[test]
fn churn_delivers_every_datagram_with_its_own_sockets_token() {
    let waker = Waker::new().expect("eventfd");
    let mut epoll = EpollBackend::new(&waker).expect("epoll");
    churn("epoll", &mut epoll, no_arms);
    if uring_available() {
        let mut uring = UringBackend::new(&waker).expect("io_uring");
        churn("io_uring", &mut uring, uring_arms);
    }
}

#[test]
fn dropping_a_backend_with_receives_in_flight_closes_its_sockets() {
    let waker = Waker::new().expect("eventfd");
    let mut backends: Vec<(&str, Box<dyn IoBackend>)> =
        vec![("epoll", Box::new(EpollBackend::new(&waker).expect("epoll")))];
    if uring_available() {
        backends.push((
            "io_uring",
            Box::new(UringBackend::new(&waker).expect("io_uring")),
        ));
    }
    for (name, mut backend) in backends {
        let mut addrs = Vec::new();
        for _ in 0..4 {
            let socket = loopback();
            addrs.push(socket.local_addr().unwrap());
            backend.register(socket, 2, RTP_DATAGRAM).unwrap();
        }
        let peer = loopback();
        peer.send_to(b"held", addrs[0]).unwrap();
        // One slot delivered and never released, the rest still armed; a send queued.
        assert_eq!(hold(backend.as_mut(), 1).len(), 1, "{name}");
        let token = backend.register(loopback(), 1, RTP_DATAGRAM).unwrap();
        backend.send(token, addrs[1], b"in flight");
        let started = Instant::now();
        drop(backend);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{name}: drop waited {:?}",
            started.elapsed()
        );
        // Every receive was reaped, so nothing keeps the sockets open.
        for addr in addrs {
            assert!(
                UdpSocket::bind(addr).is_ok(),
                "{name}: {addr} still held after drop"
            );
        }
    }
}

#[test]
fn a_batched_wait_gathers_datagrams_spread_over_time_into_one_wake_up() {
    for (choice, _waker, mut backend) in backends() {
        let server = loopback();
        let server_addr = server.local_addr().unwrap();
        backend.register(server, 8, RTP_DATAGRAM).expect("register");
        let sender = std::thread::spawn(move || {
            let peer = loopback();
            for i in 0..6u8 {
                std::thread::sleep(Duration::from_millis(5));
                peer.send_to(&[i; 40], server_addr).unwrap();
            }
        });
        let mut completions = Vec::new();
        backend
            .wait_batch(Duration::from_secs(2), 6, &mut completions)
            .expect("wait");
        let received = completions
            .iter()
            .filter(|c| matches!(c, Completion::Recv { .. }))
            .count();
        match choice {
            // io_uring sleeps until the whole batch is in (or the timeout).
            IoChoice::Uring => assert_eq!(received, 6, "io_uring: one wake-up for six datagrams"),
            // epoll cannot wait for a count: it wakes at the first datagram.
            _ => assert!(received >= 1, "{choice}: woke with nothing"),
        }
        for completion in completions {
            if let Completion::Recv { slot, .. } = completion {
                backend.release(slot);
            }
        }
        sender.join().unwrap();
    }
}
