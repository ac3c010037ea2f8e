//! Which compiled flow a dialled number runs: exact numbers first, then the
//! longest matching prefix, then the default flow (if any); plus the flow
//! environment (schedules, published flows, destinations) every session of
//! this routing table sees.
//!
//! Flows are compiled once when the server loads (or reloads) its
//! configuration and shared by every call behind an `Arc`; a call keeps the
//! program it started with when a newer table replaces this one.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::flow::{FlowEnv, Program};

/// What a route leads to: a program and the variables it sets on entry.
#[derive(Clone)]
pub struct RouteTarget {
    /// The flow calls on this route run.
    pub program: Arc<Program>,
    /// Variables set when a call enters the flow (`dest_xform` in the config).
    pub dest_xform: Option<Arc<Map<String, Value>>>,
    /// The route asks for early media (`early_media` in the config).
    pub early_media: bool,
}

impl RouteTarget {
    /// A route to `program` with no entry variables.
    pub fn new(program: Arc<Program>) -> RouteTarget {
        RouteTarget {
            program,
            dest_xform: None,
            early_media: false,
        }
    }
}

/// The routing table of one server.
#[derive(Clone)]
pub struct Router {
    exact: HashMap<String, RouteTarget>,
    /// Longest prefix first.
    prefixes: Vec<(String, RouteTarget)>,
    default: Option<RouteTarget>,
    env: Arc<FlowEnv>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("numbers", &self.exact.len())
            .field("prefixes", &self.prefixes.len())
            .field("default", &self.default.as_ref().map(|t| t.program.id()))
            .finish()
    }
}

impl Router {
    /// A router that sends every number to `default`, or rejects all when `None`.
    pub fn new(default: Option<RouteTarget>, env: Arc<FlowEnv>) -> Router {
        Router {
            exact: HashMap::new(),
            prefixes: Vec::new(),
            default,
            env,
        }
    }

    /// Routes one exact number.
    pub fn add_number(&mut self, number: &str, target: RouteTarget) {
        self.exact.insert(number.to_string(), target);
    }

    /// Routes every number that starts with `prefix`.
    pub fn add_prefix(&mut self, prefix: &str, target: RouteTarget) {
        self.prefixes.push((prefix.to_string(), target));
        self.prefixes
            .sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
    }

    /// The route for `dialled`, if any route (or the default) takes it.
    pub fn route(&self, dialled: &str) -> Option<&RouteTarget> {
        if let Some(target) = self.exact.get(dialled) {
            return Some(target);
        }
        self.prefixes
            .iter()
            .find(|(prefix, _)| dialled.starts_with(prefix.as_str()))
            .map(|(_, target)| target)
            .or(self.default.as_ref())
    }

    /// The environment sessions routed by this table run in.
    pub fn env(&self) -> &Arc<FlowEnv> {
        &self.env
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{load_node_graph, DEMO_FLOW_JSON};

    fn target(id: &str) -> RouteTarget {
        let json = DEMO_FLOW_JSON.replacen("\"demo\"", &format!("\"{id}\""), 1);
        RouteTarget::new(load_node_graph(&json).expect("demo flow loads").program)
    }

    fn env() -> Arc<FlowEnv> {
        Arc::new(FlowEnv::new())
    }

    #[test]
    fn exact_beats_prefix_and_longest_prefix_wins() {
        let mut router = Router::new(Some(target("default")), env());
        router.add_prefix("44", target("uk"));
        router.add_prefix("4420", target("london"));
        router.add_number("4420123", target("one"));
        assert_eq!(router.route("4420123").unwrap().program.id(), "one");
        assert_eq!(router.route("4420999").unwrap().program.id(), "london");
        assert_eq!(router.route("4413").unwrap().program.id(), "uk");
        assert_eq!(router.route("1000").unwrap().program.id(), "default");
    }

    #[test]
    fn no_default_rejects_unrouted() {
        let mut router = Router::new(None, env());
        router.add_number("1000", target("one"));
        assert!(router.route("2000").is_none());
        assert!(router.route("1000").is_some());
    }
}
