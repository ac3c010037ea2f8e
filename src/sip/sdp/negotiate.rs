//! Offer/answer for audio (RFC 3264): the first PCMU or PCMA format of the caller's first
//! usable audio stream, in the caller's order and with the caller's payload type
//! numbers, plus telephone-event/8000 if offered.

use super::crypto::{choose, Sdes, SrtpPolicy, SDES_KEY_LEN};
use super::parse::{Direction, Media, Sdp};
use std::net::SocketAddr;
use thiserror::Error;

/// The G.711 flavours the media plane speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// G.711 µ-law (static payload type 0), used in North America and Japan.
    Pcmu,
    /// G.711 A-law (static payload type 8), used in Europe and most other countries.
    Pcma,
}

impl AudioCodec {
    /// The rtpmap encoding name.
    pub fn encoding_name(self) -> &'static str {
        match self {
            AudioCodec::Pcmu => "PCMU",
            AudioCodec::Pcma => "PCMA",
        }
    }
}

/// The outcome of negotiation: where to send RTP and in which format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The caller's RTP address: the stream's `c=` address (media level, else session
    /// level) and its `m=` port. Our RTP goes there.
    pub remote_rtp: SocketAddr,
    /// The first G.711 format the caller listed in its first usable audio stream.
    pub codec: AudioCodec,
    /// The caller's payload type number for `codec` (usually 0 or 8, but a dynamic
    /// number mapped by rtpmap is honoured); used in both directions.
    pub codec_pt: u8,
    /// The caller's payload type for telephone-event/8000 (RFC 4733 DTMF); `None` if
    /// the stream does not offer it, and the answer then carries none.
    pub dtmf_pt: Option<u8>,
    /// The caller's ptime when it is 10..=60 ms in steps of 10, else 20.
    pub ptime_ms: u32,
    /// The offer's direction for the stream (media level, else session level,
    /// else sendrecv); the answer mirrors it.
    pub direction: Direction,
    /// The offer has `a=rtcp-mux`: the answer has it too, and RTCP shares the RTP
    /// port both ways (RFC 5761).
    pub rtcp_mux: bool,
    /// The stream is RTP/SAVP keyed by SDES: the far end's crypto line and
    /// key, and ours; `None`: plain RTP/AVP.
    pub srtp: Option<Sdes>,
}

impl Negotiated {
    /// Whether we may send media: the offerer receives (sendrecv or recvonly).
    pub fn we_send(&self) -> bool {
        matches!(self.direction, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// Why an offer cannot be answered (the call layer answers 488).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum NegotiateError {
    /// No RTP/AVP audio stream with a non-zero port offers PCMU or PCMA.
    #[error("no common audio codec")]
    NoCommonCodec,
    /// The chosen stream has no connection address at media or session level.
    #[error("no connection address for the audio stream")]
    NoConnectionAddress,
    /// SRTP is required and no RTP/SAVP stream offers a key we can use.
    #[error("SRTP required: no usable RTP/SAVP stream with an SDES key")]
    SrtpRequired,
}

const DEFAULT_PTIME_MS: u32 = 20;

/// Picks codec, DTMF payload type and remote address from an offer, RTP/AVP
/// only (SRTP off).
pub fn negotiate(offer: &Sdp) -> Result<Negotiated, NegotiateError> {
    negotiate_with(offer, SrtpPolicy::Off, &[0; SDES_KEY_LEN])
}

/// As [`negotiate`], under an SRTP policy: with `optional`, an RTP/SAVP
/// stream with a usable `a=crypto` line is taken as well as RTP/AVP (the
/// first usable stream wins); with `required`, only such a stream
/// ([`NegotiateError::SrtpRequired`] otherwise). `local_key` is the key we
/// send under when SRTP is chosen.
pub fn negotiate_with(
    offer: &Sdp,
    policy: SrtpPolicy,
    local_key: &[u8; SDES_KEY_LEN],
) -> Result<Negotiated, NegotiateError> {
    let (media, codec, codec_pt, srtp) = offer
        .media
        .iter()
        .filter(|media| is_usable_audio(media))
        .filter_map(|media| {
            let secure = media.protocol.eq_ignore_ascii_case("RTP/SAVP");
            let srtp = match (secure, policy) {
                (false, SrtpPolicy::Required) => return None,
                (false, _) => None,
                (true, SrtpPolicy::Off) => return None,
                (true, _) => Some(choose(media, local_key)?),
            };
            Some((media, srtp))
        })
        .find_map(|(media, srtp)| first_g711(media).map(|(codec, pt)| (media, codec, pt, srtp)))
        .ok_or(match policy {
            SrtpPolicy::Required => NegotiateError::SrtpRequired,
            _ => NegotiateError::NoCommonCodec,
        })?;
    let address = media
        .connection
        .or(offer.connection)
        .ok_or(NegotiateError::NoConnectionAddress)?;
    let ptime_ms = media
        .ptime
        .or(offer.ptime)
        .filter(|ptime| (10..=60).contains(ptime) && ptime % 10 == 0)
        .unwrap_or(DEFAULT_PTIME_MS);
    Ok(Negotiated {
        remote_rtp: SocketAddr::new(address, media.port),
        codec,
        codec_pt,
        dtmf_pt: telephone_event(media),
        ptime_ms,
        direction: media
            .direction
            .or(offer.direction)
            .unwrap_or(Direction::SendRecv),
        rtcp_mux: media.rtcp_mux,
        srtp,
    })
}

fn is_usable_audio(media: &Media) -> bool {
    media.kind.eq_ignore_ascii_case("audio")
        && media.port != 0
        && (media.protocol.eq_ignore_ascii_case("RTP/AVP")
            || media.protocol.eq_ignore_ascii_case("RTP/SAVP"))
}

fn first_g711(media: &Media) -> Option<(AudioCodec, u8)> {
    media.payload_types().find_map(|pt| {
        let codec = match media.rtpmap(pt) {
            Some(map) => {
                let mono = map.channels.is_none_or(|channels| channels == 1);
                if map.clock_rate != 8000 || !mono {
                    return None;
                }
                codec_named(&map.encoding)?
            }
            None => match pt {
                0 => AudioCodec::Pcmu,
                8 => AudioCodec::Pcma,
                _ => return None,
            },
        };
        Some((codec, pt))
    })
}

fn codec_named(encoding: &str) -> Option<AudioCodec> {
    if encoding.eq_ignore_ascii_case("PCMU") {
        Some(AudioCodec::Pcmu)
    } else if encoding.eq_ignore_ascii_case("PCMA") {
        Some(AudioCodec::Pcma)
    } else {
        None
    }
}

fn telephone_event(media: &Media) -> Option<u8> {
    media.payload_types().find(|pt| {
        media.rtpmap(*pt).is_some_and(|map| {
            map.encoding.eq_ignore_ascii_case("telephone-event") && map.clock_rate == 8000
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(m_line: &str, attributes: &str) -> Sdp {
        let body = format!("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n{m_line}\r\n{attributes}");
        Sdp::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn pcmu_only() {
        let n = negotiate(&offer("m=audio 6000 RTP/AVP 0", "")).unwrap();
        assert_eq!(n.codec, AudioCodec::Pcmu);
        assert_eq!(n.codec_pt, 0);
        assert_eq!(n.dtmf_pt, None);
        assert_eq!(n.remote_rtp, "192.0.2.1:6000".parse().unwrap());
        assert_eq!(n.ptime_ms, 20);
    }

    #[test]
    fn pcma_only() {
        let n = negotiate(&offer("m=audio 6000 RTP/AVP 8", "a=rtpmap:8 PCMA/8000\r\n")).unwrap();
        assert_eq!((n.codec, n.codec_pt), (AudioCodec::Pcma, 8));
    }

    #[test]
    fn callers_order_wins() {
        let n = negotiate(&offer("m=audio 6000 RTP/AVP 8 0", "")).unwrap();
        assert_eq!(n.codec, AudioCodec::Pcma);
        let n = negotiate(&offer(
            "m=audio 6000 RTP/AVP 18 0 8",
            "a=rtpmap:18 G729/8000\r\n",
        ))
        .unwrap();
        assert_eq!(n.codec, AudioCodec::Pcmu);
    }

    #[test]
    fn telephone_event_with_dynamic_payload_types() {
        let n = negotiate(&offer(
            "m=audio 6000 RTP/AVP 0 101",
            "a=rtpmap:101 telephone-event/8000\r\n",
        ))
        .unwrap();
        assert_eq!(n.dtmf_pt, Some(101));
        let n = negotiate(&offer(
            "m=audio 6000 RTP/AVP 96 8 97",
            "a=rtpmap:96 telephone-event/8000\r\na=rtpmap:97 telephone-event/48000\r\n",
        ))
        .unwrap();
        assert_eq!((n.codec_pt, n.dtmf_pt), (8, Some(96)));
        let n = negotiate(&offer(
            "m=audio 6000 RTP/AVP 0 97",
            "a=rtpmap:97 telephone-event/48000\r\n",
        ))
        .unwrap();
        assert_eq!(n.dtmf_pt, None);
    }

    #[test]
    fn dynamic_g711_and_media_level_address_and_ptime() {
        let n = negotiate(&offer(
            "m=audio 7000 RTP/AVP 100",
            "c=IN IP4 198.51.100.7\r\na=rtpmap:100 pcmu/8000\r\na=ptime:30\r\n",
        ))
        .unwrap();
        assert_eq!((n.codec, n.codec_pt), (AudioCodec::Pcmu, 100));
        assert_eq!(n.remote_rtp, "198.51.100.7:7000".parse().unwrap());
        assert_eq!(n.ptime_ms, 30);
        let odd_ptime = negotiate(&offer("m=audio 7000 RTP/AVP 0", "a=ptime:25\r\n")).unwrap();
        assert_eq!(odd_ptime.ptime_ms, 20);
    }

    #[test]
    fn failures() {
        let g729 = offer("m=audio 6000 RTP/AVP 18", "a=rtpmap:18 G729/8000\r\n");
        assert_eq!(negotiate(&g729), Err(NegotiateError::NoCommonCodec));
        assert_eq!(
            negotiate(&offer("m=audio 0 RTP/AVP 0", "")),
            Err(NegotiateError::NoCommonCodec)
        );
        assert_eq!(
            negotiate(&offer("m=video 6000 RTP/AVP 0", "")),
            Err(NegotiateError::NoCommonCodec)
        );
        assert_eq!(
            negotiate(&offer("m=audio 6000 RTP/SAVP 0", "")),
            Err(NegotiateError::NoCommonCodec)
        );
        let stereo = offer("m=audio 6000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000/2\r\n");
        assert_eq!(negotiate(&stereo), Err(NegotiateError::NoCommonCodec));
        let no_address = Sdp::parse(b"v=0\r\nm=audio 6000 RTP/AVP 0\r\n").unwrap();
        assert_eq!(
            negotiate(&no_address),
            Err(NegotiateError::NoConnectionAddress)
        );
    }

    #[test]
    fn srtp_policies() {
        use crate::sip::sdp::{SdesSuite, SrtpPolicy};
        let ours = [3u8; SDES_KEY_LEN];
        let key = "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:WnD7c1ksDGs+dIefCEo8omPg4uO8DYIinNGL5yxQ\r\n";
        let savp = offer("m=audio 6000 RTP/SAVP 0", key);
        let avp = offer("m=audio 6000 RTP/AVP 0", "");
        let keyless = offer("m=audio 6000 RTP/SAVP 0", "");
        assert_eq!(
            negotiate_with(&savp, SrtpPolicy::Off, &ours),
            Err(NegotiateError::NoCommonCodec)
        );
        for policy in [SrtpPolicy::Optional, SrtpPolicy::Required] {
            let n = negotiate_with(&savp, policy, &ours).unwrap();
            let srtp = n.srtp.expect("SRTP chosen");
            assert_eq!(
                (srtp.tag, srtp.suite, srtp.local_key),
                (2, SdesSuite::AesCm128HmacSha1_80, ours)
            );
        }
        assert_eq!(
            negotiate_with(&avp, SrtpPolicy::Optional, &ours)
                .unwrap()
                .srtp,
            None
        );
        assert_eq!(
            negotiate_with(&avp, SrtpPolicy::Required, &ours),
            Err(NegotiateError::SrtpRequired)
        );
        assert_eq!(
            negotiate_with(&keyless, SrtpPolicy::Required, &ours),
            Err(NegotiateError::SrtpRequired)
        );
        assert_eq!(
            negotiate_with(&keyless, SrtpPolicy::Optional, &ours),
            Err(NegotiateError::NoCommonCodec)
        );
        // An offer of both (SAVP first, AVP as fallback) gets the first usable one.
        let both = offer(
            "m=audio 6000 RTP/SAVP 0",
            &format!("{key}m=audio 6002 RTP/AVP 0\r\n"),
        );
        assert!(negotiate_with(&both, SrtpPolicy::Optional, &ours)
            .unwrap()
            .srtp
            .is_some());
        let n = negotiate_with(&both, SrtpPolicy::Off, &ours).unwrap();
        assert_eq!((n.srtp, n.remote_rtp.port()), (None, 6002));
    }

    #[test]
    fn second_audio_stream_is_used_when_the_first_is_disabled() {
        let sdp = offer("m=audio 0 RTP/AVP 0\r\nm=audio 6002 RTP/AVP 8", "");
        let n = negotiate(&sdp).unwrap();
        assert_eq!((n.codec, n.remote_rtp.port()), (AudioCodec::Pcma, 6002));
    }
}
