//! The server's life: SIGTERM drains (calls in progress are hung up with a
//! BYE, their CDRs written, a clean exit — nothing is lost), and a second
//! instance on the same SIP address refuses to start instead of silently
//! sharing the port.

mod common;

use std::thread;
use std::time::Duration;

use common::{Backend, Server, ServerOptions, Sipp, TestDir};

#[test]
fn sigterm_hangs_up_calls_in_progress_and_writes_their_cdrs() {
    common::sipp::require_sipp();
    let dir = TestDir::new("drain");
    let mut server = Server::start(Backend::Uring, dir.path(), &ServerOptions::default());
    let caller = {
        let dir = dir.path().to_path_buf();
        let sip = server.sip_addr();
        thread::spawn(move || {
            Sipp::new("uac_wait_bye.xml", "drain", &dir)
                .target(sip)
                .timeout(Duration::from_secs(30))
                .run()
        })
    };
    // The demo flow is in its welcome prompt: far from its own hangup.
    thread::sleep(Duration::from_millis(1500));
    let status = server.stop().expect("the server exits");
    assert!(status.success(), "exit status {status:?}\n{}", server.log());
    caller.join().expect("sipp thread").assert_passed(1);
    let cdrs = server.cdrs();
    assert_eq!(cdrs.len(), 1, "{cdrs:#?}");
    assert_eq!(cdrs[0].str("hangup_cause"), "shutdown");
    assert_eq!(cdrs[0].str("hangup_side"), "callplane");
    assert!(
        server.log().contains("shutting down, 1 call(s) to drain"),
        "{}",
        server.log()
    );
}

#[test]
fn a_second_instance_on_the_same_address_refuses_to_start() {
    let dir = TestDir::new("second-instance");
    let server = Server::start(Backend::Epoll, dir.path(), &ServerOptions::default());
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_callplane"))
        .args([
            "serve",
            "--listen",
            &server.sip_addr().to_string(),
            "--data-dir",
        ])
        .arg(dir.path().join("second"))
        .output()
        .expect("run callplane");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is in use"), "{stderr}");
    assert!(stderr.contains(&server.sip_addr().to_string()), "{stderr}");
}
