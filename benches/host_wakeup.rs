//! AFTER figures for one `call::Host` wake-up and for the host-level RTP send
//! path, measured through the public API only (`call`, `flow`, `media`, `time`;
//! the counters are read once, in the verification, through `Host::stats`,
//! `Host::sip_stats` and `Host::dispatcher`). The same scenarios, sizes and
//! checks as the BEFORE bench of the old API, ported to the one-door host:
//! `handle_input` in, `poll_output` out, drained by `call::drain`.
//!
//! * `host_wakeup/<size>/none_due`: one wake-up of the shard loop
//!   (`handle_input(now, Input::Timeout)`, then `call::drain` until
//!   `Output::Timeout`, which is the next deadline) at an instant when nothing
//!   is due. Its parts alone: `none_due_handle_timeout_only` is
//!   `handle_input(Input::Timeout)` by itself; `none_due_poll_output_only` is
//!   one `poll_output` with nothing queued, i.e. reading the deadline as the
//!   drain's last call returning `Timeout` (the old `poll_timeout` has no
//!   equivalent of its own any more).
//! * `host_wakeup/<size>/50_due_first_wakeup`: the wake-up at a send slot where
//!   50 calls' media deadlines are due (only that wake-up is timed).
//! * `host_wakeup/<size>/50_due_slot`: every wake-up the shard loop makes for that
//!   slot, until the deadline the drain returns is past it (the counters line
//!   prints how many per slot).
//! * `rtp_path/<n>`: `now += 20 ms`, `handle_input(Input::Timeout)`, drain
//!   (every RTP packet written into the one 64 KiB buffer), with `n` answered
//!   calls all playing a prompt; throughput in packets.
//!
//! The host state (see [`build_state`]): live calls answered and ACKed that
//! sleep 600 s (so their only deadlines are the 20 ms media grid), calls set up
//! and then hung up by the caller with BYE, and OPTIONS requests. Transactions
//! by construction: one INVITE server transaction per call (Accepted until
//! Timer L, 32 s after the 200), one BYE server transaction per ended call and
//! one per OPTIONS (Timer J, 32 s): `live + ended + ended + options`, with the
//! default mix 5,000 + 5,000 + 5,000 + 5,000 = 20,000 (no client transaction:
//! callplane sends no BYE here). The ended calls' dialogs linger in the
//! dispatcher with their two transactions; the OPTIONS transactions are the
//! dispatcher's own. [`verify_state`] retransmits every one of those requests
//! once and checks that exactly one response is resent for each (each needs a
//! live transaction: an INVITE in Accepted, a BYE or an OPTIONS resends its
//! stored response), and checks the dispatcher's sizes
//! (`own_transactions() == options`, `lingering_dialogs() == ended`). The SIP
//! counters of a dialog are visible only once its call is gone, and
//! `calls_answered` counts calls when they end, so those checks count only the
//! ended calls' part.
//!
//! Clock design: the live calls are answered at `phases` instants spread
//! evenly over one 20 ms period, the same number of calls at each, so every
//! `20 ms / phases` exactly `live / phases` (= 50) media deadlines come due, and
//! half-way between two such instants nothing is due. All transactions are
//! created in the first 20 ms after `T0`, so the state holds until `T0 + 32 s`;
//! the benches rebuild it (untimed) before time gets there.
//!
//! A third size, 20,000 calls / 80,000 transactions, runs the `none_due`
//! benches only, to show whether a quiet wake-up grows with the calls held.
//!
//! Porting: [`new_host`], [`drain`], [`wake_up`] and [`verify_state`] are the
//! only functions that touch the host's API directly.

use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use callplane::call::{
    self, Host, HostConfig, HostEvent, HostIo, Input, Output, RouteTarget, Router, Socket, Transmit,
};
use callplane::flow::{load_flow_json, FlowEnv};
use callplane::media::{Prompt, PromptCatalog};
use callplane::sip::SipTimers;
use callplane::time::{Time, WallClock};
use chrono::{TimeZone, Utc};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{black_box, BenchmarkId, Criterion, Throughput};

const LOCAL: &str = "127.0.0.1:5060";
const CALLER: &str = "127.0.0.1:5061";
/// When the first datagram arrives.
const T0: Time = Time::from_millis(1_000);
/// The media send period.
const PERIOD: Duration = Duration::from_millis(20);
/// How long (host time) the rtp_path state is used before it is rebuilt.
const RTP_STATE_LIFETIME: Duration = Duration::from_secs(3000);
/// Timers J and L (64 × T1): the life of every transaction the state holds.
const TX_LIFETIME: Duration = Duration::from_secs(32);
/// Rebuild the state this long before its first transaction would expire.
const MARGIN: Duration = Duration::from_millis(500);
/// The shell's datagram buffer: `poll_output` needs room for any SIP datagram.
const BUF: usize = 64 * 1024;
/// The host's RTP port range: room for 20,000 live calls (every even port).
const RTP_PORTS: (u16, u16) = (10_000, 65_534);

/// Answers, then sleeps 10 minutes: the only deadlines are the media grid's.
const SLEEPER: &str = r#"{ "id": "sleeper", "version": 1, "actions": [
    { "type": "answer" },
    { "type": "sleep", "option": { "duration": 600000 } },
    { "type": "hangup" }
] }"#;

/// Answers, then plays a prompt over and over.
const PLAYER: &str = r#"{ "id": "player", "version": 1, "actions": [
    { "type": "answer" },
    { "id": "again", "type": "talk", "option": { "text": "bench prompt" } },
    { "type": "goto", "option": { "target_id": "again" } }
] }"#;

// ---------------------------------------------------------------------------
// What to build

/// One host's population.
#[derive(Clone, Copy, Debug)]
struct Spec {
    /// Answered, ACKed calls that stay up.
    live: usize,
    /// Calls answered, ACKed, then hung up by the caller with BYE.
    ended: usize,
    /// OPTIONS requests answered.
    options: usize,
    /// Distinct media phases of the live calls within one 20 ms period.
    phases: usize,
    flow: &'static str,
    /// Run only the `none_due` benches at this size.
    none_due_only: bool,
}

impl Spec {
    fn transactions(&self) -> usize {
        // INVITE server txs (live + ended), BYE server txs, OPTIONS server txs.
        self.live + self.ended + self.ended + self.options
    }
    fn step(&self) -> Duration {
        PERIOD / self.phases as u32
    }
    fn label(&self) -> String {
        format!("{}calls_{}tx", self.live, self.transactions())
    }
}

/// The host and what drives it, like the shard's event loop.
struct State {
    host: Host,
    /// The clock: the last instant the host was driven at.
    now: Time,
    /// The next deadline, as the last drain returned it ([`Time::NEVER`]: none).
    deadline: Time,
    /// Before this the state is the one built (no transaction has expired).
    valid_until: Time,
    /// Where `poll_output` writes datagrams (the shard's 64 KiB buffer).
    buf: Vec<u8>,
    /// Requests that created a transaction, kept for [`verify_state`].
    tx_requests: Vec<Vec<u8>>,
}

/// What one drain took out of the host.
#[derive(Clone, Copy, Debug, Default)]
struct Out {
    events: u64,
    cdrs: u64,
    sip: u64,
    rtp: u64,
    rtp_bytes: u64,
    rtcp: u64,
}

impl Out {
    fn add(&mut self, o: Out) {
        self.events += o.events;
        self.cdrs += o.cdrs;
        self.sip += o.sip;
        self.rtcp += o.rtcp;
        self.rtp += o.rtp;
        self.rtp_bytes += o.rtp_bytes;
    }
    fn is_empty(&self) -> bool {
        self.events == 0 && self.sip == 0 && self.rtp == 0
    }
}

// ---------------------------------------------------------------------------
// The functions that use the host's API

fn new_host(flow: &str, seed: u64) -> Host {
    let program = match load_flow_json(flow) {
        Ok(loaded) => loaded.program,
        Err(err) => panic!("bench flow does not load: {err}"),
    };
    let router = Arc::new(Router::new(
        Some(RouteTarget::new(program)),
        Arc::new(FlowEnv::new()),
    ));
    let origin = Utc
        .with_ymd_and_hms(2026, 11, 23, 10, 0, 0)
        .single()
        .unwrap();
    Host::new(
        HostConfig {
            shard: 0,
            sip_addr: LOCAL.parse().unwrap(),
            rtp_ip: "127.0.0.1".parse().unwrap(),
            rtp_advertised: None,
            sip_advertised: None,
            user_agent: "callplane-bench".into(),
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
            rtp_ports: RTP_PORTS,
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
        Arc::new(catalog()),
        seed,
    )
}

/// The bench's shell: counts what leaves the host, hands SIP datagrams to
/// `on_sip` and RTP packets to `on_rtp`, and binds every socket at once (a
/// `BindRtp` answered with `None`: it worked).
struct Shell<'a> {
    out: Out,
    on_sip: &'a mut dyn FnMut(&[u8]),
    on_rtp: &'a mut dyn FnMut(&[u8]),
}

impl HostIo for Shell<'_> {
    fn transmit(&mut self, transmit: Transmit, data: &[u8]) {
        black_box(transmit.dest);
        match transmit.socket {
            Socket::Sip | Socket::SipTcp(_) | Socket::SipTls(_) => {
                self.out.sip += 1;
                (self.on_sip)(data);
            }
            Socket::Rtcp(_) => self.out.rtcp += 1,
            Socket::Rtp(_) => {
                self.out.rtp += 1;
                self.out.rtp_bytes += data.len() as u64;
                (self.on_rtp)(data);
            }
        }
    }

    fn event(&mut self, event: HostEvent) -> Option<Input<'static>> {
        self.out.events += 1;
        match event {
            HostEvent::Cdr(_) => self.out.cdrs += 1,
            HostEvent::BindRtp { .. }
            | HostEvent::CloseRtp { .. }
            | HostEvent::Http { .. }
            | HostEvent::Speech { .. }
            | HostEvent::Recording(_)
            | HostEvent::ConnInUse { .. } => {}
        }
        None
    }
}

/// Takes everything out of the host as the shard does, through `call::drain`
/// (one reused 64 KiB buffer), and keeps the deadline it returns.
fn drain(
    st: &mut State,
    now: Time,
    on_sip: &mut dyn FnMut(&[u8]),
    on_rtp: &mut dyn FnMut(&[u8]),
) -> Out {
    let mut shell = Shell {
        out: Out::default(),
        on_sip,
        on_rtp,
    };
    st.deadline = call::drain(&mut st.host, now, &mut st.buf, &mut shell);
    shell.out
}

/// One turn of the shard loop at `now`: `handle_input(now, Input::Timeout)`,
/// drain (whose last `poll_output` gives the next deadline).
fn wake_up(st: &mut State, now: Time) -> Out {
    st.host.handle_input(now, Input::Timeout);
    st.now = now;
    drain(st, now, &mut |_| {}, &mut |_| {})
}

/// Builds a host holding `spec`'s calls and transactions, every datagram fed
/// through `handle_input(Input::Sip)` and drained like the shard does; then
/// runs its timers for two media periods so every live call sits on its 20 ms
/// grid.
fn build_state(spec: &Spec, seed: u64) -> State {
    assert!(spec.live.is_multiple_of(spec.phases) && spec.ended.is_multiple_of(spec.phases));
    assert!(spec.options.is_multiple_of(spec.phases));
    let mut st = State {
        host: new_host(spec.flow, seed),
        now: T0,
        deadline: Time::NEVER,
        valid_until: T0 + (TX_LIFETIME - MARGIN),
        buf: vec![0; BUF],
        tx_requests: Vec::new(),
    };
    let from: SocketAddr = CALLER.parse().unwrap();
    let step = spec.step();
    let (live, ended, options) = (
        spec.live / spec.phases,
        spec.ended / spec.phases,
        spec.options / spec.phases,
    );
    for phase in 0..spec.phases {
        let now = T0 + step * phase as u32;
        advance_to(&mut st, now);
        for i in 0..live {
            let id = format!("live-{}", phase * live + i);
            set_up_call(&mut st, from, now, &id);
        }
        for i in 0..ended {
            let id = format!("gone-{}", phase * ended + i);
            let tag = set_up_call(&mut st, from, now, &id);
            let bye = bye(&id, &tag);
            feed(&mut st, from, now, &bye, &mut |_| {});
            st.tx_requests.push(bye);
        }
        for i in 0..options {
            let request = options_request(&format!("opt-{}", phase * options + i));
            feed(&mut st, from, now, &request, &mut |_| {});
            st.tx_requests.push(request);
        }
    }
    advance_to(&mut st, T0 + PERIOD * 2);
    st
}

/// Checks the built state: calls, counters, the dispatcher's sizes, and that
/// every transaction-creating request still has its transaction (a
/// retransmission of each gets its response resent). Leaves the host as it was
/// but for counters and the resent responses (drained).
fn verify_state(st: &mut State, spec: &Spec) {
    let stats = st.host.stats();
    assert_eq!(st.host.active_calls(), spec.live, "live calls");
    assert_eq!(stats.calls_offered as usize, spec.live + spec.ended);
    // Counted when a call ends: only the ended calls so far.
    assert_eq!(
        stats.calls_answered as usize, spec.ended,
        "answered (ended)"
    );
    assert_eq!(stats.calls_ended as usize, spec.ended);
    assert_eq!(stats.calls_rejected + stats.bind_failures, 0);
    let dispatcher = st.host.dispatcher();
    assert_eq!(dispatcher.own_transactions(), spec.options, "OPTIONS txs");
    assert_eq!(dispatcher.lingering_dialogs(), spec.ended, "ended dialogs");
    // The dispatcher's own counters and the lingering (ended) dialogs'.
    let sip = st.host.sip_stats();
    let requests = 2 * spec.live + 3 * spec.ended + spec.options;
    assert_eq!(sip.requests as usize, requests, "requests fed");
    assert_eq!(sip.calls_offered as usize, spec.live + spec.ended);
    assert_eq!(
        sip.retransmits_sent, 0,
        "nothing retransmitted while building"
    );
    assert_eq!(sip.request_retransmits_absorbed, 0);
    assert_eq!(sip.unmatched_acks + sip.ack_timeouts + sip.bye_timeouts, 0);
    assert_eq!(st.tx_requests.len(), spec.transactions());
    let from: SocketAddr = CALLER.parse().unwrap();
    let now = st.now;
    let mut resent = 0u64;
    for request in std::mem::take(&mut st.tx_requests) {
        st.host.handle_input(
            now,
            Input::Sip {
                from,
                data: &request,
            },
        );
        let out = drain(st, now, &mut |_| {}, &mut |_| {});
        assert_eq!(
            (out.events, out.rtp),
            (0, 0),
            "a retransmission: no new work"
        );
        resent += out.sip;
    }
    assert_eq!(resent as usize, spec.transactions(), "live transactions");
    let after = st.host.sip_stats();
    // Visible: the ended calls' INVITEs and BYEs, and the OPTIONS.
    let visible = (2 * spec.ended + spec.options) as u64;
    assert_eq!(after.request_retransmits_absorbed, visible, "absorbed");
    assert_eq!(after.retransmits_sent, visible, "resent (visible part)");
    assert_eq!(after.calls_offered, sip.calls_offered, "no new call");
    assert_eq!(st.host.stats().calls_offered, stats.calls_offered);
    assert_eq!(st.host.active_calls(), spec.live);
    let dispatcher = st.host.dispatcher();
    assert_eq!(dispatcher.own_transactions(), spec.options);
    assert_eq!(dispatcher.lingering_dialogs(), spec.ended);
    eprintln!(
        "verify {}: {} live calls, {} CDRs so far, {} requests fed, {} live transactions \
         (responses resent: {resent}; {} OPTIONS txs, {} lingering dialogs; absorbed in \
         the ended dialogs and OPTIONS txs: {}), next deadline in {} us, state valid for \
         {:.1} s",
        spec.label(),
        st.host.active_calls(),
        stats.calls_ended,
        requests,
        spec.transactions(),
        dispatcher.own_transactions(),
        dispatcher.lingering_dialogs(),
        after.request_retransmits_absorbed,
        (st.deadline - st.now).as_micros(),
        (st.valid_until - st.now).as_secs_f64(),
    );
}

// ---------------------------------------------------------------------------
// Helpers built on those

fn feed(st: &mut State, from: SocketAddr, now: Time, data: &[u8], on_sip: &mut dyn FnMut(&[u8])) {
    st.host.handle_input(now, Input::Sip { from, data });
    st.now = now;
    drain(st, now, on_sip, &mut |_| {});
}

/// INVITE, then ACK of the 200; returns our To tag.
fn set_up_call(st: &mut State, from: SocketAddr, now: Time, id: &str) -> String {
    let mut tag = None;
    let request = invite(id);
    feed(st, from, now, &request, &mut |sip| {
        if let Some(t) = to_tag_of_200(sip) {
            tag = Some(t);
        }
    });
    st.tx_requests.push(request);
    let tag = tag.unwrap_or_else(|| panic!("call {id}: no 200 OK"));
    feed(st, from, now, &ack(id, &tag), &mut |_| {});
    tag
}

/// Runs every timer due up to `until`, at its deadline, as the loop would.
fn advance_to(st: &mut State, until: Time) {
    while st.deadline <= until {
        let now = st.deadline.max(st.now);
        wake_up(st, now);
    }
    st.now = st.now.max(until);
}

/// Serves the next deadline: every wake-up the loop makes at that instant,
/// until the deadline the drain returns is past it. Only the wake-ups are
/// added to `timed` (each includes reading the next deadline: the drain's last
/// `poll_output`). Returns (instant, wake-ups, first one's output, all output).
fn serve_next(st: &mut State, timed: &mut Duration) -> (Time, u32, Out, Out) {
    assert!(st.deadline != Time::NEVER, "a deadline");
    let at = st.deadline.max(st.now);
    let started = tick();
    let first = wake_up(st, at);
    *timed += tick() - started;
    let mut all = first;
    let mut wakeups = 1;
    while st.deadline <= at {
        let started = tick();
        let out = wake_up(st, at);
        *timed += tick() - started;
        all.add(out);
        wakeups += 1;
    }
    (at, wakeups, first, all)
}

// ---------------------------------------------------------------------------
// SIP text

fn invite(id: &str) -> Vec<u8> {
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
               m=audio 6000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
               a=rtpmap:101 telephone-event/8000\r\n";
    format!(
        "INVITE sip:1000@{LOCAL} SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bK-{id}\r\n\
         From: sipp <sip:sipp@{CALLER}>;tag=f-{id}\r\nTo: <sip:1000@{LOCAL}>\r\nCall-ID: {id}\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:sipp@{CALLER}>\r\nMax-Forwards: 70\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
    .into_bytes()
}

fn ack(id: &str, tag: &str) -> Vec<u8> {
    format!(
        "ACK sip:callplane@{LOCAL} SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bK-ack-{id}\r\n\
         From: sipp <sip:sipp@{CALLER}>;tag=f-{id}\r\nTo: <sip:1000@{LOCAL}>;tag={tag}\r\n\
         Call-ID: {id}\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn bye(id: &str, tag: &str) -> Vec<u8> {
    format!(
        "BYE sip:callplane@{LOCAL} SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bK-bye-{id}\r\n\
         From: sipp <sip:sipp@{CALLER}>;tag=f-{id}\r\nTo: <sip:1000@{LOCAL}>;tag={tag}\r\n\
         Call-ID: {id}\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn options_request(id: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:1000@{LOCAL} SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bK-{id}\r\n\
         From: sipp <sip:sipp@{CALLER}>;tag=f-{id}\r\nTo: <sip:1000@{LOCAL}>\r\nCall-ID: {id}\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// The To tag of a 200 OK to an INVITE.
fn to_tag_of_200(sip: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(sip).ok()?;
    if !text.starts_with("SIP/2.0 200") || !text.contains("CSeq: 1 INVITE") {
        return None;
    }
    text.lines()
        .find(|l| l.starts_with("To:"))
        .and_then(|l| l.split("tag=").nth(1))
        .map(|t| t.trim().to_string())
}

fn catalog() -> PromptCatalog {
    // 60 s: a flow may hand out 100 commands (flow::EXECUTION_LIMIT), so the
    // PLAYER loop keeps a call up for 99 minutes of host time.
    let samples = (0..8000 * 60)
        .map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16)
        .collect();
    let mut catalog = PromptCatalog::new();
    catalog.insert(Prompt::from_samples(
        "bench",
        Some("bench prompt".into()),
        samples,
    ));
    catalog
}

// ---------------------------------------------------------------------------
// The benches

/// One size's host, rebuilt (untimed) when its transactions near expiry.
struct Bed {
    spec: Spec,
    state: Option<State>,
    builds: Cell<u32>,
}

impl Bed {
    fn new(spec: Spec) -> Bed {
        let started = Instant::now();
        let mut st = build_state(&spec, 7);
        let took = started.elapsed();
        verify_state(&mut st, &spec);
        eprintln!("build {}: {:.2} s", spec.label(), took.as_secs_f64());
        Bed {
            spec,
            state: Some(st),
            builds: Cell::new(1),
        }
    }

    /// The state, with room for at least one more slot before expiry.
    fn state(&mut self) -> &mut State {
        let room = self.spec.step() * 3;
        if self
            .state
            .as_ref()
            .is_none_or(|s| s.now + room >= s.valid_until)
        {
            self.state = None;
            self.state = Some(build_state(&self.spec, 7));
            self.builds.set(self.builds.get() + 1);
        }
        self.state.as_mut().unwrap()
    }
}

fn host_wakeup<M: Measurement<Value = Duration>>(c: &mut Criterion<M>, suffix: &str) {
    let sizes = [
        Spec {
            live: 500,
            ended: 500,
            options: 500,
            phases: 10,
            flow: SLEEPER,
            none_due_only: false,
        },
        Spec {
            live: 5_000,
            ended: 5_000,
            options: 5_000,
            phases: 100,
            flow: SLEEPER,
            none_due_only: false,
        },
        Spec {
            live: 20_000,
            ended: 20_000,
            options: 20_000,
            phases: 400,
            flow: SLEEPER,
            none_due_only: true,
        },
    ];
    let mut group = c.benchmark_group(format!("host_wakeup{suffix}"));
    group.sample_size(30);
    for spec in sizes {
        let mut bed = Bed::new(spec);
        let label = spec.label();

        // (a) none due: half-way between two send slots.
        {
            let st = bed.state();
            let mut untimed = Duration::ZERO;
            let (slot, ..) = serve_next(st, &mut untimed);
            let quiet = slot + spec.step() / 2;
            let next = st.deadline;
            assert!(next > quiet, "something due at the quiet instant");
            let mut iterations = 0u64;
            let mut out = Out::default();
            group.bench_function(BenchmarkId::new("none_due", &label), |b| {
                b.iter(|| {
                    let o = wake_up(st, quiet);
                    iterations += 1;
                    out.add(o);
                })
            });
            assert!(out.is_empty(), "a quiet wake-up produced {out:?}");
            assert_eq!(st.deadline, next, "the quiet wake-up moved the deadline");
            // Its two parts alone. Reading the deadline: one `poll_output`
            // with nothing queued, which returns `Timeout(next)`.
            let mut polls = 0u64;
            let mut stray = 0u64;
            group.bench_function(BenchmarkId::new("none_due_poll_output_only", &label), |b| {
                b.iter(|| {
                    let output = black_box(st.host.poll_output(&mut st.buf));
                    polls += 1;
                    stray += u64::from(!matches!(output, Output::Timeout(at) if at == next));
                })
            });
            assert_eq!(
                stray, 0,
                "poll_output with nothing due returned other than Timeout"
            );
            group.bench_function(
                BenchmarkId::new("none_due_handle_timeout_only", &label),
                |b| b.iter(|| st.host.handle_input(black_box(quiet), Input::Timeout)),
            );
            // Nothing was due: nothing to drain, the same deadline.
            let left = drain(st, quiet, &mut |_| {}, &mut |_| {});
            assert!(
                left.is_empty(),
                "handle_input(Timeout) when quiet left {left:?}"
            );
            assert_eq!(st.deadline, next);
            eprintln!(
                "counters none_due {label}: {iterations} wake-ups at +{} us after a slot \
                 (next deadline +{} us), output {out:?}; {polls} poll_output calls, all \
                 Timeout(next)",
                (quiet - slot).as_micros(),
                (next - slot).as_micros()
            );
        }
        if spec.none_due_only {
            continue;
        }

        // (b) 50 due: each iteration moves the clock to the next send slot.
        let mut slots = 0u64;
        let mut first_out = Out::default();
        let mut wakeups = 0u64;
        let mut later_out = Out::default();
        group.bench_function(BenchmarkId::new("50_due_first_wakeup", &label), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let st = bed.state();
                    let at = st.deadline.max(st.now);
                    let started = tick();
                    let first = wake_up(st, at);
                    timed += tick() - started;
                    // The rest of the slot, untimed.
                    let mut n = 1;
                    while st.deadline <= at {
                        later_out.add(wake_up(st, at));
                        n += 1;
                    }
                    slots += 1;
                    wakeups += n;
                    first_out.add(first);
                }
                timed
            })
        });
        assert_eq!(
            first_out.rtp,
            slots * 50,
            "50 packets in each slot's first wake-up"
        );
        eprintln!(
            "counters 50_due_first_wakeup {label}: {slots} slots; per slot: {:.2} RTP packets \
             and {:.2} SIP datagrams in the first wake-up, {:.2} wake-ups, {:.2} packets after \
             the first; builds so far {}",
            first_out.rtp as f64 / slots as f64,
            first_out.sip as f64 / slots as f64,
            wakeups as f64 / slots as f64,
            later_out.rtp as f64 / slots as f64,
            bed.builds.get()
        );

        let mut slots = 0u64;
        let mut wakeups = 0u64;
        let mut all = Out::default();
        let mut first_rtp = 0u64;
        group.bench_function(BenchmarkId::new("50_due_slot", &label), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let st = bed.state();
                    let (_, n, first, out) = serve_next(st, &mut timed);
                    slots += 1;
                    wakeups += n as u64;
                    first_rtp += first.rtp;
                    all.add(out);
                }
                timed
            })
        });
        assert_eq!(all.rtp, slots * 50, "50 packets per slot");
        eprintln!(
            "counters 50_due_slot {label}: {slots} slots; per slot: {:.2} wake-ups, {:.2} RTP \
             packets ({:.2} in the first wake-up), {:.2} SIP datagrams, {:.2} events; builds {}",
            wakeups as f64 / slots as f64,
            all.rtp as f64 / slots as f64,
            first_rtp as f64 / slots as f64,
            all.sip as f64 / slots as f64,
            all.events as f64 / slots as f64,
            bed.builds.get()
        );
    }
    group.finish();
}

/// `n` answered calls, all answered at one instant and playing a prompt in a
/// loop; the clock is then moved past Timer L so no SIP transaction is left.
fn build_rtp_state(n: usize) -> State {
    let spec = Spec {
        live: n,
        ended: 0,
        options: 0,
        phases: 1,
        flow: PLAYER,
        none_due_only: false,
    };
    let mut st = build_state(&spec, 11);
    st.tx_requests.clear();
    let past = T0 + TX_LIFETIME + Duration::from_secs(1);
    wake_up(&mut st, past);
    advance_to(&mut st, past);
    st.valid_until = Time::NEVER;
    // One period: every call sends one packet, with prompt audio in it.
    st.now += PERIOD;
    let now = st.now;
    st.host.handle_input(now, Input::Timeout);
    let mut loud = 0usize;
    let out = drain(&mut st, now, &mut |_| {}, &mut |rtp| {
        // PCMU silence is 0xFF: prompt audio has other bytes in the payload.
        if rtp[12..].iter().any(|&b| b != 0xFF) {
            loud += 1;
        }
    });
    assert_eq!(st.host.active_calls(), n);
    assert_eq!(out.rtp as usize, n, "one packet per call per period");
    assert_eq!(loud, n, "every call plays prompt audio");
    assert_eq!(out.sip, 0);
    assert_eq!(st.host.dispatcher().own_transactions(), 0);
    eprintln!(
        "verify rtp_path {n}: {} calls, {} packets per 20 ms, {loud} with prompt audio, \
         {} bytes each",
        n,
        out.rtp,
        out.rtp_bytes / out.rtp
    );
    st
}

fn rtp_path<M: Measurement<Value = Duration>>(c: &mut Criterion<M>, suffix: &str) {
    let mut group = c.benchmark_group(format!("rtp_path{suffix}"));
    group.sample_size(30);
    for n in [500usize, 5_000] {
        let mut st = build_rtp_state(n);
        let mut periods = 0u64;
        let mut out = Out::default();
        group.throughput(Throughput::Elements(n as u64));
        let mut builds = 1;
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    // Well before the flow's command limit ends the calls.
                    if st.now > T0 + RTP_STATE_LIFETIME {
                        st = build_rtp_state(n);
                        builds += 1;
                    }
                    let started = tick();
                    st.now += PERIOD;
                    let now = st.now;
                    st.host.handle_input(now, Input::Timeout);
                    let o = drain(&mut st, now, &mut |_| {}, &mut |_| {});
                    timed += tick() - started;
                    periods += 1;
                    out.add(o);
                }
                timed
            })
        });
        assert_eq!(out.rtp, periods * n as u64, "a packet per call per period");
        eprintln!(
            "counters rtp_path {n}: {periods} periods, {:.2} packets per period, {:.3} SIP, \
             {:.3} events per period, clock at {:.1} s, {builds} builds",
            out.rtp as f64 / periods as f64,
            out.sip as f64 / periods as f64,
            out.events as f64 / periods as f64,
            st.now.as_micros() as f64 / 1e6
        );
    }
    group.finish();
}

// ---------------------------------------------------------------------------
// Clocks: wall time (criterion's default), or with BENCH_CLOCK=cpu this
// thread's CPU time, which leaves out the time the thread spent descheduled
// on a machine shared with other builds (cache and memory contention remain).

static CPU_CLOCK: AtomicBool = AtomicBool::new(false);

/// The selected clock's reading, for the benches that time parts of an iteration.
fn tick() -> Duration {
    if CPU_CLOCK.load(Ordering::Relaxed) {
        thread_cpu_time()
    } else {
        static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        ORIGIN.get_or_init(Instant::now).elapsed()
    }
}

fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Criterion measurement: this thread's CPU time.
struct ThreadCpuTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;
    fn start(&self) -> Duration {
        thread_cpu_time()
    }
    fn end(&self, started: Duration) -> Duration {
        thread_cpu_time().saturating_sub(started)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WallTime.formatter()
    }
}

fn main() {
    if std::env::var("BENCH_CLOCK").as_deref() == Ok("cpu") {
        CPU_CLOCK.store(true, Ordering::Relaxed);
        let mut c = Criterion::default()
            .with_measurement(ThreadCpuTime)
            .configure_from_args();
        host_wakeup(&mut c, "_cpu");
        rtp_path(&mut c, "_cpu");
        c.final_summary();
    } else {
        let mut c = Criterion::default().configure_from_args();
        host_wakeup(&mut c, "");
        rtp_path(&mut c, "");
        c.final_summary();
    }
}
