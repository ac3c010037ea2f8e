//! Writing our SDP offer, for an INVITE that came without one (late offer,
//! RFC 3264 §5 via RFC 3261 §13.2.1): the offer goes in our 200 OK and the
//! caller's answer comes in its ACK.

use super::crypto::{crypto_line, SdesSuite, SDES_KEY_LEN};
use std::fmt::Write as _;
use std::net::IpAddr;

/// The payload type we offer for telephone-event.
pub const OFFERED_DTMF_PT: u8 = 101;

/// Builds the offer: one sendrecv audio stream with PCMU, PCMA (their static
/// payload types, in that order of preference) and telephone-event on
/// [`OFFERED_DTMF_PT`] (events 0-16), 20 ms packets. CRLF line ends. With
/// `srtp` (our key), RTP/SAVP with one `a=crypto` line per suite (tags 1, 2).
pub fn build_offer(
    session_id: u64,
    local_ip: IpAddr,
    local_port: u16,
    srtp: Option<&[u8; SDES_KEY_LEN]>,
) -> String {
    let address = match local_ip {
        IpAddr::V4(ip) => format!("IN IP4 {ip}"),
        IpAddr::V6(ip) => format!("IN IP6 {ip}"),
    };
    let dtmf = OFFERED_DTMF_PT;
    let profile = if srtp.is_some() {
        "RTP/SAVP"
    } else {
        "RTP/AVP"
    };
    let mut sdp = String::with_capacity(320);
    let _ = write!(
        sdp,
        "v=0\r\no=callplane {session_id} {session_id} {address}\r\ns=callplane\r\nc={address}\r\nt=0 0\r\n\
m=audio {local_port} {profile} 0 8 {dtmf}\r\n\
a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:{dtmf} telephone-event/8000\r\na=fmtp:{dtmf} 0-16\r\n\
a=ptime:20\r\na=sendrecv\r\n"
    );
    if let Some(key) = srtp {
        for (tag, suite) in (1..).zip(SdesSuite::ALL) {
            sdp.push_str(&crypto_line(tag, suite, key));
        }
    }
    sdp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::sdp::{negotiate, AudioCodec, Sdp};

    #[test]
    fn the_offer_parses_and_an_answer_picking_pcma_negotiates() {
        let offer = build_offer(7, "203.0.113.5".parse().unwrap(), 30000, None);
        let parsed = Sdp::parse(offer.as_bytes()).expect("our offer parses");
        let ours = negotiate(&parsed).expect("our own offer is acceptable");
        assert_eq!(ours.codec, AudioCodec::Pcmu);
        assert_eq!(ours.dtmf_pt, Some(OFFERED_DTMF_PT));
        assert_eq!(ours.remote_rtp, "203.0.113.5:30000".parse().unwrap());
        let answer = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
m=audio 40000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";
        let n = negotiate(&Sdp::parse(answer.as_bytes()).unwrap()).unwrap();
        assert_eq!(
            (n.codec, n.codec_pt, n.dtmf_pt),
            (AudioCodec::Pcma, 8, None)
        );
        assert_eq!(n.remote_rtp, "192.0.2.9:40000".parse().unwrap());
    }

    #[test]
    fn an_srtp_offer_negotiates_to_its_first_suite() {
        use crate::sip::sdp::{negotiate_with, SdesSuite, SrtpPolicy, SDES_KEY_LEN};
        let key = [9u8; SDES_KEY_LEN];
        let offer = build_offer(7, "203.0.113.5".parse().unwrap(), 30000, Some(&key));
        assert!(offer.contains("RTP/SAVP 0 8 101"), "{offer}");
        let parsed = Sdp::parse(offer.as_bytes()).unwrap();
        assert_eq!(parsed.media[0].crypto.len(), 2);
        let n = negotiate_with(&parsed, SrtpPolicy::Required, &[0; SDES_KEY_LEN]).unwrap();
        let srtp = n.srtp.unwrap();
        assert_eq!(
            (srtp.tag, srtp.suite, srtp.remote_key),
            (1, SdesSuite::AesCm128HmacSha1_80, key)
        );
    }
}
