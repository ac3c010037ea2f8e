//! WAV (16-bit PCM, 8 kHz) through hound; each flush rewrites the RIFF and
//! data sizes, so the file on disk is always a complete WAV of what was
//! flushed.

use std::fs::File;
use std::io::{self, BufWriter};

use super::{Encoder, SAMPLE_RATE};

pub(super) struct WavEncoder {
    writer: hound::WavWriter<BufWriter<File>>,
}

impl WavEncoder {
    pub(super) fn new(file: File, channels: u16) -> io::Result<WavEncoder> {
        let spec = hound::WavSpec {
            channels,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer = hound::WavWriter::new(BufWriter::new(file), spec).map_err(to_io)?;
        writer.flush().map_err(to_io)?;
        Ok(WavEncoder { writer })
    }
}

impl Encoder for WavEncoder {
    fn append(&mut self, samples: &[i16]) -> io::Result<()> {
        let mut writer = self.writer.get_i16_writer(samples.len() as u32);
        for &sample in samples {
            writer.write_sample(sample);
        }
        writer.flush().map_err(to_io)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush().map_err(to_io)
    }

    fn finish(self: Box<Self>) -> io::Result<u64> {
        let this = *self;
        let data = u64::from(this.writer.len()) * 2;
        this.writer.finalize().map_err(to_io)?;
        Ok(data + 44)
    }
}

fn to_io(err: hound::Error) -> io::Error {
    match err {
        hound::Error::IoError(err) => err,
        other => io::Error::other(other.to_string()),
    }
}
