//! The received audio of one call leg: every packet of the inbound stream goes
//! through its [`JitterBuffer`], and on the session's 20 ms grid one frame comes
//! out (decoded, concealed, comfort noise or silence) in timestamp order, for the
//! consumers that need audio.
//!
//! # Who decodes
//!
//! Decoding is for consumers only: the in-band DTMF detector, present while the
//! far end did not negotiate telephone-event, and whoever subscribes with
//! [`Inbound::add_consumer`] (a recorder, a bridge): while one is subscribed,
//! [`Inbound::poll`] stops at every frame played ([`InboundOutput::Frame`]) and
//! the frame is read with [`Inbound::frame`]. With no consumer the buffer runs
//! with decoding off. A frame that holds an in-band key's tone reaches the
//! consumers as silence: a bridged party does not hear the key (it is sent
//! on as an RFC 4733 event instead), and a recording does not keep it.
//!
//! The buffer still runs then, rather than a cheaper path that only counts: its
//! per-packet cost without decoding is one 160-byte copy into a preallocated slot,
//! and it gives every call the same loss, lateness, reordering, duplicate, jitter
//! and delay figures by the same definitions, whether or not anyone listens; and a
//! consumer that subscribes mid-call finds a buffer already at the right delay.

use crate::media::codec::{Codec, FRAME_SAMPLES};
use crate::media::inband_dtmf::{InbandDtmfConfig, InbandDtmfDetector};
use crate::media::jitter::{FrameKind, JitterBuffer, JitterConfig, JitterOutput, JitterStats};
use crate::media::rtp::RtpPacket;
use crate::time::Time;

/// What [`Inbound::poll`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InboundOutput {
    /// A digit was heard in-band in a played frame.
    Digit(char),
    /// A frame was played for the subscribed consumers: [`Inbound::frame`].
    Frame(FrameKind),
    /// No frame is due before this instant.
    Timeout(Time),
}

/// The inbound stream of a call leg and its audio consumers.
#[derive(Debug)]
pub(crate) struct Inbound {
    jitter: JitterBuffer,
    /// In-band DTMF detection, while the far end has no telephone-event.
    inband: Option<InbandDtmfDetector>,
    /// Consumers other than the in-band detector (recording, bridging).
    consumers: u32,
    /// The last frame played, when decoded.
    frame: [i16; FRAME_SAMPLES],
    /// A digit heard in the frame just handed to the consumers, reported next.
    pending_digit: Option<char>,
    /// Frames muted for the consumers because they held a key's tone.
    suppressed_frames: u64,
}

impl Inbound {
    /// The stream of a leg that speaks `codec` on `codec_pt` and telephone-events on
    /// `dtmf_pt` (none: its digits are listened for in-band), whose playout grid
    /// starts at `now`.
    pub(crate) fn new(
        jitter: JitterConfig,
        codec: Codec,
        codec_pt: u8,
        dtmf_pt: Option<u8>,
        now: Time,
    ) -> Inbound {
        let mut buffer = JitterBuffer::new(
            JitterConfig {
                codec_pt: Some(codec_pt),
                event_pt: dtmf_pt,
                ..jitter
            },
            codec,
        );
        buffer.handle_timeout(now);
        let mut inbound = Inbound {
            jitter: buffer,
            inband: None,
            consumers: 0,
            frame: [0; FRAME_SAMPLES],
            pending_digit: None,
            suppressed_frames: 0,
        };
        inbound.set_inband(dtmf_pt.is_none());
        inbound
    }

    /// One received packet of the stream (audio, comfort noise or telephone-event).
    pub(crate) fn handle_packet(&mut self, now: Time, packet: &RtpPacket<'_>) {
        self.jitter.handle_packet(now, packet);
    }

    /// Advances the playout clock to `now`.
    pub(crate) fn handle_timeout(&mut self, now: Time) {
        self.jitter.handle_timeout(now);
    }

    /// Plays the frames due by the last `now` until a digit is heard, a frame is
    /// played while a consumer is subscribed (it reads [`Inbound::frame`] before
    /// polling again), or no frame is due.
    pub(crate) fn poll(&mut self) -> InboundOutput {
        if let Some(digit) = self.pending_digit.take() {
            return InboundOutput::Digit(digit);
        }
        loop {
            match self.jitter.poll_output(&mut self.frame) {
                JitterOutput::Frame(kind) => {
                    let digit = self.detect_inband();
                    if self.inband.as_ref().is_some_and(|d| d.hears_tone()) {
                        // A key's tone is not passed on to consumers.
                        self.frame.fill(0);
                        self.suppressed_frames += 1;
                    }
                    if self.consumers > 0 && self.jitter.is_decoding() {
                        self.pending_digit = digit;
                        return InboundOutput::Frame(kind);
                    }
                    if let Some(digit) = digit {
                        return InboundOutput::Digit(digit);
                    }
                }
                JitterOutput::Timeout(at) => return InboundOutput::Timeout(at),
            }
        }
    }

    /// Frames muted for the consumers because they held an in-band key's tone.
    pub(crate) fn suppressed_frames(&self) -> u64 {
        self.suppressed_frames
    }

    /// The frame last played (8 kHz samples): what [`InboundOutput::Frame`] announced.
    pub(crate) fn frame(&self) -> &[i16; FRAME_SAMPLES] {
        &self.frame
    }

    /// Runs the in-band detector over the frame just played.
    fn detect_inband(&mut self) -> Option<char> {
        if !self.jitter.is_decoding() {
            return None;
        }
        self.inband.as_mut()?.handle_frame(&self.frame)
    }

    /// A new offer/answer: codec, payload types, and with them whether digits are
    /// listened for in-band.
    pub(crate) fn renegotiate(&mut self, codec: Codec, codec_pt: u8, dtmf_pt: Option<u8>) {
        self.jitter.renegotiate(codec, codec_pt, dtmf_pt);
        self.set_inband(dtmf_pt.is_none());
    }

    /// A consumer of decoded audio subscribes (decoding starts with the next frame).
    pub(crate) fn add_consumer(&mut self) {
        self.consumers += 1;
        self.update_decoding();
    }

    /// A consumer of decoded audio leaves.
    pub(crate) fn remove_consumer(&mut self) {
        self.consumers = self.consumers.saturating_sub(1);
        self.update_decoding();
    }

    /// Whether any consumer needs decoded audio.
    pub(crate) fn needs_audio(&self) -> bool {
        self.inband.is_some() || self.consumers > 0
    }

    /// The stream's counters and measurements.
    pub(crate) fn stats(&self) -> &JitterStats {
        self.jitter.stats()
    }

    fn set_inband(&mut self, wanted: bool) {
        match (wanted, self.inband.is_some()) {
            (true, false) => {
                self.inband = Some(InbandDtmfDetector::new(InbandDtmfConfig::default()))
            }
            (false, true) => self.inband = None,
            _ => {}
        }
        self.update_decoding();
    }

    fn update_decoding(&mut self) {
        let needed = self.needs_audio();
        self.jitter.set_decoding(needed);
    }
}
