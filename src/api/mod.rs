//! The HTTP control plane: call flows in the create-call-flow API's shape,
//! their versions and publication, and the numbers routed to them — JSON over
//! HTTP/1.1 (axum), documented by the OpenAPI document it serves at
//! `/openapi.json`.
//!
//! It runs on a tokio runtime of its own, on its own threads: store writes
//! run on the runtime's blocking pool, a publish hands the shards a new
//! routing table through their inboxes, and nothing here ever runs on a
//! shard or makes one wait. It is off unless `[api] listen` is set
//! (see [`ApiConfig`]); `docs/api.md` is the reference.

mod auth;
mod calls;
mod cdrs;
mod config;
mod error;
mod flow_record;
mod flows;
mod install;
mod numbers;
mod openapi;
mod recordings;

pub use config::{hash_key, ApiConfig, ApiKeyConfig, HashedKey};
pub use install::{build_router, Installer};
pub use openapi::OPENAPI_JSON;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::{header, Method};
use axum::routing::{on, MethodFilter, MethodRouter};

use crate::store::Store;

use error::ApiError;

/// What every handler shares.
#[derive(Clone)]
struct AppState {
    store: Arc<dyn Store>,
    installer: Arc<Installer>,
    /// Where recordings and voicemail messages are (`[server] data_dir`).
    data_dir: Arc<std::path::Path>,
}

impl AppState {
    /// Installs the table the store now describes on every shard (off the
    /// runtime's workers: sending may wait for room in a shard's inbox).
    async fn install(&self) -> Result<(), ApiError> {
        let installer = self.installer.clone();
        blocking(move || installer.install()).await?.map_err(|err| {
            ApiError::invalid(vec![crate::flow::Problem::new(
                "",
                format!("the routing table cannot be built: {err}"),
            )])
        })
    }
}

/// Runs `work` on the blocking pool (store calls, shard sends).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)
}

/// Now, as the records give times: RFC 3339 in UTC with milliseconds.
fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One route the API serves: its method, its path (OpenAPI's `{param}`
/// syntax, which axum shares) and its handler.
struct Endpoint {
    method: Method,
    path: &'static str,
    handler: MethodRouter<AppState>,
}

fn endpoint<H, T>(method: Method, path: &'static str, handler: H) -> Endpoint
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
    Endpoint {
        method,
        path,
        handler: on(filter, handler),
    }
}

/// Every authenticated route, the one list the router is built from (and
/// the OpenAPI document is checked against).
fn endpoints() -> Vec<Endpoint> {
    const FLOW: &str = "/v1/call-flows/{id}";
    const VERSION: &str = "/v1/call-flows/{id}/versions/{version}";
    vec![
        endpoint(Method::POST, "/v1/call-flows", flows::create),
        endpoint(Method::GET, "/v1/call-flows", flows::list),
        endpoint(Method::GET, FLOW, flows::get_one),
        endpoint(Method::PUT, FLOW, flows::replace),
        endpoint(Method::PATCH, FLOW, flows::patch),
        endpoint(Method::DELETE, FLOW, flows::delete),
        endpoint(Method::GET, "/v1/call-flows/{id}/versions", flows::versions),
        endpoint(Method::GET, VERSION, flows::version),
        endpoint(
            Method::POST,
            "/v1/call-flows/{id}/versions/{version}/publish",
            flows::publish,
        ),
        endpoint(
            Method::POST,
            "/v1/call-flows/{id}/rollback",
            flows::rollback,
        ),
        endpoint(Method::POST, "/v1/numbers", numbers::create),
        endpoint(Method::GET, "/v1/numbers", numbers::list),
        endpoint(Method::GET, "/v1/numbers/{id}", numbers::get_one),
        endpoint(Method::DELETE, "/v1/numbers/{id}", numbers::delete),
        endpoint(Method::GET, "/v1/cdrs", cdrs::list),
        endpoint(Method::GET, "/v1/recordings", recordings::list),
        endpoint(Method::GET, "/v1/recordings/{id}", recordings::download),
        endpoint(Method::DELETE, "/v1/recordings/{id}", recordings::delete),
        endpoint(Method::GET, "/v1/calls", calls::list),
        endpoint(Method::GET, "/v1/calls/{id}", calls::get_one),
        endpoint(Method::POST, "/v1/calls/{id}/actions", calls::action),
        endpoint(Method::POST, "/v1/calls/{id}/hangup", calls::hangup),
        endpoint(Method::POST, "/v1/activeflows/{id}/execute", calls::execute),
    ]
}

/// The path of the OpenAPI document (served without a key).
pub const OPENAPI_PATH: &str = "/openapi.json";

/// Every route the API serves, as (method, path): the authenticated ones and
/// the OpenAPI document.
pub fn served_routes() -> Vec<(Method, &'static str)> {
    let mut routes: Vec<_> = endpoints()
        .into_iter()
        .map(|endpoint| (endpoint.method, endpoint.path))
        .collect();
    routes.push((Method::GET, OPENAPI_PATH));
    routes
}

fn router(config: &ApiConfig, keys: Vec<HashedKey>, state: AppState) -> axum::Router {
    let gate = Arc::new(auth::Gate::new(
        keys,
        config.rate_per_second,
        config.rate_burst,
    ));
    let mut api = axum::Router::new();
    for endpoint in endpoints() {
        api = api.route(endpoint.path, endpoint.handler);
    }
    let api = api
        .layer(axum::middleware::from_fn_with_state(
            gate,
            auth::authenticate,
        ))
        .layer(DefaultBodyLimit::max(config.body_limit_bytes))
        .with_state(state);
    axum::Router::new()
        .route(
            OPENAPI_PATH,
            axum::routing::get(|| async {
                ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
            }),
        )
        .merge(api)
}

/// The running API: its address, and the way to stop it.
pub struct ApiServer {
    address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ApiServer {
    /// Binds `config.listen` (now, so a taken port is an error at start) and
    /// serves on a thread with its own runtime.
    pub fn start(
        config: &ApiConfig,
        store: Arc<dyn Store>,
        installer: Arc<Installer>,
        data_dir: &std::path::Path,
    ) -> Result<ApiServer, String> {
        let Some(listen) = config.listen else {
            return Err("api.listen is not set".into());
        };
        let keys = config.hashed_keys()?;
        let listener = std::net::TcpListener::bind(listen)
            .map_err(|err| format!("api.listen: cannot bind {listen}: {err}"))?;
        let address = listener
            .local_addr()
            .map_err(|err| format!("api.listen: {err}"))?;
        listener
            .set_nonblocking(true)
            .map_err(|err| format!("api.listen: {err}"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(8)
            .thread_name("api")
            .enable_all()
            .build()
            .map_err(|err| format!("cannot start the API runtime: {err}"))?;
        let state = AppState {
            store,
            installer,
            data_dir: Arc::from(data_dir),
        };
        let app = router(config, keys, state);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("api".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(err) => {
                            log::error!("api: cannot listen: {err}");
                            return;
                        }
                    };
                    let served = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await;
                    if let Err(err) = served {
                        log::error!("api: {err}");
                    }
                });
            })
            .map_err(|err| format!("cannot start the API thread: {err}"))?;
        Ok(ApiServer {
            address,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops taking requests, lets the ones in progress finish, and returns.
    pub fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
