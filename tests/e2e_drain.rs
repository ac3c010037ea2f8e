//! SIGTERM drains: calls in progress are hung up with a BYE, their CDRs are
//! written, and the server exits cleanly — nothing is lost.

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
