//! `[metrics]`: where `/metrics`, `/healthz` and `/readyz` listen.

use std::net::{Ipv4Addr, SocketAddr};

use serde::Deserialize;

/// The default listener: loopback only, port 9464.
pub const DEFAULT_METRICS_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9464);

/// `[metrics]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve the endpoints at all.
    pub enabled: bool,
    /// Their address (loopback by default: bind a routable address only
    /// behind a firewall; the endpoints have no authentication).
    pub listen: SocketAddr,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            listen: DEFAULT_METRICS_LISTEN,
        }
    }
}
