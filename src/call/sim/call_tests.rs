//! Single calls through the host over a clean simulated trunk: flow branches,
//! prompts heard, rejections, CANCEL, caller hangup, HTTP, flow versions,
//! Timer H and shutdown — what a carrier sees and what the CDR says.

use std::sync::Arc;
use std::time::Duration;

use crate::call::{HangupCause, HangupSide, HttpResult, Input, RouteTarget, Router};
use crate::flow::{FlowEnv, DEMO_FLOW_JSON};
use crate::time::Time;

use super::carrier::{CallScript, Offer};
use super::fixtures::{no_routes, program, router};
use super::{Sim, SimConfig, CARRIER_SIP};

/// A clean trunk (10 ms each way) to the demo flow, answered at once.
fn demo_sim() -> Sim {
    Sim::new(SimConfig::demo(11))
}

fn sim_with(router: Arc<Router>) -> Sim {
    Sim::new(SimConfig::demo(11).with_router(router))
}

/// Long enough for any call of these tests to end.
const IDLE_LIMIT: Time = Time::from_millis(60_000);

#[test]
fn digit_one_takes_the_sales_branch_and_callplane_hangs_up() {
    let mut sim = demo_sim();
    // Welcome (400 ms) plays, then the menu starts; press 1 during the menu.
    sim.place(CallScript::new("call-1", Time::ZERO).press(Duration::from_millis(600), 1));
    assert!(sim.run_until_idle(IDLE_LIMIT));

    let report = sim.report("call-1");
    assert_eq!(report.invite_responses, vec![100, 200], "{report:?}");
    let answer = report.answer_sdp.as_deref().unwrap_or_default();
    assert!(answer.contains("m=audio 20002 RTP/AVP 0 101"), "{answer}");
    assert_eq!(report.acks_sent, 1);
    assert_eq!(report.byes_received, 1, "callplane hung up: {report:?}");
    // Audio went out, with prompt audio that is not silence.
    assert!(
        report.rtp_received > 50,
        "only {} RTP packets",
        report.rtp_received
    );
    assert!(
        report.rtp_loud > 20,
        "only {} non-silent packets",
        report.rtp_loud
    );
    // The carrier's 200 to that BYE ended the call and wrote the one CDR.
    assert_eq!(sim.cdrs().len(), 1);
    let cdr = sim.cdr("call-1");
    assert_eq!(cdr.digits, vec!["1".to_string()]);
    assert!(
        cdr.nodes.contains(&"sales".to_string()) && !cdr.nodes.contains(&"support".to_string()),
        "{:?}",
        cdr.nodes
    );
    assert_eq!(cdr.hangup_side, HangupSide::Callplane);
    assert_eq!(cdr.hangup_cause, HangupCause::NormalClearing);
    assert_eq!(cdr.sip_status, 200);
    assert_eq!(cdr.flow_id.as_deref(), Some("demo"));
    assert_eq!(sim.host.active_calls(), 0);
}

#[test]
fn no_common_codec_is_rejected_with_488_and_recorded() {
    let mut sim = demo_sim();
    let g729 = Offer::Formats {
        formats: "18".into(),
        rtpmaps: "a=rtpmap:18 G729/8000\r\n".into(),
    };
    sim.place(CallScript::new("call-488", Time::ZERO).offer(g729));
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let report = sim.report("call-488");
    assert_eq!(report.final_status, Some(488), "{report:?}");
    assert_eq!(report.acks_sent, 1, "the 488 is acknowledged");
    assert_eq!(sim.cdrs().len(), 1);
    assert_eq!(sim.cdrs()[0].sip_status, 488);
    assert_eq!(sim.cdrs()[0].hangup_cause, HangupCause::NoCommonCodec);
}

#[test]
fn an_unrouted_number_is_rejected_with_404_and_recorded() {
    let mut sim = sim_with(no_routes());
    sim.place(CallScript::new("call-404", Time::ZERO).dialled("2000"));
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let report = sim.report("call-404");
    assert_eq!(report.final_status, Some(404), "{report:?}");
    assert_eq!(report.acks_sent, 1);
    let cdr = sim.cdr("call-404");
    assert_eq!(cdr.sip_status, 404);
    assert_eq!(cdr.hangup_cause, HangupCause::NoRoute);
    assert_eq!(cdr.to, "2000");
    assert_eq!(sim.host.active_calls(), 0);
}

#[test]
fn silence_replays_the_menu_then_says_goodbye() {
    let mut sim = demo_sim();
    sim.place(CallScript::new("call-t", Time::ZERO));
    sim.run_for(Duration::from_secs(25));
    assert_eq!(sim.report("call-t").byes_received, 1);
    let cdr = sim.cdr("call-t");
    let menus = cdr.nodes.iter().filter(|n| *n == "menu").count();
    assert_eq!(menus, 1, "{:?}", cdr.nodes);
    assert!(cdr.nodes.contains(&"goodbye".to_string()));
    assert!(cdr.digits.is_empty());
}

#[test]
fn cancel_while_ringing_ends_with_487() {
    let mut sim = Sim::new(SimConfig::demo(11).with_answer_delay(Duration::from_secs(3)));
    sim.place(CallScript::new("call-c", Time::ZERO).cancel_after(Duration::from_millis(500)));
    sim.run_for(Duration::from_millis(400));
    assert!(
        sim.report("call-c").invite_responses.contains(&180),
        "ringing while the answer is delayed"
    );
    sim.run_for(Duration::from_secs(5));
    let report = sim.report("call-c");
    assert_eq!(report.cancel_status, Some(200), "{report:?}");
    assert_eq!(report.final_status, Some(487), "{report:?}");
    assert_eq!(report.oks_received, 0, "answered after CANCEL");
    assert_eq!(sim.cdrs().len(), 1);
    assert_eq!(sim.cdrs()[0].hangup_cause, HangupCause::Cancelled);
    assert_eq!(sim.cdrs()[0].sip_status, 487);
    assert_eq!(sim.host.active_calls(), 0);
}

#[test]
fn a_delayed_answer_rings_first() {
    let mut sim = Sim::new(SimConfig::demo(11).with_answer_delay(Duration::from_secs(2)));
    sim.place(CallScript::new("ring-1", Time::ZERO).press(Duration::from_millis(600), 1));
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let report = sim.report("ring-1");
    assert_eq!(report.invite_responses, vec![100, 180, 200], "{report:?}");
    // 10 ms to callplane, 2 s of ringing, 10 ms back.
    assert_eq!(report.answered_at, Some(Time::from_millis(2_020)));
    let cdr = sim.cdr("ring-1");
    assert_eq!(cdr.answer, Some(Time::from_millis(2_010)));
    assert_eq!(cdr.digits, vec!["1".to_string()]);
}

/// A VoIPBIN action array: answer → talk → digits_receive → branch → talk → hangup.
const ACTION_ARRAY: &str = r#"{
  "id": "actions-demo", "name": "action array", "version": 1,
  "actions": [
    { "type": "answer" },
    { "type": "talk", "option": { "text": "welcome text", "language": "en-US" } },
    { "type": "digits_receive", "option": { "duration": 3000, "length": 1 } },
    { "type": "branch", "option": { "variable": "voipbin.call.digits",
        "target_ids": { "1": "sales", "2": "support" }, "default_target_id": "bye" } },
    { "id": "sales", "type": "talk", "option": { "text": "sales text" } },
    { "type": "goto", "option": { "target_id": "bye" } },
    { "id": "support", "type": "talk", "option": { "text": "support text" } },
    { "id": "bye", "type": "hangup" }
  ]
}"#;

#[test]
fn action_array_flow_branches_on_the_digit() {
    let mut sim = sim_with(router(ACTION_ARRAY));
    sim.place(CallScript::new("aa-1", Time::ZERO).press(Duration::from_millis(500), 2));
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let cdr = sim.cdr("aa-1");
    assert_eq!(cdr.flow_id.as_deref(), Some("actions-demo"));
    assert!(
        cdr.nodes.contains(&"support".to_string()),
        "{:?}",
        cdr.nodes
    );
    assert!(!cdr.nodes.contains(&"sales".to_string()), "{:?}", cdr.nodes);
    assert_eq!(cdr.hangup_cause, HangupCause::NormalClearing);
}

#[test]
fn a_call_keeps_its_flow_version_when_a_newer_one_is_published() {
    let v1 = DEMO_FLOW_JSON.to_string();
    let v2 = DEMO_FLOW_JSON.replacen("\"version\": 1", "\"version\": 2", 1);
    assert_ne!(v1, v2, "the demo flow states its version as \"version\": 1");
    let mut sim = sim_with(router(&v1));
    sim.place(CallScript::new("v-old", Time::ZERO));
    sim.run_for(Duration::from_millis(300));
    assert_eq!(sim.host.active_calls(), 1, "v-old runs");
    sim.host.set_router(router(&v2));
    // A new call after the publish runs version 2 …
    sim.place(CallScript::new("v-new", sim.now()));
    assert!(sim.run_until_idle(IDLE_LIMIT));
    // … while the first call finished on version 1.
    assert_eq!(sim.cdr("v-old").flow_version, Some(1));
    assert_eq!(sim.cdr("v-new").flow_version, Some(2));
}

#[test]
fn a_dial_with_no_route_to_its_number_fails_cleanly_instead_of_sticking() {
    let flow = r#"{ "id": "dialer", "version": 3, "start": "entry",
      "nodes": [
        { "id": "entry", "type": "entry", "data": { "kind": "entry" } },
        { "id": "dial", "type": "dial", "data": { "kind": "dial", "number": "+15551234567" } },
        { "id": "sorry", "type": "play", "data": { "kind": "play", "promptId": "invalid" } },
        { "id": "bye", "type": "hangup", "data": { "kind": "hangup" } }
      ],
      "edges": [
        { "source": "entry", "target": "dial" },
        { "source": "dial", "target": "sorry", "sourceHandle": "failed" },
        { "source": "sorry", "target": "bye" }
      ] }"#;
    let mut sim = sim_with(router(flow));
    sim.place(CallScript::new("dial-1", Time::ZERO));
    sim.run_for(Duration::from_secs(2));
    assert_eq!(
        sim.report("dial-1").byes_received,
        1,
        "the call stuck on the dial node"
    );
    assert_eq!(
        sim.cdr("dial-1").nodes,
        vec!["entry", "dial", "sorry", "bye"]
    );
    // No [dial] trunk: the number cannot be reached, the leg is refused.
    assert_eq!(sim.host.stats().legs_refused, 1);
    assert_eq!(sim.host.stats().legs_placed, 0);
    assert_eq!(sim.host.stats().unsupported_commands, 0);
}

#[test]
fn sync_http_waits_for_the_response_and_templates_it() {
    let flow = r#"{ "id": "hook", "version": 1, "actions": [
        { "type": "answer" },
        { "type": "webhook_send", "option": { "uri": "http://127.0.0.1:9/who?c=${voipbin.call.caller_id}", "sync": true } },
        { "type": "condition_variable", "option": { "variable": "customer.tier", "value_string": "gold", "false_target_id": "plain" } },
        { "id": "vip", "type": "talk", "option": { "text": "sales text" } },
        { "type": "hangup" },
        { "id": "plain", "type": "talk", "option": { "text": "support text" } },
        { "type": "hangup" }
    ] }"#;
    let mut sim = sim_with(router(flow));
    sim.place(CallScript::new("http-1", Time::ZERO));
    sim.run_for(Duration::from_millis(100));
    assert_eq!(sim.shell.http.len(), 1, "one request made");
    let hook = sim.shell.http[0].clone();
    assert!(hook.reply, "sync webhook waits");
    // The carrier calls from sip:carrier@…: the caller id is templated in.
    assert_eq!(hook.request.url, "http://127.0.0.1:9/who?c=carrier");
    assert_eq!(hook.request.method, "POST");
    // Nothing happens until the response arrives.
    sim.run_for(Duration::from_secs(3));
    assert_eq!(sim.report("http-1").byes_received, 0);
    sim.host_input(Input::Http {
        call: hook.call,
        result: HttpResult::Response {
            status: 200,
            body: r#"{"customer":{"tier":"gold"}}"#.into(),
        },
    });
    sim.run_for(Duration::from_secs(2));
    assert_eq!(sim.report("http-1").byes_received, 1);
    let nodes = &sim.cdr("http-1").nodes;
    assert!(nodes.contains(&"vip".to_string()), "{nodes:?}");
}

#[test]
fn on_complete_flow_runs_after_the_caller_hangs_up() {
    let main = r#"{ "id": "main", "version": 1, "on_complete_flow_id": "after-call",
      "actions": [
        { "type": "answer" },
        { "type": "variable_set", "option": { "key": "topic", "value": "billing" } },
        { "type": "digits_receive", "option": { "duration": 20000, "length": 4 } },
        { "type": "hangup" }
      ] }"#;
    let after = r#"{ "id": "after-call", "version": 1, "actions": [
        { "type": "webhook_send", "option": { "uri": "http://127.0.0.1:9/summary?topic=${topic}&n=${voipbin.activeflow.complete_count}" } }
      ] }"#;
    let env = FlowEnv::new().with_flow(program(after));
    let router = Arc::new(Router::new(
        Some(RouteTarget::new(program(main))),
        Arc::new(env),
    ));
    let mut sim = sim_with(router);
    sim.place(CallScript::new("oc-1", Time::ZERO).hang_up_after(Duration::from_secs(1)));
    // The carrier sees the answer at 20 ms and hangs up at 1.02 s.
    sim.run_until(Time::from_millis(1_000));
    assert!(sim.shell.http.is_empty());
    assert!(sim.run_until_idle(IDLE_LIMIT));
    assert_eq!(sim.report("oc-1").bye_status, Some(200));
    assert_eq!(
        sim.shell.http.len(),
        1,
        "the after-call flow made its request"
    );
    assert_eq!(
        sim.shell.http[0].request.url,
        "http://127.0.0.1:9/summary?topic=billing&n=1"
    );
    assert!(!sim.shell.http[0].reply, "fire and forget");
    assert_eq!(sim.cdrs().len(), 1);
    assert_eq!(sim.cdrs()[0].hangup_side, HangupSide::Caller);
    assert_eq!(sim.cdrs()[0].hangup_cause, HangupCause::CallerHangup);
    assert_eq!(sim.host.active_calls(), 0);
}

#[test]
fn an_unacknowledged_answer_ends_the_call_at_timer_h() {
    // A flow that would wait a minute for a digit: only Timer H ends it.
    let patient = r#"{ "id": "patient", "version": 1, "actions": [
        { "type": "answer" },
        { "type": "digits_receive", "option": { "duration": 60000, "length": 1 } },
        { "type": "hangup" }
    ] }"#;
    let mut sim = sim_with(router(patient));
    sim.place(CallScript::new("no-ack", Time::ZERO).without_ack());
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let report = sim.report("no-ack");
    assert_eq!(report.acks_sent, 0);
    // 200 at 0 and again at 0.5, 1.5, 3.5, 7.5, 11.5 … s until Timer H (32 s).
    assert!(report.oks_received >= 8, "{report:?}");
    let cdr = sim.cdr("no-ack");
    assert_eq!(cdr.hangup_cause, HangupCause::AckTimeout);
    assert_eq!(cdr.hangup_side, HangupSide::Callplane);
    // RFC 3261 §13.3.1.4: the session is ended with a BYE.
    assert_eq!(report.byes_received, 1, "{report:?}");
    let answer = cdr.answer.unwrap_or(Time::NEVER);
    let lasted = cdr.end.saturating_since(answer);
    assert!(
        (Duration::from_secs(31)..=Duration::from_secs(33)).contains(&lasted),
        "{lasted:?}"
    );
    assert_eq!(sim.host.active_calls(), 0);
}

#[test]
fn shutdown_hangs_up_calls_in_progress_and_refuses_new_ones() {
    let mut sim = demo_sim();
    sim.place(CallScript::new("up", Time::ZERO));
    sim.run_for(Duration::from_millis(800));
    assert_eq!(sim.host.active_calls(), 1);
    sim.host_input(Input::Shutdown);
    sim.place(CallScript::new(
        "late",
        sim.now() + Duration::from_millis(100),
    ));
    assert!(sim.run_until_idle(IDLE_LIMIT));
    assert_eq!(sim.report("up").byes_received, 1);
    assert_eq!(sim.cdr("up").hangup_cause, HangupCause::Shutdown);
    assert_eq!(sim.cdr("up").hangup_side, HangupSide::Callplane);
    assert_eq!(sim.report("late").final_status, Some(503));
    assert_eq!(sim.cdr("late").hangup_cause, HangupCause::Shutdown);
    assert_eq!(sim.host.active_calls(), 0);
}

#[test]
fn ports_someone_else_holds_are_skipped_and_the_answer_names_the_bound_one() {
    let mut sim = demo_sim();
    sim.shell.taken_ports.extend([20002, 20004]);
    sim.place(CallScript::new("port-1", Time::ZERO).press(Duration::from_millis(600), 1));
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let refused: Vec<u16> = sim.shell.refused_binds.iter().map(|a| a.port()).collect();
    assert_eq!(
        refused,
        vec![20002, 20004],
        "the host tried the taken ports first"
    );
    let report = sim.report("port-1");
    assert_eq!(report.invite_responses, vec![100, 200], "{report:?}");
    let answer = report.answer_sdp.as_deref().unwrap_or_default();
    assert!(answer.contains("m=audio 20006 RTP/AVP 0 101"), "{answer}");
    assert!(report.rtp_received > 50, "media flowed from the bound port");
    let cdr = sim.cdr("port-1");
    assert_eq!(cdr.digits, vec!["1".to_string()]);
    assert_eq!(cdr.sip_status, 200);
    assert_eq!(sim.host.stats().bind_failures, 2);
    assert_eq!(sim.host.active_calls(), 0);
}

#[test]
fn a_call_that_can_bind_no_port_is_refused_with_503() {
    let mut sim = demo_sim();
    sim.shell.taken_ports.extend((20002..20100).step_by(2));
    sim.place(CallScript::new("port-2", Time::ZERO));
    assert!(sim.run_until_idle(IDLE_LIMIT));
    assert_eq!(
        sim.shell.refused_binds.len(),
        16,
        "16 ports tried, then refused"
    );
    let report = sim.report("port-2");
    assert_eq!(report.invite_responses, vec![100, 503], "{report:?}");
    let cdr = sim.cdr("port-2");
    assert_eq!(cdr.hangup_cause, HangupCause::MediaUnavailable);
    assert_eq!(cdr.hangup_side, HangupSide::Callplane);
    assert_eq!(cdr.sip_status, 503);
    assert_eq!(sim.host.active_calls(), 0);
}

#[test]
fn codec_preferences_pick_the_answer_and_a_trunks_own_win_for_its_sources() {
    use crate::sip::AudioCodec;
    let g711 = || Offer::Formats {
        formats: "0 8 101".into(),
        rtpmaps: "a=rtpmap:101 telephone-event/8000\r\n".into(),
    };
    let answer_of = |config: SimConfig| {
        let mut sim = Sim::new(config);
        sim.place(CallScript::new("pref-1", Time::ZERO).offer(g711()));
        assert!(sim.run_until_idle(IDLE_LIMIT));
        sim.report("pref-1").answer_sdp.clone().unwrap_or_default()
    };
    let caller_order = answer_of(SimConfig::demo(31));
    assert!(caller_order.contains("RTP/AVP 0 101"), "{caller_order}");
    let mut config = SimConfig::demo(31);
    config.codecs = vec![AudioCodec::Pcma, AudioCodec::Pcmu];
    let ours = answer_of(config.clone());
    assert!(ours.contains("RTP/AVP 8 101"), "{ours}");
    let carrier: std::net::SocketAddr = CARRIER_SIP.parse().unwrap();
    config.trunk_codecs = vec![(ipnet::IpNet::from(carrier.ip()), vec![AudioCodec::Pcmu])];
    let trunk = answer_of(config);
    assert!(trunk.contains("RTP/AVP 0 101"), "{trunk}");
}

#[test]
fn a_late_offer_gets_our_offer_in_the_200_and_media_starts_with_the_acks_answer() {
    let mut sim = demo_sim();
    let late = Offer::Late {
        answer_in_ack: true,
    };
    sim.place(
        CallScript::new("late-1", Time::ZERO)
            .offer(late)
            .press(Duration::from_millis(600), 1),
    );
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let report = sim.report("late-1");
    assert_eq!(report.invite_responses, vec![100, 200], "{report:?}");
    let offer = report.answer_sdp.as_deref().unwrap_or_default();
    assert!(
        offer.contains("m=audio 20002 RTP/AVP 0 8 111 101 102"),
        "the 200 carries our offer: {offer}"
    );
    assert!(offer.contains("a=rtpmap:8 PCMA/8000"), "{offer}");
    assert!(offer.contains("a=rtpmap:111 opus/48000/2"), "{offer}");
    assert!(
        report.rtp_loud > 20,
        "prompts reached the caller: {report:?}"
    );
    let cdr = sim.cdr("late-1");
    assert_eq!(cdr.digits, vec!["1".to_string()], "the digit was heard");
    assert_eq!(
        cdr.nodes,
        ["entry", "welcome", "menu", "sales", "goodbye", "hangup"]
            .map(String::from)
            .to_vec()
    );
    assert_eq!(cdr.sip_status, 200);
    assert_eq!(cdr.hangup_side, HangupSide::Callplane);
    assert_eq!(sim.host.active_calls(), 0);
}

#[test]
fn a_late_offer_whose_ack_has_no_answer_ends_with_bye() {
    let mut sim = demo_sim();
    let late = Offer::Late {
        answer_in_ack: false,
    };
    sim.place(CallScript::new("late-2", Time::ZERO).offer(late));
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let report = sim.report("late-2");
    assert_eq!(report.invite_responses, vec![100, 200], "{report:?}");
    assert_eq!(report.byes_received, 1, "callplane hung up: {report:?}");
    assert_eq!(report.rtp_received, 0, "no media without an answer");
    let cdr = sim.cdr("late-2");
    assert_eq!(cdr.hangup_cause, HangupCause::NoMediaAnswer);
    assert_eq!(cdr.hangup_side, HangupSide::Callplane);
    assert_eq!(cdr.sip_status, 200);
    assert!(
        cdr.nodes.is_empty(),
        "the flow never started: {:?}",
        cdr.nodes
    );
    assert_eq!(sim.host.active_calls(), 0);
}

#[test]
fn only_the_trunks_sources_may_call() {
    // The carrier calls from 127.0.0.2: outside the allow list, it gets 403.
    let mut sim = Sim::new(SimConfig::demo(11).allowing(&["127.0.0.1/32", "192.0.2.0/24"]));
    sim.place(CallScript::new("stranger", Time::ZERO));
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let report = sim.report("stranger");
    assert_eq!(report.final_status, Some(403), "{report:?}");
    assert_eq!(report.acks_sent, 1, "the 403 is acknowledged");
    assert_eq!(sim.host.stats().calls_from_unknown_sources, 1);
    assert!(sim.cdrs().is_empty(), "no CDR for a refused source");
    assert!(sim.shell.binds.is_empty(), "no RTP port taken");

    // Inside the allow list, the call runs.
    let mut sim = Sim::new(SimConfig::demo(11).allowing(&["127.0.0.0/30"]));
    sim.place(CallScript::new("trunk", Time::ZERO).press(Duration::from_millis(600), 1));
    assert!(sim.run_until_idle(IDLE_LIMIT));
    assert_eq!(sim.report("trunk").invite_responses, vec![100, 200]);
    assert_eq!(sim.cdr("trunk").digits, vec!["1".to_string()]);
    assert_eq!(sim.host.stats().calls_from_unknown_sources, 0);
}

#[test]
fn a_source_over_its_invite_rate_gets_503_and_the_admitted_calls_run() {
    let mut sim = Sim::new(SimConfig::demo(11).with_invite_rate(2));
    for i in 0..5 {
        sim.place(
            CallScript::new(&format!("burst-{i}"), Time::from_millis(i))
                .press(Duration::from_millis(600), 1),
        );
    }
    // A call two seconds later finds the bucket refilled.
    sim.place(
        CallScript::new("later", Time::from_millis(2_000)).press(Duration::from_millis(600), 1),
    );
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let finals: Vec<Option<u16>> = (0..5)
        .map(|i| sim.report(&format!("burst-{i}")).final_status)
        .collect();
    assert_eq!(
        finals,
        vec![Some(200), Some(200), Some(503), Some(503), Some(503)],
        "a burst of 2 per second"
    );
    assert_eq!(sim.host.stats().calls_over_source_rate, 3);
    assert_eq!(sim.report("later").final_status, Some(200));
    for id in ["burst-0", "burst-1", "later"] {
        assert_eq!(
            sim.cdr(id).digits,
            vec!["1".to_string()],
            "{id} ran normally"
        );
    }
    assert_eq!(sim.cdrs().len(), 3, "no CDR for refused INVITEs");
    assert_eq!(sim.host.active_calls(), 0);
}

#[test]
fn a_key_pressed_by_sip_info_takes_the_menu_branch() {
    let mut sim = demo_sim();
    sim.place(CallScript::new("info-1", Time::ZERO).press_by_info(Duration::from_millis(600), '2'));
    assert!(sim.run_until_idle(IDLE_LIMIT));
    assert_eq!(sim.report("info-1").info_statuses, vec![200]);
    let cdr = sim.cdr("info-1");
    assert_eq!(
        cdr.digits,
        vec!["2".to_string()],
        "the INFO digit reached the flow"
    );
    assert!(
        cdr.nodes.contains(&"support".to_string()),
        "{:?}",
        cdr.nodes
    );
    assert_eq!(cdr.hangup_side, HangupSide::Callplane);
}

#[test]
fn digits_send_reaches_the_caller_as_telephone_events_and_the_flow_goes_on() {
    let flow = r#"{ "id": "dialer", "version": 1, "actions": [
        { "type": "answer" },
        { "id": "keys", "type": "digits_send", "option": { "digits": "12#", "duration": 100, "interval": 60 } },
        { "id": "after", "type": "talk", "option": { "text": "goodbye text" } },
        { "type": "hangup" }
    ] }"#;
    let mut sim = sim_with(router(flow));
    sim.place(CallScript::new("keys-1", Time::ZERO));
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let report = sim.report("keys-1");
    let mut keys: Vec<u8> = report
        .events_received
        .iter()
        .map(|(code, _)| *code)
        .collect();
    keys.dedup();
    assert_eq!(keys, vec![1, 2, 11], "{report:?}");
    let ends = report
        .events_received
        .iter()
        .filter(|(_, end)| *end)
        .count();
    assert_eq!(ends, 9, "three end packets per key");
    let cdr = sim.cdr("keys-1");
    assert!(cdr.nodes.contains(&"after".to_string()), "{:?}", cdr.nodes);
    assert_eq!(cdr.flow_end, None, "the flow ended by its hangup: {cdr:?}");
    assert_eq!(cdr.hangup_cause, HangupCause::NormalClearing);
    assert_eq!(sim.host.stats().unsupported_commands, 0);
}

#[test]
fn a_caller_without_telephone_event_is_heard_in_band() {
    let mut sim = demo_sim();
    let pcmu_only = Offer::Formats {
        formats: "0".into(),
        rtpmaps: "a=rtpmap:0 PCMU/8000\r\n".into(),
    };
    sim.place(
        CallScript::new("inband-1", Time::ZERO)
            .offer(pcmu_only)
            .press(Duration::from_millis(600), 2),
    );
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let report = sim.report("inband-1");
    let answer = report.answer_sdp.as_deref().unwrap_or_default();
    assert!(!answer.contains("telephone-event"), "{answer}");
    let cdr = sim.cdr("inband-1");
    assert_eq!(cdr.digits, vec!["2".to_string()], "the tone was heard");
    assert!(
        cdr.nodes.contains(&"support".to_string()),
        "{:?}",
        cdr.nodes
    );
}

#[test]
fn reinvites_refresh_hold_and_unhold_the_call_and_it_goes_on() {
    // A flow that plays the menu for 30 s of gathering: media flows throughout.
    let mut sim = demo_sim();
    sim.place(
        CallScript::new("re-1", Time::ZERO)
            .reinvite(Duration::from_millis(300), "sendrecv")
            .reinvite(Duration::from_millis(1_000), "sendonly")
            .reinvite(Duration::from_millis(2_000), "sendrecv")
            .press(Duration::from_millis(3_000), 1),
    );
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let report = sim.report("re-1");
    let statuses: Vec<u16> = report.reinvite_answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, vec![200, 200, 200], "{report:?}");
    let directions: Vec<bool> = report
        .reinvite_answers
        .iter()
        .map(|(_, body)| body.contains("a=recvonly"))
        .collect();
    assert_eq!(
        directions,
        vec![false, true, false],
        "hold is answered recvonly"
    );
    // Each answer is a new version of our description.
    let versions: Vec<String> = report
        .reinvite_answers
        .iter()
        .filter_map(|(_, body)| body.lines().find(|l| l.starts_with("o=")).map(String::from))
        .collect();
    assert_eq!(versions.len(), 3);
    assert!(versions.windows(2).all(|w| w[0] != w[1]), "{versions:?}");
    // On hold (between the 2nd and 3rd answers) callplane sent (almost) nothing;
    // after the unhold media flowed again.
    let [_, held, resumed] = report.rtp_at_reinvite[..] else {
        panic!("three answers expected: {report:?}");
    };
    assert!(resumed - held <= 2, "on hold: {} packets", resumed - held);
    assert!(
        report.rtp_received > resumed + 20,
        "media resumed: {report:?}"
    );
    let cdr = sim.cdr("re-1");
    assert_eq!(cdr.digits, vec!["1".to_string()]);
    assert_eq!(cdr.hangup_cause, HangupCause::NormalClearing);
    assert_eq!(sim.host.active_calls(), 0);
}

#[test]
fn behind_nat_the_answer_names_the_advertised_addresses_and_binds_the_local_one() {
    let mut sim = Sim::new(SimConfig::demo(11).advertising("203.0.113.5:5060", "203.0.113.5"));
    sim.place(CallScript::new("nat-1", Time::ZERO).hang_up_after(Duration::from_millis(500)));
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let report = sim.report("nat-1");
    let answer = report.answer_sdp.as_deref().unwrap_or_default();
    assert!(answer.contains("c=IN IP4 203.0.113.5"), "{answer}");
    assert!(answer.contains("m=audio 20002 "), "{answer}");
    let bound: Vec<String> = sim.shell.binds.iter().map(|(_, a)| a.to_string()).collect();
    assert_eq!(bound, vec!["127.0.0.1:20002".to_string()], "bound locally");
    assert_eq!(report.final_status, Some(200));
    assert_eq!(sim.cdrs().len(), 1);
}

/// A node graph that asks for early media, plays the welcome prompt and
/// refuses the call with 404: a "number not in service" announcement.
const NOT_IN_SERVICE: &str = r#"{"id": "nis", "version": 1, "earlyMedia": true,
  "nodes": [
    {"id": "entry", "type": "entry", "data": {"kind": "entry"}},
    {"id": "notice", "type": "play", "data": {"kind": "play", "promptId": "welcome"}},
    {"id": "end", "type": "hangup", "data": {"kind": "hangup", "sipStatus": 404}}],
  "edges": [
    {"id": "e1", "source": "entry", "target": "notice"},
    {"id": "e2", "source": "notice", "target": "end"}]}"#;

#[test]
fn early_media_plays_the_announcement_in_a_183_then_refuses_with_the_flow_status() {
    let config = SimConfig::demo(11).with_router(router(NOT_IN_SERVICE));
    let mut sim = Sim::new(config);
    sim.place(CallScript::new("call-nis", Time::ZERO));
    sim.run_for(Duration::from_secs(10));
    let report = sim.report("call-nis");
    assert!(report.invite_responses.contains(&183), "{report:?}");
    assert_eq!(report.final_status, Some(404), "{report:?}");
    assert_eq!(report.oks_received, 0, "never answered: {report:?}");
    // The fixture's welcome prompt lasts 400 ms: 20 packets, all of it heard.
    assert_eq!(
        report.rtp_loud, 20,
        "the announcement was heard: {report:?}"
    );
    let cdr = sim.cdr("call-nis");
    assert!(cdr.early_media);
    assert_eq!(cdr.sip_status, 404);
    assert_eq!(cdr.answer, None);
    assert_eq!(cdr.nodes, ["entry", "notice", "end"]);
    assert!(cdr.media.as_ref().is_some_and(|m| m.rtp.sent >= 20));
    assert_eq!(sim.host.active_calls(), 0);
}

/// SRTP required for the carrier's addresses (`[[trunk]] srtp`), off for others.
fn srtp_required_for_the_carrier() -> SimConfig {
    use crate::sip::sdp::SrtpPolicy;
    let mut config = SimConfig::demo(17);
    config.srtp = crate::call::SrtpSettings {
        policy: SrtpPolicy::Off,
        trunks: vec![("127.0.0.0/8".parse().unwrap(), SrtpPolicy::Required)].into(),
        key_seed: [9; 16],
    };
    config
}

#[test]
fn a_trunk_requiring_srtp_refuses_a_plain_offer_with_488() {
    let mut sim = Sim::new(srtp_required_for_the_carrier());
    sim.place(CallScript::new("plain", Time::ZERO));
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let report = sim.report("plain");
    assert_eq!(report.final_status, Some(488), "{report:?}");
    let cdr = sim.cdr("plain");
    assert_eq!(cdr.hangup_cause, HangupCause::SrtpRequired);
    assert_eq!(cdr.sip_status, 488);
    assert_eq!(sim.host.active_calls(), 0);
}

#[test]
fn a_late_offer_to_a_trunk_requiring_srtp_offers_rtp_savp_with_both_suites() {
    let mut sim = Sim::new(srtp_required_for_the_carrier());
    let late = Offer::Late {
        answer_in_ack: true,
    };
    sim.place(CallScript::new("late-srtp", Time::ZERO).offer(late));
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let report = sim.report("late-srtp");
    let offer = report.answer_sdp.as_deref().unwrap_or_default();
    assert!(
        offer.contains("m=audio 20002 RTP/SAVP 0 8 111 101 102"),
        "{offer}"
    );
    assert!(
        offer.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{offer}"
    );
    assert!(
        offer.contains("a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:"),
        "{offer}"
    );
    // The simulated carrier answers RTP/AVP in its ACK: unusable, BYE.
    assert_eq!(report.byes_received, 1, "{report:?}");
    assert_eq!(report.rtp_received, 0, "no media without a keyed answer");
    assert_eq!(
        sim.cdr("late-srtp").hangup_cause,
        HangupCause::NoMediaAnswer
    );
}
