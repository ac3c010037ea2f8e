//! SDES (RFC 4568): the `a=crypto` attribute of RTP/SAVP streams, which suite
//! and key of an offer we take, the line that carries our own key, and the
//! SRTP policy (`off`, `optional`, `required`) the server and each trunk set.
//! SDES sends the keys in the clear inside SDP: they belong on SIP over TLS.

use super::parse::Media;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// Bytes of an `inline:` key: a 128-bit master key and a 112-bit master salt.
pub const SDES_KEY_LEN: usize = 30;

/// Whether calls use SRTP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SrtpPolicy {
    /// RTP/AVP only: RTP/SAVP streams are not usable.
    #[default]
    Off,
    /// Either: an RTP/SAVP stream with a usable key gets SRTP, RTP/AVP gets RTP.
    Optional,
    /// RTP/SAVP only: an offer without a usable key gets 488; our offers are RTP/SAVP.
    Required,
}

/// The suites we speak, by their RFC 4568 names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SdesSuite {
    /// `AES_CM_128_HMAC_SHA1_80`.
    AesCm128HmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32`.
    AesCm128HmacSha1_32,
}

impl SdesSuite {
    /// Both, in our order of preference (for our offers).
    pub const ALL: [SdesSuite; 2] = [
        SdesSuite::AesCm128HmacSha1_80,
        SdesSuite::AesCm128HmacSha1_32,
    ];

    /// The name in `a=crypto`.
    pub fn name(self) -> &'static str {
        match self {
            SdesSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SdesSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    fn from_name(name: &str) -> Option<SdesSuite> {
        SdesSuite::ALL
            .into_iter()
            .find(|suite| suite.name() == name)
    }
}

/// One `a=crypto:<tag> <suite> <key-params> [<session-params>]` as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CryptoAttribute {
    /// The tag the answer must repeat.
    pub tag: u32,
    /// The suite name.
    pub suite: String,
    /// The key parameters (`inline:…`, several joined by `;`).
    pub key_params: String,
    /// Session parameters, if any (`KDR=`, `UNENCRYPTED_SRTP`…).
    pub session_params: String,
}

/// Reads the argument of an `a=crypto:` attribute; `None` when unreadable.
pub(crate) fn parse_crypto(arg: &str) -> Option<CryptoAttribute> {
    let mut parts = arg.split_whitespace();
    let tag = parts
        .next()?
        .parse::<u32>()
        .ok()
        .filter(|tag| *tag < 1_000_000_000)?;
    let suite = parts.next()?.to_owned();
    let key_params = parts.next()?.to_owned();
    let session_params = parts.collect::<Vec<_>>().join(" ");
    Some(CryptoAttribute {
        tag,
        suite,
        key_params,
        session_params,
    })
}

/// The SRTP of a negotiated stream: the far end's crypto line we took, its
/// key (what it sends under) and ours (what we send under).
#[derive(Clone, PartialEq, Eq)]
pub struct Sdes {
    /// The tag of the chosen line, repeated in the answer.
    pub tag: u32,
    /// The suite.
    pub suite: SdesSuite,
    /// The far end's master key and salt.
    pub remote_key: [u8; SDES_KEY_LEN],
    /// Our master key and salt.
    pub local_key: [u8; SDES_KEY_LEN],
}

impl std::fmt::Debug for Sdes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sdes")
            .field("tag", &self.tag)
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

/// The first crypto line of `media` we can use, with `local_key` as ours:
/// a suite we speak, one `inline:` key of 30 bytes, an optional lifetime,
/// no MKI (refused: one key per direction is all SDES needs) and no
/// session parameters (each changes the transform: refused).
pub(crate) fn choose(media: &Media, local_key: &[u8; SDES_KEY_LEN]) -> Option<Sdes> {
    media.crypto.iter().find_map(|line| {
        let suite = SdesSuite::from_name(&line.suite)?;
        if !line.session_params.is_empty() || line.key_params.contains(';') {
            return None;
        }
        let key = line.key_params.strip_prefix("inline:")?;
        let mut fields = key.split('|');
        let encoded = fields.next()?;
        for field in fields {
            // A lifetime (`2^31` or a number) is fine; an MKI (`1:4`) is not.
            if field.contains(':') {
                return None;
            }
        }
        let mut remote_key = [0u8; SDES_KEY_LEN];
        let decoded = STANDARD.decode_slice(encoded, &mut remote_key).ok()?;
        (decoded == SDES_KEY_LEN).then_some(Sdes {
            tag: line.tag,
            suite,
            remote_key,
            local_key: *local_key,
        })
    })
}

/// `a=crypto:<tag> <suite> inline:<key>` with CRLF.
pub(crate) fn crypto_line(tag: u32, suite: SdesSuite, key: &[u8; SDES_KEY_LEN]) -> String {
    format!(
        "a=crypto:{tag} {} inline:{}\r\n",
        suite.name(),
        STANDARD.encode(key)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::sdp::Sdp;

    fn media(lines: &str) -> Media {
        let body = format!("v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/SAVP 0\r\n{lines}");
        Sdp::parse(body.as_bytes()).unwrap().media.remove(0)
    }

    const KEY: &str = "WnD7c1ksDGs+dIefCEo8omPg4uO8DYIinNGL5yxQ";

    #[test]
    fn the_first_usable_line_is_chosen() {
        let ours = [7u8; SDES_KEY_LEN];
        let m = media(&format!(
            "a=crypto:1 F8_128_HMAC_SHA1_80 inline:{KEY}\r\n\
             a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{KEY}|2^20|1:4\r\n\
             a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{KEY} UNENCRYPTED_SRTP\r\n\
             a=crypto:4 AES_CM_128_HMAC_SHA1_32 inline:{KEY}|2^31\r\n"
        ));
        assert_eq!(m.crypto.len(), 4);
        let chosen = choose(&m, &ours).expect("line 4 is usable");
        assert_eq!(
            (chosen.tag, chosen.suite),
            (4, SdesSuite::AesCm128HmacSha1_32)
        );
        assert_eq!(STANDARD.encode(chosen.remote_key), KEY);
        assert_eq!(chosen.local_key, ours);
    }

    #[test]
    fn unusable_keys_are_skipped() {
        let ours = [0u8; SDES_KEY_LEN];
        for bad in [
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=\r\n",
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:!!!notbase64!!!\r\n",
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 key:abc\r\n",
            "a=crypto:x AES_CM_128_HMAC_SHA1_80 inline:abc\r\n",
            "a=crypto:1\r\n",
        ] {
            assert_eq!(choose(&media(bad), &ours), None, "{bad}");
        }
    }

    #[test]
    fn our_line_reads_back() {
        let key = [0x5a; SDES_KEY_LEN];
        let line = crypto_line(9, SdesSuite::AesCm128HmacSha1_80, &key);
        let m = media(&line);
        let chosen = choose(&m, &[0; SDES_KEY_LEN]).unwrap();
        assert_eq!((chosen.tag, chosen.remote_key), (9, key));
    }
}
