//! Free-text speech in whole calls, on the fake clock: a play of text no
//! catalog prompt speaks waits for the synthesized prompt (fed back by hand as
//! the speech workers would), plays it and goes on; no answer by the deadline
//! or an engine error takes the node's `failed` edge.

use std::sync::Arc;
use std::time::Duration;

use super::carrier::CallScript;
use super::fixtures::router;
use super::{Sim, SimConfig};
use crate::call::Input;
use crate::media::Prompt;
use crate::time::Time;

/// The waiting limit these tests configure.
const SPEECH_TIMEOUT: Duration = Duration::from_secs(5);

/// Says a sentence, then the catalog's goodbye; on failure the catalog's invalid.
const SAY_FLOW: &str = r#"{ "id": "say", "version": 1,
  "nodes": [
    { "id": "entry", "type": "entry", "data": { "kind": "entry" } },
    { "id": "say", "type": "play", "data": { "kind": "play",
      "promptText": "Your balance is twelve dollars", "language": "de-DE" } },
    { "id": "goodbye", "type": "play", "data": { "kind": "play", "promptId": "goodbye" } },
    { "id": "sorry", "type": "play", "data": { "kind": "play", "promptId": "invalid" } },
    { "id": "bye", "type": "hangup", "data": { "kind": "hangup" } }
  ],
  "edges": [
    { "source": "entry", "target": "say" },
    { "source": "say", "target": "goodbye" },
    { "source": "say", "target": "sorry", "sourceHandle": "failed" },
    { "source": "goodbye", "target": "bye" },
    { "source": "sorry", "target": "bye" }
  ] }"#;

fn speaking_sim(flow: &str) -> Sim {
    Sim::new(
        SimConfig::demo(41)
            .with_router(router(flow))
            .with_speech(SPEECH_TIMEOUT),
    )
}

/// `millis` ms of a loud tone, as a synthesized sentence would be.
fn spoken(millis: usize) -> Arc<Prompt> {
    let samples = (0..millis * 8)
        .map(|i| ((i as f64 * 0.2).sin() * 9000.0) as i16)
        .collect();
    Arc::new(Prompt::from_samples("speech:test", None, samples))
}

#[test]
fn speech_that_arrives_plays_and_the_flow_goes_on() {
    let mut sim = speaking_sim(SAY_FLOW);
    sim.place(CallScript::new("say-1", Time::ZERO));
    sim.run_for(Duration::from_millis(300));
    assert_eq!(sim.shell.speech.len(), 1, "one sentence asked for");
    let (call, request) = sim.shell.speech[0].clone();
    assert_eq!(request.text, "Your balance is twelve dollars");
    assert_eq!(request.language.as_deref(), Some("de-DE"));
    // Waiting: nothing loud yet, no hangup, however long synthesis takes.
    assert_eq!(sim.report("say-1").rtp_loud, 0);
    sim.run_for(Duration::from_secs(2));
    assert_eq!(sim.report("say-1").byes_received, 0);
    sim.host_input(Input::Speech {
        call,
        id: request.id,
        result: Ok(spoken(1000)),
    });
    assert!(sim.run_until_idle(Time::from_millis(30_000)));
    let report = sim.report("say-1");
    assert_eq!(report.byes_received, 1);
    // One second of speech then 200 ms of goodbye: 60 loud 20 ms packets.
    assert!(
        (55..=62).contains(&report.rtp_loud),
        "loud packets {}",
        report.rtp_loud
    );
    assert_eq!(sim.cdr("say-1").nodes, ["entry", "say", "goodbye", "bye"]);
    assert_eq!(sim.host.stats().speech_failures, 0);
}

#[test]
fn speech_that_never_arrives_fails_the_node_at_the_deadline() {
    let mut sim = speaking_sim(SAY_FLOW);
    sim.place(CallScript::new("say-2", Time::ZERO));
    sim.run_until(Time::from_millis(4_900));
    assert_eq!(sim.shell.speech.len(), 1);
    assert_eq!(sim.report("say-2").byes_received, 0, "still waiting");
    assert!(sim.run_until_idle(Time::from_millis(30_000)));
    assert_eq!(sim.report("say-2").byes_received, 1);
    assert_eq!(sim.cdr("say-2").nodes, ["entry", "say", "sorry", "bye"]);
    assert_eq!(sim.host.stats().speech_failures, 1);
    // A late answer for the gone call changes nothing.
    let (call, request) = sim.shell.speech[0].clone();
    sim.host_input(Input::Speech {
        call,
        id: request.id,
        result: Ok(spoken(500)),
    });
    assert_eq!(sim.cdrs().len(), 1);
}

#[test]
fn an_engine_error_fails_the_node_at_once() {
    let mut sim = speaking_sim(SAY_FLOW);
    sim.place(CallScript::new("say-3", Time::ZERO));
    sim.run_for(Duration::from_millis(300));
    let (call, request) = sim.shell.speech[0].clone();
    // A stale request number is ignored…
    sim.host_input(Input::Speech {
        call,
        id: request.id + 7,
        result: Err("wrong request".into()),
    });
    sim.run_for(Duration::from_millis(100));
    assert_eq!(sim.report("say-3").byes_received, 0);
    // …the real one's error takes the failed edge.
    sim.host_input(Input::Speech {
        call,
        id: request.id,
        result: Err("speech engine: espeak-ng exited 1".into()),
    });
    assert!(sim.run_until_idle(Time::from_millis(30_000)));
    assert_eq!(sim.cdr("say-3").nodes, ["entry", "say", "sorry", "bye"]);
    assert!(
        sim.cdrs()[0].end < Time::from_millis(2_000),
        "failed at once, not at the deadline"
    );
    assert_eq!(sim.host.stats().speech_failures, 1);
}

#[test]
fn catalog_text_is_played_without_synthesis() {
    // "menu text" is the catalog's menu prompt.
    let flow = r#"{ "id": "ask", "version": 1, "actions": [
        { "type": "answer" },
        { "id": "menu", "type": "talk", "option": { "text": "menu text" } },
        { "id": "ask", "type": "digits_receive", "option": { "duration": 3000, "length": 1 } },
        { "type": "hangup" }
    ] }"#;
    let mut sim = speaking_sim(flow);
    sim.place(CallScript::new("cat-1", Time::ZERO));
    assert!(sim.run_until_idle(Time::from_millis(30_000)));
    assert!(sim.shell.speech.is_empty(), "the catalog speaks it");
    assert_eq!(sim.report("cat-1").byes_received, 1);
}

#[test]
fn a_menu_with_free_text_waits_for_its_speech_then_gathers() {
    let flow = r#"{ "id": "menu", "version": 1,
      "nodes": [
        { "id": "entry", "type": "entry", "data": { "kind": "entry" } },
        { "id": "menu", "type": "menu", "data": { "kind": "menu",
          "promptText": "Press 1 for your balance", "maxDigits": 1, "timeoutSec": 3, "maxFailures": 1 } },
        { "id": "balance", "type": "play", "data": { "kind": "play", "promptId": "sales" } },
        { "id": "bye", "type": "hangup", "data": { "kind": "hangup" } }
      ],
      "edges": [
        { "source": "entry", "target": "menu" },
        { "source": "menu", "target": "balance", "sourceHandle": "digit:1" },
        { "source": "balance", "target": "bye" }
      ] }"#;
    let mut sim = speaking_sim(flow);
    // The caller presses 1 two seconds after the answer: after the speech
    // arrived (at 1 s) and while its 1.5 s prompt plays.
    sim.place(CallScript::new("menu-1", Time::ZERO).press(Duration::from_secs(2), 1));
    sim.run_until(Time::from_millis(1_000));
    assert_eq!(sim.shell.speech.len(), 1);
    let (call, request) = sim.shell.speech[0].clone();
    assert_eq!(request.text, "Press 1 for your balance");
    sim.host_input(Input::Speech {
        call,
        id: request.id,
        result: Ok(spoken(1500)),
    });
    assert!(sim.run_until_idle(Time::from_millis(30_000)));
    let cdr = sim.cdr("menu-1");
    assert_eq!(cdr.digits, ["1"], "{cdr:?}");
    assert!(
        cdr.nodes.contains(&"balance".to_string()),
        "{:?}",
        cdr.nodes
    );
}
