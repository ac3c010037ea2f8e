//! A plain HTTP/1.1 GET over loopback for the metrics and health endpoints:
//! status and body, nothing more (the endpoints answer `Connection: close`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// GETs `path`; returns the status code and the body.
pub fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .unwrap_or_else(|err| panic!("cannot connect to {addr}: {err}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("read the response");
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {answer:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, body.to_string())
}

/// The metrics address the server logged (`--metrics-listen 127.0.0.1:0`
/// lets it pick a free port).
pub fn logged_metrics_addr(log: &str) -> Option<SocketAddr> {
    let line = log
        .lines()
        .find(|line| line.contains("/readyz on http://"))?;
    let addr = line.split("/readyz on http://").nth(1)?;
    addr.trim().parse().ok()
}
