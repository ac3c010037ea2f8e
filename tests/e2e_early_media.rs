//! End-to-end early media and reliable provisionals (RFC 3262) against the
//! callplane binary, under both io backends:
//! - a "number not in service" flow (tests/flows/early_media_not_in_service.json)
//!   plays its announcement in a 183 Session Progress and refuses the call
//!   with 404: the caller hears the prompt without a 200, and ACKs the 404;
//! - a caller that requires 100rel PRACKs the reliable 183, and the 200 to
//!   its INVITE comes after the PRACK, when the flow answers
//!   (tests/flows/early_media_then_answer.json);
//! - a caller that requires 100rel and withholds the PRACK sees the 183
//!   retransmitted, then 504 64·T1 after it.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Backend, Cdr, RtpListener, Server, ServerOptions, Sipp, SippRun, TestDir};

/// PCMU, the codec the scenarios offer.
const PCMU: u8 = 0;
/// RMS (16-bit scale) above which a 20 ms frame counts as speech.
const SPEECH_RMS: f64 = 1000.0;
/// The server's T1 in the no-PRACK case: 64·T1 is then 1.6 s, before the
/// flow (a 1.5 s announcement, then its answer) could end the call itself.
const SHORT_T1_MS: u64 = 25;

common::for_each_backend! {
    early_announcement_then_404 => early_announcement_then_404;
    reliable_183_is_pracked_before_the_200 => reliable_183_pracked;
    unpracked_183_is_resent_then_504 => unpracked_183_resent;
}

fn flow_path(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/flows")
        .join(name)
        .display()
        .to_string()
}

/// A server routing 1000 to the flow file `flow`, with `sip` settings.
fn server_for(backend: Backend, dir: &Path, flow: &str, sip: &str) -> Server {
    let options = ServerOptions {
        config: Some(format!(
            "[sip]\n{sip}\n[routing]\ndefault_flow = \"\"\n[[routing.route]]\nnumber = \"1000\"\nflow = \"{}\"\n",
            flow_path(flow)
        )),
        ..ServerOptions::default()
    };
    let server = Server::start(backend, dir, &options);
    server.assert_backend_logged();
    server
}

fn only_cdr(server: &Server) -> Cdr {
    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(10));
    assert_eq!(cdrs.len(), 1, "one call, one CDR: {cdrs:#?}");
    cdrs.into_iter().next().unwrap_or_else(|| unreachable!())
}

/// The first received message that starts with `status_line`, and its index
/// among the received messages.
fn received(run: &SippRun, status_line: &str) -> Option<(usize, String)> {
    run.received_messages()
        .into_iter()
        .enumerate()
        .find(|(_, message)| message.trim_start().starts_with(status_line))
}

fn rtp_sent(cdr: &Cdr) -> i64 {
    cdr.json
        .pointer("/media/rtp/sent")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or_else(|| panic!("no media.rtp.sent in {}", cdr.json))
}

fn early_announcement_then_404(backend: Backend) {
    let dir = TestDir::new(&format!("early-404-{}", backend.cli_value()));
    let server = server_for(backend, dir.path(), "early_media_not_in_service.json", "");
    let sipp = Sipp::new("uac_early_media_reject.xml", "uac_early", dir.path())
        .target(server.sip_addr())
        .timeout(Duration::from_secs(30));
    let listener = RtpListener::bind(sipp.audio_port());
    let run = sipp.run();
    let capture = listener.finish();
    run.assert_passed(1);

    let (_, early) = received(&run, "SIP/2.0 183")
        .unwrap_or_else(|| panic!("no 183 received\n{}", run.diagnostics()));
    assert!(early.contains("m=audio"), "183 without SDP: {early}");
    assert!(
        !early.contains("RSeq"),
        "the caller did not offer 100rel, yet the 183 is reliable: {early}"
    );
    assert!(
        received(&run, "SIP/2.0 200").is_none(),
        "a refused call got a 200\n{}",
        run.diagnostics()
    );

    // The announcement ("Sorry, that is not a valid choice.", about 2 s).
    let packets = capture.with_payload_type(PCMU).len();
    let speech = capture.loud_ulaw_packets(PCMU, SPEECH_RMS);
    assert!(packets >= 50, "{}", capture.summary());
    assert!(
        speech >= 30,
        "only {speech} loud packets: {}",
        capture.summary()
    );

    let cdr = only_cdr(&server);
    assert_eq!(cdr.int("sip_status"), 404, "{}", cdr.json);
    assert_eq!(cdr.json["early_media"], true, "{}", cdr.json);
    assert!(cdr.is_null("answer_time"), "{}", cdr.json);
    assert_eq!(cdr.str("hangup_side"), "callplane", "{}", cdr.json);
    assert!(rtp_sent(&cdr) >= 50, "{}", cdr.json);
}

fn reliable_183_pracked(backend: Backend) {
    let dir = TestDir::new(&format!("prack-{}", backend.cli_value()));
    let server = server_for(backend, dir.path(), "early_media_then_answer.json", "");
    let sipp = Sipp::new("uac_100rel_prack.xml", "uac_prack", dir.path())
        .target(server.sip_addr())
        .timeout(Duration::from_secs(30));
    let listener = RtpListener::bind(sipp.audio_port());
    let run = sipp.run();
    let capture = listener.finish();
    run.assert_passed(1);

    let (at_183, early) = received(&run, "SIP/2.0 183")
        .unwrap_or_else(|| panic!("no 183 received\n{}", run.diagnostics()));
    assert!(early.contains("RSeq:"), "183 without RSeq: {early}");
    assert!(early.contains("m=audio"), "183 without SDP: {early}");
    let oks: Vec<(usize, String)> = run
        .received_messages()
        .into_iter()
        .enumerate()
        .filter(|(_, message)| message.trim_start().starts_with("SIP/2.0 200"))
        .collect();
    let prack_ok = oks
        .iter()
        .find(|(_, m)| m.contains("PRACK"))
        .unwrap_or_else(|| panic!("no 200 for the PRACK\n{}", run.diagnostics()));
    let invite_ok = oks
        .iter()
        .find(|(_, m)| {
            m.lines()
                .any(|l| l.starts_with("CSeq:") && l.contains("INVITE"))
        })
        .unwrap_or_else(|| panic!("no 200 for the INVITE\n{}", run.diagnostics()));
    assert!(at_183 < prack_ok.0 && prack_ok.0 < invite_ok.0);
    assert!(invite_ok.1.contains("m=audio"), "{}", invite_ok.1);

    // Welcome (early), then goodbye (answered): speech in both.
    assert!(
        capture.loud_ulaw_packets(PCMU, SPEECH_RMS) >= 100,
        "{}",
        capture.summary()
    );

    let cdr = only_cdr(&server);
    assert_eq!(cdr.int("sip_status"), 200, "{}", cdr.json);
    assert_eq!(cdr.json["early_media"], true, "{}", cdr.json);
    cdr.assert_nodes_in_order(&["entry", "notice", "pickup", "bye", "end"]);
}

fn unpracked_183_resent(backend: Backend) {
    let dir = TestDir::new(&format!("no-prack-{}", backend.cli_value()));
    let server = server_for(
        backend,
        dir.path(),
        "early_media_then_answer.json",
        &format!("t1_ms = {SHORT_T1_MS}\nt2_ms = 4000"),
    );
    let sipp = Sipp::new("uac_100rel_no_prack.xml", "uac_no_prack", dir.path())
        .target(server.sip_addr())
        .timeout(Duration::from_secs(30));
    let run = sipp.run();
    run.assert_passed(1);

    let copies = run
        .received_messages()
        .iter()
        .filter(|message| message.trim_start().starts_with("SIP/2.0 183"))
        .count();
    // T1 doubling from 25 ms until 64·T1: resent at 25, 75, 175, 375, 775 ms.
    assert!(
        copies >= 4,
        "the reliable 183 was not retransmitted ({copies} copies)\n{}",
        run.diagnostics()
    );
    assert!(received(&run, "SIP/2.0 504").is_some());
    assert!(received(&run, "SIP/2.0 200").is_none());

    let cdr = only_cdr(&server);
    assert_eq!(cdr.int("sip_status"), 504, "{}", cdr.json);
    assert_eq!(cdr.str("hangup_cause"), "prack_timeout", "{}", cdr.json);
    assert!(cdr.is_null("answer_time"), "{}", cdr.json);
}
