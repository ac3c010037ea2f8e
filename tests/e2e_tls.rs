//! End-to-end SIP over TLS against the callplane binary, under both io
//! backends. The Debian sipp has no TLS, so stunnel carries its TCP over
//! TLS to callplane's TLS port (verifying callplane's certificate, made at
//! test time, for 127.0.0.1): a call presses a digit and callplane hangs up
//! with a BYE over TLS (Via `SIP/2.0/TLS`, Contact `;transport=tls`); a
//! plain TCP client on the TLS port is dropped and counted, and the next
//! call works; with client certificates required, one from an unknown CA
//! is refused with the reason logged; a `sips:` INVITE over UDP gets 416.
//! And outbound: a flow's `dial` through a `transport = "tls"` `[dial]`
//! trunk reaches the carrier (sipp behind stunnel in server mode) over TLS,
//! answers its digest challenge, is bridged, and its BYE goes over TLS too.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use common::tls::{tcp_port, Certs, Mode, Stunnel};
use common::{dtmf_pcap, Backend, Server, ServerOptions, Sipp, SippRun, TestDir};

const DTMF_DELAY_MS: u64 = 3000;

common::for_each_backend! {
    a_call_over_tls_presses_a_digit => call_over_tls;
    plain_tcp_on_the_tls_port_is_dropped_then_a_call_works => plain_tcp_then_a_call;
    a_client_certificate_from_an_unknown_ca_is_refused => rogue_client_certificate;
    a_sips_invite_over_udp_is_refused => sips_over_udp;
    a_trunk_that_requires_tls_refuses_udp_and_takes_tls => trunk_requires_tls;
    a_number_dialled_through_a_tls_trunk_goes_over_tls => dial_through_tls_trunk;
}

struct TlsServer {
    server: Server,
    tls_port: u16,
    certs: Certs,
}

fn start(backend: Backend, dir: &TestDir, verify_clients: bool) -> TlsServer {
    start_with(backend, dir, verify_clients, "")
}

fn start_with(backend: Backend, dir: &TestDir, verify_clients: bool, extra: &str) -> TlsServer {
    let certs = Certs::make(dir.path());
    let tls_port = tcp_port();
    let options = ServerOptions {
        config: Some(certs.sip_config(tls_port, verify_clients) + extra),
        ..ServerOptions::default()
    };
    let server = Server::start(backend, dir.path(), &options);
    assert!(
        server
            .log()
            .contains(&format!("TLS on 127.0.0.1:{tls_port}")),
        "{}",
        server.log()
    );
    TlsServer {
        server,
        tls_port,
        certs,
    }
}

/// stunnel in front of callplane's TLS port, presenting `cert`.
fn tunnel(
    dir: &TestDir,
    tls: &TlsServer,
    name: &str,
    cert: (&std::path::Path, &std::path::Path),
) -> Stunnel {
    Stunnel::start(
        dir.path(),
        name,
        Mode::Client {
            connect: ([127, 0, 0, 1], tls.tls_port).into(),
            ca: &tls.certs.ca,
            cert: cert.0,
            key: cert.1,
        },
    )
}

fn digit_call(dir: &TestDir, stunnel: &Stunnel, name: &str) -> SippRun {
    Sipp::new("uac_dtmf.xml", name, dir.path())
        .tcp()
        .target(stunnel.accept)
        .key("dtmf_pcap", dtmf_pcap('1').display().to_string())
        .set("dtmf_delay_ms", DTMF_DELAY_MS.to_string())
        .timeout(Duration::from_secs(60))
        .run()
}

/// The call took the demo flow, the digit, and callplane hung up.
fn assert_demo_call(server: &Server) {
    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    assert_eq!(cdrs.len(), 1, "one call, one CDR: {cdrs:#?}");
    let cdr = &cdrs[0];
    assert_eq!(cdr.digits(), vec!["1".to_string()], "{}", cdr.json);
    cdr.assert_nodes_in_order(&["entry", "welcome", "menu", "sales", "goodbye"]);
    assert_eq!(cdr.str("hangup_side"), "callplane", "{}", cdr.json);
    assert_eq!(cdr.str("hangup_cause"), "normal_clearing", "{}", cdr.json);
    assert_eq!(cdr.int("sip_status"), 200, "{}", cdr.json);
}

fn call_over_tls(backend: Backend) {
    let dir = TestDir::new(&format!("tls-call-{}", backend.cli_value()));
    let tls = start(backend, &dir, false);
    let stunnel = tunnel(
        &dir,
        &tls,
        "sipp",
        (&tls.certs.client_cert, &tls.certs.client_key),
    );
    let run = digit_call(&dir, &stunnel, "uac_dtmf_tls");
    run.assert_passed(1);
    let received = run.received_messages();
    let bye = received
        .iter()
        .find(|message| message.trim_start().starts_with("BYE "))
        .unwrap_or_else(|| panic!("no BYE from callplane\n{}", run.diagnostics()));
    assert!(
        bye.contains(&format!("SIP/2.0/TLS 127.0.0.1:{};", tls.tls_port)),
        "our Via names TLS and the TLS port: {bye}"
    );
    let ok = received
        .iter()
        .find(|message| {
            message.trim_start().starts_with("SIP/2.0 200") && message.contains("m=audio")
        })
        .unwrap_or_else(|| panic!("no 200 OK\n{}", run.diagnostics()));
    assert!(
        ok.contains(&format!("127.0.0.1:{};transport=tls>", tls.tls_port)),
        "Contact names TLS: {ok}"
    );
    assert_demo_call(&tls.server);
}

fn plain_tcp_then_a_call(backend: Backend) {
    let dir = TestDir::new(&format!("tls-plain-{}", backend.cli_value()));
    let mut tls = start(backend, &dir, false);
    let mut plain = TcpStream::connect(("127.0.0.1", tls.tls_port)).expect("connect");
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    plain
        .write_all(b"OPTIONS sip:1000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-plain\r\nCall-ID: plain\r\nCSeq: 1 OPTIONS\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:1000@127.0.0.1>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    let mut rest = Vec::new();
    // A TLS alert at most, then the close: never a SIP answer.
    match plain.read_to_end(&mut rest) {
        Ok(_) => assert!(
            !rest.starts_with(b"SIP/2.0"),
            "answered in plain text: {rest:?}"
        ),
        Err(err) => assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}"),
    }
    assert!(rest.len() < 64, "at most an alert: {rest:?}");

    let stunnel = tunnel(
        &dir,
        &tls,
        "sipp",
        (&tls.certs.client_cert, &tls.certs.client_key),
    );
    let run = digit_call(&dir, &stunnel, "uac_dtmf_tls_after_plain");
    run.assert_passed(1);
    assert_demo_call(&tls.server);
    tls.server.stop();
    let log = tls.server.log();
    assert!(
        log.contains("tls_errors: 1,"),
        "the plain client is counted: {log}"
    );
    assert!(log.contains("tls_handshakes: "), "{log}");
}

fn rogue_client_certificate(backend: Backend) {
    let dir = TestDir::new(&format!("tls-rogue-{}", backend.cli_value()));
    let mut tls = start(backend, &dir, true);
    let rogue = tunnel(
        &dir,
        &tls,
        "rogue",
        (&tls.certs.rogue_cert, &tls.certs.rogue_key),
    );
    let mut caller = TcpStream::connect(rogue.accept).expect("connect to stunnel");
    caller
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = caller.write_all(b"OPTIONS sip:1000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-rogue\r\nCall-ID: rogue\r\nCSeq: 1 OPTIONS\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:1000@127.0.0.1>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
    let mut answer = Vec::new();
    let _ = caller.read_to_end(&mut answer);
    assert!(
        answer.is_empty(),
        "no answer through a refused handshake: {answer:?}"
    );

    // A certificate from the trusted CA gets through.
    let good = tunnel(
        &dir,
        &tls,
        "sipp",
        (&tls.certs.client_cert, &tls.certs.client_key),
    );
    let run = digit_call(&dir, &good, "uac_dtmf_tls_client_cert");
    run.assert_passed(1);
    assert_demo_call(&tls.server);
    tls.server.stop();
    let log = tls.server.log();
    let reason = log
        .lines()
        .find(|line| line.contains("TLS with 127.0.0.1:"))
        .unwrap_or_else(|| panic!("the refusal is logged: {log}"));
    assert!(reason.contains("invalid peer certificate"), "{reason}");
    assert!(reason.contains("UnknownIssuer"), "{reason}");
}

/// Sends `invite` over UDP and returns the final response.
fn udp_final(server: &Server, invite: &str) -> String {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let invite = invite.replace("LOCAL", &socket.local_addr().unwrap().to_string());
    socket
        .send_to(invite.as_bytes(), server.sip_addr())
        .unwrap();
    let mut buf = [0u8; 4096];
    loop {
        let (n, _) = socket.recv_from(&mut buf).expect("an answer");
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        if !text.starts_with("SIP/2.0 100") {
            return text;
        }
    }
}

fn trunk_requires_tls(backend: Backend) {
    let dir = TestDir::new(&format!("tls-trunk-{}", backend.cli_value()));
    let trunk = "[[trunk]]\nname = \"secure\"\nallow = [\"127.0.0.1\"]\ntransport = \"tls\"\n";
    let mut tls = start_with(backend, &dir, false, trunk);
    let refused = udp_final(
        &tls.server,
        "INVITE sip:1000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bK-trunk\r\nCall-ID: trunk-over-udp\r\nCSeq: 1 INVITE\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:1000@127.0.0.1>\r\nContact: <sip:a@LOCAL>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(refused.starts_with("SIP/2.0 403"), "{refused}");
    let stunnel = tunnel(
        &dir,
        &tls,
        "sipp",
        (&tls.certs.client_cert, &tls.certs.client_key),
    );
    let run = digit_call(&dir, &stunnel, "uac_dtmf_tls_trunk");
    run.assert_passed(1);
    assert_demo_call(&tls.server);
    tls.server.stop();
    let log = tls.server.log();
    assert!(log.contains("calls_refused_not_tls: 1"), "counted: {log}");
}

fn sips_over_udp(backend: Backend) {
    let dir = TestDir::new(&format!("tls-sips-udp-{}", backend.cli_value()));
    let tls = start(backend, &dir, false);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let local = socket.local_addr().unwrap();
    let invite = format!(
        "INVITE sips:1000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-sips\r\nCall-ID: sips-over-udp\r\nCSeq: 1 INVITE\r\nFrom: <sips:a@127.0.0.1>;tag=1\r\nTo: <sips:1000@127.0.0.1>\r\nContact: <sips:a@{local}>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    socket
        .send_to(invite.as_bytes(), tls.server.sip_addr())
        .unwrap();
    let mut buf = [0u8; 4096];
    let mut finals = Vec::new();
    while finals.is_empty() {
        let (n, _) = socket.recv_from(&mut buf).expect("an answer");
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        if !text.starts_with("SIP/2.0 100") {
            finals.push(text);
        }
    }
    assert!(finals[0].starts_with("SIP/2.0 416"), "{}", finals[0]);
    assert!(tls.server.cdrs().is_empty(), "no call was made");
}

/// Dials 5551234 through `[dial] trunk`; after the bridge, hangs up.
const DIALLER_FLOW: &str = r#"{
  "id": "dialler", "name": "dial over tls", "version": 1,
  "nodes": [
    { "id": "start", "type": "start", "data": { "kind": "start" } },
    { "id": "dial", "type": "dial", "data": { "kind": "dial", "number": "5551234", "timeoutSec": 15 } },
    { "id": "sorry", "type": "play", "data": { "kind": "play", "promptId": "invalid" } },
    { "id": "end", "type": "hangup", "data": { "kind": "hangup" } }
  ],
  "edges": [
    { "id": "e1", "source": "start", "target": "dial" },
    { "id": "e2", "source": "dial", "target": "end", "sourceHandle": "answered" },
    { "id": "e3", "source": "dial", "target": "sorry", "sourceHandle": "failed" },
    { "id": "e4", "source": "dial", "target": "sorry", "sourceHandle": "no_answer" },
    { "id": "e5", "source": "sorry", "target": "end" }
  ]
}"#;

fn dial_through_tls_trunk(backend: Backend) {
    let dir = TestDir::new(&format!("tls-dial-{}", backend.cli_value()));
    let certs = Certs::make(dir.path());
    // The carrier: sipp on TCP, challenging the INVITE, behind stunnel.
    // Its 200 names stunnel's TLS address as Contact, so the ACK and BYE
    // come back over TLS.
    let carrier = Sipp::new("uas_auth_tls.xml", "carrier", dir.path())
        .tcp()
        .set("user", "trunk1")
        .set("password", "s3cret")
        .timeout(Duration::from_secs(30));
    let carrier_addr = carrier.sip_addr();
    let stunnel = Stunnel::start(
        dir.path(),
        "carrier",
        Mode::Server {
            connect: carrier_addr,
            cert: &certs.server_cert,
            key: &certs.server_key,
        },
    );
    let carrier = carrier.set("contact", stunnel.accept.to_string());
    let carrier = std::thread::spawn(move || carrier.run());
    common::ports::wait_listening(carrier_addr);
    let flows = dir.path().join("flows");
    fs::create_dir_all(&flows).expect("flows dir");
    fs::write(flows.join("dialler.json"), DIALLER_FLOW).expect("write flow");
    let tls_port = tcp_port();
    // The caller comes over UDP from 127.0.0.1 (its own trunk); the carrier,
    // which requires TLS, is only ever called, so its allow list names
    // another address.
    let options = ServerOptions {
        config: Some(format!(
            "{}[flows]\ndir = \"{}\"\n[routing]\ndefault_flow = \"\"\n\
[[routing.route]]\nnumber = \"1000\"\nflow = \"dialler\"\n[dial]\ntrunk = \"carrier\"\n\
[[trunk]]\nname = \"callers\"\nallow = [\"127.0.0.1\"]\n\
[[trunk]]\nname = \"carrier\"\nallow = [\"127.0.0.2\"]\nproxy = \"{}\"\nusername = \"trunk1\"\npassword = \"s3cret\"\n\
transport = \"tls\"\n",
            certs.sip_config(tls_port, false),
            flows.display(),
            stunnel.accept
        )),
        ..ServerOptions::default()
    };
    let server = Server::start(backend, dir.path(), &options);
    let pcap = dir.path().join("tone.pcap");
    common::pcap::write_tone_pcap(&pcap, 150, 0x7157_0001, 1);
    let caller = Sipp::new("uac_record.xml", "caller", dir.path())
        .target(server.sip_addr())
        .key("audio_pcap", pcap.display().to_string())
        .set("hold_ms", "2000")
        .timeout(Duration::from_secs(20))
        .run();
    caller.assert_passed(1);
    let carrier = carrier.join().expect("carrier sipp");
    carrier.assert_passed(1);
    let received = carrier.received_messages();
    let invites: Vec<&String> = received
        .iter()
        .filter(|m| m.trim_start().starts_with("INVITE sip:5551234@"))
        .collect();
    assert_eq!(
        invites.len(),
        2,
        "challenged, then with credentials: {received:#?}"
    );
    assert!(
        invites[1].contains("Authorization: Digest"),
        "{}",
        invites[1]
    );
    let bye = received
        .iter()
        .find(|m| m.trim_start().starts_with("BYE "))
        .unwrap_or_else(|| panic!("no BYE reached the carrier: {received:#?}"));
    for message in invites.iter().copied().chain(std::iter::once(bye)) {
        assert!(
            message.contains(&format!("Via: SIP/2.0/TLS 127.0.0.1:{tls_port}")),
            "{message}"
        );
    }
    assert!(invites[1].contains(";transport=tls>"), "{}", invites[1]);
    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    let leg = &cdrs[0].json["legs"][0];
    assert_eq!(leg["outcome"], "answered", "{}", cdrs[0].json);
    drop(stunnel);
}
