//! Two media sessions bridged by relay on a fake clock: the far end of one
//! sends, the other's stream carries its packets renumbered, and its own send
//! slots stay silent until the relay ends.

use super::*;
use crate::media::rtp::parse_rtp;

fn config(ssrc: u32, port: u16, dtmf_pt: u8) -> MediaConfig {
    MediaConfig {
        codec: Codec::Pcmu,
        codec_pt: 0,
        dtmf_pt: Some(dtmf_pt),
        remote: SocketAddr::from(([127, 0, 0, 1], port)),
        ssrc,
        initial_sequence: 1000,
        initial_timestamp: 50_000,
        jitter_min: MediaConfig::JITTER_MIN,
        jitter_max: MediaConfig::JITTER_MAX,
        rtcp_mux: true,
        ntp_at_zero: 0,
        rtcp_seed: 3,
    }
}

/// Every RTP packet the session sends at `now`, parsed: (pt, marker, seq, ts, ssrc).
fn sent(session: &mut MediaSession, now: Time) -> Vec<(u8, bool, u16, u32, u32)> {
    session.handle_timeout(now);
    let mut buf = [0u8; 2048];
    let mut packets = Vec::new();
    loop {
        match session.poll_output(&mut buf) {
            MediaOutput::Transmit(len) => {
                let p = parse_rtp(&buf[..len]).expect("sent packets parse");
                if !crate::media::rtcp::is_rtcp(&buf[..len]) {
                    packets.push((p.payload_type, p.marker, p.sequence, p.timestamp, p.ssrc));
                }
            }
            MediaOutput::Timeout(_) => return packets,
            _ => {}
        }
    }
}

fn far_packet(pt: u8, seq: u16, ts: u32) -> Vec<u8> {
    let mut packet = vec![0x80, pt, 0, 0, 0, 0, 0, 0, 0, 0, 0x0F, 0xAA];
    packet[2..4].copy_from_slice(&seq.to_be_bytes());
    packet[4..8].copy_from_slice(&ts.to_be_bytes());
    match pt {
        0 => packet.extend_from_slice(&[0x55; 160]),
        _ => packet.extend_from_slice(&[4, 10, 0, 160]),
    }
    packet
}

#[test]
fn relayed_packets_join_the_other_stream_and_its_own_slots_stay_silent() {
    let far: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 7000));
    let mut caller = MediaSession::new(config(0xCA11, 7000, 101), Time::ZERO);
    let mut leg = MediaSession::new(config(0x1E6, 7002, 96), Time::ZERO);
    let own = sent(&mut leg, Time::ZERO);
    assert_eq!(own.len(), 1, "the leg's first own packet");
    let (_, _, own_seq, own_ts, _) = own[0];
    sent(&mut caller, Time::ZERO);
    caller.set_relay(true);
    leg.set_relay(true);
    let mut relayed = Vec::new();
    for n in 1..=10u64 {
        let now = Time::from_millis(n * 20);
        let pt = if n == 5 { 101 } else { 0 };
        caller.handle_rtp(
            now,
            far,
            &far_packet(pt, 300 + n as u16, 9_000 + n as u32 * 160),
        );
        let side = BridgeSide::from(caller.config());
        let packet = caller
            .take_relayed()
            .expect("the caller's packet is kept")
            .to_vec();
        assert_eq!(caller.take_relayed(), None, "taken once");
        leg.relay_packet(now, &side, &packet);
        let out = sent(&mut leg, now);
        assert_eq!(out.len(), 1, "only the relayed packet leaves, no own slot");
        relayed.push(out[0]);
    }
    assert_eq!(relayed[0].2, own_seq.wrapping_add(1));
    assert_eq!(
        relayed[0].3,
        own_ts.wrapping_add(160),
        "anchored on the stream's clock"
    );
    for (n, packet) in relayed.iter().enumerate() {
        assert_eq!(packet.4, 0x1E6, "the leg's SSRC");
        assert_eq!(packet.2, own_seq.wrapping_add(1 + n as u16));
        assert_eq!(
            packet.0,
            if n == 4 { 96 } else { 0 },
            "telephone-event mapped"
        );
    }
    let (stats, overruns) = leg.relay_stats().expect("relaying");
    assert_eq!((stats.relayed, stats.events, overruns), (10, 1, 0));
    // The relay ends: the leg's own packets follow on, the first marked.
    leg.set_relay(false);
    let own = sent(&mut leg, Time::from_millis(220));
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].2, relayed[9].2.wrapping_add(1));
    assert!(own[0].1, "marker after the relay");
}

#[test]
fn nothing_relayed_leaves_while_the_far_end_holds_the_call() {
    let mut leg = MediaSession::new(config(1, 7002, 96), Time::ZERO);
    sent(&mut leg, Time::ZERO);
    leg.set_relay(true);
    let remote = leg.config().remote;
    leg.renegotiate(remote, Codec::Pcmu, 0, Some(96), false);
    let side = BridgeSide {
        codec: Codec::Pcmu,
        codec_pt: 0,
        dtmf_pt: Some(101),
    };
    leg.relay_packet(Time::from_millis(20), &side, &far_packet(0, 1, 160));
    assert!(sent(&mut leg, Time::from_millis(20)).is_empty());
    assert_eq!(leg.stats().packets_held, 1);
}

#[test]
fn a_session_not_relaying_keeps_nothing_and_ignores_relayed_packets() {
    let far: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 7000));
    let mut session = MediaSession::new(config(1, 7000, 101), Time::ZERO);
    session.handle_rtp(Time::ZERO, far, &far_packet(0, 1, 160));
    assert_eq!(session.take_relayed(), None);
    let side = BridgeSide::from(session.config());
    session.relay_packet(Time::ZERO, &side, &far_packet(0, 2, 320));
    assert!(session.relay_stats().is_none());
}
