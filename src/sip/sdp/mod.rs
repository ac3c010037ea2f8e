//! SDP for audio calls: reading an offer, picking PCMU/PCMA/Opus (+ telephone-event)
//! in the caller's order or ours, SDES keys for RTP/SAVP (`crypto.rs`), and writing
//! the answer and our offers.

mod answer;
mod crypto;
mod negotiate;
mod offer;
mod parse;

pub use answer::build_answer;
pub use crypto::{CryptoAttribute, Sdes, SdesSuite, SrtpPolicy, SDES_KEY_LEN};
pub use negotiate::{
    negotiate, negotiate_with, AudioCodec, NegotiateError, Negotiated, OpusParams,
};
pub use offer::{build_offer, build_offer_with, OFFERED_DTMF_PT, OFFERED_OPUS_DTMF_PT};
pub use parse::{Direction, Fmtp, Media, RtpMap, Sdp, SdpError};
