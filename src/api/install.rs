//! The routing table the shards run, built from both sources of flows and
//! routes: the configuration file (flows directory, `[[routing.route]]`) and
//! the store (published API flows, routes made through the API). Every
//! publish, route change or SIGHUP builds a new table and hands it to each
//! shard through its inbox (`ShardMsg::Routes`); a call in progress keeps
//! the flow it started with, the next call gets the new table.

use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::assets;
use crate::call::{RouteTarget, Router};
use crate::config::Config;
use crate::flow::{check_references, synthesize, Destination, FlowEnv};
use crate::shard::{ShardMsg, ShardPeer};
use crate::store::{Matcher, Store};

use super::flow_record::{compile, is_active};

/// Where an API route leads, as stored (`target` of a route row).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RouteSpec {
    /// A call flow of the route's workspace; calls run its published version.
    pub(super) flow_id: Option<String>,
    /// Or a destination of the configuration file (queue, voicemail…).
    pub(super) destination: Option<Destination>,
    /// Variables set when a call enters the flow.
    pub(super) dest_xform: Option<Map<String, Value>>,
    /// Calls start with early media.
    #[serde(default)]
    pub(super) early_media: bool,
}

/// Builds routing tables and installs them on the shards.
pub struct Installer {
    config: Mutex<Config>,
    store: Arc<dyn Store>,
    peers: Mutex<Vec<ShardPeer>>,
    /// One build-and-install at a time, so tables reach the shards in order.
    installing: Mutex<()>,
}

impl Installer {
    /// An installer for `config`'s routes and the store's; no shards yet.
    pub fn new(config: Config, store: Arc<dyn Store>) -> Installer {
        Installer {
            config: Mutex::new(config),
            store,
            peers: Mutex::new(Vec::new()),
            installing: Mutex::new(()),
        }
    }

    /// The shards to install tables on, once they run.
    pub fn set_peers(&self, peers: Vec<ShardPeer>) {
        *lock(&self.peers) = peers;
    }

    /// The shards, in shard order (live-call commands go to one of them).
    pub fn peers(&self) -> Vec<ShardPeer> {
        lock(&self.peers).clone()
    }

    /// Whether the configuration file already routes this number or prefix
    /// (the API may not route it too).
    pub fn config_routes(&self, matcher: &Matcher) -> bool {
        lock(&self.config)
            .routing
            .route
            .iter()
            .any(|route| match matcher {
                Matcher::Number(number) => route.number.as_deref() == Some(number.as_str()),
                Matcher::Prefix(prefix) => {
                    route.number.is_none() && route.prefix.as_deref() == Some(prefix.as_str())
                }
            })
    }

    /// Whether the configuration file has this destination.
    pub fn has_destination(&self, destination: &Destination) -> bool {
        lock(&self.config).destinations().contains(destination)
    }

    /// The table the configuration and the store describe now.
    pub fn build(&self) -> Result<Router, String> {
        let config = lock(&self.config).clone();
        build_router(&config, self.store.as_ref())
    }

    /// Builds the table and hands it to every shard.
    pub fn install(&self) -> Result<(), String> {
        let _one_at_a_time = lock(&self.installing);
        let router = Arc::new(self.build()?);
        for peer in lock(&self.peers).iter() {
            peer.send(ShardMsg::Routes(router.clone()));
        }
        Ok(())
    }

    /// SIGHUP: adopts a re-read configuration and installs the table; on
    /// failure the running table and configuration stay.
    pub fn reload(&self, config: Config) -> Result<(), String> {
        let _one_at_a_time = lock(&self.installing);
        let router = Arc::new(build_router(&config, self.store.as_ref())?);
        *lock(&self.config) = config;
        for peer in lock(&self.peers).iter() {
            peer.send(ShardMsg::Routes(router.clone()));
        }
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The configuration's table with the store's published flows and routes added.
pub fn build_router(config: &Config, store: &dyn Store) -> Result<Router, String> {
    let mut env: FlowEnv = assets::build_env(config)?;
    let published = store
        .published()
        .map_err(|err| format!("cannot read the store: {err}"))?;
    let mut api_flows = Vec::new();
    for (_workspace, version) in published {
        if !is_active(&version.document) {
            continue;
        }
        match compile(&version.flow_id, version.version, &version.document) {
            Ok(loaded) => api_flows.push(loaded.program),
            Err(err) => {
                return Err(format!(
                    "flow {} version {} refused: {}",
                    version.flow_id,
                    version.version,
                    err.lines().join("; ")
                ))
            }
        }
    }
    for program in &api_flows {
        env = env.with_flow(program.clone());
    }
    for program in &api_flows {
        let problems = check_references(program, &env);
        if !problems.is_empty() {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(format!(
                "flow {} version {} refused: {}",
                program.id(),
                program.version(),
                list.join("; ")
            ));
        }
    }
    let env = Arc::new(env);
    let mut router = assets::build_router(config, env.clone())?;
    let routes = store
        .all_routes()
        .map_err(|err| format!("cannot read the store: {err}"))?;
    for route in routes {
        let spec: RouteSpec = serde_json::from_value(route.target.clone())
            .map_err(|err| format!("route {}: stored target unreadable: {err}", route.id))?;
        let program = match (&spec.flow_id, &spec.destination) {
            (Some(flow_id), _) => match env.flow(flow_id) {
                Some(program) => program.clone(),
                // No published (active) version: the route waits for one.
                None => continue,
            },
            (None, Some(destination)) if env.destinations.contains(destination) => {
                Arc::new(synthesize(destination, &env.destinations))
            }
            // A destination the configuration no longer has.
            (None, _) => {
                log::warn!("route {}: its destination is gone, not routed", route.id);
                continue;
            }
        };
        let target = RouteTarget {
            program,
            dest_xform: spec.dest_xform.map(Arc::new),
            early_media: spec.early_media,
        };
        match &route.matcher {
            Matcher::Number(number) => router.add_number(number, target),
            Matcher::Prefix(prefix) => router.add_prefix(prefix, target),
        }
    }
    Ok(router)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{RouteRow, SqliteStore};
    use serde_json::json;

    fn config() -> Config {
        Config::parse(
            "[routing]\ndefault_flow = \"\"\n[[voicemail]]\nid = \"vm1\"\n",
            "test.toml",
        )
        .expect("config")
    }

    fn flow() -> Value {
        json!({"name": "n", "actions": [{"type": "answer"}, {"type": "hangup"}]})
    }

    #[test]
    fn published_flows_and_api_routes_reach_the_table() {
        let store = SqliteStore::in_memory().expect("store");
        let now = "2026-12-01T00:00:00.000Z";
        store.create_flow("w", "f1", &flow(), now).expect("create");
        let route = |id: &str, matcher, target| RouteRow {
            id: id.into(),
            workspace: "w".into(),
            matcher,
            target,
            created_at: now.into(),
        };
        store
            .add_route(&route(
                "r1",
                Matcher::Number("1000".into()),
                json!({"flowId": "f1"}),
            ))
            .expect("route");
        store
            .add_route(&route(
                "r2",
                Matcher::Prefix("44".into()),
                json!({"destination": {"kind": "voicemail", "id": "vm1"}}),
            ))
            .expect("route");
        // Unpublished: the number waits, the destination route works.
        let router = build_router(&config(), &store).expect("table");
        assert!(router.route("1000").is_none());
        assert!(router.route("4412").is_some());
        store.add_version("w", "f1", &flow(), now).expect("v2");
        store.publish("w", "f1", 2, now).expect("publish");
        let router = build_router(&config(), &store).expect("table");
        let target = router.route("1000").expect("routed");
        assert_eq!((target.program.id(), target.program.version()), ("f1", 2));
        assert!(router.route("2000").is_none());
    }

    #[test]
    fn an_inactive_published_version_is_not_routed() {
        let store = SqliteStore::in_memory().expect("store");
        let now = "2026-12-01T00:00:00.000Z";
        let mut inactive = flow();
        inactive["published"] = json!(false);
        store
            .create_flow("w", "f1", &inactive, now)
            .expect("create");
        store.publish("w", "f1", 1, now).expect("publish");
        let router = build_router(&config(), &store).expect("table");
        assert!(router.env().flow("f1").is_none());
    }
}
