//! End-to-end single calls against the callplane binary, each under both io
//! backends: the demo flow with digit 1 and digit 2 (CDR, the audio the caller
//! hears, callplane's BYE), CANCEL while ringing (487), an offer with no
//! common codec (488), late offers, hold and unhold by re-INVITE with and
//! without an offer, session timers (RFC 4028) that end the call, a digit by
//! SIP INFO, a lost ACK, crossed BYEs, and a CANCEL that crosses the 200.

mod common;

use std::time::Duration;

use common::{dtmf_pcap, Backend, Cdr, RtpListener, Server, ServerOptions, Sipp, SippRun, TestDir};

/// When the caller presses its digit, counted from its ACK: during the menu
/// prompt (the welcome prompt lasts about 1.5 s, the menu about 4 s after it).
const DTMF_DELAY_MS: u64 = 3000;
/// PCMU, the codec uac_dtmf.xml offers first.
const PCMU: u8 = 0;
/// RMS (16-bit scale) above which a 20 ms frame counts as speech, and below
/// which it counts as silence.
const SPEECH_RMS: f64 = 1000.0;
const SILENCE_RMS: f64 = 100.0;

common::for_each_backend! {
    digit_1_reaches_sales => call_pressing_1;
    digit_2_reaches_support => call_pressing_2;
    cancel_while_ringing_gets_487 => cancel_while_ringing;
    offer_without_common_codec_gets_488 => offer_without_common_codec;
    late_offer_is_answered_in_the_ack => late_offer;
    hold_and_unhold_by_reinvite => hold_and_unhold;
    hold_and_unhold_by_offerless_reinvite => offerless_hold_and_unhold;
    refreshed_session_expires_later => refreshed_session_expires;
    unrefreshed_session_ends_with_bye => unrefreshed_session_ends;
    info_dtmf_reaches_sales => info_dtmf;
    a_lost_ack_gets_the_200_again => lost_first_ack;
    crossed_byes_end_the_call_once => bye_glare;
    a_cancel_crossing_the_200_changes_nothing => cancel_crossing_200;
}

/// The session interval the session-timer scenarios ask for, in seconds
/// (the server's minimum is lowered to 1 for them).
const SESSION_EXPIRES_S: u64 = 4;
/// When the refreshing scenario refreshes, after its ACK.
const REFRESH_DELAY_MS: u64 = 1500;

fn call_pressing_1(backend: Backend) {
    call_pressing(backend, '1', "sales", "support");
}

fn call_pressing_2(backend: Backend) {
    call_pressing(backend, '2', "support", "sales");
}

/// One call through the demo flow pressing `digit`, which must lead to `branch`.
fn call_pressing(backend: Backend, digit: char, branch: &str, other_branch: &str) {
    let dir = TestDir::new(&format!("digit{digit}-{}", backend.cli_value()));
    let server = Server::start(backend, dir.path(), &ServerOptions::default());
    server.assert_backend_logged();

    let sipp = Sipp::new("uac_dtmf.xml", "uac_dtmf", dir.path())
        .target(server.sip_addr())
        .key("dtmf_pcap", dtmf_pcap(digit).display().to_string())
        .set("dtmf_delay_ms", DTMF_DELAY_MS.to_string())
        .timeout(Duration::from_secs(45));
    let listener = RtpListener::bind(sipp.audio_port());
    // The scenario passes only if callplane hangs up with a BYE.
    let run = sipp.run();
    let capture = listener.finish();
    run.assert_passed(1);
    assert_answer_sdp(&run);

    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    assert_eq!(cdrs.len(), 1, "one call, one CDR: {cdrs:#?}");
    let cdr = &cdrs[0];
    assert_eq!(cdr.call_id(), sent_call_id(&run), "CDR call_id");
    assert_eq!(
        cdr.digits(),
        vec![digit.to_string()],
        "CDR digits: {}",
        cdr.json
    );
    cdr.assert_nodes_in_order(&["entry", "welcome", "menu", branch, "goodbye"]);
    assert!(
        !cdr.nodes().iter().any(|node| node == other_branch),
        "digit {digit} also visited {other_branch}: {}",
        cdr.json
    );
    assert_eq!(cdr.str("hangup_side"), "callplane", "{}", cdr.json);
    assert_eq!(cdr.str("hangup_cause"), "normal_clearing", "{}", cdr.json);
    assert_eq!(cdr.int("sip_status"), 200, "{}", cdr.json);
    assert_eq!(cdr.str("from"), "sipp", "{}", cdr.json);
    assert_eq!(cdr.str("to"), "1000", "{}", cdr.json);
    assert_eq!(cdr.str("flow_id"), "demo", "{}", cdr.json);
    assert_eq!(cdr.int("flow_version"), 1, "{}", cdr.json);
    assert_rfc3339(cdr, "start_time");
    assert_rfc3339(cdr, "answer_time");
    assert_rfc3339(cdr, "end_time");
    assert!(
        cdr.int("duration_ms") >= DTMF_DELAY_MS as i64,
        "the call lasted past the digit: {}",
        cdr.json
    );

    // What the caller heard: one continuous 20 ms PCMU stream, with speech in it.
    capture.assert_continuous_stream(PCMU, 250);
    let speech = capture.loud_ulaw_packets(PCMU, SPEECH_RMS);
    let total = capture.with_payload_type(PCMU).len();
    let silence = total - capture.loud_ulaw_packets(PCMU, SILENCE_RMS);
    assert!(
        speech >= 100,
        "only {speech} of {total} packets carry speech (RMS > {SPEECH_RMS})"
    );
    assert!(
        silence >= 5,
        "only {silence} of {total} packets are silent (RMS <= {SILENCE_RMS})"
    );
}

/// The caller rings for 3 s; it cancels after 500 ms.
fn cancel_while_ringing(backend: Backend) {
    let dir = TestDir::new(&format!("cancel-{}", backend.cli_value()));
    let options = ServerOptions {
        answer_delay_ms: Some(3000),
        ..ServerOptions::default()
    };
    let server = Server::start(backend, dir.path(), &options);
    server.assert_backend_logged();

    let run = Sipp::new("uac_cancel.xml", "uac_cancel", dir.path())
        .target(server.sip_addr())
        .timeout(Duration::from_secs(15))
        .run();
    run.assert_passed(1);

    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    assert_eq!(cdrs.len(), 1, "one call, one CDR: {cdrs:#?}");
    let cdr = &cdrs[0];
    assert_eq!(cdr.call_id(), sent_call_id(&run), "CDR call_id");
    assert_eq!(cdr.str("hangup_cause"), "cancelled", "{}", cdr.json);
    assert_eq!(cdr.int("sip_status"), 487, "{}", cdr.json);
    assert_eq!(cdr.str("hangup_side"), "caller", "{}", cdr.json);
    assert!(
        cdr.is_null("answer_time"),
        "a cancelled call has no answer time: {}",
        cdr.json
    );
}

/// G.729 only: nothing callplane speaks.
fn offer_without_common_codec(backend: Backend) {
    let dir = TestDir::new(&format!("reject488-{}", backend.cli_value()));
    let server = Server::start(backend, dir.path(), &ServerOptions::default());
    server.assert_backend_logged();

    let run = Sipp::new("uac_488.xml", "uac_488", dir.path())
        .target(server.sip_addr())
        .timeout(Duration::from_secs(15))
        .run();
    run.assert_passed(1);

    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    assert_eq!(cdrs.len(), 1, "one call, one CDR: {cdrs:#?}");
    let cdr = &cdrs[0];
    assert_eq!(cdr.call_id(), sent_call_id(&run), "CDR call_id");
    assert_eq!(cdr.int("sip_status"), 488, "{}", cdr.json);
    assert_eq!(cdr.str("hangup_cause"), "no_common_codec", "{}", cdr.json);
    assert!(
        cdr.is_null("answer_time"),
        "a rejected call has no answer time: {}",
        cdr.json
    );
}

/// The Call-ID of the INVITE sipp sent.
fn sent_call_id(run: &SippRun) -> String {
    let log = run.messages_log();
    log.lines()
        .find_map(|line| line.strip_prefix("Call-ID:"))
        .map(|value| value.trim().to_string())
        .unwrap_or_else(|| panic!("no Call-ID in sipp's message log\n{}", run.diagnostics()))
}

/// The 200 OK answers PCMU and echoes telephone-event on the offered PT 101.
fn assert_answer_sdp(run: &SippRun) {
    let answer = run
        .received_messages()
        .into_iter()
        .find(|message| {
            message.trim_start().starts_with("SIP/2.0 200") && message.contains("m=audio")
        })
        .unwrap_or_else(|| panic!("no 200 OK with SDP received\n{}", run.diagnostics()));
    let media = answer
        .lines()
        .find(|line| line.starts_with("m=audio"))
        .unwrap_or_default();
    let formats: Vec<&str> = media.split_whitespace().skip(3).collect();
    assert_eq!(
        formats.first(),
        Some(&"0"),
        "PCMU answered first: {media}\n{answer}"
    );
    assert!(
        formats.contains(&"101"),
        "telephone-event 101 echoed: {media}\n{answer}"
    );
    assert!(
        answer.contains("a=rtpmap:101 telephone-event/8000"),
        "telephone-event rtpmap in the answer:\n{answer}"
    );
}

/// `field` looks like an RFC 3339 timestamp (`YYYY-MM-DDTHH:MM:SS...`).
fn assert_rfc3339(cdr: &Cdr, field: &str) {
    let value = cdr.str(field);
    let bytes = value.as_bytes();
    let shaped = bytes.len() >= 20
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && (bytes[10] == b'T' || bytes[10] == b't')
        && bytes[13] == b':'
        && bytes[16] == b':'
        && (value.ends_with('Z') || value.ends_with('z') || value[19..].contains(['+', '-']));
    assert!(
        shaped,
        "CDR {field} is not RFC 3339: {value:?} in {}",
        cdr.json
    );
}

/// Runs `scenario` (a sipp UAC that presses 1 `dtmf_delay_ms` after its ACK)
/// against the demo flow and checks the CDR of the sales path; returns the
/// CDR and what the caller heard.
fn press_one_through(
    backend: Backend,
    tag: &str,
    scenario: &str,
    dtmf_delay_ms: u64,
) -> (common::Cdr, common::RtpCapture) {
    let (cdr, capture, _) = press_one_through_run(backend, tag, scenario, dtmf_delay_ms);
    (cdr, capture)
}

/// [`press_one_through`], with the messages sipp received (read before the
/// test's directory goes).
fn press_one_through_run(
    backend: Backend,
    tag: &str,
    scenario: &str,
    dtmf_delay_ms: u64,
) -> (common::Cdr, common::RtpCapture, Vec<String>) {
    let dir = TestDir::new(&format!("{tag}-{}", backend.cli_value()));
    let server = Server::start(backend, dir.path(), &ServerOptions::default());
    let name = scenario.trim_end_matches(".xml");
    let sipp = Sipp::new(scenario, name, dir.path())
        .target(server.sip_addr())
        .key("dtmf_pcap", dtmf_pcap('1').display().to_string())
        .set("dtmf_delay_ms", dtmf_delay_ms.to_string())
        .timeout(Duration::from_secs(45));
    let listener = RtpListener::bind(sipp.audio_port());
    let run = sipp.run();
    let capture = listener.finish();
    run.assert_passed(1);
    let mut cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    assert_eq!(cdrs.len(), 1, "one call, one CDR: {cdrs:#?}");
    let cdr = cdrs.remove(0);
    assert_eq!(cdr.digits(), vec!["1".to_string()], "{}", cdr.json);
    cdr.assert_nodes_in_order(&["entry", "welcome", "menu", "sales", "goodbye"]);
    assert_eq!(cdr.str("hangup_side"), "callplane", "{}", cdr.json);
    assert_eq!(cdr.str("hangup_cause"), "normal_clearing", "{}", cdr.json);
    assert_eq!(cdr.int("sip_status"), 200, "{}", cdr.json);
    (cdr, capture, run.received_messages())
}

/// An INVITE without SDP: callplane offers in its 200 OK (the scenario checks
/// the offer), sipp answers in the ACK, and the call runs the demo flow.
fn late_offer(backend: Backend) {
    let (_, capture) =
        press_one_through(backend, "late-offer", "uac_late_offer.xml", DTMF_DELAY_MS);
    // Media went to the address the ACK's answer gave, in the codec it chose.
    capture.assert_continuous_stream(PCMU, 250);
    assert!(
        capture.loud_ulaw_packets(PCMU, SPEECH_RMS) >= 100,
        "speech heard"
    );
}

/// The caller presses 1 by SIP INFO (`application/dtmf-relay`) instead of
/// RFC 4733: the flow takes it like any digit.
fn info_dtmf(backend: Backend) {
    let (cdr, _) = press_one_through(backend, "info-dtmf", "uac_info_dtmf.xml", DTMF_DELAY_MS);
    assert_eq!(cdr.int("sip_status"), 200, "{}", cdr.json);
}

/// The caller's ACK to the first 200 OK is lost (the scenario waits for the
/// retransmitted 200 before it acknowledges): callplane resends the 200 until the
/// ACK comes, and the call then runs as usual.
fn lost_first_ack(backend: Backend) {
    let (_, _, received) =
        press_one_through_run(backend, "late-ack", "uac_late_ack.xml", DTMF_DELAY_MS);
    let oks = received
        .iter()
        .filter(|message| {
            message.trim_start().starts_with("SIP/2.0 200") && message.contains("CSeq: 1 INVITE")
        })
        .count();
    // The first 200, then resends at T1 (500 ms) and 2·T1 (1.5 s) before the ACK.
    assert!(
        oks >= 3,
        "the 200 OK was resent until the ACK: {oks} copies"
    );
}

/// BYE glare: callplane's BYE and the caller's cross. Each is answered 200 (the
/// scenario checks ours), and the call ends with one CDR saying callplane hung
/// up first.
fn bye_glare(backend: Backend) {
    press_one_through(backend, "bye-glare", "uac_bye_glare.xml", DTMF_DELAY_MS);
}

/// A CANCEL that crosses callplane's 200 OK: it gets 200 and changes nothing;
/// the caller acknowledges the 200 and hangs up a second later with BYE. One
/// CDR: answered, then hung up by the caller.
fn cancel_crossing_200(backend: Backend) {
    let dir = TestDir::new(&format!("cancel-crosses-{}", backend.cli_value()));
    let server = Server::start(backend, dir.path(), &ServerOptions::default());
    let sipp = Sipp::new(
        "uac_cancel_crosses_200.xml",
        "uac_cancel_crosses_200",
        dir.path(),
    )
    .target(server.sip_addr())
    .timeout(Duration::from_secs(30));
    sipp.run().assert_passed(1);
    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    assert_eq!(cdrs.len(), 1, "one call, one CDR: {cdrs:#?}");
    let cdr = &cdrs[0];
    assert_eq!(cdr.int("sip_status"), 200, "{}", cdr.json);
    assert_eq!(cdr.str("hangup_side"), "caller", "{}", cdr.json);
    assert_eq!(cdr.str("hangup_cause"), "caller_hangup", "{}", cdr.json);
    assert_rfc3339(cdr, "answer_time");
}

/// A call put on hold and taken off it by re-INVITEs (the scenario checks the
/// recvonly and sendrecv answers), then the demo flow finishes as usual.
fn hold_and_unhold(backend: Backend) {
    press_one_through(backend, "hold", "uac_hold_unhold.xml", 1500);
}

/// Hold and unhold by re-INVITEs without SDP: callplane offers in each 200
/// (the scenario checks sendrecv), the ACKs answer sendonly, then sendrecv.
fn offerless_hold_and_unhold(backend: Backend) {
    press_one_through(backend, "offerless", "uac_reinvite_no_sdp.xml", 1500);
}

/// Runs a session-timer scenario against a server whose minimum session
/// interval is 1 s; returns the call's length from answer to end (CDR).
fn session_timer_call(backend: Backend, tag: &str, scenario: &str) -> Duration {
    let dir = TestDir::new(&format!("{tag}-{}", backend.cli_value()));
    let options = ServerOptions {
        config: Some("[sip]\nmin_session_expires_s = 1\n".to_string()),
        ..ServerOptions::default()
    };
    let server = Server::start(backend, dir.path(), &options);
    let name = scenario.trim_end_matches(".xml");
    let mut sipp = Sipp::new(scenario, name, dir.path())
        .target(server.sip_addr())
        .set("se", SESSION_EXPIRES_S.to_string())
        .timeout(Duration::from_secs(30));
    if scenario == "uac_session_timer.xml" {
        sipp = sipp.set("refresh_delay_ms", REFRESH_DELAY_MS.to_string());
    }
    let run = sipp.run();
    run.assert_passed(1);
    let mut cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    assert_eq!(cdrs.len(), 1, "one call, one CDR: {cdrs:#?}");
    let cdr = cdrs.remove(0);
    assert_eq!(cdr.str("hangup_cause"), "session_expired", "{}", cdr.json);
    assert_eq!(cdr.str("hangup_side"), "callplane", "{}", cdr.json);
    assert_eq!(cdr.int("sip_status"), 200, "{}", cdr.json);
    let at = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(cdr.str(field))
            .unwrap_or_else(|err| panic!("CDR {field}: {err} in {}", cdr.json))
    };
    (at("end_time") - at("answer_time"))
        .to_std()
        .unwrap_or_else(|err| panic!("CDR ends before its answer: {err} in {}", cdr.json))
}

/// The caller refreshes once (a re-INVITE 1.5 s after its ACK) and then
/// stops: callplane's BYE comes when the refreshed session is due, 4 − 4/3 s
/// after the refresh — later than it would have without the refresh.
fn refreshed_session_expires(backend: Backend) {
    let lasted = session_timer_call(backend, "session-refreshed", "uac_session_timer.xml");
    assert!(
        (Duration::from_millis(3_700)..=Duration::from_millis(6_000)).contains(&lasted),
        "{lasted:?}"
    );
}

/// The caller never refreshes: callplane's BYE comes 4 − 4/3 s after the answer.
fn unrefreshed_session_ends(backend: Backend) {
    let lasted = session_timer_call(
        backend,
        "session-unrefreshed",
        "uac_session_timer_no_refresh.xml",
    );
    assert!(
        (Duration::from_millis(2_200)..=Duration::from_millis(3_600)).contains(&lasted),
        "{lasted:?}"
    );
}
