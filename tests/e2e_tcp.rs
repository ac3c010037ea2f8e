//! End-to-end SIP over TCP against the callplane binary, under both io
//! backends: sipp calls over one TCP connection (`-t t1`) and presses a digit
//! (RFC 4733 from a pcap), callplane answers on that connection and hangs up
//! with a BYE over TCP; several calls share one connection across two shards;
//! a connection sending garbage is closed and a good call on a new connection
//! still completes. The CDRs say what happened.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{dtmf_pcap, Backend, Server, ServerOptions, Sipp, SippRun, TestDir};

/// When the caller presses its digit, counted from its ACK: during the menu.
const DTMF_DELAY_MS: u64 = 3000;

common::for_each_backend! {
    a_call_over_tcp_presses_a_digit => call_over_tcp;
    several_calls_share_one_connection => several_calls_on_one_connection;
    garbage_closes_the_connection_and_a_new_one_works => garbage_then_a_good_call;
}

fn digit_call(dir: &TestDir, server: &Server, name: &str, calls: u64) -> SippRun {
    let sipp = Sipp::new("uac_dtmf.xml", name, dir.path())
        .tcp()
        .target(server.sip_addr())
        .key("dtmf_pcap", dtmf_pcap('1').display().to_string())
        .set("dtmf_delay_ms", DTMF_DELAY_MS.to_string())
        .timeout(Duration::from_secs(60));
    let sipp = if calls > 1 {
        sipp.calls(calls, calls, calls)
    } else {
        sipp
    };
    sipp.run()
}

/// Every message callplane sent names TCP in its own Via (our BYE) or echoes
/// sipp's TCP Via (responses).
fn assert_all_over_tcp(run: &SippRun) {
    let received = run.received_messages();
    assert!(!received.is_empty(), "{}", run.diagnostics());
    for message in &received {
        let via = message
            .lines()
            .find(|line| line.starts_with("Via:") || line.starts_with("v:"))
            .unwrap_or_default();
        assert!(via.contains("SIP/2.0/TCP"), "not over TCP: {message}");
    }
    let bye = received
        .iter()
        .find(|message| message.trim_start().starts_with("BYE "))
        .unwrap_or_else(|| panic!("no BYE from callplane\n{}", run.diagnostics()));
    assert!(bye.contains(";rport"), "{bye}");
    let ok = received
        .iter()
        .find(|message| {
            message.trim_start().starts_with("SIP/2.0 200") && message.contains("m=audio")
        })
        .unwrap_or_else(|| panic!("no 200 OK\n{}", run.diagnostics()));
    assert!(ok.contains(";transport=tcp>"), "Contact names TCP: {ok}");
}

fn call_over_tcp(backend: Backend) {
    let dir = TestDir::new(&format!("tcp-call-{}", backend.cli_value()));
    let server = Server::start(backend, dir.path(), &ServerOptions::default());
    server.assert_backend_logged();
    let run = digit_call(&dir, &server, "uac_dtmf_tcp", 1);
    run.assert_passed(1);
    assert_all_over_tcp(&run);

    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    assert_eq!(cdrs.len(), 1, "one call, one CDR: {cdrs:#?}");
    let cdr = &cdrs[0];
    assert_eq!(cdr.digits(), vec!["1".to_string()], "{}", cdr.json);
    cdr.assert_nodes_in_order(&["entry", "welcome", "menu", "sales", "goodbye"]);
    assert_eq!(cdr.str("hangup_side"), "callplane", "{}", cdr.json);
    assert_eq!(cdr.str("hangup_cause"), "normal_clearing", "{}", cdr.json);
    assert_eq!(cdr.int("sip_status"), 200, "{}", cdr.json);
    assert_eq!(cdr.str("from"), "sipp", "{}", cdr.json);
    assert_eq!(cdr.str("to"), "1000", "{}", cdr.json);
    assert!(
        cdr.int("duration_ms") >= DTMF_DELAY_MS as i64,
        "{}",
        cdr.json
    );
}

/// Three concurrent calls on sipp's one connection, on a server of two
/// shards: the Call-IDs spread over both, so messages cross to the owning
/// shard and its answers come back to the shard holding the connection.
fn several_calls_on_one_connection(backend: Backend) {
    let dir = TestDir::new(&format!("tcp-several-{}", backend.cli_value()));
    let options = ServerOptions {
        shards: Some(2),
        ..ServerOptions::default()
    };
    let server = Server::start(backend, dir.path(), &options);
    let run = digit_call(&dir, &server, "uac_dtmf_tcp_many", 3);
    run.assert_passed(3);
    assert_all_over_tcp(&run);
    let cdrs = server.wait_for_cdrs(3, Duration::from_secs(5));
    assert_eq!(cdrs.len(), 3, "{cdrs:#?}");
    let mut call_ids: Vec<&str> = cdrs.iter().map(|cdr| cdr.call_id()).collect();
    call_ids.sort();
    call_ids.dedup();
    assert_eq!(call_ids.len(), 3, "three distinct calls");
    for cdr in &cdrs {
        assert_eq!(cdr.digits(), vec!["1".to_string()], "{}", cdr.json);
        assert_eq!(cdr.str("hangup_side"), "callplane", "{}", cdr.json);
        assert_eq!(cdr.int("sip_status"), 200, "{}", cdr.json);
    }
}

/// A head without Content-Length cannot be framed: callplane closes that
/// connection; a call on a fresh one is unaffected.
fn garbage_then_a_good_call(backend: Backend) {
    let dir = TestDir::new(&format!("tcp-garbage-{}", backend.cli_value()));
    let server = Server::start(backend, dir.path(), &ServerOptions::default());
    let mut garbage = TcpStream::connect(server.sip_addr()).expect("connect over TCP");
    garbage
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    garbage
        .write_all(b"\x00\x01 not SIP at all\r\nNo-Length: here\r\n\r\n")
        .unwrap();
    let mut rest = Vec::new();
    // The server closes: EOF (or a reset), not a timeout.
    match garbage.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty(), "nothing is answered: {rest:?}"),
        Err(err) => assert!(
            err.kind() == std::io::ErrorKind::ConnectionReset,
            "expected the connection closed, got {err}"
        ),
    }
    // A keep-alive ping on another connection is answered with one CRLF.
    let mut ping = TcpStream::connect(server.sip_addr()).expect("connect over TCP");
    ping.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    ping.write_all(b"\r\n\r\n").unwrap();
    let mut pong = [0u8; 2];
    ping.read_exact(&mut pong).expect("a pong");
    assert_eq!(&pong, b"\r\n");

    let run = digit_call(&dir, &server, "uac_dtmf_tcp_after_garbage", 1);
    run.assert_passed(1);
    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    assert_eq!(cdrs.len(), 1, "the garbage made no call: {cdrs:#?}");
    assert_eq!(cdrs[0].digits(), vec!["1".to_string()], "{}", cdrs[0].json);
}
