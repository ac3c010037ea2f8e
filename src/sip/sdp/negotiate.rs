//! Offer/answer for audio (RFC 3264): a PCMU, PCMA or Opus (RFC 7587, `opus/48000/2`)
//! format of the caller's first usable audio stream, with the caller's payload type
//! numbers, plus telephone-event at the codec's clock rate if offered. Which format:
//! the first the caller lists ([`negotiate`]), or the first of a preference list the
//! caller offers ([`negotiate_with`]: `[rtp] codecs`, a trunk's `codecs`).

use super::crypto::{choose, Sdes, SrtpPolicy, SDES_KEY_LEN};
use super::parse::{Direction, Media, Sdp};
use std::net::SocketAddr;
use thiserror::Error;

/// The codecs the media plane speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// G.711 µ-law (static payload type 0), used in North America and Japan.
    Pcmu,
    /// G.711 A-law (static payload type 8), used in Europe and most other countries.
    Pcma,
    /// Opus (dynamic payload type, `opus/48000/2`).
    Opus,
}

impl AudioCodec {
    /// Every codec, in the default order of our offers.
    pub const ALL: [AudioCodec; 3] = [AudioCodec::Pcmu, AudioCodec::Pcma, AudioCodec::Opus];

    /// The rtpmap encoding name.
    pub fn encoding_name(self) -> &'static str {
        match self {
            AudioCodec::Pcmu => "PCMU",
            AudioCodec::Pcma => "PCMA",
            AudioCodec::Opus => "opus",
        }
    }

    /// The RTP clock rate.
    pub fn clock_rate(self) -> u32 {
        match self {
            AudioCodec::Pcmu | AudioCodec::Pcma => 8000,
            AudioCodec::Opus => 48000,
        }
    }

    /// The codec of an encoding name, case-insensitively ("PCMU", "pcma", "opus").
    pub fn from_name(name: &str) -> Option<AudioCodec> {
        AudioCodec::ALL
            .into_iter()
            .find(|codec| codec.encoding_name().eq_ignore_ascii_case(name))
    }
}

/// The far end's Opus parameters (RFC 7587 §6.1 fmtp), defaults where absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpusParams {
    /// `maxplaybackrate`: the highest rate it decodes (default 48000); our encoder
    /// spends no bits above it.
    pub max_playback_rate: u32,
    /// `stereo`: it prefers stereo (we send mono either way, which it must accept).
    pub stereo: bool,
    /// `useinbandfec`: it decodes FEC (default 0); our encoder adds FEC when 1.
    pub use_inband_fec: bool,
}

impl Default for OpusParams {
    fn default() -> OpusParams {
        OpusParams {
            max_playback_rate: 48000,
            stereo: false,
            use_inband_fec: false,
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
    /// The far end's Opus parameters, when `codec` is Opus.
    pub opus: Option<OpusParams>,
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
    /// No RTP/AVP audio stream with a non-zero port offers a codec we accept.
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
/// only (SRTP off): the first codec we speak, in the caller's order.
pub fn negotiate(offer: &Sdp) -> Result<Negotiated, NegotiateError> {
    negotiate_with(offer, &[], SrtpPolicy::Off, &[0; SDES_KEY_LEN])
}

/// As [`negotiate`], choosing the first codec of `preferences` the stream offers
/// (codecs not in the list are refused; an empty list is the caller's order), under
/// an SRTP policy: with `optional`, an RTP/SAVP stream with a usable `a=crypto` line
/// is taken as well as RTP/AVP (the first usable stream wins); with `required`, only
/// such a stream ([`NegotiateError::SrtpRequired`] otherwise). `local_key` is the
/// key we send under when SRTP is chosen.
pub fn negotiate_with(
    offer: &Sdp,
    preferences: &[AudioCodec],
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
        .find_map(|(media, srtp)| {
            pick_codec(media, preferences).map(|(codec, pt)| (media, codec, pt, srtp))
        })
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
        dtmf_pt: telephone_event(media, codec.clock_rate()),
        ptime_ms,
        direction: media
            .direction
            .or(offer.direction)
            .unwrap_or(Direction::SendRecv),
        rtcp_mux: media.rtcp_mux,
        srtp,
        opus: (codec == AudioCodec::Opus).then(|| opus_params(media, codec_pt)),
    })
}

fn is_usable_audio(media: &Media) -> bool {
    media.kind.eq_ignore_ascii_case("audio")
        && media.port != 0
        && (media.protocol.eq_ignore_ascii_case("RTP/AVP")
            || media.protocol.eq_ignore_ascii_case("RTP/SAVP"))
}

/// The codec and payload type chosen from `media`: the caller's first we speak, or
/// the first of `preferences` offered.
fn pick_codec(media: &Media, preferences: &[AudioCodec]) -> Option<(AudioCodec, u8)> {
    let mut offered = media
        .payload_types()
        .filter_map(|pt| codec_of_format(media, pt).map(|codec| (codec, pt)));
    if preferences.is_empty() {
        return offered.next();
    }
    let offered: Vec<(AudioCodec, u8)> = offered.collect();
    preferences
        .iter()
        .find_map(|wanted| offered.iter().find(|(codec, _)| codec == wanted).copied())
}

/// The codec a payload type of `media` carries, if we speak it: PCMU/PCMA at 8000 Hz
/// mono, opus at 48000 Hz (RFC 7587 says 2 channels; 1 is taken too).
fn codec_of_format(media: &Media, pt: u8) -> Option<AudioCodec> {
    match media.rtpmap(pt) {
        Some(map) => {
            let codec = AudioCodec::from_name(&map.encoding)?;
            let channels = map.channels.unwrap_or(1);
            let fits = match codec {
                AudioCodec::Pcmu | AudioCodec::Pcma => channels == 1,
                AudioCodec::Opus => channels == 1 || channels == 2,
            };
            (fits && map.clock_rate == codec.clock_rate()).then_some(codec)
        }
        None => match pt {
            0 => Some(AudioCodec::Pcmu),
            8 => Some(AudioCodec::Pcma),
            _ => None,
        },
    }
}

/// The payload type of telephone-event at `clock_rate`, if offered.
fn telephone_event(media: &Media, clock_rate: u32) -> Option<u8> {
    media.payload_types().find(|pt| {
        media.rtpmap(*pt).is_some_and(|map| {
            map.encoding.eq_ignore_ascii_case("telephone-event") && map.clock_rate == clock_rate
        })
    })
}

/// The Opus fmtp parameters of payload type `pt`; unknown or malformed ones are
/// ignored (their defaults stand).
fn opus_params(media: &Media, pt: u8) -> OpusParams {
    let mut params = OpusParams::default();
    let Some(fmtp) = media.fmtps.iter().find(|fmtp| fmtp.payload_type == pt) else {
        return params;
    };
    for pair in fmtp.params.split(';') {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key.eq_ignore_ascii_case("maxplaybackrate") {
            if let Ok(rate) = value.parse::<u32>() {
                params.max_playback_rate = rate.clamp(8000, 48000);
            }
        } else if key.eq_ignore_ascii_case("stereo") {
            params.stereo = value == "1";
        } else if key.eq_ignore_ascii_case("useinbandfec") {
            params.use_inband_fec = value == "1";
        }
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(m_line: &str, attributes: &str) -> Sdp {
        let body = format!("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n{m_line}\r\n{attributes}");
        Sdp::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn opus_is_taken_with_its_fmtp_and_its_telephone_event_clock() {
        let sdp = offer(
            "m=audio 6000 RTP/AVP 109 101 102",
            "a=rtpmap:109 opus/48000/2\r\na=fmtp:109 maxplaybackrate=16000;stereo=1;useinbandfec=1\r\n\
a=rtpmap:101 telephone-event/8000\r\na=rtpmap:102 telephone-event/48000\r\na=ptime:20\r\n",
        );
        let n = negotiate(&sdp).unwrap();
        assert_eq!(
            (n.codec, n.codec_pt, n.dtmf_pt),
            (AudioCodec::Opus, 109, Some(102))
        );
        assert_eq!(
            n.opus,
            Some(OpusParams {
                max_playback_rate: 16000,
                stereo: true,
                use_inband_fec: true
            })
        );
        // Without fmtp: the defaults; opus at another clock rate is not opus.
        let plain = negotiate(&offer(
            "m=audio 6000 RTP/AVP 96",
            "a=rtpmap:96 opus/48000/2\r\n",
        ))
        .unwrap();
        assert_eq!(plain.opus, Some(OpusParams::default()));
        assert_eq!(plain.dtmf_pt, None);
        assert_eq!(
            negotiate(&offer(
                "m=audio 6000 RTP/AVP 96",
                "a=rtpmap:96 opus/16000/2\r\n"
            )),
            Err(NegotiateError::NoCommonCodec)
        );
    }

    #[test]
    fn preferences_choose_among_what_is_offered() {
        let sdp = offer(
            "m=audio 6000 RTP/AVP 8 0 111",
            "a=rtpmap:111 opus/48000/2\r\n",
        );
        assert_eq!(
            negotiate(&sdp).unwrap().codec,
            AudioCodec::Pcma,
            "caller's order"
        );
        let opus_first = [AudioCodec::Opus, AudioCodec::Pcmu];
        assert_eq!(
            negotiate_with(&sdp, &opus_first, SrtpPolicy::Off, &[0; SDES_KEY_LEN])
                .unwrap()
                .codec,
            AudioCodec::Opus
        );
        let pcmu_first = [AudioCodec::Pcmu, AudioCodec::Opus];
        let n = negotiate_with(&sdp, &pcmu_first, SrtpPolicy::Off, &[0; SDES_KEY_LEN]).unwrap();
        assert_eq!((n.codec, n.codec_pt, n.opus), (AudioCodec::Pcmu, 0, None));
        let g711_only = offer("m=audio 6000 RTP/AVP 0 8", "");
        assert_eq!(
            negotiate_with(
                &g711_only,
                &[AudioCodec::Opus],
                SrtpPolicy::Off,
                &[0; SDES_KEY_LEN]
            ),
            Err(NegotiateError::NoCommonCodec)
        );
        assert_eq!(AudioCodec::from_name("OPUS"), Some(AudioCodec::Opus));
        assert_eq!(AudioCodec::from_name("G729"), None);
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
            negotiate_with(&savp, &[], SrtpPolicy::Off, &ours),
            Err(NegotiateError::NoCommonCodec)
        );
        for policy in [SrtpPolicy::Optional, SrtpPolicy::Required] {
            let n = negotiate_with(&savp, &[], policy, &ours).unwrap();
            let srtp = n.srtp.expect("SRTP chosen");
            assert_eq!(
                (srtp.tag, srtp.suite, srtp.local_key),
                (2, SdesSuite::AesCm128HmacSha1_80, ours)
            );
        }
        assert_eq!(
            negotiate_with(&avp, &[], SrtpPolicy::Optional, &ours)
                .unwrap()
                .srtp,
            None
        );
        assert_eq!(
            negotiate_with(&avp, &[], SrtpPolicy::Required, &ours),
            Err(NegotiateError::SrtpRequired)
        );
        assert_eq!(
            negotiate_with(&keyless, &[], SrtpPolicy::Required, &ours),
            Err(NegotiateError::SrtpRequired)
        );
        assert_eq!(
            negotiate_with(&keyless, &[], SrtpPolicy::Optional, &ours),
            Err(NegotiateError::NoCommonCodec)
        );
        // An offer of both (SAVP first, AVP as fallback) gets the first usable one.
        let both = offer(
            "m=audio 6000 RTP/SAVP 0",
            &format!("{key}m=audio 6002 RTP/AVP 0\r\n"),
        );
        assert!(negotiate_with(&both, &[], SrtpPolicy::Optional, &ours)
            .unwrap()
            .srtp
            .is_some());
        let n = negotiate_with(&both, &[], SrtpPolicy::Off, &ours).unwrap();
        assert_eq!((n.srtp, n.remote_rtp.port()), (None, 6002));
    }

    #[test]
    fn second_audio_stream_is_used_when_the_first_is_disabled() {
        let sdp = offer("m=audio 0 RTP/AVP 0\r\nm=audio 6002 RTP/AVP 8", "");
        let n = negotiate(&sdp).unwrap();
        assert_eq!((n.codec, n.remote_rtp.port()), (AudioCodec::Pcma, 6002));
    }
}
