//! SIP over TLS in the core: a call that came by TLS is answered on its
//! connection with Via and Contact naming TLS and the TLS port, its BYE
//! leaves by TLS; a `sips:` INVITE is taken over TLS and refused with 416
//! over UDP or TCP (RFC 3261 §26.2.2), its dialog's Contact `sips:`; a call
//! placed over TLS says so, and one placed to a `sips:` URI goes over TLS.

use super::{caller, local, request, response, SDP_OFFER};
use crate::sip::dialog::{Dialog, DialogOutput, OutboundInvite};
use crate::sip::dispatcher::{DialogOwner, Dispatcher, DispatcherOutput, Routed};
use crate::sip::event::{ConnRef, Link, Transmit};
use crate::sip::settings::SipSettings;
use crate::sip::timers::SipTimers;
use crate::time::Time;

const CONN: ConnRef = ConnRef(0x0001_0000_0009);
const TLS_PORT: u16 = 5062;

fn dispatcher() -> Dispatcher {
    let config = SipSettings {
        local_addr: local(),
        user_agent: "callplane-test".into(),
        timers: SipTimers::default(),
        session_timer: Default::default(),
    };
    let mut dispatcher = Dispatcher::new(config, 9);
    dispatcher.set_tls_port(TLS_PORT);
    dispatcher
}

fn invite(scheme: &str, transport: &str) -> String {
    request("INVITE", "z9hG4bK-tls-1", None, 1, SDP_OFFER)
        .replace("INVITE sip:", &format!("INVITE {scheme}:"))
        .replace("SIP/2.0/UDP", &format!("SIP/2.0/{transport}"))
}

fn drain_dialog(dialog: &mut Dialog) -> Vec<Transmit> {
    let mut sent = Vec::new();
    loop {
        match dialog.poll_output() {
            DialogOutput::Transmit(transmit) => sent.push(transmit),
            DialogOutput::Event(_) => {}
            DialogOutput::Timeout(_) => return sent,
        }
    }
}

fn drain_dispatcher(dispatcher: &mut Dispatcher) -> Vec<Transmit> {
    let mut sent = Vec::new();
    while let DispatcherOutput::Transmit(transmit) = dispatcher.poll_output() {
        sent.push(transmit);
    }
    sent
}

#[test]
fn a_call_over_tls_is_answered_on_its_connection_naming_tls() {
    let mut dispatcher = dispatcher();
    let data = invite("sips", "TLS");
    let routed =
        dispatcher.handle_message(Time::ZERO, caller(), Link::Tls(Some(CONN)), data.as_bytes());
    let Some(Routed::NewInvite(invite)) = routed else {
        panic!("a sips: INVITE over TLS is a call: {routed:?}");
    };
    assert_eq!(invite.link(), Link::Tls(Some(CONN)));
    let mut dialog = dispatcher.accept(*invite, DialogOwner(0));
    dialog.answer(Time::ZERO, SDP_OFFER).unwrap();
    let sent = drain_dialog(&mut dialog);
    let statuses: Vec<u16> = sent.iter().map(|t| response(&t.payload).status).collect();
    assert_eq!(statuses, vec![100, 200]);
    assert!(sent
        .iter()
        .all(|t| t.link == Link::Tls(Some(CONN)) && t.dest == caller()));
    let ok = String::from_utf8_lossy(&sent[1].payload).into_owned();
    assert!(
        ok.contains("Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK-tls-1"),
        "{ok}"
    );
    // A sips: dialog has a sips: Contact (§12.1.1), no transport parameter
    // (RFC 5630 §3.1.3).
    assert!(
        ok.contains("Contact: <sips:callplane@127.0.0.1:5062>"),
        "{ok}"
    );
    assert_eq!(dispatcher.stats().stream_messages, 1);

    // The ACK (sips, on the connection) confirms; then we hang up.
    let tag = response(&sent[1].payload)
        .head
        .to
        .tag()
        .expect("a To tag")
        .to_owned();
    let ack = request("ACK", "z9hG4bK-tls-2", Some(&tag), 1, "")
        .replace("ACK sip:", "ACK sips:")
        .replace("SIP/2.0/UDP", "SIP/2.0/TLS");
    let at = Time::from_millis(5);
    match dispatcher.handle_message(at, caller(), Link::Tls(Some(CONN)), ack.as_bytes()) {
        Some(Routed::Dialog { message, .. }) => dialog.handle_message(at, message),
        other => panic!("the ACK is the dialog's, got {other:?}"),
    }
    dialog.hangup(Time::from_millis(10)).unwrap();
    let bye = drain_dialog(&mut dialog);
    assert_eq!(bye.len(), 1, "one BYE: {bye:?}");
    assert_eq!(bye[0].link, Link::Tls(Some(CONN)));
    let text = String::from_utf8_lossy(&bye[0].payload).into_owned();
    assert!(text.starts_with("BYE "), "{text}");
    assert!(
        text.contains("Via: SIP/2.0/TLS 127.0.0.1:5062;branch="),
        "{text}"
    );
}

#[test]
fn a_sips_invite_over_udp_or_tcp_is_refused_with_416() {
    for link in [Link::Udp, Link::Tcp(Some(CONN))] {
        let mut dispatcher = dispatcher();
        let transport = if link == Link::Udp { "UDP" } else { "TCP" };
        let data = invite("sips", transport);
        let routed = dispatcher.handle_message(Time::ZERO, caller(), link, data.as_bytes());
        assert!(routed.is_none(), "no call over {link:?}");
        let sent = drain_dispatcher(&mut dispatcher);
        let statuses: Vec<u16> = sent.iter().map(|t| response(&t.payload).status).collect();
        assert_eq!(statuses, vec![416], "over {link:?}");
        assert!(sent.iter().all(|t| t.link == link));
        assert_eq!(dispatcher.stats().sips_over_insecure_416, 1);
        assert_eq!(dispatcher.stats().calls_offered, 0);
    }
    // The scheme is case-insensitive.
    let mut dispatcher = dispatcher();
    let data = invite("SIPS", "UDP");
    assert!(dispatcher
        .handle_message(Time::ZERO, caller(), Link::Udp, data.as_bytes())
        .is_none());
    assert_eq!(dispatcher.stats().sips_over_insecure_416, 1);
    // A plain sip: INVITE over UDP is a call as ever.
    let mut dispatcher = self::dispatcher();
    let data = invite("sip", "UDP");
    let routed = dispatcher.handle_message(Time::ZERO, caller(), Link::Udp, data.as_bytes());
    assert!(matches!(routed, Some(Routed::NewInvite(_))));
}

#[test]
fn a_call_placed_over_tls_names_tls_and_its_port() {
    let mut dispatcher = dispatcher();
    let invite = OutboundInvite {
        request_uri: "sip:+4930123@192.0.2.9:5061".into(),
        from: "<sip:+4930999@127.0.0.1>".into(),
        to: "<sip:+4930123@192.0.2.9>".into(),
        dest: "192.0.2.9:5061".parse().unwrap(),
        route: Vec::new(),
        sdp_offer: SDP_OFFER.into(),
        credentials: None,
        extra_headers: Vec::new(),
    };
    let mut dialog =
        dispatcher.place_call_over(Time::ZERO, invite, DialogOwner(3), Link::Tls(None));
    let sent = drain_dialog(&mut dialog);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].link, Link::Tls(None));
    let text = String::from_utf8_lossy(&sent[0].payload).into_owned();
    assert!(
        text.contains("Via: SIP/2.0/TLS 127.0.0.1:5062;branch="),
        "{text}"
    );
    assert!(
        text.contains("Contact: <sip:callplane@127.0.0.1:5062;transport=tls>"),
        "{text}"
    );
    // Timer A resends nothing on a stream.
    dialog.handle_timeout(Time::from_millis(500));
    assert!(drain_dialog(&mut dialog).is_empty());
}

#[test]
fn a_call_placed_to_a_sips_uri_goes_over_tls_with_a_sips_contact() {
    let mut dispatcher = dispatcher();
    let invite = OutboundInvite {
        request_uri: "sips:+4930123@192.0.2.9:5061".into(),
        from: "<sips:+4930999@127.0.0.1>".into(),
        to: "<sips:+4930123@192.0.2.9>".into(),
        dest: "192.0.2.9:5061".parse().unwrap(),
        route: Vec::new(),
        sdp_offer: SDP_OFFER.into(),
        credentials: None,
        extra_headers: Vec::new(),
    };
    let mut dialog = dispatcher.place_call(Time::ZERO, invite, DialogOwner(3));
    let sent = drain_dialog(&mut dialog);
    assert_eq!(
        sent[0].link,
        Link::Tls(None),
        "§26.2.2: TLS, whatever was asked"
    );
    let text = String::from_utf8_lossy(&sent[0].payload).into_owned();
    assert!(
        text.starts_with("INVITE sips:+4930123@192.0.2.9:5061 SIP/2.0\r\n"),
        "{text}"
    );
    assert!(
        text.contains("Via: SIP/2.0/TLS 127.0.0.1:5062;branch="),
        "{text}"
    );
    assert!(
        text.contains("Contact: <sips:callplane@127.0.0.1:5062>"),
        "{text}"
    );
}
