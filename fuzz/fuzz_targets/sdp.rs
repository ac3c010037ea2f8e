//! The SDP parser and offer/answer on any bytes: `Sdp::parse`, then `negotiate` and
//! `build_answer` for what parses. Nothing may panic, and an answer we build must
//! parse again and negotiate to the codec it names.

#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use callplane::sip::sdp::{build_answer, negotiate, Sdp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(offer) = Sdp::parse(data) else {
        return;
    };
    let Ok(negotiated) = negotiate(&offer) else {
        return;
    };
    let answer = build_answer(1, 2, IpAddr::V4(Ipv4Addr::LOCALHOST), 4000, &negotiated);
    let parsed = Sdp::parse(answer.as_bytes()).expect("our answer parses");
    let again = negotiate(&parsed).expect("our answer negotiates");
    assert_eq!(again.codec, negotiated.codec, "answer names another codec");
});
