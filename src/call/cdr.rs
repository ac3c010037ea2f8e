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
    /// The caller hung up or cancelled.
    Caller,
    /// callplane hung up or refused the call (a flow's hangup, a timeout, shutdown).
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
    /// The INVITE had no SDP, and the ACK carried no usable answer to the
    /// offer in our 200 OK: the call was hung up with BYE.
    NoMediaAnswer,
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
    /// The SIP Call-ID of the inbound dialog.
    pub call_id: String,
    /// User part of the INVITE's From URI: the caller.
    pub from: String,
    /// User part of the Request-URI: the dialled number.
    pub to: String,
    /// The flow that ran; `None` for calls refused before routing.
    pub flow_id: Option<String>,
    /// The version of that flow the call started with.
    pub flow_version: Option<u32>,
    /// When the INVITE arrived (core time; the writer prints wall clock).
    #[serde(skip)]
    pub start: Time,
    /// When the 200 OK was sent, if it was.
    #[serde(skip)]
    pub answer: Option<Time>,
    /// When the call ended: BYE sent or received, CANCEL, rejection.
    #[serde(skip)]
    pub end: Time,
    /// Why the call ended.
    pub hangup_cause: HangupCause,
    /// Which side ended it.
    pub hangup_side: HangupSide,
    /// The final SIP status of the INVITE: 200 when answered, else the rejection.
    pub sip_status: u16,
    /// Every digit string a gather returned, in order.
    pub digits: Vec<String>,
    /// Node ids in the order the flow visited them.
    pub nodes: Vec<String>,
    /// Why the flow ended, when it ended by itself.
    pub flow_end: Option<String>,
    /// The shard (core) that owned the call.
    pub shard: usize,
}
