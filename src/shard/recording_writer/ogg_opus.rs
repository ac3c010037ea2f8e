//! Opus in Ogg (RFC 7845): an `OpusHead` page, an `OpusTags` page, then 20 ms
//! Opus packets, granule positions at 48 kHz. A page ends at every flush, so
//! a cut file is a stream of complete pages that decoders read to its end.

use std::fs::File;
use std::io::{self, BufWriter, Write};

use audiopus::coder::Encoder as Opus;
use audiopus::{Application, Bitrate, Channels, SampleRate};
use ogg::writing::{PacketWriteEndInfo, PacketWriter};

use super::{Encoder, SAMPLE_RATE};

/// Samples per channel in one 20 ms packet at 8 kHz.
const FRAME: usize = 160;
/// 48 kHz granule units per packet.
const GRANULE_PER_FRAME: u64 = 960;
/// The stream's serial number (one stream per file).
const SERIAL: u32 = 0x6361_6c6c;

pub(super) struct OggOpusEncoder {
    opus: Opus,
    writer: PacketWriter<'static, BufWriter<File>>,
    channels: usize,
    pending_pcm: Vec<i16>,
    packet: Vec<u8>,
    /// The last packet encoded, held back so that the final one can end the stream.
    held: Option<Vec<u8>>,
    granule: u64,
    pre_skip: u64,
    bytes: u64,
}

impl OggOpusEncoder {
    pub(super) fn new(file: File, channels: u16) -> io::Result<OggOpusEncoder> {
        let layout = if channels > 1 {
            Channels::Stereo
        } else {
            Channels::Mono
        };
        let mut opus = Opus::new(SampleRate::Hz8000, layout, Application::Voip).map_err(to_io)?;
        opus.set_bitrate(Bitrate::BitsPerSecond(if channels > 1 {
            32_000
        } else {
            20_000
        }))
        .map_err(to_io)?;
        // Lookahead is in samples at the encoder's rate; pre-skip at 48 kHz.
        let pre_skip = u64::from(opus.lookahead().map_err(to_io)?) * 6;
        let channels = usize::from(channels.clamp(1, 2));
        let mut writer = PacketWriter::new(BufWriter::new(file));
        let mut head = Vec::with_capacity(19);
        head.extend_from_slice(b"OpusHead");
        head.push(1);
        head.push(channels as u8);
        head.extend_from_slice(&(pre_skip as u16).to_le_bytes());
        head.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
        head.extend_from_slice(&0i16.to_le_bytes());
        head.push(0);
        let mut tags = Vec::new();
        let vendor = concat!("callplane ", env!("CARGO_PKG_VERSION"));
        tags.extend_from_slice(b"OpusTags");
        tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        tags.extend_from_slice(vendor.as_bytes());
        tags.extend_from_slice(&0u32.to_le_bytes());
        let header_bytes = (head.len() + tags.len()) as u64;
        writer.write_packet(head, SERIAL, PacketWriteEndInfo::EndPage, 0)?;
        writer.write_packet(tags, SERIAL, PacketWriteEndInfo::EndPage, 0)?;
        writer.inner_mut().flush()?;
        Ok(OggOpusEncoder {
            opus,
            writer,
            channels,
            pending_pcm: Vec::with_capacity(FRAME * 2 * 10),
            packet: vec![0; 1500],
            held: None,
            granule: pre_skip,
            pre_skip,
            bytes: header_bytes,
        })
    }

    fn write_held(&mut self, end: PacketWriteEndInfo) -> io::Result<()> {
        if let Some(packet) = self.held.take() {
            self.bytes += packet.len() as u64;
            self.writer
                .write_packet(packet, SERIAL, end, self.granule)?;
        }
        Ok(())
    }
}

impl Encoder for OggOpusEncoder {
    fn append(&mut self, samples: &[i16]) -> io::Result<()> {
        self.pending_pcm.extend_from_slice(samples);
        let frame = FRAME * self.channels;
        let mut offset = 0;
        while self.pending_pcm.len() - offset >= frame {
            let len = self
                .opus
                .encode(&self.pending_pcm[offset..offset + frame], &mut self.packet)
                .map_err(to_io)?;
            offset += frame;
            self.write_held(PacketWriteEndInfo::NormalPacket)?;
            self.held = Some(self.packet[..len].to_vec());
            self.granule += GRANULE_PER_FRAME;
        }
        self.pending_pcm.drain(..offset);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_held(PacketWriteEndInfo::EndPage)?;
        self.writer.inner_mut().flush()
    }

    fn finish(mut self: Box<Self>) -> io::Result<u64> {
        if self.held.is_none() && self.granule == self.pre_skip {
            // Nothing recorded: one empty-frame packet ends the stream.
            let silence = vec![0i16; FRAME * self.channels];
            let len = self
                .opus
                .encode(&silence, &mut self.packet)
                .map_err(to_io)?;
            self.held = Some(self.packet[..len].to_vec());
            self.granule += GRANULE_PER_FRAME;
        }
        self.write_held(PacketWriteEndInfo::EndStream)?;
        let mut file = self.writer.into_inner();
        file.flush()?;
        file.get_ref().sync_all()?;
        // Ogg page headers: 27 bytes plus the lacing, about 1 % here.
        Ok(file
            .get_ref()
            .metadata()
            .map(|m| m.len())
            .unwrap_or(self.bytes))
    }
}

fn to_io(err: audiopus::Error) -> io::Error {
    io::Error::other(format!("opus: {err}"))
}
