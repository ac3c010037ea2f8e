//! The serve path runs the flow engine for routed flows of the action-array
//! format (answer → talk → digits_receive → branch → hangup), from a flows
//! directory named in the config, and a SIGHUP publishes a new version while a
//! call keeps the version it started with.

mod common;

use std::fs;
use std::path::Path;
use std::thread;
use std::time::Duration;

use common::{dtmf_pcap, Backend, Server, ServerOptions, Sipp, TestDir};

/// VoIPBIN action array; the talk texts are catalog prompts' texts.
fn ivr_v1() -> String {
    r#"{
  "id": "ivr", "name": "action-array IVR", "version": 1,
  "actions": [
    { "type": "answer" },
    { "type": "talk", "option": { "text": "Welcome to callplane.", "language": "en-US" } },
    { "type": "digits_receive", "option": { "duration": 8000, "length": 1 } },
    { "type": "branch", "option": { "variable": "voipbin.call.digits",
        "target_ids": { "1": "to-sales", "2": "to-support" }, "default_target_id": "bye" } },
    { "id": "to-sales", "type": "talk", "option": { "text": "You have reached sales. All our agents are busy, please call again later." } },
    { "type": "goto", "option": { "target_id": "bye" } },
    { "id": "to-support", "type": "talk", "option": { "text": "You have reached support. Please visit our website for help." } },
    { "id": "bye", "type": "hangup" }
  ]
}"#
    .to_string()
}

/// Version 2: no branch, just a goodbye after the digit.
fn ivr_v2() -> String {
    r#"{
  "id": "ivr", "name": "action-array IVR", "version": 2,
  "actions": [
    { "type": "answer" },
    { "type": "talk", "option": { "text": "Welcome to callplane." } },
    { "type": "digits_receive", "option": { "duration": 8000, "length": 1 } },
    { "id": "v2-goodbye", "type": "talk", "option": { "text": "Thank you for calling. Goodbye." } },
    { "id": "bye", "type": "hangup" }
  ]
}"#
    .to_string()
}

fn options(dir: &Path) -> ServerOptions {
    let flows = dir.join("flows");
    fs::create_dir_all(&flows).expect("flows dir");
    fs::write(flows.join("ivr-v1.json"), ivr_v1()).expect("write flow");
    ServerOptions {
        config: Some(format!(
            "[flows]\ndir = \"{}\"\n[routing]\ndefault_flow = \"\"\n[[routing.route]]\nnumber = \"1000\"\nflow = \"ivr\"\n",
            flows.display()
        )),
        ..ServerOptions::default()
    }
}

fn call(dir: &Path, server: &Server, digit: char, name: &str) -> common::SippRun {
    Sipp::new("uac_dtmf.xml", name, dir)
        .target(server.sip_addr())
        .key("dtmf_pcap", dtmf_pcap(digit).display().to_string())
        .set("dtmf_delay_ms", "3000")
        .timeout(Duration::from_secs(45))
        .run()
}

common::for_each_backend! {
    action_array_flow_branches_on_the_digit => action_array_flow;
}

fn action_array_flow(backend: Backend) {
    let dir = TestDir::new(&format!("action-array-{}", backend.cli_value()));
    let server = Server::start(backend, dir.path(), &options(dir.path()));
    server.assert_backend_logged();
    let run = call(dir.path(), &server, '2', "aa");
    run.assert_passed(1);
    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    let cdr = &cdrs[0];
    assert_eq!(cdr.str("flow_id"), "ivr");
    assert_eq!(cdr.int("flow_version"), 1);
    assert_eq!(cdr.digits(), vec!["2".to_string()]);
    let nodes = cdr.nodes();
    assert!(nodes.contains(&"to-support".to_string()), "{nodes:?}");
    assert!(!nodes.contains(&"to-sales".to_string()), "{nodes:?}");
    assert_eq!(cdr.str("hangup_side"), "callplane");
    assert_eq!(cdr.str("hangup_cause"), "normal_clearing");
}

#[test]
fn sighup_publishes_a_new_version_and_calls_in_progress_keep_theirs() {
    common::sipp::require_sipp();
    let dir = TestDir::new("republish");
    let server = Server::start(Backend::Uring, dir.path(), &options(dir.path()));
    let first = {
        let dir = dir.path().to_path_buf();
        let sip = server.sip_addr();
        thread::spawn(move || {
            Sipp::new("uac_dtmf.xml", "first", &dir)
                .target(sip)
                .key("dtmf_pcap", dtmf_pcap('1').display().to_string())
                .set("dtmf_delay_ms", "3000")
                .timeout(Duration::from_secs(45))
                .run()
        })
    };
    // While the first call is in its flow, publish version 2 and reload.
    thread::sleep(Duration::from_millis(1500));
    fs::write(dir.path().join("flows/ivr-v2.json"), ivr_v2()).expect("write v2");
    server.signal(libc::SIGHUP);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !server.log().contains("flows and routes reloaded")
        && std::time::Instant::now() < deadline
    {
        thread::sleep(Duration::from_millis(50));
    }
    assert!(
        server.log().contains("flows and routes reloaded"),
        "{}",
        server.log()
    );
    let second = call(dir.path(), &server, '1', "second");
    first.join().expect("first call thread").assert_passed(1);
    second.assert_passed(1);
    let cdrs = server.wait_for_cdrs(2, Duration::from_secs(5));
    let by_version = |v: i64| cdrs.iter().find(|c| c.int("flow_version") == v);
    let old = by_version(1).expect("a call on version 1");
    let new = by_version(2).expect("a call on version 2");
    assert!(
        old.nodes().contains(&"to-sales".to_string()),
        "{:?}",
        old.nodes()
    );
    assert!(
        new.nodes().contains(&"v2-goodbye".to_string()),
        "{:?}",
        new.nodes()
    );
}

#[test]
fn a_bad_flow_is_refused_at_start_with_its_json_path() {
    let dir = TestDir::new("bad-flow");
    let flows = dir.path().join("flows");
    fs::create_dir_all(&flows).unwrap();
    fs::write(
        flows.join("bad.json"),
        r#"{ "id": "bad", "version": 1, "actions": [ { "type": "digits_receive", "option": { "length": "two" } } ] }"#,
    )
    .unwrap();
    let config = dir.path().join("callplane.toml");
    fs::write(&config, format!("[flows]\ndir = \"{}\"\n", flows.display())).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_callplane"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .output()
        .expect("run callplane");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("actions[0].option.length"), "{stderr}");
    assert!(stderr.contains("bad.json"), "{stderr}");
}

/// Answers one HTTP request with `body` and returns the request line it got.
fn http_once(body: &'static str) -> (u16, thread::JoinHandle<String>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind http");
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("callplane connects");
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 || line.trim().is_empty() {
                break;
            }
        }
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        request_line
    });
    (port, handle)
}

#[test]
fn a_sync_webhook_answer_steers_the_call() {
    common::sipp::require_sipp();
    let dir = TestDir::new("webhook");
    let (port, http) = http_once(r#"{"crm":{"queue":"support"}}"#);
    let flows = dir.path().join("flows");
    fs::create_dir_all(&flows).unwrap();
    fs::write(
        flows.join("hook.json"),
        format!(
            r#"{{ "id": "hook", "version": 1, "actions": [
  {{ "type": "answer" }},
  {{ "type": "webhook_send", "option": {{ "uri": "http://127.0.0.1:{port}/route?from=${{voipbin.call.caller_id}}", "method": "GET", "sync": true }} }},
  {{ "type": "branch", "option": {{ "variable": "crm.queue", "target_ids": {{ "support": "to-support" }}, "default_target_id": "bye" }} }},
  {{ "id": "to-support", "type": "talk", "option": {{ "text": "You have reached support. Please visit our website for help." }} }},
  {{ "id": "bye", "type": "hangup" }}
] }}"#
        ),
    )
    .unwrap();
    let server = Server::start(
        Backend::Epoll,
        dir.path(),
        &ServerOptions {
            config: Some(format!(
                "[flows]\ndir = \"{}\"\n[routing]\ndefault_flow = \"hook\"\n",
                flows.display()
            )),
            ..ServerOptions::default()
        },
    );
    let run = Sipp::new("uac_wait_bye.xml", "webhook", dir.path())
        .target(server.sip_addr())
        .timeout(Duration::from_secs(30))
        .run();
    run.assert_passed(1);
    let request_line = http.join().expect("http server thread");
    assert!(
        request_line.starts_with("GET /route?from=sipp "),
        "{request_line}"
    );
    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    assert!(
        cdrs[0].nodes().contains(&"to-support".to_string()),
        "{:?}",
        cdrs[0].nodes()
    );
}

#[test]
fn publishing_a_bad_flow_is_refused_and_the_running_flows_stay() {
    common::sipp::require_sipp();
    let dir = TestDir::new("bad-publish");
    let server = Server::start(Backend::Epoll, dir.path(), &options(dir.path()));
    fs::write(
        dir.path().join("flows/ivr-v3.json"),
        r#"{ "id": "ivr", "version": 3, "actions": [ { "type": "branch", "option": { "target_ids": { "1": "nowhere" } } } ] }"#,
    )
    .unwrap();
    server.signal(libc::SIGHUP);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !server.log().contains("reload refused") && std::time::Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    let log = server.log();
    assert!(log.contains("reload refused"), "{log}");
    assert!(log.contains("actions[0].option.target_ids"), "{log}");
    // Version 1 still answers.
    call(dir.path(), &server, '1', "after").assert_passed(1);
    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    assert_eq!(cdrs[0].int("flow_version"), 1);
}
