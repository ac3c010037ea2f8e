//! The end-to-end harness shared by `tests/e2e_*.rs`: a per-test work directory,
//! free ports, the callplane server under test, sipp runs, the caller's RTP
//! listener, CDR reading and baresip as a softphone peer (`baresip.rs`). Needs sipp (Debian `sip-tester`) and root for
//! sipp's pcap playback: see `scripts/install-test-deps.sh`.
//!
//! Every server test runs once per io backend; [`for_each_backend!`] writes the
//! two `#[test]` functions.

// Each test binary uses a different part of the harness.
#![allow(dead_code, unused_imports, unused_macros)]

pub mod api;
pub mod baresip;
pub mod cdr;
pub mod http;
pub mod impair;
pub mod pcap;
pub mod ports;
pub mod rtp;
pub mod server;
pub mod sipp;
pub mod tls;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

pub use cdr::Cdr;
pub use rtp::{RtpCapture, RtpListener};
pub use server::{Backend, Server, ServerOptions};
pub use sipp::{dtmf_pcap, Sipp, SippRun};

/// Writes, for each `name => function;`, a module `name` with two tests,
/// `io_uring` and `epoll`, each calling `function(Backend)`.
macro_rules! for_each_backend {
    ($($name:ident => $body:ident;)+) => {
        $(
            mod $name {
                #[test]
                fn io_uring() {
                    super::$body($crate::common::Backend::Uring);
                }

                #[test]
                fn epoll() {
                    super::$body($crate::common::Backend::Epoll);
                }
            }
        )+
    };
}
pub(crate) use for_each_backend;

/// A test's scratch directory: removed when the test passes, kept (and its path
/// printed) when it fails or when `CALLPLANE_E2E_KEEP` is set.
pub struct TestDir {
    dir: Option<tempfile::TempDir>,
}

impl TestDir {
    /// A fresh directory named after the test.
    pub fn new(test_name: &str) -> TestDir {
        let dir = tempfile::Builder::new()
            .prefix(&format!("callplane-e2e-{test_name}-"))
            .tempdir()
            .expect("create the test directory");
        TestDir { dir: Some(dir) }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        match &self.dir {
            Some(dir) => dir.path(),
            None => Path::new("."),
        }
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let keep = std::thread::panicking() || std::env::var_os("CALLPLANE_E2E_KEEP").is_some();
        if let (true, Some(dir)) = (keep, self.dir.take()) {
            let path = dir.keep();
            eprintln!("test files kept in {}", path.display());
        }
    }
}

static HEAVY_TEST: Mutex<()> = Mutex::new(());

/// Held by tests that put real load on the machine (the 100-call runs), so at
/// most one of them runs at a time.
pub fn heavy_test_lock() -> MutexGuard<'static, ()> {
    HEAVY_TEST
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Fails the test with an install hint when `tool` (run with `version_arg`)
/// cannot be started: the tools come from `scripts/install-test-deps.sh`.
pub fn require_tool(tool: &str, version_arg: &str) {
    let found = std::process::Command::new(tool)
        .arg(version_arg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "{tool} is not installed: run scripts/install-test-deps.sh"
    );
}
