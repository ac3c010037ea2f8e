//! Writing our SDP offer, for an INVITE that came without one (late offer,
//! RFC 3264 §5 via RFC 3261 §13.2.1): the offer goes in our 200 OK and the
//! caller's answer comes in its ACK.

use super::crypto::{crypto_line, SdesSuite, SDES_KEY_LEN};
use super::negotiate::AudioCodec;
use std::fmt::Write as _;
use std::net::IpAddr;

/// The payload type we offer for telephone-event/8000 (with G.711).
pub const OFFERED_DTMF_PT: u8 = 101;
/// The payload type we offer for telephone-event/48000 (with Opus).
pub const OFFERED_OPUS_DTMF_PT: u8 = 102;
/// The payload type we offer Opus on.
const OFFERED_OPUS_PT: u8 = 111;

/// Builds the offer with the default codecs: PCMU, PCMA, Opus (see
/// [`build_offer_with`]); with `srtp` (our key), RTP/SAVP.
pub fn build_offer(
    session_id: u64,
    local_ip: IpAddr,
    local_port: u16,
    srtp: Option<&[u8; SDES_KEY_LEN]>,
) -> String {
    build_offer_with(session_id, local_ip, local_port, &[], srtp)
}

/// Builds the offer: one sendrecv audio stream with `codecs` in that order of
/// preference (empty: PCMU, PCMA, Opus). PCMU and PCMA are on their static payload
/// types; Opus is `opus/48000/2` on 111 with `useinbandfec=1` (we send mono:
/// `stereo=0`); telephone-event (events 0-16) is offered at 8000 Hz on
/// [`OFFERED_DTMF_PT`] when a G.711 codec is, and at 48000 Hz on
/// [`OFFERED_OPUS_DTMF_PT`] when Opus is. 20 ms packets, CRLF line ends. With
/// `srtp` (our key), RTP/SAVP with one `a=crypto` line per suite (tags 1, 2).
pub fn build_offer_with(
    session_id: u64,
    local_ip: IpAddr,
    local_port: u16,
    codecs: &[AudioCodec],
    srtp: Option<&[u8; SDES_KEY_LEN]>,
) -> String {
    let address = match local_ip {
        IpAddr::V4(ip) => format!("IN IP4 {ip}"),
        IpAddr::V6(ip) => format!("IN IP6 {ip}"),
    };
    let codecs = if codecs.is_empty() {
        &AudioCodec::ALL[..]
    } else {
        codecs
    };
    let pt_of = |codec: AudioCodec| match codec {
        AudioCodec::Pcmu => 0,
        AudioCodec::Pcma => 8,
        AudioCodec::Opus => OFFERED_OPUS_PT,
    };
    let narrow = codecs.iter().any(|codec| codec.clock_rate() == 8000);
    let opus = codecs.contains(&AudioCodec::Opus);
    let profile = if srtp.is_some() {
        "RTP/SAVP"
    } else {
        "RTP/AVP"
    };
    let mut sdp = String::with_capacity(480);
    let _ = write!(
        sdp,
        "v=0\r\no=callplane {session_id} {session_id} {address}\r\ns=callplane\r\nc={address}\r\nt=0 0\r\n\
m=audio {local_port} {profile}"
    );
    for &codec in codecs {
        let _ = write!(sdp, " {}", pt_of(codec));
    }
    if narrow {
        let _ = write!(sdp, " {OFFERED_DTMF_PT}");
    }
    if opus {
        let _ = write!(sdp, " {OFFERED_OPUS_DTMF_PT}");
    }
    sdp.push_str("\r\n");
    for &codec in codecs {
        let _ = match codec {
            AudioCodec::Opus => write!(
                sdp,
                "a=rtpmap:{OFFERED_OPUS_PT} opus/48000/2\r\n\
a=fmtp:{OFFERED_OPUS_PT} useinbandfec=1;stereo=0\r\n"
            ),
            _ => write!(
                sdp,
                "a=rtpmap:{} {}/8000\r\n",
                pt_of(codec),
                codec.encoding_name()
            ),
        };
    }
    if narrow {
        let _ = write!(
            sdp,
            "a=rtpmap:{OFFERED_DTMF_PT} telephone-event/8000\r\na=fmtp:{OFFERED_DTMF_PT} 0-16\r\n"
        );
    }
    if opus {
        let _ = write!(
            sdp,
            "a=rtpmap:{OFFERED_OPUS_DTMF_PT} telephone-event/48000\r\n\
a=fmtp:{OFFERED_OPUS_DTMF_PT} 0-16\r\n"
        );
    }
    sdp.push_str("a=ptime:20\r\na=sendrecv\r\n");
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
        assert!(offer.contains("RTP/SAVP 0 8 111 101 102"), "{offer}");
        let parsed = Sdp::parse(offer.as_bytes()).unwrap();
        assert_eq!(parsed.media[0].crypto.len(), 2);
        let n = negotiate_with(&parsed, &[], SrtpPolicy::Required, &[0; SDES_KEY_LEN]).unwrap();
        let srtp = n.srtp.unwrap();
        assert_eq!(
            (srtp.tag, srtp.suite, srtp.remote_key),
            (1, SdesSuite::AesCm128HmacSha1_80, key)
        );
    }

    #[test]
    fn the_offer_follows_the_codec_preferences() {
        let ip = "203.0.113.5".parse().unwrap();
        let opus_first =
            build_offer_with(7, ip, 30000, &[AudioCodec::Opus, AudioCodec::Pcmu], None);
        assert!(
            opus_first.contains("m=audio 30000 RTP/AVP 111 0 101 102\r\n"),
            "{opus_first}"
        );
        assert!(opus_first
            .contains("a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1;stereo=0\r\n"));
        let parsed = negotiate(&Sdp::parse(opus_first.as_bytes()).unwrap()).unwrap();
        assert_eq!((parsed.codec, parsed.codec_pt), (AudioCodec::Opus, 111));
        assert_eq!(parsed.dtmf_pt, Some(OFFERED_OPUS_DTMF_PT));
        let opus_only = build_offer_with(7, ip, 30000, &[AudioCodec::Opus], None);
        assert!(opus_only.contains("RTP/AVP 111 102\r\n") && !opus_only.contains("/8000"));
        let default = build_offer(7, ip, 30000, None);
        assert!(default.contains("RTP/AVP 0 8 111 101 102\r\n"), "{default}");
    }
}
