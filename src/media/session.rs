//! `MediaSession`: the RTP media of one call leg. It sends one packet every 20 ms
//! from the moment it is created (prompt audio while playing, codec silence
//! otherwise), feeds received telephone-event packets to the DTMF detector, puts
//! the received stream through its jitter buffer (`inbound.rs`) and plays one
//! frame per 20 ms to whatever needs audio, runs the leg's RTCP (`rtcp/`: our
//! reports, the far end's read; on the RTP port with rtcp-mux, else on RTP + 1)
//! and reports what happened as events. With SRTP ([`MediaSession::secure`])
//! every packet is unprotected before anything reads it and protected after
//! it is written (`srtp/`).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::media::bridge::{BridgeSide, OutStream, RelayStats};
use crate::media::codec::{Codec, FRAME_SAMPLES};
use crate::media::dtmf::DtmfDetector;
use crate::media::dtmf_send::{write_tone, DigitSender, Slot};
use crate::media::inbound::{Inbound, InboundOutput};
use crate::media::jitter::{FrameKind, JitterConfig, JitterStats, CN_PAYLOAD_TYPE};
use crate::media::live::{LiveAudio, LiveAudioStats};
use crate::media::opus::{silence_frame, OpusEncoder, OPUS_FRAME_SAMPLES};
use crate::media::pacer::Pacer;
use crate::media::player::PromptPlayer;
use crate::media::prompt::Prompt;
use crate::media::relay_queue::{RelaySink, RelayTap};
use crate::media::resample::{Rate, Resampler};
use crate::media::rtcp::{is_rtcp, RtcpSession, RtcpStats, Sent};
use crate::media::rtp::{parse_rtp, RtpSender, RTP_HEADER_LEN};
use crate::media::srtp::{Srtp, SrtpStats};
use crate::media::stats::MediaStats;
use crate::time::Time;

/// Size in bytes of the largest packet a session sends: the 12-byte RTP header plus
/// one 20 ms G.711 frame (an Opus packet is at most as long). The buffer given to
/// [`MediaSession::poll_output`] must hold it.
pub const PACKET_LEN: usize = RTP_HEADER_LEN + FRAME_SAMPLES;
/// Events kept for the caller before further ones are dropped (and counted).
const MAX_QUEUED_EVENTS: usize = 256;

/// What a session needs to know from the negotiated SDP and the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// The negotiated audio codec: prompts and silence are sent in it.
    pub codec: Codec,
    /// Payload type carrying `codec`, as negotiated in the SDP (normally its static
    /// type); sent in every packet, and received packets with it count as audio.
    pub codec_pt: u8,
    /// Negotiated telephone-event payload type, if any. Packets with it go to the DTMF
    /// detector even if it equals `codec_pt`.
    pub dtmf_pt: Option<u8>,
    /// Where to send: the address from the remote SDP.
    pub remote: SocketAddr,
    /// SSRC of the stream this session sends, chosen by the call (random per call).
    pub ssrc: u32,
    /// RTP sequence number of the first packet sent (random per call, RFC 3550).
    pub initial_sequence: u16,
    /// RTP timestamp of the first packet sent, in 8 kHz samples (random per call).
    pub initial_timestamp: u32,
    /// The jitter buffer's lowest target delay.
    pub jitter_min: Duration,
    /// The jitter buffer's highest delay.
    pub jitter_max: Duration,
    /// RTCP shares the RTP port (RFC 5761, negotiated with `a=rtcp-mux`); else it
    /// goes to the remote RTP port + 1.
    pub rtcp_mux: bool,
    /// The NTP timestamp (RFC 3550: 32.32 fixed point since 1900) of `Time::ZERO`,
    /// for our sender reports.
    pub ntp_at_zero: u64,
    /// Seeds the RTCP intervals and CNAME (random per call).
    pub rtcp_seed: u64,
}

impl MediaConfig {
    /// Default jitter bounds: 20 ms and 200 ms.
    pub const JITTER_MIN: Duration = Duration::from_millis(20);
    /// See [`MediaConfig::JITTER_MIN`].
    pub const JITTER_MAX: Duration = Duration::from_millis(200);
}

/// Something the call layer should know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// A DTMF digit was pressed (reported once per key press).
    Dtmf {
        /// `0`-`9`, `*`, `#` or `A`-`D`.
        digit: char,
    },
    /// Every key of [`MediaSession::send_digits`] has been sent, pauses included.
    DigitsSent,
    /// The first packet of a prompt was written.
    PromptStarted {
        /// The prompt's id ([`Prompt::id`]).
        id: String,
    },
    /// The last packet of a prompt was written (not raised for prompts cut by
    /// [`MediaSession::stop_playback`]).
    PromptFinished {
        /// The prompt's id ([`Prompt::id`]).
        id: String,
    },
    /// The last queued prompt finished; silence follows unless a prompt is queued
    /// before the next packet is written.
    PlaybackIdle,
}

/// What a session wants done next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaOutput {
    /// An RTP packet of this many bytes was written at the start of the caller's buffer;
    /// send it to [`MediaSession::remote`].
    Transmit(usize),
    /// An RTCP compound of this many bytes was written at the start of the caller's
    /// buffer; send it to `dest`, from the RTP socket when `mux`, else from the
    /// RTCP one (RTP + 1).
    Rtcp {
        /// Bytes written.
        len: usize,
        /// The far end's RTCP address.
        dest: SocketAddr,
        /// rtcp-mux: the RTP socket sends it.
        mux: bool,
    },
    /// Something the call layer must know.
    Event(MediaEvent),
    /// A frame of the far end's audio was played out of the jitter buffer
    /// (decoded, concealed, comfort noise or silence: `kind`), raised only while
    /// a consumer is subscribed ([`MediaSession::subscribe_audio`]): read it
    /// with [`MediaSession::received_audio`] before polling again.
    Audio(FrameKind),
    /// Nothing more until this instant: call [`MediaSession::handle_timeout`] then. It
    /// is the next 20 ms send slot, so it may already have passed if the caller is
    /// late (or a slot was dropped for a too-small buffer): then call it at once.
    Timeout(Time),
}

/// One call leg's RTP media, sans-IO: inputs go in through [`handle_rtp`] and
/// [`handle_timeout`], everything the session wants done comes out of
/// [`poll_output`].
///
/// The rule: after every input (`handle_*`), and after creating the session, drain
/// `poll_output` until it returns [`MediaOutput::Timeout`]. It yields queued events
/// first, then each packet due at the last `now` given (one per 20 ms slot, written
/// into the caller's buffer), then the instant the next packet is due. An event raised
/// while writing a packet (such as [`MediaEvent::PlaybackIdle`]) is returned before any
/// further packet, so the caller can queue the next prompt without a silent gap.
///
/// [`handle_rtp`]: MediaSession::handle_rtp
/// [`handle_timeout`]: MediaSession::handle_timeout
/// [`poll_output`]: MediaSession::poll_output
#[derive(Debug)]
pub struct MediaSession {
    config: MediaConfig,
    sender: RtpSender,
    pacer: Pacer,
    player: PromptPlayer,
    dtmf: DtmfDetector,
    /// Raised events not yet returned by `poll_output`, oldest first, at most
    /// `MAX_QUEUED_EVENTS`.
    events: VecDeque<MediaEvent>,
    stats: MediaStats,
    /// The instant of the last input (or of creation): packets due by then are written.
    now: Time,
    /// The next packet gets the marker bit whatever it carries (start of stream, or
    /// after skipped slots).
    mark_next: bool,
    /// Whether the last packet sent carried prompt audio (a prompt following directly
    /// needs no marker).
    last_was_prompt: bool,
    /// Where packets go: the SDP's address until the far end's media is seen
    /// coming from elsewhere (symmetric RTP, NAT latching).
    remote: SocketAddr,
    /// The far end's SSRC, once a valid packet came from `remote`.
    peer_ssrc: Option<u32>,
    /// Consecutive valid packets from another address: (address, SSRC, count).
    latch: Option<(SocketAddr, u32, u8)>,
    /// Keys being sent as telephone-events, if any.
    digits: Option<DigitSender>,
    /// Whether packets are sent (false while the far end holds the call:
    /// the stream's clock and prompts run on, nothing leaves).
    sending: bool,
    /// The received stream: jitter buffer, playout, and the consumers of its audio
    /// (the in-band DTMF detector for a far end without telephone-event).
    inbound: Inbound,
    /// The Opus encoder of live audio (in-band keys), made at first use.
    opus_out: Option<Box<OpusOut>>,
    rtcp: RtcpSession,
    /// Where RTCP goes without rtcp-mux: the remote RTP port + 1, until the far
    /// end's RTCP is seen coming from elsewhere.
    rtcp_remote: SocketAddr,
    /// The leg is over: a last report with a BYE, then nothing.
    closing: bool,
    /// The BYE was written.
    closed: bool,
    /// SRTP, when the leg negotiated it.
    srtp: Option<Box<Srtp>>,
    /// Live audio to send when no prompt plays (the other leg of a bridge);
    /// `None`: silence then.
    live: Option<Box<LiveAudio>>,
    /// Where a received SRTP packet is copied to be unprotected in place
    /// (reserved once per call; empty without SRTP).
    scratch: Vec<u8>,
    /// A relayed bridge ([`MediaSession::set_relay`]): the last packet received,
    /// for the other side.
    relay_tap: Option<Box<RelayTap>>,
    /// A relayed bridge: the other side's packets rewritten for this stream,
    /// sent in place of the session's own.
    relay: Option<Box<RelaySink>>,
}

/// Room reserved for one received SRTP/SRTCP datagram.
const SCRATCH_LEN: usize = 2048;

/// Consecutive valid packets (negotiated payload type, one SSRC, the far
/// end's SSRC if known) from a new address before packets go there instead:
/// a single stray packet never moves the stream.
pub const LATCH_PACKETS: u8 = 3;

impl MediaSession {
    /// A session whose first packet is due at `now`: the first `poll_output` writes it.
    pub fn new(config: MediaConfig, now: Time) -> MediaSession {
        let remote = config.remote;
        let jitter = JitterConfig {
            min_delay: config.jitter_min,
            max_delay: config.jitter_max,
            ..JitterConfig::default()
        };
        let inbound = Inbound::new(jitter, config.codec, config.codec_pt, config.dtmf_pt, now);
        let mut rtcp = RtcpSession::new(config.ssrc, config.ntp_at_zero, config.rtcp_seed, now);
        rtcp.set_clock_rate(config.codec.clock_rate());
        let rtcp_remote = SocketAddr::new(remote.ip(), remote.port().wrapping_add(1));
        MediaSession {
            rtcp,
            rtcp_remote,
            closing: false,
            closed: false,
            sender: RtpSender::new(
                config.ssrc,
                config.initial_sequence,
                config.initial_timestamp,
            ),
            config,
            pacer: Pacer::new(now),
            player: PromptPlayer::new(),
            dtmf: DtmfDetector::new(),
            events: VecDeque::with_capacity(16),
            stats: MediaStats::default(),
            mark_next: true,
            last_was_prompt: false,
            remote,
            peer_ssrc: None,
            latch: None,
            digits: None,
            sending: true,
            inbound,
            opus_out: None,
            now,
            srtp: None,
            scratch: Vec::new(),
            live: None,
            relay_tap: None,
            relay: None,
        }
    }

    /// From now on, packets are SRTP and SRTCP under `srtp`.
    pub fn secure(&mut self, srtp: Srtp) {
        self.srtp = Some(Box::new(srtp));
        self.scratch = Vec::with_capacity(SCRATCH_LEN);
    }

    /// The SRTP counters, when the leg uses SRTP.
    pub fn srtp_stats(&self) -> Option<SrtpStats> {
        self.srtp.as_ref().map(|srtp| *srtp.stats())
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
    /// detector, and with audio and comfort noise into the jitter buffer; anything
    /// else is counted and dropped.
    /// Packets from an address other than `remote()` are counted but still processed.
    /// Records `now` as the current instant.
    pub fn handle_rtp(&mut self, now: Time, from: SocketAddr, packet: &[u8]) {
        self.now = now;
        self.inbound.handle_timeout(now);
        self.stats.packets_received += 1;
        if is_rtcp(packet) {
            // RFC 5761 demultiplexing: RTCP packet types are RTP payload types 64-95.
            self.stats.rtcp_on_rtp_port += 1;
            self.handle_rtcp(now, from, packet);
            return;
        }
        let Some(srtp) = self.srtp.as_mut() else {
            return self.receive_rtp(now, from, packet);
        };
        // Unprotected in the call's scratch buffer: its capacity is reserved,
        // so this allocates nothing for a datagram of ordinary size.
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend_from_slice(packet);
        if let Ok(len) = srtp.unprotect_rtp(&mut scratch) {
            self.receive_rtp(now, from, &scratch[..len]);
        }
        self.scratch = scratch;
    }

    /// A received RTP packet, in the clear.
    fn receive_rtp(&mut self, now: Time, from: SocketAddr, packet: &[u8]) {
        if from != self.remote {
            self.stats.from_unexpected_source += 1;
        }
        let Ok(rtp) = parse_rtp(packet) else {
            self.stats.malformed += 1;
            return;
        };
        let negotiated = rtp.payload_type == self.config.codec_pt
            || Some(rtp.payload_type) == self.config.dtmf_pt;
        if negotiated {
            self.follow_source(from, rtp.ssrc);
        }
        if negotiated || rtp.payload_type == CN_PAYLOAD_TYPE {
            if let Some(tap) = self.relay_tap.as_mut() {
                tap.keep(packet);
            }
            self.inbound.handle_packet(now, &rtp);
            let timed = Some(rtp.payload_type) != self.config.dtmf_pt;
            self.rtcp.on_rtp(now, &rtp, timed);
        }
        if Some(rtp.payload_type) == self.config.dtmf_pt {
            self.stats.dtmf_packets_received += 1;
            if let Some(digit) = self
                .dtmf
                .handle_packet(rtp.timestamp, rtp.marker, rtp.payload)
            {
                self.stats.dtmf_digits += 1;
                self.push_event(MediaEvent::Dtmf { digit });
            }
        } else if rtp.payload_type == self.config.codec_pt {
            self.stats.audio_packets_received += 1;
        } else if rtp.payload_type == CN_PAYLOAD_TYPE {
            self.stats.comfort_noise_received += 1;
        } else {
            self.stats.unknown_payload_type += 1;
        }
    }

    /// Processes one datagram received on the RTCP port (or demultiplexed from the
    /// RTP port): the far end's reports. Without rtcp-mux, our reports then go
    /// where its reports come from (symmetric RTCP).
    pub fn handle_rtcp(&mut self, now: Time, from: SocketAddr, packet: &[u8]) {
        self.now = now;
        self.inbound.handle_timeout(now);
        let valid = self.rtcp.stats().reports_received;
        match self.srtp.as_mut() {
            None => self.rtcp.handle_rtcp(now, packet),
            Some(srtp) => {
                let mut scratch = std::mem::take(&mut self.scratch);
                scratch.clear();
                scratch.extend_from_slice(packet);
                if let Ok(len) = srtp.unprotect_rtcp(&mut scratch) {
                    self.rtcp.handle_rtcp(now, &scratch[..len]);
                }
                self.scratch = scratch;
            }
        }
        if self.rtcp.stats().reports_received > valid && !self.config.rtcp_mux {
            self.rtcp_remote = from;
        }
    }

    /// The leg is over (hangup): the next `poll_output` writes a last RTCP report
    /// ending with a BYE, and nothing follows it.
    pub fn close(&mut self) {
        self.closing = true;
    }

    /// The RTCP counters and what the far end reported.
    pub fn rtcp_stats(&self) -> &RtcpStats {
        self.rtcp.stats()
    }

    /// Advances time to `now`: if the caller woke more than 200 ms late, stale send
    /// slots are skipped (the RTP timestamp still advances over them, the sequence number
    /// does not, and the next packet carries the marker bit). Prompt audio is not lost.
    pub fn handle_timeout(&mut self, now: Time) {
        self.now = now;
        self.skip_stale_slots(now);
        self.inbound.handle_timeout(now);
    }

    /// What to do next: a queued event, else the packet due at the last `now` given
    /// (written into `buf`, no allocation), else when the next packet is due. Drain it
    /// after every input until it returns [`MediaOutput::Timeout`].
    ///
    /// `buf` must hold [`PACKET_LEN`] bytes; if it does not, the due slot is dropped,
    /// counted in [`MediaStats::send_buffer_too_small`], and the next packet carries the
    /// marker bit.
    pub fn poll_output(&mut self, buf: &mut [u8]) -> MediaOutput {
        if self.closing {
            return self.write_bye(buf);
        }
        loop {
            if let Some(event) = self.events.pop_front() {
                return MediaOutput::Event(event);
            }
            let next_frame = match self.inbound.poll() {
                InboundOutput::Digit(digit) => {
                    self.stats.dtmf_digits += 1;
                    self.stats.inband_digits += 1;
                    self.push_event(MediaEvent::Dtmf { digit });
                    continue;
                }
                InboundOutput::Frame(kind) => return MediaOutput::Audio(kind),
                InboundOutput::Timeout(at) => at,
            };
            if self.rtcp.is_due(self.now) {
                if let Some(output) = self.write_rtcp(buf, false) {
                    return output;
                }
            }
            if self.relay.is_some() {
                if let Some(len) = self.next_relayed(buf) {
                    match self.protect_rtp(buf, len) {
                        Some(len) => return MediaOutput::Transmit(len),
                        None => continue,
                    }
                }
                if self.relay_consumes_slot() {
                    continue;
                }
            }
            match self.write_due_packet(buf) {
                Some(len) if self.sending => match self.protect_rtp(buf, len) {
                    Some(len) => return MediaOutput::Transmit(len),
                    None => continue,
                },
                // On hold: the slot is used up, nothing leaves.
                Some(_) => self.stats.packets_held += 1,
                None => {
                    let next = self.pacer.next_send_time().min(next_frame);
                    return MediaOutput::Timeout(next.min(self.rtcp.next_report()));
                }
            }
        }
    }

    /// A new offer/answer in the session (re-INVITE): where to send, which
    /// payload types, and whether to send at all (not while the far end holds
    /// the call). The stream's sequence, timestamps and prompts go on.
    pub fn renegotiate(
        &mut self,
        remote: SocketAddr,
        codec: Codec,
        codec_pt: u8,
        dtmf_pt: Option<u8>,
        sending: bool,
    ) {
        if remote != self.config.remote {
            self.config.remote = remote;
            self.remote = remote;
            self.rtcp_remote = SocketAddr::new(remote.ip(), remote.port().wrapping_add(1));
            self.peer_ssrc = None;
            self.latch = None;
        }
        self.config.codec = codec;
        self.config.codec_pt = codec_pt;
        self.config.dtmf_pt = dtmf_pt;
        self.rtcp.set_clock_rate(codec.clock_rate());
        self.sending = sending;
        self.inbound.renegotiate(codec, codec_pt, dtmf_pt);
    }

    /// Writes our RTCP report (with a BYE when `bye`) into `buf`. `None`: the
    /// buffer is too small (counted; the report is tried again at the next tick).
    fn write_rtcp(&mut self, buf: &mut [u8], bye: bool) -> Option<MediaOutput> {
        let ahead = self.pacer.next_send_time().saturating_since(self.now);
        let ahead_samples = (ahead.as_micros() * 8 / 1_000) as u32;
        let sent = Sent {
            packets: self.stats.packets_sent,
            octets: self.stats.payload_octets_sent,
            rtp_timestamp: self.sender.next_timestamp().wrapping_sub(ahead_samples),
        };
        let Some(len) = self.rtcp.write_report(self.now, &sent, bye, buf) else {
            self.stats.send_buffer_too_small += 1;
            return None;
        };
        let len = match self.srtp.as_mut() {
            None => len,
            Some(srtp) => match srtp.protect_rtcp(buf, len) {
                Ok(len) => len,
                Err(_) => {
                    self.stats.send_buffer_too_small += 1;
                    return None;
                }
            },
        };
        let (dest, mux) = match self.config.rtcp_mux {
            true => (self.remote, true),
            false => (self.rtcp_remote, false),
        };
        Some(MediaOutput::Rtcp { len, dest, mux })
    }

    /// After [`MediaSession::close`]: the BYE once, then only `Timeout(NEVER)`.
    fn write_bye(&mut self, buf: &mut [u8]) -> MediaOutput {
        if !self.closed {
            self.closed = true;
            if let Some(output) = self.write_rtcp(buf, true) {
                return output;
            }
        }
        MediaOutput::Timeout(Time::NEVER)
    }

    /// A consumer of the received audio (a recorder, a bridge) subscribes: frames
    /// are decoded from the next one on.
    pub fn subscribe_audio(&mut self) {
        self.inbound.add_consumer();
    }

    /// A consumer of the received audio leaves; with none left (and no in-band
    /// DTMF detection) nothing is decoded any more.
    pub fn unsubscribe_audio(&mut self) {
        self.inbound.remove_consumer();
    }

    /// Whether received audio is decoded: some consumer needs it.
    pub fn needs_audio(&self) -> bool {
        self.inbound.needs_audio()
    }

    /// The frame of received audio (20 ms at 8 kHz) that the last
    /// [`MediaOutput::Audio`] announced.
    pub fn received_audio(&self) -> &[i16; FRAME_SAMPLES] {
        self.inbound.frame()
    }

    /// Live audio on (`true`: frames given to [`MediaSession::send_audio`] are
    /// sent whenever no prompt plays, silence when none is queued) or off.
    pub fn set_live_audio(&mut self, on: bool) {
        match (on, self.live.is_some()) {
            (true, false) => self.live = Some(Box::default()),
            (false, true) => self.live = None,
            _ => {}
        }
    }

    /// Queues one frame of live audio (20 ms at 8 kHz) to send; ignored while
    /// live audio is off.
    pub fn send_audio(&mut self, frame: &[i16; FRAME_SAMPLES]) {
        if let Some(live) = self.live.as_mut() {
            live.push(frame);
        }
    }

    /// The live-audio counters, while live audio is on.
    pub fn live_audio_stats(&self) -> Option<LiveAudioStats> {
        self.live.as_ref().map(|live| live.stats())
    }

    /// Relayed bridge on (`true`) or off. On, the session keeps each packet it
    /// receives for [`MediaSession::take_relayed`], sends the packets given to
    /// [`MediaSession::relay_packet`] (rewritten into its own stream) and sends
    /// nothing of its own: its send slots pass silently, its stream's clock
    /// running on. Off, it sends its own packets again, numbered on from the
    /// relayed ones, the first with the marker bit.
    pub fn set_relay(&mut self, on: bool) {
        match (on, self.relay.is_some()) {
            (true, false) => {
                self.relay = Some(Box::new(RelaySink::new()));
                self.relay_tap = Some(Box::new(RelayTap::new()));
            }
            (false, true) => {
                self.relay = None;
                self.relay_tap = None;
                self.mark_next = true;
            }
            _ => {}
        }
    }

    /// Whether the session relays ([`MediaSession::set_relay`]).
    pub fn is_relaying(&self) -> bool {
        self.relay.is_some()
    }

    /// The packet (in the clear) the last [`MediaSession::handle_rtp`] received,
    /// while relaying: for the other side's [`MediaSession::relay_packet`].
    pub fn take_relayed(&mut self) -> Option<&[u8]> {
        self.relay_tap.as_mut()?.take()
    }

    /// A packet the other side of a relayed bridge received (its negotiated
    /// media `from`): rewritten into this session's stream and sent at the
    /// next `poll_output`. Ignored unless relaying; dropped (counted in the
    /// relay's counters) when its payload type has no counterpart here.
    pub fn relay_packet(&mut self, now: Time, from: &BridgeSide, packet: &[u8]) {
        self.now = now;
        let to = BridgeSide::from(&self.config);
        let stream = OutStream {
            ssrc: self.config.ssrc,
            next_sequence: self.sender.next_sequence(),
            timestamp: self.stream_clock(now),
        };
        let Some(sink) = self.relay.as_mut() else {
            return;
        };
        if let Some(relayed) = sink.push(now, packet, from, &to, stream) {
            self.sender.follow_sequence(relayed.sequence);
        }
    }

    /// The relay's counters, while relaying: packets relayed, re-anchors,
    /// drops, and overruns of its queue.
    pub fn relay_stats(&self) -> Option<(RelayStats, u64)> {
        self.relay
            .as_ref()
            .map(|sink| (sink.stats(), sink.overruns))
    }

    /// The stream's media clock at `now`: the next slot's timestamp less the
    /// time until it.
    fn stream_clock(&self, now: Time) -> u32 {
        let ahead = self.pacer.next_send_time().saturating_since(now);
        let rate = u64::from(self.config.codec.clock_rate());
        let ticks = (ahead.as_micros() as u64 * rate / 1_000_000) as u32;
        self.sender.next_timestamp().wrapping_sub(ticks)
    }

    /// The next relayed packet, written into `buf`; nothing leaves while the
    /// far end holds the call (the packets are dropped and counted as held).
    fn next_relayed(&mut self, buf: &mut [u8]) -> Option<usize> {
        let sink = self.relay.as_mut()?;
        if !self.sending {
            self.stats.packets_held += sink.clear() as u64;
            return None;
        }
        loop {
            match sink.pop_into(buf)? {
                0 => self.stats.send_buffer_too_small += 1,
                len => {
                    self.stats.packets_sent += 1;
                    self.stats.packets_relayed += 1;
                    self.stats.payload_octets_sent += (len - RTP_HEADER_LEN) as u64;
                    return Some(len);
                }
            }
        }
    }

    /// While relaying: a due send slot passes without a packet (the stream's
    /// clock advances over it). `false` when no slot is due.
    fn relay_consumes_slot(&mut self) -> bool {
        self.skip_stale_slots(self.now);
        if !self.pacer.is_due(self.now) {
            return false;
        }
        self.pacer.advance();
        self.sender.skip_samples(self.config.codec.frame_ticks());
        true
    }

    /// Sends `keys` on the stream, each `tone` long with `gap` between them,
    /// in place of audio (a prompt playing is paused meanwhile): as RFC 4733
    /// telephone-events, or in-band as dual tones when the far end did not
    /// negotiate telephone-event. [`MediaEvent::DigitsSent`] follows the last.
    pub fn send_digits(&mut self, keys: &str, tone: Duration, gap: Duration) {
        self.digits = Some(match self.config.dtmf_pt {
            Some(_) => DigitSender::new(keys, tone, gap),
            None => DigitSender::inband(keys, tone, gap),
        });
    }

    /// Where packets go: the address from the remote SDP, or where the far
    /// end's media really comes from once it was latched (symmetric RTP).
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// Symmetric RTP: after [`LATCH_PACKETS`] consecutive valid packets from
    /// one new address, send there; a packet from the current remote starts
    /// the count again.
    fn follow_source(&mut self, from: SocketAddr, ssrc: u32) {
        if from == self.remote {
            self.peer_ssrc.get_or_insert(ssrc);
            self.latch = None;
            return;
        }
        if self.peer_ssrc.is_some_and(|known| known != ssrc) {
            return;
        }
        let count = match self.latch {
            Some((address, run_ssrc, count)) if address == from && run_ssrc == ssrc => count + 1,
            _ => 1,
        };
        if count >= LATCH_PACKETS {
            self.remote = from;
            self.peer_ssrc = Some(ssrc);
            self.latch = None;
            self.stats.remote_latches += 1;
        } else {
            self.latch = Some((from, ssrc, count));
        }
    }

    /// The configuration the session was created with.
    pub fn config(&self) -> &MediaConfig {
        &self.config
    }

    /// Packet and event counters since the session was created, with the received
    /// stream's.
    pub fn stats(&self) -> MediaStats {
        MediaStats {
            inbound: self.inbound.stats().clone(),
            rtcp: *self.rtcp.stats(),
            send_clock_rate: self.config.codec.clock_rate(),
            srtp: self.srtp_stats(),
            inband_frames_suppressed: self.inbound.suppressed_frames(),
            ..self.stats.clone()
        }
    }

    /// The received stream's counters and measurements (jitter buffer).
    pub fn inbound_stats(&self) -> &JitterStats {
        self.inbound.stats()
    }

    /// The DTMF detector, for its per-event packet counts.
    #[cfg(test)]
    pub(crate) fn dtmf_detector(&self) -> &DtmfDetector {
        &self.dtmf
    }

    /// Writes the packet of the next slot into `buf` if it is due at `self.now`, and
    /// returns its length. Raises the prompt events of the frame it carries.
    fn write_due_packet(&mut self, buf: &mut [u8]) -> Option<usize> {
        self.skip_stale_slots(self.now);
        if !self.pacer.is_due(self.now) {
            return None;
        }
        self.pacer.advance();
        let ticks = self.config.codec.frame_ticks();
        let Some(packet) = buf.get_mut(..PACKET_LEN) else {
            self.stats.send_buffer_too_small += 1;
            self.sender.skip_samples(ticks);
            self.mark_next = true;
            return None;
        };
        if let Some(len) = self.write_event_slot(packet) {
            return Some(len);
        }
        let (header, payload) = packet.split_at_mut(RTP_HEADER_LEN);
        let codec = self.config.codec;
        let mut marker = self.mark_next;
        let payload_len = match self.player.next_frame(codec, payload) {
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
                self.stats.prompt_packets_sent += 1;
                played.len
            }
            None => {
                self.last_was_prompt = false;
                self.write_live_or_silence(payload)
            }
        };
        // `header` is exactly RTP_HEADER_LEN bytes, so this cannot fail.
        self.sender
            .write_header(header, self.config.codec_pt, marker, ticks)
            .ok()?;
        self.mark_next = false;
        self.stats.packets_sent += 1;
        self.stats.payload_octets_sent += payload_len as u64;
        Some(RTP_HEADER_LEN + payload_len)
    }

    /// While keys are being sent: writes this slot's telephone-event packet
    /// into `packet` and returns its length, or `None` for an audio slot.
    fn write_event_slot(&mut self, packet: &mut [u8]) -> Option<usize> {
        let sender = self.digits.as_mut()?;
        let slot = sender.next_slot(self.sender.next_timestamp());
        if sender.is_done() {
            self.digits = None;
            self.push_event(MediaEvent::DigitsSent);
        }
        let (code, timestamp, duration, marker, end) = match slot {
            Slot::Event {
                code,
                timestamp,
                duration,
                marker,
                end,
            } => (code, timestamp, duration, marker, end),
            Slot::Tone { code, offset } => return self.write_tone_slot(packet, code, offset),
            Slot::Audio => return None,
        };
        let dtmf_pt = self.config.dtmf_pt?;
        let (header, payload) = packet.split_at_mut(RTP_HEADER_LEN);
        // `header` is exactly RTP_HEADER_LEN bytes, so this cannot fail. The RTP
        // clock runs on (one slot); the packet carries the event's start time.
        let codec = self.config.codec;
        self.sender
            .write_header(header, dtmf_pt, marker, codec.frame_ticks())
            .ok()?;
        // The sender counts 8 kHz samples; the event is on the stream's clock.
        let scale = codec.clock_rate() / crate::media::codec::SAMPLE_RATE;
        let duration = (u32::from(duration) * scale).min(u32::from(u16::MAX)) as u16;
        header[4..8].copy_from_slice(&timestamp.to_be_bytes());
        let mut event = [0u8; 4];
        Slot::write_event_payload(code, end, duration, &mut event);
        payload.get_mut(..4)?.copy_from_slice(&event);
        self.stats.packets_sent += 1;
        self.stats.payload_octets_sent += 4;
        self.stats.dtmf_packets_sent += 1;
        Some(RTP_HEADER_LEN + 4)
    }

    /// An in-band key: 20 ms of its dual tone, encoded as ordinary audio.
    fn write_tone_slot(&mut self, packet: &mut [u8], code: u8, offset: u32) -> Option<usize> {
        let mut pcm = [0i16; FRAME_SAMPLES];
        write_tone(code, offset, &mut pcm);
        let (header, payload) = packet.split_at_mut(RTP_HEADER_LEN);
        let codec = self.config.codec;
        let len = match codec {
            Codec::Opus => {
                if self.opus_out.is_none() {
                    // Made once per session, at its first in-band key.
                    self.opus_out = OpusOut::new().map(Box::new);
                }
                match self.opus_out.as_mut() {
                    Some(out) => out.encode(&pcm, payload),
                    None => write_silence(codec, payload),
                }
            }
            _ => codec.encode(&pcm, payload),
        };
        let marker = self.mark_next;
        self.sender
            .write_header(header, self.config.codec_pt, marker, codec.frame_ticks())
            .ok()?;
        self.mark_next = false;
        self.last_was_prompt = false;
        self.stats.packets_sent += 1;
        self.stats.payload_octets_sent += len as u64;
        self.stats.inband_tone_packets_sent += 1;
        Some(RTP_HEADER_LEN + len)
    }

    /// A slot with no prompt: the next live frame encoded in the leg's codec
    /// when live audio is on and one is queued, else silence.
    fn write_live_or_silence(&mut self, payload: &mut [u8]) -> usize {
        let codec = self.config.codec;
        let Some(frame) = self.live.as_mut().and_then(|live| live.pop()) else {
            return write_silence(codec, payload);
        };
        match codec {
            Codec::Opus => {
                if self.opus_out.is_none() {
                    // Made once per session, at its first live frame.
                    self.opus_out = OpusOut::new().map(Box::new);
                }
                match self.opus_out.as_mut() {
                    Some(out) => out.encode(frame, payload),
                    None => write_silence(codec, payload),
                }
            }
            _ => codec.encode(frame, payload),
        }
    }

    /// The packet written in `buf[..len]`, protected when the leg uses SRTP;
    /// `None` (counted) when the buffer has no room for the tag.
    fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Option<usize> {
        let Some(srtp) = self.srtp.as_mut() else {
            return Some(len);
        };
        match srtp.protect_rtp(buf, len) {
            Ok(len) => Some(len),
            Err(_) => {
                self.stats.send_buffer_too_small += 1;
                None
            }
        }
    }

    fn skip_stale_slots(&mut self, now: Time) {
        let skipped = self.pacer.skip_stale(now);
        if skipped > 0 {
            self.stats.slots_skipped += skipped;
            let samples = skipped.wrapping_mul(u64::from(self.config.codec.frame_ticks())) as u32;
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

/// Writes one frame of `codec`'s silence into `payload`; returns its length.
fn write_silence(codec: Codec, payload: &mut [u8]) -> usize {
    match codec {
        Codec::Opus => {
            let silence = silence_frame().unwrap_or_default();
            let len = silence.len().min(payload.len());
            payload[..len].copy_from_slice(&silence[..len]);
            len
        }
        _ => {
            let len = payload.len().min(FRAME_SAMPLES);
            payload[..len].fill(codec.silence_byte());
            len
        }
    }
}

/// What a session needs to send live 8 kHz audio (in-band keys) as Opus.
#[derive(Debug)]
struct OpusOut {
    encoder: OpusEncoder,
    resampler: Resampler,
    wide: [i16; OPUS_FRAME_SAMPLES],
}

impl OpusOut {
    fn new() -> Option<OpusOut> {
        Some(OpusOut {
            encoder: OpusEncoder::new().ok()?,
            resampler: Resampler::new(Rate::Hz8000, Rate::Hz48000),
            wide: [0; OPUS_FRAME_SAMPLES],
        })
    }

    /// Encodes 20 ms at 8 kHz into `payload`; returns the length (0 on failure).
    fn encode(&mut self, pcm: &[i16; FRAME_SAMPLES], payload: &mut [u8]) -> usize {
        self.resampler.process(pcm, &mut self.wide);
        self.encoder.encode(&self.wide, payload).unwrap_or(0)
    }
}

#[cfg(test)]
#[path = "session_relay_tests.rs"]
mod relay_tests;
