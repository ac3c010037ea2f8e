//! The operator's commands and files: `callplane config check` on good and bad
//! configurations, `callplane --version`, and the systemd unit (checked by
//! `systemd-analyze verify` where it is installed).

use std::path::Path;
use std::process::{Command, Output};

fn callplane(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_callplane"))
        .args(args)
        .output()
        .expect("run callplane")
}

fn check(dir: &Path, name: &str, text: &str) -> (bool, Vec<String>) {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the config");
    let output = callplane(&["config", "check", path.to_str().expect("utf-8 path")]);
    let lines = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    (output.status.success(), lines)
}

#[test]
fn config_check_accepts_a_good_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ok, lines) = check(
        dir.path(),
        "good.toml",
        "[sip]\nlisten = \"127.0.0.1:5070\"\n[metrics]\nlisten = \"127.0.0.1:9500\"\n[log]\nlevel = \"info,callplane::call=debug\"\nformat = \"json\"\n",
    );
    assert!(ok, "{lines:?}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].ends_with("good.toml: ok"), "{lines:?}");
}

#[test]
fn config_check_names_what_and_where() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A misspelt key: the line and the key.
    let (ok, lines) = check(
        dir.path(),
        "typo.toml",
        "[sip]\nlisten = \"127.0.0.1:5070\"\nlisen = 1\n",
    );
    assert!(!ok);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("typo.toml") && lines[0].contains("line 3"),
        "{lines:?}"
    );
    assert!(lines[0].contains("lisen"), "{lines:?}");

    // A bad metrics address.
    let (ok, lines) = check(
        dir.path(),
        "metrics.toml",
        "[metrics]\nlisten = \"nowhere\"\n",
    );
    assert!(!ok);
    assert!(
        lines[0].contains("metrics.toml") && lines[0].contains("line 2"),
        "{lines:?}"
    );

    // Faults found after parsing, one line each: a level that is no filter,
    // a prompt directory that is not there, a route to a flow file that is not there.
    let (ok, lines) = check(
        dir.path(),
        "faults.toml",
        "[log]\nlevel = \"callplane=loud\"\n[server]\nprompts_dir = \"/nonexistent/prompts\"\n[routing]\ndefault_flow = \"/nonexistent/flow.json\"\n",
    );
    assert!(!ok);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].contains("log.level") && lines[0].contains("callplane=loud"),
        "{lines:?}"
    );
    assert!(lines[1].contains("server.prompts_dir"), "{lines:?}");
    assert!(lines[2].contains("/nonexistent/flow.json"), "{lines:?}");

    // A file that is not there.
    let output = callplane(&["config", "check", "/nonexistent/callplane.toml"]);
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("cannot read /nonexistent/callplane.toml"),
        "{text}"
    );
}

#[test]
fn version_names_the_release_and_what_it_speaks() {
    let short = callplane(&["-V"]);
    assert!(short.status.success());
    assert_eq!(
        String::from_utf8_lossy(&short.stdout).trim(),
        format!("callplane {}", env!("CARGO_PKG_VERSION"))
    );
    let long = callplane(&["--version"]);
    assert!(long.status.success());
    let text = String::from_utf8_lossy(&long.stdout);
    assert!(
        text.starts_with(&format!("callplane {}\n", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    for feature in ["io_uring", "epoll", "Opus", "TLS", "/metrics"] {
        assert!(text.contains(feature), "--version lacks {feature}: {text}");
    }
}

#[test]
fn a_bad_log_format_flag_is_one_line() {
    let output = callplane(&["serve", "--log-format", "xml"]);
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(
        text.contains("--log-format") && text.contains("xml"),
        "{text}"
    );
}

const UNIT: &str = include_str!("../packaging/callplane.service");

#[test]
fn the_systemd_unit_has_what_the_service_needs() {
    for directive in [
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "User=callplane",
        "LimitNOFILE=",
        "Restart=on-failure",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "ExecStart=/usr/local/bin/callplane serve",
    ] {
        assert!(
            UNIT.lines().any(|line| line.starts_with(directive)),
            "the unit lacks {directive}"
        );
    }
}

#[test]
fn systemd_analyze_verifies_the_unit() {
    let available = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !available {
        eprintln!("systemd-analyze not installed (Debian systemd): unit not verified");
        return;
    }
    // The unit as installed, naming the binary under test (verify checks
    // that ExecStart exists).
    let dir = tempfile::tempdir().expect("temp dir");
    let unit = UNIT.replace("/usr/local/bin/callplane", env!("CARGO_BIN_EXE_callplane"));
    let path = dir.path().join("callplane.service");
    std::fs::write(&path, unit).expect("write the unit");
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .current_dir(dir.path())
        .output()
        .expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "systemd-analyze verify: {stderr}");
    assert!(
        !stderr.contains("callplane.service"),
        "systemd-analyze found faults in the unit: {stderr}"
    );
}

#[test]
fn config_check_takes_speech_settings_and_names_a_bad_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ok, lines) = check(
        dir.path(),
        "speech.toml",
        "[speech]\nworkers = 3\nqueue = 10\nmemory_entries = 100\ntimeout_ms = 4000\ncache_dir = \"/var/cache/speech\"\n",
    );
    assert!(ok, "{lines:?}");
    assert!(lines[0].ends_with("speech.toml: ok"), "{lines:?}");
    let (ok, lines) = check(dir.path(), "slow.toml", "[speech]\ntimeout_ms = 0\n");
    assert!(!ok);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("slow.toml") && lines[0].contains("speech.timeout_ms: 0"),
        "{lines:?}"
    );
}
