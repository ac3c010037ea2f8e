//! The server's configuration: the TOML file `callplane serve --config` reads,
//! its defaults (the embedded demo setup), and the one-line errors a bad file
//! gets.
//!
//! Every table denies unknown keys, so a misspelt key is an error naming it
//! rather than a setting silently ignored.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::flow::{
    ConferenceConfig, Destination, DestinationCatalog, ForwardConfig, QueueConfig, RingGroupConfig,
    ScheduleConfig, VoicemailConfig,
};
use crate::shard::IoChoice;

/// The whole configuration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[sip]`: listen address, answer delay, Server header.
    pub sip: SipConfig,
    /// `[rtp]`: the media address and port range.
    pub rtp: RtpConfig,
    /// `[server]`: shards, io backend, data and prompt directories.
    pub server: ServerConfig,
    /// `[routing]`: dialled number to flow; absent, every call runs the demo flow.
    pub routing: RoutingConfig,
    /// `[flows]`: the directory of published flows routes can name by id.
    pub flows: FlowsConfig,
    /// `[[schedule]]`: business hours for `timeCondition` nodes.
    #[serde(rename = "schedule")]
    pub schedules: Vec<ScheduleConfig>,
    /// `[[queue]]`: queues routes and flows can name as destinations, in file order
    /// (this and the four destination tables below make up [`Config::destinations`]).
    #[serde(rename = "queue")]
    pub queues: Vec<QueueConfig>,
    /// `[[voicemail]]`: mailboxes routes and flows can name, in file order.
    #[serde(rename = "voicemail")]
    pub voicemails: Vec<VoicemailConfig>,
    /// `[[ring_group]]`: groups of members rung together, in file order.
    #[serde(rename = "ring_group")]
    pub ring_groups: Vec<RingGroupConfig>,
    /// `[[conference]]`: conference rooms routes and flows can name, in file order.
    #[serde(rename = "conference")]
    pub conferences: Vec<ConferenceConfig>,
    /// `[[forward]]`: forwards to outside numbers, in file order.
    #[serde(rename = "forward")]
    pub forwards: Vec<ForwardConfig>,
    /// `[[trunk]]`: the carriers allowed to send calls; none: anyone may.
    #[serde(rename = "trunk")]
    pub trunks: Vec<TrunkConfig>,
    /// `[dial]`: how flows' `dial`/`forward`/`connect` reach numbers.
    pub dial: DialConfig,
    /// `[metrics]`: the `/metrics`, `/healthz` and `/readyz` listener.
    pub metrics: crate::metrics::MetricsConfig,
    /// `[log]`: log level and format.
    pub log: crate::logging::LogConfig,
    /// `[api]`: the HTTP control plane (off unless `listen` is set).
    pub api: crate::api::ApiConfig,
    /// `[speech]`: free-text speech (espeak-ng workers, caches, timeout).
    pub speech: crate::speech::SpeechConfig,
}

/// `[dial]`: outbound legs placed by flows.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialConfig {
    /// The `[[trunk]]` (by name) numbers are dialled through: its `proxy`
    /// receives the INVITEs and its `username`/`password` answer digest
    /// challenges. Unset: flows can dial only `sip:` URIs with an IP address.
    pub trunk: Option<String>,
}

/// `[[trunk]]`: a carrier that sends calls.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkConfig {
    /// A name for the logs.
    pub name: String,
    /// Source addresses the trunk's INVITEs come from: single IPs
    /// (`"198.51.100.7"`) or CIDR ranges (`"192.0.2.0/24"`). Once any trunk is
    /// configured, an INVITE from an address no trunk allows gets 403.
    #[serde(default)]
    pub allow: Vec<String>,
    /// The carrier's SIP address (`"198.51.100.7:5060"`: an IP address and
    /// port; callplane does no DNS): where REGISTERs (and outbound calls) go.
    #[serde(default)]
    pub proxy: Option<SocketAddr>,
    /// Digest username for the carrier's 401/407 challenges.
    #[serde(default)]
    pub username: Option<String>,
    /// Digest password.
    #[serde(default)]
    pub password: Option<String>,
    /// Register with the carrier (`proxy` and `username` needed), refreshing
    /// before the binding expires and retrying with backoff when it fails.
    #[serde(default)]
    pub register: bool,
    /// The registrar URI (default `sip:` and the proxy's address).
    #[serde(default)]
    pub registrar: Option<String>,
    /// The address-of-record registered (default `sip:USERNAME@` the registrar's host).
    #[serde(default)]
    pub aor: Option<String>,
    /// The expiry asked for, in seconds.
    #[serde(default = "default_register_expires")]
    pub register_expires_s: u64,
    /// SRTP for calls from this trunk's `allow` addresses (`off`, `optional`,
    /// `required`); unset: `[rtp] srtp`.
    #[serde(default)]
    pub srtp: Option<String>,
    /// Codecs for calls from this trunk's `allow` sources, in order of preference
    /// (`"PCMU"`, `"PCMA"`, `"opus"`); unset: `[rtp] codecs`.
    #[serde(default)]
    pub codecs: Option<Vec<String>>,
    /// `"udp"` (the default), `"tcp"` or `"tls"`: what we send to the trunk
    /// (REGISTER, OPTIONS) goes by it. `"tls"`: the trunk requires TLS, and
    /// its INVITEs that arrive over UDP or TCP get 403 (counted); needs
    /// `[sip] tls`, and `[sip] tls_ca` when we register or ping.
    #[serde(default)]
    pub transport: TrunkTransport,
    /// Send an OPTIONS keepalive to `proxy` every this many seconds (0: off).
    #[serde(default)]
    pub options_interval_s: u64,
    /// Consecutive failed OPTIONS (no answer, 408, 5xx, 6xx) that mark the
    /// trunk down.
    #[serde(default = "default_options_failures")]
    pub options_failures: u32,
}

/// A trunk's transport.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrunkTransport {
    /// UDP (calls over 1300 bytes move to TCP, §18.1.1).
    #[default]
    Udp,
    /// TCP.
    Tcp,
    /// TLS: required.
    Tls,
}

impl TrunkTransport {
    /// The SIP link requests to the trunk leave by: a stream one names no
    /// connection (any open one to the trunk, else a new one).
    pub fn link(self) -> crate::sip::Link {
        match self {
            TrunkTransport::Udp => crate::sip::Link::Udp,
            TrunkTransport::Tcp => crate::sip::Link::Tcp(None),
            TrunkTransport::Tls => crate::sip::Link::Tls(None),
        }
    }
}

fn default_register_expires() -> u64 {
    3600
}

fn default_options_failures() -> u32 {
    3
}

/// The codecs named in a `codecs` list (names already validated).
fn codec_list(names: Option<&[String]>) -> Vec<crate::sip::AudioCodec> {
    names
        .unwrap_or_default()
        .iter()
        .filter_map(|name| crate::sip::AudioCodec::from_name(name))
        .collect()
}

/// Why a `codecs` list is refused: an unknown name, a repeat, or none.
fn check_codecs(names: &[String]) -> Result<(), String> {
    if names.is_empty() {
        return Err("list at least one codec (PCMU, PCMA, opus)".into());
    }
    for (j, name) in names.iter().enumerate() {
        let Some(codec) = crate::sip::AudioCodec::from_name(name) else {
            return Err(format!("{name:?} is not a codec (PCMU, PCMA, opus)"));
        };
        if names[..j]
            .iter()
            .any(|earlier| crate::sip::AudioCodec::from_name(earlier) == Some(codec))
        {
            return Err(format!("{name:?} is listed twice"));
        }
    }
    Ok(())
}

/// An address or range from a trunk's `allow` list.
fn parse_source(text: &str) -> Option<ipnet::IpNet> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(ipnet::IpNet::from))
}

impl Config {
    /// The trunk `[dial] trunk` names (validated: it exists and has a proxy).
    pub fn dial_trunk(&self) -> Option<crate::call::DialTrunk> {
        let name = self.dial.trunk.as_deref()?;
        let trunk = self.trunks.iter().find(|trunk| trunk.name == name)?;
        Some(crate::call::DialTrunk {
            name: trunk.name.clone(),
            proxy: trunk.proxy?,
            credentials: match (&trunk.username, &trunk.password) {
                (Some(username), Some(password)) => Some(crate::sip::Credentials {
                    username: username.clone(),
                    password: password.clone(),
                }),
                _ => None,
            },
            link: trunk.transport.link(),
        })
    }

    /// The registrations of the trunks with `register = true` (validated:
    /// proxy and username present).
    pub fn registrations(&self) -> Vec<crate::sip::RegistrationConfig> {
        self.trunks
            .iter()
            .filter(|trunk| trunk.register)
            .filter_map(|trunk| {
                let dest = trunk.proxy?;
                let username = trunk.username.clone()?;
                let registrar = trunk
                    .registrar
                    .clone()
                    .unwrap_or_else(|| format!("sip:{dest}"));
                let host = registrar
                    .split_once(':')
                    .map_or(registrar.as_str(), |(_, rest)| rest)
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let aor = trunk
                    .aor
                    .clone()
                    .unwrap_or_else(|| format!("sip:{username}@{host}"));
                Some(crate::sip::RegistrationConfig {
                    registrar,
                    aor,
                    dest,
                    contact_user: username.clone(),
                    credentials: trunk
                        .password
                        .clone()
                        .map(|password| crate::sip::Credentials { username, password }),
                    expires: std::time::Duration::from_secs(trunk.register_expires_s),
                    link: trunk.transport.link(),
                })
            })
            .collect()
    }

    /// The trunks' own SRTP policies, by the source ranges they allow (the
    /// first matching range wins; addresses of no listed trunk get `[rtp] srtp`).
    pub fn trunk_srtp(&self) -> Vec<(ipnet::IpNet, crate::sip::sdp::SrtpPolicy)> {
        self.trunks
            .iter()
            .filter_map(|trunk| Some((trunk.allow.iter(), srtp_policy(trunk.srtp.as_deref()?)?)))
            .flat_map(|(allow, policy)| {
                allow.filter_map(move |text| parse_source(text).map(|net| (net, policy)))
            })
            .collect()
    }

    /// The codec preferences of `[rtp] codecs` (empty: the caller's order, every
    /// codec), validated.
    pub fn codec_preferences(&self) -> Vec<crate::sip::AudioCodec> {
        codec_list(self.rtp.codecs.as_deref())
    }

    /// Each trunk source range with its trunk's `codecs`, for the trunks that set them.
    pub fn trunk_codec_preferences(&self) -> Vec<(ipnet::IpNet, Vec<crate::sip::AudioCodec>)> {
        self.trunks
            .iter()
            .filter(|trunk| trunk.codecs.is_some())
            .flat_map(|trunk| {
                let codecs = codec_list(trunk.codecs.as_deref());
                trunk
                    .allow
                    .iter()
                    .filter_map(|text| parse_source(text))
                    .map(move |net| (net, codecs.clone()))
            })
            .collect()
    }

    /// The source ranges of trunks that require TLS.
    pub fn tls_only_sources(&self) -> Vec<ipnet::IpNet> {
        self.trunks
            .iter()
            .filter(|trunk| trunk.transport == TrunkTransport::Tls)
            .flat_map(|trunk| trunk.allow.iter())
            .filter_map(|text| parse_source(text))
            .collect()
    }

    /// The OPTIONS keepalives of the trunks with `options_interval_s` set
    /// (validated: proxy present).
    pub fn options_pings(&self) -> Vec<crate::sip::OptionsPingConfig> {
        self.trunks
            .iter()
            .filter(|trunk| trunk.options_interval_s > 0)
            .filter_map(|trunk| {
                Some(crate::sip::OptionsPingConfig {
                    trunk: trunk.name.clone(),
                    dest: trunk.proxy?,
                    interval: std::time::Duration::from_secs(trunk.options_interval_s),
                    failures: trunk.options_failures,
                    link: trunk.transport.link(),
                })
            })
            .collect()
    }

    /// Every source range the trunks allow (empty: no trunk restricts sources).
    pub fn allowed_sources(&self) -> Vec<ipnet::IpNet> {
        self.trunks
            .iter()
            .flat_map(|trunk| trunk.allow.iter())
            .filter_map(|text| parse_source(text))
            .collect()
    }
}

/// `[flows]`: where published flows live.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowsConfig {
    /// Every `*.json` here is a flow (either format); routes and `fetch_flow` /
    /// `on_complete_flow_id` name them by id. Only published flows are routed
    /// (`"published": false`, or `"isActive": false` in an API record, keeps a
    /// file out); of several versions of one id the highest published one wins.
    pub dir: Option<PathBuf>,
}

/// `[sip]`: the signalling side.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipConfig {
    /// Address and port SIP listens on: UDP, and TCP unless `tcp = false`.
    pub listen: SocketAddr,
    /// SIP over TCP on `listen` too (RFC 3261 §18); false: UDP only.
    pub tcp: bool,
    /// A TCP connection without traffic this long is closed, unless a call
    /// still uses it.
    pub tcp_idle_secs: u64,
    /// TCP connections one shard holds at most; more are refused.
    pub tcp_max_connections: usize,
    /// SIP over TLS listens here (`"0.0.0.0:5061"`); unset: no TLS. Needs
    /// `tls_cert` and `tls_key`. TLS connections count against
    /// `tcp_max_connections` and `tcp_idle_secs` as TCP ones do.
    pub tls: Option<SocketAddr>,
    /// Our certificate chain (PEM), presented to TLS peers.
    pub tls_cert: Option<PathBuf>,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub tls_key: Option<PathBuf>,
    /// CA certificates (PEM) that the peers' certificates must chain to: the
    /// servers we connect to (their name, or IP address, is checked too),
    /// and clients when `tls_verify_clients`. Unset: we connect to no TLS
    /// server, and clients are not asked for a certificate.
    pub tls_ca: Option<PathBuf>,
    /// Ask TLS clients for a certificate and refuse those `tls_ca` does not
    /// vouch for (mutual TLS).
    pub tls_verify_clients: bool,
    /// A TLS handshake not done in this many seconds is abandoned.
    pub tls_handshake_secs: u64,
    /// Ring (180) this long before answering; 0 answers at once.
    pub answer_delay_ms: u64,
    /// Take REFER from callers (RFC 3515 blind transfer, callplane as the
    /// transferee: it calls the target and the flow goes on with it);
    /// false: REFER gets 405.
    pub accept_refer: bool,
    /// Sent in the Server header.
    pub user_agent: String,
    /// The address Via and Contact name instead of `listen`, when callplane
    /// is behind NAT; unset: `listen`.
    pub advertised_address: Option<SocketAddr>,
    /// RFC 3261 T1, the round-trip estimate: first retransmission interval;
    /// 64·T1 is Timers B, F, H, J and L.
    pub t1_ms: u64,
    /// RFC 3261 T2: the longest retransmission interval.
    pub t2_ms: u64,
    /// RFC 3261 T4: how long a message may stay in the network (Timers I, K).
    pub t4_ms: u64,
    /// New INVITEs per second one source address may send (0: no limit);
    /// past it they get 503 with `Retry-After`.
    pub invite_rate_per_source: u32,
    /// Session timers (RFC 4028): the shortest `Session-Expires` accepted,
    /// in seconds; a shorter one gets 422 with `Min-SE`. The RFC's floor is
    /// 90 (values down to 1 are accepted, for tests, with a warning).
    pub min_session_expires_s: u32,
    /// The session interval we ask for, in seconds, when a caller asks for
    /// none (callplane then refreshes it); 0: none unless the caller asks.
    pub session_expires_s: u32,
}

impl Default for SipConfig {
    fn default() -> Self {
        let rfc = crate::sip::SipTimers::default();
        SipConfig {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 5060),
            tcp: true,
            tcp_idle_secs: 300,
            tcp_max_connections: 1024,
            tls: None,
            tls_cert: None,
            tls_key: None,
            tls_ca: None,
            tls_verify_clients: false,
            accept_refer: false,
            tls_handshake_secs: 10,
            answer_delay_ms: 0,
            user_agent: format!("callplane/{}", env!("CARGO_PKG_VERSION")),
            advertised_address: None,
            t1_ms: rfc.t1.as_millis() as u64,
            t2_ms: rfc.t2.as_millis() as u64,
            t4_ms: rfc.t4.as_millis() as u64,
            invite_rate_per_source: 0,
            min_session_expires_s: 90,
            session_expires_s: 0,
        }
    }
}

impl SipConfig {
    /// The TCP transport's settings, `None` when TCP is off.
    pub fn tcp_settings(&self) -> Option<crate::shard::TcpSettings> {
        self.tcp.then(|| crate::shard::TcpSettings {
            max_connections: self.tcp_max_connections.max(1),
            idle: std::time::Duration::from_secs(self.tcp_idle_secs.max(1)),
            limits: crate::sip::stream::StreamLimits::default(),
        })
    }

    /// The TLS transport's settings (certificates read and checked), `None`
    /// when TLS is off; a missing or bad file is one line naming the key.
    pub fn tls_settings(&self) -> Result<Option<crate::shard::TlsSettings>, String> {
        let (Some(listen), Some(cert), Some(key)) = (self.tls, &self.tls_cert, &self.tls_key)
        else {
            return Ok(None);
        };
        let files = crate::shard::TlsFiles {
            cert,
            key,
            ca: self.tls_ca.as_deref(),
            verify_clients: self.tls_verify_clients,
        };
        let stream = crate::shard::TcpSettings {
            max_connections: self.tcp_max_connections.max(1),
            idle: std::time::Duration::from_secs(self.tcp_idle_secs.max(1)),
            limits: crate::sip::stream::StreamLimits::default(),
        };
        let handshake = std::time::Duration::from_secs(self.tls_handshake_secs);
        crate::shard::TlsSettings::load(listen, &files, handshake, stream).map(Some)
    }

    /// The session-timer settings of every dialog.
    pub fn session_timer(&self) -> crate::sip::SessionTimerSettings {
        crate::sip::SessionTimerSettings {
            min_se: self.min_session_expires_s,
            session_expires: self.session_expires_s,
        }
    }

    /// The transaction timers these settings give.
    pub fn timers(&self) -> crate::sip::SipTimers {
        crate::sip::SipTimers {
            t1: std::time::Duration::from_millis(self.t1_ms),
            t2: std::time::Duration::from_millis(self.t2_ms),
            t4: std::time::Duration::from_millis(self.t4_ms),
        }
    }
}

/// `[rtp]`: where media sockets bind.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RtpConfig {
    /// Address RTP sockets bind to and SDP advertises; unset: the SIP listen address.
    pub address: Option<IpAddr>,
    /// The address SDP names instead, when callplane is behind NAT (the
    /// public address that forwards to `address`); unset: `address`.
    pub advertised_address: Option<IpAddr>,
    /// Lowest RTP port (even).
    pub port_min: u16,
    /// Highest RTP port.
    pub port_max: u16,
    /// The jitter buffer's lowest target delay, ms.
    pub jitter_min_ms: u64,
    /// The jitter buffer's highest delay, ms.
    pub jitter_max_ms: u64,
    /// Codecs in order of preference (`"PCMU"`, `"PCMA"`, `"opus"`): answers pick
    /// the first the caller offers, our offers list them in this order; a codec not
    /// listed is refused. Unset: every codec, answers in the caller's order.
    pub codecs: Option<Vec<String>>,
    /// SRTP with SDES keys (`off`: RTP/AVP only; `optional`: RTP/SAVP offers
    /// get SRTP, RTP/AVP ones RTP; `required`: RTP/AVP offers get 488 and our
    /// offers are RTP/SAVP). A trunk's `srtp` overrides it for its addresses.
    pub srtp: String,
}

/// `off`, `optional` or `required`.
fn srtp_policy(text: &str) -> Option<crate::sip::sdp::SrtpPolicy> {
    use crate::sip::sdp::SrtpPolicy;
    match text {
        "off" => Some(SrtpPolicy::Off),
        "optional" => Some(SrtpPolicy::Optional),
        "required" => Some(SrtpPolicy::Required),
        _ => None,
    }
}

impl RtpConfig {
    /// `srtp` as a policy (validated at load; `off` if it were not).
    pub fn srtp_policy(&self) -> crate::sip::sdp::SrtpPolicy {
        srtp_policy(&self.srtp).unwrap_or_default()
    }

    /// The jitter buffer's bounds.
    pub fn jitter_bounds(&self) -> (std::time::Duration, std::time::Duration) {
        (
            std::time::Duration::from_millis(self.jitter_min_ms),
            std::time::Duration::from_millis(self.jitter_max_ms),
        )
    }
}

impl Default for RtpConfig {
    fn default() -> Self {
        RtpConfig {
            address: None,
            advertised_address: None,
            port_min: 20000,
            port_max: 29999,
            jitter_min_ms: 20,
            jitter_max_ms: 200,
            srtp: "off".to_string(),
            codecs: None,
        }
    }
}

/// `[server]`: process-wide settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Shard threads; 0 = one per available core.
    pub shards: usize,
    /// io backend: auto, uring or epoll.
    pub io: IoChoice,
    /// Where CDRs (and later recordings) are written.
    pub data_dir: PathBuf,
    /// A prompt catalog directory (`catalog.tsv` + WAVs); unset: the embedded prompts.
    pub prompts_dir: Option<PathBuf>,
    /// Pin each shard thread to its own core.
    pub pin_threads: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            shards: 0,
            io: IoChoice::Auto,
            data_dir: PathBuf::from("callplane-data"),
            prompts_dir: None,
            pin_threads: false,
        }
    }
}

/// `[routing]`: which flow a dialled number runs.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// Flow for numbers no route matches: `"builtin:demo"`, a flow file path, or
    /// `""` to reject unrouted calls with 404.
    pub default_flow: String,
    /// Routes, tried exact matches first, then the longest matching prefix.
    pub route: Vec<RouteConfig>,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            default_flow: BUILTIN_DEMO.to_string(),
            route: Vec::new(),
        }
    }
}

/// The name of the embedded demo flow in `default_flow` and `flow`.
pub const BUILTIN_DEMO: &str = "builtin:demo";

/// One `[[routing.route]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Exact dialled number.
    pub number: Option<String>,
    /// Dialled-number prefix.
    pub prefix: Option<String>,
    /// A flow id from `[flows] dir`, a flow file (relative paths are relative
    /// to the config file), or `builtin:demo`.
    pub flow: Option<String>,
    /// Or a destination to run as a synthesized one-node flow.
    pub destination: Option<Destination>,
    /// Variables set on entry (values may use `${...}` templates).
    pub dest_xform: Option<serde_json::Map<String, serde_json::Value>>,
    /// Calls on this route start with early media (183 Session Progress)
    /// and are answered when the flow answers, as a flow's own
    /// `earlyMedia`/`early_media` asks.
    #[serde(default)]
    pub early_media: bool,
}

/// A configuration problem, displayed as one line.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Parses TOML text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|err| {
            let location = err
                .span()
                .map(|span| {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    format!(" line {line}:")
                })
                .unwrap_or_default();
            let message = err.message().replace('\n', " ");
            ConfigError(format!("config error in {origin}:{location} {message}"))
        })?;
        config.validate(origin)?;
        if config.sip.min_session_expires_s < 90 {
            log::warn!(
                "{origin}: sip.min_session_expires_s = {} is below RFC 4028's minimum of 90 s (for tests only)",
                config.sip.min_session_expires_s
            );
        }
        Ok(config)
    }

    /// Reads and parses a file; relative flow paths become relative to its folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|err| {
            ConfigError(format!(
                "config error: cannot read {}: {err}",
                path.display()
            ))
        })?;
        let mut config = Config::parse(&text, &path.display().to_string())?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |flow: &mut String| {
            if is_flow_path(flow) && Path::new(flow.as_str()).is_relative() {
                *flow = base.join(flow.as_str()).display().to_string();
            }
        };
        resolve(&mut config.routing.default_flow);
        for route in &mut config.routing.route {
            if let Some(flow) = route.flow.as_mut() {
                resolve(flow);
            }
        }
        if let Some(dir) = config.flows.dir.as_mut() {
            if dir.is_relative() {
                *dir = base.join(&*dir);
            }
        }
        Ok(config)
    }

    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let fail = |key: &str, message: &str| {
            Err(ConfigError(format!(
                "config error in {origin}: {key}: {message}"
            )))
        };
        if let Err(message) = self.api.validate() {
            return Err(ConfigError(format!("config error in {origin}: {message}")));
        }
        if let Err(message) = self.speech.validate() {
            return Err(ConfigError(format!("config error in {origin}: {message}")));
        }
        if srtp_policy(&self.rtp.srtp).is_none() {
            return fail("rtp.srtp", "must be \"off\", \"optional\" or \"required\"");
        }
        if let Some(name) = &self.dial.trunk {
            match self.trunks.iter().find(|trunk| &trunk.name == name) {
                None => return fail("dial.trunk", &format!("no [[trunk]] is named {name:?}")),
                Some(trunk) if trunk.proxy.is_none() => {
                    return fail(
                        "dial.trunk",
                        &format!("trunk {name:?} has no proxy (IP:port) to send INVITEs to"),
                    )
                }
                Some(_) => {}
            }
        }
        for (i, trunk) in self.trunks.iter().enumerate() {
            if trunk
                .srtp
                .as_deref()
                .is_some_and(|text| srtp_policy(text).is_none())
            {
                return fail(
                    &format!("trunk[{i}].srtp"),
                    "must be \"off\", \"optional\" or \"required\"",
                );
            }
            if trunk.allow.is_empty() && !trunk.register {
                return fail(&format!("trunk[{i}].allow"), "list at least one address");
            }
            if trunk.register && trunk.proxy.is_none() {
                return fail(
                    &format!("trunk[{i}].proxy"),
                    "register = true needs the carrier's address (IP:port)",
                );
            }
            if trunk.register && trunk.username.as_deref().is_none_or(str::is_empty) {
                return fail(
                    &format!("trunk[{i}].username"),
                    "register = true needs a username",
                );
            }
            if trunk.register && !(60..=86_400).contains(&trunk.register_expires_s) {
                return fail(
                    &format!("trunk[{i}].register_expires_s"),
                    "must be between 60 and 86400",
                );
            }
            if trunk.options_interval_s != 0 {
                if !(5..=3600).contains(&trunk.options_interval_s) {
                    return fail(
                        &format!("trunk[{i}].options_interval_s"),
                        "must be 0 (off) or between 5 and 3600",
                    );
                }
                if trunk.proxy.is_none() {
                    return fail(
                        &format!("trunk[{i}].proxy"),
                        "options_interval_s needs the carrier's address (IP:port)",
                    );
                }
            }
            if !(1..=100).contains(&trunk.options_failures) {
                return fail(
                    &format!("trunk[{i}].options_failures"),
                    "must be between 1 and 100",
                );
            }
            if let Some(registrar) = &trunk.registrar {
                if !registrar.starts_with("sip:") && !registrar.starts_with("sips:") {
                    return fail(
                        &format!("trunk[{i}].registrar"),
                        &format!("{registrar:?} is not a sip: URI"),
                    );
                }
            }
            if let Some(codecs) = &trunk.codecs {
                if let Err(message) = check_codecs(codecs) {
                    return fail(&format!("trunk[{i}].codecs"), &message);
                }
            }
            for (j, source) in trunk.allow.iter().enumerate() {
                if parse_source(source).is_none() {
                    return fail(
                        &format!("trunk[{i}].allow[{j}]"),
                        &format!("{source:?} is not an IP address or CIDR range"),
                    );
                }
            }
        }
        if let Some(i) = self
            .trunks
            .iter()
            .position(|trunk| trunk.transport == TrunkTransport::Tls)
        {
            if self.sip.tls.is_none() {
                return fail(
                    &format!("trunk[{i}].transport"),
                    "\"tls\" needs [sip] tls (the TLS listen address)",
                );
            }
        }
        // Requests we send to a trunk (REGISTER, OPTIONS) go by its transport.
        for (i, trunk) in self.trunks.iter().enumerate() {
            let sends = trunk.register || trunk.options_interval_s > 0;
            let key = format!("trunk[{i}].transport");
            match trunk.transport {
                TrunkTransport::Tcp if sends && !self.sip.tcp && self.sip.tls.is_none() => {
                    return fail(&key, "\"tcp\" needs [sip] tcp = true to reach the trunk");
                }
                TrunkTransport::Tls if sends && self.sip.tls_ca.is_none() => {
                    return fail(
                        &key,
                        "\"tls\" with register or options needs [sip] tls_ca to verify the trunk",
                    );
                }
                _ => {}
            }
        }
        if self.sip.tls.is_some() {
            if self.sip.tls_cert.is_none() {
                return fail("sip.tls_cert", "[sip] tls needs a certificate (PEM path)");
            }
            if self.sip.tls_key.is_none() {
                return fail("sip.tls_key", "[sip] tls needs a private key (PEM path)");
            }
        }
        if self.sip.tls_verify_clients && self.sip.tls_ca.is_none() {
            return fail(
                "sip.tls_verify_clients",
                "needs sip.tls_ca to verify against",
            );
        }
        if !(1..=300).contains(&self.sip.tls_handshake_secs) {
            return fail("sip.tls_handshake_secs", "must be between 1 and 300");
        }
        if !(10..=60_000).contains(&self.sip.t1_ms) {
            return fail("sip.t1_ms", "must be between 10 and 60000");
        }
        if self.sip.t2_ms < self.sip.t1_ms || self.sip.t2_ms > 600_000 {
            return fail("sip.t2_ms", "must be at least sip.t1_ms and at most 600000");
        }
        if self.sip.t4_ms == 0 || self.sip.t4_ms > 600_000 {
            return fail("sip.t4_ms", "must be between 1 and 600000");
        }
        if !(1..=86_400).contains(&self.sip.min_session_expires_s) {
            return fail("sip.min_session_expires_s", "must be between 1 and 86400");
        }
        let expires = self.sip.session_expires_s;
        if expires != 0 && !(self.sip.min_session_expires_s..=86_400).contains(&expires) {
            return fail(
                "sip.session_expires_s",
                "must be 0 or between sip.min_session_expires_s and 86400",
            );
        }
        if self.rtp.port_min == 0 || self.rtp.port_min > self.rtp.port_max {
            return fail("rtp.port_min", "must be between 1 and rtp.port_max");
        }
        if u32::from(self.rtp.port_max) - u32::from(self.rtp.port_min) < 3 {
            return fail(
                "rtp.port_max",
                "the RTP range must hold at least two even ports",
            );
        }
        if self.rtp.jitter_min_ms > 500 {
            return fail("rtp.jitter_min_ms", "must be at most 500");
        }
        if self.rtp.jitter_max_ms < self.rtp.jitter_min_ms + 40 || self.rtp.jitter_max_ms > 1000 {
            return fail(
                "rtp.jitter_max_ms",
                "must be at least rtp.jitter_min_ms + 40 and at most 1000",
            );
        }
        if let Some(codecs) = &self.rtp.codecs {
            if let Err(message) = check_codecs(codecs) {
                return fail("rtp.codecs", &message);
            }
        }
        for (i, route) in self.routing.route.iter().enumerate() {
            match (&route.number, &route.prefix) {
                (Some(_), Some(_)) => {
                    return fail(
                        &format!("routing.route[{i}]"),
                        "give number or prefix, not both",
                    )
                }
                (None, None) => {
                    return fail(&format!("routing.route[{i}]"), "needs number or prefix")
                }
                _ => {}
            }
            match (&route.flow, &route.destination) {
                (Some(_), Some(_)) => {
                    return fail(
                        &format!("routing.route[{i}]"),
                        "give flow or destination, not both",
                    )
                }
                (None, None) => {
                    return fail(&format!("routing.route[{i}]"), "needs flow or destination")
                }
                (Some(flow), None) if flow.is_empty() => {
                    return fail(&format!("routing.route[{i}].flow"), "must name a flow")
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Every destination the configuration defines.
    pub fn destinations(&self) -> DestinationCatalog {
        DestinationCatalog {
            queues: self.queues.clone(),
            voicemails: self.voicemails.clone(),
            ring_groups: self.ring_groups.clone(),
            conferences: self.conferences.clone(),
            forwards: self.forwards.clone(),
        }
    }

    /// The address RTP binds to and advertises.
    pub fn rtp_address(&self) -> IpAddr {
        self.rtp.address.unwrap_or(self.sip.listen.ip())
    }
}

/// Whether a route's `flow` names a file (rather than a flow id or `builtin:demo`).
pub fn is_flow_path(flow: &str) -> bool {
    !flow.is_empty() && flow != BUILTIN_DEMO && (flow.ends_with(".json") || flow.contains('/'))
}

/// Parses `MIN-MAX`, as `--rtp-ports` takes it.
pub fn parse_port_range(text: &str) -> Result<(u16, u16), String> {
    let (min, max) = text
        .split_once('-')
        .ok_or_else(|| format!("expected MIN-MAX, got {text:?}"))?;
    let min: u16 = min
        .trim()
        .parse()
        .map_err(|_| format!("bad port {min:?}"))?;
    let max: u16 = max
        .trim()
        .parse()
        .map_err(|_| format!("bad port {max:?}"))?;
    if min == 0 || min > max {
        return Err(format!("expected 1 ≤ MIN ≤ MAX, got {text:?}"));
    }
    Ok((min, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_embedded_defaults() {
        let config = Config::parse("", "test.toml").unwrap();
        assert_eq!(config.sip.listen, "127.0.0.1:5060".parse().unwrap());
        assert_eq!(config.routing.default_flow, BUILTIN_DEMO);
        assert_eq!(config.server.io, IoChoice::Auto);
    }

    #[test]
    fn full_file_parses() {
        let text = r#"
            [sip]
            listen = "0.0.0.0:5080"
            answer_delay_ms = 1500
            [rtp]
            address = "192.0.2.10"
            port_min = 30000
            port_max = 30100
            [server]
            shards = 2
            io = "epoll"
            data_dir = "/var/lib/callplane"
            [routing]
            default_flow = ""
            [[routing.route]]
            number = "1000"
            flow = "support.json"
            [[routing.route]]
            prefix = "44"
            flow = "builtin:demo"
            dest_xform = { lang = "en-GB" }
            [[routing.route]]
            number = "2000"
            destination = { kind = "queue", id = "support" }
            [flows]
            dir = "flows"
            [[schedule]]
            id = "office"
            timezone = "Europe/London"
            hours = [{ days = "mon-fri", open = "09:00", close = "17:30" }]
            holidays = ["2026-12-25"]
            [[queue]]
            id = "support"
            timeout_sec = 60
            timeout_dest = { kind = "voicemail", id = "vm1" }
            [[voicemail]]
            id = "vm1"
        "#;
        let config = Config::parse(text, "t.toml").unwrap();
        assert_eq!(config.sip.answer_delay_ms, 1500);
        assert_eq!(config.server.io, IoChoice::Epoll);
        assert_eq!(config.routing.route.len(), 3);
        assert_eq!(config.schedules.len(), 1);
        assert_eq!(config.destinations().queues.len(), 1);
        assert!(config.routing.route[2].destination.is_some());
        assert!(config.routing.route[1].dest_xform.is_some());
        assert_eq!(
            config.rtp_address(),
            "192.0.2.10".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn unknown_key_is_one_line_naming_it() {
        let err = Config::parse(
            "[sip]\nlisten = \"127.0.0.1:5060\"\nanswer_dealy_ms = 5\n",
            "c.toml",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(text.contains("answer_dealy_ms"), "{text}");
        assert!(text.contains("line 3"), "{text}");
    }

    #[test]
    fn wrong_type_names_key_and_line() {
        let err = Config::parse("[server]\nshards = \"two\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("c.toml"), "{err}");
    }

    #[test]
    fn route_needs_exactly_one_matcher() {
        let err = Config::parse("[[routing.route]]\nflow = \"x.json\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("routing.route[0]"), "{err}");
        let err = Config::parse(
            "[[routing.route]]\nnumber = \"1\"\nprefix = \"1\"\nflow = \"x.json\"\n",
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("not both"), "{err}");
    }

    #[test]
    fn sip_timers_default_to_the_rfc_and_can_be_set() {
        let config = Config::parse("", "c.toml").unwrap();
        assert_eq!(config.sip.timers(), crate::sip::SipTimers::default());
        let config =
            Config::parse("[sip]\nt1_ms = 250\nt2_ms = 2000\nt4_ms = 2500\n", "c.toml").unwrap();
        let timers = config.sip.timers();
        assert_eq!(timers.t1, std::time::Duration::from_millis(250));
        assert_eq!(
            timers.transaction_timeout(),
            std::time::Duration::from_secs(16)
        );
        let err = Config::parse("[sip]\nt1_ms = 500\nt2_ms = 100\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "config error in c.toml: sip.t2_ms: must be at least sip.t1_ms and at most 600000"
        );
    }

    #[test]
    fn a_trunk_with_an_options_interval_gets_keepalives() {
        let trunk = "[[trunk]]\nname = \"c\"\nallow = [\"192.0.2.1\"]\n";
        let config = Config::parse(trunk, "c.toml").unwrap();
        assert!(config.options_pings().is_empty(), "off by default");
        let config = Config::parse(
            &format!("{trunk}proxy = \"192.0.2.1:5060\"\noptions_interval_s = 30\n"),
            "c.toml",
        )
        .unwrap();
        let pings = config.options_pings();
        let [ping] = pings.as_slice() else {
            panic!("{pings:?}")
        };
        assert_eq!(ping.trunk, "c");
        assert_eq!(ping.dest, "192.0.2.1:5060".parse().unwrap());
        assert_eq!(ping.interval.as_secs(), 30);
        assert_eq!(ping.failures, 3);
        let error = |toml: &str| Config::parse(toml, "c.toml").unwrap_err().to_string();
        assert_eq!(
            error(&format!("{trunk}proxy = \"192.0.2.1:5060\"\noptions_interval_s = 2\n")),
            "config error in c.toml: trunk[0].options_interval_s: must be 0 (off) or between 5 and 3600"
        );
        assert_eq!(
            error(&format!("{trunk}options_interval_s = 30\n")),
            "config error in c.toml: trunk[0].proxy: options_interval_s needs the carrier's address (IP:port)"
        );
        assert_eq!(
            error(&format!("{trunk}options_failures = 0\n")),
            "config error in c.toml: trunk[0].options_failures: must be between 1 and 100"
        );
    }

    #[test]
    fn a_registering_trunk_becomes_a_registration() {
        let config = Config::parse(
            "[[trunk]]\nname = \"c\"\nregister = true\nproxy = \"198.51.100.7:5060\"\n\
username = \"acct\"\npassword = \"pw\"\n",
            "c.toml",
        )
        .unwrap();
        let registrations = config.registrations();
        let [registration] = registrations.as_slice() else {
            panic!("{registrations:?}")
        };
        assert_eq!(registration.registrar, "sip:198.51.100.7:5060");
        assert_eq!(registration.aor, "sip:acct@198.51.100.7:5060");
        assert_eq!(registration.dest, "198.51.100.7:5060".parse().unwrap());
        assert_eq!(registration.expires.as_secs(), 3600);
        assert!(registration.credentials.is_some());
        assert!(config.allowed_sources().is_empty(), "no allow list needed");
        let error = |toml: &str| Config::parse(toml, "c.toml").unwrap_err().to_string();
        assert_eq!(
            error("[[trunk]]\nname = \"c\"\nregister = true\nusername = \"a\"\n"),
            "config error in c.toml: trunk[0].proxy: register = true needs the carrier's address (IP:port)"
        );
        assert_eq!(
            error("[[trunk]]\nname = \"c\"\nregister = true\nproxy = \"192.0.2.1:5060\"\n"),
            "config error in c.toml: trunk[0].username: register = true needs a username"
        );
        assert_eq!(
            error("[[trunk]]\nname = \"c\"\nregister = true\nproxy = \"192.0.2.1:5060\"\nusername = \"a\"\nregister_expires_s = 5\n"),
            "config error in c.toml: trunk[0].register_expires_s: must be between 60 and 86400"
        );
        assert!(error(
            "[[trunk]]\nname = \"c\"\nregister = true\nproxy = \"carrier.example:5060\"\n"
        )
        .ends_with("line 4: invalid socket address syntax"));
    }

    #[test]
    fn session_timer_settings_default_to_the_rfc_minimum_and_are_checked() {
        let config = Config::parse("", "c.toml").unwrap();
        assert_eq!(
            config.sip.session_timer(),
            crate::sip::SessionTimerSettings {
                min_se: 90,
                session_expires: 0
            }
        );
        let text = "[sip]\nmin_session_expires_s = 1\nsession_expires_s = 1800\n";
        let config = Config::parse(text, "c.toml").unwrap();
        assert_eq!(config.sip.session_timer().min_se, 1);
        assert_eq!(config.sip.session_timer().session_expires, 1800);
        let err = Config::parse("[sip]\nmin_session_expires_s = 0\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "config error in c.toml: sip.min_session_expires_s: must be between 1 and 86400"
        );
        let err = Config::parse("[sip]\nsession_expires_s = 30\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "config error in c.toml: sip.session_expires_s: must be 0 or between sip.min_session_expires_s and 86400"
        );
    }

    #[test]
    fn codec_preferences_are_read_and_checked() {
        use crate::sip::AudioCodec;
        let config = Config::parse(
            "[rtp]\ncodecs = [\"opus\", \"PCMU\"]\n[[trunk]]\nname = \"eu\"\nallow = [\"192.0.2.0/24\"]\ncodecs = [\"PCMA\"]\n",
            "c.toml",
        )
        .unwrap();
        assert_eq!(
            config.codec_preferences(),
            vec![AudioCodec::Opus, AudioCodec::Pcmu]
        );
        let trunks = config.trunk_codec_preferences();
        assert_eq!(trunks.len(), 1);
        assert_eq!(trunks[0].1, vec![AudioCodec::Pcma]);
        assert!(Config::default().codec_preferences().is_empty());
        let err = Config::parse("[rtp]\ncodecs = [\"G729\"]\n", "c.toml").unwrap_err();
        assert_eq!(
            err.0,
            "config error in c.toml: rtp.codecs: \"G729\" is not a codec (PCMU, PCMA, opus)"
        );
        let err = Config::parse(
            "[[trunk]]\nname = \"x\"\nallow = [\"192.0.2.1\"]\ncodecs = [\"pcmu\", \"PCMU\"]\n",
            "c.toml",
        )
        .unwrap_err();
        assert_eq!(
            err.0,
            "config error in c.toml: trunk[0].codecs: \"PCMU\" is listed twice"
        );
        let err = Config::parse("[rtp]\ncodecs = []\n", "c.toml").unwrap_err();
        assert!(
            err.0.contains("rtp.codecs: list at least one codec"),
            "{}",
            err.0
        );
    }

    #[test]
    fn trunks_allow_addresses_and_ranges() {
        let config = Config::parse(
            "[[trunk]]\nname = \"a\"\nallow = [\"192.0.2.0/24\", \"198.51.100.7\"]\n",
            "c.toml",
        )
        .unwrap();
        let allowed = config.allowed_sources();
        assert_eq!(allowed.len(), 2);
        assert!(allowed[0].contains(&"192.0.2.200".parse::<IpAddr>().unwrap()));
        assert!(allowed[1].contains(&"198.51.100.7".parse::<IpAddr>().unwrap()));
        assert!(!allowed[1].contains(&"198.51.100.8".parse::<IpAddr>().unwrap()));
        let err = Config::parse(
            "[[trunk]]\nname = \"a\"\nallow = [\"192.0.2.0/24\", \"carrier.example\"]\n",
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "config error in c.toml: trunk[0].allow[1]: \"carrier.example\" is not an IP address or CIDR range"
        );
        assert!(Config::parse("", "c.toml")
            .unwrap()
            .allowed_sources()
            .is_empty());
    }

    #[test]
    fn bad_rtp_range_is_refused() {
        let err = Config::parse("[rtp]\nport_min = 5000\nport_max = 4000\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("rtp.port_min"), "{err}");
    }

    #[test]
    fn jitter_bounds_are_read_and_checked() {
        use std::time::Duration;
        let config =
            Config::parse("[rtp]\njitter_min_ms = 40\njitter_max_ms = 300\n", "c.toml").unwrap();
        assert_eq!(
            config.rtp.jitter_bounds(),
            (Duration::from_millis(40), Duration::from_millis(300))
        );
        let defaults = Config::parse("", "c.toml").unwrap();
        assert_eq!(
            defaults.rtp.jitter_bounds(),
            (Duration::from_millis(20), Duration::from_millis(200))
        );
        let err = Config::parse(
            "[rtp]\njitter_min_ms = 100\njitter_max_ms = 120\n",
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "config error in c.toml: rtp.jitter_max_ms: must be at least rtp.jitter_min_ms + 40 and at most 1000"
        );
        let err = Config::parse(
            "[rtp]\njitter_min_ms = 900\njitter_max_ms = 1000\n",
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "config error in c.toml: rtp.jitter_min_ms: must be at most 500"
        );
    }

    #[test]
    fn port_range_flag() {
        assert_eq!(parse_port_range("20000-20100"), Ok((20000, 20100)));
        assert!(parse_port_range("20100-20000").is_err());
        assert!(parse_port_range("abc").is_err());
    }

    #[test]
    fn srtp_policies_globally_and_per_trunk() {
        use crate::sip::sdp::SrtpPolicy;
        let config = Config::parse(
            "[rtp]\nsrtp = \"optional\"\n[[trunk]]\nname = \"a\"\nallow = [\"192.0.2.0/24\"]\nsrtp = \"required\"\n\
             [[trunk]]\nname = \"b\"\nallow = [\"198.51.100.7\"]\n",
            "c.toml",
        )
        .unwrap();
        assert_eq!(config.rtp.srtp_policy(), SrtpPolicy::Optional);
        assert_eq!(
            config.trunk_srtp(),
            vec![("192.0.2.0/24".parse().unwrap(), SrtpPolicy::Required)]
        );
        assert_eq!(
            Config::parse("", "c.toml").unwrap().rtp.srtp_policy(),
            SrtpPolicy::Off
        );
        let err = Config::parse("[rtp]\nsrtp = \"always\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "config error in c.toml: rtp.srtp: must be \"off\", \"optional\" or \"required\""
        );
        let err = Config::parse(
            "[[trunk]]\nname = \"a\"\nallow = [\"192.0.2.1\"]\nsrtp = \"yes\"\n",
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("trunk[0].srtp"), "{err}");
    }

    #[test]
    fn tls_settings_are_checked_with_one_line_naming_the_key() {
        let err = |text: &str| Config::parse(text, "c.toml").unwrap_err().to_string();
        let no_cert = err("[sip]\ntls = \"127.0.0.1:5061\"\ntls_key = \"k.pem\"\n");
        assert!(no_cert.contains("sip.tls_cert"), "{no_cert}");
        let no_key = err("[sip]\ntls = \"127.0.0.1:5061\"\ntls_cert = \"c.pem\"\n");
        assert!(no_key.contains("sip.tls_key"), "{no_key}");
        let verify = err("[sip]\ntls_verify_clients = true\n");
        assert!(verify.contains("sip.tls_verify_clients"), "{verify}");
        let handshake = err("[sip]\ntls_handshake_secs = 0\n");
        assert!(handshake.contains("sip.tls_handshake_secs"), "{handshake}");
        let trunk = err("[[trunk]]\nname = \"a\"\nallow = [\"192.0.2.1\"]\ntransport = \"tls\"\n");
        assert!(trunk.contains("trunk[0].transport"), "{trunk}");
        let bad = err("[[trunk]]\nname = \"a\"\nallow = [\"192.0.2.1\"]\ntransport = \"sctp\"\n");
        assert!(bad.contains("line 4") && bad.contains("sctp"), "{bad}");
        for text in [no_cert, no_key, verify, handshake, trunk, bad] {
            assert!(!text.contains('\n'), "{text}");
        }
    }

    #[test]
    fn registrations_and_keepalives_follow_the_trunk_transport() {
        let trunk = |transport: &str| {
            format!(
                "[[trunk]]\nname = \"c\"\nregister = true\nproxy = \"198.51.100.7:5061\"\n\
                 username = \"acct\"\noptions_interval_s = 30\ntransport = \"{transport}\"\n"
            )
        };
        let tls = "[sip]\ntls = \"127.0.0.1:5061\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n";
        let config = Config::parse(
            &format!("{tls}tls_ca = \"ca.pem\"\n{}", trunk("tls")),
            "c.toml",
        )
        .unwrap();
        assert_eq!(config.registrations()[0].link, crate::sip::Link::Tls(None));
        assert_eq!(config.options_pings()[0].link, crate::sip::Link::Tls(None));
        let tcp = Config::parse(&format!("[sip]\ntcp = true\n{}", trunk("tcp")), "c.toml").unwrap();
        assert_eq!(tcp.registrations()[0].link, crate::sip::Link::Tcp(None));
        let udp = Config::parse(&trunk("udp"), "c.toml").unwrap();
        assert_eq!(udp.registrations()[0].link, crate::sip::Link::Udp);
        let err = |text: &str| Config::parse(text, "c.toml").unwrap_err().to_string();
        let no_ca = err(&format!("{tls}{}", trunk("tls")));
        assert!(
            no_ca.contains("trunk[0].transport") && no_ca.contains("tls_ca"),
            "{no_ca}"
        );
        let no_tcp = err(&format!("[sip]\ntcp = false\n{}", trunk("tcp")));
        assert!(
            no_tcp.contains("trunk[0].transport") && no_tcp.contains("[sip] tcp"),
            "{no_tcp}"
        );
    }

    #[test]
    fn a_missing_certificate_file_is_one_line_naming_the_key_and_the_file() {
        let config = Config::parse(
            "[sip]\ntls = \"127.0.0.1:5061\"\ntls_cert = \"/nonexistent/cert.pem\"\ntls_key = \"/nonexistent/key.pem\"\n",
            "c.toml",
        )
        .unwrap();
        let err = config.sip.tls_settings().unwrap_err();
        assert!(err.starts_with("sip.tls_cert:"), "{err}");
        assert!(err.contains("/nonexistent/cert.pem"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn trunks_that_require_tls_give_their_sources() {
        let config = Config::parse(
            "[sip]\ntls = \"127.0.0.1:5061\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n\
             [[trunk]]\nname = \"a\"\nallow = [\"192.0.2.0/24\"]\ntransport = \"tls\"\n\
             [[trunk]]\nname = \"b\"\nallow = [\"198.51.100.7\"]\n",
            "c.toml",
        )
        .unwrap();
        let tls_only: Vec<String> = config
            .tls_only_sources()
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(tls_only, vec!["192.0.2.0/24".to_string()]);
        assert_eq!(config.allowed_sources().len(), 2);
    }
}
