//! Round trips, malformed compounds, and a report exchange on a fake clock.

use std::time::Duration;

use super::*;
use crate::media::rtp::RtpPacket;
use crate::time::Time;

fn block(ssrc: u32) -> ReportBlock {
    ReportBlock {
        ssrc,
        fraction_lost: 25,
        cumulative_lost: -3,
        highest_seq: 0x0001_0203,
        jitter: 77,
        last_sr: 0xAABB_CCDD,
        delay_since_last_sr: 65_536,
    }
}

/// SR with two blocks, SDES, BYE, in one compound.
fn compound(out: &mut [u8]) -> usize {
    let info = SenderInfo {
        ntp: 0x0102_0304_0506_0708,
        rtp_timestamp: 9,
        packet_count: 10,
        octet_count: 1_600,
    };
    let mut len = write_sender_report(out, 0x1111, &info, &[block(1), block(2)]).unwrap();
    len += write_sdes_cname(&mut out[len..], 0x1111, b"abc@callplane").unwrap();
    len += write_bye(&mut out[len..], 0x1111).unwrap();
    len
}

#[test]
fn a_compound_round_trips() {
    let mut buf = [0u8; 256];
    let len = compound(&mut buf);
    assert_eq!(len, 28 + 48 + 24 + 8);
    assert!(is_rtcp(&buf[..len]));
    let packets: Vec<RtcpPacket<'_>> = Compound::parse(&buf[..len])
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(packets.len(), 3);
    let RtcpPacket::SenderReport { ssrc, info, blocks } = &packets[0] else {
        panic!("{:?}", packets[0]);
    };
    assert_eq!(
        (*ssrc, info.ntp, info.octet_count),
        (0x1111, 0x0102_0304_0506_0708, 1_600)
    );
    assert_eq!(blocks.clone().collect::<Vec<_>>(), vec![block(1), block(2)]);
    assert!(matches!(
        packets[1],
        RtcpPacket::Other {
            packet_type: PT_SDES
        }
    ));
    assert!(matches!(packets[2], RtcpPacket::Bye { ssrc: Some(0x1111) }));
    // SDES: CNAME item, then a null item and padding to 32 bits.
    assert_eq!(&buf[76 + 8..76 + 10], &[1, 13]);
    assert_eq!(&buf[76 + 10..76 + 23], b"abc@callplane");
    assert_eq!(&buf[76 + 23..76 + 24], &[0]);

    let mut rr = [0u8; 64];
    let len = write_receiver_report(&mut rr, 5, &[block(6)]).unwrap();
    let packets: Vec<_> = Compound::parse(&rr[..len]).unwrap().collect();
    match &packets[..] {
        [Ok(RtcpPacket::ReceiverReport { ssrc: 5, blocks })] => {
            assert_eq!(blocks.clone().collect::<Vec<_>>(), vec![block(6)]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn cumulative_loss_is_24_bit_signed_and_clamped() {
    let mut buf = [0u8; 64];
    for (written, read) in [
        (-3, -3),
        (0x7F_FFFF, 0x7F_FFFF),
        (i32::MAX, 0x7F_FFFF),
        (i32::MIN, -0x80_0000),
    ] {
        let b = ReportBlock {
            cumulative_lost: written,
            ..block(1)
        };
        let len = write_receiver_report(&mut buf, 5, &[b]).unwrap();
        let Some(Ok(RtcpPacket::ReceiverReport { mut blocks, .. })) =
            Compound::parse(&buf[..len]).unwrap().next()
        else {
            panic!("not an RR");
        };
        assert_eq!(blocks.next().unwrap().cumulative_lost, read);
    }
}

#[test]
fn small_buffers_are_refused() {
    let mut tiny = [0u8; 20];
    assert_eq!(
        write_sender_report(&mut tiny, 1, &SenderInfo::default(), &[]),
        None
    );
    assert_eq!(write_receiver_report(&mut tiny, 1, &[block(1)]), None);
    assert_eq!(write_bye(&mut tiny[..7], 1), None);
    assert_eq!(write_sdes_cname(&mut tiny[..12], 1, b"abcdef"), None);
}

#[test]
fn malformed_compounds_are_refused() {
    let mut buf = [0u8; 256];
    let len = compound(&mut buf);
    let good = &buf[..len];
    assert_eq!(Compound::parse(&[]).unwrap_err(), RtcpError::Truncated);
    assert_eq!(
        Compound::parse(&good[..3]).unwrap_err(),
        RtcpError::Truncated
    );
    assert_eq!(
        Compound::parse(&good[..len - 1]).unwrap_err(),
        RtcpError::Truncated
    );
    let mut v1 = good.to_vec();
    v1[0] = 0x40 | (v1[0] & 0x3F);
    assert_eq!(Compound::parse(&v1).unwrap_err(), RtcpError::BadVersion);
    // SDES first: not a report.
    assert_eq!(
        Compound::parse(&good[76..]).unwrap_err(),
        RtcpError::NotAReport
    );
    // Padding in the first packet of three.
    let mut padded = good.to_vec();
    padded[0] |= 0x20;
    assert_eq!(Compound::parse(&padded).unwrap_err(), RtcpError::BadPadding);
    // An RR claiming two blocks but long enough for one: the packet is refused.
    let mut rr = [0u8; 64];
    let len = write_receiver_report(&mut rr, 5, &[block(6)]).unwrap();
    rr[0] = 0x82;
    let read: Vec<_> = Compound::parse(&rr[..len]).unwrap().collect();
    assert!(matches!(read[..], [Err(RtcpError::BadReport)]));
}

#[test]
fn garbage_never_panics() {
    let mut state = 0x2545_F491u32;
    let mut buf = [0u8; 128];
    let mut session = RtcpSession::new(1, 0, 1, Time::ZERO);
    for round in 0..20_000 {
        for byte in buf.iter_mut() {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            *byte = state as u8;
        }
        // Often a plausible header, so parsing gets past the first checks.
        if round % 2 == 0 {
            buf[0] = 0x80 | (buf[0] & 0x3F);
            buf[1] = [PT_SR, PT_RR, PT_BYE][round % 3];
        }
        let len = (state as usize) % buf.len();
        if let Ok(compound) = Compound::parse(&buf[..len]) {
            for packet in compound.flatten() {
                if let RtcpPacket::SenderReport { blocks, .. }
                | RtcpPacket::ReceiverReport { blocks, .. } = packet
                {
                    blocks.for_each(drop);
                }
            }
        }
        session.handle_rtcp(Time::ZERO, &buf[..len]);
    }
    let stats = session.stats();
    // Every datagram was either read as a compound or counted as malformed.
    assert!(
        stats.reports_received + stats.malformed >= 20_000,
        "{stats:?}"
    );
    assert!(stats.malformed > 10_000, "{stats:?}");
}

fn rtp(ssrc: u32, seq: u16, ts: u32) -> RtpPacket<'static> {
    RtpPacket {
        payload_type: 0,
        marker: false,
        sequence: seq,
        timestamp: ts,
        ssrc,
        payload: &[],
    }
}

/// The report `session` writes at `now`, having sent `packets` packets.
fn report(session: &mut RtcpSession, now: Time, packets: u64) -> Vec<u8> {
    let mut buf = [0u8; 256];
    let sent = Sent {
        packets,
        octets: packets * 160,
        rtp_timestamp: packets as u32 * 160,
    };
    let len = session.write_report(now, &sent, false, &mut buf).unwrap();
    buf[..len].to_vec()
}

#[test]
fn round_trip_time_from_an_sr_and_the_rr_that_answers_it() {
    // Us and a far end whose NTP clock is 1000 s off ours; 30 ms each way, and the
    // far end holds our SR 250 ms before its RR.
    let ntp_zero = 3_900_000_000u64 << 32;
    let mut ours = RtcpSession::new(0xA, ntp_zero, 1, Time::ZERO);
    let mut theirs = RtcpSession::new(0xB, ntp_zero + (1_000 << 32), 2, Time::ZERO);
    for n in 0..50u16 {
        let at = Time::from_millis(u64::from(n) * 20 + 30);
        theirs.on_rtp(at, &rtp(0xA, n, u32::from(n) * 160), true);
        ours.on_rtp(at, &rtp(0xB, 1000 + n, u32::from(n) * 160), true);
    }
    let sr = report(&mut ours, Time::from_millis(1_000), 50);
    theirs.handle_rtcp(Time::from_millis(1_030), &sr);
    let rr = report(&mut theirs, Time::from_millis(1_280), 0);
    assert_eq!(rr[1], PT_RR, "the far end sent nothing: an RR");
    ours.handle_rtcp(Time::from_millis(1_310), &rr);
    let stats = ours.stats();
    let rtt = stats.rtt.expect("an RTT");
    assert!(
        rtt.abs_diff(Duration::from_millis(60)) < Duration::from_micros(100),
        "{rtt:?}"
    );
    assert_eq!(stats.remote_fraction_lost, Some(0));
    assert_eq!(stats.remote_cumulative_lost, Some(0));
    assert_eq!(stats.remote_jitter, Some(0));
    assert_eq!(stats.reports_received, 1);
    // Our SR carried the far end's stream too: no LSR from it yet.
    let Some(Ok(RtcpPacket::SenderReport {
        info, mut blocks, ..
    })) = Compound::parse(&sr).unwrap().next()
    else {
        panic!("an SR");
    };
    assert_eq!((info.packet_count, info.octet_count), (50, 8_000));
    assert_eq!(info.ntp >> 32, 3_900_000_001, "1 s after the origin");
    let about_them = blocks.next().unwrap();
    assert_eq!((about_them.ssrc, about_them.highest_seq), (0xB, 1049));
    assert_eq!(about_them.last_sr, 0);
}

#[test]
fn the_far_ends_loss_of_our_stream_is_read_from_its_report() {
    let mut ours = RtcpSession::new(0xA, 0, 1, Time::ZERO);
    let mut theirs = RtcpSession::new(0xB, 0, 2, Time::ZERO);
    // 200 of ours sent, every fifth lost on the way.
    for n in (0..200u16).filter(|n| n % 5 != 2) {
        let at = Time::from_millis(u64::from(n) * 20);
        theirs.on_rtp(at, &rtp(0xA, n, u32::from(n) * 160), true);
    }
    let rr = report(&mut theirs, Time::from_millis(4_000), 0);
    ours.handle_rtcp(Time::from_millis(4_010), &rr);
    let stats = ours.stats();
    assert_eq!(stats.remote_cumulative_lost, Some(40));
    assert_eq!(stats.remote_fraction_lost, Some(51), "40/200 of 256");
    assert_eq!(stats.rtt, None, "no SR of ours to answer");
}

#[test]
fn reports_follow_the_interval_and_a_bye_ends_them() {
    let mut session = RtcpSession::new(0xA, 0, 7, Time::ZERO);
    let first = session.next_report();
    assert!(
        first >= Time::from_millis(1_026) && first <= Time::from_millis(3_078),
        "half of 5 s, randomised and compensated: {first:?}"
    );
    assert!(!session.is_due(Time::from_micros(first.as_micros() - 1_000)));
    let mut now = first;
    let mut sent = 0;
    let mut times = Vec::new();
    while now < Time::from_millis(600_000) {
        if session.is_due(now) {
            sent += 50;
            report(&mut session, now, sent);
            times.push(now);
        }
        now = session.next_report().max(now + Duration::from_millis(20));
    }
    let gaps: Vec<f64> = times
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    assert!(
        gaps.iter().all(|&gap| (2.0..=6.2).contains(&gap)),
        "{gaps:?}"
    );
    // Each draw is 2.05-6.16 s (mean 4.10 s); reconsideration, which waits for a
    // fresh draw when a short one was followed by a long one, brings the mean back to
    // the 5 s the compensation is for (RFC 3550 §6.3.1).
    assert!((4.7..5.3).contains(&mean), "{mean}");
    let mut buf = [0u8; 256];
    let sent = Sent {
        packets: sent + 1,
        ..Sent::default()
    };
    let len = session.write_report(now, &sent, true, &mut buf).unwrap();
    let last = Compound::parse(&buf[..len]).unwrap().last();
    assert!(matches!(
        last,
        Some(Ok(RtcpPacket::Bye { ssrc: Some(0xA) }))
    ));
    assert_eq!(session.next_report(), Time::NEVER);
}
