//! RTP packet parsing (borrowed, via `rtp-rs`) and building (into caller buffers) for
//! one outgoing stream. Nothing here allocates.

use rtp_rs::{RtpReader, RtpReaderError};

/// Length of an RTP header without CSRCs or extension.
pub(crate) const RTP_HEADER_LEN: usize = 12;

/// Why a datagram is not a usable RTP packet, or why a packet could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Shorter than the fixed 12-byte header.
    #[error("RTP packet too short: {packet_len} bytes")]
    TooShort {
        /// Length of the datagram, in bytes.
        packet_len: usize,
    },
    /// Version field is not 2.
    #[error("unsupported RTP version {0}")]
    UnsupportedVersion(u8),
    /// CSRC list or header extension runs past the end of the datagram.
    #[error("RTP headers need {header_len} bytes but the packet has {packet_len}")]
    HeadersTruncated {
        /// Bytes the fixed header, CSRC list and extension announce.
        header_len: usize,
        /// Length of the datagram, in bytes.
        packet_len: usize,
    },
    /// Padding count is zero or larger than the payload.
    #[error("invalid RTP padding length {0}")]
    InvalidPadding(u8),
    /// The output buffer cannot hold the packet being built.
    #[error("output buffer of {available} bytes cannot hold a {needed}-byte RTP packet")]
    BufferTooSmall {
        /// Bytes the packet needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
}

impl From<RtpReaderError> for RtpError {
    fn from(error: RtpReaderError) -> Self {
        match error {
            RtpReaderError::BufferTooShort(len) => RtpError::TooShort { packet_len: len },
            RtpReaderError::UnsupportedVersion(version) => RtpError::UnsupportedVersion(version),
            RtpReaderError::HeadersTruncated {
                header_len,
                buffer_len,
            } => RtpError::HeadersTruncated {
                header_len,
                packet_len: buffer_len,
            },
            RtpReaderError::PaddingLengthInvalid(len) => RtpError::InvalidPadding(len),
        }
    }
}

/// The fields of a received RTP packet this crate uses; the payload borrows the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// The 7-bit payload type, mapped to a codec or telephone-event by the SDP.
    pub payload_type: u8,
    /// The marker bit: for audio, the first packet of a talkspurt; for
    /// telephone-event, the first packet of an event.
    pub marker: bool,
    /// Sequence number, +1 per packet sent, wrapping.
    pub sequence: u16,
    /// Sampling instant of the first payload sample, in clock-rate units (8 kHz).
    pub timestamp: u32,
    /// Identifies the sending stream.
    pub ssrc: u32,
    /// Payload without CSRCs, header extension or padding.
    pub payload: &'a [u8],
}

/// Parses a datagram as RTP. Malformed input gives an error, never a panic.
pub fn parse_rtp(datagram: &[u8]) -> Result<RtpPacket<'_>, RtpError> {
    let reader = RtpReader::new(datagram)?;
    Ok(RtpPacket {
        payload_type: reader.payload_type(),
        marker: reader.mark(),
        sequence: u16::from(reader.sequence_number()),
        timestamp: reader.timestamp(),
        ssrc: reader.ssrc(),
        payload: reader.payload(),
    })
}

/// Numbering state of one outgoing RTP stream: constant SSRC, sequence number +1 per
/// packet and timestamp advanced by the samples each packet covers, both wrapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RtpSender {
    /// SSRC of every packet.
    ssrc: u32,
    /// Sequence number of the next packet written.
    next_sequence: u16,
    /// Timestamp of the next packet written, in samples.
    next_timestamp: u32,
}

impl RtpSender {
    /// A stream whose first packet carries `initial_sequence` and `initial_timestamp`.
    pub(crate) fn new(ssrc: u32, initial_sequence: u16, initial_timestamp: u32) -> RtpSender {
        RtpSender {
            ssrc,
            next_sequence: initial_sequence,
            next_timestamp: initial_timestamp,
        }
    }

    /// Sequence number the next packet will carry.
    pub(crate) fn next_sequence(&self) -> u16 {
        self.next_sequence
    }

    /// Timestamp the next packet will carry.
    pub(crate) fn next_timestamp(&self) -> u32 {
        self.next_timestamp
    }

    /// Writes the 12-byte header of the next packet into `buf[..12]` and advances the
    /// stream (sequence +1, timestamp +`samples`). The caller puts the payload at
    /// `buf[12..]`. Returns the header length.
    pub(crate) fn write_header(
        &mut self,
        buf: &mut [u8],
        payload_type: u8,
        marker: bool,
        samples: u32,
    ) -> Result<usize, RtpError> {
        let available = buf.len();
        let header = buf
            .get_mut(..RTP_HEADER_LEN)
            .ok_or(RtpError::BufferTooSmall {
                needed: RTP_HEADER_LEN,
                available,
            })?;
        header[0] = 0x80; // version 2, no padding, no extension, no CSRC
        header[1] = (u8::from(marker) << 7) | (payload_type & 0x7F);
        header[2..4].copy_from_slice(&self.next_sequence.to_be_bytes());
        header[4..8].copy_from_slice(&self.next_timestamp.to_be_bytes());
        header[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        self.next_sequence = self.next_sequence.wrapping_add(1);
        self.skip_samples(samples);
        Ok(RTP_HEADER_LEN)
    }

    /// Writes a whole packet (header + `payload`) into `buf` and advances the stream.
    /// Returns the packet length. On error nothing is advanced.
    #[cfg(test)]
    pub(crate) fn write_packet(
        &mut self,
        buf: &mut [u8],
        payload_type: u8,
        marker: bool,
        payload: &[u8],
        samples: u32,
    ) -> Result<usize, RtpError> {
        let needed = RTP_HEADER_LEN + payload.len();
        let available = buf.len();
        let packet = buf
            .get_mut(..needed)
            .ok_or(RtpError::BufferTooSmall { needed, available })?;
        let (header, body) = packet.split_at_mut(RTP_HEADER_LEN);
        body.copy_from_slice(payload);
        self.write_header(header, payload_type, marker, samples)?;
        Ok(needed)
    }

    /// A packet numbered `sequence` was sent by someone else on this stream
    /// (a relay): the next one follows it, unless it is behind the stream.
    pub(crate) fn follow_sequence(&mut self, sequence: u16) {
        let next = sequence.wrapping_add(1);
        let ahead = next.wrapping_sub(self.next_sequence);
        if ahead != 0 && ahead < 0x8000 {
            self.next_sequence = next;
        }
    }

    /// Advances the timestamp for media time that is not sent (the sequence number only
    /// counts packets actually sent).
    pub(crate) fn skip_samples(&mut self, samples: u32) {
        self.next_timestamp = self.next_timestamp.wrapping_add(samples);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_packet_parses_back() {
        let mut sender = RtpSender::new(0xDEAD_BEEF, 7, 1000);
        let mut buf = [0u8; 64];
        let len = sender
            .write_packet(&mut buf, 8, true, &[1, 2, 3], 160)
            .unwrap();
        assert_eq!(len, 15);
        let packet = parse_rtp(&buf[..len]).unwrap();
        assert_eq!(
            packet,
            RtpPacket {
                payload_type: 8,
                marker: true,
                sequence: 7,
                timestamp: 1000,
                ssrc: 0xDEAD_BEEF,
                payload: &[1, 2, 3],
            }
        );
        assert_eq!(sender.next_sequence(), 8);
        assert_eq!(sender.next_timestamp(), 1160);
    }

    #[test]
    fn sequence_and_timestamp_wrap() {
        let mut sender = RtpSender::new(1, u16::MAX, u32::MAX - 99);
        let mut buf = [0u8; RTP_HEADER_LEN];
        sender.write_header(&mut buf, 0, false, 160).unwrap();
        let first = parse_rtp(&buf).unwrap();
        assert_eq!((first.sequence, first.timestamp), (u16::MAX, u32::MAX - 99));
        assert!(!first.marker);
        assert!(first.payload.is_empty());
        sender.write_header(&mut buf, 0, false, 160).unwrap();
        let second = parse_rtp(&buf).unwrap();
        assert_eq!((second.sequence, second.timestamp), (0, 60));
    }

    #[test]
    fn small_output_buffer_is_an_error_and_does_not_advance() {
        let mut sender = RtpSender::new(1, 10, 20);
        let mut buf = [0u8; 14];
        assert_eq!(
            sender.write_packet(&mut buf, 0, false, &[0; 3], 160),
            Err(RtpError::BufferTooSmall {
                needed: 15,
                available: 14
            })
        );
        assert_eq!(
            sender.write_header(&mut buf[..11], 0, false, 160),
            Err(RtpError::BufferTooSmall {
                needed: 12,
                available: 11
            })
        );
        assert_eq!((sender.next_sequence(), sender.next_timestamp()), (10, 20));
    }

    #[test]
    fn malformed_packets_are_errors() {
        assert_eq!(parse_rtp(&[]), Err(RtpError::TooShort { packet_len: 0 }));
        assert_eq!(
            parse_rtp(&[0x80; 11]),
            Err(RtpError::TooShort { packet_len: 11 })
        );
        let mut packet = [0u8; 12];
        packet[0] = 0x40;
        assert_eq!(parse_rtp(&packet), Err(RtpError::UnsupportedVersion(1)));
        // Two CSRCs announced, none present.
        packet[0] = 0x82;
        assert!(matches!(
            parse_rtp(&packet),
            Err(RtpError::HeadersTruncated { .. })
        ));
        // Padding flag with a zero or oversized pad count.
        let mut padded = [0u8; 14];
        padded[0] = 0xA0;
        assert_eq!(parse_rtp(&padded), Err(RtpError::InvalidPadding(0)));
        padded[13] = 9;
        assert_eq!(parse_rtp(&padded), Err(RtpError::InvalidPadding(9)));
        padded[13] = 2;
        assert_eq!(parse_rtp(&padded).map(|p| p.payload.len()), Ok(0));
        // Extension header announced but cut short.
        let mut extended = [0u8; 16];
        extended[0] = 0x90;
        extended[15] = 1; // one 32-bit word of extension data that is missing
        assert!(matches!(
            parse_rtp(&extended),
            Err(RtpError::HeadersTruncated { .. })
        ));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng_state = 0x1234_5678_u32;
        let mut next = move || {
            rng_state ^= rng_state << 13;
            rng_state ^= rng_state >> 17;
            rng_state ^= rng_state << 5;
            rng_state
        };
        let mut buf = [0u8; 40];
        for _ in 0..20_000 {
            let len = (next() % 41) as usize;
            for byte in buf.iter_mut().take(len) {
                *byte = next() as u8;
            }
            // Force version 2 half of the time so the deeper checks are reached.
            if len > 0 && next() % 2 == 0 {
                buf[0] = (buf[0] & 0x3F) | 0x80;
            }
            if let Ok(packet) = parse_rtp(&buf[..len]) {
                assert!(packet.payload.len() <= len);
            }
        }
    }
}
