//! Sans-IO RTP media for one call leg: G.711 codecs, RTP parsing and building, shared
//! pre-encoded prompts, prompt playback, RFC 4733 DTMF detection, the paced
//! [`MediaSession`] the call layer drives, and the adaptive [`JitterBuffer`] that
//! turns one inbound stream into 20 ms frames of linear PCM. No I/O, no clock reads;
//! the packet path allocates nothing per packet.
//!
//! Every item is used through this module's path (`crate::media::X`); the submodules
//! are private.

#![warn(missing_docs, unreachable_pub)]

mod catalog;
mod codec;
mod dtmf;
mod g711;
mod jitter;
mod pacer;
mod player;
mod prompt;
mod rtp;
mod session;
mod stats;

pub use catalog::{PromptCatalog, BEEP_PROMPT_ID};
pub use codec::Codec;
pub use dtmf::{DtmfDetector, DtmfEventState};
pub use jitter::{
    FrameKind, JitterBuffer, JitterConfig, JitterOutput, JitterStats, CN_PAYLOAD_TYPE, QUIET_PEAK,
    RING_MARGIN_FRAMES,
};
pub use prompt::{Prompt, PromptError};
pub use rtp::{parse_rtp, RtpError, RtpPacket};
pub use session::{MediaConfig, MediaEvent, MediaOutput, MediaSession, PACKET_LEN};
pub use stats::MediaStats;
