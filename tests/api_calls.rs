//! Live-call control through the HTTP API against the real server, with sipp
//! callers: the calls in progress are listed per shard (and only to their
//! own workspace), an interrupt `talk` is heard by the caller, `hangup`
//! ends the call with the CDR cause `api_hangup`, and
//! `activeflows/{id}/execute` moves a flow waiting at a `block` action on.

mod common;

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::api::{api_section, tcp_port, ApiClient};
use common::rtp::ulaw_rms;
use common::{Backend, RtpListener, Server, ServerOptions, Sipp, TestDir};

const KEY_A: &str = "key-for-workspace-a-0001";
const KEY_B: &str = "key-for-workspace-b-0002";
const WS_A: &str = "6764d172953253138a3a70f4";
const WS_B: &str = "6764d172953253138a3a70f5";
const PCMU: u8 = 0;
/// A µ-law packet this loud carries speech (the prompts'); silence is far below.
const SPEECH_RMS: f64 = 1000.0;

/// A server with the API, keys for two workspaces and a flow of workspace
/// A routed to 1000 that answers and waits at a `block`.
fn start(dir: &Path) -> (Server, ApiClient) {
    let port = tcp_port();
    let config = format!(
        "{}[routing]\ndefault_flow = \"\"\n",
        api_section(port, &[(KEY_A, &[WS_A]), (KEY_B, &[WS_B])], "")
    );
    let server = Server::start(
        Backend::Epoll,
        dir,
        &ServerOptions {
            config: Some(config),
            ..ServerOptions::default()
        },
    );
    let api = ApiClient::new(([127, 0, 0, 1], port).into(), KEY_A, WS_A);
    let flow = json!({"name": "Blocked until told", "actions": [
        {"id": "hello", "type": "answer"},
        {"id": "wait", "type": "block"},
        {"id": "after", "type": "talk", "option": {"text": "Thank you for calling. Goodbye."}},
        {"id": "bye", "type": "hangup"}
    ]});
    api.create_route_publish(&flow, "1000");
    (server, api)
}

/// Waits until the API lists one call, blocked at `wait`; returns it.
fn blocked_call(api: &ApiClient) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = api.get("/v1/calls");
        assert_eq!(listed.status, 200, "{}", listed.text);
        if let Some(call) = listed.body["data"]
            .as_array()
            .and_then(|calls| calls.first())
            .filter(|call| call["activity"] == "blocked")
        {
            assert_eq!(listed.body["total"], 1, "{}", listed.text);
            return call.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no blocked call listed: {}",
            listed.text
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// A sipp caller that answers and waits (30 s at most) for callplane's BYE.
fn caller(dir: &Path, server: &Server, name: &str) -> Sipp {
    Sipp::new("uac_wait_bye.xml", name, dir)
        .target(server.sip_addr())
        .timeout(Duration::from_secs(40))
}

#[test]
fn an_interrupt_talk_is_heard_and_hangup_ends_the_call_with_api_hangup() {
    common::sipp::require_sipp();
    let dir = TestDir::new("api-calls-interrupt");
    let (server, api) = start(dir.path());
    let sipp = caller(dir.path(), &server, "interrupt");
    let listener = RtpListener::bind(sipp.audio_port());
    let run = thread::spawn(move || sipp.run());

    let call = blocked_call(&api);
    let id = call["id"].as_str().expect("a call id").to_owned();
    assert_eq!(call["node"], "wait", "{call}");
    assert_eq!(call["state"], "answered", "{call}");
    assert_eq!(call["to"], "1000", "{call}");

    // One call's state: node, variables, media figures.
    let one = api.get(&format!("/v1/calls/{id}"));
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(
        one.body["variables"]["voipbin.call.id"],
        id.as_str(),
        "{}",
        one.text
    );
    assert!(one.body["media"]["rtp"].is_object(), "{}", one.text);
    // Another workspace sees nothing of it and cannot touch it.
    let other = api.with(Some(KEY_B), Some(WS_B));
    assert_eq!(other.get("/v1/calls").body["total"], 0);
    assert_eq!(other.get(&format!("/v1/calls/{id}")).status, 404);
    assert_eq!(
        other
            .raw("POST", &format!("/v1/calls/{id}/hangup"), None)
            .status,
        404
    );
    // A bad action names its path; resuming a flow not blocked is refused
    // only once it is not blocked (here it is, so try a refused talk).
    let bad = api.send(
        "POST",
        &format!("/v1/calls/{id}/actions"),
        &json!({"type": "talk"}),
    );
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert_eq!(bad.body["problems"][0]["path"], "option.text");
    let unknown = api.send(
        "POST",
        &format!("/v1/calls/{id}/actions"),
        &json!({"type": "talk", "option": {"text": "No prompt says this."}}),
    );
    assert_eq!(unknown.status, 409, "{}", unknown.text);

    // Silence until now: the flow is blocked and plays nothing.
    thread::sleep(Duration::from_millis(500));
    let asked = Instant::now();
    let talk = api.send(
        "POST",
        &format!("/v1/calls/{id}/actions"),
        &json!({"type": "talk", "option": {"text": "Welcome to callplane."}}),
    );
    assert_eq!(talk.status, 200, "{}", talk.text);
    assert_eq!(talk.body["result"], "applied");
    let recording = api.send(
        "POST",
        &format!("/v1/calls/{id}/actions"),
        &json!({"type": "recording_start", "option": {"recording_id": "rec-api-1"}}),
    );
    assert_eq!(recording.status, 200, "{}", recording.text);
    thread::sleep(Duration::from_millis(1500));
    let hangup = api.raw("POST", &format!("/v1/calls/{id}/hangup"), None);
    assert_eq!(hangup.status, 200, "{}", hangup.text);

    let run = run.join().expect("the sipp thread");
    let capture = listener.finish();
    run.assert_passed(1);
    let loud = |after: bool| {
        capture
            .with_payload_type(PCMU)
            .iter()
            .filter(|packet| (packet.arrived >= asked) == after)
            .filter(|packet| ulaw_rms(&packet.payload) > SPEECH_RMS)
            .count()
    };
    assert_eq!(
        loud(false),
        0,
        "speech before the interrupt: {}",
        capture.summary()
    );
    assert!(
        loud(true) >= 25,
        "the interrupt was not heard: {} loud packets; {}",
        loud(true),
        capture.summary()
    );

    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    let cdr = &cdrs[0];
    assert_eq!(cdr.call_id(), id);
    assert_eq!(cdr.str("hangup_cause"), "api_hangup", "{}", cdr.json);
    assert_eq!(cdr.str("hangup_side"), "callplane", "{}", cdr.json);
    assert!(!cdr.nodes().contains(&"after".to_string()), "{}", cdr.json);
    // The call is gone.
    assert_eq!(api.get(&format!("/v1/calls/{id}")).status, 404);

    // Its recording: listed, downloaded whole and by range, then deleted.
    let size = cdr.json["recordings"][0]["size_bytes"]
        .as_u64()
        .unwrap_or_else(|| panic!("a WAV's size: {}", cdr.json));
    let listed = cdrs_recording(&api, size);
    assert_eq!(listed["callId"], id.as_str());
    let head = ranged(&api, "rec-api-1", "bytes=0-3");
    assert_eq!(head.0, 206);
    assert_eq!(
        head.1.as_deref(),
        Some(format!("bytes 0-3/{size}").as_str())
    );
    assert_eq!(head.2, b"RIFF");
    let past = ranged(&api, "rec-api-1", &format!("bytes={size}-"));
    assert_eq!(past.0, 416);
    assert_eq!(past.1.as_deref(), Some(format!("bytes */{size}").as_str()));
    assert_eq!(other.get("/v1/recordings/rec-api-1").status, 404);
    assert_eq!(api.get("/v1/recordings/..%2Fcallplane.db").status, 404);
    assert_eq!(
        api.raw("DELETE", "/v1/recordings/rec-api-1", None).status,
        204
    );
    assert_eq!(api.get("/v1/recordings/rec-api-1").status, 404);
}

/// Waits until the recording is listed and its file is whole; its entry.
fn cdrs_recording(api: &ApiClient, size: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = api.get("/v1/recordings");
        assert_eq!(listed.status, 200, "{}", listed.text);
        let whole = ranged(api, "rec-api-1", "bytes=0-").2.len() as u64 == size;
        if let (Some(entry), true) = (listed.body["data"].get(0), whole) {
            return entry.clone();
        }
        assert!(
            Instant::now() < deadline,
            "not listed whole: {}",
            listed.text
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// `GET /v1/recordings/{id}` with `Range: range`: status, Content-Range, body.
fn ranged(api: &ApiClient, id: &str, range: &str) -> (u16, Option<String>, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let request = ureq::http::Request::builder()
        .method("GET")
        .uri(format!("{}/v1/recordings/{id}", api.base()))
        .header("x-api-key", KEY_A)
        .header("x-workspace-id", WS_A)
        .header("range", range)
        .body(ureq::SendBody::none())
        .expect("a request");
    let mut response = agent.run(request).expect("an answer");
    let status = response.status().as_u16();
    let content_range = response
        .headers()
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.body_mut().read_to_vec().unwrap_or_default();
    (status, content_range, body)
}

#[test]
fn execute_moves_a_flow_blocked_at_a_block_action_on() {
    common::sipp::require_sipp();
    let dir = TestDir::new("api-calls-execute");
    let (server, api) = start(dir.path());
    let sipp = caller(dir.path(), &server, "execute");
    let run = thread::spawn(move || sipp.run());

    let call = blocked_call(&api);
    let id = call["id"].as_str().expect("a call id").to_owned();
    // Held at the block for a while: nothing moves it but the API.
    thread::sleep(Duration::from_millis(1000));
    assert_eq!(blocked_call(&api)["node"], "wait");
    let resumed = api.raw("POST", &format!("/v1/activeflows/{id}/execute"), None);
    assert_eq!(resumed.status, 200, "{}", resumed.text);
    assert_eq!(resumed.body["type"], "execute");
    // Now playing the goodbye: a second execute is refused.
    let again = api.raw("POST", &format!("/v1/activeflows/{id}/execute"), None);
    assert!(
        matches!(again.status, 404 | 409),
        "{} {}",
        again.status,
        again.text
    );

    run.join().expect("the sipp thread").assert_passed(1);
    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    let cdr = &cdrs[0];
    cdr.assert_nodes_in_order(&["hello", "wait", "after", "bye"]);
    assert_eq!(cdr.str("hangup_cause"), "normal_clearing", "{}", cdr.json);
    assert!(cdr.int("duration_ms") >= 1000, "{}", cdr.json);
}
