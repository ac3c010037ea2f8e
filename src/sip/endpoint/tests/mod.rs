//! Endpoint tests, driven by hand with a fake clock: a harness plus builders for the
//! requests a sipp-like caller sends.

mod flows;
mod fuzz;
mod requests;

use super::{Endpoint, EndpointConfig};
use crate::sip::event::{CallId, Event, Transmit};
use crate::sip::message::{parse_message, Message, Request, Response};
use crate::time::Time;
use std::net::SocketAddr;

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

/// The test driver: an endpoint and a fake clock in milliseconds.
pub(super) struct Harness {
    pub endpoint: Endpoint,
}

impl Harness {
    pub(super) fn new() -> Harness {
        let config = EndpointConfig {
            local_addr: local(),
            user_agent: "callplane-test".into(),
        };
        Harness {
            endpoint: Endpoint::new(config, 7),
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
