//! Keepalives on the fake clock against a scripted peer.

use super::*;
use crate::sip::message::{parse_message, Message, Request};
use crate::sip::timers::SipTimers;

fn peer() -> SocketAddr {
    "192.0.2.9:5060".parse().unwrap()
}

fn pinger(interval_s: u64, failures: u32) -> OptionsPing {
    let settings = SipSettings {
        local_addr: "127.0.0.1:5060".parse().unwrap(),
        user_agent: "callplane-test".into(),
        timers: SipTimers::default(),
        session_timer: Default::default(),
    };
    let config = OptionsPingConfig {
        trunk: "carrier".into(),
        dest: peer(),
        interval: Duration::from_secs(interval_s),
        failures,
        link: crate::sip::Link::Udp,
    };
    OptionsPing::new(Arc::new(settings), config, "ping-1@127.0.0.1".into(), 7)
}

/// Everything queued: requests sent and events, then the next deadline.
fn drain(ping: &mut OptionsPing) -> (Vec<Request>, Vec<OptionsPingEvent>, Time) {
    let (mut sent, mut events) = (Vec::new(), Vec::new());
    loop {
        match ping.poll_output() {
            OptionsPingOutput::Transmit(t) => {
                assert_eq!(t.dest, peer());
                match parse_message(&t.payload) {
                    Ok(Message::Request(request)) => sent.push(request),
                    other => panic!("{other:?}"),
                }
            }
            OptionsPingOutput::Event(event) => events.push(event),
            OptionsPingOutput::Timeout(at) => return (sent, events, at),
        }
    }
}

fn reply(request: &Request, status: u16) -> Response {
    let echo = &request.head.echo;
    let text = format!(
        "SIP/2.0 {status} X\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=p\r\nCall-ID: {}\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
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

fn ms(millis: u64) -> Time {
    Time::from_millis(millis)
}

fn changed(state: TrunkState, status: Option<u16>) -> OptionsPingEvent {
    OptionsPingEvent::StateChanged { state, status }
}

#[test]
fn sends_an_options_at_start_and_then_every_interval() {
    let mut ping = pinger(30, 2);
    assert_eq!(drain(&mut ping).2, Time::NEVER, "nothing before start");
    ping.start(ms(1000));
    let (sent, events, next) = drain(&mut ping);
    assert_eq!(sent.len(), 1);
    let options = &sent[0];
    assert_eq!(options.method, crate::sip::Method::Options);
    assert_eq!(options.head.echo.call_id, "ping-1@127.0.0.1");
    assert!(options.head.echo.cseq.ends_with(" OPTIONS"));
    assert!(events.is_empty());
    assert_eq!(next, ms(1500), "Timer E first");

    ping.handle_response(ms(1040), &reply(options, 200));
    let (sent, events, next) = drain(&mut ping);
    assert!(sent.is_empty());
    assert_eq!(events, vec![changed(TrunkState::Up, Some(200))]);
    assert_eq!(
        next,
        ms(31_000),
        "interval from the sending, not the answer"
    );
    assert_eq!(ping.state(), TrunkState::Up);

    ping.handle_timeout(ms(30_999));
    assert!(drain(&mut ping).0.is_empty(), "not early");
    ping.handle_timeout(ms(31_000));
    let (sent, _, _) = drain(&mut ping);
    assert_eq!(sent.len(), 1);
    assert_ne!(
        sent[0].head.top_via.branch, options.head.top_via.branch,
        "a new transaction"
    );
    ping.handle_response(ms(31_010), &reply(&sent[0], 200));
    let (_, events, next) = drain(&mut ping);
    assert!(events.is_empty(), "still up: no event");
    assert_eq!(next, ms(61_000));
    assert_eq!((ping.options_sent, ping.options_failed), (2, 0));
}

#[test]
fn any_final_answer_but_408_5xx_6xx_means_alive() {
    for (status, alive) in [
        (200, true),
        (404, true),
        (405, true),
        (481, true),
        (407, true),
        (408, false),
        (500, false),
        (503, false),
        (603, false),
    ] {
        let mut ping = pinger(10, 1);
        ping.start(ms(0));
        let (sent, _, _) = drain(&mut ping);
        ping.handle_response(ms(20), &reply(&sent[0], status));
        let (_, events, _) = drain(&mut ping);
        let state = if alive {
            TrunkState::Up
        } else {
            TrunkState::Down
        };
        assert_eq!(events, vec![changed(state, Some(status))], "{status}");
        assert_eq!(ping.options_failed, u64::from(!alive), "{status}");
    }
}

#[test]
fn goes_down_after_the_configured_failures_in_a_row_and_up_again() {
    let mut ping = pinger(60, 2);
    ping.start(ms(0));
    let (sent, _, _) = drain(&mut ping);
    ping.handle_response(ms(10), &reply(&sent[0], 200));
    assert_eq!(drain(&mut ping).1, vec![changed(TrunkState::Up, Some(200))]);

    // The second OPTIONS is never answered: retransmitted, then Timer F.
    ping.handle_timeout(ms(60_000));
    let (sent, _, mut next) = drain(&mut ping);
    assert_eq!(sent.len(), 1);
    let mut retransmits = 0;
    while next < ms(60_000 + 32_000) {
        ping.handle_timeout(next);
        let (again, events, after) = drain(&mut ping);
        assert!(events.is_empty());
        retransmits += again.len();
        next = after;
    }
    assert!(retransmits >= 5, "Timer E retransmits: {retransmits}");
    ping.handle_timeout(next);
    let (_, events, after) = drain(&mut ping);
    assert!(events.is_empty(), "one failure of two: still up");
    assert_eq!(ping.state(), TrunkState::Up);
    assert_eq!(after, ms(120_000));

    // The third gets a 503: the second failure in a row takes it down.
    ping.handle_timeout(ms(120_000));
    let (sent, _, _) = drain(&mut ping);
    ping.handle_response(ms(120_050), &reply(&sent[0], 503));
    assert_eq!(
        drain(&mut ping).1,
        vec![changed(TrunkState::Down, Some(503))]
    );
    assert_eq!(ping.options_failed, 2);

    // Down stays down without more events; the first answer brings it up.
    ping.handle_timeout(ms(180_000));
    let (sent, _, _) = drain(&mut ping);
    ping.handle_response(ms(180_050), &reply(&sent[0], 500));
    assert!(drain(&mut ping).1.is_empty());
    ping.handle_timeout(ms(240_000));
    let (sent, _, _) = drain(&mut ping);
    ping.handle_response(ms(240_050), &reply(&sent[0], 404));
    assert_eq!(drain(&mut ping).1, vec![changed(TrunkState::Up, Some(404))]);
    assert_eq!((ping.options_sent, ping.options_failed), (5, 3));
}

#[test]
fn a_transaction_longer_than_the_interval_delays_the_next_options() {
    let mut ping = pinger(5, 3);
    ping.start(ms(0));
    let (sent, _, mut next) = drain(&mut ping);
    assert_eq!(sent.len(), 1);
    let mut sent_total = 1;
    // Until Timer F (32 s) only retransmissions of the one OPTIONS go out.
    while ping.options_failed == 0 {
        ping.handle_timeout(next);
        let (again, _, after) = drain(&mut ping);
        for request in &again {
            assert_eq!(request.head.top_via.branch, sent[0].head.top_via.branch);
        }
        sent_total += again.len();
        next = after;
    }
    assert!(sent_total > 1);
    assert_eq!(ping.options_sent, 1);
    assert_eq!(ping.options_failed, 1);
    assert_eq!(next, ms(32_000), "the next one at once after the timeout");
    ping.handle_timeout(next);
    let (sent, _, _) = drain(&mut ping);
    assert_eq!(sent.len(), 1);
    assert_eq!(ping.options_sent, 2);
}

#[test]
fn stray_and_provisional_responses_change_nothing() {
    let mut ping = pinger(10, 1);
    ping.start(ms(0));
    let (sent, _, next) = drain(&mut ping);
    ping.handle_response(ms(5), &reply(&sent[0], 100));
    assert!(drain(&mut ping).1.is_empty());
    let mut other = reply(&sent[0], 200);
    other.head.top_via.branch = "z9hG4bK-other".into();
    ping.handle_response(ms(6), &other);
    let (_, events, after) = drain(&mut ping);
    assert!(events.is_empty());
    assert_eq!(ping.state(), TrunkState::Unknown);
    assert!(after <= next);
    ping.handle_response(ms(7), &reply(&sent[0], 200));
    assert_eq!(drain(&mut ping).1, vec![changed(TrunkState::Up, Some(200))]);
    ping.handle_response(ms(8), &reply(&sent[0], 200));
    assert!(drain(&mut ping).1.is_empty(), "a retransmitted 200");
}
