//! SRTP and SRTCP (RFC 3711) for one call leg keyed by SDES (RFC 4568): the
//! suites AES_CM_128_HMAC_SHA1_80 and AES_CM_128_HMAC_SHA1_32, key derivation
//! (`cipher.rs`), the rollover counter, index estimation and replay window
//! (`index.rs`), and in-place protect and unprotect of RTP and RTCP
//! ([`Srtp`]). Nothing allocates per packet: the key schedules and keyed
//! HMAC states are built once per call and every packet is transformed in
//! the caller's buffer.
//!
//! Why hand-written on RustCrypto primitives (`aes`, `hmac`, `sha1`): libsrtp2
//! (Debian `libsrtp2-dev`) is the reference, but no maintained `-sys` crate
//! binds it, so it would mean a hand-written FFI layer, `unsafe` on the packet
//! path and a C library in the binary; the maintained pure-Rust SRTP crate
//! (`webrtc-srtp`) returns a fresh `Bytes` per packet and pulls in the webrtc
//! stack. The SRTP layer over the primitives is small (the transforms of RFC
//! 3711 §3–4 with key derivation rate 0, the only one SDES answers assume),
//! allocation-free, and checked against the RFC's appendix B test vectors.
//!
//! Limits: no MKI (SDES offers with an MKI are refused during negotiation),
//! no key derivation rate other than 0, and one remote SSRC at a time per
//! direction: a packet from a new SSRC that authenticates starts a fresh
//! window (SDES keys are per sender, not per SSRC).

mod cipher;
mod index;
mod keys;

use std::fmt;

use cipher::{SessionKeys, MASTER_KEY_LEN, MASTER_SALT_LEN, RTCP_LABELS, RTP_LABELS};
use index::{estimate, ReplayWindow, SendIndex};
pub use keys::SrtpKeySource;

/// Bytes of an SDES `inline:` key: the master key followed by the master salt.
pub const SRTP_KEY_LEN: usize = MASTER_KEY_LEN + MASTER_SALT_LEN;
/// The SRTCP authentication tag: 80 bits for both suites (RFC 4568 §6.2.1).
pub const SRTCP_TAG_LEN: usize = 10;
/// The E flag and 31-bit SRTCP index after an SRTCP packet.
const SRTCP_INDEX_LEN: usize = 4;
/// The most bytes protecting adds to an RTP packet.
pub const SRTP_MAX_OVERHEAD: usize = 10;
/// The most bytes protecting adds to an RTCP compound.
pub const SRTCP_OVERHEAD: usize = SRTCP_INDEX_LEN + SRTCP_TAG_LEN;

/// A crypto suite of RFC 4568 §6.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SrtpSuite {
    /// AES-128 counter mode, HMAC-SHA1 with an 80-bit tag.
    AesCm128HmacSha1_80,
    /// AES-128 counter mode, HMAC-SHA1 with a 32-bit tag on SRTP (80 on SRTCP).
    AesCm128HmacSha1_32,
}

impl SrtpSuite {
    /// Both suites, in our order of preference.
    pub const ALL: [SrtpSuite; 2] = [
        SrtpSuite::AesCm128HmacSha1_80,
        SrtpSuite::AesCm128HmacSha1_32,
    ];

    /// The name in `a=crypto`.
    pub fn name(self) -> &'static str {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    /// The suite named `name` (case-sensitive, as RFC 4568 registers them).
    pub fn from_name(name: &str) -> Option<SrtpSuite> {
        SrtpSuite::ALL
            .into_iter()
            .find(|suite| suite.name() == name)
    }

    /// Bytes of the SRTP authentication tag.
    pub fn rtp_tag_len(self) -> usize {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => 10,
            SrtpSuite::AesCm128HmacSha1_32 => 4,
        }
    }
}

/// A master key and salt: what one side's `a=crypto` `inline:` carries.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKey {
    bytes: [u8; SRTP_KEY_LEN],
}

impl SrtpKey {
    /// The key from its 30 bytes (16 of key, 14 of salt).
    pub fn from_bytes(bytes: [u8; SRTP_KEY_LEN]) -> SrtpKey {
        SrtpKey { bytes }
    }

    /// The 30 bytes.
    pub fn as_bytes(&self) -> &[u8; SRTP_KEY_LEN] {
        &self.bytes
    }

    fn master_key(&self) -> [u8; MASTER_KEY_LEN] {
        let mut key = [0u8; MASTER_KEY_LEN];
        key.copy_from_slice(&self.bytes[..MASTER_KEY_LEN]);
        key
    }

    fn master_salt(&self) -> [u8; MASTER_SALT_LEN] {
        let mut salt = [0u8; MASTER_SALT_LEN];
        salt.copy_from_slice(&self.bytes[MASTER_KEY_LEN..]);
        salt
    }
}

impl fmt::Debug for SrtpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SrtpKey(..)")
    }
}

/// Why a packet was not protected or unprotected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SrtpError {
    /// Too short, or its RTP header runs past its end.
    Malformed,
    /// The tag does not match: altered, or under another key.
    AuthFailed,
    /// Already received, or too old for the replay window.
    Replay,
    /// The buffer has no room for the tag.
    BufferTooSmall,
}

/// What SRTP counted on one leg, for the CDR (`media.srtp`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SrtpStats {
    /// The suite in use.
    pub suite: Option<SrtpSuite>,
    /// RTP packets that authenticated and were decrypted.
    pub rtp_unprotected: u64,
    /// RTCP compounds that authenticated (and were decrypted).
    pub rtcp_unprotected: u64,
    /// Packets (RTP and RTCP) whose tag did not match, dropped.
    pub auth_failures: u64,
    /// Packets (RTP and RTCP) refused as replays or too old, dropped.
    pub replays: u64,
    /// Packets too short to carry a header and tag, dropped.
    pub malformed: u64,
    /// RTP packets protected.
    pub rtp_protected: u64,
    /// RTCP compounds protected.
    pub rtcp_protected: u64,
}

/// The SRTP state of one leg: our sending key's session keys and indices, and
/// the far end's key's session keys, rollover counter and replay windows.
#[derive(Clone)]
pub struct Srtp {
    suite: SrtpSuite,
    send_rtp: SessionKeys,
    send_rtcp: SessionKeys,
    recv_rtp: SessionKeys,
    recv_rtcp: SessionKeys,
    send_index: SendIndex,
    /// The next SRTCP index we send (31 bits).
    send_rtcp_index: u32,
    /// The far end's RTP stream: its SSRC and window, once one authenticated.
    recv_rtp_window: Option<(u32, ReplayWindow)>,
    /// The far end's RTCP: its SSRC and window of SRTCP indices.
    recv_rtcp_window: Option<(u32, ReplayWindow)>,
    stats: SrtpStats,
}

impl fmt::Debug for Srtp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Srtp")
            .field("suite", &self.suite)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Bytes of the RTP header of `packet`, CSRCs and extension included.
fn rtp_header_len(packet: &[u8]) -> Result<usize, SrtpError> {
    let first = *packet.first().ok_or(SrtpError::Malformed)?;
    if first >> 6 != 2 {
        return Err(SrtpError::Malformed);
    }
    let mut len = 12 + 4 * usize::from(first & 0x0f);
    if first & 0x10 != 0 {
        let words = packet.get(len + 2..len + 4).ok_or(SrtpError::Malformed)?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    if len > packet.len() {
        return Err(SrtpError::Malformed);
    }
    Ok(len)
}

fn be_u32(bytes: &[u8], at: usize) -> Result<u32, SrtpError> {
    let word = bytes.get(at..at + 4).ok_or(SrtpError::Malformed)?;
    Ok(u32::from_be_bytes([word[0], word[1], word[2], word[3]]))
}

impl Srtp {
    /// A leg that sends under `local` and receives under `remote`, both with `suite`.
    pub fn new(suite: SrtpSuite, local: &SrtpKey, remote: &SrtpKey) -> Srtp {
        let (lk, ls) = (local.master_key(), local.master_salt());
        let (rk, rs) = (remote.master_key(), remote.master_salt());
        Srtp {
            suite,
            send_rtp: SessionKeys::derive(&lk, &ls, RTP_LABELS),
            send_rtcp: SessionKeys::derive(&lk, &ls, RTCP_LABELS),
            recv_rtp: SessionKeys::derive(&rk, &rs, RTP_LABELS),
            recv_rtcp: SessionKeys::derive(&rk, &rs, RTCP_LABELS),
            send_index: SendIndex::default(),
            send_rtcp_index: 0,
            recv_rtp_window: None,
            recv_rtcp_window: None,
            stats: SrtpStats {
                suite: Some(suite),
                ..SrtpStats::default()
            },
        }
    }

    /// The suite in use.
    pub fn suite(&self) -> SrtpSuite {
        self.suite
    }

    /// What was counted so far.
    pub fn stats(&self) -> &SrtpStats {
        &self.stats
    }

    /// Encrypts the payload of the RTP packet in `buf[..len]` and appends the
    /// tag; returns the protected length. `buf` needs the tag's room after `len`.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let tag_len = self.suite.rtp_tag_len();
        if buf.len() < len + tag_len {
            return Err(SrtpError::BufferTooSmall);
        }
        let packet = &mut buf[..len];
        let header_len = rtp_header_len(packet)?;
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = be_u32(packet, 8)?;
        let index = self.send_index.next(seq);
        self.send_rtp.crypt(ssrc, index, &mut packet[header_len..]);
        let mut mac = self.send_rtp.mac();
        hmac::Mac::update(&mut mac, packet);
        hmac::Mac::update(&mut mac, &((index >> 16) as u32).to_be_bytes());
        cipher::write_tag(mac, &mut buf[len..len + tag_len]);
        self.stats.rtp_protected += 1;
        Ok(len + tag_len)
    }

    /// Checks the tag and replay window of the SRTP packet in `packet` and
    /// decrypts it in place; returns the RTP packet's length (without the tag).
    /// A refused packet is counted and left as it was.
    pub fn unprotect_rtp(&mut self, packet: &mut [u8]) -> Result<usize, SrtpError> {
        let result = self.try_unprotect_rtp(packet);
        self.count(result.map(|_| ()), false);
        result
    }

    fn try_unprotect_rtp(&mut self, packet: &mut [u8]) -> Result<usize, SrtpError> {
        let tag_len = self.suite.rtp_tag_len();
        let body_len = packet
            .len()
            .checked_sub(tag_len)
            .filter(|len| *len >= 12)
            .ok_or(SrtpError::Malformed)?;
        let (body, tag) = packet.split_at_mut(body_len);
        let header_len = rtp_header_len(body)?;
        let seq = u16::from_be_bytes([body[2], body[3]]);
        let ssrc = be_u32(body, 8)?;
        let window = match &self.recv_rtp_window {
            Some((known, window)) if *known == ssrc => window.clone(),
            _ => ReplayWindow::default(),
        };
        let index = match window.highest() {
            Some(highest) => estimate(highest, seq).ok_or(SrtpError::Replay)?,
            None => u64::from(seq),
        };
        if !window.check(index) {
            return Err(SrtpError::Replay);
        }
        let mut mac = self.recv_rtp.mac();
        hmac::Mac::update(&mut mac, body);
        hmac::Mac::update(&mut mac, &((index >> 16) as u32).to_be_bytes());
        if !cipher::verify(mac, tag) {
            return Err(SrtpError::AuthFailed);
        }
        self.recv_rtp.crypt(ssrc, index, &mut body[header_len..]);
        let mut window = window;
        window.accept(index);
        self.recv_rtp_window = Some((ssrc, window));
        Ok(body_len)
    }

    /// Encrypts the RTCP compound in `buf[..len]` (all but its first 8 bytes),
    /// appends the E flag with the SRTCP index and the 80-bit tag; returns the
    /// protected length. `buf` needs [`SRTCP_OVERHEAD`] bytes after `len`.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        if buf.len() < len + SRTCP_OVERHEAD {
            return Err(SrtpError::BufferTooSmall);
        }
        if len < 8 {
            return Err(SrtpError::Malformed);
        }
        let ssrc = be_u32(buf, 4)?;
        let index = self.send_rtcp_index;
        self.send_rtcp_index = (index + 1) & 0x7fff_ffff;
        self.send_rtcp
            .crypt(ssrc, u64::from(index), &mut buf[8..len]);
        buf[len..len + SRTCP_INDEX_LEN].copy_from_slice(&(index | 0x8000_0000).to_be_bytes());
        let authenticated = len + SRTCP_INDEX_LEN;
        let mut mac = self.send_rtcp.mac();
        hmac::Mac::update(&mut mac, &buf[..authenticated]);
        cipher::write_tag(mac, &mut buf[authenticated..authenticated + SRTCP_TAG_LEN]);
        self.stats.rtcp_protected += 1;
        Ok(authenticated + SRTCP_TAG_LEN)
    }

    /// Checks the tag and replay window of the SRTCP packet in `packet` and
    /// decrypts it in place (when its E flag says it is encrypted); returns
    /// the RTCP compound's length. A refused packet is counted.
    pub fn unprotect_rtcp(&mut self, packet: &mut [u8]) -> Result<usize, SrtpError> {
        let result = self.try_unprotect_rtcp(packet);
        self.count(result.map(|_| ()), true);
        result
    }

    fn try_unprotect_rtcp(&mut self, packet: &mut [u8]) -> Result<usize, SrtpError> {
        let authenticated = packet
            .len()
            .checked_sub(SRTCP_TAG_LEN)
            .filter(|len| *len >= 8 + SRTCP_INDEX_LEN)
            .ok_or(SrtpError::Malformed)?;
        let (body, tag) = packet.split_at_mut(authenticated);
        let rtcp_len = authenticated - SRTCP_INDEX_LEN;
        let e_index = be_u32(body, rtcp_len)?;
        let encrypted = e_index & 0x8000_0000 != 0;
        let index = u64::from(e_index & 0x7fff_ffff);
        let ssrc = be_u32(body, 4)?;
        let window = match &self.recv_rtcp_window {
            Some((known, window)) if *known == ssrc => window.clone(),
            _ => ReplayWindow::default(),
        };
        if !window.check(index) {
            return Err(SrtpError::Replay);
        }
        let mut mac = self.recv_rtcp.mac();
        hmac::Mac::update(&mut mac, body);
        if !cipher::verify(mac, tag) {
            return Err(SrtpError::AuthFailed);
        }
        if encrypted {
            self.recv_rtcp.crypt(ssrc, index, &mut body[8..rtcp_len]);
        }
        let mut window = window;
        window.accept(index);
        self.recv_rtcp_window = Some((ssrc, window));
        Ok(rtcp_len)
    }

    fn count(&mut self, result: Result<(), SrtpError>, rtcp: bool) {
        match result {
            Ok(()) if rtcp => self.stats.rtcp_unprotected += 1,
            Ok(()) => self.stats.rtp_unprotected += 1,
            Err(SrtpError::AuthFailed) => self.stats.auth_failures += 1,
            Err(SrtpError::Replay) => self.stats.replays += 1,
            Err(SrtpError::Malformed | SrtpError::BufferTooSmall) => self.stats.malformed += 1,
        }
    }
}

#[cfg(test)]
mod tests;
