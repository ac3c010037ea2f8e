//! Writing the SDP answer for a [`Negotiated`] audio stream.

use super::crypto::crypto_line;
use super::negotiate::{AudioCodec, Negotiated};
use super::parse::Direction;
use std::fmt::Write as _;
use std::net::IpAddr;

/// Builds the answer: one audio stream with the negotiated codec and, if
/// negotiated, telephone-event (events 0-16), its direction mirroring the
/// offer's (sendonly → recvonly, recvonly → sendonly, else the same). CRLF line
/// ends. RTP/SAVP with our `a=crypto` line (the offer's tag and suite, our
/// key) when SRTP was negotiated. `a=ptime` carries `n.ptime_ms` (20 unless the caller asked for another
/// supported value); `a=rtcp-mux` when the offer had it. `version` is the `o=` session version: it goes up with
/// every new description we send in the session (RFC 3264 §8).
pub fn build_answer(
    session_id: u64,
    version: u64,
    local_ip: IpAddr,
    local_port: u16,
    n: &Negotiated,
) -> String {
    let address = match local_ip {
        IpAddr::V4(ip) => format!("IN IP4 {ip}"),
        IpAddr::V6(ip) => format!("IN IP6 {ip}"),
    };
    let mut sdp = String::with_capacity(256);
    let _ = write!(
        sdp,
        "v=0\r\no=callplane {session_id} {version} {address}\r\ns=callplane\r\nc={address}\r\nt=0 0\r\n"
    );
    let profile = match n.srtp {
        Some(_) => "RTP/SAVP",
        None => "RTP/AVP",
    };
    let _ = write!(sdp, "m=audio {local_port} {profile} {}", n.codec_pt);
    if let Some(dtmf_pt) = n.dtmf_pt {
        let _ = write!(sdp, " {dtmf_pt}");
    }
    let rate = n.codec.clock_rate();
    if n.codec == AudioCodec::Opus {
        // RFC 7587: always "/2"; we send mono and decode what comes.
        let _ = write!(
            sdp,
            "\r\na=rtpmap:{pt} opus/48000/2\r\na=fmtp:{pt} useinbandfec=1;stereo=0\r\n",
            pt = n.codec_pt
        );
    } else {
        let _ = write!(
            sdp,
            "\r\na=rtpmap:{} {}/8000\r\n",
            n.codec_pt,
            n.codec.encoding_name()
        );
    }
    if let Some(dtmf_pt) = n.dtmf_pt {
        let _ = write!(
            sdp,
            "a=rtpmap:{dtmf_pt} telephone-event/{rate}\r\na=fmtp:{dtmf_pt} 0-16\r\n"
        );
    }
    let direction = match n.direction {
        Direction::SendRecv => "sendrecv",
        Direction::SendOnly => "recvonly",
        Direction::RecvOnly => "sendonly",
        Direction::Inactive => "inactive",
    };
    let _ = write!(sdp, "a=ptime:{}\r\na={direction}\r\n", n.ptime_ms);
    if n.rtcp_mux {
        sdp.push_str("a=rtcp-mux\r\n");
    }
    if let Some(srtp) = &n.srtp {
        sdp.push_str(&crypto_line(srtp.tag, srtp.suite, &srtp.local_key));
    }
    sdp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::sdp::{negotiate, AudioCodec, Sdp};

    #[test]
    fn answer_with_dtmf() {
        let n = Negotiated {
            remote_rtp: "192.0.2.1:6000".parse().unwrap(),
            codec: AudioCodec::Pcmu,
            codec_pt: 0,
            dtmf_pt: Some(101),
            ptime_ms: 20,
            direction: Direction::SendRecv,
            rtcp_mux: false,
            srtp: None,
            opus: None,
        };
        let answer = build_answer(42, 42, "203.0.113.5".parse().unwrap(), 30000, &n);
        assert_eq!(
            answer,
            "v=0\r\no=callplane 42 42 IN IP4 203.0.113.5\r\ns=callplane\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\n\
m=audio 30000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
        );
        // The answer is itself a valid offer that negotiates to the same choice.
        let again = negotiate(&Sdp::parse(answer.as_bytes()).unwrap()).unwrap();
        assert_eq!(
            (again.codec, again.codec_pt, again.dtmf_pt),
            (AudioCodec::Pcmu, 0, Some(101))
        );
    }

    #[test]
    fn answer_without_dtmf_over_ipv6() {
        let n = Negotiated {
            remote_rtp: "[2001:db8::1]:6000".parse().unwrap(),
            codec: AudioCodec::Pcma,
            codec_pt: 8,
            dtmf_pt: None,
            ptime_ms: 20,
            direction: Direction::SendRecv,
            rtcp_mux: false,
            srtp: None,
            opus: None,
        };
        let answer = build_answer(1, 1, "2001:db8::2".parse().unwrap(), 4000, &n);
        assert!(answer.contains("c=IN IP6 2001:db8::2\r\n"));
        assert!(answer.contains("m=audio 4000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=ptime:20\r\n"));
        assert!(!answer.contains("telephone-event"));
        assert!(!answer.contains("rtcp-mux"));
        let muxed = build_answer(
            1,
            1,
            "2001:db8::2".parse().unwrap(),
            4000,
            &Negotiated {
                rtcp_mux: true,
                ..n
            },
        );
        assert!(muxed.ends_with("a=sendrecv\r\na=rtcp-mux\r\n"), "{muxed}");
        let again = negotiate(&Sdp::parse(muxed.as_bytes()).unwrap()).unwrap();
        assert!(again.rtcp_mux);
    }

    #[test]
    fn an_srtp_answer_carries_our_key_under_the_offers_tag() {
        use crate::sip::sdp::{negotiate_with, Sdes, SdesSuite, SrtpPolicy, SDES_KEY_LEN};
        let n = Negotiated {
            remote_rtp: "192.0.2.1:6000".parse().unwrap(),
            codec: AudioCodec::Pcmu,
            codec_pt: 0,
            dtmf_pt: None,
            ptime_ms: 20,
            direction: Direction::SendRecv,
            rtcp_mux: false,
            srtp: Some(Sdes {
                tag: 5,
                suite: SdesSuite::AesCm128HmacSha1_32,
                remote_key: [1; SDES_KEY_LEN],
                local_key: [2; SDES_KEY_LEN],
            }),
            opus: None,
        };
        let answer = build_answer(1, 1, "192.0.2.2".parse().unwrap(), 4000, &n);
        assert!(answer.contains("m=audio 4000 RTP/SAVP 0\r\n"), "{answer}");
        assert!(
            answer.contains("a=crypto:5 AES_CM_128_HMAC_SHA1_32 inline:"),
            "{answer}"
        );
        // The far end reads our key back out of it.
        let parsed = Sdp::parse(answer.as_bytes()).unwrap();
        let back = negotiate_with(&parsed, &[], SrtpPolicy::Required, &[1; SDES_KEY_LEN]).unwrap();
        assert_eq!(back.srtp.map(|s| s.remote_key), Some([2; SDES_KEY_LEN]));
    }

    #[test]
    fn an_opus_answer_says_48000_2_and_our_fmtp() {
        let offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
m=audio 40000 RTP/AVP 96 97\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:97 telephone-event/48000\r\n";
        let n = negotiate(&Sdp::parse(offer.as_bytes()).unwrap()).unwrap();
        let answer = build_answer(3, 3, "203.0.113.5".parse().unwrap(), 30000, &n);
        assert!(answer.contains(
            "m=audio 30000 RTP/AVP 96 97\r\na=rtpmap:96 opus/48000/2\r\na=fmtp:96 useinbandfec=1;stereo=0\r\n\
a=rtpmap:97 telephone-event/48000\r\na=fmtp:97 0-16\r\n"
        ), "{answer}");
        let again = negotiate(&Sdp::parse(answer.as_bytes()).unwrap()).unwrap();
        assert_eq!((again.codec, again.dtmf_pt), (AudioCodec::Opus, Some(97)));
        assert_eq!(again.opus.map(|p| p.use_inband_fec), Some(true));
    }
}
