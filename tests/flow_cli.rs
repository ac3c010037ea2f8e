//! The `callplane flow` command line, run as a real process: `flow simulate`
//! over the demo and the seed flows in `tests/flows/` (schedules, webhooks,
//! digits, fetch_flow, on_complete), `flow check`, and the exit codes and
//! one-line errors of bad arguments.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tempfile::TempDir;

/// A weekday (Monday 2 March 2026) inside and outside business hours (UTC).
const MONDAY_10H: &str = "2026-03-02T10:00:00Z";
const MONDAY_22H: &str = "2026-03-02T22:00:00Z";

const LINE_KINDS: &[&str] = &["command", "trace", "end"];

fn callplane(args: &[&str]) -> Output {
    match Command::new(env!("CARGO_BIN_EXE_callplane"))
        .args(args)
        .output()
    {
        Ok(output) => output,
        Err(err) => panic!("cannot run callplane: {err}"),
    }
}

fn seed(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/flows")
        .join(name)
        .display()
        .to_string()
}

fn temp_dir() -> TempDir {
    match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(err) => panic!("temp dir: {err}"),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    if let Err(err) = std::fs::write(&path, text) {
        panic!("write {}: {err}", path.display());
    }
    path.display().to_string()
}

/// A flows directory holding seed flows under the ids other seeds name them by.
fn flows_dir(flows: &[(&str, &str)]) -> TempDir {
    let dir = temp_dir();
    for (file, id) in flows {
        let text = std::fs::read_to_string(seed(file)).unwrap_or_default();
        let mut document: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        document["id"] = Value::String((*id).to_owned());
        write(dir.path(), file, &document.to_string());
    }
    dir
}

/// Runs `flow simulate`, expects exit 0, and returns the JSON lines.
fn simulate(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["flow", "simulate"];
    all.extend_from_slice(args);
    let output = callplane(&all);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{args:?}\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{line}: {err}")))
        .collect();
    for line in &lines {
        let kinds = LINE_KINDS
            .iter()
            .filter(|kind| line.get(**kind).is_some())
            .count();
        assert_eq!(kinds, 1, "one distinguishing key per line: {line}");
    }
    let ends = lines
        .iter()
        .filter(|line| line.get("end").is_some())
        .count();
    assert_eq!(ends, 1, "exactly one end line:\n{stdout}");
    assert!(
        lines.last().and_then(|line| line.get("end")).is_some(),
        "the end line comes last:\n{stdout}"
    );
    lines
}

fn text<'a>(line: &'a Value, key: &str) -> &'a str {
    line.get(key).and_then(Value::as_str).unwrap_or("")
}

/// `(command, node)` of every command line.
fn commands(lines: &[Value]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter(|line| line.get("command").is_some())
        .map(|line| {
            (
                text(line, "command").to_owned(),
                text(line, "node").to_owned(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn command_at<'a>(lines: &'a [Value], node: &str) -> &'a Value {
    lines
        .iter()
        .find(|line| line.get("command").is_some() && text(line, "node") == node)
        .unwrap_or_else(|| panic!("no command at {node}: {lines:?}"))
}

/// The spoken text of every play command, in order.
fn spoken(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .filter(|line| text(line, "command") == "play")
        .filter_map(|line| line.get("audio").and_then(Value::as_array))
        .flatten()
        .filter_map(|audio| audio.pointer("/speak/text").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

fn end(lines: &[Value]) -> &Value {
    lines.last().unwrap_or(&Value::Null)
}

fn end_var<'a>(lines: &'a [Value], key: &str) -> Option<&'a str> {
    end(lines).get("vars")?.get(key)?.as_str()
}

fn demo_file(dir: &TempDir) -> String {
    write(dir.path(), "demo.json", callplane::flow::DEMO_FLOW_JSON)
}

#[test]
fn demo_with_digit_one_plays_sales_and_hangs_up() {
    let dir = temp_dir();
    let lines = simulate(&[&demo_file(&dir), "--events", "digits:1"]);
    assert_eq!(
        commands(&lines),
        pairs(&[
            ("play", "welcome"),
            ("gather", "menu"),
            ("play", "sales"),
            ("play", "goodbye"),
            ("hangup", "hangup"),
        ])
    );
    assert_eq!(
        command_at(&lines, "welcome")["audio"],
        serde_json::json!([{"catalog": "welcome"}])
    );
    assert_eq!(command_at(&lines, "menu")["max_digits"], 1);
    assert_eq!(text(end(&lines), "end"), "hangup");
    assert_eq!(text(end(&lines), "node"), "hangup");
    assert_eq!(end_var(&lines, "voipbin.call.digits"), Some("1"));
    assert_eq!(end_var(&lines, "caller_cid"), Some("+15550000001"));
    assert_eq!(end_var(&lines, "callee"), Some("1000"));
}

#[test]
fn demo_timeouts_replay_the_menu_then_say_goodbye() {
    let dir = temp_dir();
    let lines = simulate(&[&demo_file(&dir), "--events", "timeout,timeout,timeout"]);
    assert_eq!(
        commands(&lines),
        pairs(&[
            ("play", "welcome"),
            ("gather", "menu"),
            ("play", "menu"),
            ("gather", "menu"),
            ("play", "menu"),
            ("gather", "menu"),
            ("play", "goodbye"),
            ("hangup", "hangup"),
        ])
    );
    let events: Vec<&str> = lines
        .iter()
        .filter(|line| text(line, "trace") == "event")
        .map(|line| text(line, "event"))
        .collect();
    assert_eq!(events, ["timeout", "timeout", "timeout"]);
    assert_eq!(text(end(&lines), "end"), "hangup");
}

#[test]
fn running_out_of_events_ends_the_simulation_at_the_waiting_node() {
    let lines = simulate(&["builtin:demo"]);
    let last = end(&lines);
    assert_eq!(text(last, "end"), "events_exhausted");
    assert_eq!(text(last, "waiting_for"), "menu");
    assert!(last.get("vars").is_some());
    let lines = simulate(&["builtin:demo", "--events", "digits:2,hangup,busy"]);
    assert_eq!(
        end(&lines)["unused_events"],
        serde_json::json!(["hangup", "busy"])
    );
}

#[test]
fn business_hours_take_a_different_branch_at_night() {
    let flow = seed("seed002_business_hours.json");
    let day = simulate(&[&flow, "--at", MONDAY_10H]);
    let day_nodes: Vec<String> = commands(&day).into_iter().map(|(_, node)| node).collect();
    assert!(
        day_nodes.contains(&"during-hours".to_owned()),
        "{day_nodes:?}"
    );
    assert!(
        !day_nodes.contains(&"after-hours".to_owned()),
        "{day_nodes:?}"
    );
    assert_eq!(text(end(&day), "end"), "events_exhausted");
    assert_eq!(text(command_at(&day, "#4"), "kind"), "queue");

    let night = simulate(&[&flow, "--at", MONDAY_22H]);
    assert_eq!(
        commands(&night),
        pairs(&[
            ("answer", "#0"),
            ("play", "after-hours"),
            ("play", "#7"),
            ("record_start", "#8"),
            ("play", "#9"),
            ("hangup", "#10"),
        ])
    );
    assert_eq!(text(end(&night), "end"), "hangup");
    let decisions: Vec<&str> = night
        .iter()
        .filter(|line| text(line, "trace") == "decision")
        .map(|line| text(line, "outcome"))
        .collect();
    assert_eq!(decisions, ["true", "false"]);
}

#[test]
fn schedules_and_destinations_come_from_the_config() {
    let dir = temp_dir();
    let config = write(
        dir.path(),
        "callplane.toml",
        r#"
[[schedule]]
id = "sch_01j0jvpe0wzc6g05bktfew0xyx"
timezone = "Europe/London"
hours = [{ days = "mon-fri", open = "09:00", close = "17:00" }]

[[queue]]
id = "q_01jx67hmyhnks8yq7m76g5qrrj"

[[queue]]
id = "q_01j160r23gw5zkpfjme3fwzs5k"

[[voicemail]]
id = "vm_01jg8asp59ps9rtt7azhrhvcre"
"#,
    );
    let flow = seed("seed000_support_line.json");
    let open = simulate(&[
        &flow, "--config", &config, "--at", MONDAY_10H, "--events", "digits:2",
    ]);
    assert_eq!(
        commands(&open),
        pairs(&[("gather", "welcome"), ("connect", "supQ")])
    );
    assert_eq!(
        command_at(&open, "supQ")["targets"],
        serde_json::json!(["q_01j160r23gw5zkpfjme3fwzs5k"])
    );
    let closed = simulate(&[
        &flow, "--config", &config, "--at", MONDAY_22H, "--events", "done",
    ]);
    assert_eq!(commands(&closed), pairs(&[("connect", "vm")]));
    assert_eq!(text(command_at(&closed, "vm"), "kind"), "voicemail");
    assert_eq!(text(end(&closed), "end"), "no_edge");

    // Without the schedule the time condition cannot be decided.
    let unknown = simulate(&[&flow, "--at", MONDAY_10H]);
    assert_eq!(text(end(&unknown), "end"), "failed");
}

#[test]
fn personalized_greeting_speaks_the_name_the_webhook_returned() {
    let flow = seed("seed002_personalized_greeting.json");
    let lines = simulate(&[
        &flow,
        "--from",
        "+15557654321",
        "--events",
        r#"http:200:{"customer":{"name":"John","tier":"vip"}}"#,
    ]);
    let request = command_at(&lines, "fetch-customer");
    assert_eq!(text(request, "command"), "http");
    assert_eq!(request["wait"], true);
    assert_eq!(text(request, "body"), r#"{"phone": "+15557654321"}"#);
    assert!(lines.iter().any(
        |line| text(line, "trace") == "http_request" && text(line, "node") == "fetch-customer"
    ));
    assert!(lines
        .iter()
        .any(|line| text(line, "trace") == "var_set" && text(line, "key") == "customer.name"));
    assert!(
        spoken(&lines).contains(&"Hello John. Welcome back to our service.".to_owned()),
        "{:?}",
        spoken(&lines)
    );
    assert_eq!(text(command_at(&lines, "vip-service"), "kind"), "dial");
    assert_eq!(text(end(&lines), "waiting_for"), "vip-service");
    assert_eq!(end_var(&lines, "customer.tier"), Some("vip"));

    // A failed lookup falls back to the --var and to the standard queue.
    let fallback = simulate(&[&flow, "--var", "customer.name=Zoe", "--events", "http:500"]);
    assert!(spoken(&fallback).contains(&"Hello Zoe. Welcome back to our service.".to_owned()));
    assert!(commands(&fallback).contains(&("play".to_owned(), "standard-service".to_owned())));
    assert!(fallback
        .iter()
        .any(|line| text(line, "trace") == "unknown_variable"
            && text(line, "name") == "customer.tier"));
}

#[test]
fn callback_request_collects_digits_and_posts_the_callers_number() {
    let lines = simulate(&[
        &seed("seed002_callback_request.json"),
        "--events",
        "digits:2",
        "--events",
        r#"digits:#,http:200:{"scheduled":true}"#,
    ]);
    let body = text(command_at(&lines, "schedule-callback"), "body");
    assert_eq!(
        body,
        r#"{"phone": "+15550000001", "call_id": "simulated-call"}"#
    );
    assert!(spoken(&lines)
        .iter()
        .any(|text| text.contains("callback at +15550000001 within")));
    assert_eq!(text(end(&lines), "end"), "hangup");
    assert_eq!(end_var(&lines, "callback.number"), Some("+15550000001"));
}

#[test]
fn recording_consent_records_only_after_a_yes() {
    let flow = seed("seed002_recording_consent.json");
    let yes = simulate(&[&flow, "--events", "digits:1"]);
    assert!(commands(&yes).contains(&("record_start".to_owned(), "start-recording".to_owned())));
    assert_eq!(end_var(&yes, "recording.consent"), Some("yes"));
    let no = simulate(&[&flow, "--events", "digits:2"]);
    assert!(!commands(&no).iter().any(|(kind, _)| kind == "record_start"));
    assert_eq!(end_var(&no, "recording.consent"), Some("no"));
}

#[test]
fn failover_tries_the_next_contact_when_nobody_answers() {
    let flow = seed("seed002_failover.json");
    let lines = simulate(&[&flow, "--events", "no_answer,busy"]);
    let nodes: Vec<String> = commands(&lines).into_iter().map(|(_, node)| node).collect();
    assert_eq!(
        nodes,
        [
            "#0",
            "#1",
            "try-primary",
            "try-secondary",
            "#6",
            "try-queue",
            "#10"
        ]
    );
    let answered = simulate(&[&flow, "--events", "answered,bridge_ended"]);
    assert!(answered.iter().any(|line| text(line, "trace") == "bridged"));
    assert_eq!(
        commands(&answered).last().map(|(kind, _)| kind.as_str()),
        Some("hangup")
    );
}

#[test]
fn language_selection_fetches_the_main_menu_from_the_flows_dir() {
    let flows = flows_dir(&[("seed002_language_main_menu.json", "main-menu-flow-id")]);
    let dir = flows.path().display().to_string();
    let flow = seed("seed002_language_selection.json");
    let lines = simulate(&[&flow, "--flows", &dir, "--events", "digits:2"]);
    let fetched = lines
        .iter()
        .find(|line| text(line, "trace") == "flow_started" && text(line, "reason") == "fetch")
        .unwrap_or_else(|| panic!("no fetch: {lines:?}"));
    assert_eq!(text(fetched, "flow_id"), "main-menu-flow-id");
    let menu = lines
        .iter()
        .rfind(|line| text(line, "command") == "play")
        .unwrap_or(&Value::Null);
    assert_eq!(
        menu.pointer("/audio/0/speak/language"),
        Some(&Value::from("es-ES"))
    );
    assert_eq!(text(end(&lines), "end"), "end_of_actions");
    assert_eq!(end_var(&lines, "language"), Some("es-ES"));

    let french = simulate(&[&flow, "--flows", &dir, "--events", "digits:3"]);
    assert_eq!(end_var(&french, "language"), Some("fr-FR"));

    // Without the flows dir the fetch names a flow that is not published.
    let missing = simulate(&[&flow, "--events", "digits:1"]);
    assert_eq!(text(end(&missing), "end"), "flow_not_found");
}

#[test]
fn a_completed_support_call_starts_the_survey_flow() {
    let flows = flows_dir(&[("seed002_survey_post_call.json", "post-call-survey-flow-id")]);
    let dir = flows.path().display().to_string();
    let lines = simulate(&[
        &seed("seed002_survey_support_call.json"),
        "--flows",
        &dir,
        "--events",
        "answered,hangup",
    ]);
    let ended = lines
        .iter()
        .position(|line| text(line, "trace") == "flow_ended")
        .unwrap_or_else(|| panic!("no flow_ended: {lines:?}"));
    assert_eq!(text(&lines[ended], "reason"), "caller_hangup");
    assert_eq!(text(&lines[ended], "flow_id"), "Support Call");
    let started = &lines[ended + 1];
    assert_eq!(text(started, "trace"), "flow_started");
    assert_eq!(text(started, "reason"), "on_complete");
    assert_eq!(text(started, "flow_id"), "post-call-survey-flow-id");
    let survey_call = commands(&lines[ended..]);
    assert_eq!(survey_call, pairs(&[("connect", "#0")]));
    assert_eq!(text(command_at(&lines[ended..], "#0"), "kind"), "call");
    assert_eq!(text(end(&lines), "flow_id"), "post-call-survey-flow-id");
    assert_eq!(
        end_var(&lines, "voipbin.activeflow.complete_count"),
        Some("1")
    );
}

fn seed_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/flows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn flow_check_accepts_every_seed_flow() {
    let files = seed_files();
    assert!(files.len() > 10, "{files:?}");
    for file in files {
        let name = file.display().to_string();
        let output = callplane(&["flow", "check", &name]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{name}:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
}

#[test]
fn every_seed_flow_simulates_to_an_end_line() {
    for file in seed_files() {
        simulate(&[&file.display().to_string(), "--at", MONDAY_10H]);
    }
}

const BROKEN_FLOW: &str = r#"{"id": "broken", "version": 1, "start": "menu",
  "nodes": [{"id": "menu", "type": "menu", "data": {"kind": "menu", "promptId": "menu", "maxDigits": "two"}}],
  "edges": [{"source": "menu", "target": "nowhere"}]}"#;

#[test]
fn flow_check_names_the_json_path_of_each_problem() {
    let dir = temp_dir();
    let file = write(dir.path(), "broken.json", BROKEN_FLOW);
    let output = callplane(&["flow", "check", &file]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("nodes[0].data.maxDigits"), "{stdout}");
    assert!(stdout.contains("edges[0].target"), "{stdout}");
}

#[test]
fn simulating_an_invalid_flow_lists_its_problems_and_exits_1() {
    let dir = temp_dir();
    let file = write(dir.path(), "broken.json", BROKEN_FLOW);
    let output = callplane(&["flow", "simulate", &file, "--events", "digits:1"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let problems: Vec<&str> = stderr.lines().collect();
    assert!(problems.len() >= 2, "{stderr}");
    for problem in &problems {
        assert!(problem.starts_with(&format!("{file}: ")), "{problem}");
    }
    assert!(stderr.contains("nodes[0].data.maxDigits: "), "{stderr}");

    let actions = write(
        dir.path(),
        "actions.json",
        r#"{"id": "a", "actions": [{"type": "talk", "option": {}}]}"#,
    );
    let output = callplane(&["flow", "simulate", &actions]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("actions[0]"));
}

#[test]
fn a_missing_flow_file_or_bad_config_exits_1_with_one_line() {
    let dir = temp_dir();
    let config = write(dir.path(), "bad.toml", "[sip]\nlisten = 5\n");
    for args in [
        vec!["flow", "simulate", "/nonexistent/flow.json"],
        vec!["flow", "simulate", "builtin:demo", "--config", &config],
    ] {
        let output = callplane(&args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    }
}

#[test]
fn bad_arguments_exit_2_with_one_line_naming_them() {
    for (args, named) in [
        (vec!["--var", "novalue"], "--var"),
        (vec!["--var", "=x"], "--var"),
        (vec!["--at", "tomorrow"], "--at"),
        (vec!["--at", "2026-03-02 10:00"], "--at"),
        (vec!["--events", "digits:1,fax"], "--events"),
        (vec!["--events", "http:200:{\"a\":1"], "--events"),
        (vec!["--events", "http:abc"], "--events"),
    ] {
        let mut all = vec!["flow", "simulate", "builtin:demo"];
        all.extend_from_slice(&args);
        let output = callplane(&all);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
}
