//! Both backends against real loopback sockets: datagrams in and out, batches,
//! wake-ups, timeouts, closing a socket with receives in flight.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::backend::{
    open_backend, uring_available, Completion, IoBackend, IoChoice, RTP_DATAGRAM,
};
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
