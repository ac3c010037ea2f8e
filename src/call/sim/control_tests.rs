//! Live-call control in whole simulated calls: a flow blocked at `block`
//! waits until resumed, a hangup from the control plane ends the call with
//! `api_hangup`, and commands the call cannot take are refused.

use std::time::Duration;

use crate::call::{CallCommand, HangupCause, Refusal};
use crate::flow::Audio;
use crate::time::Time;

use super::carrier::CallScript;
use super::fixtures::router;
use super::{Sim, SimConfig};

const IDLE_LIMIT: Time = Time::from_millis(60_000);

const BLOCKED_FLOW: &str = r#"{ "id": "blocked", "name": "blocked", "actions": [
  { "type": "answer" },
  { "id": "wait", "type": "block" },
  { "id": "bye", "type": "hangup" } ] }"#;

fn blocked_call(call_id: &str) -> Sim {
    let mut sim = Sim::new(SimConfig::demo(11).with_router(router(BLOCKED_FLOW)));
    sim.place(
        CallScript::new(call_id, Time::ZERO)
            .stream_audio(Duration::from_secs(20))
            .hang_up_after(Duration::from_secs(30)),
    );
    sim.run_for(Duration::from_secs(3));
    sim
}

#[test]
fn a_blocked_flow_waits_until_resumed() {
    let mut sim = blocked_call("ctl-1");
    let calls = sim.host.snapshots();
    let [call] = calls.as_slice() else {
        panic!("one call: {calls:?}");
    };
    assert_eq!((call.activity, call.state), ("blocked", "answered"));
    assert_eq!(call.node.as_deref(), Some("wait"));
    // As of the host's last input (the caller's last RTP packet).
    assert!((2900..=3000).contains(&call.duration_ms), "{call:?}");
    assert!(call.media.is_some());
    // Still there after a while: only the command moves it.
    sim.run_for(Duration::from_secs(5));
    assert_eq!(
        sim.host.snapshot("ctl-1").map(|c| c.activity),
        Some("blocked")
    );

    assert_eq!(sim.host_command("ctl-1", CallCommand::Resume), Ok(()));
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let cdr = sim.cdr("ctl-1");
    assert_eq!(cdr.nodes, vec!["#0", "wait", "bye"]);
    assert_eq!(cdr.hangup_cause, HangupCause::NormalClearing);
    assert!(cdr.end < Time::from_millis(10_000), "ended by the flow");
}

#[test]
fn a_hangup_command_ends_the_call_with_api_hangup() {
    let mut sim = blocked_call("ctl-2");
    assert_eq!(
        sim.host_command("nobody", CallCommand::Hangup),
        Err(Refusal::NoSuchCall)
    );
    assert!(matches!(
        sim.host_command(
            "ctl-2",
            CallCommand::Play(vec![Audio::Speak {
                text: "no prompt says this".into(),
                language: None,
                voice: None,
            }])
        ),
        Err(Refusal::Refused(_))
    ));
    assert!(matches!(
        sim.host_command("ctl-2", CallCommand::SendDigits("12x".into())),
        Err(Refusal::Refused(_))
    ));
    assert_eq!(
        sim.host_command("ctl-2", CallCommand::Play(vec![Audio::catalog("welcome")])),
        Ok(())
    );
    assert_eq!(sim.host_command("ctl-2", CallCommand::Hangup), Ok(()));
    // Ending: nothing more is taken.
    assert!(matches!(
        sim.host_command("ctl-2", CallCommand::Resume),
        Err(Refusal::Refused(_)) | Err(Refusal::NoSuchCall)
    ));
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let cdr = sim.cdr("ctl-2");
    assert_eq!(cdr.hangup_cause, HangupCause::ApiHangup);
    assert_eq!(cdr.nodes, vec!["#0", "wait"]);
}
