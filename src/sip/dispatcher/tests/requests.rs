//! Single requests: OPTIONS, refused methods, retransmitted INVITEs, malformed input,
//! unknown dialogs and transactions, re-INVITE, Require, keep-alives.

use super::*;
use crate::sip::call_id_of;
use crate::sip::method::Method;
use ezk_sip_types::Name;

fn header(response: &Response, name: &Name) -> Option<String> {
    response
        .head
        .headers
        .get_raw(name)
        .next()
        .map(|v| v.to_string())
}

#[test]
fn options_is_answered_200_in_and_out_of_dialog() {
    let mut h = Harness::new();
    h.send(0, &request("OPTIONS", "z9hG4bK-o1", None, 1, ""));
    let ok = h.responses();
    assert_eq!(ok[0].status, 200);
    assert!(ok[0].head.to.tag().is_some());
    assert_eq!(
        header(&ok[0], &Name::ALLOW).as_deref(),
        Some("INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK")
    );
    assert_eq!(
        header(&ok[0], &Name::ACCEPT).as_deref(),
        Some("application/sdp")
    );
    assert_eq!(
        header(&ok[0], &Name::SUPPORTED).as_deref(),
        Some("100rel, timer")
    );
    assert_eq!(
        header(&ok[0], &Name::SERVER).as_deref(),
        Some("callplane-test")
    );

    let tag = h.confirmed_call();
    h.send(200, &request("OPTIONS", "z9hG4bK-o2", Some(&tag), 5, ""));
    let ok = h.responses();
    assert_eq!(ok[0].status, 200);
    assert_eq!(ok[0].head.to.tag(), Some(tag.as_str()));
    assert_eq!(
        header(&ok[0], &Name::ALLOW).as_deref(),
        Some("INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK")
    );
    assert_eq!(
        header(&ok[0], &Name::SUPPORTED).as_deref(),
        Some("100rel, timer")
    );
}

#[test]
fn known_but_unsupported_methods_get_405_and_unknown_ones_501() {
    let mut h = Harness::new();
    h.send(0, &request("REGISTER", "z9hG4bK-r", None, 1, ""));
    let refused = h.responses();
    assert_eq!(refused[0].status, 405);
    assert_eq!(
        header(&refused[0], &Name::ALLOW).as_deref(),
        Some("INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK")
    );
    for (index, method) in ["SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE"]
        .into_iter()
        .enumerate()
    {
        h.send(
            0,
            &request(method, &format!("z9hG4bK-m{index}"), None, 1, ""),
        );
        assert_eq!(h.statuses(), vec![405], "{method}");
    }
    h.send(0, &request("FROBNICATE", "z9hG4bK-f", None, 1, ""));
    assert_eq!(h.statuses(), vec![501]);
    // INFO and UPDATE need a dialog.
    h.send(0, &request("INFO", "z9hG4bK-i", None, 1, ""));
    assert_eq!(h.statuses(), vec![481]);
    h.send(0, &request("UPDATE", "z9hG4bK-u", None, 1, ""));
    assert_eq!(h.statuses(), vec![481]);
    assert!(h.events().is_empty());
}

#[test]
fn retransmitted_invite_resends_last_response_without_new_event() {
    let mut h = Harness::new();
    h.send(0, &invite());
    assert_eq!(h.statuses(), vec![100]);
    assert_eq!(h.events().len(), 1);
    h.send(500, &invite());
    assert_eq!(h.statuses(), vec![100]);
    assert!(h.events().is_empty());
    h.endpoint.ring(Time::from_millis(600), &call_id()).unwrap();
    assert_eq!(h.statuses(), vec![180]);
    h.send(1500, &invite());
    assert_eq!(h.statuses(), vec![180]);
    h.endpoint
        .answer(Time::from_millis(1600), &call_id(), "v=0\r\n")
        .unwrap();
    assert_eq!(h.statuses(), vec![200]);
    h.send(1700, &invite());
    assert_eq!(h.statuses(), vec![200]);
    assert!(h.events().is_empty());
    assert_eq!(h.endpoint.stats().calls_offered, 1);
    assert_eq!(h.endpoint.stats().request_retransmits_absorbed, 3);
}

#[test]
fn malformed_but_answerable_request_gets_400() {
    let mut h = Harness::new();
    let broken = invite().replace(
        &format!("Content-Length: {}", SDP_OFFER.len()),
        "Content-Length: abc",
    );
    h.send(0, &broken);
    let bad = h.responses();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].status, 400);
    assert_eq!(
        bad[0].head.echo.vias,
        vec!["SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1234-1-0"]
    );
    assert_eq!(bad[0].head.echo.call_id, "1-1234@127.0.0.1");
    assert!(bad[0].head.to.tag().is_some());
    assert!(h.events().is_empty());
    assert_eq!(h.endpoint.stats().malformed_answered_400, 1);

    let truncated = invite();
    h.send(0, &truncated[..truncated.len() - 20]);
    assert_eq!(h.statuses(), vec![400]);
}

#[test]
fn unanswerable_garbage_is_counted_and_dropped() {
    let mut h = Harness::new();
    h.send(0, "this is not sip");
    h.send(
        0,
        &invite()
            .replace(
                "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1234-1-0\r\n",
                "",
            )
            .replace("Content-Length", "l: x\r\nX"),
    );
    h.send(0, "SIP/2.0 200 OK\r\nVia: broken\r\n\r\n");
    let broken_ack = request("ACK", "z9hG4bK-a", Some("t"), 1, "")
        .replace("Content-Length: 0", "Content-Length: 9");
    h.send(0, &broken_ack);
    assert!(h.transmits().is_empty());
    assert_eq!(h.endpoint.stats().malformed_dropped, 4);
}

#[test]
fn a_request_missing_a_header_is_told_which() {
    let mut h = Harness::new();
    h.send(0, &invite().replace("Call-ID: 1-1234@127.0.0.1\r\n", ""));
    let sent = h.transmits();
    assert_eq!(sent.len(), 1);
    let text = String::from_utf8(sent[0].payload.clone()).unwrap();
    assert!(text.starts_with("SIP/2.0 400 Bad Request\r\n"), "{text}");
    assert!(
        text.contains("\r\nWarning: 399 127.0.0.1:5060 \"missing Call-ID header\"\r\n"),
        "{text}"
    );
    assert!(!text.contains("\r\nCall-ID:"), "{text}");
    assert!(text.contains("\r\nCSeq: 1 INVITE\r\n"), "{text}");
    assert_eq!(h.endpoint.stats().malformed_answered_400, 1);
}

#[test]
fn non_sip_request_uri_gets_416() {
    let mut h = Harness::new();
    h.send(
        0,
        &invite().replace("INVITE sip:1000@127.0.0.1:5060", "INVITE tel:+15551234"),
    );
    assert_eq!(h.statuses(), vec![416]);
    assert_eq!(h.endpoint.stats().unsupported_uri_answered_416, 1);
}

#[test]
fn unknown_dialog_and_transaction_get_481() {
    let mut h = Harness::new();
    h.send(0, &request("BYE", "z9hG4bK-b", Some("nope"), 2, ""));
    assert_eq!(h.statuses(), vec![481]);
    h.send(0, &request("CANCEL", "z9hG4bK-c", None, 1, ""));
    assert_eq!(h.statuses(), vec![481]);
    let tag = h.confirmed_call();
    h.send(
        0,
        &request("BYE", "z9hG4bK-b2", Some(&format!("{tag}x")), 2, ""),
    );
    assert_eq!(h.statuses(), vec![481]);
    h.send(
        0,
        &request("INVITE", "z9hG4bK-i2", Some("unknown"), 2, SDP_OFFER),
    );
    assert_eq!(h.statuses(), vec![481]);
    assert_eq!(h.endpoint.active_dialogs(), 1);
}

#[test]
fn a_reinvite_its_owner_refuses_gets_488_and_its_ack_is_absorbed() {
    let mut h = Harness::new();
    let tag = h.confirmed_call();
    h.send(
        1000,
        &request("INVITE", "z9hG4bK-re", Some(&tag), 2, SDP_OFFER),
    );
    assert_eq!(h.events(), vec![Event::Reoffer { call: call_id() }]);
    h.endpoint
        .reject_reinvite(Time::from_millis(1000), &call_id(), 488)
        .unwrap();
    let refused = h.responses();
    assert_eq!(refused[0].status, 488);
    assert_eq!(refused[0].head.to.tag(), Some(tag.as_str()));
    h.send(1100, &request("ACK", "z9hG4bK-re", Some(&tag), 2, ""));
    assert!(h.transmits().is_empty());
    assert!(h.events().is_empty());
    assert!(h.run_until(100_000).is_empty());
    assert_eq!(h.endpoint.active_dialogs(), 1);
}

#[test]
fn merged_invite_gets_482() {
    let mut h = Harness::new();
    h.send(0, &invite());
    h.transmits();
    h.send(
        10,
        &request("INVITE", "z9hG4bK-other-path", None, 1, SDP_OFFER),
    );
    assert_eq!(h.statuses(), vec![482]);
    assert_eq!(h.events().len(), 1);
}

#[test]
fn required_extensions_get_420() {
    let mut h = Harness::new();
    let data = invite().replace(
        "Max-Forwards: 70\r\n",
        "Max-Forwards: 70\r\nRequire: 100rel, foo\r\n",
    );
    h.send(0, &data);
    let refused = h.responses();
    assert_eq!(refused[0].status, 420);
    assert_eq!(
        header(&refused[0], &Name::UNSUPPORTED).as_deref(),
        Some("foo")
    );
    assert!(h.events().is_empty());
}

#[test]
fn keepalives_and_stray_responses_are_ignored() {
    let mut h = Harness::new();
    h.send(0, "\r\n\r\n");
    h.send(0, "");
    let stray = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKnope\r\n\
From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n";
    h.send(0, stray);
    assert!(h.transmits().is_empty());
    let stats = h.endpoint.stats();
    assert_eq!(
        (stats.keepalives, stats.unmatched_responses, stats.datagrams),
        (2, 1, 3)
    );
}

#[test]
fn received_is_added_when_the_source_differs_from_via() {
    let mut h = Harness::new();
    let nat_source: SocketAddr = "203.0.113.9:40000".parse().unwrap();
    let data = invite().replace(";branch=z9hG4bK-1234-1-0", ";rport;branch=z9hG4bK-1234-1-0");
    h.endpoint
        .handle_datagram(Time::ZERO, nat_source, data.as_bytes());
    let sent = h.transmits();
    assert_eq!(sent[0].dest, nat_source);
    let trying = response(&sent[0].payload);
    assert_eq!(
        trying.head.echo.vias,
        vec!["SIP/2.0/UDP 127.0.0.1:5061;rport=40000;branch=z9hG4bK-1234-1-0;received=203.0.113.9"]
    );
    h.endpoint
        .answer(Time::ZERO, &call_id(), "v=0\r\n")
        .unwrap();
    let ok = h.transmits();
    assert_eq!(ok[0].dest, nat_source);
    assert_eq!(
        response(&ok[0].payload).head.echo.vias,
        trying.head.echo.vias
    );
}

#[test]
fn compact_lf_only_invite_starts_a_call() {
    let mut h = Harness::new();
    let data = invite()
        .replace("Via:", "v:")
        .replace("From:", "f:")
        .replace("To:", "t:")
        .replace("Call-ID:", "i:")
        .replace("Contact:", "m:")
        .replace("Content-Type:", "c:")
        .replace("Content-Length:", "l:")
        .replace("\r\n", "\n");
    let sdp_len = SDP_OFFER.replace("\r\n", "\n").len();
    let data = data.replace(&format!("l: {}", SDP_OFFER.len()), &format!("l: {sdp_len}"));
    assert_eq!(call_id_of(data.as_bytes()), Some(&b"1-1234@127.0.0.1"[..]));
    h.send(0, &data);
    assert_eq!(h.statuses(), vec![100]);
    match h.events().as_slice() {
        [Event::IncomingCall { sdp: Some(sdp), .. }] => assert_eq!(sdp.media.len(), 1),
        other => panic!("{other:?}"),
    }
}

#[test]
fn invite_without_usable_sdp_still_rings_through() {
    let mut h = Harness::new();
    h.send(0, &request("INVITE", "z9hG4bK-nosdp", None, 1, ""));
    assert_eq!(h.statuses(), vec![100]);
    assert!(matches!(
        h.events().as_slice(),
        [Event::IncomingCall { sdp: None, .. }]
    ));
}

#[test]
fn info_dtmf_in_the_dialog_becomes_a_digit() {
    let mut h = Harness::new();
    let tag = h.confirmed_call();
    let info = |branch: &str, cseq: u32, content_type: &str, body: &str| {
        request("INFO", branch, Some(&tag), cseq, body).replace(
            "Content-Type: application/sdp",
            &format!("Content-Type: {content_type}"),
        )
    };
    let relay = info(
        "z9hG4bK-info1",
        2,
        "application/dtmf-relay",
        "Signal=5\r\nDuration=160\r\n",
    );
    h.send(200, &relay);
    assert_eq!(h.statuses(), vec![200]);
    assert_eq!(
        h.events(),
        vec![Event::Dtmf {
            call: call_id(),
            digit: '5'
        }]
    );
    // A retransmission is answered again, not taken as a second press.
    h.send(300, &relay);
    assert_eq!(h.statuses(), vec![200]);
    assert!(h.events().is_empty());
    h.send(400, &info("z9hG4bK-info2", 3, "application/dtmf", "#"));
    assert_eq!(h.statuses(), vec![200]);
    assert_eq!(
        h.events(),
        vec![Event::Dtmf {
            call: call_id(),
            digit: '#'
        }]
    );
    h.send(500, &info("z9hG4bK-info3", 4, "text/plain", "hello"));
    let refused = h.responses();
    assert_eq!(refused[0].status, 415);
    assert_eq!(
        header(&refused[0], &Name::ACCEPT).as_deref(),
        Some("application/dtmf-relay, application/dtmf")
    );
    assert!(h.events().is_empty());
}

/// A REFER in the call: `refer_to` as its Refer-To header (none when empty).
fn refer(branch: &str, tag: &str, cseq: u32, refer_to: &str) -> String {
    let plain = request("REFER", branch, Some(tag), cseq, "");
    match refer_to.is_empty() {
        true => plain,
        false => plain.replace(
            "Max-Forwards: 70\r\n",
            &format!("Max-Forwards: 70\r\nRefer-To: {refer_to}\r\n"),
        ),
    }
}

#[test]
fn refer_is_refused_with_405_unless_allowed() {
    let mut h = Harness::new();
    let tag = h.confirmed_call();
    h.send(300, &refer("z9hG4bK-rf1", &tag, 2, "<sip:bob@192.0.2.9>"));
    assert_eq!(h.statuses(), vec![405]);
    assert!(h.events().is_empty());
}

#[test]
fn an_allowed_refer_gets_202_a_notify_and_the_owner_learns_the_target() {
    let mut h = Harness::new();
    let tag = h.confirmed_call();
    h.endpoint.allow_refer(&call_id());
    h.send(
        300,
        &refer("z9hG4bK-rf1", &tag, 2, "<sip:bob@192.0.2.9:5070>"),
    );
    let sent = h.transmits();
    assert_eq!(sent.len(), 2, "202 and the first NOTIFY");
    assert_eq!(response(&sent[0].payload).status, 202);
    let notify = parsed_request(&sent[1].payload);
    assert_eq!(notify.method, Method::Notify);
    let text = String::from_utf8_lossy(&sent[1].payload).to_string();
    assert!(text.contains("Event: refer"), "{text}");
    assert!(
        text.contains("Subscription-State: active;expires=60"),
        "{text}"
    );
    assert!(text.contains("message/sipfrag"), "{text}");
    assert!(text.ends_with("SIP/2.0 100 Trying\r\n"), "{text}");
    assert_eq!(
        h.events(),
        vec![Event::Referred {
            call: call_id(),
            target: Some("sip:bob@192.0.2.9:5070".into())
        }]
    );
    // A second REFER while the first runs: 491.
    h.send(400, &refer("z9hG4bK-rf2", &tag, 3, "<sip:carol@192.0.2.9>"));
    assert_eq!(h.statuses(), vec![491]);
    // The final NOTIFY ends the subscription; its CSeq follows the first's.
    h.endpoint
        .notify_refer(Time::from_millis(500), &call_id(), 200, true);
    let sent = h.transmits();
    assert_eq!(sent.len(), 1);
    let last = parsed_request(&sent[0].payload);
    assert!(last.head.cseq.seq > notify.head.cseq.seq);
    let text = String::from_utf8_lossy(&sent[0].payload).to_string();
    assert!(
        text.contains("Subscription-State: terminated;reason=noresource"),
        "{text}"
    );
    assert!(text.ends_with("SIP/2.0 200 Reason\r\n"), "{text}");
    // Unanswered NOTIFYs are resent over UDP (Timer E) until they give up.
    let resent = h.run_until(2_000);
    assert!(
        resent
            .iter()
            .any(|(_, t)| t.payload.starts_with(b"NOTIFY ")),
        "NOTIFY retransmitted"
    );
}

#[test]
fn a_refer_without_a_usable_refer_to_gets_400() {
    let mut h = Harness::new();
    let tag = h.confirmed_call();
    h.endpoint.allow_refer(&call_id());
    h.send(300, &refer("z9hG4bK-rf1", &tag, 2, ""));
    assert_eq!(h.statuses(), vec![400]);
    h.send(
        400,
        &refer("z9hG4bK-rf2", &tag, 3, "<sip:bob@192.0.2.9?Replaces=x%40y>"),
    );
    assert_eq!(h.statuses(), vec![400], "attended transfer is not taken");
    h.send(500, &refer("z9hG4bK-rf3", &tag, 4, "<tel:+4930123>"));
    assert_eq!(h.statuses(), vec![400]);
    assert!(h.events().is_empty());
}
