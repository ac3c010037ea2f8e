//! RTCP (RFC 3550) for one call leg, sans-IO: the packets (SR, RR, SDES CNAME,
//! BYE) read and written in place, the transmission interval of §6.3 and
//! Appendix A.7 with a seeded generator, the reception statistics of the report
//! block (A.1, A.3, A.8), and the [`RtcpSession`] that schedules our reports and
//! reads the far end's (round-trip time, loss, jitter).
//!
//! Hand-written rather than taken from a crate: the `rtcp` crate of webrtc-rs
//! parses into owned `Vec`s and boxed trait objects per packet, which the packet
//! path may not do, and we need only four packet types of a few dozen bytes.
//! Here parsing borrows the datagram and writing fills the caller's buffer.

#![warn(missing_docs, unreachable_pub)]

mod interval;
mod packet;
mod reception;
mod session;

#[cfg(test)]
mod tests;

pub use interval::{rtcp_interval, IntervalInputs, RTCP_MIN_TIME};
pub use packet::{
    is_rtcp, write_bye, write_receiver_report, write_sdes_cname, write_sender_report, Compound,
    ReportBlock, ReportBlocks, RtcpError, RtcpPacket, SenderInfo, PT_BYE, PT_RR, PT_SDES, PT_SR,
    REPORT_BLOCK_LEN,
};
pub use session::{RtcpSession, RtcpStats, Sent};
