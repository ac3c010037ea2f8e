//! One call and the calls of one shard: the layer that joins the flow
//! interpreter, the SIP dialog and the media leg of each call.
//!
//! Sans-IO like the layers it uses: time arrives as an argument, work leaves
//! through `poll_*` methods, randomness comes from a seeded generator.

mod cdr;
mod gather;
mod host;
mod http;
mod inbound;
mod routing;
mod wall;

pub use cdr::{CdrRecord, HangupCause, HangupSide};
pub use gather::{Gather, GatherEnd, GatherSpec};
pub use host::{Host, HostConfig, HostEvent, HostStats};
pub use http::{HttpRequest, HttpResult};
pub use inbound::{Call, CallAction, CallCounters, CallHandle, CallParties, CallPlan, RtpSeed};
pub use routing::{RouteTarget, Router};
pub use wall::WallClock;

#[cfg(test)]
mod host_tests;
