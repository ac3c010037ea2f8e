//! `callplane bench options`: how many SIP transactions a server answers
//! per second. A closed loop of out-of-dialog OPTIONS (RFC 3261 §11) over UDP
//! on a shard backend: `--window` transactions are kept in flight, each
//! with its own branch, Call-ID and From tag, and every answer sends the
//! next. sipp saturates its own core near 15,000 OPTIONS/s here, below what
//! one callplane shard answers; this loop costs a few microseconds per
//! transaction, so the server's core is the one that saturates.
//!
//! Answers are matched by counting, not by transaction: a `SIP/2.0 200`
//! counts as answered, any other status as refused. Datagrams lost on a
//! full socket buffer shrink the window; the requests in flight are
//! counted lost after a quiet spell of 250 ms and the window is refilled.

use std::fmt::Write as _;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;

use super::udp::{pin_to, thread_cpu_seconds};
use super::CpuSampler;
use crate::shard::{open_backend, Completion, IoBackend, IoChoice, Waker, RTP_DATAGRAM};

/// How long no answer may come before the requests in flight count as lost.
const QUIET_SPELL: Duration = Duration::from_millis(250);

/// `callplane bench options`.
#[derive(Args, Debug)]
pub struct OptionsArgs {
    /// The SIP server, HOST:PORT (UDP).
    pub target: SocketAddr,
    /// io backend of the generator: uring or epoll.
    #[arg(long, default_value = "epoll")]
    pub io: String,
    /// Seconds to run.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Transactions kept in flight.
    #[arg(long, default_value_t = 256)]
    pub window: usize,
    /// Pin the generator to this core.
    #[arg(long)]
    pub pin: Option<usize>,
    /// The server's pid: its CPU time over the run is read from /proc.
    #[arg(long)]
    pub server_pid: Option<u32>,
}

/// The figures of one run.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct OptionsResult {
    /// OPTIONS sent, first sends and window top-ups alike.
    pub sent: u64,
    /// `200` answers received.
    pub answered: u64,
    /// Answers with any other status.
    pub refused: u64,
    /// Requests or answers lost on the way: unanswered after a quiet spell,
    /// and at the end.
    pub lost: u64,
    /// Wall time, s.
    pub seconds: f64,
    /// Answers per wall second.
    pub answered_per_second: f64,
    /// CPU seconds the generator used.
    pub generator_cpu_s: f64,
}

/// Runs the loop and prints its figures.
pub fn run(args: &OptionsArgs) -> Result<ExitCode, String> {
    let io: IoChoice = args.io.parse().map_err(|e| format!("--io: {e}"))?;
    if !(args.duration.is_finite() && args.duration > 0.0) {
        return Err(format!(
            "--duration {}: expected seconds above 0",
            args.duration
        ));
    }
    if args.window == 0 {
        return Err("--window 0: expected at least 1".into());
    }
    let server = args.server_pid.map(CpuSampler::new);
    let server_before = server.as_ref().map(CpuSampler::cpu_seconds).transpose()?;
    let result = options_loop(
        io,
        args.target,
        Duration::from_secs_f64(args.duration),
        args.window,
        args.pin,
    )
    .map_err(|err| format!("{}: {err}", args.target))?;
    let server_cpu = match (&server, server_before) {
        (Some(server), Some(before)) => Some(server.cpu_seconds()? - before),
        _ => None,
    };
    print!(
        "{:.0} OPTIONS answered/s ({} answered, {} refused, {} lost, {} sent in {:.2} s; generator {:.2} s cpu)",
        result.answered_per_second,
        result.answered,
        result.refused,
        result.lost,
        result.sent,
        result.seconds,
        result.generator_cpu_s
    );
    match server_cpu {
        Some(cpu) if cpu > 0.0 => println!(
            "; server {:.2} s cpu = {:.0}% of a core, {:.0} answered per server cpu-second",
            cpu,
            cpu / result.seconds * 100.0,
            result.answered as f64 / cpu
        ),
        _ => println!(),
    }
    if result.answered == 0 {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// One OPTIONS request, numbered `n`, from `local` to `target`.
fn write_options(buf: &mut String, n: u64, local: SocketAddr, target: SocketAddr, tag: u32) {
    buf.clear();
    let _ = write!(
        buf,
        "OPTIONS sip:{target} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-{tag:x}-{n:x};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:bench@{local}>;tag={tag:x}{n:x}\r\n\
         To: <sip:{target}>\r\n\
         Call-ID: {tag:x}-{n:x}@bench\r\n\
         CSeq: 1 OPTIONS\r\n\
         Contact: <sip:bench@{local}>\r\n\
         Accept: application/sdp\r\n\
         Content-Length: 0\r\n\r\n"
    );
}

/// Waits up to 20 ms for answers and counts them: a `200` as answered, any
/// other status as refused. Returns how many came.
fn take_answers(
    backend: &mut Box<dyn IoBackend>,
    out: &mut Vec<Completion>,
    answered: &mut u64,
    refused: &mut u64,
) -> io::Result<u64> {
    out.clear();
    backend.wait(Some(Duration::from_millis(20)), out)?;
    let mut got = 0;
    for completion in out.drain(..) {
        if let Completion::Recv { slot, len, .. } = completion {
            if backend.recv_data(slot, len).starts_with(b"SIP/2.0 200") {
                *answered += 1;
            } else {
                *refused += 1;
            }
            backend.release(slot);
            got += 1;
        }
    }
    Ok(got)
}

/// Runs the closed loop for `duration` with `window` transactions in flight.
pub fn options_loop(
    io: IoChoice,
    target: SocketAddr,
    duration: Duration,
    window: usize,
    pin: Option<usize>,
) -> io::Result<OptionsResult> {
    if let Some(core) = pin {
        pin_to(core);
    }
    let socket = UdpSocket::bind(if target.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    })?;
    // The answers to a whole window can arrive while this thread is off its
    // core: room for them, so that a loss is the server's, not ours.
    let socket = socket2::Socket::from(socket);
    socket.set_recv_buffer_size(4 << 20).ok();
    let socket: UdpSocket = socket.into();
    let local = socket.local_addr()?;
    let waker = Waker::new()?;
    let mut backend = open_backend(io, &waker)?;
    let token = backend.register(socket, 256, RTP_DATAGRAM.max(2048))?;
    let tag = std::process::id();
    let mut message = String::with_capacity(512);
    let mut sent = 0u64;
    let mut answered = 0u64;
    let mut refused = 0u64;
    let mut send_one = |backend: &mut Box<dyn IoBackend>, sent: &mut u64| {
        write_options(&mut message, *sent, local, target, tag);
        backend.send(token, target, message.as_bytes());
        *sent += 1;
    };
    for _ in 0..window {
        send_one(&mut backend, &mut sent);
    }
    // Requests whose answer has not come; declared lost after a quiet spell.
    let mut outstanding = window as u64;
    let mut lost = 0u64;
    let cpu_start = thread_cpu_seconds();
    let start = Instant::now();
    let mut last_progress = start;
    let mut out = Vec::with_capacity(256);
    while start.elapsed() < duration {
        let got = take_answers(&mut backend, &mut out, &mut answered, &mut refused)?;
        if got > 0 {
            last_progress = Instant::now();
            if got > outstanding {
                // Answers to requests already counted lost came after all.
                lost = lost.saturating_sub(got - outstanding);
                outstanding = got;
            }
            outstanding -= got;
        }
        let refill = if last_progress.elapsed() > QUIET_SPELL {
            lost += outstanding;
            outstanding = 0;
            last_progress = Instant::now();
            window as u64
        } else {
            got
        };
        for _ in 0..refill {
            send_one(&mut backend, &mut sent);
        }
        outstanding += refill;
    }
    let seconds = start.elapsed().as_secs_f64();
    // The last window: wait out its answers; what does not come is lost.
    let drain_until = Instant::now() + QUIET_SPELL;
    while outstanding > 0 && Instant::now() < drain_until {
        let got = take_answers(&mut backend, &mut out, &mut answered, &mut refused)?;
        outstanding = outstanding.saturating_sub(got);
    }
    lost += outstanding;
    Ok(OptionsResult {
        sent,
        answered,
        refused,
        lost,
        seconds,
        answered_per_second: answered as f64 / seconds,
        generator_cpu_s: thread_cpu_seconds() - cpu_start,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_request_is_a_new_transaction_of_its_own() {
        let local: SocketAddr = "127.0.0.1:5070".parse().unwrap();
        let target: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let mut a = String::new();
        let mut b = String::new();
        write_options(&mut a, 1, local, target, 7);
        write_options(&mut b, 2, local, target, 7);
        assert!(crate::sip::message::parse_message(a.as_bytes()).is_ok());
        assert!(a.starts_with("OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\n"));
        assert!(a.ends_with("Content-Length: 0\r\n\r\n"));
        let branch = |m: &str| {
            m.lines()
                .find(|l| l.starts_with("Via:"))
                .and_then(|l| l.split("branch=").nth(1))
                .map(str::to_string)
        };
        assert!(branch(&a).is_some());
        assert_ne!(branch(&a), branch(&b));
    }
}
