//! Whole calls through one [`Host`] with a fake clock: SIP in, RTP out, DTMF
//! in, flow branches, BYE, CDR — no sockets, no sleeping.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::flow::{load_flow_json, FlowEnv, Program, DEMO_FLOW_JSON};
use crate::media::{parse_rtp, Prompt, PromptCatalog};
use crate::time::Time;

use super::{
    drain, HangupCause, HangupSide, Host, HostConfig, HostEvent, HostIo, HttpRequest, HttpResult,
    Input, RouteTarget, Router, RtpSocket, Socket, Transmit,
};
use crate::time::WallClock;

const CALLER: &str = "127.0.0.1:5061";
const CALLER_RTP: &str = "127.0.0.1:6000";

fn tone(id: &str, millis: usize) -> Prompt {
    let samples = (0..millis * 8)
        .map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16)
        .collect();
    Prompt::from_samples(id, Some(format!("{id} text")), samples)
}

fn catalog() -> PromptCatalog {
    let mut catalog = PromptCatalog::new();
    for (id, ms) in [
        ("welcome", 400),
        ("menu", 600),
        ("sales", 300),
        ("support", 300),
        ("invalid", 200),
        ("goodbye", 200),
    ] {
        catalog.insert(tone(id, ms));
    }
    catalog
}

fn program(json: &str) -> Arc<Program> {
    match load_flow_json(json) {
        Ok(loaded) => loaded.program,
        Err(err) => panic!("test flow does not load: {err:?}"),
    }
}

fn router(json: &str) -> Arc<Router> {
    Arc::new(Router::new(
        Some(RouteTarget::new(program(json))),
        Arc::new(FlowEnv::new()),
    ))
}

fn origin() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn host(answer_delay: Duration) -> Host {
    host_with(answer_delay, router(DEMO_FLOW_JSON))
}

fn host_with(answer_delay: Duration, router: Arc<Router>) -> Host {
    Host::new(
        HostConfig {
            shard: 0,
            sip_addr: "127.0.0.1:5060".parse().unwrap(),
            rtp_ip: "127.0.0.1".parse().unwrap(),
            user_agent: "callplane-test".into(),
            answer_delay,
            wall: WallClock::new(origin()),
            rtp_ports: (20002, 20999),
            shards: 1,
        },
        router,
        Arc::new(catalog()),
        7,
    )
}

fn invite(call_id: &str, formats: &str, rtpmaps: &str) -> Vec<u8> {
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP {formats}\r\n{rtpmaps}"
    );
    format!(
        "INVITE sip:1000@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bK-{call_id}\r\nFrom: sipp <sip:sipp@127.0.0.1:5061>;tag=abc\r\nTo: <sip:1000@127.0.0.1:5060>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:sipp@{CALLER}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
    .into_bytes()
}

fn pcmu_invite(call_id: &str) -> Vec<u8> {
    invite(
        call_id,
        "0 101",
        "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n",
    )
}

/// What left a host, recorded by the tests' shell.
#[derive(Default)]
struct Recorder {
    sip_out: Vec<String>,
    rtp_out: Vec<Vec<u8>>,
    cdrs: Vec<super::CdrRecord>,
    http: Vec<(super::CallHandle, HttpRequest, bool)>,
    to_tag: Option<String>,
    rtp_socket: Option<RtpSocket>,
    bound: Vec<RtpSocket>,
    deadline: Time,
}

impl HostIo for Recorder {
    fn transmit(&mut self, transmit: Transmit, data: &[u8]) {
        match transmit.socket {
            Socket::Sip => {
                let text = String::from_utf8_lossy(data).to_string();
                if text.starts_with("SIP/2.0 200") && text.contains("CSeq: 1 INVITE") {
                    self.to_tag = text
                        .lines()
                        .find(|l| l.starts_with("To:"))
                        .and_then(|l| l.split("tag=").nth(1))
                        .map(|t| t.trim().to_string());
                }
                self.sip_out.push(text);
            }
            Socket::Rtp(socket) => {
                assert!(self.bound.contains(&socket), "RTP from a bound socket");
                assert_eq!(transmit.dest, CALLER_RTP.parse().unwrap());
                self.rtp_out.push(data.to_vec());
            }
        }
    }

    fn event(&mut self, event: HostEvent) -> Option<Input<'static>> {
        match event {
            HostEvent::BindRtp { socket, .. } => {
                self.rtp_socket = Some(socket);
                self.bound.push(socket);
            }
            HostEvent::CloseRtp { socket } => self.bound.retain(|s| *s != socket),
            HostEvent::Cdr(cdr) => self.cdrs.push(*cdr),
            HostEvent::Http {
                call,
                request,
                reply,
            } => self.http.push((call, request, reply)),
        }
        None
    }
}

/// Drives a host like the shard does — through the one drain loop — recording
/// what leaves it.
struct Harness {
    host: Host,
    now: Time,
    out: Recorder,
}

impl std::ops::Deref for Harness {
    type Target = Recorder;
    fn deref(&self) -> &Recorder {
        &self.out
    }
}

impl Harness {
    fn new(answer_delay: Duration) -> Harness {
        Harness::with_host(host(answer_delay))
    }

    fn with_host(host: Host) -> Harness {
        Harness {
            host,
            now: Time::from_millis(1_000),
            out: Recorder::default(),
        }
    }

    fn drain(&mut self) {
        let mut buf = vec![0u8; 65_535];
        self.out.deadline = drain(&mut self.host, self.now, &mut buf, &mut self.out);
    }

    fn input(&mut self, input: Input<'_>) {
        self.host.handle_input(self.now, input);
        self.drain();
    }

    fn sip(&mut self, data: &[u8]) {
        let from = CALLER.parse().unwrap();
        self.input(Input::Sip { from, data });
    }

    /// Advances the fake clock in 20 ms steps, running timers like the loop does.
    fn advance(&mut self, total: Duration) {
        let end = self.now + total;
        while self.now < end {
            let next = self
                .out
                .deadline
                .min(end)
                .max(self.now + Duration::from_millis(1));
            self.now = next;
            self.input(Input::Timeout);
        }
    }

    fn ack(&mut self, call_id: &str) {
        let tag = self.to_tag.clone().expect("200 OK seen");
        let ack = format!(
            "ACK sip:callplane@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bK-ack-{call_id}\r\nFrom: sipp <sip:sipp@127.0.0.1:5061>;tag=abc\r\nTo: <sip:1000@127.0.0.1:5060>;tag={tag}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        self.sip(ack.as_bytes());
    }

    /// Sends an RFC 4733 event the way phones do: 3 updates and 3 end packets.
    fn press(&mut self, digit: u8, rtp_ts: u32) {
        for (i, end) in [
            (0u16, false),
            (1, false),
            (2, false),
            (3, true),
            (3, true),
            (3, true),
        ] {
            let mut packet = vec![
                0x80,
                101 | if i == 0 { 0x80 } else { 0 },
                0,
                i as u8,
                0,
                0,
                0,
                0,
                1,
                2,
                3,
                4,
            ];
            packet[4..8].copy_from_slice(&rtp_ts.to_be_bytes());
            let duration = 160 * (i + 1);
            packet.extend_from_slice(&[digit, if end { 0x80 | 10 } else { 10 }]);
            packet.extend_from_slice(&duration.to_be_bytes());
            let socket = self.out.rtp_socket.expect("an RTP socket was bound");
            let from = CALLER_RTP.parse().unwrap();
            self.input(Input::Rtp {
                socket,
                from,
                data: &packet,
            });
        }
    }

    fn bye_sent(&self) -> bool {
        self.sip_out.iter().any(|m| m.starts_with("BYE "))
    }
}

#[test]
fn digit_one_takes_the_sales_branch_and_callplane_hangs_up() {
    let mut h = Harness::new(Duration::ZERO);
    h.sip(&pcmu_invite("call-1"));
    assert!(h.sip_out.iter().any(|m| m.starts_with("SIP/2.0 100")));
    assert!(h
        .sip_out
        .iter()
        .any(|m| m.starts_with("SIP/2.0 200") && m.contains("m=audio 20002 RTP/AVP 0 101")));
    h.ack("call-1");
    // Welcome (400 ms) plays, then the menu starts; press 1 during the menu.
    h.advance(Duration::from_millis(600));
    h.press(1, 12345);
    h.advance(Duration::from_secs(2));
    assert!(
        h.bye_sent(),
        "no BYE; sent: {:?}",
        h.sip_out
            .iter()
            .map(|m| m.lines().next())
            .collect::<Vec<_>>()
    );
    // Audio went out, with prompt audio that is not silence.
    assert!(h.rtp_out.len() > 50, "only {} RTP packets", h.rtp_out.len());
    let loud = h
        .rtp_out
        .iter()
        .filter_map(|p| parse_rtp(p).ok())
        .filter(|p| p.payload.iter().any(|&b| b != 0xFF && b != 0x7F))
        .count();
    assert!(loud > 20, "only {loud} non-silent packets");
    // The 200 to our BYE ends the call and writes the CDR.
    let bye = h
        .sip_out
        .iter()
        .find(|m| m.starts_with("BYE "))
        .unwrap()
        .clone();
    let response = bye_response(&bye);
    h.sip(response.as_bytes());
    assert_eq!(h.cdrs.len(), 1);
    let cdr = &h.cdrs[0];
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
}

fn bye_response(bye: &str) -> String {
    let mut out = String::from("SIP/2.0 200 OK\r\n");
    for line in bye.lines() {
        if ["Via:", "From:", "To:", "Call-ID:", "CSeq:"]
            .iter()
            .any(|h| line.starts_with(h))
        {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

#[test]
fn no_common_codec_is_rejected_with_488_and_recorded() {
    let mut h = Harness::new(Duration::ZERO);
    h.sip(&invite("call-488", "18", "a=rtpmap:18 G729/8000\r\n"));
    assert!(
        h.sip_out.iter().any(|m| m.starts_with("SIP/2.0 488")),
        "{:?}",
        h.sip_out
    );
    assert_eq!(h.cdrs.len(), 1);
    assert_eq!(h.cdrs[0].sip_status, 488);
    assert_eq!(h.cdrs[0].hangup_cause, HangupCause::NoCommonCodec);
}

#[test]
fn silence_replays_the_menu_then_says_goodbye() {
    let mut h = Harness::new(Duration::ZERO);
    h.sip(&pcmu_invite("call-t"));
    h.ack("call-t");
    h.advance(Duration::from_secs(25));
    assert!(h.bye_sent());
    let bye = h
        .sip_out
        .iter()
        .find(|m| m.starts_with("BYE "))
        .unwrap()
        .clone();
    h.sip(bye_response(&bye).as_bytes());
    let cdr = &h.cdrs[0];
    let menus = cdr.nodes.iter().filter(|n| *n == "menu").count();
    assert_eq!(menus, 1, "{:?}", cdr.nodes);
    assert!(cdr.nodes.contains(&"goodbye".to_string()));
    assert!(cdr.digits.is_empty());
}

#[test]
fn cancel_while_ringing_ends_with_487() {
    let mut h = Harness::new(Duration::from_secs(3));
    h.sip(&pcmu_invite("call-c"));
    assert!(h.sip_out.iter().any(|m| m.starts_with("SIP/2.0 180")));
    h.advance(Duration::from_millis(500));
    let cancel = format!(
        "CANCEL sip:1000@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bK-call-c\r\nFrom: sipp <sip:sipp@127.0.0.1:5061>;tag=abc\r\nTo: <sip:1000@127.0.0.1:5060>\r\nCall-ID: call-c\r\nCSeq: 1 CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    h.sip(cancel.as_bytes());
    assert!(h.sip_out.iter().any(|m| m.starts_with("SIP/2.0 487")));
    h.advance(Duration::from_secs(5));
    assert!(
        !h.sip_out
            .iter()
            .any(|m| m.starts_with("SIP/2.0 200") && m.contains("INVITE")),
        "answered after CANCEL"
    );
    assert_eq!(h.cdrs.len(), 1);
    assert_eq!(h.cdrs[0].hangup_cause, HangupCause::Cancelled);
    assert_eq!(h.cdrs[0].sip_status, 487);
    assert_eq!(h.host.active_calls(), 0);
}

fn end_call(h: &mut Harness) {
    let bye = h
        .sip_out
        .iter()
        .find(|m| m.starts_with("BYE "))
        .expect("callplane sent BYE")
        .clone();
    h.sip(bye_response(&bye).as_bytes());
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
    let mut h = Harness::with_host(host_with(Duration::ZERO, router(ACTION_ARRAY)));
    h.sip(&pcmu_invite("aa-1"));
    h.ack("aa-1");
    h.advance(Duration::from_millis(500));
    h.press(2, 999);
    h.advance(Duration::from_secs(2));
    end_call(&mut h);
    let cdr = &h.cdrs[0];
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
    let mut h = Harness::with_host(host_with(Duration::ZERO, router(&v1)));
    h.sip(&pcmu_invite("v-old"));
    h.ack("v-old");
    h.advance(Duration::from_millis(300));
    h.host.set_router(router(&v2));
    // A new call after the publish runs version 2 …
    h.sip(&pcmu_invite("v-new"));
    h.ack("v-new");
    h.advance(Duration::from_secs(30));
    // … while the first call finished on version 1.
    for m in h.sip_out.clone().iter().filter(|m| m.starts_with("BYE ")) {
        h.sip(bye_response(m).as_bytes());
    }
    let version_of = |id: &str| {
        h.cdrs
            .iter()
            .find(|c| c.call_id == id)
            .and_then(|c| c.flow_version)
    };
    assert_eq!(version_of("v-old"), Some(1));
    assert_eq!(version_of("v-new"), Some(2));
}

#[test]
fn connect_nodes_fail_cleanly_instead_of_sticking() {
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
    let mut h = Harness::with_host(host_with(Duration::ZERO, router(flow)));
    h.sip(&pcmu_invite("dial-1"));
    h.ack("dial-1");
    h.advance(Duration::from_secs(2));
    assert!(h.bye_sent(), "the call stuck on the dial node");
    end_call(&mut h);
    assert_eq!(h.cdrs[0].nodes, vec!["entry", "dial", "sorry", "bye"]);
    assert_eq!(h.host.stats().unsupported_commands, 1);
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
    let mut h = Harness::with_host(host_with(Duration::ZERO, router(flow)));
    h.sip(&pcmu_invite("http-1"));
    h.ack("http-1");
    assert_eq!(h.http.len(), 1, "one request made");
    let (call, request, reply) = h.http[0].clone();
    assert!(reply, "sync webhook waits");
    assert_eq!(request.url, "http://127.0.0.1:9/who?c=sipp");
    assert_eq!(request.method, "POST");
    // Nothing happens until the response arrives.
    h.advance(Duration::from_secs(3));
    assert!(!h.bye_sent());
    h.input(Input::Http {
        call,
        result: HttpResult::Response {
            status: 200,
            body: r#"{"customer":{"tier":"gold"}}"#.into(),
        },
    });
    h.advance(Duration::from_secs(2));
    end_call(&mut h);
    assert!(
        h.cdrs[0].nodes.contains(&"vip".to_string()),
        "{:?}",
        h.cdrs[0].nodes
    );
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
    let mut h = Harness::with_host(host_with(Duration::ZERO, router));
    h.sip(&pcmu_invite("oc-1"));
    h.ack("oc-1");
    h.advance(Duration::from_secs(1));
    assert!(h.http.is_empty());
    let tag = h.to_tag.clone().unwrap();
    let bye = format!(
        "BYE sip:callplane@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bK-bye-oc\r\nFrom: sipp <sip:sipp@127.0.0.1:5061>;tag=abc\r\nTo: <sip:1000@127.0.0.1:5060>;tag={tag}\r\nCall-ID: oc-1\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    h.sip(bye.as_bytes());
    assert_eq!(h.http.len(), 1, "the after-call flow made its request");
    assert_eq!(
        h.http[0].1.url,
        "http://127.0.0.1:9/summary?topic=billing&n=1"
    );
    assert!(!h.http[0].2, "fire and forget");
    assert_eq!(h.cdrs.len(), 1);
    assert_eq!(h.cdrs[0].hangup_side, HangupSide::Caller);
    assert_eq!(h.host.active_calls(), 0);
}
