//! End-to-end free-text speech, under both io backends: a flow says a
//! sentence no catalog prompt speaks; espeak-ng synthesizes it off the shards
//! while the call waits, a sipp caller hears speech for about as long as the
//! sentence takes, and the flow goes on to its next node. A second call with
//! the same sentence is served from the speech cache (the log and
//! `callplane_speech_cache_hits_total` say so).

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::{for_each_backend, Backend, RtpListener, Server, ServerOptions, Sipp, TestDir};

/// PCMU, the codec uac_wait_bye.xml offers.
const PCMU: u8 = 0;
/// RMS (16-bit scale) above which a 20 ms frame counts as speech.
const SPEECH_RMS: f64 = 1000.0;
/// Nine words: about three seconds of espeak-ng at its default rate.
const SENTENCE: &str = "Thank you for calling, your order has shipped today.";

for_each_backend! {
    free_text_is_spoken_then_served_from_cache => speak_twice;
}

fn options(dir: &Path) -> ServerOptions {
    let flows = dir.join("flows");
    fs::create_dir_all(&flows).expect("flows dir");
    let flow = format!(
        r#"{{ "id": "say", "version": 1, "actions": [
  {{ "type": "answer" }},
  {{ "id": "say", "type": "talk", "option": {{ "text": "{SENTENCE}", "language": "en-US" }} }},
  {{ "id": "after", "type": "sleep", "option": {{ "duration": 300 }} }},
  {{ "id": "bye", "type": "hangup" }}
] }}"#
    );
    fs::write(flows.join("say.json"), flow).expect("write the flow");
    ServerOptions {
        config: Some(format!(
            "[flows]\ndir = \"{}\"\n[routing]\ndefault_flow = \"say\"\n\
             [speech]\nworkers = 1\ntimeout_ms = 8000\n",
            flows.display()
        )),
        extra_args: vec!["--metrics-listen".into(), "127.0.0.1:0".into()],
        ..ServerOptions::default()
    }
}

/// One call: what the caller heard, as (loud packets, seconds from the first
/// loud packet to the last).
fn call(server: &Server, dir: &Path, name: &str) -> (usize, f64) {
    let sipp = Sipp::new("uac_wait_bye.xml", name, dir)
        .target(server.sip_addr())
        .timeout(Duration::from_secs(30));
    let listener = RtpListener::bind(sipp.audio_port());
    let run = sipp.run();
    let capture = listener.finish();
    run.assert_passed(1);
    let loud: Vec<_> = capture
        .with_payload_type(PCMU)
        .into_iter()
        .filter(|packet| common::rtp::ulaw_rms(&packet.payload) > SPEECH_RMS)
        .collect();
    let span = match (loud.first(), loud.last()) {
        (Some(first), Some(last)) => (last.arrived - first.arrived).as_secs_f64(),
        _ => 0.0,
    };
    (loud.len(), span)
}

fn speak_twice(backend: Backend) {
    common::sipp::require_sipp();
    common::require_tool("espeak-ng", "--version");
    let dir = TestDir::new(&format!("speech-{}", backend.cli_value()));
    let server = Server::start(backend, dir.path(), &options(dir.path()));

    let (loud, span) = call(&server, dir.path(), "speech-1");
    eprintln!("first call: {loud} packets of speech over {span:.2} s");
    assert!(
        loud >= 60,
        "only {loud} packets of speech: {}",
        server.log()
    );
    assert!(
        (1.5..6.0).contains(&span),
        "speech heard for {span:.2} s, expected about 3 s"
    );
    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    cdrs[0].assert_nodes_in_order(&["say", "after", "bye"]);
    assert!(
        server.log().contains("from the engine"),
        "first call synthesized: {}",
        server.log()
    );

    let (again, _) = call(&server, dir.path(), "speech-2");
    assert!(
        again >= 60,
        "only {again} packets of speech the second time"
    );
    let cdrs = server.wait_for_cdrs(2, Duration::from_secs(5));
    cdrs[1].assert_nodes_in_order(&["say", "after", "bye"]);
    let log = server.log();
    assert!(
        log.contains("from the memory cache"),
        "second call served from cache: {log}"
    );
    assert_eq!(log.matches("from the engine").count(), 1, "{log}");
    let metrics = common::http::logged_metrics_addr(&log).expect("the metrics address is logged");
    let (status, body) = common::http::get(metrics, "/metrics");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("callplane_speech_cache_hits_total 1\n")
            && body.contains("callplane_speech_syntheses_total 1\n"),
        "{body}"
    );
    // The disk cache holds the sentence for the next start.
    let cached = fs::read_dir(dir.path().join("data/speech"))
        .map(|entries| entries.filter_map(Result::ok).count())
        .unwrap_or(0);
    assert_eq!(cached, 1, "one WAV in the disk cache");
}
