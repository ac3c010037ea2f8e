//! The sans-IO load generator of one thread: starts calls at a rate up to a
//! concurrency, for a count or a duration, through the SIP [`Dispatcher`]'s
//! client side, drives each [`BenchCall`]'s script and media, and keeps what
//! they measured.
//!
//! Inputs: [`Generator::handle_timeout`], [`Generator::handle_rtp_socket`]
//! (the socket a call asked for is bound), [`Generator::handle_sip`],
//! [`Generator::handle_rtp`]; output: [`Generator::poll_output`]. After every
//! input, drain `poll_output` until it returns [`Output::Timeout`]. Every
//! deadline sits in a heap: a wake-up costs O(due · log n).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::sip::{
    build_offer_with, AudioCodec, DialogOutput, DialogOwner, Dispatcher, DispatcherOutput,
    OutboundInvite, Routed, SipSettings, SipTimers, Transmit,
};
use crate::time::Time;

use super::call::{BenchCall, CallRecord, CallShared};

/// Which socket a datagram leaves by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// The generator's SIP socket.
    Sip,
    /// The RTP socket of call `key`.
    Rtp(u64),
}

/// What the generator wants done next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Bind an RTP socket for call `key`, then call [`Generator::handle_rtp_socket`].
    BindRtp(u64),
    /// Send the first `len` bytes of the buffer given to `poll_output` to `dest`.
    Transmit {
        /// The socket.
        via: Via,
        /// Where to.
        dest: SocketAddr,
        /// How many bytes of the buffer.
        len: usize,
    },
    /// Close call `key`'s RTP socket.
    CloseRtp(u64),
    /// Nothing more until then ([`Time::NEVER`]: done).
    Timeout(Time),
}

/// How much load, where, and for how long.
#[derive(Clone, Debug)]
pub struct GeneratorConfig {
    /// Where the INVITEs go.
    pub target: SocketAddr,
    /// The user part of the Request-URI.
    pub number: String,
    /// Our SIP socket's address (Via, Contact).
    pub local_sip: SocketAddr,
    /// Calls started per second.
    pub cps: f64,
    /// Most calls up at once.
    pub concurrent: usize,
    /// Stop starting calls after this many; `None`: no count.
    pub calls: Option<u64>,
    /// Stop starting calls after this long; `None`: no limit.
    pub duration: Option<Duration>,
    /// Seed of the SIP tags and Call-IDs.
    pub seed: u64,
}

/// Counters for the live progress line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Calls started.
    pub started: u64,
    /// Calls up (placed, not ended).
    pub active: u64,
    /// Calls ended.
    pub finished: u64,
    /// Calls failed.
    pub failed: u64,
}

/// Per-second figures.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Second {
    /// Calls started in this second.
    pub started: u64,
    /// The most calls up at once in it.
    pub active: u64,
    /// Calls that failed in it.
    pub failed: u64,
}

enum Pending {
    Bind(u64),
    Sip(Transmit),
    Close(u64),
}

/// The generator of one thread.
pub struct Generator {
    config: GeneratorConfig,
    shared: Arc<CallShared>,
    dispatcher: Dispatcher,
    calls: HashMap<u64, BenchCall>,
    /// Calls waiting for their RTP socket.
    binding: usize,
    next_key: u64,
    started: u64,
    failed: u64,
    origin: Time,
    next_start: Time,
    stopped: bool,
    heap: BinaryHeap<Reverse<(Time, u64)>>,
    dispatcher_deadline: Time,
    pending: VecDeque<Pending>,
    rtp_due: VecDeque<u64>,
    now: Time,
    records: Vec<CallRecord>,
    gaps_us: Vec<u32>,
    seconds: Vec<Second>,
}

/// The key of the dispatcher's own timers in the heap.
const DISPATCHER: u64 = u64::MAX;

impl Generator {
    /// A generator whose first call starts at `now`.
    pub fn new(now: Time, config: GeneratorConfig, shared: Arc<CallShared>) -> Generator {
        let settings = SipSettings {
            local_addr: config.local_sip,
            user_agent: "callplane-bench".into(),
            timers: SipTimers::default(),
            session_timer: Default::default(),
        };
        let dispatcher = Dispatcher::new(settings, config.seed);
        Generator {
            config,
            shared,
            dispatcher,
            calls: HashMap::new(),
            binding: 0,
            next_key: 0,
            started: 0,
            failed: 0,
            origin: now,
            next_start: now,
            stopped: false,
            heap: BinaryHeap::new(),
            dispatcher_deadline: Time::NEVER,
            pending: VecDeque::new(),
            rtp_due: VecDeque::new(),
            now,
            records: Vec::new(),
            gaps_us: Vec::new(),
            seconds: Vec::new(),
        }
    }

    /// Starts no more calls (those up finish their scripts).
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    fn may_start_more(&self, now: Time) -> bool {
        if self.stopped {
            return false;
        }
        if let Some(calls) = self.config.calls {
            if self.started >= calls {
                return false;
            }
        }
        if let Some(duration) = self.config.duration {
            if self.origin + duration <= now {
                return false;
            }
        }
        true
    }

    /// Whether every call has been started and has ended.
    pub fn is_done(&self) -> bool {
        !self.may_start_more(self.now) && self.calls.is_empty() && self.binding == 0
    }

    fn second(&mut self, now: Time) -> &mut Second {
        let index = (now.as_micros().saturating_sub(self.origin.as_micros()) / 1_000_000) as usize;
        if self.seconds.len() <= index {
            self.seconds.resize(index + 1, Second::default());
        }
        &mut self.seconds[index]
    }

    fn start_due_calls(&mut self, now: Time) {
        let interval = Duration::from_secs_f64(1.0 / self.config.cps.max(1e-3));
        while self.may_start_more(now)
            && self.next_start <= now
            && self.calls.len() + self.binding < self.config.concurrent
        {
            // A backlog of more than a second (the concurrency held calls
            // back) is not made up in a burst.
            if now - self.next_start > Duration::from_secs(1) {
                self.next_start = now;
            }
            self.next_start += interval;
            let key = self.next_key;
            self.next_key += 1;
            self.started += 1;
            self.binding += 1;
            self.second(now).started += 1;
            self.pending.push_back(Pending::Bind(key));
        }
    }

    /// The RTP socket of call `key` is bound at `local` (or could not be:
    /// `None`, and the call counts as failed).
    pub fn handle_rtp_socket(&mut self, now: Time, key: u64, local: Option<SocketAddr>) {
        self.now = now;
        self.binding = self.binding.saturating_sub(1);
        let Some(local) = local else {
            self.failed += 1;
            self.second(now).failed += 1;
            self.records.push(CallRecord {
                call_id: String::new(),
                started_s: (now - self.origin).as_secs_f64(),
                setup_ms: None,
                duration_s: 0.0,
                ended: "no RTP socket".into(),
                failure: Some("could not bind an RTP socket".into()),
                receive: Default::default(),
                prompts: Vec::new(),
                prompts_ok: None,
                dtmf_latency_ms: Vec::new(),
                dtmf_onset_latency_ms: Vec::new(),
            });
            return;
        };
        let ip: IpAddr = local.ip();
        let offer = build_offer_with(
            key,
            ip,
            local.port(),
            &[AudioCodec::Pcmu, AudioCodec::Pcma],
            None,
        );
        let target = self.config.target;
        let number = &self.config.number;
        let invite = OutboundInvite {
            request_uri: format!("sip:{number}@{target}"),
            from: format!("<sip:bench@{}>", self.config.local_sip),
            to: format!("<sip:{number}@{target}>"),
            dest: target,
            route: Vec::new(),
            sdp_offer: offer,
            credentials: None,
            extra_headers: Vec::new(),
        };
        let dialog = self.dispatcher.place_call(now, invite, DialogOwner(key));
        self.calls
            .insert(key, BenchCall::new(now, dialog, self.shared.clone()));
        let active = self.calls.len() as u64;
        let second = self.second(now);
        second.active = second.active.max(active);
        self.after_call_input(now, key);
    }

    /// A datagram on the SIP socket.
    pub fn handle_sip(&mut self, now: Time, from: SocketAddr, data: &[u8]) {
        self.now = now;
        match self.dispatcher.handle_datagram(now, from, data) {
            Some(Routed::Dialog { owner, message }) => {
                if let Some(dialog) = self
                    .calls
                    .get_mut(&owner.0)
                    .and_then(|call| call.dialog_mut())
                {
                    dialog.handle_message(now, message);
                }
                self.after_call_input(now, owner.0);
            }
            Some(Routed::NewInvite(invite)) => {
                let _ = self.dispatcher.reject(now, *invite, 603);
            }
            None => {}
        }
        self.drain_dispatcher();
    }

    /// A datagram on call `key`'s RTP socket.
    pub fn handle_rtp(&mut self, now: Time, key: u64, data: &[u8]) {
        self.now = now;
        if let Some(call) = self.calls.get_mut(&key) {
            call.on_rtp(now, data);
        }
    }

    /// Runs every timer due at `now` and starts the calls due.
    pub fn handle_timeout(&mut self, now: Time) {
        self.now = now;
        if self.dispatcher_deadline <= now {
            self.dispatcher.handle_timeout(now);
            self.dispatcher_deadline = Time::NEVER;
            self.drain_dispatcher();
        }
        // Take every due entry first: handling one may schedule its call
        // again at `now` (an RTP packet due, sent from `poll_output`).
        let mut due = Vec::new();
        while let Some(&Reverse((at, key))) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            due.push((at, key));
        }
        for (at, key) in due {
            let live = self
                .calls
                .get(&key)
                .is_some_and(|call| call.scheduled == at);
            if !live {
                continue;
            }
            if let Some(call) = self.calls.get_mut(&key) {
                call.scheduled = Time::NEVER;
                call.on_timeout(now);
                if call.rtp_due(now) {
                    self.rtp_due.push_back(key);
                }
            }
            self.after_call_input(now, key);
        }
        self.start_due_calls(now);
    }

    fn drain_dispatcher(&mut self) {
        loop {
            match self.dispatcher.poll_output() {
                DispatcherOutput::Transmit(transmit) => {
                    self.pending.push_back(Pending::Sip(transmit))
                }
                DispatcherOutput::Timeout(at) => {
                    if at < self.dispatcher_deadline {
                        self.heap.push(Reverse((at, DISPATCHER)));
                    }
                    self.dispatcher_deadline = at;
                    return;
                }
            }
        }
    }

    /// Drains call `key`'s dialog, ends the call when it is over, and
    /// schedules its next wake-up.
    fn after_call_input(&mut self, now: Time, key: u64) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        while let Some(dialog) = call.dialog_mut() {
            match dialog.poll_output() {
                DialogOutput::Transmit(transmit) => self.pending.push_back(Pending::Sip(transmit)),
                DialogOutput::Event(event) => call.on_dialog_event(now, event),
                DialogOutput::Timeout(at) => {
                    call.set_dialog_deadline(at);
                    break;
                }
            }
        }
        if call.is_over() {
            self.end_call(now, key);
            return;
        }
        let next = call.next_deadline();
        if next < call.scheduled || call.scheduled <= now {
            call.scheduled = next;
            if next != Time::NEVER {
                self.heap.push(Reverse((next, key)));
            }
        }
    }

    fn end_call(&mut self, now: Time, key: u64) {
        let Some(mut call) = self.calls.remove(&key) else {
            return;
        };
        let record = call.record(self.origin);
        self.gaps_us.extend_from_slice(call.gaps_us());
        if let Some(dialog) = call.take_dialog() {
            self.dispatcher.release(dialog);
            self.drain_dispatcher();
        }
        if record.failure.is_some() {
            self.failed += 1;
            self.second(now).failed += 1;
        }
        self.records.push(record);
        self.pending.push_back(Pending::Close(key));
        self.start_due_calls(now);
    }

    /// The next thing to do; RTP and SIP datagrams are written into `buf`.
    pub fn poll_output(&mut self, buf: &mut [u8]) -> Output {
        let now = self.now;
        while let Some(key) = self.rtp_due.pop_front() {
            let Some(call) = self.calls.get_mut(&key) else {
                continue;
            };
            if let Some((dest, len)) = call.write_rtp(now, buf) {
                if call.rtp_due(now) {
                    self.rtp_due.push_front(key);
                } else {
                    self.after_call_input(now, key);
                }
                return Output::Transmit {
                    via: Via::Rtp(key),
                    dest,
                    len,
                };
            }
            self.after_call_input(now, key);
        }
        while let Some(pending) = self.pending.pop_front() {
            match pending {
                Pending::Bind(key) => return Output::BindRtp(key),
                Pending::Close(key) => return Output::CloseRtp(key),
                Pending::Sip(transmit) => {
                    let len = transmit.payload.len();
                    if len > buf.len() {
                        continue;
                    }
                    buf[..len].copy_from_slice(&transmit.payload);
                    return Output::Transmit {
                        via: Via::Sip,
                        dest: transmit.dest,
                        len,
                    };
                }
            }
        }
        let mut next = self.heap.peek().map_or(Time::NEVER, |Reverse((at, _))| *at);
        if self.may_start_more(now) && self.calls.len() + self.binding < self.config.concurrent {
            next = next.min(self.next_start);
        }
        if let Some(duration) = self.config.duration {
            if !self.stopped && self.origin + duration > now {
                next = next.min(self.origin + duration);
            }
        }
        Output::Timeout(next)
    }

    /// Counters for the progress line.
    pub fn progress(&self) -> Progress {
        Progress {
            started: self.started,
            active: self.calls.len() as u64,
            finished: self.records.len() as u64,
            failed: self.failed,
        }
    }

    /// What the calls measured (their records, every gap between arrivals
    /// in µs, per-second figures); ends calls still up as unfinished.
    pub fn finish(mut self) -> (Vec<CallRecord>, Vec<u32>, Vec<Second>) {
        let keys: Vec<u64> = self.calls.keys().copied().collect();
        for key in keys {
            if let Some(mut call) = self.calls.remove(&key) {
                let mut record = call.record(self.origin);
                record.failure.get_or_insert_with(|| "unfinished".into());
                self.records.push(record);
            }
        }
        (self.records, self.gaps_us, self.seconds)
    }
}
