//! callplane: a media-plane appliance that answers SIP calls and runs JSON call
//! flows inline, on the core that owns each call.
//!
//! Layers (see DESIGN.md): [`flow`], [`sip`], [`media`] and [`call`] are
//! sans-IO and deterministic — time is an argument, output is polled;
//! [`shard`] is the IO shell around them; [`config`] and [`assets`] load what
//! the server runs; [`api`] and [`store`] are
//! the HTTP control plane and its store, on threads of their own.

#![warn(missing_docs, unreachable_pub)]

pub mod api;
pub mod assets;
pub mod bench;
pub mod call;
pub mod config;
pub mod deadlines;
pub mod flow;
pub mod logging;
pub mod media;
pub mod metrics;
pub mod net_policy;
pub mod shard;
pub mod simulator;
pub mod sip;
pub mod slab;
pub mod slab_index;
pub mod speech;
pub mod store;
pub mod time;
