//! One generated call: its outbound dialog, the G.711 stream it sends (a WAV
//! file looped, or silence) paced at 20 ms with its keys as RFC 4733 events
//! or in-band tones, and what it measures of the stream it receives: setup
//! time, jitter and gaps, loss, the prompts heard, and each key's latency to
//! the next prompt.
//!
//! Sans-IO: the [`Generator`](super::generator::Generator) feeds it time,
//! SIP messages and RTP datagrams and asks it for packets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::media::{parse_rtp, Codec, DigitSender, DigitSlot, Pacer, RtpSender};
use crate::sip::{negotiate, AudioCodec, Dialog, DialogEvent, Sdp, TerminatedReason};
use crate::time::Time;

use super::rx_stats::{ReceiveStats, ReceiveSummary};
use super::script::{CallScript, DtmfMode};
use super::signature::{PromptSignature, Recognizer, FRAME_SAMPLES};

/// Gap after each key (RFC 4733 end packets included) before the next.
const KEY_GAP: Duration = Duration::from_millis(60);
/// Telephone-event payload type used if the answer names none (never sent:
/// keys then go in-band).
const DEFAULT_DTMF_PT: u8 = 101;
/// An RTP header without CSRCs.
const RTP_HEADER: usize = 12;

/// What a call shares with every other call of its generator.
#[derive(Debug)]
pub struct CallShared {
    /// The script.
    pub script: CallScript,
    /// 8 kHz samples sent, looped; empty: silence.
    pub audio: Vec<i16>,
    /// Signatures of the prompts the far end may play.
    pub signatures: Vec<PromptSignature>,
}

/// Where the call's media goes once answered.
#[derive(Debug)]
struct RtpOut {
    remote: SocketAddr,
    codec: Codec,
    dtmf_pt: Option<u8>,
    sender: RtpSender,
    pacer: Pacer,
}

/// How a call ended, for the report.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CallRecord {
    /// Its SIP Call-ID.
    pub call_id: String,
    /// When the INVITE left, s since the generator started.
    pub started_s: f64,
    /// INVITE → 200 OK, ms; `None` when not answered.
    pub setup_ms: Option<f64>,
    /// How long it was up after the answer, s.
    pub duration_s: f64,
    /// Why it ended (a SIP-level reason).
    pub ended: String,
    /// Why it failed; `None`: it did what the script said.
    pub failure: Option<String>,
    /// The far end's stream.
    pub receive: ReceiveSummary,
    /// The prompts heard, in order.
    pub prompts: Vec<String>,
    /// Whether they were the expected ones in the expected order (`None`: nothing expected).
    pub prompts_ok: Option<bool>,
    /// Each key press: its end packet to the first packet of the next prompt,
    /// ms (negative when the far end acts on the key's first packet).
    pub dtmf_latency_ms: Vec<Option<f64>>,
    /// Each key press: its first packet to the first packet of the next prompt, ms.
    pub dtmf_onset_latency_ms: Vec<Option<f64>>,
}

/// One call of the generator.
#[derive(Debug)]
pub struct BenchCall {
    dialog: Option<Dialog>,
    shared: Arc<CallShared>,
    invite_at: Time,
    answered_at: Option<Time>,
    ended_at: Option<Time>,
    rtp: Option<RtpOut>,
    rx: ReceiveStats,
    recognizer: Recognizer,
    next_press: usize,
    digits: Option<DigitSender>,
    tone_sent: bool,
    /// When each key's first packet left.
    digit_starts: Vec<Time>,
    /// When each key's first end packet left (in-band: the end of its tone).
    digit_ends: Vec<Time>,
    audio_pos: usize,
    dialog_deadline: Time,
    hangup_sent: bool,
    ended: Option<String>,
    failure: Option<String>,
    frame: [i16; FRAME_SAMPLES],
    /// The deadline last put in the generator's queue.
    pub scheduled: Time,
}

impl BenchCall {
    /// A call whose INVITE `dialog` (just placed) left at `now`.
    pub fn new(now: Time, dialog: Dialog, shared: Arc<CallShared>) -> BenchCall {
        let recognizer = Recognizer::new(&shared.signatures);
        BenchCall {
            dialog: Some(dialog),
            shared,
            invite_at: now,
            answered_at: None,
            ended_at: None,
            rtp: None,
            rx: ReceiveStats::new(8000),
            recognizer,
            next_press: 0,
            digits: None,
            tone_sent: false,
            digit_starts: Vec::new(),
            digit_ends: Vec::new(),
            audio_pos: 0,
            dialog_deadline: Time::ZERO,
            hangup_sent: false,
            ended: None,
            failure: None,
            frame: [0; FRAME_SAMPLES],
            scheduled: Time::NEVER,
        }
    }

    /// Its dialog, to feed and drain.
    pub fn dialog_mut(&mut self) -> Option<&mut Dialog> {
        self.dialog.as_mut()
    }

    /// Takes the dialog once it ended (for the dispatcher to keep until its
    /// transactions end).
    pub fn take_dialog(&mut self) -> Option<Dialog> {
        self.dialog.take()
    }

    /// The dialog's next timer.
    pub fn set_dialog_deadline(&mut self, at: Time) {
        self.dialog_deadline = at;
    }

    /// Whether the call has ended.
    pub fn is_over(&self) -> bool {
        self.ended.is_some()
    }

    /// Whether the call is answered and not over.
    pub fn is_up(&self) -> bool {
        self.answered_at.is_some() && self.ended.is_none()
    }

    /// A dialog event at `now`.
    pub fn on_dialog_event(&mut self, now: Time, event: DialogEvent) {
        match event {
            DialogEvent::Answered => self.on_answered(now),
            DialogEvent::Terminated(reason) => self.on_terminated(now, reason),
            _ => {}
        }
    }

    fn on_answered(&mut self, now: Time) {
        if self.answered_at.is_some() {
            return;
        }
        self.answered_at = Some(now);
        let sdp: Option<Sdp> = self.dialog.as_mut().and_then(|d| d.take_remote_sdp());
        let negotiated = sdp.as_ref().map(negotiate);
        match negotiated {
            Some(Ok(n)) => {
                let codec = match n.codec {
                    AudioCodec::Pcmu => Some(Codec::Pcmu),
                    AudioCodec::Pcma => Some(Codec::Pcma),
                    AudioCodec::Opus => None,
                };
                match codec {
                    Some(codec) => {
                        let seed = now.as_micros() ^ n.remote_rtp.port() as u64;
                        let mut rng = fastrand::Rng::with_seed(seed);
                        self.rtp = Some(RtpOut {
                            remote: n.remote_rtp,
                            codec,
                            dtmf_pt: n.dtmf_pt,
                            sender: RtpSender::new(rng.u32(..), rng.u16(..), rng.u32(..)),
                            pacer: Pacer::new(now),
                        });
                    }
                    None => self.fail(now, "the far end answered with Opus, not G.711"),
                }
            }
            Some(Err(err)) => self.fail(now, &format!("unusable SDP answer: {err}")),
            None => self.fail(now, "the 200 OK carried no SDP answer"),
        }
    }

    fn on_terminated(&mut self, now: Time, reason: TerminatedReason) {
        if self.ended.is_some() {
            return;
        }
        self.ended = Some(format!("{reason:?}"));
        self.ended_at = Some(now);
        self.rtp = None;
        if self.answered_at.is_none() && self.failure.is_none() {
            self.failure = Some(format!("not answered: {reason:?}"));
        }
        if !self.hangup_sent && self.shared.script.hangup_after.is_some() && self.failure.is_none()
        {
            self.failure = Some("the far end hung up before the script did".into());
        }
        if matches!(
            reason,
            TerminatedReason::ByeTimeout | TerminatedReason::SessionExpired
        ) && self.failure.is_none()
        {
            self.failure = Some(format!("ended badly: {reason:?}"));
        }
    }

    fn fail(&mut self, now: Time, why: &str) {
        if self.failure.is_none() {
            self.failure = Some(why.to_string());
        }
        self.hang_up(now);
    }

    fn hang_up(&mut self, now: Time) {
        if self.hangup_sent {
            return;
        }
        self.hangup_sent = true;
        self.rtp = None;
        if let Some(dialog) = self.dialog.as_mut() {
            if dialog.hangup(now).is_err() && self.ended.is_none() {
                self.ended = Some("hangup refused".into());
                self.ended_at = Some(now);
            }
        }
    }

    /// Runs the script's timers due at `now` (not the RTP pacing, which
    /// [`BenchCall::write_rtp`] does).
    pub fn on_timeout(&mut self, now: Time) {
        if self.ended.is_some() {
            return;
        }
        if let Some(dialog) = self.dialog.as_mut() {
            if self.dialog_deadline <= now {
                dialog.handle_timeout(now);
            }
        }
        let Some(answered) = self.answered_at else {
            return;
        };
        let script = &self.shared.script;
        if let Some(after) = script.hangup_after {
            if answered + after <= now {
                self.hang_up(now);
                return;
            }
        }
        if answered + script.max_call <= now {
            self.fail(now, "still up at --max-call-time");
            return;
        }
        if let Some(press) = script.presses.get(self.next_press) {
            if answered + press.at <= now && self.digits.is_none() {
                let keys = press.keys.clone();
                self.next_press += 1;
                let inband = script.dtmf == DtmfMode::Inband
                    || self.rtp.as_ref().is_some_and(|r| r.dtmf_pt.is_none());
                self.digits = Some(if inband {
                    DigitSender::inband(&keys, script.tone, KEY_GAP)
                } else {
                    DigitSender::new(&keys, script.tone, KEY_GAP)
                });
            }
        }
    }

    /// The next instant this call needs a wake-up.
    pub fn next_deadline(&self) -> Time {
        if self.ended.is_some() {
            return self.dialog_deadline;
        }
        let mut next = self.dialog_deadline;
        if let Some(rtp) = &self.rtp {
            next = next.min(rtp.pacer.next_send_time());
        }
        if let Some(answered) = self.answered_at {
            let script = &self.shared.script;
            if let Some(after) = script.hangup_after {
                next = next.min(answered + after);
            }
            next = next.min(answered + script.max_call);
            if let Some(press) = script.presses.get(self.next_press) {
                next = next.min(answered + press.at);
            }
        }
        next
    }

    /// Whether an RTP packet is due at `now`.
    pub fn rtp_due(&self, now: Time) -> bool {
        self.rtp.as_ref().is_some_and(|r| r.pacer.is_due(now))
    }

    /// Writes the next due RTP packet into `buf`: where it goes and its length.
    pub fn write_rtp(&mut self, now: Time, buf: &mut [u8]) -> Option<(SocketAddr, usize)> {
        let rtp = self.rtp.as_mut()?;
        if !rtp.pacer.is_due(now) || buf.len() < RTP_HEADER + FRAME_SAMPLES {
            return None;
        }
        rtp.pacer.skip_stale(now);
        rtp.pacer.advance();
        let slot = match self.digits.as_mut() {
            Some(digits) => digits.next_slot(rtp.sender.next_timestamp()),
            None => DigitSlot::Audio,
        };
        let (header, body) = buf.split_at_mut(RTP_HEADER);
        let len = match slot {
            DigitSlot::Event {
                code,
                timestamp,
                duration,
                marker,
                end,
            } => {
                let pt = rtp.dtmf_pt.unwrap_or(DEFAULT_DTMF_PT);
                rtp.sender
                    .write_header(header, pt, marker, FRAME_SAMPLES as u32)
                    .ok()?;
                // Every packet of one event carries the event's start timestamp.
                header[4..8].copy_from_slice(&timestamp.to_be_bytes());
                let mut payload = [0u8; 4];
                DigitSlot::write_event_payload(code, end, duration, &mut payload);
                body[..4].copy_from_slice(&payload);
                if marker {
                    self.digit_starts.push(now);
                }
                if end && !self.tone_sent {
                    self.tone_sent = true;
                    self.digit_ends.push(now);
                }
                RTP_HEADER + 4
            }
            DigitSlot::Tone { code, offset } => {
                if offset == 0 {
                    self.digit_starts.push(now);
                }
                crate::media::write_tone(code, offset, &mut self.frame);
                self.tone_sent = false;
                write_audio(rtp, header, body, &self.frame)?
            }
            DigitSlot::Audio => {
                if let Some(digits) = &self.digits {
                    if !self.tone_sent {
                        // In-band: the tone ended with the previous slot.
                        self.tone_sent = true;
                        self.digit_ends.push(now);
                    }
                    if digits.is_done() {
                        self.digits = None;
                    }
                }
                let audio = &self.shared.audio;
                if audio.is_empty() {
                    self.frame = [0; FRAME_SAMPLES];
                } else {
                    for sample in self.frame.iter_mut() {
                        *sample = audio[self.audio_pos % audio.len()];
                        self.audio_pos = (self.audio_pos + 1) % audio.len();
                    }
                }
                write_audio(rtp, header, body, &self.frame)?
            }
        };
        if let DigitSlot::Event { end: false, .. } = slot {
            self.tone_sent = false;
        }
        Some((rtp.remote, len))
    }

    /// One datagram on the call's RTP socket at `now`.
    pub fn on_rtp(&mut self, now: Time, datagram: &[u8]) {
        let Ok(packet) = parse_rtp(datagram) else {
            return;
        };
        if self.ended.is_some() {
            return;
        }
        self.rx.on_packet(now, packet.sequence, packet.timestamp);
        let codec = match self.rtp.as_ref() {
            Some(rtp) => rtp.codec,
            None => match packet.payload_type {
                0 => Codec::Pcmu,
                8 => Codec::Pcma,
                _ => return,
            },
        };
        if packet.payload_type != codec.payload_type() {
            return;
        }
        let mut frame = [0i16; FRAME_SAMPLES];
        for (sample, &code) in frame.iter_mut().zip(packet.payload) {
            *sample = codec.decode_sample(code);
        }
        let n = packet.payload.len().min(FRAME_SAMPLES);
        self.recognizer
            .push_frame(&self.shared.signatures, now, &frame[..n]);
    }

    /// The current receive jitter, ms.
    pub fn jitter_ms(&self) -> f64 {
        self.rx.jitter_ms()
    }

    /// The call's record once it is over; `origin` is the generator's start.
    pub fn record(&mut self, origin: Time) -> CallRecord {
        let end = self.ended_at.unwrap_or(self.invite_at);
        self.recognizer.finish(&self.shared.signatures);
        let heard = self.recognizer.heard();
        let prompts: Vec<String> = heard.iter().map(|h| h.prompt.clone()).collect();
        let expect = &self.shared.script.expect;
        let prompts_ok = (!expect.is_empty()).then(|| &prompts == expect);
        // The prompt a key brought is the first to start after the key did
        // (a server may act on the first event packet).
        let next_prompt = |start: Time| heard.iter().find(|h| h.started >= start);
        let ms_between =
            |from: Time, to: Time| (to.as_micros() as f64 - from.as_micros() as f64) / 1000.0;
        let dtmf_latency_ms: Vec<Option<f64>> = self
            .digit_starts
            .iter()
            .zip(&self.digit_ends)
            .map(|(&start, &end)| next_prompt(start).map(|h| ms_between(end, h.started)))
            .collect();
        let dtmf_onset_latency_ms: Vec<Option<f64>> = self
            .digit_starts
            .iter()
            .map(|&start| next_prompt(start).map(|h| ms_between(start, h.started)))
            .collect();
        let mut failure = self.failure.clone();
        if failure.is_none() && self.answered_at.is_some() {
            if self.rx.packets() == 0 {
                failure = Some("no RTP received".into());
            } else if prompts_ok == Some(false) {
                failure = Some(format!(
                    "heard {} instead of {}",
                    list(&prompts),
                    list(expect)
                ));
            } else if !expect.is_empty() && dtmf_latency_ms.iter().any(Option::is_none) {
                failure = Some("no prompt followed a key press".into());
            } else if self.digit_ends.len() < self.shared.script.presses.len() {
                failure = Some("the call ended before every key was pressed".into());
            }
        }
        let micros = |t: Time| t.as_micros() as f64;
        CallRecord {
            call_id: self
                .dialog
                .as_ref()
                .map(|d| d.call_id().0.clone())
                .unwrap_or_default(),
            started_s: (micros(self.invite_at) - micros(origin)) / 1e6,
            setup_ms: self
                .answered_at
                .map(|a| (micros(a) - micros(self.invite_at)) / 1000.0),
            duration_s: self
                .answered_at
                .map(|a| (micros(end) - micros(a)).max(0.0) / 1e6)
                .unwrap_or(0.0),
            ended: self.ended.clone().unwrap_or_else(|| "unfinished".into()),
            failure,
            receive: self.rx.summary(),
            prompts,
            prompts_ok,
            dtmf_latency_ms,
            dtmf_onset_latency_ms,
        }
    }

    /// The gaps between arrivals, µs (sorted once [`BenchCall::record`] ran).
    pub fn gaps_us(&self) -> &[u32] {
        self.rx.gaps_us()
    }
}

fn list(ids: &[String]) -> String {
    if ids.is_empty() {
        "nothing".into()
    } else {
        ids.join(" → ")
    }
}

fn write_audio(
    rtp: &mut RtpOut,
    header: &mut [u8],
    body: &mut [u8],
    frame: &[i16; FRAME_SAMPLES],
) -> Option<usize> {
    rtp.sender
        .write_header(
            header,
            rtp.codec.payload_type(),
            false,
            FRAME_SAMPLES as u32,
        )
        .ok()?;
    for (code, &sample) in body.iter_mut().zip(frame) {
        *code = rtp.codec.encode_sample(sample);
    }
    Some(RTP_HEADER + FRAME_SAMPLES)
}
