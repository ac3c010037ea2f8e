//! One call and the calls of one shard: the layer that joins the flow
//! interpreter, the SIP dialog and the media leg of each call.
//!
//! Sans-IO like the layers it uses: time arrives as an argument, work leaves
//! through one `poll_output`, randomness comes from a seeded generator.
//! [`Host`] holds a shard's calls; [`drain`] is the one loop that moves its
//! output into a shell.

mod admission;
mod cdr;
mod control;
mod dial_target;
mod drain;
mod gather;
mod host;
mod http;
mod inbound;
mod keepalives;
mod leg;
mod ports;
mod recording;
mod registrations;
mod routing;
mod speech;
mod trunk_agents;

pub use admission::{Admission, AdmissionControl};
pub use cdr::{CdrRecord, HangupCause, HangupSide, MediaCdr, RtcpCdr, RtpCdr};
pub use control::{CallCommand, CallSnapshot, Refusal};
pub use dial_target::{clean_caller_id, resolve as resolve_dial_target, DialTrunk, Resolved};
pub use drain::{drain, HostIo};
pub use gather::{Gather, GatherEnd, GatherLimits};
pub use host::{
    Host, HostConfig, HostEvent, HostStats, Input, Output, RtpSocket, Socket, SrtpSettings,
    Transmit,
};
pub use http::{HttpRequest, HttpResult};
pub use inbound::{Call, CallCounters, CallHandle, CallOutput, CallParties, CallPlan, RtpSeed};
pub use keepalives::KeepaliveStats;
pub use leg::{LegEnd, LegEvent, LegId, LegMedia, LegOutput, LegRequest, OutboundLeg};
pub use ports::PortPool;
pub use recording::{RecordingFormat, RecordingSummary, RecordingWork};
pub use registrations::RegistrationStats;
pub use routing::{RouteTarget, Router};
pub use speech::{SpeechResult, SpeechWanted};

#[cfg(test)]
mod sim;
