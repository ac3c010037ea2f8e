//! The §8.2 checks of `checks.rs` on a bare dispatcher: merged copies of requests
//! the dispatcher answered itself, Max-Forwards 0, and the bodies a new INVITE
//! may carry.

use super::*;

fn dispatcher() -> Dispatcher {
    let config = SipSettings {
        local_addr: local(),
        user_agent: "callplane-test".into(),
        timers: SipTimers::default(),
        session_timer: Default::default(),
    };
    Dispatcher::new(config, 3)
}

fn statuses(dispatcher: &mut Dispatcher) -> Vec<u16> {
    std::iter::from_fn(|| match dispatcher.poll_output() {
        DispatcherOutput::Transmit(transmit) => Some(response(&transmit.payload).status),
        DispatcherOutput::Timeout(_) => None,
    })
    .collect()
}

fn feed(dispatcher: &mut Dispatcher, at_ms: u64, data: &str) -> Option<Routed> {
    dispatcher.handle_datagram(Time::from_millis(at_ms), caller(), data.as_bytes())
}

#[test]
fn a_merged_copy_of_a_rejected_invite_gets_482_not_a_new_call() {
    let mut d = dispatcher();
    let Some(Routed::NewInvite(offered)) = feed(&mut d, 0, &invite()) else {
        panic!("a new call");
    };
    d.reject(Time::ZERO, *offered, 486).unwrap();
    assert_eq!(statuses(&mut d), vec![100, 486]);

    let copy = invite().replace("z9hG4bK-1234-1-0", "z9hG4bK-other-path");
    assert!(feed(&mut d, 10, &copy).is_none());
    assert_eq!(statuses(&mut d), vec![482]);
    assert_eq!(d.stats().merged_answered_482, 1);
    // The copy's retransmission is answered from its own transaction.
    assert!(feed(&mut d, 20, &copy).is_none());
    assert_eq!(statuses(&mut d), vec![482]);
    assert_eq!(d.stats().calls_offered, 1);
}

#[test]
fn a_merged_copy_is_no_longer_one_once_the_original_transaction_ended() {
    let mut d = dispatcher();
    feed(&mut d, 0, &request("OPTIONS", "z9hG4bK-o1", None, 5, ""));
    assert_eq!(statuses(&mut d), vec![200]);
    let copy = request("OPTIONS", "z9hG4bK-o2", None, 5, "");
    feed(&mut d, 10, &copy);
    assert_eq!(statuses(&mut d), vec![482]);
    // Timer J (64·T1) ends both transactions.
    d.handle_timeout(Time::from_millis(40_000));
    assert_eq!(d.own_transactions(), 0);
    feed(
        &mut d,
        40_010,
        &request("OPTIONS", "z9hG4bK-o3", None, 5, ""),
    );
    assert_eq!(statuses(&mut d), vec![200]);
}

#[test]
fn max_forwards_0_gets_483_except_on_options() {
    let mut d = dispatcher();
    let zero = |method: &str, branch: &str| {
        request(method, branch, None, 1, "").replace("Max-Forwards: 70", "Max-Forwards: 0")
    };
    feed(&mut d, 0, &zero("OPTIONS", "z9hG4bK-a"));
    assert_eq!(statuses(&mut d), vec![200]);
    assert!(feed(&mut d, 0, &zero("INVITE", "z9hG4bK-b")).is_none());
    assert_eq!(statuses(&mut d), vec![483]);
    feed(&mut d, 0, &zero("MESSAGE", "z9hG4bK-c"));
    assert_eq!(statuses(&mut d), vec![483]);
    // Leading zeros are still zero; 1 is fine.
    let padded = invite().replace("Max-Forwards: 70", "Max-Forwards: 000");
    assert!(feed(&mut d, 0, &padded.replace("z9hG4bK-1234-1-0", "z9hG4bK-d")).is_none());
    assert_eq!(statuses(&mut d), vec![483]);
    // A new CSeq: the same one would be a merged copy of the refused INVITE.
    let one = request("INVITE", "z9hG4bK-e", None, 2, SDP_OFFER)
        .replace("Max-Forwards: 70", "Max-Forwards: 1");
    assert!(matches!(feed(&mut d, 0, &one), Some(Routed::NewInvite(_))));
    assert_eq!(d.stats().too_many_hops_answered_483, 3);
}

#[test]
fn sdp_and_multipart_with_sdp_are_taken_other_bodies_get_415() {
    let with_type = |content_type: &str, body: &str, branch: &str| {
        request("INVITE", branch, None, 1, body).replacen(
            "Content-Type: application/sdp",
            &format!("Content-Type: {content_type}"),
            1,
        )
    };
    let mut d = dispatcher();
    let plain = with_type("Application/SDP;charset=utf-8", SDP_OFFER, "z9hG4bK-1");
    assert!(matches!(
        feed(&mut d, 0, &plain),
        Some(Routed::NewInvite(_))
    ));

    let mut d = dispatcher();
    let multipart = format!(
        "--b\r\nContent-Type: application/isup\r\n\r\nxx\r\n--b\r\nContent-Type: application/sdp\r\n\r\n{SDP_OFFER}\r\n--b--\r\n"
    );
    let multipart = with_type("multipart/mixed;boundary=b", &multipart, "z9hG4bK-2");
    assert!(matches!(
        feed(&mut d, 0, &multipart),
        Some(Routed::NewInvite(_))
    ));

    let mut d = dispatcher();
    let identity = plain.replace("Subject:", "Content-Encoding: identity\r\nSubject:");
    assert!(matches!(
        feed(&mut d, 0, &identity),
        Some(Routed::NewInvite(_))
    ));

    let mut d = dispatcher();
    assert!(feed(&mut d, 0, &with_type("application/json", "{}", "z9hG4bK-3")).is_none());
    let gzip = plain
        .replace("Subject:", "Content-Encoding: gzip\r\nSubject:")
        .replace("CSeq: 1 INVITE", "CSeq: 2 INVITE");
    assert!(feed(&mut d, 0, &gzip).is_none());
    let sent: Vec<Response> = std::iter::from_fn(|| match d.poll_output() {
        DispatcherOutput::Transmit(transmit) => Some(response(&transmit.payload)),
        DispatcherOutput::Timeout(_) => None,
    })
    .collect();
    assert_eq!(
        sent.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![415, 415]
    );
    let accept = |r: &Response, name| r.head.headers.get_raw(&name).next().map(|v| v.to_string());
    assert_eq!(
        accept(&sent[0], ezk_sip_types::Name::ACCEPT).as_deref(),
        Some("application/sdp")
    );
    assert_eq!(
        accept(&sent[1], ezk_sip_types::Name::ACCEPT_ENCODING).as_deref(),
        Some("identity")
    );
    assert_eq!(d.stats().unsupported_body_answered_415, 2);
}
