//! Which compiled flow a dialled number runs: exact numbers first, then the
//! longest matching prefix, then the default flow (if any).
//!
//! Flows are compiled once when the server loads its configuration and shared
//! by every call behind an `Arc`.

use std::collections::HashMap;
use std::sync::Arc;

use crate::flow::Program;

/// The routing table of one server.
#[derive(Clone, Default)]
pub struct Router {
    exact: HashMap<String, Arc<Program>>,
    /// Longest prefix first.
    prefixes: Vec<(String, Arc<Program>)>,
    default: Option<Arc<Program>>,
}

impl Router {
    /// A router that sends every number to `default`, or rejects all when `None`.
    pub fn new(default: Option<Arc<Program>>) -> Router {
        Router {
            default,
            ..Router::default()
        }
    }

    /// Routes one exact number.
    pub fn add_number(&mut self, number: &str, program: Arc<Program>) {
        self.exact.insert(number.to_string(), program);
    }

    /// Routes every number that starts with `prefix`.
    pub fn add_prefix(&mut self, prefix: &str, program: Arc<Program>) {
        self.prefixes.push((prefix.to_string(), program));
        self.prefixes
            .sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
    }

    /// The flow for `dialled`, if any route (or the default) takes it.
    pub fn route(&self, dialled: &str) -> Option<Arc<Program>> {
        if let Some(program) = self.exact.get(dialled) {
            return Some(program.clone());
        }
        self.prefixes
            .iter()
            .find(|(prefix, _)| dialled.starts_with(prefix.as_str()))
            .map(|(_, program)| program.clone())
            .or_else(|| self.default.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{load_node_graph, DEMO_FLOW_JSON};

    fn program(id: &str) -> Arc<Program> {
        let json = DEMO_FLOW_JSON.replacen("\"demo\"", &format!("\"{id}\""), 1);
        load_node_graph(&json).expect("demo flow loads").program
    }

    #[test]
    fn exact_beats_prefix_and_longest_prefix_wins() {
        let mut router = Router::new(Some(program("default")));
        router.add_prefix("44", program("uk"));
        router.add_prefix("4420", program("london"));
        router.add_number("4420123", program("one"));
        assert_eq!(router.route("4420123").unwrap().id(), "one");
        assert_eq!(router.route("4420999").unwrap().id(), "london");
        assert_eq!(router.route("4413").unwrap().id(), "uk");
        assert_eq!(router.route("1000").unwrap().id(), "default");
    }

    #[test]
    fn no_default_rejects_unrouted() {
        let mut router = Router::new(None);
        router.add_number("1000", program("one"));
        assert!(router.route("2000").is_none());
        assert!(router.route("1000").is_some());
    }
}
