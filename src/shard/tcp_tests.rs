//! The stream transport against real sockets on loopback: a response whose
//! connection has closed goes on a new connection to its Via's sent-by
//! (RFC 3261 §18.2.2); one whose Via names no address is dropped, counted.
//! An outbound INVITE to a port where nothing listens comes back undelivered
//! and ends at once as a 503 (§8.1.3.1), not at Timer B.

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use super::{TcpSettings, TcpTransport};
use crate::sip::stream::StreamLimits;
use crate::sip::{
    DialogEvent, DialogOutput, DialogOwner, Dispatcher, Link, OutboundInvite, Routed, SipSettings,
    SipTimers, TerminatedReason,
};
use crate::time::Time;

fn transport() -> TcpTransport {
    let settings = TcpSettings {
        max_connections: 8,
        idle: Duration::from_secs(30),
        limits: StreamLimits::default(),
    };
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    TcpTransport::listen(0, Some(listen), settings, None).unwrap()
}

fn response(via: &str) -> Vec<u8> {
    format!(
        "SIP/2.0 200 OK\r\nVia: {via}\r\nCall-ID: reconnect\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn a_response_without_its_connection_goes_to_the_via_sent_by() {
    let mut tcp = transport();
    // The client's listening port, named in its Via; the request came from
    // another (ephemeral) port whose connection is gone.
    let client = TcpListener::bind("127.0.0.1:0").unwrap();
    let sent_by = client.local_addr().unwrap();
    let gone: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let data = response(&format!(
        "SIP/2.0/TCP {sent_by};branch=z9hG4bK-r;received=127.0.0.1;rport=40000"
    ));
    let _ = tcp.send(Time::ZERO, None, gone, &data, true, false);
    let (mut accepted, _) = client.accept().unwrap();
    accepted
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    // The connection completes in the transport's loop: serve it until the
    // response arrives (bounded).
    for step in 0..200 {
        let mut out = Vec::new();
        tcp.poll(Time::from_millis(step), &mut out);
        if let Ok(n) = accepted.read(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        if got.len() >= data.len() {
            break;
        }
    }
    assert_eq!(got, data);
    assert_eq!(tcp.stats().responses_reconnected, 1);
    assert_eq!(tcp.stats().responses_without_connection, 0);
}

#[test]
fn a_response_whose_via_names_no_address_is_dropped_and_counted() {
    let mut tcp = transport();
    let gone: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let data = response("SIP/2.0/TCP client.example:5070;branch=z9hG4bK-r");
    let _ = tcp.send(Time::ZERO, None, gone, &data, true, false);
    assert_eq!(tcp.stats().responses_without_connection, 1);
    assert_eq!(tcp.stats().responses_reconnected, 0);
    assert_eq!(tcp.connections(), 0);
}

#[test]
fn a_tls_message_without_a_client_configuration_opens_nothing() {
    let mut tcp = transport();
    let dest: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let _ = tcp.send(
        Time::ZERO,
        None,
        dest,
        b"OPTIONS sip:x SIP/2.0\r\n\r\n",
        false,
        true,
    );
    assert_eq!(tcp.stats().tls_no_client_config, 1);
    assert_eq!(tcp.connections(), 0);
}

/// A loopback port nothing listens on (bound, then closed).
fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

#[test]
fn an_invite_to_a_closed_port_ends_at_once_as_a_503() {
    let mut tcp = transport();
    let settings = SipSettings {
        local_addr: "127.0.0.1:5060".parse().unwrap(),
        user_agent: "callplane-test".into(),
        timers: SipTimers::default(),
        session_timer: Default::default(),
    };
    let mut dispatcher = Dispatcher::new(settings, 3);
    let dest = closed_port();
    let invite = OutboundInvite {
        request_uri: format!("sip:+4930123@{dest};transport=tcp"),
        from: "<sip:+4930999@127.0.0.1>".into(),
        to: "<sip:+4930123@127.0.0.1>".into(),
        dest,
        route: Vec::new(),
        sdp_offer: String::new(),
        credentials: None,
        extra_headers: Vec::new(),
    };
    let start = std::time::Instant::now();
    let now = || Time::from_micros(start.elapsed().as_micros() as u64);
    let mut dialog = dispatcher.place_call_over(now(), invite, DialogOwner(1), Link::Tcp(None));
    let mut events = Vec::new();
    // Served as the shell's loop does, bounded to 2 s of wall time.
    while events.is_empty() && start.elapsed() < Duration::from_secs(2) {
        loop {
            match dialog.poll_output() {
                DialogOutput::Transmit(t) => {
                    let response = t.is_response();
                    let _ = tcp.send(now(), t.link.conn(), t.dest, &t.payload, response, false);
                }
                DialogOutput::Event(event) => events.push(event),
                DialogOutput::Timeout(_) => break,
            }
        }
        let mut fd = libc::pollfd {
            fd: tcp.raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut fd, 1, 10) };
        tcp.poll(now(), &mut Vec::new());
        for failed in tcp.take_undelivered() {
            assert_eq!(failed.dest, dest);
            assert!(!failed.tls);
            let link = Link::Tcp(None);
            if let Some(Routed::Dialog { message, .. }) =
                dispatcher.handle_transport_error(now(), failed.dest, link, &failed.data)
            {
                dialog.handle_message(now(), message);
            }
        }
    }
    assert_eq!(
        events,
        [DialogEvent::Terminated(TerminatedReason::Refused(503))],
        "{:?}",
        tcp.stats()
    );
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    // (The 503's ACK may have failed to connect too.)
    assert!(tcp.stats().connect_failures >= 1, "{:?}", tcp.stats());
    assert_eq!(dispatcher.stats().transport_errors, 1);
}
