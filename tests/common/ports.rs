//! Free UDP ports on 127.0.0.1 for one test: each test gets its own ports, so
//! tests run in parallel threads (and next to other processes) without clashing.
//!
//! Ports come from 12000..32000, below Linux's ephemeral range (32768..60999), so
//! the kernel does not hand them out to outgoing sockets meanwhile. Within this
//! process a port is handed out once; every candidate is probed by binding it.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};

const FIRST_PORT: u32 = 12_000;
const PORT_SPAN: u32 = 20_000;

/// Offset of the next candidate in the span; starts at a per-process spot so that
/// two test processes at once tend to look in different places.
static NEXT_OFFSET: AtomicU32 = AtomicU32::new(u32::MAX);

fn start_offset() -> u32 {
    let pid = std::process::id();
    (pid.wrapping_mul(7919)) % PORT_SPAN
}

fn take_offsets(len: u32) -> u32 {
    // First use: seed from the pid (a lost race just seeds twice, harmlessly).
    let _ =
        NEXT_OFFSET.compare_exchange(u32::MAX, start_offset(), Ordering::SeqCst, Ordering::SeqCst);
    NEXT_OFFSET.fetch_add(len, Ordering::SeqCst) % PORT_SPAN
}

fn is_free(port: u16) -> bool {
    UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// The first of `len` consecutive ports that are all free right now.
pub fn udp_port_block(len: u16) -> u16 {
    let len = u32::from(len.max(1));
    for _ in 0..1000 {
        let offset = take_offsets(len);
        if offset + len > PORT_SPAN {
            continue; // would run past the end of the span: try the next block
        }
        let first = FIRST_PORT + offset;
        let all_free = (first..first + len).all(|port| is_free(port as u16));
        if all_free {
            return first as u16;
        }
    }
    panic!(
        "no block of {len} free UDP ports found in {FIRST_PORT}..{}",
        FIRST_PORT + PORT_SPAN
    );
}

/// One free UDP port.
pub fn udp_port() -> u16 {
    udp_port_block(1)
}

/// Waits (bounded, 10 s) until something listens on TCP `addr`: probed by
/// binding it, so the listener never sees a stray connection.
pub fn wait_listening(addr: SocketAddr) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while TcpListener::bind(addr).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on {addr}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
