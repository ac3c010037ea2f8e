//! `MediaSession`: the RTP media of one call leg, driven by the IO shell through
//! `handle_*` / `poll_*` calls. It sends one packet every 20 ms from the moment it is
//! created (prompt audio while playing, codec silence otherwise), feeds received
//! telephone-event packets to the DTMF detector, and reports what happened as events.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::media::codec::{Codec, FRAME_SAMPLES};
use crate::media::dtmf::DtmfDetector;
use crate::media::player::PromptPlayer;
use crate::media::prompt::Prompt;
use crate::media::rtp::{parse_rtp, RtpSender, RTP_HEADER_LEN};
use crate::media::schedule::SendSchedule;
use crate::media::stats::MediaStats;
use crate::time::Time;

/// Size of every packet this session sends: header plus one 20 ms G.711 frame.
pub const PACKET_LEN: usize = RTP_HEADER_LEN + FRAME_SAMPLES;
/// Events kept for the shell before further ones are dropped (and counted).
const MAX_QUEUED_EVENTS: usize = 256;

/// What a session needs to know from the negotiated SDP and the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    pub codec: Codec,
    /// Payload type carrying `codec` (normally its static type).
    pub codec_pt: u8,
    /// Negotiated telephone-event payload type, if any. Packets with it go to the DTMF
    /// detector even if it equals `codec_pt`.
    pub dtmf_pt: Option<u8>,
    /// Where to send: the address from the remote SDP.
    pub remote: SocketAddr,
    pub ssrc: u32,
    pub initial_seq: u16,
    pub initial_timestamp: u32,
}

/// Something the call layer should know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// A DTMF digit was pressed (reported once per key press).
    Dtmf { digit: char },
    /// The first packet of a prompt was sent.
    PromptStarted { id: String },
    /// The last packet of a prompt was sent (not emitted for prompts cut by
    /// `stop_playback`).
    PromptFinished { id: String },
    /// The last queued prompt finished; silence follows.
    PlaybackIdle,
}

/// One call leg's RTP media.
#[derive(Debug)]
pub struct MediaSession {
    config: MediaConfig,
    sender: RtpSender,
    schedule: SendSchedule,
    player: PromptPlayer,
    dtmf: DtmfDetector,
    events: VecDeque<MediaEvent>,
    stats: MediaStats,
    /// The next packet gets the marker bit whatever it carries (start of stream, or
    /// after skipped slots).
    mark_next: bool,
    /// Whether the last packet sent carried prompt audio (a prompt following directly
    /// needs no marker).
    last_was_prompt: bool,
}

impl MediaSession {
    /// A session whose first packet is due at `now`.
    pub fn new(config: MediaConfig, now: Time) -> MediaSession {
        MediaSession {
            sender: RtpSender::new(config.ssrc, config.initial_seq, config.initial_timestamp),
            config,
            schedule: SendSchedule::new(now),
            player: PromptPlayer::new(),
            dtmf: DtmfDetector::new(),
            events: VecDeque::with_capacity(16),
            stats: MediaStats::default(),
            mark_next: true,
            last_was_prompt: false,
        }
    }

    /// Queues a prompt after any already playing or queued.
    pub fn play(&mut self, prompt: Arc<Prompt>) {
        self.player.play(prompt);
    }

    /// Barge-in: drops the playing and queued prompts; silence is sent from the next
    /// packet on. No `PromptFinished` or `PlaybackIdle` is emitted for them.
    pub fn stop_playback(&mut self) {
        self.player.stop();
    }

    /// Whether a prompt is playing or queued.
    pub fn is_playing(&self) -> bool {
        !self.player.is_idle()
    }

    /// Processes one received datagram: telephone-event packets go to the DTMF
    /// detector, audio packets are counted, anything else is counted and dropped.
    /// Packets from an address other than `remote()` are counted but still processed.
    pub fn handle_rtp(&mut self, _now: Time, from: SocketAddr, packet: &[u8]) {
        self.stats.packets_received += 1;
        if from != self.config.remote {
            self.stats.from_unexpected_source += 1;
        }
        let Ok(rtp) = parse_rtp(packet) else {
            self.stats.malformed += 1;
            return;
        };
        if Some(rtp.payload_type) == self.config.dtmf_pt {
            self.stats.dtmf_packets += 1;
            if let Some(digit) = self.dtmf.on_packet(rtp.timestamp, rtp.marker, rtp.payload) {
                self.stats.dtmf_digits += 1;
                self.push_event(MediaEvent::Dtmf { digit });
            }
        } else if rtp.payload_type == self.config.codec_pt {
            self.stats.audio_packets_received += 1;
        } else {
            self.stats.unknown_payload_type += 1;
        }
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// When the next packet is due (possibly in the past if the shell is late).
    pub fn poll_timeout(&self) -> Option<Time> {
        Some(self.schedule.next_send_time())
    }

    /// Advances time: if the shell woke more than 200 ms late, stale send slots are
    /// skipped (the RTP timestamp still advances over them, the sequence number does
    /// not, and the next packet carries the marker bit). Prompt audio is not lost.
    pub fn handle_timeout(&mut self, now: Time) {
        self.skip_stale_slots(now);
    }

    /// Writes the next due RTP packet into `buf` and returns its length; the
    /// destination is `remote()`. Call repeatedly until `None` after each
    /// `handle_timeout`. `buf` must hold [`PACKET_LEN`] bytes; if it does not, the slot
    /// is dropped, counted in `send_buffer_too_small`, and `None` is returned.
    pub fn poll_transmit(&mut self, now: Time, buf: &mut [u8]) -> Option<usize> {
        self.skip_stale_slots(now);
        if !self.schedule.is_due(now) {
            return None;
        }
        self.schedule.advance();
        let Some(packet) = buf.get_mut(..PACKET_LEN) else {
            self.stats.send_buffer_too_small += 1;
            self.sender.skip_samples(FRAME_SAMPLES as u32);
            self.mark_next = true;
            return None;
        };
        let (header, payload) = packet.split_at_mut(RTP_HEADER_LEN);
        let codec = self.config.codec;
        let mut marker = self.mark_next;
        match self.player.next_frame(codec, payload) {
            Some(played) => {
                marker |= played.started.is_some() && !self.last_was_prompt;
                if let Some(prompt) = played.started {
                    self.push_event(MediaEvent::PromptStarted {
                        id: prompt.id().to_owned(),
                    });
                }
                if let Some(prompt) = played.finished {
                    self.push_event(MediaEvent::PromptFinished {
                        id: prompt.id().to_owned(),
                    });
                    if self.player.is_idle() {
                        self.push_event(MediaEvent::PlaybackIdle);
                    }
                }
                self.last_was_prompt = true;
                self.stats.prompt_frames_sent += 1;
            }
            None => {
                payload.fill(codec.silence_byte());
                self.last_was_prompt = false;
            }
        }
        // `header` is exactly RTP_HEADER_LEN bytes, so this cannot fail.
        self.sender
            .write_header(header, self.config.codec_pt, marker, FRAME_SAMPLES as u32)
            .ok()?;
        self.mark_next = false;
        self.stats.packets_sent += 1;
        Some(PACKET_LEN)
    }

    /// Where packets go: the address from the remote SDP.
    pub fn remote(&self) -> SocketAddr {
        self.config.remote
    }

    pub fn config(&self) -> &MediaConfig {
        &self.config
    }

    pub fn stats(&self) -> &MediaStats {
        &self.stats
    }

    /// The DTMF detector, for its per-event packet counts.
    pub fn dtmf_detector(&self) -> &DtmfDetector {
        &self.dtmf
    }

    fn skip_stale_slots(&mut self, now: Time) {
        let skipped = self.schedule.skip_stale(now);
        if skipped > 0 {
            self.stats.packets_skipped += skipped;
            let samples = skipped.wrapping_mul(FRAME_SAMPLES as u64) as u32;
            self.sender.skip_samples(samples);
            self.mark_next = true;
        }
    }

    fn push_event(&mut self, event: MediaEvent) {
        if self.events.len() >= MAX_QUEUED_EVENTS {
            self.stats.events_dropped += 1;
        } else {
            self.events.push_back(event);
        }
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
