//! Call flows: answer + retransmissions + ACK, remote and local hang-up, Timer H,
//! Timer E/F, CANCEL, reject.

use super::*;
use crate::sip::error::SipError;
use crate::sip::event::TerminatedReason;
use crate::sip::method::Method;

fn millis(sent: &[(u64, Transmit)]) -> Vec<u64> {
    sent.iter().map(|(at, _)| *at).collect()
}

#[test]
fn invite_answer_retransmit_ack_then_remote_bye() {
    let mut h = Harness::new();
    h.send(0, &invite());
    let trying = h.responses();
    assert_eq!(trying.len(), 1);
    assert_eq!(trying[0].status, 100);
    assert_eq!(trying[0].head.to.tag(), None);
    assert_eq!(
        trying[0].head.echo.vias,
        vec!["SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1234-1-0"]
    );
    match h.events().as_slice() {
        [Event::IncomingCall {
            call,
            source,
            request_user,
            from_user,
            from_display,
            to_user,
            sdp: Some(sdp),
        }] => {
            assert_eq!(call, &call_id());
            assert_eq!(*source, caller());
            assert_eq!(request_user, "1000");
            assert_eq!(from_user, "sipp");
            assert_eq!(from_display.as_deref(), Some("sipp"));
            assert_eq!(to_user, "1000");
            assert_eq!(sdp.media[0].port, 6000);
        }
        other => panic!("unexpected events {other:?}"),
    }
    assert_eq!(h.endpoint.active_dialogs(), 1);
    assert_eq!(h.endpoint.poll_timeout(), None);

    let answer_sdp = "v=0\r\no=callplane 1 1 IN IP4 127.0.0.1\r\n";
    h.endpoint
        .answer(Time::ZERO, &call_id(), answer_sdp)
        .unwrap();
    let ok = h.transmits();
    assert_eq!(ok.len(), 1);
    let ok_payload = ok[0].payload.clone();
    let ok = response(&ok_payload);
    assert_eq!(ok.status, 200);
    let tag = ok.head.to.tag().unwrap().to_owned();
    assert_eq!(&ok.head.body[..], answer_sdp.as_bytes());
    assert_eq!(ok.head.content_type.as_deref(), Some("application/sdp"));
    assert_eq!(
        ok.head.contact.as_ref().map(|c| c.uri.as_str()),
        Some("sip:callplane@127.0.0.1:5060")
    );
    assert_eq!(
        ok.head.echo.from,
        "sipp <sip:sipp@127.0.0.1:5061>;tag=1234SIPpTag001"
    );
    assert_eq!(ok.head.echo.cseq, "1 INVITE");

    let sent = h.run_until(12_000);
    assert_eq!(millis(&sent), vec![500, 1500, 3500, 7500, 11500]);
    assert!(sent
        .iter()
        .all(|(_, t)| t.payload == ok_payload && t.dest == caller()));
    assert_eq!(h.endpoint.stats().retransmits_sent, 5);

    h.send(12_000, &request("ACK", "z9hG4bK-ack", Some(&tag), 1, ""));
    assert_eq!(h.events(), vec![Event::Confirmed { call: call_id() }]);
    assert!(h.transmits().is_empty());
    assert!(
        h.run_until(31_999).is_empty(),
        "retransmission must stop after the ACK"
    );
    // A retransmitted ACK is absorbed by the confirmed dialog.
    h.send(12_100, &request("ACK", "z9hG4bK-ack", Some(&tag), 1, ""));
    assert!(h.events().is_empty());
    assert_eq!(h.endpoint.stats().unmatched_acks, 0);

    let bye = request("BYE", "z9hG4bK-bye", Some(&tag), 2, "");
    h.send(40_000, &bye);
    let bye_ok = h.responses();
    assert_eq!(bye_ok.len(), 1);
    assert_eq!(bye_ok[0].status, 200);
    assert_eq!(bye_ok[0].head.to.tag(), Some(tag.as_str()));
    assert_eq!(
        h.events(),
        vec![
            Event::RemoteHangup { call: call_id() },
            Event::Terminated {
                call: call_id(),
                reason: TerminatedReason::RemoteHangup
            }
        ]
    );
    assert_eq!(h.endpoint.active_dialogs(), 0);

    // A retransmitted BYE gets the same 200 again.
    h.send(40_500, &bye);
    assert_eq!(h.statuses(), vec![200]);
    assert_eq!(h.endpoint.stats().request_retransmits_absorbed, 1);
    h.run_until(100_000);
    assert_eq!(h.endpoint.poll_timeout(), None);
}

#[test]
fn local_hangup_sends_bye_retransmitted_until_200() {
    let mut h = Harness::new();
    let tag = h.confirmed_call();
    h.endpoint
        .hangup(Time::from_millis(1000), &call_id())
        .unwrap();
    let sent = h.transmits();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].dest, caller());
    let bye = parsed_request(&sent[0].payload);
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(bye.uri, "sip:sipp@127.0.0.1:5061");
    assert_eq!(bye.head.from.tag(), Some(tag.as_str()));
    assert_eq!(bye.head.from.uri, "sip:1000@127.0.0.1:5060");
    assert_eq!(bye.head.to.tag(), Some("1234SIPpTag001"));
    assert_eq!(bye.head.echo.cseq, "1 BYE");
    assert_eq!(bye.call_id(), "1-1234@127.0.0.1");
    assert!(bye.head.top_via.branch.starts_with("z9hG4bK"));
    assert_eq!(bye.head.top_via.sent_by, "127.0.0.1:5060");
    assert!(h.events().is_empty());
    // hangup twice is harmless
    h.endpoint
        .hangup(Time::from_millis(1000), &call_id())
        .unwrap();
    assert!(h.transmits().is_empty());

    let retransmitted = h.run_until(5000);
    assert_eq!(millis(&retransmitted), vec![1500, 2500, 4500]);
    assert!(retransmitted
        .iter()
        .all(|(_, t)| t.payload == sent[0].payload));

    h.send(5000, &reply_to(&bye, 200));
    assert_eq!(
        h.events(),
        vec![Event::Terminated {
            call: call_id(),
            reason: TerminatedReason::ByeCompleted
        }]
    );
    assert!(h.run_until(100_000).is_empty());
    // A retransmitted 200 within Timer K is absorbed, not counted as unmatched.
    h.send(5100, &reply_to(&bye, 200));
    assert_eq!(h.endpoint.active_dialogs(), 0);
}

#[test]
fn bye_without_response_times_out() {
    let mut h = Harness::new();
    h.confirmed_call();
    h.endpoint
        .hangup(Time::from_millis(1000), &call_id())
        .unwrap();
    h.transmits();
    let sent = h.run_until(40_000);
    assert_eq!(
        millis(&sent),
        vec![1500, 2500, 4500, 8500, 12500, 16500, 20500, 24500, 28500, 32500]
    );
    assert_eq!(
        h.events(),
        vec![Event::Terminated {
            call: call_id(),
            reason: TerminatedReason::ByeTimeout
        }]
    );
    assert_eq!(h.endpoint.stats().bye_timeouts, 1);
    assert_eq!(h.endpoint.poll_timeout(), None);
}

#[test]
fn provisional_response_to_bye_keeps_it_alive() {
    let mut h = Harness::new();
    h.confirmed_call();
    h.endpoint.hangup(Time::ZERO, &call_id()).unwrap();
    let bye = parsed_request(&h.transmits()[0].payload);
    h.send(100, &reply_to(&bye, 100));
    assert!(h.events().is_empty());
    assert_eq!(millis(&h.run_until(9000)), vec![500, 4500, 8500]);
    h.send(9000, &reply_to(&bye, 481));
    assert!(matches!(
        h.events().as_slice(),
        [Event::Terminated {
            reason: TerminatedReason::ByeCompleted,
            ..
        }]
    ));
}

#[test]
fn configured_t1_and_t2_set_the_2xx_retransmissions_and_timer_h() {
    use crate::sip::timers::SipTimers;
    use std::time::Duration;
    let mut h = Harness::with_timers(SipTimers {
        t1: Duration::from_millis(100),
        t2: Duration::from_millis(400),
        t4: Duration::from_millis(1_000),
    });
    h.answered_call();
    let sent = h.run_until(6_400);
    // T1 doubling to T2: 100, 300, 700, then every 400 ms; Timer H at 64·T1.
    let mut expected = vec![100, 300, 700];
    expected.extend((1..=14).map(|i| 700 + 400 * i));
    expected.push(6_400);
    assert_eq!(millis(&sent), expected);
    let (_, last) = sent.last().unwrap();
    assert_eq!(parsed_request(&last.payload).method, Method::Bye);
    assert_eq!(h.endpoint.stats().ack_timeouts, 1);
    // Our BYE is retransmitted on the same T1.
    let bye_resends = h.run_until(6_700);
    assert_eq!(millis(&bye_resends), vec![6_500, 6_700]);
}

#[test]
fn missing_ack_ends_the_call_with_bye_at_timer_h() {
    let mut h = Harness::new();
    h.answered_call();
    let sent = h.run_until(32_000);
    assert_eq!(
        millis(&sent),
        vec![500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500, 32000]
    );
    let (_, last) = sent.last().unwrap();
    let bye = parsed_request(&last.payload);
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(last.dest, caller());
    assert_eq!(
        h.events(),
        vec![Event::Terminated {
            call: call_id(),
            reason: TerminatedReason::AckTimeout
        }]
    );
    assert_eq!(h.endpoint.stats().ack_timeouts, 1);
    assert_eq!(h.endpoint.active_dialogs(), 0);
    // The BYE's response is absorbed by its transaction without a second event.
    h.send(32_100, &reply_to(&bye, 200));
    assert!(h.events().is_empty());
    assert_eq!(h.endpoint.stats().unmatched_responses, 0);
}

#[test]
fn hangup_before_ack_waits_for_the_ack() {
    let mut h = Harness::new();
    let tag = h.answered_call();
    h.endpoint
        .hangup(Time::from_millis(10), &call_id())
        .unwrap();
    assert!(h.transmits().is_empty());
    h.send(200, &request("ACK", "z9hG4bK-ack", Some(&tag), 1, ""));
    assert_eq!(h.events(), vec![Event::Confirmed { call: call_id() }]);
    let sent = h.transmits();
    assert_eq!(sent.len(), 1);
    assert_eq!(parsed_request(&sent[0].payload).method, Method::Bye);
}

#[test]
fn cancel_before_answer() {
    let mut h = Harness::new();
    h.send(0, &invite());
    h.transmits();
    h.events();
    h.endpoint.ring(Time::ZERO, &call_id()).unwrap();
    let ringing = h.responses();
    assert_eq!(ringing[0].status, 180);
    let tag = ringing[0].head.to.tag().unwrap().to_owned();
    assert!(ringing[0].head.contact.is_some());

    h.send(2000, &request("CANCEL", "z9hG4bK-1234-1-0", None, 1, ""));
    let responses = h.responses();
    assert_eq!(
        responses.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![200, 487]
    );
    assert_eq!(responses[0].head.cseq.method, Method::Cancel);
    assert_eq!(responses[1].head.cseq.method, Method::Invite);
    assert!(responses
        .iter()
        .all(|r| r.head.to.tag() == Some(tag.as_str())));
    assert_eq!(
        h.events(),
        vec![
            Event::Cancelled { call: call_id() },
            Event::Terminated {
                call: call_id(),
                reason: TerminatedReason::Cancelled
            }
        ]
    );
    assert_eq!(
        h.endpoint
            .answer(Time::from_millis(2001), &call_id(), "v=0"),
        Err(SipError::UnknownCall)
    );

    // 487 retransmitted on Timer G until the ACK, which the transaction absorbs.
    assert_eq!(millis(&h.run_until(2500)), vec![2500]);
    h.send(2600, &request("ACK", "z9hG4bK-1234-1-0", Some(&tag), 1, ""));
    assert!(h.transmits().is_empty());
    assert!(h.events().is_empty());
    assert_eq!(h.endpoint.stats().unmatched_acks, 0);
    assert!(h.run_until(100_000).is_empty());
    assert_eq!(h.endpoint.poll_timeout(), None);
}

#[test]
fn cancel_after_answer_has_no_effect() {
    let mut h = Harness::new();
    h.answered_call();
    h.send(100, &request("CANCEL", "z9hG4bK-1234-1-0", None, 1, ""));
    assert_eq!(h.statuses(), vec![200]);
    assert!(h.events().is_empty());
    assert_eq!(h.endpoint.active_dialogs(), 1);
}

#[test]
fn reject_sends_final_and_absorbs_ack() {
    let mut h = Harness::new();
    h.send(0, &invite());
    h.transmits();
    h.events();
    assert_eq!(
        h.endpoint.reject(Time::ZERO, &call_id(), 200),
        Err(SipError::InvalidStatus(200))
    );
    h.endpoint.reject(Time::ZERO, &call_id(), 486).unwrap();
    let busy = h.responses();
    assert_eq!(busy[0].status, 486);
    assert_eq!(busy[0].reason, "Busy Here");
    let tag = busy[0].head.to.tag().unwrap().to_owned();
    assert_eq!(
        h.events(),
        vec![Event::Terminated {
            call: call_id(),
            reason: TerminatedReason::Rejected
        }]
    );
    assert_eq!(millis(&h.run_until(600)), vec![500]);
    h.send(700, &request("ACK", "z9hG4bK-1234-1-0", Some(&tag), 1, ""));
    assert!(h.run_until(100_000).is_empty());
}

#[test]
fn unacknowledged_reject_is_given_up_at_timer_h() {
    let mut h = Harness::new();
    h.send(0, &invite());
    h.transmits();
    h.endpoint.reject(Time::ZERO, &call_id(), 503).unwrap();
    h.transmits();
    assert_eq!(h.run_until(40_000).len(), 10);
    assert_eq!(h.endpoint.stats().ack_timeouts, 1);
    assert_eq!(h.endpoint.poll_timeout(), None);
}

#[test]
fn hangup_before_answer_rejects_with_480() {
    let mut h = Harness::new();
    h.send(0, &invite());
    h.transmits();
    h.events();
    h.endpoint.hangup(Time::ZERO, &call_id()).unwrap();
    assert_eq!(h.statuses(), vec![480]);
    assert!(matches!(
        h.events().as_slice(),
        [Event::Terminated {
            reason: TerminatedReason::Rejected,
            ..
        }]
    ));
}

#[test]
fn operations_in_the_wrong_state_are_refused() {
    let mut h = Harness::new();
    let unknown = CallId("nope".into());
    assert_eq!(
        h.endpoint.answer(Time::ZERO, &unknown, ""),
        Err(SipError::UnknownCall)
    );
    assert_eq!(
        h.endpoint.hangup(Time::ZERO, &unknown),
        Err(SipError::UnknownCall)
    );
    h.answered_call();
    assert_eq!(
        h.endpoint.answer(Time::ZERO, &call_id(), ""),
        Err(SipError::WrongState)
    );
    assert_eq!(
        h.endpoint.ring(Time::ZERO, &call_id()),
        Err(SipError::WrongState)
    );
    assert_eq!(
        h.endpoint.reject(Time::ZERO, &call_id(), 486),
        Err(SipError::WrongState)
    );
}

#[test]
fn remote_bye_before_ack_stops_retransmission() {
    let mut h = Harness::new();
    let tag = h.answered_call();
    h.send(100, &request("BYE", "z9hG4bK-bye", Some(&tag), 2, ""));
    assert_eq!(h.statuses(), vec![200]);
    assert_eq!(h.events().len(), 2);
    assert!(h.run_until(100_000).is_empty());
}

#[test]
fn bye_glare_reports_once() {
    let mut h = Harness::new();
    let tag = h.confirmed_call();
    h.endpoint
        .hangup(Time::from_millis(200), &call_id())
        .unwrap();
    let ours = parsed_request(&h.transmits()[0].payload);
    h.send(300, &request("BYE", "z9hG4bK-bye", Some(&tag), 2, ""));
    assert_eq!(h.statuses(), vec![200]);
    assert_eq!(h.events().len(), 2);
    h.send(400, &reply_to(&ours, 200));
    assert!(h.events().is_empty());
}

#[test]
fn a_reinvite_with_an_offer_is_answered_by_the_owner_and_retransmitted_until_its_ack() {
    let mut h = Harness::new();
    let tag = h.confirmed_call();
    let reinvite = request("INVITE", "z9hG4bK-re1", Some(&tag), 2, SDP_OFFER);
    h.send(1_000, &reinvite);
    assert!(h.statuses().is_empty(), "the owner answers, not the dialog");
    assert_eq!(h.events(), vec![Event::Reoffer { call: call_id() }]);
    h.endpoint
        .answer_reinvite(Time::from_millis(1_000), &call_id(), "v=0\r\n")
        .unwrap();
    let ok = h.responses();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].status, 200);
    assert_eq!(ok[0].head.cseq.seq, 2, "the answer is to the re-INVITE");
    assert_eq!(ok[0].head.to.tag(), Some(tag.as_str()));
    assert_eq!(&ok[0].head.body[..], b"v=0\r\n");
    // Retransmitted on T1 until the ACK; a retransmitted re-INVITE gets it again.
    let resent = h.run_until(1_600);
    assert_eq!(millis(&resent), vec![1_500]);
    h.send(1_700, &reinvite);
    assert_eq!(h.statuses(), vec![200]);
    h.send(1_800, &request("ACK", "z9hG4bK-re1ack", Some(&tag), 2, ""));
    assert!(h.run_until(10_000).is_empty(), "no more 200s after the ACK");
    assert!(h.events().is_empty());
    assert_eq!(h.endpoint.active_dialogs(), 1, "the call goes on");
}

#[test]
fn a_second_reinvite_while_one_is_unanswered_gets_500_with_retry_after() {
    let mut h = Harness::new();
    let tag = h.confirmed_call();
    h.send(
        1_000,
        &request("INVITE", "z9hG4bK-re1", Some(&tag), 2, SDP_OFFER),
    );
    assert_eq!(h.events(), vec![Event::Reoffer { call: call_id() }]);
    h.send(
        1_100,
        &request("INVITE", "z9hG4bK-re2", Some(&tag), 3, SDP_OFFER),
    );
    let refused = h.responses();
    assert_eq!(refused[0].status, 500);
    assert!(refused[0]
        .to_bytes()
        .windows(14)
        .any(|w| w == b"Retry-After: 2"));
}

/// Found by the dispatcher fuzz target: a dialog that ended with a re-INVITE its
/// owner never answered lingered in the dispatcher for ever.
#[test]
fn a_reinvite_left_unanswered_gets_487_when_the_dialog_ends_and_nothing_lingers() {
    let mut h = Harness::new();
    let tag = h.confirmed_call();
    let reinvite = request("INVITE", "z9hG4bK-re1", Some(&tag), 2, SDP_OFFER);
    h.send(1_000, &reinvite);
    assert_eq!(h.events(), vec![Event::Reoffer { call: call_id() }]);
    h.endpoint
        .hangup(Time::from_millis(1_100), &call_id())
        .unwrap();
    let bye = parsed_request(&h.transmits()[0].payload);
    h.send(1_200, &reply_to(&bye, 200));
    assert_eq!(h.statuses(), vec![487]);
    assert!(matches!(
        h.events().as_slice(),
        [Event::Terminated {
            reason: TerminatedReason::ByeCompleted,
            ..
        }]
    ));
    // Its ACK ends the re-INVITE's transaction; the rest ends by Timer J/K.
    h.send(1_300, &request("ACK", "z9hG4bK-re1", Some(&tag), 2, ""));
    h.run_until(300_000);
    assert_eq!(h.endpoint.dispatcher.lingering_dialogs(), 0);

    // A BYE from the caller while the re-INVITE is unanswered: 200, then 487.
    let mut h = Harness::new();
    let tag = h.confirmed_call();
    h.send(1_000, &reinvite);
    h.events();
    h.send(1_100, &request("BYE", "z9hG4bK-bye", Some(&tag), 3, ""));
    assert_eq!(h.statuses(), vec![200, 487]);
    h.run_until(300_000);
    assert_eq!(h.endpoint.dispatcher.lingering_dialogs(), 0);
}
