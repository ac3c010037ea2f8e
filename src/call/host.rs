//! All the calls of one shard over that shard's SIP endpoint: the sans-IO core
//! the shard's event loop drives.
//!
//! The loop feeds it datagrams ([`Host::handle_sip`], [`Host::handle_rtp`]),
//! the results of socket requests ([`Host::media_opened`]) and the clock
//! ([`Host::handle_timeout`]), and drains what it wants done: SIP datagrams
//! ([`Host::poll_sip_transmit`]), RTP packets written straight into the loop's
//! buffer ([`Host::poll_rtp_transmit`]) and [`HostEvent`]s (open or close an
//! RTP socket, write a CDR). Timers are kept in a heap keyed by each call's
//! next deadline, so a wake-up touches only the calls that are due.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::media::PromptCatalog;
use crate::sip::{self, negotiate, CallId, Endpoint, EndpointConfig, Event, TerminatedReason};
use crate::time::Time;

use super::cdr::{CdrRecord, HangupCause, HangupSide};
use super::http::{HttpRequest, HttpResult};
use super::inbound::{Call, CallAction, CallHandle, CallParties, CallPlan, RtpSeed};
use super::routing::Router;
use super::wall::WallClock;

/// What the IO shell must do for the host.
#[derive(Debug)]
pub enum HostEvent {
    /// Bind an RTP socket on `ip` for `call` and report with [`Host::media_opened`]
    /// or [`Host::media_failed`].
    OpenRtp { call: CallHandle, ip: IpAddr },
    /// The call is over: close its RTP socket.
    CloseRtp { call: CallHandle },
    /// Append this record to the CDR file.
    Cdr(Box<CdrRecord>),
    /// Perform this request and, when `reply`, report with [`Host::http_done`].
    Http {
        call: CallHandle,
        request: HttpRequest,
        reply: bool,
    },
}

/// Settings of one shard's host.
#[derive(Clone, Debug)]
pub struct HostConfig {
    pub shard: usize,
    pub sip_addr: SocketAddr,
    pub rtp_ip: IpAddr,
    pub user_agent: String,
    pub answer_delay: Duration,
    /// UTC at the shell's time origin, for schedules and date conditions.
    pub wall: WallClock,
}

/// Counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostStats {
    pub calls_offered: u64,
    pub calls_answered: u64,
    pub calls_rejected: u64,
    pub calls_ended: u64,
    pub rtp_for_unknown_call: u64,
    /// Flow commands that failed because their media side is not available yet.
    pub unsupported_commands: u64,
    /// Prompts flows named that the catalog lacks.
    pub missing_prompts: u64,
}

/// The calls of one shard.
pub struct Host {
    config: HostConfig,
    endpoint: Endpoint,
    router: Arc<Router>,
    prompts: Arc<PromptCatalog>,
    calls: HashMap<CallHandle, Call>,
    by_sip: HashMap<CallId, CallHandle>,
    timers: BinaryHeap<Reverse<(Time, CallHandle)>>,
    scheduled: HashMap<CallHandle, Time>,
    rtp_due: VecDeque<CallHandle>,
    due_scratch: Vec<CallHandle>,
    events: VecDeque<HostEvent>,
    rng: fastrand::Rng,
    next_handle: u64,
    draining: bool,
    stats: HostStats,
}

impl Host {
    /// A host with no calls.
    pub fn new(
        config: HostConfig,
        router: Arc<Router>,
        prompts: Arc<PromptCatalog>,
        seed: u64,
    ) -> Host {
        let endpoint = Endpoint::new(
            EndpointConfig {
                local_addr: config.sip_addr,
                user_agent: config.user_agent.clone(),
            },
            seed ^ 0x5151_5151,
        );
        Host {
            config,
            endpoint,
            router,
            prompts,
            calls: HashMap::new(),
            by_sip: HashMap::new(),
            timers: BinaryHeap::new(),
            scheduled: HashMap::new(),
            rtp_due: VecDeque::new(),
            due_scratch: Vec::new(),
            events: VecDeque::new(),
            rng: fastrand::Rng::with_seed(seed),
            next_handle: 1,
            draining: false,
            stats: HostStats::default(),
        }
    }

    /// A SIP datagram for a call this shard owns (or a new one).
    pub fn handle_sip(&mut self, now: Time, from: SocketAddr, data: &[u8]) {
        self.endpoint.handle_datagram(now, from, data);
        self.process_sip_events(now);
    }

    /// A datagram on `call`'s RTP socket.
    pub fn handle_rtp(&mut self, now: Time, call: CallHandle, from: SocketAddr, data: &[u8]) {
        match self.calls.get_mut(&call) {
            Some(c) => {
                c.handle_rtp(now, from, data);
                self.after_call(now, call);
            }
            None => self.stats.rtp_for_unknown_call += 1,
        }
    }

    /// The shell opened `call`'s RTP socket at `local`.
    pub fn media_opened(&mut self, now: Time, call: CallHandle, local: SocketAddr) {
        if let Some(c) = self.calls.get_mut(&call) {
            c.media_opened(now, local);
            self.after_call(now, call);
        }
    }

    /// The result of a request `call` made with `reply`.
    pub fn http_done(&mut self, now: Time, call: CallHandle, result: HttpResult) {
        if let Some(c) = self.calls.get_mut(&call) {
            c.http_done(now, result);
            self.after_call(now, call);
        }
    }

    /// Replaces the routing table (a new configuration or newly published
    /// flows). Calls in progress keep the flow and version they started with.
    pub fn set_router(&mut self, router: Arc<Router>) {
        self.router = router;
    }

    /// The shell could not open an RTP socket for `call`.
    pub fn media_failed(&mut self, now: Time, call: CallHandle) {
        if let Some(c) = self.calls.get_mut(&call) {
            c.media_failed(now);
            self.after_call(now, call);
        }
    }

    /// Runs every due timer: SIP retransmissions and the calls' media and flow clocks.
    pub fn handle_timeout(&mut self, now: Time) {
        self.endpoint.handle_timeout(now);
        self.process_sip_events(now);
        // Take every due call first: a call handled here may reschedule itself at
        // or before `now` (a packet due), and must not be run again in this pass.
        let mut due = std::mem::take(&mut self.due_scratch);
        while let Some(Reverse((at, handle))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            if self.scheduled.get(&handle) == Some(&at) {
                self.scheduled.remove(&handle);
                due.push(handle);
            }
        }
        for handle in due.drain(..) {
            if let Some(call) = self.calls.get_mut(&handle) {
                call.handle_timeout(now);
                self.after_call(now, handle);
            }
        }
        self.due_scratch = due;
    }

    /// When [`Host::handle_timeout`] must next run.
    pub fn poll_timeout(&self) -> Option<Time> {
        let call = self.timers.peek().map(|Reverse((at, _))| *at);
        [call, self.endpoint.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next SIP datagram to send.
    pub fn poll_sip_transmit(&mut self) -> Option<sip::Transmit> {
        self.endpoint.poll_transmit()
    }

    /// Writes the next due RTP packet into `buf`: (call, destination, length).
    pub fn poll_rtp_transmit(
        &mut self,
        now: Time,
        buf: &mut [u8],
    ) -> Option<(CallHandle, SocketAddr, usize)> {
        while let Some(&handle) = self.rtp_due.front() {
            if let Some(call) = self.calls.get_mut(&handle) {
                if let Some((dest, len)) = call.poll_rtp(now, buf) {
                    return Some((handle, dest, len));
                }
            }
            self.rtp_due.pop_front();
        }
        None
    }

    /// The next thing the shell must do.
    pub fn poll_event(&mut self) -> Option<HostEvent> {
        self.events.pop_front()
    }

    /// Stops taking calls and hangs up the ones in progress.
    pub fn shutdown(&mut self, now: Time) {
        self.draining = true;
        let handles: Vec<CallHandle> = self.calls.keys().copied().collect();
        for handle in handles {
            if let Some(call) = self.calls.get_mut(&handle) {
                call.shutdown(now);
                self.after_call(now, handle);
            }
        }
    }

    /// Calls in progress on this shard.
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// Counters of the host.
    pub fn stats(&self) -> HostStats {
        self.stats
    }

    /// Counters of the SIP endpoint.
    pub fn sip_stats(&self) -> &sip::SipStats {
        self.endpoint.stats()
    }

    fn process_sip_events(&mut self, now: Time) {
        while let Some(event) = self.endpoint.poll_event() {
            match event {
                Event::IncomingCall {
                    call,
                    request_user,
                    from_user,
                    sdp,
                    ..
                } => self.incoming_call(now, call, request_user, from_user, sdp),
                Event::Confirmed { .. } => {}
                Event::Cancelled { call } => self.with_call(now, &call, Call::cancelled),
                Event::RemoteHangup { call } => self.with_call(now, &call, Call::remote_hangup),
                Event::Terminated { call, reason } => {
                    let ack_timeout = matches!(reason, TerminatedReason::AckTimeout);
                    self.with_call(now, &call, |c, now| c.terminated(now, ack_timeout));
                }
            }
        }
    }

    fn with_call(&mut self, now: Time, sip_call: &CallId, f: impl FnOnce(&mut Call, Time)) {
        let Some(&handle) = self.by_sip.get(sip_call) else {
            return;
        };
        if let Some(call) = self.calls.get_mut(&handle) {
            f(call, now);
            self.after_call(now, handle);
        }
    }

    fn incoming_call(
        &mut self,
        now: Time,
        sip_call: CallId,
        to: String,
        from: String,
        sdp: Option<sip::Sdp>,
    ) {
        self.stats.calls_offered += 1;
        let parties = CallParties {
            sip_call: sip_call.clone(),
            from,
            to,
        };
        if self.draining {
            self.reject_unrouted(now, parties, 503, HangupCause::Shutdown);
            return;
        }
        let Some(target) = self.router.route(&parties.to).cloned() else {
            self.reject_unrouted(now, parties, 404, HangupCause::NoRoute);
            return;
        };
        let negotiated = match sdp.as_ref().map(negotiate) {
            Some(Ok(negotiated)) => negotiated,
            _ => {
                self.reject_unrouted(now, parties, 488, HangupCause::NoCommonCodec);
                return;
            }
        };
        let handle = CallHandle(self.next_handle);
        self.next_handle += 1;
        let seed = RtpSeed {
            ssrc: self.rng.u32(..),
            initial_seq: self.rng.u16(..),
            initial_timestamp: self.rng.u32(..),
            sdp_session_id: self.rng.u64(1..u64::MAX >> 1),
        };
        let plan = CallPlan {
            program: target.program,
            env: self.router.env().clone(),
            dest_xform: target.dest_xform,
            prompts: self.prompts.clone(),
            answer_delay: self.config.answer_delay,
            wall: self.config.wall,
            shard: self.config.shard,
        };
        let call = Call::new(handle, parties, negotiated, plan, seed, now);
        self.by_sip.insert(sip_call, handle);
        self.calls.insert(handle, call);
        self.events.push_back(HostEvent::OpenRtp {
            call: handle,
            ip: self.config.rtp_ip,
        });
    }

    /// Rejects a call that never got a `Call` (no route, no codec, draining).
    fn reject_unrouted(
        &mut self,
        now: Time,
        parties: CallParties,
        status: u16,
        cause: HangupCause,
    ) {
        self.stats.calls_rejected += 1;
        if let Err(err) = self.endpoint.reject(now, &parties.sip_call, status) {
            log::warn!(
                "call {}: cannot reject with {status}: {err}",
                parties.sip_call
            );
        }
        self.events.push_back(HostEvent::Cdr(Box::new(CdrRecord {
            call_id: parties.sip_call.to_string(),
            from: parties.from,
            to: parties.to,
            flow_id: None,
            flow_version: None,
            start: now,
            answer: None,
            end: now,
            hangup_cause: cause,
            hangup_side: HangupSide::Callplane,
            sip_status: status,
            digits: Vec::new(),
            nodes: Vec::new(),
            flow_end: None,
            shard: self.config.shard,
        })));
    }

    /// Applies a call's actions, reschedules it, and retires it when it has ended.
    fn after_call(&mut self, now: Time, handle: CallHandle) {
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        while let Some(action) = call.poll_action() {
            let sip_call = call.sip_call().clone();
            let result = match &action {
                CallAction::Ring => self.endpoint.ring(now, &sip_call),
                CallAction::Answer { sdp } => {
                    self.stats.calls_answered += 1;
                    self.endpoint.answer(now, &sip_call, sdp)
                }
                CallAction::Reject { status } => {
                    self.stats.calls_rejected += 1;
                    let result = self.endpoint.reject(now, &sip_call, *status);
                    call.settle();
                    result
                }
                CallAction::Hangup => self.endpoint.hangup(now, &sip_call),
                CallAction::Http { request, wait } => {
                    self.events.push_back(HostEvent::Http {
                        call: handle,
                        request: request.clone(),
                        reply: *wait,
                    });
                    Ok(())
                }
            };
            if let Err(err) = result {
                log::warn!("call {sip_call}: {action:?} failed: {err}");
                if matches!(action, CallAction::Hangup) {
                    call.settle();
                }
            }
        }
        if call.is_finished() {
            self.retire(handle);
            return;
        }
        if let Some(at) = call.poll_timeout() {
            let earlier = self.scheduled.get(&handle).is_none_or(|&s| at < s);
            if earlier {
                self.scheduled.insert(handle, at);
                self.timers.push(Reverse((at, handle)));
            }
        }
        // The call was just handled: its media may have packets due now. A handle
        // queued twice costs one empty poll; the loop drains this after every input.
        self.rtp_due.push_back(handle);
    }

    fn retire(&mut self, handle: CallHandle) {
        let Some(call) = self.calls.remove(&handle) else {
            return;
        };
        self.stats.calls_ended += 1;
        let counters = call.counters();
        self.stats.unsupported_commands += counters.unsupported_commands;
        self.stats.missing_prompts += counters.missing_prompts;
        self.by_sip.remove(call.sip_call());
        self.scheduled.remove(&handle);
        if call.has_media_socket() {
            self.events.push_back(HostEvent::CloseRtp { call: handle });
        }
        if let Some(cdr) = call.cdr() {
            self.events.push_back(HostEvent::Cdr(Box::new(cdr)));
        }
    }
}
