//! Dispatcher and dialog tests, driven by hand with a fake clock: a user agent that
//! owns its dialogs by Call-ID (as the call layer does), a harness, and builders for
//! the requests a sipp-like caller sends.

mod checks;
mod corpus;
mod flows;
mod fuzz;
mod outbound;
mod prack;
mod requests;
mod session;
mod stream;
mod tls;
mod transport_error;

use super::{DialogOwner, Dispatcher, DispatcherOutput, Routed};
use crate::sip::dialog::{Dialog, DialogEvent, DialogOutput};
use crate::sip::error::SipError;
use crate::sip::event::{CallId, TerminatedReason, Transmit};
use crate::sip::message::{parse_message, Message, Request, Response};
use crate::sip::sdp::Sdp;
use crate::sip::settings::SipSettings;
use crate::sip::stats::SipStats;
use crate::sip::timers::SipTimers;
use crate::time::Time;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

/// What the test user agent reports, per call.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Event {
    IncomingCall {
        call: CallId,
        source: SocketAddr,
        request_user: String,
        from_user: String,
        from_display: Option<String>,
        to_user: String,
        sdp: Option<Sdp>,
    },
    Confirmed {
        call: CallId,
    },
    Cancelled {
        call: CallId,
    },
    RemoteHangup {
        call: CallId,
    },
    Dtmf {
        call: CallId,
        digit: char,
    },
    Reoffer {
        call: CallId,
    },
    OfferRequested {
        call: CallId,
    },
    AnswerInAck {
        call: CallId,
        sdp: Option<Sdp>,
    },
    Referred {
        call: CallId,
        target: Option<String>,
    },
    Terminated {
        call: CallId,
        reason: TerminatedReason,
    },
}

/// A user agent over the dispatcher that accepts every new INVITE and holds the
/// dialogs by Call-ID; a terminated dialog goes back to the dispatcher at once.
pub(super) struct Ua {
    dispatcher: Dispatcher,
    dialogs: BTreeMap<CallId, (Dialog, Time)>,
    owners: Vec<CallId>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Ua {
    fn new(config: SipSettings, seed: u64) -> Ua {
        Ua {
            dispatcher: Dispatcher::new(config, seed),
            dialogs: BTreeMap::new(),
            owners: Vec::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub(super) fn handle_datagram(&mut self, now: Time, from: SocketAddr, data: &[u8]) {
        match self.dispatcher.handle_datagram(now, from, data) {
            None => {}
            Some(Routed::NewInvite(invite)) => {
                let call = invite.call_id().clone();
                self.events.push_back(Event::IncomingCall {
                    call: call.clone(),
                    source: invite.source(),
                    request_user: invite.request_user(),
                    from_user: invite.from_user(),
                    from_display: invite.from_display().map(str::to_owned),
                    to_user: invite.to_user(),
                    sdp: invite.sdp().cloned(),
                });
                let owner = DialogOwner(self.owners.len() as u64);
                self.owners.push(call.clone());
                let dialog = self.dispatcher.accept(*invite, owner);
                self.dialogs.insert(call, (dialog, Time::NEVER));
            }
            Some(Routed::Dialog { owner, message }) => {
                let call = &self.owners[owner.0 as usize];
                if let Some((dialog, _)) = self.dialogs.get_mut(call) {
                    dialog.handle_message(now, message);
                }
            }
        }
        self.settle();
    }

    pub(super) fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub(super) fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub(super) fn poll_timeout(&mut self) -> Option<Time> {
        let sip = match self.dispatcher.poll_output() {
            DispatcherOutput::Timeout(at) => at,
            DispatcherOutput::Transmit(_) => unreachable!("drained after every input"),
        };
        let dialogs = self.dialogs.values().map(|(_, at)| *at).min();
        Some(sip.min(dialogs.unwrap_or(Time::NEVER))).filter(|at| *at != Time::NEVER)
    }

    pub(super) fn handle_timeout(&mut self, now: Time) {
        self.dispatcher.handle_timeout(now);
        for (dialog, at) in self.dialogs.values_mut() {
            if *at <= now {
                dialog.handle_timeout(now);
            }
        }
        self.settle();
    }

    pub(super) fn ring(&mut self, now: Time, call: &CallId) -> Result<(), SipError> {
        self.with(call, |dialog| dialog.ring(now))
    }

    pub(super) fn answer(&mut self, now: Time, call: &CallId, sdp: &str) -> Result<(), SipError> {
        self.with(call, |dialog| dialog.answer(now, sdp))
    }

    pub(super) fn early_media(
        &mut self,
        now: Time,
        call: &CallId,
        sdp: &str,
    ) -> Result<(), SipError> {
        self.with(call, |dialog| dialog.early_media(now, sdp).map(|_| ()))
    }

    pub(super) fn reject(&mut self, now: Time, call: &CallId, status: u16) -> Result<(), SipError> {
        self.with(call, |dialog| dialog.reject(now, status))
    }

    pub(super) fn answer_reinvite(
        &mut self,
        now: Time,
        call: &CallId,
        sdp: &str,
    ) -> Result<(), SipError> {
        self.with(call, |dialog| {
            assert!(
                dialog.take_reoffer().is_some(),
                "the re-INVITE's offer is there"
            );
            dialog.answer_reinvite(now, sdp)
        })
    }

    /// Answers an offerless re-INVITE with our offer `sdp`.
    pub(super) fn offer_in_reinvite(
        &mut self,
        now: Time,
        call: &CallId,
        sdp: &str,
    ) -> Result<(), SipError> {
        self.with(call, |dialog| {
            assert!(dialog.take_reoffer().is_none(), "no offer came");
            dialog.answer_reinvite(now, sdp)
        })
    }

    pub(super) fn reject_reinvite(
        &mut self,
        now: Time,
        call: &CallId,
        status: u16,
    ) -> Result<(), SipError> {
        self.with(call, |dialog| dialog.reject_reinvite(now, status))
    }

    pub(super) fn hangup(&mut self, now: Time, call: &CallId) -> Result<(), SipError> {
        self.with(call, |dialog| dialog.hangup(now))
    }

    /// The dispatcher's counters plus those of the dialogs still held.
    pub(super) fn stats(&self) -> SipStats {
        let mut stats = self.dispatcher.stats();
        for (dialog, _) in self.dialogs.values() {
            stats.add(dialog.stats());
        }
        stats
    }

    /// Dialogs the user agent holds (not yet terminated).
    pub(super) fn active_dialogs(&self) -> usize {
        self.dialogs.len()
    }

    pub(super) fn allow_refer(&mut self, call: &CallId) {
        let _ = self.with(call, |dialog| {
            dialog.allow_refer(true);
            Ok(())
        });
    }

    pub(super) fn notify_refer(&mut self, now: Time, call: &CallId, status: u16, last: bool) {
        let _ = self.with(call, |dialog| {
            dialog.notify_refer(now, status, "Reason", last);
            Ok(())
        });
    }

    fn with(
        &mut self,
        call: &CallId,
        f: impl FnOnce(&mut Dialog) -> Result<(), SipError>,
    ) -> Result<(), SipError> {
        let (dialog, _) = self.dialogs.get_mut(call).ok_or(SipError::UnknownCall)?;
        let result = f(dialog);
        self.settle();
        result
    }

    /// Drains every output; hands terminated dialogs back to the dispatcher.
    fn settle(&mut self) {
        let mut ended = Vec::new();
        for (call, (dialog, deadline)) in self.dialogs.iter_mut() {
            loop {
                match dialog.poll_output() {
                    DialogOutput::Transmit(transmit) => self.transmits.push_back(transmit),
                    DialogOutput::Event(event) => {
                        let call = call.clone();
                        self.events.push_back(match event {
                            DialogEvent::Confirmed => Event::Confirmed { call },
                            DialogEvent::Cancelled => Event::Cancelled { call },
                            DialogEvent::RemoteHangup => Event::RemoteHangup { call },
                            DialogEvent::Dtmf(digit) => Event::Dtmf { call, digit },
                            DialogEvent::Reoffer => Event::Reoffer { call },
                            DialogEvent::OfferRequested => Event::OfferRequested { call },
                            DialogEvent::AnswerInAck => Event::AnswerInAck {
                                call,
                                sdp: dialog.take_ack_sdp(),
                            },
                            DialogEvent::Referred => Event::Referred {
                                call,
                                target: dialog.take_refer_target(),
                            },
                            DialogEvent::Progress(_) | DialogEvent::Answered => {
                                unreachable!("the test user agent places no calls")
                            }
                            DialogEvent::Terminated(reason) => {
                                ended.push(call.clone());
                                Event::Terminated { call, reason }
                            }
                        });
                    }
                    DialogOutput::Timeout(at) => {
                        *deadline = at;
                        break;
                    }
                }
            }
        }
        for call in ended {
            if let Some((dialog, _)) = self.dialogs.remove(&call) {
                self.dispatcher.release(dialog);
            }
        }
        while let DispatcherOutput::Transmit(transmit) = self.dispatcher.poll_output() {
            self.transmits.push_back(transmit);
        }
    }
}

pub(super) const SDP_OFFER: &str = "v=0\r\n\
o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 6000 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n";

pub(super) fn caller() -> SocketAddr {
    "127.0.0.1:5061".parse().unwrap()
}

pub(super) fn local() -> SocketAddr {
    "127.0.0.1:5060".parse().unwrap()
}

pub(super) fn call_id() -> CallId {
    CallId("1-1234@127.0.0.1".into())
}

/// A request from the caller; `to_tag` makes it in-dialog.
pub(super) fn request(
    method: &str,
    branch: &str,
    to_tag: Option<&str>,
    cseq: u32,
    body: &str,
) -> String {
    let to_tag = to_tag.map(|tag| format!(";tag={tag}")).unwrap_or_default();
    let content_type = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    format!(
        "{method} sip:1000@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5061;branch={branch}\r\n\
From: sipp <sip:sipp@127.0.0.1:5061>;tag=1234SIPpTag001\r\n\
To: <sip:1000@127.0.0.1:5060>{to_tag}\r\n\
Call-ID: 1-1234@127.0.0.1\r\n\
CSeq: {cseq} {method}\r\n\
Contact: sip:sipp@127.0.0.1:5061\r\n\
Max-Forwards: 70\r\n\
Subject: Performance Test\r\n\
{content_type}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

pub(super) fn invite() -> String {
    request("INVITE", "z9hG4bK-1234-1-0", None, 1, SDP_OFFER)
}

/// The test driver: a user agent and a fake clock in milliseconds.
pub(super) struct Harness {
    pub endpoint: Ua,
}

impl Harness {
    pub(super) fn new() -> Harness {
        Harness::with_timers(SipTimers::default())
    }

    /// A harness whose transactions use `timers`.
    pub(super) fn with_timers(timers: SipTimers) -> Harness {
        let config = SipSettings {
            local_addr: local(),
            user_agent: "callplane-test".into(),
            session_timer: Default::default(),
            timers,
        };
        Harness {
            endpoint: Ua::new(config, 7),
        }
    }

    pub(super) fn send(&mut self, at_ms: u64, data: &str) {
        self.endpoint
            .handle_datagram(Time::from_millis(at_ms), caller(), data.as_bytes());
    }

    pub(super) fn transmits(&mut self) -> Vec<Transmit> {
        std::iter::from_fn(|| self.endpoint.poll_transmit()).collect()
    }

    pub(super) fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.endpoint.poll_event()).collect()
    }

    /// Drains transmits, all of which must be responses to the caller.
    pub(super) fn responses(&mut self) -> Vec<Response> {
        self.transmits()
            .into_iter()
            .map(|transmit| {
                assert_eq!(transmit.dest, caller());
                response(&transmit.payload)
            })
            .collect()
    }

    pub(super) fn statuses(&mut self) -> Vec<u16> {
        self.responses().iter().map(|r| r.status).collect()
    }

    /// Runs timers up to `end_ms`, returning (time in ms, transmit) pairs.
    pub(super) fn run_until(&mut self, end_ms: u64) -> Vec<(u64, Transmit)> {
        let end = Time::from_millis(end_ms);
        let mut sent = Vec::new();
        while let Some(at) = self.endpoint.poll_timeout().filter(|at| *at <= end) {
            self.endpoint.handle_timeout(at);
            sent.extend(self.transmits().into_iter().map(|t| (at.as_millis(), t)));
        }
        sent
    }

    /// INVITE at t=0, checks 100 Trying and IncomingCall, answers at t=0; returns the
    /// 200 OK's To tag.
    pub(super) fn answered_call(&mut self) -> String {
        self.send(0, &invite());
        assert_eq!(self.statuses(), vec![100]);
        assert!(matches!(
            self.events().as_slice(),
            [Event::IncomingCall { .. }]
        ));
        self.endpoint
            .answer(Time::ZERO, &call_id(), "v=0\r\n")
            .unwrap();
        let ok = self.responses();
        assert_eq!(ok.len(), 1);
        ok[0].head.to.tag().unwrap().to_owned()
    }

    /// An answered and acknowledged call; returns our tag.
    pub(super) fn confirmed_call(&mut self) -> String {
        let tag = self.answered_call();
        self.send(100, &request("ACK", "z9hG4bK-ack", Some(&tag), 1, ""));
        assert_eq!(self.events(), vec![Event::Confirmed { call: call_id() }]);
        tag
    }
}

pub(super) fn response(payload: &[u8]) -> Response {
    match parse_message(payload) {
        Ok(Message::Response(response)) => response,
        other => panic!("expected a response, got {other:?}"),
    }
}

pub(super) fn parsed_request(payload: &[u8]) -> Request {
    match parse_message(payload) {
        Ok(Message::Request(request)) => request,
        other => panic!("expected a request, got {other:?}"),
    }
}

/// A response from the caller to a request we sent.
pub(super) fn reply_to(request: &Request, status: u16) -> String {
    let echo = &request.head.echo;
    format!(
        "SIP/2.0 {status} Whatever\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
        echo.vias.join(", "),
        echo.from,
        echo.to,
        echo.call_id,
        echo.cseq
    )
}
