//! The longest single turns of the sans-IO host while OPTIONS transactions
//! pile up: `N` out-of-dialog OPTIONS (default 400,000) at 60,000 a second
//! of host time, each fed through `handle_input` and drained, with a timer
//! turn every 16th; the ten slowest turns and where they fell. A table that
//! rehashes its keys when it doubles shows up here as a turn at 7/8 of a
//! power of two (hashbrown's load factor) that grows with the count.
//!
//! `cargo run --release --example dispatcher_pauses [N]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use callplane::call::{
    self, Host, HostConfig, HostEvent, HostIo, Input, RouteTarget, Router, Transmit,
};
use callplane::flow::{load_flow_json, FlowEnv};
use callplane::media::PromptCatalog;
use callplane::sip::SipTimers;
use callplane::time::{Time, WallClock};
use chrono::{TimeZone, Utc};

struct Shell(u64);
impl HostIo for Shell {
    fn transmit(&mut self, _t: Transmit, _d: &[u8]) {
        self.0 += 1;
    }
    fn event(&mut self, _e: HostEvent) -> Option<Input<'static>> {
        None
    }
}

fn main() {
    // OPTIONS need no flow: no route at all.
    let program = load_flow_json(r#"{"nodes":[]}"#).map(|l| l.program).ok();
    let router = Arc::new(Router::new(
        program.map(RouteTarget::new),
        Arc::new(FlowEnv::new()),
    ));
    let origin = Utc
        .with_ymd_and_hms(2026, 11, 23, 10, 0, 0)
        .single()
        .unwrap();
    let mut host = Host::new(
        HostConfig {
            shard: 0,
            sip_addr: "127.0.0.1:5060".parse().unwrap(),
            rtp_ip: "127.0.0.1".parse().unwrap(),
            rtp_advertised: None,
            sip_advertised: None,
            user_agent: "x".into(),
            answer_delay: Duration::ZERO,
            sip_timers: SipTimers::default(),
            session_timer: Default::default(),
            allowed_sources: Vec::new().into(),
            invite_rate_per_source: 0,
            registrations: Vec::new().into(),
            keepalives: Vec::new().into(),
            sip_tls_port: None,
            tls_only_sources: Vec::new().into(),
            wall: WallClock::new(origin),
            rtp_ports: (10000, 65534),
            shards: 1,
            jitter: (Duration::from_millis(20), Duration::from_millis(200)),
            srtp: Default::default(),
            codecs: Vec::new().into(),
            trunk_codecs: Vec::new().into(),
            dial_trunk: None,
            accept_refer: false,
            speech_timeout: None,
        },
        router,
        Arc::new(PromptCatalog::new()),
        1,
    );
    let from = "127.0.0.1:5061".parse().unwrap();
    let mut buf = vec![0u8; 65536];
    let mut shell = Shell(0);
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(400_000);
    let mut turns = Vec::with_capacity(n as usize);
    let t_all = Instant::now();
    for i in 0..n {
        let now = Time::from_micros(1_000_000 + i * 1_000_000 / 60_000);
        let id = format!("c{i}");
        let data = format!(
            "OPTIONS sip:1000@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-{id}\r\n\
             From: <sip:s@127.0.0.1:5061>;tag=f-{id}\r\nTo: <sip:1000@127.0.0.1:5060>\r\nCall-ID: {id}\r\n\
             CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").into_bytes();
        let t = Instant::now();
        host.handle_input(now, Input::Sip { from, data: &data });
        let _ = call::drain(&mut host, now, &mut buf, &mut shell);
        if i % 16 == 0 {
            host.handle_input(now, Input::Timeout);
            let _ = call::drain(&mut host, now, &mut buf, &mut shell);
        }
        let took = t.elapsed();
        turns.push((took, i));
    }
    turns.sort_unstable_by(|a, b| b.cmp(a));
    println!(
        "{n} OPTIONS in {:?}, {} answers sent; slowest turns:",
        t_all.elapsed(),
        shell.0
    );
    for (took, i) in turns.iter().take(10) {
        println!("{took:?} at #{i}");
    }
}
