//! The few LAME functions MP3 recording needs, linked from the system's
//! libmp3lame (Debian libmp3lame-dev). Written here rather than taken from a
//! crate: the bindings on crates.io build their own bundled copy of LAME with
//! autotools instead of using the system library, and eight functions do not
//! justify that build.

use std::ffi::{c_int, c_void};
use std::io;

#[link(name = "mp3lame")]
extern "C" {
    fn lame_init() -> *mut c_void;
    fn lame_set_in_samplerate(gfp: *mut c_void, rate: c_int) -> c_int;
    fn lame_set_out_samplerate(gfp: *mut c_void, rate: c_int) -> c_int;
    fn lame_set_num_channels(gfp: *mut c_void, channels: c_int) -> c_int;
    fn lame_set_mode(gfp: *mut c_void, mode: c_int) -> c_int;
    fn lame_set_brate(gfp: *mut c_void, kbps: c_int) -> c_int;
    fn lame_set_quality(gfp: *mut c_void, quality: c_int) -> c_int;
    fn lame_set_bWriteVbrTag(gfp: *mut c_void, write: c_int) -> c_int;
    fn lame_init_params(gfp: *mut c_void) -> c_int;
    fn lame_encode_buffer_interleaved(
        gfp: *mut c_void,
        pcm: *mut i16,
        samples_per_channel: c_int,
        mp3buf: *mut u8,
        mp3buf_size: c_int,
    ) -> c_int;
    fn lame_encode_buffer(
        gfp: *mut c_void,
        left: *const i16,
        right: *const i16,
        samples: c_int,
        mp3buf: *mut u8,
        mp3buf_size: c_int,
    ) -> c_int;
    fn lame_encode_flush(gfp: *mut c_void, mp3buf: *mut u8, size: c_int) -> c_int;
    fn lame_close(gfp: *mut c_void) -> c_int;
}

/// LAME's `MPEG_mode`: joint stereo and mono.
const JOINT_STEREO: c_int = 1;
const MONO: c_int = 3;

/// One LAME encoder: constant bit rate, no Xing/VBR tag (nothing to rewrite
/// at the end, so a cut file is as valid as a finished one).
pub(super) struct Lame {
    handle: *mut c_void,
    channels: usize,
    scratch: Vec<i16>,
}

// The handle is used by one thread at a time (the writer's).
unsafe impl Send for Lame {}

impl Lame {
    /// An encoder of `channels` (1 or 2) at `rate` Hz, `kbps` constant.
    pub(super) fn new(rate: u32, channels: u16, kbps: u32) -> io::Result<Lame> {
        // SAFETY: lame_init returns a fresh handle or null; every setter takes it.
        unsafe {
            let handle = lame_init();
            if handle.is_null() {
                return Err(io::Error::other("lame_init failed"));
            }
            let lame = Lame {
                handle,
                channels: usize::from(channels.clamp(1, 2)),
                scratch: Vec::new(),
            };
            lame_set_in_samplerate(handle, rate as c_int);
            lame_set_out_samplerate(handle, rate as c_int);
            lame_set_num_channels(handle, lame.channels as c_int);
            lame_set_mode(
                handle,
                if lame.channels == 1 {
                    MONO
                } else {
                    JOINT_STEREO
                },
            );
            lame_set_brate(handle, kbps as c_int);
            lame_set_quality(handle, 5);
            lame_set_bWriteVbrTag(handle, 0);
            if lame_init_params(handle) < 0 {
                return Err(io::Error::other("lame_init_params refused the settings"));
            }
            Ok(lame)
        }
    }

    /// Encodes `samples` (interleaved when stereo), appending MP3 bytes to `out`.
    pub(super) fn encode(&mut self, samples: &[i16], out: &mut Vec<u8>) -> io::Result<()> {
        let frames = samples.len() / self.channels;
        if frames == 0 {
            return Ok(());
        }
        let room = frames * 5 / 4 + 7200;
        let start = out.len();
        out.resize(start + room, 0);
        // SAFETY: the input holds `frames` samples per channel, the output `room` bytes.
        let written = unsafe {
            if self.channels == 1 {
                lame_encode_buffer(
                    self.handle,
                    samples.as_ptr(),
                    samples.as_ptr(),
                    frames as c_int,
                    out[start..].as_mut_ptr(),
                    room as c_int,
                )
            } else {
                self.scratch.clear();
                self.scratch.extend_from_slice(&samples[..frames * 2]);
                lame_encode_buffer_interleaved(
                    self.handle,
                    self.scratch.as_mut_ptr(),
                    frames as c_int,
                    out[start..].as_mut_ptr(),
                    room as c_int,
                )
            }
        };
        self.done(out, start, written)
    }

    /// The last frames, padded.
    pub(super) fn flush(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let start = out.len();
        out.resize(start + 7200, 0);
        // SAFETY: the output holds 7200 bytes, as LAME's docs ask.
        let written = unsafe { lame_encode_flush(self.handle, out[start..].as_mut_ptr(), 7200) };
        self.done(out, start, written)
    }

    fn done(&self, out: &mut Vec<u8>, start: usize, written: c_int) -> io::Result<()> {
        match usize::try_from(written) {
            Ok(n) => {
                out.truncate(start + n);
                Ok(())
            }
            Err(_) => {
                out.truncate(start);
                Err(io::Error::other(format!("LAME failed ({written})")))
            }
        }
    }
}

impl Drop for Lame {
    fn drop(&mut self) {
        // SAFETY: the handle came from lame_init and is closed once.
        unsafe {
            lame_close(self.handle);
        }
    }
}
