//! Sans-IO RTP media for one call leg: G.711 codecs, RTP parsing and building, shared
//! pre-encoded prompts, prompt playback, RFC 4733 DTMF detection, and the paced
//! `MediaSession` the IO shell drives. No I/O, no clock reads; the packet path
//! allocates nothing per packet.

pub mod catalog;
pub mod codec;
pub mod dtmf;
pub mod g711;
pub mod player;
pub mod prompt;
pub mod rtp;
pub mod schedule;
pub mod session;
pub mod stats;

pub use catalog::{PromptCatalog, BEEP_PROMPT_ID};
pub use codec::{Codec, FRAME_DURATION, FRAME_SAMPLES, SAMPLE_RATE};
pub use dtmf::{event_digit, DtmfDetector, DtmfEventState};
pub use player::{PlayedFrame, PromptPlayer};
pub use prompt::{Prompt, PromptError};
pub use rtp::{parse_rtp, RtpError, RtpPacket, RtpSender, RTP_HEADER_LEN};
pub use schedule::{SendSchedule, MAX_LATENESS};
pub use session::{MediaConfig, MediaEvent, MediaSession, PACKET_LEN};
pub use stats::MediaStats;
