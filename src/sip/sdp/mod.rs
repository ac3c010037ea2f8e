//! SDP for audio calls: reading an offer, picking PCMU/PCMA (+ telephone-event) in the
//! caller's order, and writing the answer.

mod answer;
mod negotiate;
mod offer;
mod parse;

pub use answer::build_answer;
pub use negotiate::{negotiate, AudioCodec, NegotiateError, Negotiated};
pub use offer::{build_offer, OFFERED_DTMF_PT};
pub use parse::{Direction, Fmtp, Media, RtpMap, Sdp, SdpError};
