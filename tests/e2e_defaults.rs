//! `callplane serve` with no arguments at all: the embedded defaults answer a
//! sipp call on 127.0.0.1:5060, play audio, take the digit's branch, hang up
//! and write the CDR into `./callplane-data`.

mod common;

use std::time::Duration;

use common::{dtmf_pcap, Backend, RtpListener, Server, ServerOptions, Sipp, TestDir};

#[test]
fn serve_without_arguments_answers_the_demo_on_5060() {
    common::sipp::require_sipp();
    let _exclusive = common::heavy_test_lock();
    let dir = TestDir::new("no-arguments");
    // io auto: io_uring where the kernel allows it, epoll otherwise.
    let backend = if callplane::shard::uring_available() {
        Backend::Uring
    } else {
        Backend::Epoll
    };
    let server = Server::start(
        backend,
        dir.path(),
        &ServerOptions {
            no_arguments: true,
            ..ServerOptions::default()
        },
    );
    server.assert_backend_logged();
    assert_eq!(server.sip_addr().port(), 5060);

    let sipp = Sipp::new("uac_dtmf.xml", "uac_dtmf", dir.path())
        .target(server.sip_addr())
        .key("dtmf_pcap", dtmf_pcap('2').display().to_string())
        .set("dtmf_delay_ms", "3000")
        .timeout(Duration::from_secs(45));
    let listener = RtpListener::bind(sipp.audio_port());
    let run = sipp.run();
    let capture = listener.finish();
    run.assert_passed(1);
    assert!(
        capture.loud_ulaw_packets(0, 1000.0) > 50,
        "the caller heard no prompt: {}",
        capture.summary()
    );

    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    assert_eq!(cdrs.len(), 1, "{cdrs:#?}");
    assert!(dir.path().join("callplane-data/cdr.jsonl").is_file());
    assert_eq!(cdrs[0].digits(), vec!["2".to_string()]);
    cdrs[0].assert_nodes_in_order(&["entry", "welcome", "menu", "support", "goodbye"]);
    assert_eq!(cdrs[0].str("hangup_side"), "callplane");
}
