//! Reading an SDP session description (RFC 4566) into [`Sdp`]: connection lines at
//! session and media level, media lines, rtpmap/fmtp/ptime, direction and crypto attributes.
//! Unknown lines and attributes are skipped.

use super::crypto::{parse_crypto, CryptoAttribute};
use std::net::IpAddr;
use thiserror::Error;

/// Media direction attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `a=sendrecv`: the offerer sends and receives (the default when absent).
    SendRecv,
    /// `a=sendonly`: the offerer only sends, e.g. while it holds the call.
    SendOnly,
    /// `a=recvonly`: the offerer only receives.
    RecvOnly,
    /// `a=inactive`: no media either way.
    Inactive,
}

/// An `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]` attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtpMap {
    /// The RTP payload type the mapping is for, 0–127.
    pub payload_type: u8,
    /// The encoding name as written (`PCMU`, `telephone-event`…); compare without case.
    pub encoding: String,
    /// The RTP clock rate in Hz (8000 for G.711 and telephone-event).
    pub clock_rate: u32,
    /// The channel count when given; absent means one.
    pub channels: Option<u32>,
}

/// An `a=fmtp:<pt> <params>` attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fmtp {
    /// The RTP payload type the parameters are for, 0–127.
    pub payload_type: u8,
    /// The format parameters as written, trimmed (e.g. `0-16` for telephone-event);
    /// empty when none follow the payload type.
    pub params: String,
}

/// One `m=` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Media {
    /// `audio`, `video`, `image`...
    pub kind: String,
    /// The RTP port the offerer receives on; 0 marks a rejected or disabled stream.
    /// A `/<count>` suffix is dropped.
    pub port: u16,
    /// `RTP/AVP`, `RTP/SAVP`, `udptl`...
    pub protocol: String,
    /// Format list as written.
    pub formats: Vec<String>,
    /// Media-level `c=` address.
    pub connection: Option<IpAddr>,
    /// The `a=rtpmap` attributes of this section, in order; unreadable ones skipped.
    pub rtpmaps: Vec<RtpMap>,
    /// The `a=fmtp` attributes of this section, in order; unreadable ones skipped.
    pub fmtps: Vec<Fmtp>,
    /// `a=ptime` in milliseconds, if given and numeric; the last one wins.
    pub ptime: Option<u32>,
    /// The section's direction attribute; the last one wins.
    pub direction: Option<Direction>,
    /// `a=rtcp-mux` (RFC 5761): RTCP may share the RTP port.
    pub rtcp_mux: bool,
    /// The `a=crypto` attributes (RFC 4568 SDES), in order; unreadable ones skipped.
    pub crypto: Vec<CryptoAttribute>,
}

/// A session description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sdp {
    /// Session-level `c=` address.
    pub connection: Option<IpAddr>,
    /// Session-level direction attribute.
    pub direction: Option<Direction>,
    /// Session-level ptime (not standard there, but seen in the wild).
    pub ptime: Option<u32>,
    /// The `m=` sections in order; attributes after an `m=` line belong to it.
    pub media: Vec<Media>,
}

/// Why a body is not a usable SDP.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SdpError {
    /// The body is not valid UTF-8.
    #[error("SDP is not UTF-8")]
    NotUtf8,
    /// The first non-blank line is not `v=0` (also for an empty body).
    #[error("SDP does not start with v=0")]
    NoVersion,
    /// A line without `=` or whose type before it is not one character; the value is its
    /// 1-based line number, blank lines counted.
    #[error("malformed line {0}")]
    BadLine(usize),
    /// A `c=` line that is not `IN IP4|IP6 <address>`; the value is its line number.
    #[error("malformed c= line {0}")]
    BadConnection(usize),
    /// An `m=` line without kind, numeric port and protocol; the value is its line number.
    #[error("malformed m= line {0}")]
    BadMedia(usize),
}

impl Media {
    /// The numeric payload types of the format list, in order (others skipped).
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats
            .iter()
            .filter_map(|format| format.parse::<u8>().ok())
            .filter(|pt| *pt < 128)
    }

    /// The rtpmap for `payload_type`, if any.
    pub fn rtpmap(&self, payload_type: u8) -> Option<&RtpMap> {
        self.rtpmaps
            .iter()
            .find(|map| map.payload_type == payload_type)
    }
}

impl Sdp {
    /// Parses an SDP body (CRLF or LF line ends).
    pub fn parse(body: &[u8]) -> Result<Sdp, SdpError> {
        let text = std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?;
        let mut lines = text
            .split('\n')
            .map(|line| line.strip_suffix('\r').unwrap_or(line))
            .enumerate()
            .map(|(index, line)| (index + 1, line))
            .filter(|(_, line)| !line.trim().is_empty());
        match lines.next() {
            Some((_, line)) if line.trim() == "v=0" => {}
            _ => return Err(SdpError::NoVersion),
        }
        let mut sdp = Sdp {
            connection: None,
            direction: None,
            ptime: None,
            media: Vec::new(),
        };
        for (number, line) in lines {
            let Some((kind, value)) = line.split_once('=') else {
                return Err(SdpError::BadLine(number));
            };
            match kind {
                "c" => {
                    let address = parse_connection(value).ok_or(SdpError::BadConnection(number))?;
                    match sdp.media.last_mut() {
                        Some(media) => media.connection = Some(address),
                        None => sdp.connection = Some(address),
                    }
                }
                "m" => sdp
                    .media
                    .push(parse_media(value).ok_or(SdpError::BadMedia(number))?),
                "a" => sdp.apply_attribute(value),
                _ if kind.len() == 1 => {}
                _ => return Err(SdpError::BadLine(number)),
            }
        }
        Ok(sdp)
    }

    fn apply_attribute(&mut self, value: &str) {
        let (name, arg) = match value.split_once(':') {
            Some((name, arg)) => (name.trim(), Some(arg.trim())),
            None => (value.trim(), None),
        };
        let direction = match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        };
        let ptime = match (name, arg) {
            ("ptime", Some(arg)) => arg.parse::<u32>().ok(),
            _ => None,
        };
        let Some(media) = self.media.last_mut() else {
            self.direction = direction.or(self.direction);
            self.ptime = ptime.or(self.ptime);
            return;
        };
        media.direction = direction.or(media.direction);
        media.ptime = ptime.or(media.ptime);
        match (name, arg) {
            ("rtcp-mux", None) => media.rtcp_mux = true,
            ("rtpmap", Some(arg)) => media.rtpmaps.extend(parse_rtpmap(arg)),
            ("fmtp", Some(arg)) => media.fmtps.extend(parse_fmtp(arg)),
            ("crypto", Some(arg)) => media.crypto.extend(parse_crypto(arg)),
            _ => {}
        }
    }
}

/// `IN IP4 <addr>[/ttl[/count]]` or `IN IP6 <addr>`.
fn parse_connection(value: &str) -> Option<IpAddr> {
    let mut parts = value.split_whitespace();
    let (Some("IN"), Some(address_type), Some(address), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let address = address.split('/').next()?;
    match address_type {
        "IP4" => address.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4),
        "IP6" => address.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6),
        _ => None,
    }
}

/// `<media> <port>[/<count>] <proto> <fmt> ...`
fn parse_media(value: &str) -> Option<Media> {
    let mut parts = value.split_whitespace();
    let kind = parts.next()?;
    let port = parts.next()?.split('/').next()?.parse::<u16>().ok()?;
    let protocol = parts.next()?;
    Some(Media {
        kind: kind.to_owned(),
        port,
        protocol: protocol.to_owned(),
        formats: parts.map(str::to_owned).collect(),
        connection: None,
        rtpmaps: Vec::new(),
        fmtps: Vec::new(),
        ptime: None,
        direction: None,
        rtcp_mux: false,
        crypto: Vec::new(),
    })
}

/// `<pt> <encoding>/<clock>[/<channels>]`
fn parse_rtpmap(arg: &str) -> Option<RtpMap> {
    let (payload_type, encoding) = arg.split_once(char::is_whitespace)?;
    let mut parts = encoding.trim().split('/');
    let name = parts.next().filter(|name| !name.is_empty())?;
    let clock_rate = parts.next()?.trim().parse().ok()?;
    let channels = match parts.next() {
        Some(channels) => Some(channels.trim().parse().ok()?),
        None => None,
    };
    Some(RtpMap {
        payload_type: payload_type.parse().ok().filter(|pt| *pt < 128)?,
        encoding: name.to_owned(),
        clock_rate,
        channels,
    })
}

/// `<pt> <params>`
fn parse_fmtp(arg: &str) -> Option<Fmtp> {
    let (payload_type, params) = arg.split_once(char::is_whitespace).unwrap_or((arg, ""));
    Some(Fmtp {
        payload_type: payload_type.parse().ok().filter(|pt| *pt < 128)?,
        params: params.trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_typical_offer() {
        let body = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
a=sendrecv\r\nm=audio 49170 RTP/AVP 8 0 101\r\nc=IN IP4 192.0.2.9/127\r\n\
a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n\
a=ptime:30\r\na=recvonly\r\nm=video 0 RTP/AVP 96\r\n";
        let sdp = Sdp::parse(body).unwrap();
        assert_eq!(sdp.connection, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(sdp.direction, Some(Direction::SendRecv));
        assert_eq!(sdp.media.len(), 2);
        let audio = &sdp.media[0];
        assert_eq!(audio.kind, "audio");
        assert_eq!(audio.port, 49170);
        assert_eq!(audio.protocol, "RTP/AVP");
        assert_eq!(audio.payload_types().collect::<Vec<_>>(), vec![8, 0, 101]);
        assert_eq!(audio.connection, Some("192.0.2.9".parse().unwrap()));
        assert_eq!(
            audio.rtpmap(101).map(|m| m.encoding.as_str()),
            Some("telephone-event")
        );
        assert_eq!(
            audio.fmtps,
            vec![Fmtp {
                payload_type: 101,
                params: "0-15".into()
            }]
        );
        assert_eq!(audio.ptime, Some(30));
        assert_eq!(audio.direction, Some(Direction::RecvOnly));
        assert_eq!(sdp.media[1].port, 0);
        assert!(!audio.rtcp_mux);
        let muxed = Sdp::parse(b"v=0\r\nm=audio 4000 RTP/AVP 0\r\na=rtcp-mux\r\n").unwrap();
        assert!(muxed.media[0].rtcp_mux);
    }

    #[test]
    fn lf_only_ipv6_and_odd_attributes() {
        let body = b"v=0\nc=IN IP6 2001:db8::1\nm=audio 4000/2 RTP/AVP 0\na=rtpmap:bad\na=rtpmap:0 PCMU/8000/1\na=inactive\n";
        let sdp = Sdp::parse(body).unwrap();
        assert_eq!(sdp.connection, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(sdp.media[0].port, 4000);
        assert_eq!(sdp.media[0].rtpmaps[0].channels, Some(1));
        assert_eq!(sdp.media[0].direction, Some(Direction::Inactive));
    }

    #[test]
    fn errors() {
        assert_eq!(Sdp::parse(b"o=x\r\n"), Err(SdpError::NoVersion));
        assert_eq!(Sdp::parse(b""), Err(SdpError::NoVersion));
        assert_eq!(
            Sdp::parse(b"v=0\r\nc=IN IP4 host.example\r\n"),
            Err(SdpError::BadConnection(2))
        );
        assert_eq!(
            Sdp::parse(b"v=0\r\nm=audio x RTP/AVP 0\r\n"),
            Err(SdpError::BadMedia(2))
        );
        assert_eq!(Sdp::parse(b"v=0\r\ngarbage\r\n"), Err(SdpError::BadLine(2)));
        assert_eq!(Sdp::parse(b"v=0\r\n\xff=1\r\n"), Err(SdpError::NotUtf8));
    }
}
