//! Mid-dialog session work through the host over a clean simulated trunk:
//! offerless re-INVITEs (hold and unhold answered in the ACK) and session
//! timers (422, the caller refreshing and then not, callplane refreshing).

use std::sync::Arc;
use std::time::Duration;

use crate::call::{HangupCause, HangupSide, Router};
use crate::time::Time;

use super::carrier::CallScript;
use super::fixtures::router;
use super::{Sim, SimConfig};

/// A flow that answers and waits 200 s for a digit.
const PATIENT: &str = r#"{ "id": "patient", "version": 1, "actions": [
    { "type": "answer" },
    { "type": "digits_receive", "option": { "duration": 200000, "length": 1 } },
    { "type": "hangup" }
] }"#;

const IDLE_LIMIT: Time = Time::from_millis(400_000);

fn sim_with(router: Arc<Router>) -> Sim {
    Sim::new(SimConfig::demo(11).with_router(router))
}

#[test]
fn offerless_reinvites_get_our_offer_and_the_acks_answer_holds_and_resumes() {
    let mut sim = Sim::new(SimConfig::demo(11));
    sim.place(
        CallScript::new("nosdp-1", Time::ZERO)
            .reinvite_without_offer(Duration::from_millis(500), "sendonly")
            .reinvite_without_offer(Duration::from_millis(1_500), "sendrecv")
            .press(Duration::from_millis(3_000), 1),
    );
    assert!(sim.run_until_idle(Time::from_millis(60_000)));
    let report = sim.report("nosdp-1");
    let statuses: Vec<u16> = report.reinvite_answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, vec![200, 200], "{report:?}");
    // Each 200 offers the current session, sendrecv, at a new o= version.
    for (_, body) in &report.reinvite_answers {
        assert!(body.contains("a=sendrecv"), "{body}");
        assert!(body.contains("m=audio "), "{body}");
    }
    let versions: Vec<&str> = report
        .reinvite_answers
        .iter()
        .filter_map(|(_, body)| body.lines().find(|l| l.starts_with("o=")))
        .collect();
    assert!(versions.windows(2).all(|w| w[0] != w[1]), "{versions:?}");
    // The first ACK's answer held the call (the caller only sends), the
    // second resumed it.
    let [held, resumed] = report.rtp_at_reinvite[..] else {
        panic!("two answers expected: {report:?}");
    };
    assert!(resumed - held <= 3, "on hold: {} packets", resumed - held);
    assert!(report.rtp_received > resumed + 20, "{report:?}");
    let cdr = sim.cdr("nosdp-1");
    assert_eq!(cdr.digits, vec!["1".to_string()]);
    assert_eq!(cdr.hangup_cause, HangupCause::NormalClearing);
}

#[test]
fn an_ack_without_the_answer_leaves_the_session_and_is_counted() {
    let mut sim = Sim::new(SimConfig::demo(11));
    sim.place(
        CallScript::new("nosdp-2", Time::ZERO)
            .reinvite_without_offer(Duration::from_millis(500), "")
            .press(Duration::from_millis(3_000), 1),
    );
    assert!(sim.run_until_idle(Time::from_millis(60_000)));
    let report = sim.report("nosdp-2");
    assert_eq!(report.reinvite_answers.len(), 1, "{report:?}");
    let [at_answer] = report.rtp_at_reinvite[..] else {
        panic!("one answer expected: {report:?}");
    };
    assert!(
        report.rtp_received > at_answer + 20,
        "media went on: {report:?}"
    );
    let cdr = sim.cdr("nosdp-2");
    assert_eq!(cdr.digits, vec!["1".to_string()]);
    assert_eq!(cdr.hangup_cause, HangupCause::NormalClearing);
    assert_eq!(sim.host.stats().unusable_ack_answers, 1);
}

#[test]
fn a_session_interval_below_the_minimum_is_refused_with_422() {
    let mut sim = sim_with(router(PATIENT));
    sim.place(CallScript::new("brief", Time::ZERO).session_timer(30, Some("uac")));
    assert!(sim.run_until_idle(Time::from_millis(60_000)));
    let report = sim.report("brief");
    assert_eq!(report.final_status, Some(422));
    let cdr = sim.cdr("brief");
    assert_eq!(cdr.hangup_cause, HangupCause::SessionIntervalTooSmall);
    assert_eq!(cdr.sip_status, 422);
    assert_eq!(sim.host.active_calls(), 0);
}

#[test]
fn a_caller_that_stops_refreshing_is_hung_up_when_the_session_expires() {
    let mut sim = sim_with(router(PATIENT));
    sim.place(
        CallScript::new("stale", Time::ZERO)
            .session_timer(90, Some("uac"))
            .reinvite(Duration::from_secs(30), "sendrecv"),
    );
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let report = sim.report("stale");
    assert_eq!(
        report.ok_session_expires.as_deref(),
        Some("90;refresher=uac")
    );
    assert_eq!(report.ok_require.as_deref(), Some("timer"));
    assert_eq!(report.reinvite_answers.len(), 1, "{report:?}");
    assert_eq!(report.byes_received, 1);
    let cdr = sim.cdr("stale");
    assert_eq!(cdr.hangup_cause, HangupCause::SessionExpired);
    assert_eq!(cdr.hangup_side, HangupSide::Callplane);
    // Refreshed at 30 s: the BYE comes 60 s (90 − 90/3) later.
    let lasted = cdr.end.saturating_since(cdr.answer.unwrap_or(Time::NEVER));
    assert!(
        (Duration::from_secs(89)..=Duration::from_secs(91)).contains(&lasted),
        "{lasted:?}"
    );
    assert_eq!(sim.host.active_calls(), 0);
}

#[test]
fn callplane_refreshes_at_half_the_interval_when_the_caller_leaves_it_to_us() {
    let mut sim = sim_with(router(PATIENT));
    sim.place(
        CallScript::new("ours", Time::ZERO)
            .session_timer(90, None)
            .hang_up_after(Duration::from_secs(100)),
    );
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let report = sim.report("ours");
    assert_eq!(
        report.ok_session_expires.as_deref(),
        Some("90;refresher=uas")
    );
    // The carrier's Allow has no UPDATE: re-INVITEs at 45 and 90 s.
    assert_eq!(
        report.refreshes_received,
        vec!["INVITE", "INVITE"],
        "{report:?}"
    );
    let cdr = sim.cdr("ours");
    assert_eq!(cdr.hangup_cause, HangupCause::CallerHangup);
}
