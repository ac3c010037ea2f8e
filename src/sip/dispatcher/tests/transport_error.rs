//! Transport errors: an outbound INVITE whose TCP or TLS connection could
//! not be made ends at once with a local 503 (RFC 3261 §8.1.3.1), not at
//! Timer B; the ACK of that 503 failing too changes nothing.

use super::{local, SDP_OFFER};
use crate::sip::dialog::{Dialog, DialogEvent, DialogOutput, OutboundInvite};
use crate::sip::dispatcher::{DialogOwner, Dispatcher, DispatcherOutput, Routed};
use crate::sip::event::{Link, TerminatedReason, Transmit};
use crate::sip::settings::SipSettings;
use crate::sip::timers::SipTimers;
use crate::time::Time;
use std::net::SocketAddr;

fn far_end() -> SocketAddr {
    "192.0.2.9:5061".parse().unwrap()
}

fn dispatcher() -> Dispatcher {
    let config = SipSettings {
        local_addr: local(),
        user_agent: "callplane-test".into(),
        timers: SipTimers::default(),
        session_timer: Default::default(),
    };
    Dispatcher::new(config, 9)
}

fn invite() -> OutboundInvite {
    OutboundInvite {
        request_uri: "sip:+4930123@192.0.2.9:5061".into(),
        from: "<sip:+4930999@127.0.0.1>".into(),
        to: "<sip:+4930123@192.0.2.9>".into(),
        dest: far_end(),
        route: Vec::new(),
        sdp_offer: SDP_OFFER.into(),
        credentials: None,
        extra_headers: Vec::new(),
    }
}

fn drain(dialog: &mut Dialog) -> (Vec<Transmit>, Vec<DialogEvent>, Time) {
    let (mut sent, mut events) = (Vec::new(), Vec::new());
    loop {
        match dialog.poll_output() {
            DialogOutput::Transmit(transmit) => sent.push(transmit),
            DialogOutput::Event(event) => events.push(event),
            DialogOutput::Timeout(at) => return (sent, events, at),
        }
    }
}

/// Places a call over `link`, fails its INVITE 5 ms later and returns what
/// the dialog did then.
fn fail_the_invite(link: Link) -> (Dispatcher, Vec<Transmit>, Vec<DialogEvent>, Time) {
    // (The returned deadline is the dialog's next timer.)
    let mut dispatcher = dispatcher();
    let mut dialog = dispatcher.place_call_over(Time::ZERO, invite(), DialogOwner(4), link);
    let (sent, _, timer_b) = drain(&mut dialog);
    assert_eq!(sent.len(), 1);
    assert!(
        timer_b > Time::ZERO && timer_b < Time::NEVER,
        "Timer B runs"
    );
    let now = Time::from_millis(5);
    let routed = dispatcher.handle_transport_error(now, far_end(), link, &sent[0].payload);
    let Some(Routed::Dialog { owner, message }) = routed else {
        panic!("the local 503 goes to the dialog: {routed:?}")
    };
    assert_eq!(owner, DialogOwner(4));
    dialog.handle_message(now, message);
    let (sent, events, next) = drain(&mut dialog);
    (dispatcher, sent, events, next)
}

#[test]
fn a_refused_tcp_connection_ends_the_invite_at_once_as_a_503() {
    let (mut dispatcher, sent, events, _) = fail_the_invite(Link::Tcp(None));
    // At 5 ms, not at Timer B's 32 s.
    assert_eq!(
        events,
        [DialogEvent::Terminated(TerminatedReason::Refused(503))]
    );
    // The 503 is acknowledged (§17.1.1.3); that ACK failing too is dropped.
    let [ack] = sent.as_slice() else {
        panic!("{sent:?}")
    };
    assert!(ack.payload.starts_with(b"ACK "));
    let again =
        dispatcher.handle_transport_error(Time::from_millis(6), far_end(), ack.link, &ack.payload);
    assert!(again.is_none());
    assert_eq!(
        dispatcher.poll_output(),
        DispatcherOutput::Timeout(Time::NEVER)
    );
    assert_eq!(dispatcher.stats().transport_errors, 1);
}

#[test]
fn a_failed_tls_handshake_ends_the_invite_at_once_as_a_503() {
    let (dispatcher, _, events, _) = fail_the_invite(Link::Tls(None));
    assert_eq!(
        events,
        [DialogEvent::Terminated(TerminatedReason::Refused(503))]
    );
    assert_eq!(dispatcher.stats().transport_errors, 1);
}

#[test]
fn an_undeliverable_message_naming_no_dialog_is_only_counted() {
    let mut dispatcher = dispatcher();
    let stray = b"OPTIONS sip:x@192.0.2.9 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-1\r\n\
From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@192.0.2.9>\r\nCall-ID: nobody@here\r\nCSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    let routed = dispatcher.handle_transport_error(Time::ZERO, far_end(), Link::Tcp(None), stray);
    assert!(routed.is_none());
    assert!(dispatcher
        .handle_transport_error(Time::ZERO, far_end(), Link::Tcp(None), b"garbage")
        .is_none());
    let stats = dispatcher.stats();
    assert_eq!((stats.transport_errors, stats.unmatched_responses), (1, 1));
}
