//! The metrics and health listener: `/metrics`, `/healthz`, `/readyz`, served
//! by axum on a one-thread tokio runtime of its own, so a scrape or a probe
//! never runs on (or waits for) a shard.
//!
//! It listens apart from the HTTP API: scrapes and probes must not share the
//! API's rate limits, authentication or load, and an orchestrator's liveness
//! probe must answer while the API is busy.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::exposition::{render, ProcessGauges};
use super::shard_counters::ShardCounters;

/// A readiness condition beyond the shards' (say, the store is open): its
/// name, shown when it fails, and the check.
pub type ReadyCheck = (String, Arc<dyn Fn() -> bool + Send + Sync>);

/// What the endpoint reads.
#[derive(Clone)]
pub struct MetricsSources {
    /// Every shard's counters, in shard order.
    pub shards: Arc<[Arc<ShardCounters>]>,
    /// Flow HTTP requests waiting for a worker.
    pub http_queue: Arc<AtomicUsize>,
    /// The speech synthesizer, for its cache and engine counters.
    pub speech: Option<Arc<crate::speech::Synthesizer>>,
    /// Further conditions `/readyz` requires.
    pub ready_checks: Vec<ReadyCheck>,
}

/// The running listener; [`MetricsEndpoint::stop`] ends it.
pub struct MetricsEndpoint {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsEndpoint {
    /// Binds `listen` now (so a taken port is reported at once) and serves on
    /// a thread of its own.
    pub fn start(listen: SocketAddr, sources: MetricsSources) -> std::io::Result<MetricsEndpoint> {
        let listener = TcpListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(err) => {
                            log::error!("metrics listener on {addr}: {err}");
                            return;
                        }
                    };
                    let served = axum::serve(listener, router(sources))
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await;
                    if let Err(err) = served {
                        log::error!("metrics listener on {addr}: {err}");
                    }
                });
            })?;
        Ok(MetricsEndpoint {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on (the port chosen, when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and waits for the thread.
    pub fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn router(sources: MetricsSources) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(Arc::new(sources))
}

async fn metrics(State(sources): State<Arc<MetricsSources>>) -> impl IntoResponse {
    let text = render(
        &sources.shards,
        ProcessGauges {
            http_queue_depth: sources.http_queue.load(Ordering::Relaxed),
            speech: sources
                .speech
                .as_ref()
                .map(|speech| (speech.cache_hits(), speech.engine_runs())),
        },
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

/// Alive: the process answers.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready: every shard's loop runs and every further check passes; otherwise
/// 503 naming what is not ready.
async fn readyz(State(sources): State<Arc<MetricsSources>>) -> (StatusCode, String) {
    let mut waiting: Vec<String> = sources
        .shards
        .iter()
        .enumerate()
        .filter(|(_, shard)| !shard.running())
        .map(|(index, _)| format!("shard {index} not running"))
        .collect();
    for (name, check) in &sources.ready_checks {
        if !check() {
            waiting.push(format!("{name} not ready"));
        }
    }
    if waiting.is_empty() {
        (StatusCode::OK, "ready\n".into())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{}\n", waiting.join("; ")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn get(addr: SocketAddr, path: &str) -> String {
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .expect("write");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read");
        answer
    }

    #[test]
    fn readyz_waits_for_every_shard_and_check() {
        let shards: Arc<[Arc<ShardCounters>]> = vec![
            Arc::new(ShardCounters::new()),
            Arc::new(ShardCounters::new()),
        ]
        .into();
        let store_open = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = store_open.clone();
        let endpoint = MetricsEndpoint::start(
            "127.0.0.1:0".parse().expect("addr"),
            MetricsSources {
                shards: shards.clone(),
                http_queue: Arc::new(AtomicUsize::new(0)),
                speech: None,
                ready_checks: vec![(
                    "store".into(),
                    Arc::new(move || flag.load(Ordering::Relaxed)),
                )],
            },
        )
        .expect("start");
        let addr = endpoint.local_addr();
        assert!(get(addr, "/healthz").starts_with("HTTP/1.1 200"));
        let answer = get(addr, "/readyz");
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(
            answer.contains("shard 0 not running; shard 1 not running; store not ready"),
            "{answer}"
        );
        shards[0].set_running(true);
        shards[1].set_running(true);
        assert!(get(addr, "/readyz").contains("store not ready"));
        store_open.store(true, Ordering::Relaxed);
        assert!(get(addr, "/readyz").starts_with("HTTP/1.1 200"));
        let metrics = get(addr, "/metrics");
        assert!(metrics.contains("text/plain; version=0.0.4"), "{metrics}");
        assert!(
            metrics.contains("callplane_shard_up{shard=\"1\"} 1"),
            "{metrics}"
        );
        assert!(get(addr, "/nothing").starts_with("HTTP/1.1 404"));
        endpoint.stop();
    }
}
