//! Connecting callers: a baresip softphone calls callplane, whose flow dials a
//! second baresip (auto-answer) and bridges the two. Each phone sends its own
//! tone; what each one decoded must hold the other's tone (audio crosses the
//! bridge both ways, end to end), the far end's hangup ends the bridge and the
//! flow goes on after it, and a dial to nobody takes the `failed` branch.
//! A sipp caller that transfers its call by REFER (callplane as the
//! transferee) gets 202 and NOTIFYs ending in `SIP/2.0 200`, and the flow goes
//! on with the transfer target, which hears its prompts.

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::baresip::{read_wav, rms_dbfs, Baresip, MediaEnc};
use common::sipp::Sipp;
use common::{Backend, Server, ServerOptions, TestDir};

/// The caller's tone and the callee's: far apart, neither a harmonic of the other.
const CALLER_HZ: f64 = 440.0;
const CALLEE_HZ: f64 = 1250.0;

/// A node graph: dial `target`; after the bridge (answered edge) say goodbye
/// and hang up; on failure play the "not available" path.
fn flow(target: &str) -> String {
    format!(
        r#"{{
  "id": "dialer", "name": "dial test", "version": 1,
  "nodes": [
    {{ "id": "start", "type": "start", "data": {{ "kind": "start" }} }},
    {{ "id": "dial", "type": "dial", "data": {{ "kind": "dial", "number": "{target}", "timeoutSec": 15 }} }},
    {{ "id": "goodbye", "type": "play", "data": {{ "kind": "play", "promptId": "goodbye" }} }},
    {{ "id": "sorry", "type": "play", "data": {{ "kind": "play", "promptId": "invalid" }} }},
    {{ "id": "end", "type": "hangup", "data": {{ "kind": "hangup" }} }}
  ],
  "edges": [
    {{ "id": "e1", "source": "start", "target": "dial" }},
    {{ "id": "e2", "source": "dial", "target": "goodbye", "sourceHandle": "answered" }},
    {{ "id": "e3", "source": "dial", "target": "sorry", "sourceHandle": "failed" }},
    {{ "id": "e4", "source": "dial", "target": "sorry", "sourceHandle": "no_answer" }},
    {{ "id": "e5", "source": "goodbye", "target": "end" }},
    {{ "id": "e6", "source": "sorry", "target": "end" }}
  ]
}}"#
    )
}

fn options(dir: &Path, target: &str) -> ServerOptions {
    let flows = dir.join("flows");
    fs::create_dir_all(&flows).expect("flows dir");
    fs::write(flows.join("dialer.json"), flow(target)).expect("write flow");
    ServerOptions {
        config: Some(format!(
            "[flows]\ndir = \"{}\"\n[routing]\ndefault_flow = \"\"\n[[routing.route]]\nnumber = \"3000\"\nflow = \"dialer\"\n",
            flows.display()
        )),
        ..ServerOptions::default()
    }
}

/// The share of `samples`' energy at `hz` (8 kHz audio): near 1 for a pure
/// tone at `hz`, near 0 without it.
fn share_at(samples: &[i16], hz: f64) -> f64 {
    let (mut re, mut im, mut all) = (0.0, 0.0, 0.0);
    for (n, &sample) in samples.iter().enumerate() {
        let x = f64::from(sample);
        let phase = 2.0 * std::f64::consts::PI * hz * n as f64 / 8000.0;
        re += x * phase.cos();
        im += x * phase.sin();
        all += x * x;
    }
    if all == 0.0 {
        return 0.0;
    }
    2.0 * (re * re + im * im) / (samples.len() as f64 * all)
}

/// The loudest stretch of a decoded dump: the middle of the bridged call.
fn middle(samples: &[i16], seconds: usize) -> &[i16] {
    let want = 8000 * seconds;
    if samples.len() <= want {
        return samples;
    }
    let start = (samples.len() - want) / 2;
    &samples[start..start + want]
}

#[test]
fn a_dialled_softphone_is_bridged_and_each_side_hears_the_other() {
    let dir = TestDir::new("dial-bridge");
    let mut callee = Baresip::start_as(dir.path(), MediaEnc::None, "callee", CALLEE_HZ, true);
    let server = Server::start(
        Backend::Epoll,
        dir.path(),
        &options(dir.path(), &callee.uri("callee")),
    );
    let mut caller = Baresip::start_as(dir.path(), MediaEnc::None, "caller", CALLER_HZ, false);
    caller.dial(&format!("sip:3000@{}", server.sip_addr()));
    caller.wait_event("CALL_ESTABLISHED", Duration::from_secs(10));
    callee.wait_event("CALL_ESTABLISHED", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(4));
    // The callee hangs up: the bridge ends, the flow says goodbye and hangs up.
    callee.hangup();
    callee.wait_event("CALL_CLOSED", Duration::from_secs(10));
    caller.wait_event("CALL_CLOSED", Duration::from_secs(15));
    caller.quit();
    callee.quit();

    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    let cdr = &cdrs[0];
    let nodes = cdr.nodes();
    assert!(
        nodes.contains(&"goodbye".to_string()),
        "after the bridge: {nodes:?}"
    );
    assert!(!nodes.contains(&"sorry".to_string()), "{nodes:?}");
    assert_eq!(cdr.str("hangup_cause"), "normal_clearing", "{}", cdr.json);
    // The leg's own record: answered, its duration, its RTP.
    let legs = cdr.json["legs"].as_array().cloned().unwrap_or_default();
    assert_eq!(legs.len(), 1, "{}", cdr.json);
    assert_eq!(legs[0]["outcome"], "answered", "{}", cdr.json);
    assert_eq!(legs[0]["target"], callee.uri("callee"));
    assert!(
        legs[0]["duration_ms"].as_u64().unwrap_or(0) > 3000,
        "{}",
        cdr.json
    );
    let leg_received = legs[0]["media"]["rtp"]["received"].as_u64().unwrap_or(0);
    assert!(leg_received > 150, "the leg's RTP: {}", cdr.json);
    // Both phones speak PCMU with telephone-event: the bridge relays packets
    // undecoded both ways, and nothing on the leg is decoded.
    let rtp = |media: &serde_json::Value, name: &str| media["rtp"][name].as_u64().unwrap_or(0);
    assert!(
        rtp(&legs[0]["media"], "relayed") > 150,
        "caller to callee: {}",
        cdr.json
    );
    assert!(
        rtp(&cdr.json["media"], "relayed") > 150,
        "callee to caller: {}",
        cdr.json
    );
    assert_eq!(rtp(&legs[0]["media"], "decoded_frames"), 0, "{}", cdr.json);

    let heard_by_callee = read_wav(&callee.decoded_wav().expect("callee dump")).1;
    let heard_by_caller = read_wav(&caller.decoded_wav().expect("caller dump")).1;
    let at_callee = middle(&heard_by_callee, 2);
    let at_caller = middle(&heard_by_caller, 2);
    let (callee_hears_caller, callee_hears_self) = (
        share_at(at_callee, CALLER_HZ),
        share_at(at_callee, CALLEE_HZ),
    );
    let (caller_hears_callee, caller_hears_self) = (
        share_at(at_caller, CALLEE_HZ),
        share_at(at_caller, CALLER_HZ),
    );
    assert!(
        callee_hears_caller > 0.5 && callee_hears_self < 0.1,
        "the callee hears the caller's tone: {callee_hears_caller:.2} (own {callee_hears_self:.2})"
    );
    assert!(
        caller_hears_callee > 0.5 && caller_hears_self < 0.1,
        "the caller hears the callee's tone: {caller_hears_callee:.2} (own {caller_hears_self:.2})"
    );
}

/// Answer, record the call (`channels`), dial `target`, hang up after the bridge.
fn recorded_dial_flow(target: &str, channels: &str) -> String {
    format!(
        r#"{{ "id": "recorded", "name": "record a bridged call", "version": 1, "actions": [
  {{ "type": "answer" }},
  {{ "id": "rec", "type": "recording_start", "option": {{ "format": "wav", "channels": "{channels}" }} }},
  {{ "id": "dial", "type": "connect", "option": {{ "destinations": [ {{ "type": "tel", "target": "{target}" }} ] }} }},
  {{ "id": "bye", "type": "hangup" }}
] }}"#
    )
}

/// A call recorded in `channels` through a relayed bridge, both phones
/// sending their tone: the recording's samples, interleaved when dual.
fn record_bridged_call(name: &str, channels: &str) -> (u16, Vec<i16>) {
    let dir = TestDir::new(name);
    let mut callee = Baresip::start_as(dir.path(), MediaEnc::None, "callee", CALLEE_HZ, true);
    let flows = dir.path().join("flows");
    fs::create_dir_all(&flows).expect("flows dir");
    fs::write(
        flows.join("recorded.json"),
        recorded_dial_flow(&callee.uri("callee"), channels),
    )
    .expect("write flow");
    let options = ServerOptions {
        config: Some(format!(
            "[flows]\ndir = \"{}\"\n[routing]\ndefault_flow = \"\"\n[[routing.route]]\nnumber = \"3001\"\nflow = \"recorded\"\n",
            flows.display()
        )),
        ..ServerOptions::default()
    };
    let server = Server::start(Backend::Epoll, dir.path(), &options);
    let mut caller = Baresip::start_as(dir.path(), MediaEnc::None, "caller", CALLER_HZ, false);
    caller.dial(&format!("sip:3001@{}", server.sip_addr()));
    caller.wait_event("CALL_ESTABLISHED", Duration::from_secs(10));
    callee.wait_event("CALL_ESTABLISHED", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(4));
    callee.hangup();
    callee.wait_event("CALL_CLOSED", Duration::from_secs(10));
    caller.wait_event("CALL_CLOSED", Duration::from_secs(15));
    caller.quit();
    callee.quit();

    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    let legs = cdrs[0].json["legs"].as_array().cloned().unwrap_or_default();
    assert_eq!(legs.len(), 1, "{}", cdrs[0].json);
    // Relayed, yet decoded for the recording.
    let leg_rtp = &legs[0]["media"]["rtp"];
    assert!(
        leg_rtp["relayed"].as_u64().unwrap_or(0) > 150,
        "{}",
        cdrs[0].json
    );
    assert!(
        leg_rtp["decoded_frames"].as_u64().unwrap_or(0) > 150,
        "{}",
        cdrs[0].json
    );
    let recordings = cdrs[0].json["recordings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(recordings.len(), 1, "{}", cdrs[0].json);
    let file = recordings[0]["file"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let path = dir.path().join("data").join(&file);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while fs::metadata(&path).map(|m| m.len()).unwrap_or(0) < 44 + 8000 * 2 * 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} not written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(600));
    let mut reader = hound::WavReader::open(&path).expect("the recording is a WAV");
    let channels = reader.spec().channels;
    let samples = reader
        .samples::<i16>()
        .map(|s| s.expect("a sample"))
        .collect();
    (channels, samples)
}

#[test]
fn a_mono_recording_of_a_relayed_bridge_mixes_both_parties() {
    let (channels, recorded) = record_bridged_call("dial-recorded-mono", "mono");
    assert_eq!(channels, 1);
    let during = middle(&recorded, 2);
    let (caller_share, callee_share) = (share_at(during, CALLER_HZ), share_at(during, CALLEE_HZ));
    assert!(
        caller_share > 0.2 && callee_share > 0.2 && caller_share + callee_share > 0.8,
        "the mono recording mixes both parties: caller {caller_share:.2}, callee {callee_share:.2}"
    );
}

#[test]
fn a_dual_recording_of_a_relayed_bridge_has_the_caller_left_and_the_callee_right() {
    let (channels, recorded) = record_bridged_call("dial-recorded-dual", "dual");
    assert_eq!(channels, 2);
    let left: Vec<i16> = recorded.iter().step_by(2).copied().collect();
    let right: Vec<i16> = recorded.iter().skip(1).step_by(2).copied().collect();
    let (left, right) = (middle(&left, 2), middle(&right, 2));
    let (left_caller, left_callee) = (share_at(left, CALLER_HZ), share_at(left, CALLEE_HZ));
    let (right_callee, right_caller) = (share_at(right, CALLEE_HZ), share_at(right, CALLER_HZ));
    assert!(
        left_caller > 0.5 && left_callee < 0.1,
        "left is the caller's 440 Hz: {left_caller:.2} (1250 Hz: {left_callee:.2})"
    );
    assert!(
        right_callee > 0.5 && right_caller < 0.1,
        "right is the callee's 1250 Hz: {right_callee:.2} (440 Hz: {right_caller:.2})"
    );
}

#[test]
fn a_dial_to_nobody_takes_the_failure_branch() {
    let dir = TestDir::new("dial-nobody");
    // A closed port on loopback: the INVITE gets no answer (ICMP is not
    // reported to UDP senders here), so the ring timeout or Timer B decides;
    // a number with no [dial] trunk fails at once instead.
    let server = Server::start(Backend::Epoll, dir.path(), &options(dir.path(), "5551234"));
    let mut caller = Baresip::start_as(dir.path(), MediaEnc::None, "caller", CALLER_HZ, false);
    caller.dial(&format!("sip:3000@{}", server.sip_addr()));
    caller.wait_event("CALL_ESTABLISHED", Duration::from_secs(10));
    caller.wait_event("CALL_CLOSED", Duration::from_secs(15));
    caller.quit();
    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    let nodes = cdrs[0].nodes();
    assert!(
        nodes.contains(&"sorry".to_string()),
        "{nodes:?}: {}",
        cdrs[0].json
    );
    assert!(!nodes.contains(&"goodbye".to_string()), "{nodes:?}");
}

/// Prompts, long enough for a transfer to happen during the first.
const PROMPTS: &str = r#"{
  "id": "prompts", "name": "transfer test", "version": 1,
  "nodes": [
    { "id": "start", "type": "start", "data": { "kind": "start" } },
    { "id": "welcome", "type": "play", "data": { "kind": "play", "promptId": "welcome" } },
    { "id": "menu", "type": "play", "data": { "kind": "play", "promptId": "menu" } },
    { "id": "goodbye", "type": "play", "data": { "kind": "play", "promptId": "goodbye" } },
    { "id": "end", "type": "hangup", "data": { "kind": "hangup" } }
  ],
  "edges": [
    { "id": "e1", "source": "start", "target": "welcome" },
    { "id": "e2", "source": "welcome", "target": "menu" },
    { "id": "e3", "source": "menu", "target": "goodbye" },
    { "id": "e4", "source": "goodbye", "target": "end" }
  ]
}"#;

#[test]
fn a_caller_transfers_by_refer_and_the_flow_goes_on_with_the_target() {
    let dir = TestDir::new("dial-refer");
    let mut target = Baresip::start_as(dir.path(), MediaEnc::None, "target", CALLEE_HZ, true);
    let flows = dir.path().join("flows");
    fs::create_dir_all(&flows).expect("flows dir");
    fs::write(flows.join("prompts.json"), PROMPTS).expect("write flow");
    let options = ServerOptions {
        config: Some(format!(
            "[sip]\naccept_refer = true\n[flows]\ndir = \"{}\"\n[routing]\ndefault_flow = \"\"\n[[routing.route]]\nnumber = \"1000\"\nflow = \"prompts\"\n",
            flows.display()
        )),
        ..ServerOptions::default()
    };
    let server = Server::start(Backend::Epoll, dir.path(), &options);
    let run = Sipp::new("uac_refer.xml", "refer", dir.path())
        .target(server.sip_addr())
        .set("refer_to", target.uri("target"))
        .timeout(Duration::from_secs(30))
        .run();
    run.assert_passed(1);
    let notifies: Vec<String> = run
        .received_messages()
        .into_iter()
        .filter(|m| m.trim_start().starts_with("NOTIFY "))
        .collect();
    assert!(
        notifies.first().is_some_and(|n| n.contains("SIP/2.0 100")),
        "the first NOTIFY says 100 Trying: {notifies:?}"
    );
    let last = notifies.last().cloned().unwrap_or_default();
    assert!(
        last.contains("SIP/2.0 200") && last.contains("terminated"),
        "the last NOTIFY reports 200 and ends the subscription: {last}"
    );
    assert!(
        last.to_ascii_lowercase().contains("message/sipfrag"),
        "{last}"
    );
    // The flow plays the rest of its prompts to the target, then hangs up.
    target.wait_event("CALL_ESTABLISHED", Duration::from_secs(10));
    target.wait_event("CALL_CLOSED", Duration::from_secs(30));
    target.quit();
    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    let nodes = cdrs[0].nodes();
    assert!(nodes.contains(&"goodbye".to_string()), "{nodes:?}");
    assert_eq!(cdrs[0].str("hangup_side"), "callplane", "{}", cdrs[0].json);
    let heard = read_wav(&target.decoded_wav().expect("target dump")).1;
    assert!(heard.len() > 8000 * 3, "{} samples", heard.len());
    let level = rms_dbfs(&heard);
    assert!(
        level > -40.0,
        "the target heard the prompts: {level:.1} dBFS"
    );
}
