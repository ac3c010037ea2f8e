//! Checks of the harness itself, without callplane: each caller scenario in
//! tests/sipp/ runs against a sipp stand-in for the server (standin_*.xml), the
//! DTMF packets sipp plays are captured and decoded, and the RTP/G.711 helpers
//! are checked on known values. When these fail, the e2e tests' failures are
//! the harness's, not callplane's.

mod common;

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use common::rtp::{parse_rtp, ulaw_rms, ulaw_to_linear};
use common::{dtmf_pcap, RtpListener, Sipp, SippRun, TestDir};

/// RFC 4733 telephone-event, as in the scenarios' SDP.
const TELEPHONE_EVENT: u8 = 101;

/// Runs a stand-in scenario in a thread, returning its address and the thread.
fn start_stand_in(stand_in: Sipp) -> (SocketAddr, thread::JoinHandle<SippRun>) {
    let address = stand_in.sip_addr();
    let handle = thread::spawn(move || stand_in.run());
    (address, handle)
}

#[test]
fn uac_dtmf_presses_its_digit_from_its_audio_port() {
    let dir = TestDir::new("scenario-dtmf");
    let stand_in = Sipp::new("standin_answer.xml", "standin_answer", dir.path())
        .set("hangup_after_ms", "2500")
        .timeout(Duration::from_secs(20));
    let listener = RtpListener::bind(stand_in.audio_port());
    let (stand_in_addr, stand_in) = start_stand_in(stand_in);

    let caller = Sipp::new("uac_dtmf.xml", "uac_dtmf", dir.path())
        .target(stand_in_addr)
        .key("dtmf_pcap", dtmf_pcap('2').display().to_string())
        .set("dtmf_delay_ms", "1000")
        .timeout(Duration::from_secs(20));
    let caller_audio_port = caller.audio_port();
    let run = caller.run();
    let stand_in = stand_in.join().expect("stand-in thread");
    let capture = listener.finish();

    run.assert_passed(1);
    stand_in.assert_passed(1);
    assert_eq!(
        capture.dtmf_digits(TELEPHONE_EVENT),
        vec!['2'],
        "{}",
        capture.summary()
    );
    let dtmf = capture.with_payload_type(TELEPHONE_EVENT);
    // sipp's pcaps hold 10 packets per digit: 7 updates and 3 end packets.
    assert_eq!(dtmf.len(), 10, "{}", capture.summary());
    assert!(
        dtmf.iter()
            .all(|packet| packet.from.port() == caller_audio_port),
        "DTMF must leave from the advertised audio port {caller_audio_port}: {}",
        capture.summary()
    );
}

#[test]
fn uac_dtmf_load_presses_the_injected_digits() {
    let dir = TestDir::new("scenario-dtmf-load");
    let stand_in = Sipp::new("standin_answer.xml", "standin_answer", dir.path())
        .set("hangup_after_ms", "2000")
        .calls(4, 4, 10)
        .timeout(Duration::from_secs(20));
    let listener = RtpListener::bind(stand_in.audio_port());
    let (stand_in_addr, stand_in) = start_stand_in(stand_in);

    let digits: Vec<String> = ["1", "2", "2", "1"].map(String::from).to_vec();
    let caller = Sipp::new("uac_dtmf_load.xml", "uac_dtmf_load", dir.path())
        .target(stand_in_addr)
        .key("dtmf_pcap_1", dtmf_pcap('1').display().to_string())
        .key("dtmf_pcap_2", dtmf_pcap('2').display().to_string())
        .set("dtmf_delay_ms", "500")
        .injection(&digits)
        .calls(4, 4, 10)
        .timeout(Duration::from_secs(20));
    let caller_media_port = caller.media_port();
    let run = caller.run();
    let stand_in = stand_in.join().expect("stand-in thread");
    let capture = listener.finish();

    run.assert_passed(4);
    stand_in.assert_passed(4);
    // The pcaps share SSRC and timestamps, so events are told apart by arrival:
    // count end-of-event groups per digit instead.
    let mut pressed: Vec<char> = capture
        .with_payload_type(TELEPHONE_EVENT)
        .iter()
        .filter(|packet| packet.marker)
        .filter_map(|packet| packet.payload.first())
        .map(|&event| char::from(b'0' + event))
        .collect();
    pressed.sort_unstable();
    assert_eq!(pressed, vec!['1', '1', '2', '2'], "{}", capture.summary());
    assert!(
        capture
            .packets
            .iter()
            .all(|p| p.from.port() == caller_media_port),
        "DTMF must leave from sipp's media port {caller_media_port}: {}",
        capture.summary()
    );
    let call_ids: Vec<String> = run
        .messages_log()
        .lines()
        .filter_map(|line| line.strip_prefix("Call-ID: press"))
        .map(|rest| rest.chars().take(1).collect())
        .collect();
    assert!(call_ids.iter().any(|d| d == "1") && call_ids.iter().any(|d| d == "2"));
}

#[test]
fn uac_cancel_passes_against_a_ringing_stand_in() {
    let dir = TestDir::new("scenario-cancel");
    let stand_in = Sipp::new("standin_cancel.xml", "standin_cancel", dir.path())
        .timeout(Duration::from_secs(15));
    let (stand_in_addr, stand_in) = start_stand_in(stand_in);
    let run = Sipp::new("uac_cancel.xml", "uac_cancel", dir.path())
        .target(stand_in_addr)
        .timeout(Duration::from_secs(15))
        .run();
    let stand_in = stand_in.join().expect("stand-in thread");
    run.assert_passed(1);
    stand_in.assert_passed(1);
}

#[test]
fn uac_488_passes_against_a_rejecting_stand_in() {
    let dir = TestDir::new("scenario-488");
    let stand_in = Sipp::new("standin_reject_488.xml", "standin_reject_488", dir.path())
        .timeout(Duration::from_secs(15));
    let (stand_in_addr, stand_in) = start_stand_in(stand_in);
    let run = Sipp::new("uac_488.xml", "uac_488", dir.path())
        .target(stand_in_addr)
        .timeout(Duration::from_secs(15))
        .run();
    let stand_in = stand_in.join().expect("stand-in thread");
    run.assert_passed(1);
    stand_in.assert_passed(1);
}

#[test]
fn ulaw_decoding_matches_g711() {
    assert_eq!(ulaw_to_linear(0xff), 0);
    assert_eq!(ulaw_to_linear(0x7f), 0);
    assert_eq!(ulaw_to_linear(0x80), 32124);
    assert_eq!(ulaw_to_linear(0x00), -32124);
    assert_eq!(ulaw_to_linear(0xfe), 8);
    assert_eq!(ulaw_to_linear(0x7e), -8);
    assert_eq!(ulaw_to_linear(0xef), 132);
    assert_eq!(ulaw_rms(&[0xff; 160]), 0.0);
    assert!((ulaw_rms(&[0x80, 0x00]) - 32124.0).abs() < 1e-9);
}

#[test]
fn rtp_parsing_reads_headers_and_rejects_junk() {
    let from: SocketAddr = "127.0.0.1:4000".parse().expect("address");
    let now = Instant::now();
    let mut packet = vec![
        0x80,
        0x80 | 101,
        0x12,
        0x34,
        0,
        0,
        0x01,
        0x40,
        0xde,
        0xad,
        0xbe,
        0xef,
    ];
    packet.extend([1, 0x0a, 0x00, 0xa0]);
    let parsed = parse_rtp(from, now, &packet).expect("valid RTP");
    assert!(parsed.marker);
    assert_eq!(parsed.payload_type, 101);
    assert_eq!(parsed.sequence, 0x1234);
    assert_eq!(parsed.timestamp, 320);
    assert_eq!(parsed.ssrc, 0xdead_beef);
    assert_eq!(parsed.payload, vec![1, 0x0a, 0x00, 0xa0]);

    // One CSRC and two bytes of padding around a 2-byte payload.
    let padded = [
        0xa1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9, 9, 9, 9, 0x55, 0x66, 0, 2,
    ];
    let parsed = parse_rtp(from, now, &padded).expect("valid RTP");
    assert_eq!(parsed.payload, vec![0x55, 0x66]);

    assert!(parse_rtp(from, now, &[0x80, 0, 0]).is_none(), "too short");
    assert!(parse_rtp(from, now, &[0u8; 12]).is_none(), "version 0");
    assert!(parse_rtp(from, now, b"OPTIONS sip:x SIP/2.0").is_none());
}
