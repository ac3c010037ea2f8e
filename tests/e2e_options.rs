//! OPTIONS keepalives to a trunk: `callplane serve` with a `[[trunk]]` that
//! has `options_interval_s = 5` pings a sipp carrier that answers three
//! OPTIONS and exits; the OPTIONS arrive 5 s apart, the trunk is logged up,
//! then down after `options_failures = 2` unanswered ones, and the stop log
//! counts them. Two shards: the keepalives' Call-ID must hash to shard 0.
//! And an OPTIONS from sipp outside any dialog gets 200 with `Allow`,
//! `Accept` and `Supported` (RFC 3261 §11.2). And a burst: 256 OPTIONS in
//! flight for two seconds from `callplane bench options` are all answered,
//! none lost, on either backend, and the shards' stop lines count every
//! request and a transmit for each.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{for_each_backend, Backend, Server, ServerOptions, Sipp, TestDir};

/// `HH:MM:SS.micros` as seconds since midnight.
fn seconds_of_day(clock: &str) -> Option<f64> {
    let mut parts = clock.split(':');
    let hours: f64 = parts.next()?.parse().ok()?;
    let minutes: f64 = parts.next()?.parse().ok()?;
    let seconds: f64 = parts.next()?.parse().ok()?;
    Some(hours * 3600.0 + minutes * 60.0 + seconds)
}

/// When sipp received each message (the time of day in its trace's
/// separator lines), for the messages whose first line starts with `start`.
fn arrivals(run: &common::SippRun, start: &str) -> Vec<f64> {
    let log = run.messages_log();
    let mut times = Vec::new();
    let mut stamp = None;
    let mut received = false;
    for line in log.lines() {
        if let Some(rest) = line.strip_prefix("----------------------------------------------- ") {
            stamp = rest.split_whitespace().last().and_then(seconds_of_day);
            received = false;
        } else if line.contains(" message received [") {
            received = true;
        } else if received && line.starts_with(start) {
            times.extend(stamp);
            received = false;
        }
    }
    times
}

fn keepalives_mark_the_trunk_up_then_down(backend: Backend) {
    let dir = TestDir::new("options-keepalive");
    let carrier =
        Sipp::new("uas_options.xml", "carrier", dir.path()).timeout(Duration::from_secs(30));
    let carrier_addr = carrier.sip_addr();
    let carrier = thread::spawn(move || carrier.run());
    let options = ServerOptions {
        shards: Some(2),
        config: Some(format!(
            "[sip]\nt1_ms = 50\n\n[[trunk]]\nname = \"carrier\"\nallow = [\"127.0.0.1\"]\n\
proxy = \"{carrier_addr}\"\noptions_interval_s = 5\noptions_failures = 2\n"
        )),
        ..ServerOptions::default()
    };
    let mut server = Server::start(backend, dir.path(), &options);
    let run = carrier.join().expect("sipp thread");
    run.assert_passed(1);

    let times = arrivals(&run, "OPTIONS sip:");
    assert_eq!(times.len(), 3, "{}", run.diagnostics());
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            (4.8..5.5).contains(&gap),
            "OPTIONS {gap:.3} s apart: {times:?}"
        );
    }
    assert!(server
        .log()
        .contains("trunk carrier: up (OPTIONS answered 200)"));

    // sipp is gone: two OPTIONS in a row time out (Timer F = 64 × 50 ms).
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server.log().contains("trunk carrier: down") && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(200));
    }
    server.stop();
    let log = server.log();
    assert!(
        log.contains("trunk carrier: down after 2 OPTIONS failed in a row (last: no response)"),
        "{log}"
    );
    let stop = log
        .lines()
        .find(|line| line.contains("trunks [(\"carrier\", \"down\")]"))
        .unwrap_or_else(|| panic!("no trunk state in the stop log: {log}"));
    assert!(stop.contains("options_failed: 2"), "{stop}");
    let sent: u64 = stop
        .split("options_sent: ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no options_sent in {stop}"));
    assert!((5..=6).contains(&sent), "{stop}");
}

fn options_out_of_dialog_lists_allow_accept_supported(backend: Backend) {
    let dir = TestDir::new("options-answer");
    let server = Server::start(backend, dir.path(), &ServerOptions::default());
    let run = Sipp::new("uac_options.xml", "prober", dir.path())
        .target(server.sip_addr())
        .timeout(Duration::from_secs(10))
        .run();
    run.assert_passed(1);
    let answer = run
        .received_messages()
        .into_iter()
        .find(|message| message.trim_start().starts_with("SIP/2.0 200"))
        .unwrap_or_else(|| panic!("no 200: {}", run.diagnostics()));
    assert!(answer.contains("\nSupported: 100rel, timer"), "{answer}");
}

/// The `N` in `"N {label}"` of the generator's summary line.
fn count_in(summary: &str, label: &str) -> u64 {
    summary
        .split(", ")
        .flat_map(|part| part.split(" ("))
        .find_map(|part| part.split_once(label)?.0.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `N {label}` in {summary}"))
}

fn a_burst_of_options_is_answered_in_full(backend: Backend) {
    let _heavy = common::heavy_test_lock();
    let dir = TestDir::new("options-burst");
    let mut server = Server::start(backend, dir.path(), &ServerOptions::default());
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_callplane"))
        .args(["bench", "options", &server.sip_addr().to_string()])
        .args([
            "--io",
            backend.cli_value(),
            "--duration",
            "2",
            "--window",
            "256",
        ])
        .output()
        .expect("callplane bench options");
    let summary = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{summary}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answered = count_in(&summary, "answered");
    assert!(answered > 2_000, "{summary}");
    assert_eq!(count_in(&summary, "refused"), 0, "{summary}");
    assert_eq!(count_in(&summary, "lost"), 0, "{summary}");
    let sent = count_in(&summary, "sent in");
    server.stop();
    let log = server.log();
    // Summed over the shards' stop lines: the SIP requests each dispatcher
    // took and the datagrams it sent.
    let total = |label: &str| -> u64 {
        log.lines()
            .filter(|line| line.contains("stopped; datagrams in"))
            .map(|line| {
                line.split(label)
                    .nth(1)
                    .and_then(|rest| rest.split([',', ' ']).next())
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or_else(|| panic!("no `{label}` in {line}"))
            })
            .sum()
    };
    let requests = total("requests: ");
    // Every request the generator sent reached a shard and was answered;
    // the few beyond them are the harness's readiness OPTIONS.
    assert!(
        (sent + 1..=sent + 20).contains(&requests),
        "{requests} requests for {sent} sent: {log}"
    );
    assert_eq!(total("transmits: "), requests, "{log}");
}

for_each_backend! {
    a_burst_of_options_is_answered_in_full => a_burst_of_options_is_answered_in_full;
    options_keepalives_mark_the_trunk_up_then_down => keepalives_mark_the_trunk_up_then_down;
    an_options_out_of_dialog_gets_allow_accept_supported => options_out_of_dialog_lists_allow_accept_supported;
}
