//! [`FlowEnv`]: what every session of a server shares behind an `Arc` —
//! schedules, the published flows (for `fetch_flow`, `call` and
//! `on_complete_flow_id`) and the destination catalog — and
//! [`check_references`], which finds the ids a flow names that the
//! environment does not have.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::flow::destinations::DestinationCatalog;
use crate::flow::problem::Problem;
use crate::flow::program::{Program, ReferenceKind};
use crate::flow::read::quoted;
use crate::flow::schedule::Schedule;

/// The shared environment of all sessions.
#[derive(Default)]
pub struct FlowEnv {
    /// Schedules by id.
    pub schedules: HashMap<String, Schedule>,
    /// Published flows by id (only published versions belong here).
    pub flows: HashMap<String, Arc<Program>>,
    /// Destinations a route or a flow can send calls to.
    pub destinations: DestinationCatalog,
}

impl FlowEnv {
    /// An empty environment.
    pub fn new() -> FlowEnv {
        FlowEnv::default()
    }

    /// Adds a published flow under its own id.
    pub fn with_flow(mut self, program: Arc<Program>) -> FlowEnv {
        self.flows.insert(program.id().to_owned(), program);
        self
    }

    /// Adds a schedule under its id.
    pub fn with_schedule(mut self, schedule: Schedule) -> FlowEnv {
        self.schedules.insert(schedule.id().to_owned(), schedule);
        self
    }

    /// The same environment with `destinations`.
    pub fn with_destinations(mut self, destinations: DestinationCatalog) -> FlowEnv {
        self.destinations = destinations;
        self
    }

    /// The published flow `id`.
    pub fn flow(&self, id: &str) -> Option<&Arc<Program>> {
        self.flows.get(id)
    }

    /// The schedule `id`.
    pub fn schedule(&self, id: &str) -> Option<&Schedule> {
        self.schedules.get(id)
    }

    /// Whether the environment has what a reference of `kind` names.
    pub fn has(&self, kind: ReferenceKind, id: &str) -> bool {
        match kind {
            ReferenceKind::Flow => self.flows.contains_key(id),
            ReferenceKind::Schedule => self.schedules.contains_key(id),
            other => self.destinations.has_reference(other, id),
        }
    }
}

impl fmt::Debug for FlowEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut schedules: Vec<&String> = self.schedules.keys().collect();
        schedules.sort();
        let mut flows: Vec<&String> = self.flows.keys().collect();
        flows.sort();
        f.debug_struct("FlowEnv")
            .field("schedules", &schedules)
            .field("flows", &flows)
            .field("destinations", &self.destinations)
            .finish()
    }
}

/// Every literal id `program` names (fetch_flow and call flows,
/// on_complete_flow_id, schedules, queues, mailboxes, ring groups,
/// conferences) that `env` does not have, one problem per reference, at the
/// JSON path where it was written. Templated ids are checked at run time.
pub fn check_references(program: &Program, env: &FlowEnv) -> Vec<Problem> {
    program
        .references()
        .iter()
        .filter(|reference| !env.has(reference.kind, &reference.id))
        .map(|reference| {
            Problem::new(
                reference.path.clone(),
                format!("no {} {}", reference.kind.describe(), quoted(&reference.id)),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::destinations::{DestinationCatalog, QueueConfig};
    use crate::flow::load_flow_json;

    #[test]
    fn lists_every_reference_the_environment_lacks() {
        let program = match load_flow_json(
            r#"{"id": "main", "on_complete_flow_id": "acw", "actions": [
                {"type": "fetch_flow", "option": {"flow_id": "menu"}},
                {"type": "fetch_flow", "option": {"flow_id": "${dynamic}"}},
                {"type": "queue_join", "option": {"queue_id": "support"}},
                {"type": "queue_join", "option": {"queue_id": "sales"}},
                {"type": "conference_join", "option": {"conference_id": "room"}},
                {"type": "call", "option": {"destinations": [{"target": "1"}], "flow_id": "survey",
                    "actions": [{"type": "queue_join", "option": {"queue_id": "inner"}}]}}
            ]}"#,
        ) {
            Ok(loaded) => loaded.program,
            Err(error) => panic!("{error}"),
        };
        let menu = match load_flow_json(r#"{"id": "menu", "actions": [{"type": "stop"}]}"#) {
            Ok(loaded) => loaded.program,
            Err(error) => panic!("{error}"),
        };
        let env = FlowEnv::new()
            .with_flow(menu)
            .with_destinations(DestinationCatalog {
                queues: vec![QueueConfig {
                    id: "support".into(),
                    timeout_sec: None,
                    timeout_dest: None,
                }],
                ..DestinationCatalog::default()
            });
        let problems: Vec<String> = check_references(&program, &env)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            problems,
            [
                "on_complete_flow_id: no published flow \"acw\"",
                "actions[3].option.queue_id: no queue \"sales\"",
                "actions[4].option.conference_id: no conference \"room\"",
                "actions[5].option.actions[0].option.queue_id: no queue \"inner\"",
                "actions[5].option.flow_id: no published flow \"survey\"",
            ]
        );
        assert!(format!("{env:?}").contains("menu"));
    }
}
