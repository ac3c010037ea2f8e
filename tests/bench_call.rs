//! `callplane bench call` against `callplane serve`, under both io backends
//! (the generator on the same backend as the server): ten demo-flow calls
//! that must all hear welcome → menu → sales → goodbye with a DTMF latency
//! reported and no failure, and a run that expects the wrong order, which
//! must fail every call and exit non-zero.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Backend, Server, ServerOptions, TestDir};
use serde_json::Value;

common::for_each_backend! {
    demo_calls_hear_the_right_prompts => demo_calls;
    a_wrong_expected_order_fails_the_run => wrong_order;
}

/// Runs `callplane bench call` at the server with `extra` flags; its report
/// goes to `out`.
fn bench(server: &Server, backend: Backend, out: &Path, extra: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_callplane"));
    command
        .arg("bench")
        .arg("call")
        .arg(server.sip_addr().to_string())
        .arg("--io")
        .arg(backend.cli_value())
        .arg("--out")
        .arg(out)
        .args(extra);
    command.output().expect("run callplane bench call")
}

fn report(out: &Path) -> Value {
    let text = std::fs::read_to_string(out.join("report.json")).expect("read report.json");
    serde_json::from_str(&text).expect("report.json is JSON")
}

fn explain(output: &Output, server: &Server) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        server.log()
    )
}

fn demo_calls(backend: Backend) {
    let dir = TestDir::new("bench-demo");
    let server = Server::start(backend, dir.path(), &ServerOptions::default());
    let out = dir.path().join("out");
    let output = bench(
        &server,
        backend,
        &out,
        &["--calls", "10", "--concurrent", "10", "--cps", "5"],
    );
    assert!(output.status.success(), "{}", explain(&output, &server));
    let report = report(&out);
    assert_eq!(report["calls"], 10, "{report:#}");
    assert_eq!(report["answered"], 10);
    assert_eq!(report["failed"], 0, "{:#}", report["failures"]);
    assert_eq!(report["prompts_ok"], 10);
    assert_eq!(report["lost"], 0);
    let calls = report["call_records"].as_array().expect("call records");
    assert_eq!(calls.len(), 10);
    for call in calls {
        let heard: Vec<&str> = call["prompts"]
            .as_array()
            .expect("prompts")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(heard, ["welcome", "menu", "sales", "goodbye"], "{call:#}");
        assert_eq!(call["ended"], "RemoteHangup", "{call:#}");
        assert!(call["dtmf_latency_ms"][0].as_f64().is_some(), "{call:#}");
        let latency = call["dtmf_onset_latency_ms"][0]
            .as_f64()
            .expect("a DTMF latency");
        // The server answers a key with the next prompt within a few frames;
        // far more would mean the wrong packet was taken as its start.
        assert!((0.0..500.0).contains(&latency), "{call:#}");
        assert!(call["setup_ms"].as_f64().is_some_and(|ms| ms >= 0.0));
        assert!(call["receive"]["packets"].as_u64().is_some_and(|n| n > 400));
    }
    assert_eq!(report["dtmf_latency_ms"]["count"], 10);
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("dtmf key→prompt"), "{table}");
    assert!(table.contains("10 of 10 calls heard"), "{table}");

    // The server's own record agrees: every call pressed 1 and went to sales.
    let cdrs = server.wait_for_cdrs(10, std::time::Duration::from_secs(10));
    for cdr in &cdrs {
        assert_eq!(cdr.digits(), ["1"]);
        cdr.assert_nodes_in_order(&["welcome", "menu", "sales", "goodbye", "hangup"]);
    }
}

fn wrong_order(backend: Backend) {
    let dir = TestDir::new("bench-wrong-order");
    let server = Server::start(backend, dir.path(), &ServerOptions::default());
    let out = dir.path().join("out");
    let output = bench(
        &server,
        backend,
        &out,
        &[
            "--calls",
            "2",
            "--concurrent",
            "2",
            "--press",
            "1@3.0",
            "--expect",
            "welcome,menu,support,goodbye",
        ],
    );
    assert!(!output.status.success(), "{}", explain(&output, &server));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("2 calls failed"), "{stderr}");
    let report = report(&out);
    assert_eq!(report["failed"], 2);
    assert_eq!(report["prompts_ok"], 0);
    for call in report["call_records"].as_array().expect("call records") {
        assert_eq!(call["prompts_ok"], false, "{call:#}");
        let failure = call["failure"].as_str().expect("a failure");
        assert_eq!(
            failure,
            "heard welcome → menu → sales → goodbye instead of welcome → menu → support → goodbye"
        );
    }
}
