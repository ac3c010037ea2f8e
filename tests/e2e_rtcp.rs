//! End-to-end RTCP against the callplane binary, under both io backends: during
//! a sipp call (sipp itself sends no RTCP), a plain UDP socket on the caller's
//! RTCP port (its RTP port + 1) receives callplane's sender reports and answers
//! each with a receiver report built here by hand; callplane's CDR then carries
//! the round-trip time measured from it.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use common::{dtmf_pcap, Backend, RtpListener, Server, ServerOptions, Sipp, TestDir};

common::for_each_backend! {
    sender_reports_reach_rtp_plus_one_and_receiver_reports_give_an_rtt => rtcp_exchange;
}

/// Our SSRC in the receiver reports.
const PEER_SSRC: u32 = 0x5EED_0001;

/// What the caller's RTCP socket received.
#[derive(Debug, Default)]
struct RtcpCapture {
    /// Each datagram with where it came from.
    datagrams: Vec<(SocketAddr, Vec<u8>)>,
    receiver_reports_sent: u32,
}

/// The caller's RTCP side: answers each SR at once with an RR whose LSR is the
/// SR's and whose DLSR is zero, and sends one datagram of garbage first.
struct RtcpPeer {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<RtcpCapture>,
}

impl RtcpPeer {
    fn bind(port: u16) -> RtcpPeer {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, port))
            .unwrap_or_else(|err| panic!("cannot bind the caller's RTCP port {port}: {err}"));
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("set the RTCP read timeout");
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut capture = RtcpCapture::default();
            let mut buf = [0u8; 1500];
            while !stop_flag.load(Ordering::Relaxed) {
                let Ok((len, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let data = buf[..len].to_vec();
                if data.get(1) == Some(&200) && data.len() >= 28 {
                    if capture.receiver_reports_sent == 0 {
                        let _ = socket.send_to(&[0x80, 201, 0, 7, 1, 2], from);
                    }
                    let _ = socket.send_to(&receiver_report(&data), from);
                    capture.receiver_reports_sent += 1;
                }
                capture.datagrams.push((from, data));
            }
            capture
        });
        RtcpPeer { stop, thread }
    }

    fn finish(self) -> RtcpCapture {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the RTCP peer thread panicked")
    }
}

/// An RR (RFC 3550 §6.4.2) with one block about the SR's sender: no loss, no
/// jitter, LSR the middle 32 bits of the SR's NTP timestamp, DLSR 0.
fn receiver_report(sr: &[u8]) -> Vec<u8> {
    let mut rr = vec![0x81, 201, 0, 7];
    rr.extend_from_slice(&PEER_SSRC.to_be_bytes());
    rr.extend_from_slice(&sr[4..8]);
    rr.extend_from_slice(&[0; 12]);
    rr.extend_from_slice(&sr[10..14]);
    rr.extend_from_slice(&[0; 4]);
    rr
}

fn word(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

fn rtcp_exchange(backend: Backend) {
    let dir = TestDir::new(&format!("rtcp-{}", backend.cli_value()));
    let server = Server::start(backend, dir.path(), &ServerOptions::default());
    let sipp = Sipp::new("uac_dtmf.xml", "uac_dtmf", dir.path())
        .target(server.sip_addr())
        .key("dtmf_pcap", dtmf_pcap('1').display().to_string())
        .set("dtmf_delay_ms", "4000")
        .timeout(Duration::from_secs(45));
    let listener = RtpListener::bind(sipp.audio_port());
    let peer = RtcpPeer::bind(sipp.rtcp_port());
    let run = sipp.run();
    let capture = listener.finish();
    let rtcp = peer.finish();
    run.assert_passed(1);

    let rtp = capture.packets.first().expect("callplane sent RTP").clone();
    assert_eq!(rtp.from.port() % 2, 0, "RTP on an even port: {}", rtp.from);
    let reports: Vec<&(SocketAddr, Vec<u8>)> = rtcp.datagrams.iter().collect();
    assert!(
        reports.len() >= 2,
        "an SR within 3 s, a BYE at the end: {reports:?}"
    );
    for (from, data) in &reports {
        assert_eq!(*from, SocketAddr::new(rtp.from.ip(), rtp.from.port() + 1));
        assert_eq!(data[0] >> 6, 2, "version 2");
        assert_eq!(data[1], 200, "an SR: callplane sends");
        assert_eq!(word(data, 4), rtp.ssrc, "the RTP stream's SSRC");
        let sr_len = (usize::from(u16::from_be_bytes([data[2], data[3]])) + 1) * 4;
        assert_eq!(data[sr_len + 1], 202, "SDES follows the SR");
        assert_eq!(data[sr_len + 8], 1, "a CNAME item");
    }
    let first = &reports[0].1;
    assert!(word(first, 20) > 0, "the SR counts packets sent");
    let (_, last) = reports.last().expect("reports");
    assert_eq!(
        &last[last.len() - 8..last.len() - 4],
        &[0x81, 203, 0, 1],
        "a BYE ends the call"
    );

    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    let cdr = &cdrs[0];
    let media = &cdr.json["media"];
    let rtcp_cdr = &media["rtcp"];
    let received = rtcp_cdr["reports_received"].as_u64().unwrap_or(0);
    assert!(received >= 1, "callplane read our RR: {}", cdr.json);
    assert_eq!(rtcp_cdr["malformed"].as_u64(), Some(1), "{}", cdr.json);
    let rtt = rtcp_cdr["rtt_ms"].as_f64().expect("an RTT in the CDR");
    assert!(
        (0.0..50.0).contains(&rtt),
        "loopback RTT {rtt} ms: {}",
        cdr.json
    );
    assert_eq!(rtcp_cdr["remote_fraction_lost"].as_f64(), Some(0.0));
    assert_eq!(
        media["rtp"]["decoded_frames"].as_u64(),
        Some(0),
        "telephone-event was negotiated: nothing decoded: {}",
        cdr.json
    );
    assert!(
        media["rtcp"]["reports_sent"].as_u64() == Some(reports.len() as u64),
        "{}",
        cdr.json
    );
}
