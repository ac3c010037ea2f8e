//! Sans-IO RTP media for one call leg: G.711 and Opus codecs, resampling between 8,
//! 16 and 48 kHz, transcoding between codecs, RTP parsing and building, shared
//! pre-encoded prompts, prompt playback, RFC 4733 DTMF detection, in-band (Goertzel)
//! DTMF detection of audio, the paced [`MediaSession`] the call layer drives, and
//! the adaptive [`JitterBuffer`] that turns one inbound stream into 20 ms frames of
//! linear PCM, the bridge of two legs (packets relayed undecoded when the codecs
//! match, [`Relay`]), the conference [`Mixer`] (mix-minus, with cross-shard
//! participants over bounded frame channels), and SRTP/SRTCP ([`Srtp`], keyed by SDES) for legs that negotiate it.
//! No I/O, no clock reads; the packet path allocates nothing per packet.
//!
//! Every item is used through this module's path (`crate::media::X`); the submodules
//! are private.

#![warn(missing_docs, unreachable_pub)]

mod bridge;
mod catalog;
mod codec;
mod dtmf;
mod dtmf_send;
mod g711;
mod inband_dtmf;
mod inbound;
mod jitter;
mod live;
mod mixer;
mod mixer_link;
mod opus;
mod pacer;
mod player;
mod prompt;
pub mod recorder;
mod relay_queue;
mod resample;
mod rtcp;
mod rtp;
mod session;
mod srtp;
mod stats;
mod tones;
mod transcode;
mod wav;

pub use bridge::{
    bridge_mode, BridgeMode, BridgeSide, OutStream, Relay, RelayError, RelayStats, Relayed,
    MAX_DROPOUT, MAX_MISORDER,
};
pub use catalog::{PromptCatalog, BEEP_PROMPT_ID};
pub use codec::{Codec, FRAME_SAMPLES, OPUS_PAYLOAD_TYPE};
pub use dtmf::{DtmfDetector, DtmfEventState};
/// Dual-tone samples of a key, for test peers that press keys in-band.
#[cfg(test)]
pub(crate) use dtmf_send::event_code;
/// The sending pieces the load generator (`crate::bench`) reuses for its callers.
pub(crate) use dtmf_send::{write_tone, DigitSender, Slot as DigitSlot};
pub use inband_dtmf::{
    wav_to_8k_mono, InbandDtmfConfig, InbandDtmfDetector, InbandWavError, DBM0_PEAK, HIGH_TONES,
    HITS_PER_TONE, LOW_TONES, MAX_DEVIATION, MAX_NORMAL_TWIST_DB, MAX_REVERSE_TWIST_DB,
    MAX_SECOND_HARMONIC_DB, MIN_LEVEL_DBM0, MIN_SUB_BLOCK_SHARE, MIN_TONE_ENERGY_RATIO,
    MISSES_PER_PAUSE,
};
pub use jitter::{
    FrameKind, JitterBuffer, JitterConfig, JitterOutput, JitterStats, CN_PAYLOAD_TYPE, QUIET_PEAK,
    RING_MARGIN_FRAMES,
};
pub use live::{LiveAudio, LiveAudioStats, LIVE_QUEUE_FRAMES};
pub use mixer::{
    Frame as MixFrame, Mixer, MixerError, MixerOutput, MixerStats, ParticipantId, MAX_GAIN_DB,
    MIN_GAIN_DB, MIX_INTERVAL,
};
pub use mixer_link::{link as mixer_link, LinkEnd, LinkError, LinkStats, LINK_FRAMES};
pub use opus::{
    silence_frame as opus_silence_frame, OpusDecoder, OpusEncoder, OpusError,
    BITRATE as OPUS_BITRATE, MAX_PAYLOAD as OPUS_MAX_PAYLOAD, OPUS_FRAME_SAMPLES, OPUS_RATE,
};
pub(crate) use pacer::Pacer;
pub use prompt::{Prompt, PromptError};
pub use resample::{Rate, Resampler};
pub use rtcp::{
    is_rtcp, rtcp_interval, write_bye, write_receiver_report, write_sdes_cname,
    write_sender_report, Compound, IntervalInputs, ReportBlock, ReportBlocks, RtcpError,
    RtcpPacket, RtcpSession, RtcpStats, SenderInfo, Sent, PT_BYE, PT_RR, PT_SDES, PT_SR,
    REPORT_BLOCK_LEN, RTCP_MIN_TIME,
};
pub(crate) use rtp::RtpSender;
pub use rtp::{parse_rtp, RtpError, RtpPacket};
pub use session::{MediaConfig, MediaEvent, MediaOutput, MediaSession, LATCH_PACKETS, PACKET_LEN};
pub use srtp::{
    Srtp, SrtpError, SrtpKey, SrtpKeySource, SrtpStats, SrtpSuite, SRTCP_OVERHEAD, SRTCP_TAG_LEN,
    SRTP_KEY_LEN, SRTP_MAX_OVERHEAD,
};
pub use stats::MediaStats;
pub use tones::{
    parse_tone, tone_prompt, Country, Tone, ToneError, ToneGenerator, ToneSpec, RAMP_SAMPLES,
};
pub use transcode::{Format, TranscodeError, Transcoder};
pub use wav::{WavError, MAX_SAMPLE_RATE as MAX_WAV_SAMPLE_RATE};
