//! The shell's TLS client with real peers: the SIP core places a call over
//! [`Link::Tls`], the stream transport opens a TLS connection (connect and
//! handshake non-blocking, the INVITE waiting in the session until the
//! handshake is done) to stunnel, which carries it over TCP to sipp playing
//! the called carrier; sipp answers and hangs up. A server whose certificate
//! comes from a CA we do not trust is refused (counted), its INVITE ends at
//! once with a local 503 (RFC 3261 §8.1.3.1), and nothing reaches sipp. Certificates are made here with the `openssl` CLI; sipp and
//! stunnel4 come from `scripts/install-test-deps.sh`.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{TlsFiles, TlsSettings};
use crate::shard::tcp::{TcpSettings, TcpTransport};
use crate::sip::stream::StreamLimits;
use crate::sip::{
    Dialog, DialogEvent, DialogOutput, DialogOwner, Dispatcher, DispatcherOutput, Link,
    OutboundInvite, Routed, SipSettings, SipTimers, TerminatedReason,
};
use crate::time::Time;

const OFFER: &str = "v=0\r\no=callplane 1 1 IN IP4 127.0.0.1\r\ns=callplane\r\nc=IN IP4 127.0.0.1\r\n\
t=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

fn openssl(dir: &Path, args: &str) {
    let status = Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl");
    assert!(status.success(), "openssl {args}");
}

/// A CA `ca` and a certificate `name` for 127.0.0.1 that it signs.
fn certificate(dir: &Path, ca: &str, name: &str) {
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    if !dir.join(format!("{ca}.pem")).exists() {
        openssl(
            dir,
            &format!("req -x509 {ec} -days 2 -subj /CN={ca} -keyout {ca}.key -out {ca}.pem"),
        );
    }
    openssl(
        dir,
        &format!("req {ec} -subj /CN={name} -keyout {name}.key -out {name}.csr"),
    );
    fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        dir,
        &format!("x509 -req -in {name}.csr -CA {ca}.pem -CAkey {ca}.key -CAcreateserial -days 2 -extfile san.ext -out {name}.pem"),
    );
}

fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pair = port
            .checked_add(2)
            .map(|p| UdpSocket::bind(("127.0.0.1", p)).is_ok());
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() && pair == Some(true) {
            return port;
        }
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// stunnel accepting TLS with `cert` on a new port, carrying it to `connect`.
fn stunnel(dir: &Path, cert: &str, connect: SocketAddr) -> (Killed, SocketAddr) {
    let accept = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
    let conf = dir.join(format!("{cert}-stunnel.conf"));
    let p = |file: &str| dir.join(file).display().to_string();
    fs::write(
        &conf,
        format!(
            "foreground = yes\npid =\noutput = {}\n[carrier]\naccept = {accept}\nconnect = {connect}\ncert = {}\nkey = {}\n",
            p(&format!("{cert}-stunnel.log")),
            p(&format!("{cert}.pem")),
            p(&format!("{cert}.key"))
        ),
    )
    .unwrap();
    let child = Command::new("stunnel4")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run stunnel4");
    let child = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    // Listening is all we wait for: a probe connection would reach sipp.
    while !is_listening(accept) {
        assert!(
            Instant::now() < deadline,
            "stunnel does not listen on {accept}"
        );
        wait_ms(50);
    }
    (child, accept)
}

fn is_listening(addr: SocketAddr) -> bool {
    TcpListener::bind(addr).is_err()
}

/// Waits on nothing for `ms` (poll(2) with no descriptors).
fn wait_ms(ms: i32) {
    // SAFETY: no descriptors are passed.
    unsafe { libc::poll(std::ptr::null_mut(), 0, ms) };
}

/// sipp answering one call over TCP on a new port, hanging up after 500 ms.
fn carrier(dir: &Path) -> (Killed, SocketAddr) {
    let port = free_port();
    let media = free_port();
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp/standin_answer.xml");
    let child = Command::new("sipp")
        .arg("-sf")
        .arg(scenario)
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1", "-t", "t1"])
        .args(["-p", &port.to_string(), "-mp", &media.to_string()])
        .args(["-cp", &free_port().to_string()])
        .args(["-set", "hangup_after_ms", "500", "-m", "1"])
        .args([
            "-timeout",
            "30s",
            "-timeout_error",
            "-nostdin",
            "-trace_msg",
        ])
        .arg("-message_file")
        .arg(dir.join("sipp-messages.log"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run sipp");
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !is_listening(addr) {
        assert!(Instant::now() < deadline, "sipp does not listen on {addr}");
        wait_ms(50);
    }
    (Killed(child), addr)
}

/// The core and the shell's stream transport, driven by a real clock.
struct Uac {
    tcp: TcpTransport,
    dispatcher: Dispatcher,
    dialog: Option<Dialog>,
    events: Vec<DialogEvent>,
    start: Instant,
    /// The network of the test: sipp's Contact names its TCP address, which
    /// is reached over TLS at stunnel's.
    alias: Option<(SocketAddr, SocketAddr)>,
}

impl Uac {
    fn new(dir: &Path) -> Uac {
        let stream = TcpSettings {
            max_connections: 8,
            idle: Duration::from_secs(30),
            limits: StreamLimits::default(),
        };
        let files = TlsFiles {
            cert: &dir.join("callplane.pem"),
            key: &dir.join("callplane.key"),
            ca: Some(&dir.join("ca.pem")),
            verify_clients: false,
        };
        let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let tls = TlsSettings::load(listen, &files, Duration::from_secs(5), stream).unwrap();
        let tcp = TcpTransport::listen(0, None, stream, Some(tls)).unwrap();
        let settings = SipSettings {
            local_addr: "127.0.0.1:5060".parse().unwrap(),
            user_agent: "callplane-test".into(),
            timers: SipTimers::default(),
            session_timer: Default::default(),
        };
        let mut dispatcher = Dispatcher::new(settings, 7);
        dispatcher.set_tls_port(5061);
        Uac {
            tcp,
            dispatcher,
            dialog: None,
            events: Vec::new(),
            start: Instant::now(),
            alias: None,
        }
    }

    fn now(&self) -> Time {
        Time::from_micros(self.start.elapsed().as_micros() as u64)
    }

    fn call(&mut self, dest: SocketAddr) {
        let invite = OutboundInvite {
            request_uri: format!("sip:+4930123@{dest};transport=tls"),
            from: "<sip:+4930999@127.0.0.1>".into(),
            to: "<sip:+4930123@127.0.0.1>".into(),
            dest,
            route: Vec::new(),
            sdp_offer: OFFER.into(),
            credentials: None,
            extra_headers: Vec::new(),
        };
        let now = self.now();
        let dialog = self
            .dispatcher
            .place_call_over(now, invite, DialogOwner(1), Link::Tls(None));
        self.dialog = Some(dialog);
        self.flush();
    }

    fn flush(&mut self) {
        let now = self.now();
        let mut out = Vec::new();
        if let Some(dialog) = self.dialog.as_mut() {
            loop {
                match dialog.poll_output() {
                    DialogOutput::Transmit(t) => out.push(t),
                    DialogOutput::Event(event) => self.events.push(event),
                    DialogOutput::Timeout(_) => break,
                }
            }
        }
        while let DispatcherOutput::Transmit(t) = self.dispatcher.poll_output() {
            out.push(t);
        }
        for t in out {
            assert!(t.link.is_tls(), "{:?}", t.link);
            let response = t.is_response();
            let dest = match self.alias {
                Some((from, to)) if t.dest == from => to,
                _ => t.dest,
            };
            let _ = self
                .tcp
                .send(now, t.link.conn(), dest, &t.payload, response, true);
        }
    }

    fn run_until(&mut self, limit: Duration, done: impl Fn(&[DialogEvent]) -> bool) {
        let end = Instant::now() + limit;
        while !done(&self.events) && Instant::now() < end {
            let mut fd = libc::pollfd {
                fd: self.tcp.raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(&mut fd, 1, 10) };
            let now = self.now();
            let mut received = Vec::new();
            self.tcp.poll(now, &mut received);
            for message in received {
                assert!(message.tls);
                let link = Link::Tls(Some(message.conn));
                let routed = self
                    .dispatcher
                    .handle_message(now, message.from, link, &message.data);
                if let (Some(Routed::Dialog { message, .. }), Some(dialog)) =
                    (routed, self.dialog.as_mut())
                {
                    dialog.handle_message(now, message);
                }
            }
            self.dispatcher.handle_timeout(now);
            self.tcp.handle_timeout(now);
            if let Some(dialog) = self.dialog.as_mut() {
                dialog.handle_timeout(now);
            }
            self.flush();
            self.feed_undelivered();
        }
    }

    /// What the transport could not deliver goes back to the core as the
    /// shell's event loop does it.
    fn feed_undelivered(&mut self) {
        for failed in self.tcp.take_undelivered() {
            let now = self.now();
            let link = Link::Tls(None);
            let routed =
                self.dispatcher
                    .handle_transport_error(now, failed.dest, link, &failed.data);
            if let (Some(Routed::Dialog { message, .. }), Some(dialog)) =
                (routed, self.dialog.as_mut())
            {
                dialog.handle_message(now, message);
            }
            self.flush();
        }
    }
}

fn terminated(events: &[DialogEvent]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, DialogEvent::Terminated(_)))
}

#[test]
fn an_outbound_call_over_tls_reaches_sipp_through_stunnel() {
    let dir = tempfile::tempdir().unwrap();
    certificate(dir.path(), "ca", "carrier");
    certificate(dir.path(), "ca", "callplane");
    let (mut sipp, sipp_addr) = carrier(dir.path());
    let (_stunnel, tls_addr) = stunnel(dir.path(), "carrier", sipp_addr);
    let mut uac = Uac::new(dir.path());
    uac.alias = Some((sipp_addr, tls_addr));
    uac.call(tls_addr);
    uac.run_until(Duration::from_secs(20), terminated);
    assert_eq!(
        uac.events,
        [
            DialogEvent::Progress(180),
            DialogEvent::Answered,
            DialogEvent::RemoteHangup,
            DialogEvent::Terminated(TerminatedReason::RemoteHangup)
        ],
        "{:?}\n{}",
        uac.tcp.stats(),
        fs::read_to_string(dir.path().join("sipp-messages.log")).unwrap_or_default()
    );
    let stats = uac.tcp.stats();
    assert_eq!(stats.tls_handshakes, 1, "{stats:?}");
    assert_eq!(stats.connected, 1, "{stats:?}");
    assert_eq!(stats.tls_errors, 0, "{stats:?}");
    // sipp saw its call through and exits 0.
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        match sipp.0.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => {
                uac.run_until(Duration::from_millis(100), |_| false)
            }
            _ => break None,
        }
    };
    assert!(status.is_some_and(|s| s.success()), "sipp: {status:?}");
}

#[test]
fn a_server_certificate_from_an_untrusted_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    certificate(dir.path(), "ca", "callplane");
    certificate(dir.path(), "rogue-ca", "impostor");
    // What stunnel would carry it to: nothing may arrive here.
    let behind = TcpListener::bind("127.0.0.1:0").unwrap();
    behind.set_nonblocking(true).unwrap();
    let (_stunnel, tls_addr) = stunnel(dir.path(), "impostor", behind.local_addr().unwrap());
    let mut uac = Uac::new(dir.path());
    let started = Instant::now();
    uac.call(tls_addr);
    // The failed handshake ends the INVITE at once as a 503 (§8.1.3.1),
    // not at Timer B's 32 s.
    uac.run_until(Duration::from_secs(10), terminated);
    let took = started.elapsed();
    assert_eq!(
        uac.events,
        [DialogEvent::Terminated(TerminatedReason::Refused(503))],
        "{:?}",
        uac.tcp.stats()
    );
    assert!(took < Duration::from_secs(2), "ended after {took:?}");
    assert_eq!(uac.dispatcher.stats().transport_errors, 1);
    // The 503's ACK tries a connection of its own, refused the same way
    // (and dropped when it comes back undelivered).
    let end = Instant::now() + Duration::from_secs(10);
    while uac.tcp.connections() > 0 && Instant::now() < end {
        uac.run_until(Duration::from_millis(50), |_| false);
    }
    let stats = uac.tcp.stats();
    assert!((1..=2).contains(&stats.tls_errors), "{stats:?}");
    assert_eq!(stats.tls_handshakes, 0, "{stats:?}");
    assert_eq!(uac.tcp.connections(), 0, "the connection is closed");
    assert_eq!(uac.dispatcher.stats().transport_errors, 1, "ACKs are not");
    // stunnel may have connected behind (it does before its handshake), but
    // no byte of the INVITE went through.
    if let Ok((mut conn, _)) = behind.accept() {
        use std::io::Read;
        conn.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut buf = [0u8; 64];
        assert!(
            !matches!(conn.read(&mut buf), Ok(n) if n > 0),
            "the INVITE leaked"
        );
    }
}
