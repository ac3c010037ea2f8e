//! Metrics and health: each shard's lock-free counters ([`ShardCounters`]),
//! their Prometheus text exposition, and the `/metrics`, `/healthz` and
//! `/readyz` listener on a thread of its own ([`MetricsEndpoint`]).
//!
//! docs/operations.md lists every series and what it means.

mod config;
mod endpoint;
mod exposition;
mod shard_counters;

pub use config::{MetricsConfig, DEFAULT_METRICS_LISTEN};
pub use endpoint::{MetricsEndpoint, MetricsSources, ReadyCheck};
pub use exposition::{render, ProcessGauges};
pub use shard_counters::{
    cause_index, AtomicHistogram, Direction, ShardCounters, ShardSnapshot, HANGUP_CAUSES,
    JITTER_BUCKETS, PUBLISH_INTERVAL, SETUP_BUCKETS, SIP_METHODS,
};
