//! Registration on the fake clock against a scripted registrar.

use super::*;
use crate::sip::message::{parse_message, Message, Request};
use crate::sip::timers::SipTimers;

fn registrar() -> SocketAddr {
    "192.0.2.5:5060".parse().unwrap()
}

fn registration(credentials: bool) -> Registration {
    let settings = SipSettings {
        local_addr: "127.0.0.1:5060".parse().unwrap(),
        user_agent: "callplane-test".into(),
        timers: SipTimers::default(),
        session_timer: Default::default(),
    };
    let config = RegistrationConfig {
        registrar: "sip:carrier.example".into(),
        aor: "sip:+4930999@carrier.example".into(),
        dest: registrar(),
        contact_user: "+4930999".into(),
        credentials: credentials.then(|| Credentials {
            username: "trunk1".into(),
            password: "s3cret".into(),
        }),
        expires: Duration::from_secs(3600),
        link: crate::sip::Link::Udp,
    };
    Registration::new(Arc::new(settings), config, "reg-1@127.0.0.1".into(), 5)
}

/// Everything queued: REGISTERs sent and events, then the next deadline.
fn drain(reg: &mut Registration) -> (Vec<Request>, Vec<RegistrationEvent>, Time) {
    let (mut sent, mut events) = (Vec::new(), Vec::new());
    loop {
        match reg.poll_output() {
            RegistrationOutput::Transmit(t) => {
                assert_eq!(t.dest, registrar());
                match parse_message(&t.payload) {
                    Ok(Message::Request(request)) => sent.push(request),
                    other => panic!("{other:?}"),
                }
            }
            RegistrationOutput::Event(event) => events.push(event),
            RegistrationOutput::Timeout(at) => return (sent, events, at),
        }
    }
}

fn reply(request: &Request, status: u16, extra: &str) -> Response {
    let echo = &request.head.echo;
    let text = format!(
        "SIP/2.0 {status} X\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=r\r\nCall-ID: {}\r\nCSeq: {}\r\n{extra}Content-Length: 0\r\n\r\n",
        echo.vias.join(", "),
        echo.from,
        echo.to,
        echo.call_id,
        echo.cseq
    );
    match parse_message(text.as_bytes()) {
        Ok(Message::Response(response)) => response,
        other => panic!("{other:?}"),
    }
}

fn header(request: &Request, name: Name) -> Option<&str> {
    request
        .head
        .headers
        .get_raw(&name)
        .next()
        .map(|v| v.as_str())
}

fn at(seconds: u64) -> Time {
    Time::from_millis(seconds * 1000)
}

#[test]
fn registers_and_refreshes_at_half_a_short_expiry() {
    let mut reg = registration(false);
    reg.start(Time::ZERO);
    let (sent, _, _) = drain(&mut reg);
    let [first] = sent.as_slice() else { panic!() };
    assert_eq!(first.uri, "sip:carrier.example");
    assert_eq!(first.head.cseq.seq, 1);
    assert_eq!(header(first, Name::EXPIRES), Some("3600"));
    assert_eq!(
        header(first, Name::CONTACT),
        Some("<sip:+4930999@127.0.0.1:5060>")
    );
    assert!(first.head.to.tag().is_none());
    let ok = reply(
        first,
        200,
        "Contact: <sip:+4930999@127.0.0.1:5060>;expires=60\r\n",
    );
    reg.handle_response(at(1), &ok);
    let (sent, events, next) = drain(&mut reg);
    assert!(sent.is_empty());
    assert_eq!(
        events,
        [RegistrationEvent::Registered {
            expires: Duration::from_secs(60)
        }]
    );
    assert!(reg.is_registered());
    assert_eq!(next, at(31));
    reg.handle_timeout(next);
    let (sent, _, _) = drain(&mut reg);
    let [refresh] = sent.as_slice() else { panic!() };
    assert_eq!(refresh.call_id(), first.call_id());
    assert_eq!(refresh.head.from.tag(), first.head.from.tag());
    assert_eq!(refresh.head.cseq.seq, 2);
    assert_ne!(refresh.head.top_via.branch, first.head.top_via.branch);
}

#[test]
fn a_refresh_answers_the_last_challenge_again_with_the_next_nonce_count() {
    let mut reg = registration(true);
    reg.start(Time::ZERO);
    let (sent, _, _) = drain(&mut reg);
    let challenge = "WWW-Authenticate: Digest realm=\"r\", nonce=\"n1\", qop=\"auth\"\r\n";
    reg.handle_response(Time::ZERO, &reply(&sent[0], 401, challenge));
    let (sent, _, _) = drain(&mut reg);
    reg.handle_response(Time::ZERO, &reply(&sent[0], 200, "Expires: 100\r\n"));
    let (_, _, next) = drain(&mut reg);
    reg.handle_timeout(next);
    let (sent, _, _) = drain(&mut reg);
    let authorization = header(&sent[0], Name::AUTHORIZATION).unwrap();
    assert!(authorization.contains("nonce=\"n1\""), "{authorization}");
    assert!(authorization.contains("nc=00000002"), "{authorization}");
}

#[test]
fn a_long_expiry_from_the_expires_header_is_refreshed_ten_minutes_early() {
    let mut reg = registration(false);
    reg.start(Time::ZERO);
    let (sent, _, _) = drain(&mut reg);
    reg.handle_response(Time::ZERO, &reply(&sent[0], 200, "Expires: 3600\r\n"));
    let (_, events, next) = drain(&mut reg);
    assert_eq!(
        events,
        [RegistrationEvent::Registered {
            expires: Duration::from_secs(3600)
        }]
    );
    assert_eq!(next, at(3000));
}

#[test]
fn a_challenge_is_answered_and_a_second_one_fails_with_a_doubling_backoff() {
    let mut reg = registration(true);
    reg.start(Time::ZERO);
    let (sent, _, _) = drain(&mut reg);
    let challenge =
        "WWW-Authenticate: Digest realm=\"carrier.example\", nonce=\"abc\", qop=\"auth\"\r\n";
    reg.handle_response(Time::ZERO, &reply(&sent[0], 401, challenge));
    let (sent, events, _) = drain(&mut reg);
    assert!(events.is_empty());
    let [second] = sent.as_slice() else { panic!() };
    assert_eq!(second.head.cseq.seq, 2);
    let authorization = header(second, Name::AUTHORIZATION).unwrap();
    assert!(
        authorization.contains("uri=\"sip:carrier.example\""),
        "{authorization}"
    );
    assert!(authorization.contains("username=\"trunk1\""));
    assert!(authorization.contains("nc=00000001"));

    reg.handle_response(at(1), &reply(second, 401, challenge));
    let (sent, events, next) = drain(&mut reg);
    assert!(sent.is_empty(), "the same credentials are not sent again");
    assert_eq!(
        events,
        [RegistrationEvent::Failed {
            status: Some(401),
            retry_at: at(31)
        }]
    );
    reg.handle_timeout(next);
    let (sent, _, _) = drain(&mut reg);
    assert_eq!(sent.len(), 1);
    assert!(
        header(&sent[0], Name::AUTHORIZATION).is_none(),
        "a fresh start"
    );
    reg.handle_response(at(32), &reply(&sent[0], 403, ""));
    let (_, events, _) = drain(&mut reg);
    assert_eq!(
        events,
        [RegistrationEvent::Failed {
            status: Some(403),
            retry_at: at(92)
        }],
        "the second wait is twice the first"
    );
}

#[test]
fn no_response_is_a_failure_after_timer_f_and_retry_after_is_honoured() {
    let mut reg = registration(false);
    reg.start(Time::ZERO);
    let mut resent = 0;
    loop {
        let (sent, events, next) = drain(&mut reg);
        resent += sent.len();
        if let Some(event) = events.first() {
            assert_eq!(
                *event,
                RegistrationEvent::Failed {
                    status: None,
                    retry_at: at(32 + 30)
                }
            );
            break;
        }
        reg.handle_timeout(next);
    }
    assert_eq!(
        resent, 11,
        "the first REGISTER and ten Timer E retransmissions"
    );
    reg.handle_timeout(at(62));
    let (sent, _, _) = drain(&mut reg);
    reg.handle_response(at(62), &reply(&sent[0], 503, "Retry-After: 120\r\n"));
    let (_, events, _) = drain(&mut reg);
    assert_eq!(
        events,
        [RegistrationEvent::Failed {
            status: Some(503),
            retry_at: at(182)
        }]
    );
}

#[test]
fn responses_of_other_branches_and_provisionals_change_nothing() {
    let mut reg = registration(false);
    reg.start(Time::ZERO);
    let (sent, _, _) = drain(&mut reg);
    let mut stray = reply(&sent[0], 200, "Expires: 60\r\n");
    stray.head.top_via.branch = "z9hG4bKother".into();
    reg.handle_response(Time::ZERO, &stray);
    reg.handle_response(Time::ZERO, &reply(&sent[0], 100, ""));
    let (_, events, _) = drain(&mut reg);
    assert!(events.is_empty());
    assert!(!reg.is_registered());
}

/// [`registration`] over a stream link.
fn registration_over(link: Link) -> Registration {
    let mut reg = registration(false);
    reg.config.link = link;
    reg
}

#[test]
fn over_tcp_the_register_names_tcp_and_is_not_retransmitted() {
    let mut reg = registration_over(Link::Tcp(None));
    reg.start(Time::ZERO);
    let first = reg.poll_output();
    let RegistrationOutput::Transmit(transmit) = first else {
        panic!("{first:?}")
    };
    assert_eq!(
        transmit.link,
        Link::Tcp(None),
        "any connection to the registrar"
    );
    let text = String::from_utf8_lossy(&transmit.payload).into_owned();
    assert!(
        text.contains("\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch="),
        "{text}"
    );
    assert!(
        text.contains("\r\nContact: <sip:+4930999@127.0.0.1:5060;transport=tcp>\r\n"),
        "{text}"
    );
    // Timers E pass without a resend; Timer F fails it at 64·T1.
    let mut resent = 0;
    let mut failed = Vec::new();
    let mut now = Time::ZERO;
    while now < at(40) {
        let (sent, events, next) = drain(&mut reg);
        resent += sent.len();
        failed.extend(events);
        if next >= at(40) {
            break;
        }
        now = next;
        reg.handle_timeout(now);
    }
    assert_eq!(resent, 0);
    assert!(
        matches!(
            failed.as_slice(),
            [RegistrationEvent::Failed { status: None, .. }]
        ),
        "{failed:?}"
    );
    assert_eq!(now, at(32), "Timer F");
}

#[test]
fn over_tls_a_transport_error_fails_the_register_at_once_and_backs_off() {
    let mut reg = registration_over(Link::Tls(None));
    reg.start(Time::ZERO);
    let (sent, _, _) = drain(&mut reg);
    let [register] = sent.as_slice() else {
        panic!("{sent:?}")
    };
    assert!(register.head.echo.vias[0].starts_with("SIP/2.0/TLS "));
    assert_eq!(
        header(register, Name::CONTACT),
        Some("<sip:+4930999@127.0.0.1:5060;transport=tls>")
    );
    // What `Dispatcher::handle_transport_error` makes of a refused connection.
    reg.handle_response(Time::from_millis(3), &reply(register, 503, ""));
    let (sent, events, next) = drain(&mut reg);
    assert!(sent.is_empty());
    assert_eq!(
        events,
        [RegistrationEvent::Failed {
            status: Some(503),
            retry_at: Time::from_millis(30_003)
        }]
    );
    assert_eq!(next, Time::from_millis(30_003));
}
