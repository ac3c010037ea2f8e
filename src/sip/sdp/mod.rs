//! SDP for audio calls: reading an offer, picking PCMU/PCMA (+ telephone-event) in the
//! caller's order, and writing the answer.

mod answer;
mod negotiate;
mod parse;

pub use answer::build_answer;
pub use negotiate::{negotiate, AudioCodec, NegotiateError, Negotiated};
pub use parse::{Direction, Fmtp, Media, RtpMap, Sdp, SdpError};
