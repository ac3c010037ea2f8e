//! SIP over a stream connection: what arrives on a TCP connection is answered
//! on it, the dialog's own requests leave by TCP with a TCP Via, nothing but a
//! 2xx is retransmitted there, and an outbound INVITE over 1300 bytes moves to
//! TCP (RFC 3261 §18.1.1).

use super::{caller, local, parsed_request, request, response, SDP_OFFER};
use crate::sip::dialog::{Dialog, DialogOutput, OutboundInvite, MAX_UDP_REQUEST};
use crate::sip::dispatcher::{DialogOwner, Dispatcher, DispatcherOutput, Routed};
use crate::sip::event::{ConnRef, Link, Transmit};
use crate::sip::settings::SipSettings;
use crate::sip::timers::SipTimers;
use crate::time::Time;

const CONN: ConnRef = ConnRef(0x0001_0000_0007);

fn dispatcher() -> Dispatcher {
    let config = SipSettings {
        local_addr: local(),
        user_agent: "callplane-test".into(),
        timers: SipTimers::default(),
        session_timer: Default::default(),
    };
    Dispatcher::new(config, 5)
}

fn tcp_invite() -> String {
    request("INVITE", "z9hG4bK-tcp-1", None, 1, SDP_OFFER).replace("SIP/2.0/UDP", "SIP/2.0/TCP")
}

fn drain_dialog(dialog: &mut Dialog) -> (Vec<Transmit>, Time) {
    let mut sent = Vec::new();
    loop {
        match dialog.poll_output() {
            DialogOutput::Transmit(transmit) => sent.push(transmit),
            DialogOutput::Event(_) => {}
            DialogOutput::Timeout(at) => return (sent, at),
        }
    }
}

/// Accepts the INVITE that came on `CONN` and answers it.
fn answered_over_tcp(dispatcher: &mut Dispatcher) -> (Dialog, Vec<Transmit>) {
    let routed =
        dispatcher.handle_stream_message(Time::ZERO, caller(), CONN, tcp_invite().as_bytes());
    let Some(Routed::NewInvite(invite)) = routed else {
        panic!("expected a new INVITE, got {routed:?}");
    };
    assert_eq!(invite.link(), Link::Tcp(Some(CONN)));
    let mut dialog = dispatcher.accept(*invite, DialogOwner(0));
    dialog.answer(Time::ZERO, SDP_OFFER).unwrap();
    let (sent, _) = drain_dialog(&mut dialog);
    (dialog, sent)
}

#[test]
fn responses_go_back_on_the_connection_they_came_by() {
    let mut dispatcher = dispatcher();
    let (dialog, sent) = answered_over_tcp(&mut dispatcher);
    assert_eq!(dialog.link(), Link::Tcp(Some(CONN)));
    let statuses: Vec<u16> = sent.iter().map(|t| response(&t.payload).status).collect();
    assert_eq!(statuses, vec![100, 200]);
    for transmit in &sent {
        assert_eq!(transmit.link, Link::Tcp(Some(CONN)));
        assert_eq!(transmit.dest, caller());
        assert!(transmit.is_response());
    }
    let ok = String::from_utf8_lossy(&sent[1].payload).into_owned();
    assert!(
        ok.contains("Via: SIP/2.0/TCP 127.0.0.1:5061;branch=z9hG4bK-tcp-1"),
        "{ok}"
    );
    assert!(
        ok.contains("Contact: <sip:callplane@127.0.0.1:5060;transport=tcp>"),
        "{ok}"
    );
    assert_eq!(dispatcher.stats().stream_messages, 1);
    assert_eq!(dispatcher.stats().datagrams, 0);
}

#[test]
fn our_bye_leaves_by_tcp_once_and_the_2xx_alone_is_resent() {
    let mut dispatcher = dispatcher();
    let (mut dialog, answered) = answered_over_tcp(&mut dispatcher);
    let ok = response(&answered[1].payload);
    let tag = ok.head.to.tag().expect("a To tag").to_owned();
    // No ACK: the 2xx is resent on the stream (§13.3.1.4) at T1.
    dialog.handle_timeout(Time::from_millis(500));
    let (resent, _) = drain_dialog(&mut dialog);
    assert_eq!(resent.len(), 1);
    assert_eq!(response(&resent[0].payload).status, 200);
    // The ACK confirms; then we hang up.
    let ack = request("ACK", "z9hG4bK-tcp-2", Some(&tag), 1, "");
    let at = Time::from_millis(600);
    match dispatcher.handle_stream_message(at, caller(), CONN, ack.as_bytes()) {
        Some(Routed::Dialog { message, .. }) => dialog.handle_message(at, message),
        other => panic!("the ACK is the dialog's, got {other:?}"),
    }
    dialog.hangup(Time::from_millis(1000)).unwrap();
    let (sent, _) = drain_dialog(&mut dialog);
    let bye = sent.last().expect("a BYE");
    assert_eq!(bye.link, Link::Tcp(Some(CONN)));
    assert!(!bye.is_response());
    let text = String::from_utf8_lossy(&bye.payload).into_owned();
    assert!(text.starts_with("BYE "), "{text}");
    assert!(
        text.contains("Via: SIP/2.0/TCP 127.0.0.1:5060;branch="),
        "{text}"
    );
    // Timer E does not resend it on a stream; Timer F still ends it.
    let mut resent = 0;
    let mut now = Time::from_millis(1000);
    while now < Time::from_millis(40_000) {
        now += std::time::Duration::from_millis(250);
        dialog.handle_timeout(now);
        resent += drain_dialog(&mut dialog).0.len();
    }
    assert_eq!(resent, 0);
    assert!(dialog.stats().retransmits_suppressed > 0);
    assert!(dialog.is_terminated());
}

#[test]
fn a_rejected_invite_on_a_stream_is_answered_once_on_it() {
    let mut dispatcher = dispatcher();
    let routed =
        dispatcher.handle_stream_message(Time::ZERO, caller(), CONN, tcp_invite().as_bytes());
    let Some(Routed::NewInvite(invite)) = routed else {
        panic!("expected a new INVITE");
    };
    dispatcher.reject(Time::ZERO, *invite, 486).unwrap();
    let mut sent = Vec::new();
    let mut now = Time::ZERO;
    loop {
        match dispatcher.poll_output() {
            DispatcherOutput::Transmit(transmit) => sent.push(transmit),
            DispatcherOutput::Timeout(at) if at <= Time::from_millis(40_000) => {
                now = at.max(now);
                dispatcher.handle_timeout(now);
            }
            DispatcherOutput::Timeout(_) => break,
        }
    }
    let statuses: Vec<u16> = sent.iter().map(|t| response(&t.payload).status).collect();
    assert_eq!(
        statuses,
        vec![100, 486],
        "Timer G resends nothing on a stream"
    );
    assert!(sent.iter().all(|t| t.link == Link::Tcp(Some(CONN))));
    // A datagram after it is still UDP.
    let options = request("OPTIONS", "z9hG4bK-udp-1", None, 1, "");
    let _ = dispatcher.handle_datagram(now, caller(), options.as_bytes());
    let DispatcherOutput::Transmit(answer) = dispatcher.poll_output() else {
        panic!("OPTIONS answered");
    };
    assert_eq!(answer.link, Link::Udp);
}

fn outbound(extra: usize) -> OutboundInvite {
    OutboundInvite {
        request_uri: "sip:+4930123@192.0.2.9:5080".into(),
        from: "<sip:+4930999@127.0.0.1>".into(),
        to: "<sip:+4930123@192.0.2.9>".into(),
        dest: "192.0.2.9:5080".parse().unwrap(),
        route: Vec::new(),
        sdp_offer: SDP_OFFER.into(),
        credentials: None,
        extra_headers: vec![(ezk_sip_types::Name::from("X-Pad"), "p".repeat(extra))],
    }
}

fn placed(dispatcher: &mut Dispatcher, invite: OutboundInvite) -> (Dialog, Vec<Transmit>) {
    let mut dialog = dispatcher.place_call(Time::ZERO, invite, DialogOwner(1));
    let (sent, _) = drain_dialog(&mut dialog);
    (dialog, sent)
}

#[test]
fn an_outbound_invite_over_1300_bytes_moves_to_tcp() {
    let mut dispatcher = dispatcher();
    // Find the padding at which the INVITE crosses the limit.
    let (_, small) = placed(&mut dispatcher, outbound(1));
    let base = small[0].payload.len() - 1;
    let fits = MAX_UDP_REQUEST - base;
    let (dialog, sent) = placed(&mut dispatcher, outbound(fits));
    assert_eq!(sent[0].payload.len(), MAX_UDP_REQUEST);
    assert_eq!(sent[0].link, Link::Udp);
    assert_eq!(dialog.link(), Link::Udp);
    assert!(String::from_utf8_lossy(&sent[0].payload).contains("SIP/2.0/UDP"));

    let (mut dialog, sent) = placed(&mut dispatcher, outbound(fits + 1));
    assert_eq!(sent.len(), 1);
    // One byte over, plus `;transport=tcp` in the Contact.
    assert_eq!(
        sent[0].payload.len(),
        MAX_UDP_REQUEST + 1 + ";transport=tcp".len()
    );
    assert_eq!(
        sent[0].link,
        Link::Tcp(None),
        "connect to the far end, or reuse"
    );
    let text = String::from_utf8_lossy(&sent[0].payload).into_owned();
    assert!(
        text.contains("Via: SIP/2.0/TCP 127.0.0.1:5060;branch="),
        "{text}"
    );
    assert!(text.contains("Contact: <sip:callplane@127.0.0.1:5060;transport=tcp>"));
    assert_eq!(
        parsed_request(&sent[0].payload).method,
        crate::sip::Method::Invite
    );
    assert_eq!(dialog.link(), Link::Tcp(None));
    assert_eq!(dialog.stats().moved_to_tcp, 1);
    // Timer A resends nothing on TCP.
    dialog.handle_timeout(Time::from_millis(500));
    assert!(drain_dialog(&mut dialog).0.is_empty());
}

#[test]
fn a_call_placed_over_tcp_says_so() {
    let mut dispatcher = dispatcher();
    let mut dialog =
        dispatcher.place_call_over(Time::ZERO, outbound(1), DialogOwner(2), Link::Tcp(None));
    let (sent, _) = drain_dialog(&mut dialog);
    assert_eq!(sent[0].link, Link::Tcp(None));
    assert!(String::from_utf8_lossy(&sent[0].payload).contains("SIP/2.0/TCP"));
    assert_eq!(dialog.stats().moved_to_tcp, 0);
}
