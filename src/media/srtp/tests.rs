//! RFC 3711 appendix B vectors, and round trips, tampering and replays
//! between two legs keyed as SDES keys them (each side's key is the other's
//! receive key).

use super::cipher::{derive, AesCm};
use super::*;

fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
    digits
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).unwrap();
            u8::from_str_radix(text, 16).unwrap()
        })
        .collect()
}

#[test]
fn b2_aes_cm_keystream() {
    let key: [u8; 16] = hex("2B7E151628AED2A6ABF7158809CF4F3C").try_into().unwrap();
    let iv: [u8; 16] = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000").try_into().unwrap();
    let mut keystream = [0u8; 48];
    AesCm::new(&key).apply(&iv, &mut keystream);
    assert_eq!(
        keystream.to_vec(),
        hex(
            "E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB \
             41E95B3BB0A2E8DD477901E4FCA894C0"
        )
    );
    // Past the eighth block the batches continue the same counter.
    let mut long = [0u8; 16 * 20];
    AesCm::new(&key).apply(&iv, &mut long);
    assert_eq!(&long[..48], &keystream[..]);
    let mut tail_iv = iv;
    tail_iv[15] = 19;
    let mut last = [0u8; 16];
    AesCm::new(&key).apply(&tail_iv, &mut last);
    assert_eq!(&long[16 * 19..], &last[..]);
}

#[test]
fn b3_key_derivation() {
    let master_key: [u8; 16] = hex("E1F97A0D3E018BE0D64FA32C06DE4139").try_into().unwrap();
    let master_salt: [u8; 14] = hex("0EC675AD498AFEEBB6960B3AABE6").try_into().unwrap();
    let mut cipher_key = [0u8; 16];
    derive(&master_key, &master_salt, 0x00, &mut cipher_key);
    assert_eq!(cipher_key.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
    let mut cipher_salt = [0u8; 14];
    derive(&master_key, &master_salt, 0x02, &mut cipher_salt);
    assert_eq!(cipher_salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
    let mut auth_key = [0u8; 20];
    derive(&master_key, &master_salt, 0x01, &mut auth_key);
    assert_eq!(
        auth_key.to_vec(),
        hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")
    );
}

fn key(seed: u8) -> SrtpKey {
    let mut bytes = [0u8; SRTP_KEY_LEN];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = seed.wrapping_mul(31).wrapping_add(i as u8);
    }
    SrtpKey::from_bytes(bytes)
}

/// Our leg and the far end's, keyed crosswise.
fn pair(suite: SrtpSuite) -> (Srtp, Srtp) {
    let (ours, theirs) = (key(1), key(2));
    (
        Srtp::new(suite, &ours, &theirs),
        Srtp::new(suite, &theirs, &ours),
    )
}

/// A 160-byte PCMU packet with `seq`, written into `buf`; returns its length.
fn rtp(buf: &mut [u8], seq: u16) -> usize {
    buf[..12].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 160, 0xca, 0xfe, 0xba, 0xbe]);
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    for (i, byte) in buf[12..172].iter_mut().enumerate() {
        *byte = i as u8;
    }
    172
}

#[test]
fn rtp_round_trips_for_both_suites_and_the_payload_is_hidden() {
    for suite in SrtpSuite::ALL {
        let (mut a, mut b) = pair(suite);
        let mut buf = [0u8; 256];
        let len = rtp(&mut buf, 7);
        let mut plain = [0u8; 256];
        plain[..len].copy_from_slice(&buf[..len]);
        let protected = a.protect_rtp(&mut buf, len).unwrap();
        assert_eq!(protected, len + suite.rtp_tag_len());
        assert_eq!(&buf[..12], &plain[..12], "the header stays clear");
        assert_ne!(&buf[12..len], &plain[12..len], "the payload is encrypted");
        let got = b.unprotect_rtp(&mut buf[..protected]).unwrap();
        assert_eq!(&buf[..got], &plain[..len]);
        assert_eq!(b.stats().rtp_unprotected, 1);
        assert_eq!(a.stats().rtp_protected, 1);
    }
}

#[test]
fn a_tampered_packet_or_a_wrong_key_fails_authentication() {
    let (mut a, mut b) = pair(SrtpSuite::AesCm128HmacSha1_80);
    let mut buf = [0u8; 256];
    let len = rtp(&mut buf, 100);
    let protected = a.protect_rtp(&mut buf, len).unwrap();
    let mut tampered = buf;
    tampered[40] ^= 1;
    assert_eq!(
        b.unprotect_rtp(&mut tampered[..protected]),
        Err(SrtpError::AuthFailed)
    );
    let mut stranger = Srtp::new(SrtpSuite::AesCm128HmacSha1_80, &key(3), &key(4));
    let mut copy = buf;
    assert_eq!(
        stranger.unprotect_rtp(&mut copy[..protected]),
        Err(SrtpError::AuthFailed)
    );
    // The untouched packet still passes: failures change no state.
    assert!(b.unprotect_rtp(&mut buf[..protected]).is_ok());
    assert_eq!(b.stats().auth_failures, 1);
    assert_eq!(
        b.unprotect_rtp(&mut [0x80, 0, 0, 1]),
        Err(SrtpError::Malformed)
    );
    assert_eq!(b.stats().malformed, 1);
}

#[test]
fn replays_are_refused_and_late_packets_in_the_window_accepted() {
    let (mut a, mut b) = pair(SrtpSuite::AesCm128HmacSha1_32);
    let mut packets = Vec::new();
    for seq in 10..80u16 {
        let mut buf = [0u8; 256];
        let len = rtp(&mut buf, seq);
        let protected = a.protect_rtp(&mut buf, len).unwrap();
        packets.push((buf, protected));
    }
    // Deliver 11.. first, then 10 late (inside the window), then 10 again.
    for (buf, len) in packets.iter_mut().skip(1) {
        b.unprotect_rtp(&mut buf[..*len]).unwrap();
    }
    let (first, len) = &mut packets[0];
    let mut again = *first;
    assert_eq!(
        b.unprotect_rtp(&mut first[..*len]),
        Err(SrtpError::Replay),
        "69 behind the highest is outside the 64-packet window"
    );
    let (mut a, mut b) = pair(SrtpSuite::AesCm128HmacSha1_32);
    let mut late = [0u8; 256];
    let late_len = rtp(&mut late, 1);
    let late_len = a.protect_rtp(&mut late, late_len).unwrap();
    let mut next = [0u8; 256];
    let next_len = rtp(&mut next, 2);
    let next_len = a.protect_rtp(&mut next, next_len).unwrap();
    let mut replayed = next;
    b.unprotect_rtp(&mut next[..next_len]).unwrap();
    b.unprotect_rtp(&mut late[..late_len]).unwrap();
    assert_eq!(
        b.unprotect_rtp(&mut replayed[..next_len]),
        Err(SrtpError::Replay)
    );
    assert_eq!(b.stats().replays, 1);
    // A leg that never saw the old stream accepts the first packet it gets.
    let (_, mut fresh) = pair(SrtpSuite::AesCm128HmacSha1_80);
    assert_eq!(
        fresh.unprotect_rtp(&mut again[..*len]),
        Err(SrtpError::AuthFailed),
        "another suite's tag length does not authenticate"
    );
}

#[test]
fn the_rollover_counter_carries_over_a_sequence_wrap() {
    let (mut a, mut b) = pair(SrtpSuite::AesCm128HmacSha1_80);
    for step in 0..10u16 {
        let seq = 65_530u16.wrapping_add(step);
        let mut buf = [0u8; 256];
        let len = rtp(&mut buf, seq);
        let protected = a.protect_rtp(&mut buf, len).unwrap();
        let got = b.unprotect_rtp(&mut buf[..protected]);
        assert_eq!(got, Ok(len), "seq {seq}");
    }
}

#[test]
fn srtcp_round_trips_with_an_80_bit_tag_and_refuses_replays() {
    for suite in SrtpSuite::ALL {
        let (mut a, mut b) = pair(suite);
        let mut buf = [0u8; 128];
        // An empty receiver report (8 bytes) and an SDES chunk start.
        let report = [
            0x80, 201, 0, 1, 0xca, 0xfe, 0xba, 0xbe, 0x81, 202, 0, 2, 0xca, 0xfe, 0xba, 0xbe,
        ];
        buf[..16].copy_from_slice(&report);
        let protected = a.protect_rtcp(&mut buf, 16).unwrap();
        assert_eq!(protected, 16 + SRTCP_OVERHEAD);
        assert_ne!(
            &buf[8..16],
            &report[8..],
            "encrypted past the first 8 bytes"
        );
        assert_eq!(buf[16] & 0x80, 0x80, "the E flag is set");
        let mut replay = buf;
        let got = b.unprotect_rtcp(&mut buf[..protected]).unwrap();
        assert_eq!(&buf[..got], &report[..]);
        assert_eq!(
            b.unprotect_rtcp(&mut replay[..protected]),
            Err(SrtpError::Replay)
        );
        let mut second = [0u8; 128];
        second[..16].copy_from_slice(&report);
        let protected = a.protect_rtcp(&mut second, 16).unwrap();
        second[5] ^= 0xff;
        assert_eq!(
            b.unprotect_rtcp(&mut second[..protected]),
            Err(SrtpError::AuthFailed)
        );
        assert_eq!(
            (
                b.stats().rtcp_unprotected,
                b.stats().replays,
                b.stats().auth_failures
            ),
            (1, 1, 1)
        );
    }
}

#[test]
fn protecting_needs_room_for_the_tag() {
    let (mut a, _) = pair(SrtpSuite::AesCm128HmacSha1_80);
    let mut buf = [0u8; 176];
    let len = rtp(&mut buf, 1);
    assert_eq!(a.protect_rtp(&mut buf, len), Err(SrtpError::BufferTooSmall));
    assert_eq!(
        a.protect_rtcp(&mut buf, 170),
        Err(SrtpError::BufferTooSmall)
    );
}

#[test]
fn suites_by_name() {
    for suite in SrtpSuite::ALL {
        assert_eq!(SrtpSuite::from_name(suite.name()), Some(suite));
    }
    assert_eq!(SrtpSuite::from_name("F8_128_HMAC_SHA1_80"), None);
}
