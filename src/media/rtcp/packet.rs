//! RTCP packets (RFC 3550 §6.4–6.6) read from and written into byte slices:
//! sender and receiver reports with their report blocks, SDES CNAME and BYE.
//!
//! Reading never allocates: [`Compound::parse`] checks a whole compound packet
//! (RFC 3550 A.2: version 2, the first packet a report, lengths adding up to the
//! datagram, padding only in the last packet) and then iterates over its packets,
//! each report over its blocks. Writing goes into the caller's buffer and returns
//! the length written, or `None` if the buffer is too small.

use thiserror::Error;

/// Packet type of a sender report.
pub const PT_SR: u8 = 200;
/// Packet type of a receiver report.
pub const PT_RR: u8 = 201;
/// Packet type of source description items.
pub const PT_SDES: u8 = 202;
/// Packet type of goodbye.
pub const PT_BYE: u8 = 203;
/// Length of one report block.
pub const REPORT_BLOCK_LEN: usize = 24;
/// SDES item type of the canonical name.
const SDES_CNAME: u8 = 1;

/// Why a datagram is not a valid RTCP compound packet.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum RtcpError {
    /// Shorter than a header, or a packet's length runs past the datagram.
    #[error("RTCP packet truncated")]
    Truncated,
    /// A version other than 2.
    #[error("RTCP version is not 2")]
    BadVersion,
    /// The first packet is not SR or RR.
    #[error("RTCP compound does not start with a report")]
    NotAReport,
    /// Padding in a packet other than the last, or more padding than payload.
    #[error("bad RTCP padding")]
    BadPadding,
    /// A report whose count of blocks does not fit its length.
    #[error("RTCP report shorter than its blocks")]
    BadReport,
}

/// The sender information of an SR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// NTP timestamp of the report (seconds since 1900, 32.32 fixed point).
    pub ntp: u64,
    /// The RTP timestamp of the same instant.
    pub rtp_timestamp: u32,
    /// RTP packets sent since the start.
    pub packet_count: u32,
    /// RTP payload octets sent since the start.
    pub octet_count: u32,
}

/// One report block: what a receiver says about one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source reported on.
    pub ssrc: u32,
    /// Fraction of packets lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Packets lost since the start (expected minus received; may be negative
    /// with duplicates), 24 bits signed.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
    /// Interarrival jitter, in timestamp units.
    pub jitter: u32,
    /// The middle 32 bits of the NTP timestamp of the source's last SR; 0: none.
    pub last_sr: u32,
    /// Delay since that SR was received, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    fn read(bytes: &[u8]) -> Option<ReportBlock> {
        let word = |at: usize| -> Option<u32> {
            let b = bytes.get(at..at + 4)?;
            Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        let lost = word(4)?;
        // 24-bit two's complement.
        let cumulative = ((lost & 0x00FF_FFFF) << 8) as i32 >> 8;
        Some(ReportBlock {
            ssrc: word(0)?,
            fraction_lost: (lost >> 24) as u8,
            cumulative_lost: cumulative,
            highest_seq: word(8)?,
            jitter: word(12)?,
            last_sr: word(16)?,
            delay_since_last_sr: word(20)?,
        })
    }

    fn write(&self, out: &mut [u8]) {
        let lost = (u32::from(self.fraction_lost) << 24)
            | (self.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32 & 0x00FF_FFFF);
        for (i, word) in [
            self.ssrc,
            lost,
            self.highest_seq,
            self.jitter,
            self.last_sr,
            self.delay_since_last_sr,
        ]
        .into_iter()
        .enumerate()
        {
            out[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
        }
    }
}

/// The report blocks of an SR or RR.
#[derive(Debug, Clone)]
pub struct ReportBlocks<'a> {
    bytes: &'a [u8],
}

impl Iterator for ReportBlocks<'_> {
    type Item = ReportBlock;

    fn next(&mut self) -> Option<ReportBlock> {
        let (block, rest) = self.bytes.split_at_checked(REPORT_BLOCK_LEN)?;
        self.bytes = rest;
        ReportBlock::read(block)
    }
}

/// One packet of a compound.
#[derive(Debug, Clone)]
pub enum RtcpPacket<'a> {
    /// A sender report.
    SenderReport {
        /// The sender.
        ssrc: u32,
        /// What it sent.
        info: SenderInfo,
        /// What it received.
        blocks: ReportBlocks<'a>,
    },
    /// A receiver report.
    ReceiverReport {
        /// The reporter.
        ssrc: u32,
        /// What it received.
        blocks: ReportBlocks<'a>,
    },
    /// Goodbye from the first source listed (others are ignored).
    Bye {
        /// The source leaving, if one is listed.
        ssrc: Option<u32>,
    },
    /// SDES or any other packet type, skipped.
    Other {
        /// Its packet type.
        packet_type: u8,
    },
}

/// A validated compound RTCP packet; iterate to read its packets.
#[derive(Debug, Clone)]
pub struct Compound<'a> {
    rest: &'a [u8],
}

impl<'a> Compound<'a> {
    /// Checks `data` as a compound packet (RFC 3550 A.2).
    pub fn parse(data: &'a [u8]) -> Result<Compound<'a>, RtcpError> {
        let first = data.get(1).ok_or(RtcpError::Truncated)?;
        if !matches!(*first, PT_SR | PT_RR) {
            return Err(RtcpError::NotAReport);
        }
        let mut rest = data;
        while !rest.is_empty() {
            let (len, padded) = packet_len(rest)?;
            if padded && len != rest.len() {
                return Err(RtcpError::BadPadding);
            }
            rest = &rest[len..];
        }
        Ok(Compound { rest: data })
    }
}

/// The length of the packet at the start of `data` and whether it has padding.
fn packet_len(data: &[u8]) -> Result<(usize, bool), RtcpError> {
    let header = data.get(..4).ok_or(RtcpError::Truncated)?;
    if header[0] >> 6 != 2 {
        return Err(RtcpError::BadVersion);
    }
    let len = (usize::from(u16::from_be_bytes([header[2], header[3]])) + 1) * 4;
    if len > data.len() {
        return Err(RtcpError::Truncated);
    }
    let padded = header[0] & 0x20 != 0;
    if padded {
        let pad = usize::from(data[len - 1]);
        if pad == 0 || pad > len - 4 {
            return Err(RtcpError::BadPadding);
        }
    }
    Ok((len, padded))
}

impl<'a> Iterator for Compound<'a> {
    type Item = Result<RtcpPacket<'a>, RtcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let (len, padded) = match packet_len(self.rest) {
            Ok(found) => found,
            Err(err) => {
                self.rest = &[];
                return Some(Err(err));
            }
        };
        let (packet, rest) = self.rest.split_at(len);
        self.rest = rest;
        let body_end = if padded {
            len - usize::from(packet[len - 1])
        } else {
            len
        };
        Some(read_packet(&packet[..body_end]))
    }
}

fn read_packet(packet: &[u8]) -> Result<RtcpPacket<'_>, RtcpError> {
    let count = usize::from(packet[0] & 0x1F);
    let word = |at: usize| -> Result<u32, RtcpError> {
        let b = packet.get(at..at + 4).ok_or(RtcpError::BadReport)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let blocks_at = |start: usize| -> Result<ReportBlocks<'_>, RtcpError> {
        let end = start + count * REPORT_BLOCK_LEN;
        let bytes = packet.get(start..end).ok_or(RtcpError::BadReport)?;
        Ok(ReportBlocks { bytes })
    };
    match packet[1] {
        PT_SR => Ok(RtcpPacket::SenderReport {
            ssrc: word(4)?,
            info: SenderInfo {
                ntp: (u64::from(word(8)?) << 32) | u64::from(word(12)?),
                rtp_timestamp: word(16)?,
                packet_count: word(20)?,
                octet_count: word(24)?,
            },
            blocks: blocks_at(28)?,
        }),
        PT_RR => Ok(RtcpPacket::ReceiverReport {
            ssrc: word(4)?,
            blocks: blocks_at(8)?,
        }),
        PT_BYE => Ok(RtcpPacket::Bye {
            ssrc: if count > 0 { word(4).ok() } else { None },
        }),
        packet_type => Ok(RtcpPacket::Other { packet_type }),
    }
}

/// Writes a header: version 2, no padding, `count`, `packet_type`, `len` bytes.
fn write_header(out: &mut [u8], count: usize, packet_type: u8, len: usize) {
    out[0] = 0x80 | (count as u8 & 0x1F);
    out[1] = packet_type;
    out[2..4].copy_from_slice(&((len / 4 - 1) as u16).to_be_bytes());
}

/// Writes an SR from `ssrc` with at most 31 `blocks`.
pub fn write_sender_report(
    out: &mut [u8],
    ssrc: u32,
    info: &SenderInfo,
    blocks: &[ReportBlock],
) -> Option<usize> {
    let blocks = blocks.get(..blocks.len().min(31))?;
    let len = 28 + blocks.len() * REPORT_BLOCK_LEN;
    let out = out.get_mut(..len)?;
    write_header(out, blocks.len(), PT_SR, len);
    out[4..8].copy_from_slice(&ssrc.to_be_bytes());
    out[8..16].copy_from_slice(&info.ntp.to_be_bytes());
    out[16..20].copy_from_slice(&info.rtp_timestamp.to_be_bytes());
    out[20..24].copy_from_slice(&info.packet_count.to_be_bytes());
    out[24..28].copy_from_slice(&info.octet_count.to_be_bytes());
    for (i, block) in blocks.iter().enumerate() {
        block.write(&mut out[28 + i * REPORT_BLOCK_LEN..]);
    }
    Some(len)
}

/// Writes an RR from `ssrc` with at most 31 `blocks`.
pub fn write_receiver_report(out: &mut [u8], ssrc: u32, blocks: &[ReportBlock]) -> Option<usize> {
    let blocks = blocks.get(..blocks.len().min(31))?;
    let len = 8 + blocks.len() * REPORT_BLOCK_LEN;
    let out = out.get_mut(..len)?;
    write_header(out, blocks.len(), PT_RR, len);
    out[4..8].copy_from_slice(&ssrc.to_be_bytes());
    for (i, block) in blocks.iter().enumerate() {
        block.write(&mut out[8 + i * REPORT_BLOCK_LEN..]);
    }
    Some(len)
}

/// Writes an SDES packet with one chunk: `ssrc`'s CNAME (at most 255 bytes).
pub fn write_sdes_cname(out: &mut [u8], ssrc: u32, cname: &[u8]) -> Option<usize> {
    let cname = cname.get(..cname.len().min(255))?;
    // Header, SSRC, type and length, the name, then a null item and padding to 32 bits.
    let len = (8 + 2 + cname.len() + 1).div_ceil(4) * 4;
    let out = out.get_mut(..len)?;
    write_header(out, 1, PT_SDES, len);
    out[4..8].copy_from_slice(&ssrc.to_be_bytes());
    out[8] = SDES_CNAME;
    out[9] = cname.len() as u8;
    out[10..10 + cname.len()].copy_from_slice(cname);
    out[10 + cname.len()..].fill(0);
    Some(len)
}

/// Writes a BYE for `ssrc`.
pub fn write_bye(out: &mut [u8], ssrc: u32) -> Option<usize> {
    let out = out.get_mut(..8)?;
    write_header(out, 1, PT_BYE, 8);
    out[4..8].copy_from_slice(&ssrc.to_be_bytes());
    Some(8)
}

/// Whether a datagram on the RTP port is RTCP (RFC 5761 §4: the second byte, as
/// RTCP packet type, is 192–223, i.e. RTP payload types 64–95 with the marker).
pub fn is_rtcp(datagram: &[u8]) -> bool {
    datagram
        .get(1)
        .is_some_and(|&byte| (192..=223).contains(&byte))
}
