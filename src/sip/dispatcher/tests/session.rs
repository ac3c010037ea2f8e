//! Mid-dialog session work on the fake clock: offerless re-INVITE, UPDATE,
//! offer glare, and session timers (RFC 4028) with either side refreshing.

use super::*;
use crate::sip::method::Method;
use crate::sip::settings::SessionTimerSettings;
use ezk_sip_types::Name;

/// `request` with `extra` header lines (each ending in CRLF).
fn request_with(
    method: &str,
    branch: &str,
    to_tag: Option<&str>,
    cseq: u32,
    extra: &str,
    body: &str,
) -> String {
    request(method, branch, to_tag, cseq, body).replacen(
        "Max-Forwards: 70\r\n",
        &format!("Max-Forwards: 70\r\n{extra}"),
        1,
    )
}

fn header(response: &Response, name: &Name) -> Option<String> {
    response
        .head
        .headers
        .get_raw(name)
        .next()
        .map(|value| value.as_str().to_owned())
}

fn request_header(request: &Request, name: &Name) -> Option<String> {
    request
        .head
        .headers
        .get_raw(name)
        .next()
        .map(|value| value.as_str().to_owned())
}

fn harness(min_se: u32, session_expires: u32) -> Harness {
    let config = SipSettings {
        local_addr: local(),
        user_agent: "callplane-test".into(),
        session_timer: SessionTimerSettings {
            min_se,
            session_expires,
        },
        timers: SipTimers::default(),
    };
    Harness {
        endpoint: Ua::new(config, 7),
    }
}

/// INVITE at 0 with `extra`, answered at 0 and acknowledged at 100 ms;
/// returns our tag and the 200 OK.
fn timed_call(h: &mut Harness, extra: &str) -> (String, Response) {
    h.send(
        0,
        &request_with("INVITE", "z9hG4bK-inv", None, 1, extra, SDP_OFFER),
    );
    assert_eq!(h.statuses(), vec![100]);
    h.events();
    h.endpoint
        .answer(Time::ZERO, &call_id(), SDP_OFFER)
        .unwrap();
    let ok = h.responses().remove(0);
    let tag = ok.head.to.tag().unwrap().to_owned();
    h.send(100, &request("ACK", "z9hG4bK-ack", Some(&tag), 1, ""));
    assert_eq!(h.events(), vec![Event::Confirmed { call: call_id() }]);
    (tag, ok)
}

/// Runs the clock to `end_ms`; every request we sent, with its time.
fn requests_until(h: &mut Harness, end_ms: u64) -> Vec<(u64, Request)> {
    h.run_until(end_ms)
        .into_iter()
        .map(|(at, transmit)| (at, parsed_request(&transmit.payload)))
        .collect()
}

#[test]
fn an_offerless_reinvite_gets_our_offer_and_its_ack_carries_the_answer() {
    let mut h = Harness::new();
    let tag = h.confirmed_call();
    h.send(1_000, &request("INVITE", "z9hG4bK-re1", Some(&tag), 2, ""));
    assert!(h.statuses().is_empty(), "the owner offers, not the dialog");
    assert_eq!(h.events(), vec![Event::OfferRequested { call: call_id() }]);
    h.endpoint
        .offer_in_reinvite(Time::from_millis(1_000), &call_id(), SDP_OFFER)
        .unwrap();
    let ok = h.responses();
    assert_eq!((ok[0].status, ok[0].head.cseq.seq), (200, 2));
    assert_eq!(&ok[0].head.body[..], SDP_OFFER.as_bytes());
    // Retransmitted until the ACK, which carries the answer.
    assert_eq!(h.run_until(1_600).len(), 1);
    h.send(
        1_700,
        &request("ACK", "z9hG4bK-re1ack", Some(&tag), 2, SDP_OFFER),
    );
    match h.events().as_slice() {
        [Event::AnswerInAck { sdp: Some(sdp), .. }] => assert_eq!(sdp.media.len(), 1),
        other => panic!("{other:?}"),
    }
    assert!(h.run_until(10_000).is_empty(), "no more 200s after the ACK");
    // A retransmitted ACK reports nothing again.
    h.send(
        10_100,
        &request("ACK", "z9hG4bK-re1ack", Some(&tag), 2, SDP_OFFER),
    );
    assert!(h.events().is_empty());
    // An ACK without an answer is reported as such; the call goes on.
    h.send(20_000, &request("INVITE", "z9hG4bK-re2", Some(&tag), 3, ""));
    assert_eq!(h.events(), vec![Event::OfferRequested { call: call_id() }]);
    h.endpoint
        .offer_in_reinvite(Time::from_millis(20_000), &call_id(), SDP_OFFER)
        .unwrap();
    assert_eq!(h.statuses(), vec![200]);
    h.send(20_100, &request("ACK", "z9hG4bK-re2ack", Some(&tag), 3, ""));
    assert_eq!(
        h.events(),
        vec![Event::AnswerInAck {
            call: call_id(),
            sdp: None
        }]
    );
    assert_eq!(h.endpoint.active_dialogs(), 1);
    // Refused by the owner: its ACK answers nothing, and offers are taken again.
    h.send(30_000, &request("INVITE", "z9hG4bK-re3", Some(&tag), 4, ""));
    assert_eq!(h.events(), vec![Event::OfferRequested { call: call_id() }]);
    h.endpoint
        .reject_reinvite(Time::from_millis(30_000), &call_id(), 488)
        .unwrap();
    assert_eq!(h.statuses(), vec![488]);
    h.send(30_100, &request("ACK", "z9hG4bK-re3", Some(&tag), 4, ""));
    assert!(h.events().is_empty());
    h.send(
        30_200,
        &request("UPDATE", "z9hG4bK-up9", Some(&tag), 5, SDP_OFFER),
    );
    assert_eq!(h.events(), vec![Event::Reoffer { call: call_id() }]);
}

#[test]
fn an_update_with_an_offer_is_answered_by_the_owner_and_one_without_is_a_refresh() {
    let mut h = Harness::new();
    let tag = h.confirmed_call();
    let update = request("UPDATE", "z9hG4bK-up1", Some(&tag), 2, SDP_OFFER);
    h.send(1_000, &update);
    assert!(h.statuses().is_empty());
    assert_eq!(h.events(), vec![Event::Reoffer { call: call_id() }]);
    // A retransmission before the answer is absorbed.
    h.send(1_010, &update);
    assert!(h.statuses().is_empty());
    h.endpoint
        .answer_reinvite(Time::from_millis(1_020), &call_id(), "v=0\r\n")
        .unwrap();
    let ok = h.responses();
    assert_eq!(
        (ok[0].status, ok[0].head.cseq.method.as_str()),
        (200, "UPDATE")
    );
    assert_eq!(&ok[0].head.body[..], b"v=0\r\n");
    assert!(header(&ok[0], &Name::CONTACT).is_some());
    // A retransmission after it gets the same 200; no ACK, no more 200s.
    h.send(1_500, &update);
    assert_eq!(h.statuses(), vec![200]);
    assert!(h.run_until(40_000).is_empty());
    // Without an offer: 200 at once, no event.
    h.send(41_000, &request("UPDATE", "z9hG4bK-up2", Some(&tag), 3, ""));
    let ok = h.responses();
    assert_eq!(ok[0].status, 200);
    assert!(ok[0].head.body.is_empty());
    assert!(h.events().is_empty());
    // The owner may refuse an offer in an UPDATE too.
    h.send(
        42_000,
        &request("UPDATE", "z9hG4bK-up3", Some(&tag), 4, SDP_OFFER),
    );
    assert_eq!(h.events(), vec![Event::Reoffer { call: call_id() }]);
    h.endpoint
        .reject_reinvite(Time::from_millis(42_000), &call_id(), 488)
        .unwrap();
    assert_eq!(h.statuses(), vec![488]);
}

#[test]
fn an_update_in_the_early_dialog_is_answered_without_the_owner() {
    let mut h = Harness::new();
    h.send(0, &invite());
    h.events();
    h.endpoint.ring(Time::ZERO, &call_id()).unwrap();
    let ringing = h.responses();
    let tag = ringing[1].head.to.tag().unwrap().to_owned();
    h.send(100, &request("UPDATE", "z9hG4bK-e1", Some(&tag), 2, ""));
    assert_eq!(h.statuses(), vec![200]);
    h.send(
        200,
        &request("UPDATE", "z9hG4bK-e2", Some(&tag), 3, SDP_OFFER),
    );
    let refused = h.responses();
    assert_eq!(refused[0].status, 500);
    assert_eq!(
        header(&refused[0], &Name::RETRY_AFTER).as_deref(),
        Some("2")
    );
    assert!(h.events().is_empty());
}

#[test]
fn offers_crossing_ours_get_491_and_one_crossing_an_unanswered_one_500() {
    let mut h = Harness::new();
    let tag = h.confirmed_call();
    // Our offer in the 200 to an offerless re-INVITE awaits its ACK.
    h.send(1_000, &request("INVITE", "z9hG4bK-re1", Some(&tag), 2, ""));
    h.events();
    h.endpoint
        .offer_in_reinvite(Time::from_millis(1_000), &call_id(), SDP_OFFER)
        .unwrap();
    assert_eq!(h.statuses(), vec![200]);
    h.send(
        1_100,
        &request("UPDATE", "z9hG4bK-up1", Some(&tag), 3, SDP_OFFER),
    );
    assert_eq!(h.statuses(), vec![491]);
    h.send(
        1_200,
        &request("INVITE", "z9hG4bK-re2", Some(&tag), 4, SDP_OFFER),
    );
    assert_eq!(h.statuses(), vec![491]);
    // An UPDATE without an offer is only a refresh: fine.
    h.send(1_300, &request("UPDATE", "z9hG4bK-up2", Some(&tag), 5, ""));
    assert_eq!(h.statuses(), vec![200]);
    h.send(
        1_400,
        &request("ACK", "z9hG4bK-a1", Some(&tag), 2, SDP_OFFER),
    );
    h.events();
    // A re-INVITE the owner has not answered: an UPDATE offer gets 500.
    h.send(
        2_000,
        &request("INVITE", "z9hG4bK-re3", Some(&tag), 6, SDP_OFFER),
    );
    assert_eq!(h.events(), vec![Event::Reoffer { call: call_id() }]);
    h.send(
        2_100,
        &request("UPDATE", "z9hG4bK-up3", Some(&tag), 7, SDP_OFFER),
    );
    let refused = h.responses();
    assert_eq!(refused[0].status, 500);
    assert_eq!(
        header(&refused[0], &Name::RETRY_AFTER).as_deref(),
        Some("2")
    );
}

#[test]
fn the_caller_refreshing_gets_require_timer_and_is_hung_up_when_it_stops() {
    let mut h = harness(90, 0);
    let (tag, ok) = timed_call(
        &mut h,
        "Session-Expires: 90;refresher=uac\r\nSupported: timer\r\nMin-SE: 90\r\n",
    );
    assert_eq!(
        header(&ok, &Name::SESSION_EXPIRES).as_deref(),
        Some("90;refresher=uac")
    );
    assert_eq!(header(&ok, &Name::REQUIRE).as_deref(), Some("timer"));
    // A refresh re-INVITE at 40 s restarts the clock: due at 40 + 60 s.
    h.send(
        40_000,
        &request_with(
            "INVITE",
            "z9hG4bK-r1",
            Some(&tag),
            2,
            "Session-Expires: 90;refresher=uac\r\nSupported: timer\r\n",
            SDP_OFFER,
        ),
    );
    assert_eq!(h.events(), vec![Event::Reoffer { call: call_id() }]);
    h.endpoint
        .answer_reinvite(Time::from_millis(40_000), &call_id(), SDP_OFFER)
        .unwrap();
    let refreshed = h.responses();
    assert_eq!(
        header(&refreshed[0], &Name::SESSION_EXPIRES).as_deref(),
        Some("90;refresher=uac")
    );
    h.send(40_050, &request("ACK", "z9hG4bK-r1a", Some(&tag), 2, ""));
    assert!(
        requests_until(&mut h, 99_999).is_empty(),
        "not due before 100 s"
    );
    let sent = requests_until(&mut h, 100_000);
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].0, &sent[0].1.method), (100_000, &Method::Bye));
    assert_eq!(
        h.events(),
        vec![Event::Terminated {
            call: call_id(),
            reason: TerminatedReason::SessionExpired
        }]
    );
    assert_eq!(h.endpoint.stats().session_expiries, 1);
}

#[test]
fn too_brief_refreshes_get_422_with_min_se() {
    let mut h = harness(90, 0);
    let (tag, _) = timed_call(
        &mut h,
        "Session-Expires: 120;refresher=uac\r\nSupported: timer\r\n",
    );
    h.send(
        1_000,
        &request_with(
            "UPDATE",
            "z9hG4bK-u1",
            Some(&tag),
            2,
            "Session-Expires: 30\r\n",
            "",
        ),
    );
    let refused = h.responses();
    assert_eq!(refused[0].status, 422);
    assert_eq!(header(&refused[0], &Name::MIN_SE).as_deref(), Some("90"));
    h.send(
        1_100,
        &request_with(
            "INVITE",
            "z9hG4bK-r1",
            Some(&tag),
            3,
            "Session-Expires: 60\r\nMin-SE: 60\r\n",
            SDP_OFFER,
        ),
    );
    let refused = h.responses();
    assert_eq!(refused[0].status, 422);
    assert_eq!(header(&refused[0], &Name::MIN_SE).as_deref(), Some("90"));
    assert!(h.events().is_empty());
    h.send(1_150, &request("ACK", "z9hG4bK-r1", Some(&tag), 3, ""));
    // The session was not refreshed: still due at 120 − 32 s.
    let sent = requests_until(&mut h, 200_000);
    assert_eq!(sent[0].0, 88_000);
}

#[test]
fn we_refresh_at_half_the_interval_with_update_when_the_caller_allows_it() {
    let mut h = harness(90, 0);
    let (tag, ok) = timed_call(
        &mut h,
        "Session-Expires: 90\r\nSupported: timer\r\nAllow: INVITE, ACK, BYE, UPDATE\r\n",
    );
    assert_eq!(
        header(&ok, &Name::SESSION_EXPIRES).as_deref(),
        Some("90;refresher=uas")
    );
    assert_eq!(header(&ok, &Name::REQUIRE).as_deref(), Some("timer"));
    let sent = requests_until(&mut h, 45_000);
    assert_eq!(sent.len(), 1);
    let (at, update) = &sent[0];
    assert_eq!((*at, &update.method), (45_000, &Method::Update));
    assert_eq!(
        request_header(update, &Name::SESSION_EXPIRES).as_deref(),
        Some("90;refresher=uac")
    );
    assert_eq!(update.head.to.tag(), Some("1234SIPpTag001"));
    assert_eq!(update.head.from.tag(), Some(tag.as_str()));
    assert!(update.head.body.is_empty());
    h.send(45_100, &reply_to(update, 200));
    // Answered: the next refresh is due at 45.1 + 45 s, and each one is answered.
    let sent = requests_until(&mut h, 90_100);
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].0, &sent[0].1.method), (90_100, &Method::Update));
    assert_eq!(sent[0].1.head.cseq.seq, update.head.cseq.seq + 1);
    h.send(90_200, &reply_to(&sent[0].1, 200));
    assert!(h.events().is_empty());
    assert_eq!(h.endpoint.stats().session_refreshes_sent, 2);
    // A refresh from the caller also restarts our clock.
    h.send(100_000, &request("UPDATE", "z9hG4bK-cu", Some(&tag), 2, ""));
    assert_eq!(h.statuses(), vec![200]);
    assert!(requests_until(&mut h, 144_999).is_empty());
    assert_eq!(requests_until(&mut h, 145_000).len(), 1);
}

#[test]
fn without_update_in_allow_we_refresh_with_a_reinvite_carrying_our_sdp() {
    let mut h = harness(90, 0);
    let (_, _) = timed_call(
        &mut h,
        "Session-Expires: 90;refresher=uas\r\nSupported: timer\r\n",
    );
    let sent = requests_until(&mut h, 45_000);
    let (at, reinvite) = &sent[0];
    assert_eq!((*at, &reinvite.method), (45_000, &Method::Invite));
    assert_eq!(
        &reinvite.head.body[..],
        SDP_OFFER.as_bytes(),
        "the SDP we last sent"
    );
    assert!(request_header(reinvite, &Name::CONTACT).is_some());
    let ok = reply_to(reinvite, 200).replace(
        "Content-Length: 0\r\n",
        "Session-Expires: 90;refresher=uac\r\nContent-Length: 0\r\n",
    );
    h.send(45_100, &ok);
    let acks = h.transmits();
    assert_eq!(acks.len(), 1);
    let ack = parsed_request(&acks[0].payload);
    assert_eq!(
        (ack.method, ack.head.cseq.seq),
        (Method::Ack, reinvite.head.cseq.seq)
    );
    assert_ne!(ack.head.top_via.branch, reinvite.head.top_via.branch);
    // A retransmitted 200 is acknowledged again; the next refresh comes at 90.1 s.
    h.send(45_600, &ok);
    assert_eq!(h.transmits().len(), 1);
    let sent = requests_until(&mut h, 90_100);
    assert_eq!(
        sent.last().map(|(at, r)| (*at, r.method.clone())),
        Some((90_100, Method::Invite))
    );
}

#[test]
fn an_unanswered_refresh_ends_the_call_and_a_481_at_once() {
    let mut h = harness(90, 0);
    timed_call(&mut h, "Session-Expires: 90\r\nAllow: UPDATE\r\n");
    // Retransmitted on Timer E, then Timer F (32 s) fires at 77 s: BYE.
    let sent = requests_until(&mut h, 77_000);
    assert!(sent
        .iter()
        .take(sent.len() - 1)
        .all(|(_, r)| r.method == Method::Update));
    let (at, last) = sent.last().unwrap();
    assert_eq!((*at, &last.method), (77_000, &Method::Bye));
    assert_eq!(
        h.events(),
        vec![Event::Terminated {
            call: call_id(),
            reason: TerminatedReason::RefreshFailed
        }]
    );
    let mut h = harness(90, 0);
    timed_call(&mut h, "Session-Expires: 90\r\nAllow: UPDATE\r\n");
    let sent = requests_until(&mut h, 45_000);
    h.send(45_100, &reply_to(&sent[0].1, 481));
    let bye = parsed_request(&h.transmits()[0].payload);
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(
        h.events(),
        vec![Event::Terminated {
            call: call_id(),
            reason: TerminatedReason::RefreshFailed
        }]
    );
}

#[test]
fn a_refresh_refused_otherwise_is_retried_until_the_session_expires() {
    let mut h = harness(90, 0);
    timed_call(&mut h, "Session-Expires: 90\r\nAllow: UPDATE\r\n");
    let sent = requests_until(&mut h, 45_000);
    h.send(45_000, &reply_to(&sent[0].1, 500));
    // Halfway to the expiry (90 s): 67.5 s.
    let sent = requests_until(&mut h, 67_500);
    assert_eq!(sent.last().map(|(at, _)| *at), Some(67_500));
}

#[test]
fn a_configured_interval_applies_to_callers_that_ask_none() {
    let mut h = harness(90, 120);
    let (_, ok) = timed_call(&mut h, "");
    assert_eq!(
        header(&ok, &Name::SESSION_EXPIRES).as_deref(),
        Some("120;refresher=uas")
    );
    assert_eq!(
        header(&ok, &Name::REQUIRE),
        None,
        "the caller does not support timers"
    );
    let sent = requests_until(&mut h, 60_000);
    assert_eq!((sent[0].0, &sent[0].1.method), (60_000, &Method::Invite));
    // Without a configured interval, a caller asking none gets no timer.
    let mut h = harness(90, 0);
    let (_, ok) = timed_call(&mut h, "");
    assert_eq!(header(&ok, &Name::SESSION_EXPIRES), None);
    assert!(requests_until(&mut h, 3_600_000).is_empty());
}

#[test]
fn an_offer_crossing_our_refresh_reinvite_gets_491_and_one_before_the_ack_too() {
    let mut h = harness(90, 0);
    let (tag, _) = timed_call(&mut h, "Session-Expires: 90\r\n");
    let sent = requests_until(&mut h, 45_000);
    assert_eq!(sent[0].1.method, Method::Invite, "our refresh re-INVITE");
    h.send(
        45_050,
        &request("INVITE", "z9hG4bK-x1", Some(&tag), 2, SDP_OFFER),
    );
    assert_eq!(h.statuses(), vec![491]);
    h.send(
        45_060,
        &request("UPDATE", "z9hG4bK-x2", Some(&tag), 3, SDP_OFFER),
    );
    assert_eq!(h.statuses(), vec![491]);
    assert!(h.events().is_empty());
    // Once ours is answered, offers are taken again.
    h.send(45_100, &reply_to(&sent[0].1, 200));
    h.transmits();
    h.send(
        45_200,
        &request("UPDATE", "z9hG4bK-x3", Some(&tag), 4, SDP_OFFER),
    );
    assert_eq!(h.events(), vec![Event::Reoffer { call: call_id() }]);
    // A re-INVITE before the ACK of our 200 to the INVITE: 491.
    let mut h = Harness::new();
    let tag = h.answered_call();
    h.send(
        50,
        &request("INVITE", "z9hG4bK-y1", Some(&tag), 2, SDP_OFFER),
    );
    assert_eq!(h.statuses(), vec![491]);
}
