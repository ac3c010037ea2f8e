//! The media of whole calls over an impaired simulated trunk: what the CDR's
//! `media` object says about the stream callplane received.

use std::time::Duration;

use crate::time::Time;

use super::carrier::CallScript;
use super::network::{LinkConfig, NetworkConfig};
use super::{Sim, SimConfig};

/// Long enough for any call of these tests to end.
const IDLE_LIMIT: Time = Time::from_millis(60_000);

/// Carrier to callplane: 10-40 ms of delay (so packets 20 ms apart reorder), 3 %
/// lost, 2 % doubled; callplane to carrier clean.
fn impaired() -> NetworkConfig {
    NetworkConfig {
        to_host: LinkConfig {
            latency: Duration::from_millis(10),
            jitter: Duration::from_millis(30),
            loss: 0.03,
            duplicate: 0.02,
        },
        ..NetworkConfig::clean()
    }
}

#[test]
fn the_cdr_counts_what_the_network_did_to_the_received_stream() {
    let mut sim = Sim::new(SimConfig::demo(7).with_network(impaired()));
    sim.place(
        CallScript::new("jb-1", Time::ZERO)
            .stream_audio(Duration::from_secs(8))
            .hang_up_after(Duration::from_secs(9)),
    );
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let sent = u64::from(sim.report("jb-1").digit_packets_sent);
    assert_eq!(sent, 400);
    let cdr = sim.cdr("jb-1");
    let rtp = &cdr.media.as_ref().expect("an answered call has media").rtp;
    assert!(rtp.sent > 400, "{rtp:?}");
    assert!(
        rtp.reordered > 5,
        "packets 20 ms apart with 30 ms of jitter: {rtp:?}"
    );
    assert!(rtp.lost > 2 && rtp.lost < 30, "about 3 % of 400: {rtp:?}");
    assert!(rtp.duplicated > 0 && rtp.duplicated < 25, "{rtp:?}");
    assert_eq!(
        rtp.received - rtp.duplicated + rtp.lost,
        sent,
        "every packet was received once or lost: {rtp:?}"
    );
    assert!(rtp.jitter_ms > 3.0 && rtp.jitter_ms < 20.0, "{rtp:?}");
    assert!(rtp.delay_ms >= 20 && rtp.delay_ms <= 200, "{rtp:?}");
    assert_eq!(
        rtp.decoded_frames, 0,
        "telephone-event call: nothing decoded"
    );
}

/// The RTCP the carrier saw and the CDR's `rtcp` object, for a call of `script`
/// that hangs up after 12 s.
fn rtcp_call(script: CallScript) -> (Sim, String) {
    let call_id = script.call_id.clone();
    let mut sim = Sim::new(SimConfig::demo(5));
    sim.place(script.hang_up_after(Duration::from_secs(12)));
    assert!(sim.run_until_idle(IDLE_LIMIT));
    (sim, call_id)
}

#[test]
fn the_carriers_receiver_reports_give_the_cdr_rtt_and_the_far_ends_loss() {
    let (sim, call_id) = rtcp_call(CallScript::new("rtcp-1", Time::ZERO).reporting(64, 17, 160));
    let report = sim.report(&call_id);
    // Reports every ~5 s over 12 s, the first within 1-3 s, and a BYE at the end.
    assert!((2..=5).contains(&report.srs_received), "{report:?}");
    assert_eq!(report.rtcp_byes, 1);
    let host_rtcp = report.rtcp_sources[0];
    assert_eq!(host_rtcp.port() % 2, 1, "RTCP from RTP + 1: {host_rtcp}");
    let cdr = sim.cdr(&call_id);
    let rtcp = &cdr.media.as_ref().expect("media").rtcp;
    assert_eq!(rtcp.reports_sent, u64::from(report.rtcp_received));
    // The RR answering the last SR (with the BYE) comes after the call ended.
    assert_eq!(rtcp.reports_received, u64::from(report.rrs_sent) - 1);
    assert!(rtcp.reports_received >= 1, "{rtcp:?}");
    // 10 ms each way; the carrier's 50 ms hold is taken out by its DLSR.
    let rtt = rtcp.rtt_ms.expect("an RTT");
    assert!((rtt - 20.0).abs() < 0.1, "{rtt}");
    assert_eq!(rtcp.remote_fraction_lost, Some(0.25));
    assert_eq!(rtcp.remote_lost, Some(17));
    assert_eq!(rtcp.remote_jitter_ms, Some(20.0));
    assert_eq!(rtcp.malformed, 0);
}

#[test]
fn with_rtcp_mux_reports_share_the_rtp_port_both_ways() {
    let (sim, call_id) = rtcp_call(CallScript::new("mux-1", Time::ZERO).rtcp_mux());
    let report = sim.report(&call_id);
    let answer = report.answer_sdp.as_deref().unwrap_or_default();
    assert!(answer.contains("a=rtcp-mux\r\n"), "{answer}");
    assert!(report.srs_received >= 2, "{report:?}");
    let host_rtp = report.rtcp_sources[0];
    assert!(
        answer.contains(&format!("m=audio {} ", host_rtp.port())),
        "RTCP came from the RTP port {host_rtp}: {answer}"
    );
    let rtcp = &sim.cdr(&call_id).media.as_ref().expect("media").rtcp;
    assert!(rtcp.reports_received >= 1, "{rtcp:?}");
    assert!(
        rtcp.rtt_ms.is_some_and(|rtt| (rtt - 20.0).abs() < 0.1),
        "{rtcp:?}"
    );
}
