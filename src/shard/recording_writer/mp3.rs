//! MP3 through LAME: 8 kHz MPEG-2.5 layer III at a constant 32 kbit/s (48
//! for two channels). MP3 frames stand alone, so whatever was flushed is a
//! playable file.

use std::fs::File;
use std::io::{self, Write};

use super::lame::Lame;
use super::{Encoder, SAMPLE_RATE};

pub(super) struct Mp3Encoder {
    lame: Lame,
    file: File,
    pending: Vec<u8>,
    bytes: u64,
}

impl Mp3Encoder {
    pub(super) fn new(file: File, channels: u16) -> io::Result<Mp3Encoder> {
        let kbps = if channels > 1 { 48 } else { 32 };
        Ok(Mp3Encoder {
            lame: Lame::new(SAMPLE_RATE, channels, kbps)?,
            file,
            pending: Vec::with_capacity(16 * 1024),
            bytes: 0,
        })
    }

    fn write_pending(&mut self) -> io::Result<()> {
        self.file.write_all(&self.pending)?;
        self.bytes += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }
}

impl Encoder for Mp3Encoder {
    fn append(&mut self, samples: &[i16]) -> io::Result<()> {
        self.lame.encode(samples, &mut self.pending)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_pending()?;
        self.file.flush()
    }

    fn finish(mut self: Box<Self>) -> io::Result<u64> {
        let mut tail = std::mem::take(&mut self.pending);
        self.lame.flush(&mut tail)?;
        self.pending = tail;
        self.write_pending()?;
        self.file.sync_all()?;
        Ok(self.bytes)
    }
}
