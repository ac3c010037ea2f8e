//! `callplane bench`: the load generator. `bench call` places calls at a
//! rate up to a concurrency against any SIP server, sends G.711 RTP for each,
//! runs a per-call script (keys pressed at given times, hang up or wait for
//! the far end's BYE) and measures what a caller hears: setup time, jitter,
//! loss, which prompts were played in which order and how long after a key
//! the next prompt came. `bench udp` measures the machine's limit: a
//! 172-byte echo over loopback on the same io backends; `bench options`
//! how many SIP transactions a server answers per second.
//!
//! The generator is sans-IO ([`generator::Generator`], one per thread,
//! driven by [`io_loop`] on the shard backends); what it measures is in
//! [`rx_stats`] and [`signature`].

pub mod call;
pub mod generator;
pub mod io_loop;
pub mod options;
pub mod report;
pub mod rx_stats;
pub mod script;
pub mod signature;
pub mod udp;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};

use crate::shard::{Clock, IoChoice};

use call::CallShared;
use generator::GeneratorConfig;
use io_loop::{run_generator, LiveCounters};
use report::{CpuSample, Report};
use script::{parse_press, CallScript, DtmfMode, Press};

/// `callplane bench …`.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Place calls against a SIP server and check what the callers hear.
    Call(Box<CallArgs>),
    /// Echo 172-byte datagrams over loopback: packets per second per core.
    Udp(udp::UdpArgs),
    /// Keep OPTIONS transactions in flight against a SIP server: answers per second.
    Options(options::OptionsArgs),
}

/// `callplane bench call`.
#[derive(Args, Debug)]
pub struct CallArgs {
    /// The SIP server, HOST:PORT (UDP).
    pub target: SocketAddr,
    /// The number dialled (Request-URI user part).
    #[arg(long, default_value = "1000")]
    pub number: String,
    /// Calls started per second (over all cores).
    #[arg(long, default_value_t = 10.0)]
    pub cps: f64,
    /// Most calls up at once (over all cores).
    #[arg(long, default_value_t = 10)]
    pub concurrent: usize,
    /// Start calls for this many seconds.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Start this many calls in all (default without --duration: --concurrent).
    #[arg(long)]
    pub calls: Option<u64>,
    /// Keys to press, KEYS@SECONDS after the answer; repeatable (default: the demo flow's 1@7.0).
    #[arg(long = "press", value_parser = parse_press)]
    pub press: Vec<Press>,
    /// Press no keys at all.
    #[arg(long, conflicts_with = "press")]
    pub no_press: bool,
    /// How keys are sent: rfc4733 or inband.
    #[arg(long, default_value = "rfc4733")]
    pub dtmf: DtmfMode,
    /// Hang up this many seconds after the answer (default: wait for the far end's BYE).
    #[arg(long)]
    pub hangup_after: Option<f64>,
    /// A call still up this many seconds after the answer fails.
    #[arg(long, default_value_t = 30.0)]
    pub max_call_time: f64,
    /// The prompts expected in order, comma-separated catalog ids
    /// (default: the demo flow's welcome,menu,sales,goodbye; "none" checks nothing).
    #[arg(long)]
    pub expect: Option<String>,
    /// Prompt catalog directory (catalog.tsv + WAVs) the server plays (default: the embedded prompts).
    #[arg(long)]
    pub prompts: Option<PathBuf>,
    /// WAV file each call sends, looped (default: silence).
    #[arg(long)]
    pub audio: Option<PathBuf>,
    /// Generator threads.
    #[arg(long, default_value_t = 1)]
    pub cores: usize,
    /// io backend: auto, uring or epoll.
    #[arg(long, default_value = "auto")]
    pub io: IoChoice,
    /// Directory for report.json.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Exit non-zero when more calls than this fail.
    #[arg(long, default_value_t = 0)]
    pub max_failures: usize,
    /// The server's pid: its CPU is sampled from /proc/PID/stat every second.
    #[arg(long)]
    pub server_pid: Option<u32>,
}

/// Runs `callplane bench …`.
pub fn run(command: BenchCommand) -> ExitCode {
    let result = match command {
        BenchCommand::Call(args) => run_call(*args),
        BenchCommand::Udp(args) => udp::run(&args),
        BenchCommand::Options(args) => options::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("callplane bench: {err}");
            ExitCode::from(2)
        }
    }
}

fn seconds(flag: &str, value: f64) -> Result<Duration, String> {
    if value.is_finite() && value >= 0.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(format!("{flag} {value}: expected a number of seconds ≥ 0"))
    }
}

fn build_script(args: &CallArgs) -> Result<CallScript, String> {
    let mut script = CallScript::demo();
    if args.no_press {
        script.presses.clear();
    } else if !args.press.is_empty() {
        script.presses = args.press.clone();
        script.presses.sort_by_key(|p| p.at);
    }
    script.dtmf = args.dtmf;
    script.hangup_after = args
        .hangup_after
        .map(|s| seconds("--hangup-after", s))
        .transpose()?;
    script.max_call = seconds("--max-call-time", args.max_call_time)?;
    if let Some(expect) = &args.expect {
        script.expect = if expect == "none" {
            Vec::new()
        } else {
            expect.split(',').map(|s| s.trim().to_string()).collect()
        };
    }
    Ok(script)
}

fn load_audio(path: &std::path::Path) -> Result<Vec<i16>, String> {
    let bytes = std::fs::read(path).map_err(|err| format!("--audio {}: {err}", path.display()))?;
    crate::media::wav_to_8k_mono(&bytes).map_err(|err| format!("--audio {}: {err}", path.display()))
}

fn run_call(args: CallArgs) -> Result<ExitCode, String> {
    if args.cores == 0 {
        return Err("--cores 0: expected at least 1".into());
    }
    if args.concurrent == 0 {
        return Err("--concurrent 0: expected at least 1".into());
    }
    if !(args.cps.is_finite() && args.cps > 0.0) {
        return Err(format!("--cps {}: expected a rate above 0", args.cps));
    }
    let script = build_script(&args)?;
    let catalog = match &args.prompts {
        Some(dir) => crate::assets::prompts_from_dir(dir).map_err(|e| format!("--prompts: {e}"))?,
        None => crate::assets::embedded_prompts()?,
    };
    let signatures = signature::catalog_signatures(&catalog);
    for id in &script.expect {
        if !signatures.iter().any(|s| s.id() == id) {
            return Err(format!(
                "--expect: no prompt {id:?} in the catalog (known: {})",
                signatures
                    .iter()
                    .map(|s| s.id())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let audio = match &args.audio {
        Some(path) => load_audio(path)?,
        None => Vec::new(),
    };
    let duration = args
        .duration
        .map(|s| seconds("--duration", s))
        .transpose()?;
    let calls = match (args.calls, duration) {
        (Some(n), _) => Some(n),
        (None, Some(_)) => None,
        (None, None) => Some(args.concurrent as u64),
    };
    let shared = Arc::new(CallShared {
        script: script.clone(),
        audio,
        signatures,
    });

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())
            .map_err(|err| format!("cannot handle signal {signal}: {err}"))?;
    }
    // Call-IDs and tags differ from every other generator's, even one started
    // at the same moment against the same server.
    let run_seed = u64::from(std::process::id()) << 32
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    let clock = Clock::start();
    let started = Instant::now();
    let cores = args.cores;
    let mut threads = Vec::new();
    let mut lives = Vec::new();
    for index in 0..cores {
        let share =
            |total: u64| total / cores as u64 + u64::from((index as u64) < total % cores as u64);
        let config = GeneratorConfig {
            target: args.target,
            number: args.number.clone(),
            local_sip: args.target,
            cps: args.cps / cores as f64,
            concurrent: share(args.concurrent as u64).max(1) as usize,
            calls: calls.map(share),
            duration,
            seed: run_seed.wrapping_add(index as u64),
        };
        let live = Arc::new(LiveCounters::default());
        lives.push(live.clone());
        let (shared, stop, io) = (shared.clone(), stop.clone(), args.io);
        let thread = std::thread::Builder::new()
            .name(format!("bench-{index}"))
            .spawn(move || run_generator(clock, io, config, shared, stop, live))
            .map_err(|err| format!("cannot start a generator thread: {err}"))?;
        threads.push(thread);
    }

    let progress = Progress::new();
    let mut cpu = args.server_pid.map(CpuSampler::new);
    let mut server_cpu = Vec::new();
    let mut last_started = 0u64;
    let mut last_tick = Instant::now();
    while threads.iter().any(|t| !t.is_finished()) {
        std::thread::sleep(Duration::from_millis(100));
        if last_tick.elapsed() < Duration::from_secs(1) {
            continue;
        }
        let tick = last_tick.elapsed().as_secs_f64();
        last_tick = Instant::now();
        let sum = |f: fn(&LiveCounters) -> u64| lives.iter().map(|l| f(l)).sum::<u64>();
        let started_now = sum(|l| l.started.load(Ordering::Relaxed));
        let cps = (started_now - last_started) as f64 / tick;
        last_started = started_now;
        let line = format!(
            "{} up, {} done, {} failed, {:.0} cps",
            sum(|l| l.active.load(Ordering::Relaxed)),
            sum(|l| l.finished.load(Ordering::Relaxed)),
            sum(|l| l.failed.load(Ordering::Relaxed)),
            cps
        );
        let mut cpu_text = String::new();
        if let Some(sampler) = cpu.as_mut() {
            if let Some(percent) = sampler.sample() {
                cpu_text = format!(", server {percent:.0}% cpu");
                server_cpu.push(CpuSample {
                    at_s: started.elapsed().as_secs_f64(),
                    percent,
                });
            }
        }
        progress.show(&format!("{line}{cpu_text}"));
    }
    progress.finish();

    let mut records = Vec::new();
    let mut gaps = Vec::new();
    let mut timelines = Vec::new();
    let mut backend = "";
    for thread in threads {
        let result = thread
            .join()
            .map_err(|_| "a generator thread panicked".to_string())?
            .map_err(|err| format!("generator thread: {err}"))?;
        records.extend(result.records);
        gaps.extend(result.gaps_us);
        timelines.push(result.seconds);
        backend = result.backend;
    }
    records.sort_by(|a, b| a.started_s.total_cmp(&b.started_s));
    let report = Report::build(
        args.target.to_string(),
        backend.to_string(),
        cores,
        script,
        records,
        &gaps,
        timelines,
        server_cpu,
        started.elapsed().as_secs_f64(),
    );
    print!("{}", report.table());
    if let Some(dir) = &args.out {
        report.write(dir)?;
    }
    if report.failed > args.max_failures {
        eprintln!(
            "callplane bench: {} calls failed (--max-failures {})",
            report.failed, args.max_failures
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The live line: an `indicatif` spinner on a terminal, nothing otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new() -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress { bar }
    }

    fn show(&self, line: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(line.to_string());
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Samples a process's CPU time from `/proc/PID/stat` (utime + stime).
pub(crate) struct CpuSampler {
    path: PathBuf,
    ticks_per_second: f64,
    last: Option<(Instant, u64)>,
}

impl CpuSampler {
    pub(crate) fn new(pid: u32) -> CpuSampler {
        // SAFETY: sysconf only reads a configuration value.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        CpuSampler {
            path: PathBuf::from(format!("/proc/{pid}/stat")),
            ticks_per_second: if ticks > 0 { ticks as f64 } else { 100.0 },
            last: None,
        }
    }

    /// CPU seconds the process has used so far.
    pub(crate) fn cpu_seconds(&self) -> Result<f64, String> {
        let path = self.path.display();
        let text = std::fs::read_to_string(&self.path).map_err(|e| format!("{path}: {e}"))?;
        let ticks = cpu_ticks(&text).ok_or_else(|| format!("{path}: no utime and stime"))?;
        Ok(ticks as f64 / self.ticks_per_second)
    }

    /// Share of one core used since the previous call, %; `None` on the first
    /// call or when the process is gone.
    fn sample(&mut self) -> Option<f64> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        let ticks = cpu_ticks(&text)?;
        let now = Instant::now();
        let previous = self.last.replace((now, ticks));
        let (then, before) = previous?;
        let wall = now.duration_since(then).as_secs_f64();
        if wall <= 0.0 {
            return None;
        }
        Some(ticks.saturating_sub(before) as f64 / self.ticks_per_second / wall * 100.0)
    }
}

/// utime + stime from the text of `/proc/PID/stat` (fields 14 and 15, after
/// the command name in parentheses, which may hold spaces).
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state): utime is field 14, stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_read_utime_and_stime_past_a_spaced_name() {
        let stat = "1234 (call plane) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0";
        assert_eq!(cpu_ticks(stat), Some(300));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn our_own_cpu_can_be_sampled() {
        let mut sampler = CpuSampler::new(std::process::id());
        assert_eq!(sampler.sample(), None);
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(sampler.sample().is_some_and(|p| p >= 0.0));
    }
}
