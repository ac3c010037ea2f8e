//! Reliable provisionals (RFC 3262) on the fake clock: a 183 with early media
//! is reliable when the caller supports 100rel, retransmitted until its
//! PRACK, the 200 waits for that PRACK, a wrong RAck gets 481, and an
//! unacknowledged 183 ends in 504 after 64·T1.

use super::*;
use crate::sip::event::TerminatedReason;
use ezk_sip_types::Name;

fn invite_with(extra: &str) -> String {
    invite().replacen(
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

fn prack(tag: &str, branch: &str, rack: &str) -> String {
    request("PRACK", branch, Some(tag), 2, "").replacen(
        "Max-Forwards: 70\r\n",
        &format!("Max-Forwards: 70\r\nRAck: {rack}\r\n"),
        1,
    )
}

/// INVITE with `extra` at 0, 183 with early media at 0: the 183.
fn early(h: &mut Harness, extra: &str) -> Response {
    h.send(0, &invite_with(extra));
    assert_eq!(h.statuses(), vec![100]);
    h.events();
    h.endpoint
        .early_media(Time::ZERO, &call_id(), SDP_OFFER)
        .unwrap();
    let mut sent = h.responses();
    assert_eq!(sent.len(), 1);
    sent.remove(0)
}

#[test]
fn without_100rel_the_183_is_unreliable_and_the_200_goes_at_once() {
    let mut h = Harness::new();
    let progress = early(&mut h, "");
    assert_eq!(progress.status, 183);
    assert!(header(&progress, &Name::RSEQ).is_none());
    assert!(!progress.head.body.is_empty(), "183 carries the SDP");
    assert!(h.run_until(2_000).is_empty(), "nothing retransmitted");
    h.endpoint
        .answer(Time::from_millis(2_000), &call_id(), SDP_OFFER)
        .unwrap();
    assert_eq!(h.statuses(), vec![200]);
}

#[test]
fn a_reliable_183_is_resent_until_pracked_and_the_200_waits_for_it() {
    let mut h = Harness::new();
    let progress = early(&mut h, "Supported: 100rel\r\n");
    assert_eq!(header(&progress, &Name::REQUIRE).as_deref(), Some("100rel"));
    let rseq: u32 = header(&progress, &Name::RSEQ).unwrap().parse().unwrap();
    let tag = progress.head.to.tag().unwrap().to_owned();
    // T1 doubling: 500, 1500, 3500 ms.
    let resent: Vec<u64> = h.run_until(4_000).iter().map(|(at, _)| *at).collect();
    assert_eq!(resent, vec![500, 1_500, 3_500]);
    // The flow answers before the PRACK: the 200 is held.
    h.endpoint
        .answer(Time::from_millis(4_000), &call_id(), SDP_OFFER)
        .unwrap();
    assert!(h.statuses().is_empty(), "no 2xx before the PRACK");
    // A PRACK naming another RSeq matches nothing.
    h.send(
        4_100,
        &prack(&tag, "z9hG4bK-p0", &format!("{} 1 INVITE", rseq + 1)),
    );
    assert_eq!(h.statuses(), vec![481]);
    h.send(
        4_200,
        &prack(&tag, "z9hG4bK-p1", &format!("{rseq} 1 INVITE")),
    );
    let sent = h.responses();
    assert_eq!(
        sent.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![200, 200]
    );
    assert_eq!(sent[0].head.cseq.method.as_str(), "PRACK");
    assert_eq!(sent[1].head.cseq.method.as_str(), "INVITE");
    assert_eq!(h.endpoint.stats().pracks_received, 1);
    assert_eq!(h.endpoint.stats().unmatched_pracks, 1);
    // The PRACK's retransmission is answered from memory.
    h.send(
        4_300,
        &prack(&tag, "z9hG4bK-p1", &format!("{rseq} 1 INVITE")),
    );
    assert_eq!(h.statuses(), vec![200]);
}

#[test]
fn an_unpracked_183_ends_in_504_after_64_t1() {
    let mut h = Harness::new();
    let progress = early(&mut h, "Require: 100rel\r\n");
    assert!(header(&progress, &Name::RSEQ).is_some());
    let sent = h.run_until(32_000);
    let statuses: Vec<u16> = sent
        .iter()
        .map(|(_, transmit)| response(&transmit.payload).status)
        .collect();
    // 500, 1500, 3500, 7500, 15500, 31500 ms, then 504 at 32 s.
    assert_eq!(statuses, vec![183, 183, 183, 183, 183, 183, 504]);
    assert_eq!(sent.last().map(|(at, _)| *at), Some(32_000));
    assert!(h.events().contains(&Event::Terminated {
        call: call_id(),
        reason: TerminatedReason::PrackTimeout
    }));
}

#[test]
fn a_prack_outside_any_dialog_gets_481() {
    let mut h = Harness::new();
    h.send(0, &prack("nosuchtag", "z9hG4bK-p9", "1 1 INVITE"));
    assert_eq!(h.statuses(), vec![481]);
}

#[test]
fn require_100rel_is_supported_and_other_tags_get_420() {
    let mut h = Harness::new();
    h.send(0, &invite_with("Require: 100rel\r\n"));
    assert_eq!(h.statuses(), vec![100]);
    let mut h = Harness::new();
    h.send(0, &invite_with("Require: 100rel, foo\r\n"));
    let refused = h.responses();
    assert_eq!(refused[0].status, 420);
    assert_eq!(
        header(&refused[0], &Name::UNSUPPORTED).as_deref(),
        Some("foo")
    );
}
