//! Every log line of a call carries the call's span (Call-ID, shard): with
//! `--log-format json` the lines a shard logged while working on a sipp call
//! (through the `log` macros, bridged into tracing) name that call's Call-ID.

mod common;

use std::time::Duration;

use common::{dtmf_pcap, Backend, Server, ServerOptions, Sipp, TestDir};
use serde_json::Value;

#[test]
fn json_log_lines_of_a_call_carry_its_call_id_and_shard() {
    common::sipp::require_sipp();
    let _exclusive = common::heavy_test_lock();
    let dir = TestDir::new("call-logs");
    let server = Server::start(
        Backend::Epoll,
        dir.path(),
        &ServerOptions {
            shards: Some(2),
            extra_args: vec![
                "--log-format".into(),
                "json".into(),
                "--log-level".into(),
                "info,callplane::call=debug".into(),
            ],
            ..ServerOptions::default()
        },
    );
    let run = Sipp::new("uac_488.xml", "uac_488", dir.path())
        .target(server.sip_addr())
        .timeout(Duration::from_secs(20))
        .run();
    run.assert_passed(1);
    let answered = Sipp::new("uac_dtmf.xml", "uac_dtmf", dir.path())
        .target(server.sip_addr())
        .key("dtmf_pcap", dtmf_pcap('2').display().to_string())
        .set("dtmf_delay_ms", "3000")
        .timeout(Duration::from_secs(45))
        .run();
    answered.assert_passed(1);
    let cdrs = server.wait_for_cdrs(2, Duration::from_secs(10));

    let lines: Vec<Value> = server
        .log()
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}"))
        })
        .collect();
    assert!(
        lines.iter().any(|line| line["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("io backend: epoll"))),
        "the shards' start lines are JSON too"
    );
    for cdr in &cdrs {
        let call_id = cdr.call_id();
        let shard = cdr.int("shard");
        let of_call: Vec<&Value> = lines
            .iter()
            .filter(|line| line["span"]["call_id"].as_str() == Some(call_id))
            .collect();
        let messages: Vec<&str> = of_call
            .iter()
            .filter_map(|line| line["fields"]["message"].as_str())
            .collect();
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("call ended:") || m.starts_with("call refused")),
            "call {call_id}: its end is logged in its span: {messages:?}"
        );
        for line in &of_call {
            assert_eq!(line["span"]["name"], "call", "{line}");
            assert_eq!(line["span"]["shard"].as_i64(), Some(shard), "{line}");
        }
    }
    let refused = cdrs
        .iter()
        .find(|cdr| cdr.str("hangup_cause") == "no_common_codec")
        .expect("the 488 call's CDR");
    let answered = cdrs
        .iter()
        .find(|cdr| cdr.str("hangup_cause") != "no_common_codec")
        .expect("the answered call's CDR");
    let has = |cdr: &common::Cdr, text: &str| {
        lines.iter().any(|line| {
            line["span"]["call_id"].as_str() == Some(cdr.call_id())
                && line["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(text))
        })
    };
    assert!(
        has(answered, "call accepted from 127.0.0.1"),
        "the answered call's start"
    );
    assert!(has(refused, "NoCommonCodec"), "the refused call's end");
}
