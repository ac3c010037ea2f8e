//! End-to-end load: 100 concurrent calls through the demo flow, half pressing 1
//! and half pressing 2, under both io backends (one backend at a time). sipp
//! must see no failed call, and every call must leave a CDR with its digit.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{dtmf_pcap, heavy_test_lock, Backend, Server, ServerOptions, Sipp, TestDir};

const CALLS: u64 = 100;
/// New calls a second: all 100 are up within about 2 s.
const CALL_RATE: u64 = 50;
/// Counted from each call's ACK: the digit lands during the menu prompt.
const DTMF_DELAY_MS: u64 = 3000;

common::for_each_backend! {
    hundred_concurrent_calls_press_their_digits => hundred_concurrent_calls;
}

fn hundred_concurrent_calls(backend: Backend) {
    let _one_at_a_time = heavy_test_lock();
    let dir = TestDir::new(&format!("load-{}", backend.cli_value()));
    let options = ServerOptions {
        rtp_port_count: 400,
        ..ServerOptions::default()
    };
    let server = Server::start(backend, dir.path(), &options);
    server.assert_backend_logged();

    // Call N presses digit N's line of the injection file: 1, 2, 1, 2, ...
    let digits: Vec<String> = (0..CALLS)
        .map(|n| if n % 2 == 0 { "1" } else { "2" }.to_string())
        .collect();
    let run = Sipp::new("uac_dtmf_load.xml", "uac_dtmf_load", dir.path())
        .target(server.sip_addr())
        .key("dtmf_pcap_1", dtmf_pcap('1').display().to_string())
        .key("dtmf_pcap_2", dtmf_pcap('2').display().to_string())
        .set("dtmf_delay_ms", DTMF_DELAY_MS.to_string())
        .injection(&digits)
        .calls(CALLS, CALLS, CALL_RATE)
        .timeout(Duration::from_secs(60))
        .run();
    run.assert_passed(CALLS);

    let cdrs = server.wait_for_cdrs(CALLS as usize, Duration::from_secs(10));
    assert_eq!(cdrs.len(), CALLS as usize, "one CDR per call");
    let call_ids: BTreeSet<&str> = cdrs.iter().map(|cdr| cdr.call_id()).collect();
    assert_eq!(call_ids.len(), cdrs.len(), "CDR call_ids are unique");

    let mut pressed = [0usize; 2];
    for cdr in &cdrs {
        // uac_dtmf_load.xml sends Call-ID "press<digit>///<call number>-...".
        let (digit, branch, other_branch) = match cdr.call_id() {
            id if id.starts_with("press1///") => ("1", "sales", "support"),
            id if id.starts_with("press2///") => ("2", "support", "sales"),
            id => panic!("CDR call_id {id:?} is not one sipp sent: {}", cdr.json),
        };
        assert_eq!(cdr.digits(), vec![digit.to_string()], "{}", cdr.json);
        cdr.assert_nodes_in_order(&["entry", "welcome", "menu", branch, "goodbye"]);
        assert!(
            !cdr.nodes().iter().any(|node| node == other_branch),
            "digit {digit} also visited {other_branch}: {}",
            cdr.json
        );
        assert_eq!(cdr.str("hangup_side"), "callplane", "{}", cdr.json);
        assert_eq!(cdr.int("sip_status"), 200, "{}", cdr.json);
        pressed[usize::from(digit == "2")] += 1;
    }
    let half = CALLS as usize / 2;
    assert_eq!(pressed, [half, half], "calls per digit (1, 2)");
}
