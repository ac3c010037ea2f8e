//! SIP per-message costs: finding the Call-ID for shard dispatch, and a full
//! parse of a carrier-style INVITE with SDP.

use callplane::sip::call_id_of;
use callplane::sip::message::parse_message;
use criterion::{black_box, criterion_group, criterion_main, Criterion};

const INVITE: &[u8] = b"INVITE sip:1000@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1234-1-0\r\n\
From: sipp <sip:sipp@127.0.0.1:5061>;tag=1234SIPpTag001\r\n\
To: <sip:1000@127.0.0.1:5060>\r\n\
Call-ID: 1-1234@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: sip:sipp@127.0.0.1:5061\r\n\
Max-Forwards: 70\r\n\
Subject: Performance Test\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 129\r\n\
\r\n\
v=0\r\n\
o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 6000 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n";

fn sip(c: &mut Criterion) {
    assert!(parse_message(INVITE).is_ok(), "bench INVITE must parse");
    c.bench_function("sip call_id_of (dispatch)", |b| {
        b.iter(|| call_id_of(black_box(INVITE)))
    });
    c.bench_function("sip parse INVITE with SDP", |b| {
        b.iter(|| parse_message(black_box(INVITE)).is_ok())
    });
}

criterion_group!(benches, sip);
criterion_main!(benches);
