//! Recordings and voicemail in whole simulated calls: what the flow and the
//! CDR say once the recorder has run on the received stream.

use std::sync::Arc;
use std::time::Duration;

use crate::call::{RouteTarget, Router};
use crate::flow::{DestinationCatalog, FlowEnv, VoicemailConfig};
use crate::time::Time;

use super::carrier::CallScript;
use super::fixtures::program;
use super::{Sim, SimConfig};

const IDLE_LIMIT: Time = Time::from_millis(60_000);
/// The event code of `#`.
const HASH: u8 = 11;

fn router_with_mailbox(json: &str) -> Arc<Router> {
    let env = FlowEnv::new().with_destinations(DestinationCatalog {
        voicemails: vec![VoicemailConfig {
            id: "vm1".into(),
            max_length_sec: Some(30),
        }],
        ..DestinationCatalog::default()
    });
    Arc::new(Router::new(
        Some(RouteTarget::new(program(json))),
        Arc::new(env),
    ))
}

const VOICEMAIL_FLOW: &str = r#"{ "id": "vmflow", "name": "vm", "version": 1, "start": "vm",
  "nodes": [
    { "id": "vm", "type": "voicemail", "data": { "kind": "voicemail", "mailboxId": "vm1" } },
    { "id": "bye", "type": "hangup", "data": { "kind": "hangup" } }
  ],
  "edges": [ { "id": "e1", "source": "vm", "target": "bye", "sourceHandle": "done" } ] }"#;

#[test]
fn a_voicemail_message_ends_at_hash_and_the_flow_goes_on() {
    let mut sim = Sim::new(SimConfig::demo(3).with_router(router_with_mailbox(VOICEMAIL_FLOW)));
    sim.place(
        CallScript::new("vm-1", Time::ZERO)
            .stream_audio(Duration::from_secs(10))
            .press(Duration::from_secs(4), HASH)
            .hang_up_after(Duration::from_secs(20)),
    );
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let cdr = sim.cdr("vm-1");
    assert_eq!(cdr.nodes, vec!["vm", "bye"], "done led to the hangup");
    let [message] = cdr.recordings.as_slice() else {
        panic!("one message: {:?}", cdr.recordings);
    };
    assert_eq!(message.mailbox.as_deref(), Some("vm1"));
    assert_eq!(message.end_reason, "key");
    assert!(
        message.file.starts_with("voicemail/vm1-"),
        "{}",
        message.file
    );
    // From the end of the beep to the key, give or take the jitter buffer.
    assert!(
        (3_000..4_200).contains(&message.duration_ms),
        "{} ms",
        message.duration_ms
    );
}

#[test]
fn a_voicemail_for_a_box_not_configured_fails() {
    let flow = VOICEMAIL_FLOW.replace("\"mailboxId\": \"vm1\"", "\"mailboxId\": \"nobox\"");
    let mut sim = Sim::new(SimConfig::demo(4).with_router(router_with_mailbox(&flow)));
    sim.place(CallScript::new("vm-2", Time::ZERO).hang_up_after(Duration::from_secs(5)));
    assert!(sim.run_until_idle(IDLE_LIMIT));
    assert!(sim.cdr("vm-2").recordings.is_empty());
}

#[test]
fn a_flow_recording_stops_at_its_duration_and_sets_the_cdr() {
    let flow = r#"{ "id": "rec", "name": "rec", "version": 1, "actions": [
      { "type": "answer" },
      { "type": "recording_start", "option": { "format": "mp3", "duration": 2 } },
      { "type": "sleep", "option": { "duration": 3000 } },
      { "type": "hangup" } ] }"#;
    let mut sim = Sim::new(SimConfig::demo(5).with_router(router_with_mailbox(flow)));
    sim.place(CallScript::new("rec-1", Time::ZERO).stream_audio(Duration::from_secs(5)));
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let cdr = sim.cdr("rec-1");
    let [recording] = cdr.recordings.as_slice() else {
        panic!("one recording: {:?}", cdr.recordings);
    };
    assert_eq!(recording.end_reason, "max_duration");
    assert_eq!(recording.duration_ms, 2_000);
    assert!(recording.file.ends_with(".mp3"), "{}", recording.file);
    assert_eq!(
        recording.size_bytes, None,
        "only the writer knows an MP3's size"
    );
}
