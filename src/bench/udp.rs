//! `callplane bench udp`: the machine's limit for relaying RTP. Two threads
//! on loopback, each on a shard backend (io_uring or epoll): one sends
//! 172-byte datagrams (one G.711 RTP packet) keeping a window in flight, the
//! other echoes each back. The echo thread's packets per second of its own
//! CPU time is what one core can relay; ÷ 50 it is the most calls one core
//! could carry (50 packets each way per call and second).

use std::io;
use std::net::UdpSocket;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

use crate::shard::{open_backend, Completion, IoChoice, Waker, RTP_DATAGRAM};

/// One G.711 RTP packet: 12-byte header and 160 bytes of audio.
pub const DATAGRAM: usize = 172;

/// `callplane bench udp`.
#[derive(Args, Debug)]
pub struct UdpArgs {
    /// io backend: uring, epoll or both.
    #[arg(long, default_value = "both")]
    pub io: String,
    /// Seconds per backend.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Datagrams kept in flight.
    #[arg(long, default_value_t = 64)]
    pub window: usize,
    /// Pin the echo thread to this core and the sender to the next one.
    #[arg(long)]
    pub pin: Option<usize>,
}

/// The figures of one run.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct UdpResult {
    /// The backend.
    pub backend: String,
    /// Datagrams echoed (round trips).
    pub echoes: u64,
    /// Wall time, s.
    pub seconds: f64,
    /// Round trips per wall second.
    pub echo_pps: f64,
    /// CPU seconds the echo thread used.
    pub echo_cpu_s: f64,
    /// Round trips per CPU second of the echo thread: the per-core limit.
    pub echo_pps_per_core: f64,
}

/// Runs the echo test for each backend asked for and prints the results.
pub fn run(args: &UdpArgs) -> Result<ExitCode, String> {
    let backends: Vec<IoChoice> = match args.io.as_str() {
        "both" => vec![IoChoice::Uring, IoChoice::Epoll],
        other => vec![other.parse().map_err(|e| format!("--io: {e}"))?],
    };
    if !(args.duration.is_finite() && args.duration > 0.0) {
        return Err(format!(
            "--duration {}: expected seconds above 0",
            args.duration
        ));
    }
    if args.window == 0 {
        return Err("--window 0: expected at least 1".into());
    }
    for io in backends {
        let result = echo_test(
            io,
            Duration::from_secs_f64(args.duration),
            args.window,
            args.pin,
        )
        .map_err(|err| format!("{io}: {err}"))?;
        println!(
            "{:<8} {:>10.0} echo pps  {:>10.0} per core  ({} echoes, echo thread {:.2} s cpu in {:.2} s) ≈ {:.0} calls/core",
            result.backend,
            result.echo_pps,
            result.echo_pps_per_core,
            result.echoes,
            result.echo_cpu_s,
            result.seconds,
            result.echo_pps_per_core / 50.0
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn pin_to(core: usize) {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET writes inside it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core % libc::CPU_SETSIZE as usize, &mut set);
        let _ = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// CPU seconds of the calling thread.
pub(crate) fn thread_cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_THREAD, &mut usage) != 0 {
            return 0.0;
        }
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        secs(usage.ru_utime) + secs(usage.ru_stime)
    }
}

/// Echoes for `duration` with `window` datagrams in flight.
pub fn echo_test(
    io: IoChoice,
    duration: Duration,
    window: usize,
    pin: Option<usize>,
) -> io::Result<UdpResult> {
    let echo_socket = UdpSocket::bind("127.0.0.1:0")?;
    let echo_addr = echo_socket.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let echo_stop = stop.clone();
    let echo = std::thread::Builder::new()
        .name("bench-echo".into())
        .spawn(move || -> io::Result<(u64, f64, &'static str)> {
            if let Some(core) = pin {
                pin_to(core);
            }
            let waker = Waker::new()?;
            let mut backend = open_backend(io, &waker)?;
            let token = backend.register(echo_socket, 64, RTP_DATAGRAM)?;
            let cpu_start = thread_cpu_seconds();
            let mut echoed = 0u64;
            let mut out = Vec::with_capacity(128);
            let mut copy = [0u8; RTP_DATAGRAM];
            while !echo_stop.load(Ordering::Relaxed) {
                out.clear();
                backend.wait(Some(Duration::from_millis(50)), &mut out)?;
                for completion in out.drain(..) {
                    if let Completion::Recv {
                        from, slot, len, ..
                    } = completion
                    {
                        let n = len.min(copy.len());
                        copy[..n].copy_from_slice(&backend.recv_data(slot, len)[..n]);
                        backend.release(slot);
                        backend.send(token, from, &copy[..n]);
                        echoed += 1;
                    }
                }
            }
            Ok((echoed, thread_cpu_seconds() - cpu_start, backend.name()))
        })?;

    if let Some(core) = pin {
        pin_to(core + 1);
    }
    let waker = Waker::new()?;
    let mut backend = open_backend(io, &waker)?;
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    let token = backend.register(socket, 64, RTP_DATAGRAM)?;
    let mut packet = [0u8; DATAGRAM];
    packet[0] = 0x80;
    for _ in 0..window {
        backend.send(token, echo_addr, &packet);
    }
    let start = Instant::now();
    let mut received = 0u64;
    let mut out = Vec::with_capacity(128);
    let mut last_progress = Instant::now();
    while start.elapsed() < duration {
        out.clear();
        backend.wait(Some(Duration::from_millis(50)), &mut out)?;
        let mut got = 0;
        for completion in out.drain(..) {
            if let Completion::Recv { slot, .. } = completion {
                backend.release(slot);
                got += 1;
            }
        }
        received += got;
        if got > 0 {
            last_progress = Instant::now();
        }
        for _ in 0..got {
            backend.send(token, echo_addr, &packet);
        }
        // Datagrams dropped on a full socket buffer shrink the window: top it up.
        if last_progress.elapsed() > Duration::from_millis(20) {
            for _ in 0..window {
                backend.send(token, echo_addr, &packet);
            }
            last_progress = Instant::now();
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let (echoed, echo_cpu_s, name) = echo
        .join()
        .map_err(|_| io::Error::other("the echo thread panicked"))??;
    Ok(UdpResult {
        backend: name.to_string(),
        echoes: received,
        seconds,
        echo_pps: received as f64 / seconds,
        echo_cpu_s,
        echo_pps_per_core: if echo_cpu_s > 0.0 {
            echoed as f64 / echo_cpu_s
        } else {
            0.0
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoll_echo_moves_datagrams_and_counts_them() {
        let result = echo_test(IoChoice::Epoll, Duration::from_millis(200), 8, None).unwrap();
        assert_eq!(result.backend, "epoll");
        assert!(result.echoes > 0);
        assert!(result.echo_cpu_s > 0.0);
    }
}
