//! Robustness: thousands of random and mutated datagrams (deterministic seeded
//! generator) through the parsers and the endpoint, with the call-layer operations
//! interleaved. Nothing may panic and timers must always move forward.

use super::*;
use crate::sip::call_id_of;
use crate::sip::message::salvage_request;
use crate::sip::sdp::{negotiate, Sdp};

const ROUNDS: usize = 6000;

fn corpus() -> Vec<Vec<u8>> {
    let tag = "0123456789abcdef";
    let mut corpus: Vec<String> = vec![
        invite(),
        request("ACK", "z9hG4bK-1234-1-0", Some(tag), 1, ""),
        request("ACK", "z9hG4bK-ack", Some(tag), 1, ""),
        request("BYE", "z9hG4bK-bye", Some(tag), 2, ""),
        request("CANCEL", "z9hG4bK-1234-1-0", None, 1, ""),
        request("OPTIONS", "z9hG4bK-opt", None, 1, ""),
        request("REGISTER", "z9hG4bK-reg", None, 1, ""),
        request("INVITE", "z9hG4bK-re", Some(tag), 2, SDP_OFFER),
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK0\r\nFrom: <sip:a@b>;tag=1\r\n\
To: <sip:c@d>;tag=2\r\nCall-ID: 1-1234@127.0.0.1\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n"
            .to_owned(),
        "INVITE sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bKx,\r\n SIP/2.0/UDP g\r\ni: c\r\nf: \"A\\\"\" <tel:1>;tag=1\r\n\
t: b <sip:b@c>\r\nCSeq: 1 INVITE\r\nRecord-Route: <sip:p;lr>, <sip:q>\r\nc: multipart/mixed;boundary=b\r\n\
l: 60\r\n\r\n--b\r\nContent-Type: application/sdp\r\n\r\nv=0\r\nm=audio 1 RTP/AVP 8\r\n--b--\r\n"
            .to_owned(),
    ];
    corpus.push(invite().replace("\r\n", "\n"));
    corpus.into_iter().map(String::into_bytes).collect()
}

const SIP_FRAGMENTS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b":",
    b";",
    b",",
    b"<",
    b">",
    b"\"",
    b"\\",
    b"@",
    b"%",
    b"=",
    b"/",
    b"SIP/2.0",
    b"z9hG4bK",
    b";tag=",
    b"Content-Length: 999\r\n",
    b"l: 0\r\n",
    b"\r\n\r\n",
    b"\xff",
    b"\xc3",
    b"\0",
    b"m=audio 0 RTP/AVP",
    b"a=rtpmap:",
    b"c=IN IP6 ::",
    b"[",
    b"]",
    b"\t",
];

fn mutate(rng: &mut fastrand::Rng, base: &[u8]) -> Vec<u8> {
    let mut data = base.to_vec();
    for _ in 0..rng.usize(1..=4) {
        let len = data.len();
        match rng.u8(0..8) {
            0 if len > 0 => {
                let at = rng.usize(..len);
                data[at] = rng.u8(..);
            }
            1 if len > 0 => data.truncate(rng.usize(..len)),
            2 => {
                let at = rng.usize(..=len);
                let fragment = SIP_FRAGMENTS[rng.usize(..SIP_FRAGMENTS.len())];
                data.splice(at..at, fragment.iter().copied());
            }
            3 if len > 1 => {
                let start = rng.usize(..len);
                let end = rng.usize(start..len);
                data.drain(start..end);
            }
            4 if len > 1 => {
                let start = rng.usize(..len);
                let end = rng.usize(start..=len.min(start + 64));
                let chunk: Vec<u8> = data[start..end].to_vec();
                let at = rng.usize(..=len);
                data.splice(at..at, chunk);
            }
            5 => {
                let noise: Vec<u8> = (0..rng.usize(0..32)).map(|_| rng.u8(..)).collect();
                let at = rng.usize(..=len);
                data.splice(at..at, noise);
            }
            6 if len > 0 => {
                let at = rng.usize(..len);
                data[at] = if rng.bool() { b'\n' } else { b'\r' };
            }
            _ => {}
        }
    }
    data
}

fn random_datagram(rng: &mut fastrand::Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    match rng.u8(0..10) {
        0 => (0..rng.usize(0..512)).map(|_| rng.u8(..)).collect(),
        1 => {
            let mut data = Vec::new();
            for _ in 0..rng.usize(0..64) {
                data.extend_from_slice(SIP_FRAGMENTS[rng.usize(..SIP_FRAGMENTS.len())]);
            }
            data
        }
        2 => corpus[rng.usize(..corpus.len())].clone(),
        _ => {
            let base = rng.usize(..corpus.len());
            mutate(rng, &corpus[base])
        }
    }
}

#[test]
fn random_and_mutated_datagrams_never_panic() {
    let corpus = corpus();
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let mut h = Harness::new();
    let mut now = Time::ZERO;
    let mut offered: Vec<CallId> = Vec::new();
    for _ in 0..ROUNDS {
        let data = random_datagram(&mut rng, &corpus);

        // The stand-alone parsers.
        let _ = parse_message(&data);
        let _ = call_id_of(&data);
        let _ = salvage_request(&data);
        if let Ok(sdp) = Sdp::parse(&data) {
            let _ = negotiate(&sdp);
        }

        let source: SocketAddr = if rng.bool() {
            caller()
        } else {
            "[2001:db8::7]:5070".parse().unwrap()
        };
        now += std::time::Duration::from_millis(rng.u64(0..3000));
        h.endpoint.handle_datagram(now, source, &data);

        for event in h.events() {
            if let Event::IncomingCall { call, .. } = event {
                offered.push(call);
            }
        }
        if let Some(call) = offered.get(rng.usize(..offered.len().max(1))).cloned() {
            let _ = match rng.u8(0..6) {
                0 => h.endpoint.ring(now, &call),
                1 => h.endpoint.answer(now, &call, "v=0\r\n"),
                2 => h.endpoint.reject(now, &call, rng.u16(..)),
                3 => h.endpoint.hangup(now, &call),
                _ => Ok(()),
            };
        }
        if rng.u8(0..4) == 0 {
            if let Some(at) = h.endpoint.poll_timeout() {
                now = now.max(at);
                h.endpoint.handle_timeout(now);
                assert!(h.endpoint.poll_timeout().is_none_or(|next| next > now));
            }
        }
        for transmit in h.transmits() {
            assert!(!transmit.payload.is_empty());
            // 400/416/505 echo whatever broken headers the request had; all else must parse.
            let echoes_garbage = [&b"SIP/2.0 400 "[..], b"SIP/2.0 416 ", b"SIP/2.0 505 "]
                .iter()
                .any(|status| transmit.payload.starts_with(status));
            assert!(
                echoes_garbage || parse_message(&transmit.payload).is_ok(),
                "unparseable output: {}",
                String::from_utf8_lossy(&transmit.payload)
            );
        }
    }
    // Everything drains once time runs far enough ahead.
    h.run_until(now.as_millis() + 200_000);
    let stats = h.endpoint.stats();
    assert_eq!(stats.datagrams, ROUNDS as u64);
    assert!(stats.malformed_dropped > 0 && stats.requests > 0);
}
