//! What the simulated host is built from: a catalog of tone prompts (one per
//! prompt the demo and test flows name), compiled flows, routers and the
//! host's settings.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::call::{HostConfig, RouteTarget, Router};
use crate::flow::{load_flow_json, FlowEnv, Program};
use crate::media::{Prompt, PromptCatalog};
use crate::time::WallClock;

/// A prompt of `millis` ms of a (non-silent) tone.
fn tone(id: &str, millis: usize) -> Prompt {
    let samples = (0..millis * 8)
        .map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16)
        .collect();
    Prompt::from_samples(id, Some(format!("{id} text")), samples)
}

/// Welcome 400 ms, menu 600 ms, sales and support 300 ms, invalid and goodbye 200 ms.
pub(crate) fn catalog() -> PromptCatalog {
    let mut catalog = PromptCatalog::new();
    for (id, ms) in [
        ("welcome", 400),
        ("menu", 600),
        ("sales", 300),
        ("support", 300),
        ("invalid", 200),
        ("goodbye", 200),
    ] {
        catalog.insert(tone(id, ms));
    }
    catalog
}

/// `json` compiled; panics if it does not load.
pub(crate) fn program(json: &str) -> Arc<Program> {
    match load_flow_json(json) {
        Ok(loaded) => loaded.program,
        Err(err) => panic!("test flow does not load: {err:?}"),
    }
}

/// A router that sends every number to the flow `json`.
pub(crate) fn router(json: &str) -> Arc<Router> {
    Arc::new(Router::new(
        Some(RouteTarget::new(program(json))),
        Arc::new(FlowEnv::new()),
    ))
}

/// A router with no routes and no default: every call is refused 404.
pub(crate) fn no_routes() -> Arc<Router> {
    Arc::new(Router::new(None, Arc::new(FlowEnv::new())))
}

fn origin() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// Shard 0 of 1 on `sip_addr`, RTP ports 20002..=20999 on the same IP.
pub(crate) fn host_config(sip_addr: std::net::SocketAddr, answer_delay: Duration) -> HostConfig {
    HostConfig {
        shard: 0,
        sip_addr,
        rtp_ip: sip_addr.ip(),
        rtp_advertised: None,
        sip_advertised: None,
        user_agent: "callplane-test".into(),
        answer_delay,
        sip_timers: crate::sip::SipTimers::default(),
        session_timer: crate::sip::SessionTimerSettings::default(),
        allowed_sources: Vec::new().into(),
        invite_rate_per_source: 0,
        registrations: Vec::new().into(),
        keepalives: Vec::new().into(),
        sip_tls_port: None,
        tls_only_sources: Vec::new().into(),
        wall: WallClock::new(origin()),
        rtp_ports: (20002, 20999),
        shards: 1,
        jitter: (Duration::from_millis(20), Duration::from_millis(200)),
        srtp: Default::default(),
        codecs: Vec::new().into(),
        trunk_codecs: Vec::new().into(),
        dial_trunk: None,
        accept_refer: false,
        speech_timeout: None,
    }
}
