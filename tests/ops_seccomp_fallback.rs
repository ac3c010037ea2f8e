//! Docker's default seccomp profile refuses io_uring: `callplane serve` with
//! `--io auto` must then run on epoll by itself and say so. Shown without
//! Docker: the server starts under a seccomp filter (installed between fork
//! and exec) that fails `io_uring_setup` with EPERM, logs the fallback, and a
//! sipp call completes through the demo flow.

mod common;

use std::time::Duration;

use common::{dtmf_pcap, Backend, RtpListener, Server, ServerOptions, Sipp, TestDir};

// Classic BPF, as seccomp(2) reads it.
/// BPF_LD (0) | BPF_W (0) | BPF_ABS (0x20): load a 32-bit word of seccomp_data.
const BPF_LD_W_ABS: u16 = 0x20;
/// BPF_JMP (5) | BPF_JEQ (0x10) | BPF_K (0): jump if equal to `k`.
const BPF_JEQ_K: u16 = 0x15;
/// BPF_RET (6) | BPF_K (0): return `k`.
const BPF_RET_K: u16 = 0x06;
/// `offsetof(struct seccomp_data, nr)`.
const SECCOMP_DATA_NR: u32 = 0;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;

/// io_uring_setup → EPERM, everything else allowed (the same answer Docker's
/// default profile gives). The architecture is not checked: the test's own
/// child runs one.
static DENY_IO_URING: [libc::sock_filter; 4] = [
    libc::sock_filter {
        code: BPF_LD_W_ABS,
        jt: 0,
        jf: 0,
        k: SECCOMP_DATA_NR,
    },
    libc::sock_filter {
        code: BPF_JEQ_K,
        jt: 0,
        jf: 1,
        k: libc::SYS_io_uring_setup as u32,
    },
    libc::sock_filter {
        code: BPF_RET_K,
        jt: 0,
        jf: 0,
        k: SECCOMP_RET_ERRNO | libc::EPERM as u32,
    },
    libc::sock_filter {
        code: BPF_RET_K,
        jt: 0,
        jf: 0,
        k: SECCOMP_RET_ALLOW,
    },
];

/// Installs [`DENY_IO_URING`] in the calling process: runs in the child
/// between fork and exec, so it only makes the two syscalls.
fn deny_io_uring() -> std::io::Result<()> {
    let program = libc::sock_fprog {
        len: DENY_IO_URING.len() as u16,
        filter: DENY_IO_URING.as_ptr().cast_mut(),
    };
    // SAFETY: prctl and seccomp with valid arguments; `program` points at a
    // static filter that outlives the call (the kernel copies it).
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &program as *const libc::sock_fprog,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[test]
fn io_auto_falls_back_to_epoll_when_seccomp_refuses_io_uring() {
    common::sipp::require_sipp();
    let _exclusive = common::heavy_test_lock();
    let dir = TestDir::new("seccomp-fallback");
    let server = Server::start(
        Backend::Epoll,
        dir.path(),
        &ServerOptions {
            io: Some("auto"),
            shards: Some(2),
            before_exec: Some(deny_io_uring),
            ..ServerOptions::default()
        },
    );
    // Both shards fell back, and said why.
    server.assert_backend_logged();
    let log = server.log();
    let fallbacks = log
        .lines()
        .filter(|line| {
            line.contains("io_uring unavailable")
                && line.contains("seccomp")
                && line.contains("falling back to epoll")
        })
        .count();
    assert_eq!(fallbacks, 2, "one fallback line per shard:\n{log}");
    assert!(
        log.contains("Operation not permitted"),
        "the refusal's errno is shown:\n{log}"
    );

    let sipp = Sipp::new("uac_dtmf.xml", "uac_dtmf", dir.path())
        .target(server.sip_addr())
        .key("dtmf_pcap", dtmf_pcap('1').display().to_string())
        .set("dtmf_delay_ms", "3000")
        .timeout(Duration::from_secs(45));
    let listener = RtpListener::bind(sipp.audio_port());
    let run = sipp.run();
    let capture = listener.finish();
    run.assert_passed(1);
    assert!(
        capture.loud_ulaw_packets(0, 1000.0) > 50,
        "the caller heard no prompt: {}",
        capture.summary()
    );
    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    assert_eq!(cdrs[0].digits(), vec!["1".to_string()]);
    assert_eq!(cdrs[0].str("hangup_cause"), "normal_clearing");
}
