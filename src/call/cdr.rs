//! The call detail record a call leaves behind: who called whom, which flow
//! and version ran, when it started, was answered and ended, why and by whom it
//! ended, the digits entered and the nodes visited.
//!
//! Times are the cores' monotonic [`Time`]; the IO shell turns them into wall
//! clock when it writes the record.

use serde::Serialize;

use crate::time::Time;

/// Which side ended the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HangupSide {
    Caller,
    Callplane,
}

/// Why the call ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HangupCause {
    /// The flow hung up (a hangup node, or its end).
    NormalClearing,
    /// The caller sent BYE.
    CallerHangup,
    /// The caller sent CANCEL before the answer.
    Cancelled,
    /// The offer had no codec we speak (488).
    NoCommonCodec,
    /// No route and no default flow for the dialled number (404).
    NoRoute,
    /// Our 200 OK was never acknowledged.
    AckTimeout,
    /// No RTP port could be opened (503).
    MediaUnavailable,
    /// The server is shutting down.
    Shutdown,
    /// The flow ended without a hangup node: no edge for an outcome, a safety limit.
    FlowEnded,
}

/// One finished call, as the IO shell writes it.
#[derive(Clone, Debug, Serialize)]
pub struct CdrRecord {
    pub call_id: String,
    pub from: String,
    pub to: String,
    pub flow_id: Option<String>,
    pub flow_version: Option<u32>,
    #[serde(skip)]
    pub start: Time,
    #[serde(skip)]
    pub answer: Option<Time>,
    #[serde(skip)]
    pub end: Time,
    pub hangup_cause: HangupCause,
    pub hangup_side: HangupSide,
    /// The final SIP status of the INVITE: 200 when answered, else the rejection.
    pub sip_status: u16,
    /// Every digit string a gather returned, in order.
    pub digits: Vec<String>,
    /// Node ids in the order the flow visited them.
    pub nodes: Vec<String>,
    /// Why the flow ended, when it ended by itself.
    pub flow_end: Option<String>,
    pub shard: usize,
}
