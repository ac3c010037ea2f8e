//! The `callplane` command line: `serve` runs the appliance, `flow check`
//! validates flow files, `config check` a configuration file, `dtmf detect`
//! lists the DTMF digits heard in a WAV file.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use callplane::api::{ApiServer, Installer};
use callplane::assets;
use callplane::call::{HostConfig, Router};
use callplane::config::{parse_port_range, Config};
use callplane::flow::load_flow_json;
use callplane::shard::{
    CdrWriter, Clock, HttpPool, IoChoice, RecordingWriter, Server, ServerPlan, ShardMsg,
};
use callplane::store::{PostgresStore, SqliteStore, Store};

#[derive(Parser)]
#[command(
    name = "callplane",
    version,
    long_version = LONG_VERSION,
    about = "A media-plane appliance: answers SIP calls and runs call flows inline"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `callplane --version`: the version and what this build speaks.
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nSIP over UDP, TCP and TLS; RTP with G.711 (PCMU, PCMA) and Opus; SRTP (SDES)",
    "\nio backends: io_uring, epoll (auto: io_uring where the kernel allows it)",
    "\nmetrics: Prometheus text at /metrics, /healthz, /readyz"
);

#[derive(Subcommand)]
enum Command {
    /// Answer calls: SIP over UDP, RTP media, flows run inline.
    Serve(ServeArgs),
    /// Work with flow files.
    #[command(subcommand)]
    Flow(FlowCommand),
    /// Work with in-band DTMF audio.
    #[command(subcommand)]
    Dtmf(DtmfCommand),
    /// Work with configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Load generation: place calls and check what callers hear, or measure UDP echo.
    #[command(subcommand)]
    Bench(callplane::bench::BenchCommand),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a TOML configuration as `serve` would (its flows, routes,
    /// prompts, TLS files, log level): exit 0 when it is good, else one line
    /// per fault on stdout and exit 1.
    Check { file: PathBuf },
}

#[derive(Subcommand)]
enum DtmfCommand {
    /// Print the DTMF digits heard in a WAV file (any rate, any channel count) on
    /// one line; exit 2 when the file cannot be read or is not a WAV file.
    Detect { file: PathBuf },
}

#[derive(Args)]
struct ServeArgs {
    /// TOML configuration file (without it: embedded defaults, the demo flow answers any number).
    #[arg(long)]
    config: Option<PathBuf>,
    /// SIP listen address, e.g. 127.0.0.1:5060.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// RTP port range MIN-MAX.
    #[arg(long, value_parser = parse_port_range)]
    rtp_ports: Option<(u16, u16)>,
    /// Address RTP binds to and SDP advertises.
    #[arg(long)]
    rtp_address: Option<IpAddr>,
    /// Shard threads (0: one per core).
    #[arg(long)]
    shards: Option<usize>,
    /// io backend: auto, uring or epoll.
    #[arg(long)]
    io: Option<IoChoice>,
    /// Directory for CDRs.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Prompt catalog directory (catalog.tsv + WAVs) instead of the embedded prompts.
    #[arg(long)]
    prompts: Option<PathBuf>,
    /// Ring this long before answering.
    #[arg(long)]
    answer_delay_ms: Option<u64>,
    /// Pin shard threads to cores.
    #[arg(long)]
    pin: bool,
    /// Log line format: text or json (default: `[log] format`, else text).
    #[arg(long)]
    log_format: Option<callplane::logging::LogFormat>,
    /// Log level filter, e.g. `info` or `info,callplane::call=debug`
    /// (default: RUST_LOG, else `[log] level`, else info).
    #[arg(long)]
    log_level: Option<String>,
    /// Address of /metrics, /healthz and /readyz (default: `[metrics] listen`, 127.0.0.1:9464).
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
}

#[derive(Subcommand)]
enum FlowCommand {
    /// Validate flow files: exit 0 when all are valid, else one line per problem.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run a flow without a call: one JSON line per command, trace event and
    /// the end; --events scripts the caller and the network.
    Simulate(callplane::simulator::SimulateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            if let Err(err) = init_logging(&args) {
                eprintln!("callplane: {err}");
                return ExitCode::FAILURE;
            }
            match serve(args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("callplane: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Flow(FlowCommand::Check { files }) => flow_check(&files),
        Command::Flow(FlowCommand::Simulate(args)) => callplane::simulator::run(&args),
        Command::Dtmf(DtmfCommand::Detect { file }) => dtmf_detect(&file),
        Command::Config(ConfigCommand::Check { file }) => config_check(&file),
        Command::Bench(command) => {
            let filter = callplane::logging::parse_filter("warn");
            if let Ok(filter) = filter {
                let _ = callplane::logging::init(callplane::logging::LogFormat::Text, filter);
            }
            callplane::bench::run(command)
        }
    }
}

/// Logging before anything else: the flag, else RUST_LOG, else the config's
/// `[log]` (a config that does not load is reported by `serve` itself).
fn init_logging(args: &ServeArgs) -> Result<(), String> {
    let log = args
        .config
        .as_deref()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| toml::from_str::<LogSection>(&text).ok())
        .map(|section| section.log)
        .unwrap_or_default();
    let filter =
        callplane::logging::choose_filter(args.log_level.as_deref(), log.level.as_deref())?;
    let format = args.log_format.unwrap_or(log.format);
    callplane::logging::init(format, filter)
}

/// Only `[log]` of a config file, read before the logger exists.
#[derive(serde::Deserialize)]
struct LogSection {
    #[serde(default)]
    log: callplane::logging::LogConfig,
}

/// `config check FILE`: every fault `serve` would stop at, one line each.
fn config_check(file: &std::path::Path) -> ExitCode {
    let name = file.display();
    let config = match Config::load(file) {
        Ok(config) => config,
        Err(err) => {
            println!("{err}");
            return ExitCode::FAILURE;
        }
    };
    let mut faults = Vec::new();
    if let Some(level) = &config.log.level {
        if let Err(err) = callplane::logging::parse_filter(level) {
            faults.push(format!("config error in {name}: log.level: {err}"));
        }
    }
    if let Some(dir) = &config.server.prompts_dir {
        if let Err(err) = assets::prompts_from_dir(dir) {
            faults.push(format!("config error in {name}: server.prompts_dir: {err}"));
        }
    }
    if let Err(err) = build_routes(&config) {
        for line in err.lines() {
            faults.push(format!("{name}: {line}"));
        }
    }
    if let Err(err) = config.sip.tls_settings() {
        faults.push(format!("config error in {name}: sip.tls: {err}"));
    }
    if faults.is_empty() {
        println!("{name}: ok");
        return ExitCode::SUCCESS;
    }
    for fault in &faults {
        println!("{fault}");
    }
    ExitCode::FAILURE
}

/// `dtmf detect FILE`: the digits on stdout, or one line on stderr and exit 2.
fn dtmf_detect(file: &std::path::Path) -> ExitCode {
    use callplane::media::{wav_to_8k_mono, InbandDtmfConfig, InbandDtmfDetector};
    let samples = std::fs::read(file)
        .map_err(|err| format!("cannot read: {err}"))
        .and_then(|bytes| wav_to_8k_mono(&bytes).map_err(|err| err.to_string()));
    let samples = match samples {
        Ok(samples) => samples,
        Err(err) => {
            eprintln!("callplane dtmf detect: {}: {err}", file.display());
            return ExitCode::from(2);
        }
    };
    let mut detector = InbandDtmfDetector::new(InbandDtmfConfig::default());
    let mut digits = String::new();
    for frame in samples.chunks(160) {
        digits.extend(detector.handle_frame(frame));
    }
    println!("{digits}");
    ExitCode::SUCCESS
}

fn load_config(args: &ServeArgs) -> Result<Config, String> {
    let mut config = match &args.config {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if let Some(listen) = args.listen {
        config.sip.listen = listen;
    }
    if let Some((min, max)) = args.rtp_ports {
        config.rtp.port_min = min;
        config.rtp.port_max = max;
    }
    if let Some(address) = args.rtp_address {
        config.rtp.address = Some(address);
    }
    if let Some(shards) = args.shards {
        config.server.shards = shards;
    }
    if let Some(io) = args.io {
        config.server.io = io;
    }
    if let Some(dir) = &args.data_dir {
        config.server.data_dir = dir.clone();
    }
    if let Some(dir) = &args.prompts {
        config.server.prompts_dir = Some(dir.clone());
    }
    if let Some(delay) = args.answer_delay_ms {
        config.sip.answer_delay_ms = delay;
    }
    if args.pin {
        config.server.pin_threads = true;
    }
    if let Some(listen) = args.metrics_listen {
        config.metrics.listen = listen;
    }
    Ok(config)
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let config = load_config(&args)?;
    let prompts = match &config.server.prompts_dir {
        Some(dir) => assets::prompts_from_dir(dir)?,
        None => assets::embedded_prompts()?,
    };
    let control = ControlPlane::open(&config)?;
    let router = match &control {
        Some(control) => control.installer.build()?,
        None => build_routes(&config)?,
    };
    let shards = match config.server.shards {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        n => n,
    };
    let clock = Clock::start();
    let (http, http_workers) =
        HttpPool::start(8).map_err(|err| format!("cannot start HTTP workers: {err}"))?;
    let http_queue = http.queue_counter();
    let (speech, speech_workers) = start_speech(&config)?;
    let speech_timeout = speech.as_ref().map(|_| config.speech.timeout());
    let synthesizer = speech.as_ref().map(|pool| pool.synthesizer().clone());
    let (cdr_writer, cdr) = CdrWriter::start(
        &config.server.data_dir,
        clock.wall_clock(),
        control.as_ref().map(|control| control.store.clone()),
    )
    .map_err(|err| {
        format!(
            "cannot open CDR file in {}: {err}",
            config.server.data_dir.display()
        )
    })?;
    let (recording_writer, recordings) = RecordingWriter::start(&config.server.data_dir)
        .map_err(|err| format!("cannot start the recording writer: {err}"))?;
    log::info!(
        "callplane {}: SIP {} , RTP {}:{}-{}, {} shard(s), io {}, {} prompt(s), CDRs to {}",
        env!("CARGO_PKG_VERSION"),
        config.sip.listen,
        config.rtp_address(),
        config.rtp.port_min,
        config.rtp.port_max,
        shards,
        config.server.io,
        prompts.len(),
        cdr_writer.path().display()
    );
    let tls = config
        .sip
        .tls_settings()
        .map_err(|err| format!("TLS: {err}"))?;
    let server = Server::start(ServerPlan {
        shards,
        io: config.server.io,
        host: HostConfig {
            shard: 0,
            sip_addr: config.sip.listen,
            rtp_ip: config.rtp_address(),
            rtp_advertised: config.rtp.advertised_address,
            sip_advertised: config.sip.advertised_address,
            user_agent: config.sip.user_agent.clone(),
            answer_delay: Duration::from_millis(config.sip.answer_delay_ms),
            sip_timers: config.sip.timers(),
            session_timer: config.sip.session_timer(),
            allowed_sources: config.allowed_sources().into(),
            invite_rate_per_source: config.sip.invite_rate_per_source,
            wall: clock.wall_clock(),
            rtp_ports: (config.rtp.port_min, config.rtp.port_max),
            shards,
            jitter: config.rtp.jitter_bounds(),
            registrations: config.registrations().into(),
            keepalives: config.options_pings().into(),
            srtp: callplane::call::SrtpSettings {
                policy: config.rtp.srtp_policy(),
                trunks: config.trunk_srtp().into(),
                key_seed: os_entropy(),
            },
            codecs: config.codec_preferences().into(),
            trunk_codecs: config
                .trunk_codec_preferences()
                .into_iter()
                .map(|(net, codecs)| (net, codecs.into()))
                .collect(),
            sip_tls_port: config.sip.tls.map(|addr| addr.port()),
            tls_only_sources: config.tls_only_sources().into(),
            dial_trunk: config.dial_trunk(),
            accept_refer: config.sip.accept_refer,
            speech_timeout,
        },
        router: Arc::new(router),
        prompts: Arc::new(prompts),
        cdr,
        recordings,
        http,
        speech,
        clock,
        pin_threads: config.server.pin_threads,
        tcp: config.sip.tcp_settings(),
        tls,
    })
    .map_err(|err| format!("cannot start shards: {err}"))?;
    let metrics = start_metrics(&config, &server, http_queue, synthesizer);

    let peers = server.peers();
    let api = match control {
        Some(control) => {
            control.installer.set_peers(peers.to_vec());
            let api = ApiServer::start(
                &config.api,
                control.store,
                control.installer.clone(),
                &config.server.data_dir,
            )?;
            log::info!("API on http://{}", api.address());
            Some((api, control.installer))
        }
        None => None,
    };
    let installer = api.as_ref().map(|(_, installer)| installer.clone());
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ])
    .map_err(|err| format!("cannot install signal handlers: {err}"))?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if signal == signal_hook::consts::SIGHUP {
                    reload_routes(&args, &peers, installer.as_deref());
                    continue;
                }
                log::info!("signal {signal}: draining calls");
                for peer in peers.iter() {
                    peer.send(ShardMsg::Shutdown);
                }
                return;
            }
        })
        .map_err(|err| format!("cannot start signal thread: {err}"))?;

    let result = server.wait();
    if let Some(metrics) = metrics {
        metrics.stop();
    }
    if let Some((api, _)) = api {
        api.stop();
    }
    cdr_writer.finish();
    recording_writer.finish();
    // The shards held the pool's senders; with them gone the workers exit.
    http_workers.finish();
    if let Some(workers) = speech_workers {
        workers.join();
    }
    log::info!("callplane stopped");
    result
}

/// The speech workers, unless `[speech] enabled = false`. An engine that
/// cannot run is logged and left off: free text then fails its node at once.
fn start_speech(
    config: &Config,
) -> Result<
    (
        Option<callplane::speech::SpeechPool>,
        Option<callplane::speech::SpeechWorkers>,
    ),
    String,
> {
    use callplane::speech::{DiskCache, Espeak, SpeechPool, Synthesizer};
    let settings = &config.speech;
    if !settings.enabled {
        return Ok((None, None));
    }
    let engine = match Espeak::probe(&settings.engine, settings.timeout()) {
        Ok(engine) => engine,
        Err(err) => {
            log::warn!("speech: {err}; free text that no catalog prompt speaks will fail");
            return Ok((None, None));
        }
    };
    let dir = settings.cache_dir(&config.server.data_dir);
    let disk = DiskCache::open(&dir)
        .map_err(|err| format!("speech.cache_dir: cannot create {}: {err}", dir.display()))?;
    log::info!(
        "speech: {}, {} worker(s), cache in {}",
        engine.version(),
        settings.workers,
        dir.display()
    );
    let synthesizer = Arc::new(Synthesizer::new(
        engine,
        settings.memory_entries,
        Some(disk),
    ));
    let (pool, workers) = SpeechPool::start(synthesizer, settings.workers, settings.queue)
        .map_err(|err| format!("cannot start speech workers: {err}"))?;
    Ok((Some(pool), Some(workers)))
}

/// The metrics listener, unless `[metrics] enabled = false`. One that cannot
/// bind is logged and left off: calls matter more than their counters.
fn start_metrics(
    config: &Config,
    server: &Server,
    http_queue: Arc<std::sync::atomic::AtomicUsize>,
    speech: Option<Arc<callplane::speech::Synthesizer>>,
) -> Option<callplane::metrics::MetricsEndpoint> {
    if !config.metrics.enabled {
        return None;
    }
    let sources = callplane::metrics::MetricsSources {
        shards: server.counters(),
        http_queue,
        speech,
        ready_checks: Vec::new(),
    };
    match callplane::metrics::MetricsEndpoint::start(config.metrics.listen, sources) {
        Ok(endpoint) => {
            log::info!(
                "metrics, /healthz and /readyz on http://{}",
                endpoint.local_addr()
            );
            Some(endpoint)
        }
        Err(err) => {
            log::error!(
                "metrics: cannot listen on {} ({err}); serving calls without /metrics",
                config.metrics.listen
            );
            None
        }
    }
}

/// The flow environment and routing table the configuration describes.
fn build_routes(config: &Config) -> Result<Router, String> {
    let env = Arc::new(assets::build_env(config)?);
    assets::build_router(config, env)
}

/// The API and its store, when `[api] listen` is set: the store is
/// `callplane.db` in the data directory, or `[api] postgres`.
struct ControlPlane {
    store: Arc<dyn Store>,
    installer: Arc<Installer>,
}

impl ControlPlane {
    fn open(config: &Config) -> Result<Option<ControlPlane>, String> {
        if config.api.listen.is_none() {
            return Ok(None);
        }
        let store: Arc<dyn Store> =
            match &config.api.postgres {
                Some(params) => Arc::new(
                    PostgresStore::connect(params)
                        .map_err(|err| format!("api.postgres: cannot open the store: {err}"))?,
                ),
                None => {
                    let dir = &config.server.data_dir;
                    std::fs::create_dir_all(dir).map_err(|err| {
                        format!("cannot create the data dir {}: {err}", dir.display())
                    })?;
                    let path = dir.join("callplane.db");
                    Arc::new(SqliteStore::open(&path).map_err(|err| {
                        format!("cannot open the store {}: {err}", path.display())
                    })?)
                }
            };
        let installer = Arc::new(Installer::new(config.clone(), store.clone()));
        Ok(Some(ControlPlane { store, installer }))
    }
}

/// SIGHUP: re-reads the configuration's flows, schedules, destinations and
/// routes (with the API's published flows and routes, when it runs) and hands
/// the new table to every shard. A bad flow or config keeps the running table
/// and says why; calls in progress keep their flow version.
fn reload_routes(
    args: &ServeArgs,
    peers: &[callplane::shard::ShardPeer],
    installer: Option<&Installer>,
) {
    if let Some(installer) = installer {
        match load_config(args).and_then(|config| installer.reload(config)) {
            Ok(()) => log::info!("SIGHUP: flows and routes reloaded"),
            Err(err) => log::error!("SIGHUP: reload refused, keeping the running flows: {err}"),
        }
        return;
    }
    let router = load_config(args).and_then(|config| build_routes(&config));
    match router {
        Ok(router) => {
            let router = Arc::new(router);
            for peer in peers {
                peer.send(ShardMsg::Routes(router.clone()));
            }
            log::info!("SIGHUP: flows and routes reloaded");
        }
        Err(err) => log::error!("SIGHUP: reload refused, keeping the running flows: {err}"),
    }
}

fn flow_check(files: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for file in files {
        let name = file.display();
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(err) => {
                println!("{name}: cannot read: {err}");
                failed = true;
                continue;
            }
        };
        match load_flow_json(&text) {
            Ok(loaded) => {
                for warning in &loaded.warnings {
                    println!("{name}: warning: {warning}");
                }
            }
            Err(err) => {
                for line in err.lines() {
                    println!("{name}: {line}");
                }
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// 16 bytes of the operating system's entropy (getrandom(2), else
/// /dev/urandom): the seed of the SDES key generator. Without any, the
/// server cannot key SRTP safely and does not start.
fn os_entropy() -> [u8; 16] {
    let mut seed = [0u8; 16];
    // SAFETY: getrandom(2) writes at most `seed.len()` bytes into `seed`.
    let got = unsafe { libc::getrandom(seed.as_mut_ptr().cast(), seed.len(), 0) };
    if usize::try_from(got).is_ok_and(|got| got == seed.len()) {
        return seed;
    }
    let read = std::fs::File::open("/dev/urandom")
        .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut seed));
    if let Err(err) = read {
        eprintln!("callplane: cannot read the system's entropy for SRTP keys: {err}");
        std::process::exit(1);
    }
    seed
}
