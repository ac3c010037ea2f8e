//! baresip, a real softphone, calls callplane: the flow answers, plays a
//! prompt, gathers a key that baresip presses (RFC 4733), branches on it,
//! plays the branch's prompt and hangs up. Plain RTP/AVP here; with SDES-keyed
//! SRTP in the `srtp_*` tests. The CDR shows the digit, the branch, the cause
//! and RTP both ways; baresip's dump of what it decoded is a WAV with audio in it.

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::baresip::{read_wav, rms_dbfs, Baresip, MediaEnc};
use common::{Backend, Cdr, Server, ServerOptions, TestDir};
use serde_json::Value;

/// VoIPBIN action array; the talk texts are catalog prompts' texts.
const IVR: &str = r#"{
  "id": "ivr", "name": "baresip IVR", "version": 1,
  "actions": [
    { "type": "answer" },
    { "type": "talk", "option": { "text": "Welcome to callplane.", "language": "en-US" } },
    { "type": "digits_receive", "option": { "duration": 10000, "length": 1 } },
    { "type": "branch", "option": { "variable": "voipbin.call.digits",
        "target_ids": { "1": "to-sales", "2": "to-support" }, "default_target_id": "bye" } },
    { "id": "to-sales", "type": "talk", "option": { "text": "You have reached sales. All our agents are busy, please call again later." } },
    { "type": "goto", "option": { "target_id": "bye" } },
    { "id": "to-support", "type": "talk", "option": { "text": "You have reached support. Please visit our website for help." } },
    { "id": "bye", "type": "hangup" }
  ]
}"#;

/// The server's config: the IVR on 1000, and `extra` TOML (SRTP settings).
fn options(dir: &Path, extra: &str) -> ServerOptions {
    let flows = dir.join("flows");
    fs::create_dir_all(&flows).expect("flows dir");
    fs::write(flows.join("ivr.json"), IVR).expect("write flow");
    ServerOptions {
        config: Some(format!(
            "{extra}[flows]\ndir = \"{}\"\n[routing]\ndefault_flow = \"\"\n[[routing.route]]\nnumber = \"1000\"\nflow = \"ivr\"\n",
            flows.display()
        )),
        ..ServerOptions::default()
    }
}

/// baresip calls 1000, presses `key` once the welcome prompt has played, and
/// waits for callplane's BYE. Returns the call's CDR and baresip's decoded audio.
fn call_and_press(dir: &Path, server: &Server, media: MediaEnc, key: char) -> (Cdr, Vec<i16>) {
    let mut phone = Baresip::start(dir, media);
    phone.dial(&format!("sip:1000@{}", server.sip_addr()));
    phone.wait_event("CALL_ESTABLISHED", Duration::from_secs(10));
    // The welcome prompt is 1.5 s; the gather waits 10 s after it.
    std::thread::sleep(Duration::from_millis(3000));
    phone.press(key);
    // callplane plays the branch's prompt and hangs up.
    phone.wait_event("CALL_CLOSED", Duration::from_secs(20));
    phone.quit();
    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    let wav = phone
        .decoded_wav()
        .unwrap_or_else(|| panic!("baresip wrote no decoded audio:\n{}", phone.log()));
    let (rate, samples) = read_wav(&wav);
    assert_eq!(rate, 8000, "baresip decoded G.711 at 8 kHz");
    (cdrs[0].clone(), samples)
}

fn media(cdr: &Cdr) -> &Value {
    cdr.json.get("media").unwrap_or(&Value::Null)
}

/// The checks every baresip call makes: the digit, the branch it chose, who
/// hung up, RTP counted both ways, and audible prompt audio at baresip.
fn assert_support_branch(cdr: &Cdr, samples: &[i16]) {
    assert_eq!(cdr.str("flow_id"), "ivr");
    assert_eq!(cdr.digits(), vec!["2".to_string()], "{}", cdr.json);
    let nodes = cdr.nodes();
    assert!(nodes.contains(&"to-support".to_string()), "{nodes:?}");
    assert!(!nodes.contains(&"to-sales".to_string()), "{nodes:?}");
    assert_eq!(cdr.str("hangup_side"), "callplane");
    assert_eq!(cdr.str("hangup_cause"), "normal_clearing");
    let rtp = &media(cdr)["rtp"];
    let sent = rtp["sent"].as_u64().unwrap_or(0);
    let received = rtp["received"].as_u64().unwrap_or(0);
    // At 50 packets/s over a call of more than 5 s.
    assert!(
        sent > 250,
        "callplane sent {sent} RTP packets: {}",
        cdr.json
    );
    assert!(
        received > 250,
        "callplane received {received}: {}",
        cdr.json
    );
    // The prompts are speech at about −20 dBFS; silence is far below −50.
    assert!(
        samples.len() > 8000 * 4,
        "{} samples decoded",
        samples.len()
    );
    let level = rms_dbfs(samples);
    assert!(level > -40.0, "baresip heard {level:.1} dBFS: silence");
}

#[test]
fn baresip_presses_a_key_and_the_flow_branches_on_it() {
    let dir = TestDir::new("baresip-plain");
    let server = Server::start(Backend::Epoll, dir.path(), &options(dir.path(), ""));
    let (cdr, samples) = call_and_press(dir.path(), &server, MediaEnc::None, '2');
    assert_support_branch(&cdr, &samples);
    assert!(
        media(&cdr).get("srtp").is_none_or(Value::is_null),
        "no SRTP on a plain call: {}",
        cdr.json
    );
}

/// `[rtp] srtp = "required"`: baresip with `mediaenc=srtp-mand` offers
/// RTP/SAVP with SDES keys; the key press arrives inside SRTP.
#[test]
fn srtp_baresip_presses_a_key_inside_srtp() {
    let dir = TestDir::new("baresip-srtp");
    let server = Server::start(
        Backend::Epoll,
        dir.path(),
        &options(dir.path(), "[rtp]\nsrtp = \"required\"\n"),
    );
    let (cdr, samples) = call_and_press(dir.path(), &server, MediaEnc::SrtpMandatory, '2');
    assert_support_branch(&cdr, &samples);
    let srtp = &media(&cdr)["srtp"];
    assert_eq!(srtp["suite"], "AES_CM_128_HMAC_SHA1_80", "{}", cdr.json);
    assert_eq!(srtp["auth_failures"], 0, "{}", cdr.json);
    assert_eq!(srtp["replays"], 0, "{}", cdr.json);
    let unprotected = srtp["rtp_unprotected"].as_u64().unwrap_or(0);
    let protected = srtp["rtp_protected"].as_u64().unwrap_or(0);
    assert!(unprotected > 250 && protected > 250, "{}", cdr.json);
    // baresip's RTCP reached us through SRTCP, and ours reached it.
    assert!(
        srtp["rtcp_unprotected"].as_u64().unwrap_or(0) > 0,
        "{}",
        cdr.json
    );
    assert!(
        media(&cdr)["rtcp"]["reports_received"]
            .as_u64()
            .unwrap_or(0)
            > 0
    );
}

/// With SRTP required, a plain RTP/AVP offer from baresip gets 488.
#[test]
fn srtp_required_refuses_a_plain_offer_with_488() {
    let dir = TestDir::new("baresip-srtp-488");
    let server = Server::start(
        Backend::Epoll,
        dir.path(),
        &options(dir.path(), "[rtp]\nsrtp = \"required\"\n"),
    );
    let mut phone = Baresip::start(dir.path(), MediaEnc::None);
    phone.dial(&format!("sip:1000@{}", server.sip_addr()));
    let closed = phone.wait_event("CALL_CLOSED", Duration::from_secs(10));
    let reason = closed["param"].as_str().unwrap_or_default();
    assert!(reason.contains("488"), "baresip saw {closed}");
    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    assert_eq!(cdrs[0].int("sip_status"), 488, "{}", cdrs[0].json);
    assert_eq!(cdrs[0].str("hangup_cause"), "srtp_required");
}
