//! The action-array format (VoIPBIN): `{ "id", "name", "on_complete_flow_id",
//! "actions": [ { "id"?, "type", "option" }, … ] }` (a bare array of actions is
//! accepted too). A cursor walks the actions in order; `goto`, `branch` and the
//! conditions jump to actions by id.
//!
//! Each action compiles to one node whose default exit is the next action;
//! the last action's default exit is none, so moving past it ends the flow
//! ("end of actions reached"). An action without an id gets `#INDEX`.

mod action_types;
mod entry;
mod options_connect;
mod options_control;
mod options_media;

use std::collections::HashMap;
use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::Value;

use crate::flow::actions::entry::{read_action, ActionSketch};
use crate::flow::graph::Compiled;
use crate::flow::handle::{ANSWERED, FAILED};
use crate::flow::problem::Problem;
use crate::flow::program::{Exits, FlowFormat, NodeIndex, Program, ProgramNode, ReferenceKind};
use crate::flow::read::{child, item, quoted, Fields, Sink};
use crate::flow::template::Template;

/// Reads and compiles an action-array flow.
pub(crate) fn read_action_array(value: &Value) -> Result<Compiled, Vec<Problem>> {
    let mut sink = Sink::default();
    let mut early_media = false;
    let (id, name, version, on_complete, actions, actions_path) = match value {
        Value::Array(items) => (
            "flow".to_owned(),
            String::new(),
            1,
            None,
            items.as_slice(),
            String::new(),
        ),
        _ => {
            let Ok(root) = Fields::of(value, "", &mut sink.errors) else {
                return Err(sink.errors);
            };
            let name = root
                .optional_any_string("name", &mut sink.errors)
                .ok()
                .flatten();
            let id = root.optional_string("id", &mut sink.errors).ok().flatten();
            let version = root
                .integer_or("version", 0, 1, &mut sink.errors)
                .unwrap_or(1);
            let on_complete = root
                .optional_string("on_complete_flow_id", &mut sink.errors)
                .ok()
                .flatten();
            early_media = root
                .bool_or("early_media", false, &mut sink.errors)
                .unwrap_or(false);
            if let Some(flow_id) = &on_complete {
                sink.reference(
                    ReferenceKind::Flow,
                    &Template::literal(flow_id.as_str()),
                    root.path_of("on_complete_flow_id"),
                );
            }
            let Ok(actions) = root.required_array("actions", &mut sink.errors) else {
                return Err(sink.errors);
            };
            let id = id
                .or_else(|| name.clone().filter(|name| !name.is_empty()))
                .unwrap_or_else(|| "flow".to_owned());
            (
                id,
                name.unwrap_or_default(),
                version,
                on_complete,
                actions,
                root.path_of("actions"),
            )
        }
    };
    let program = compile_list(&id, &name, version, actions, &actions_path, &mut sink);
    match program {
        Some(program) if sink.errors.is_empty() => Ok(Compiled {
            program: program
                .with_on_complete(on_complete)
                .with_early_media(early_media)
                .with_references(std::mem::take(&mut sink.references)),
            warnings: sink.warnings,
        }),
        _ => Err(sink.errors),
    }
}

/// Reads the actions at `path` and compiles them into a program with `id`.
fn compile_list(
    id: &str,
    name: &str,
    version: u32,
    actions: &[Value],
    path: &str,
    sink: &mut Sink,
) -> Option<Program> {
    if actions.is_empty() {
        sink.error(path, "expected at least one action");
        return None;
    }
    let mut sketches = Vec::with_capacity(actions.len());
    for (index, value) in actions.iter().enumerate() {
        let action_path = item(path, index);
        let mut nested = |list: &[Value], list_path: &str, sink: &mut Sink| {
            let node = node_id(None, index);
            compile_list(
                &format!("{id}/{node}"),
                name,
                version,
                list,
                list_path,
                sink,
            )
            .map(Arc::new)
        };
        sketches.push(read_action(value, &action_path, sink, &mut nested));
    }
    compile(id, name, version, sketches, sink)
}

/// `#INDEX` for an action without an id.
fn node_id(id: Option<&str>, index: usize) -> String {
    match id {
        Some(id) => id.to_owned(),
        None => format!("#{index}"),
    }
}

fn compile(
    id: &str,
    name: &str,
    version: u32,
    sketches: Vec<ActionSketch>,
    sink: &mut Sink,
) -> Option<Program> {
    let ids: Vec<String> = sketches
        .iter()
        .enumerate()
        .map(|(index, sketch)| node_id(sketch.id.as_deref(), index))
        .collect();
    let mut index_of: HashMap<&str, usize> = HashMap::new();
    for (index, node) in ids.iter().enumerate() {
        if let Some(first) = index_of.get(node.as_str()) {
            let path = sketches
                .get(index)
                .map_or("", |sketch| sketch.path.as_str());
            let first_path = sketches
                .get(*first)
                .map_or("", |sketch| sketch.path.as_str());
            sink.error(
                child(path, "id"),
                format!(
                    "duplicate action id {} (first at {first_path})",
                    quoted(node)
                ),
            );
        } else {
            index_of.insert(node, index);
        }
    }
    let count = sketches.len();
    let mut nodes = Vec::with_capacity(count);
    for (index, sketch) in sketches.iter().enumerate() {
        let Some(read) = &sketch.read else { continue };
        let next = (index + 1 < count).then(|| NodeIndex((index + 1) as u32));
        let mut by_handle = Vec::new();
        let mut default = if read.continues { next } else { None };
        for jump in &read.jumps {
            let Some(target) = index_of.get(jump.target.as_str()) else {
                sink.error(
                    jump.path.clone(),
                    format!("no action with id {}", quoted(&jump.target)),
                );
                continue;
            };
            let target = NodeIndex(*target as u32);
            match &jump.handle {
                Some(handle) => by_handle.push((handle.clone(), target)),
                None => default = Some(target),
            }
        }
        if let Some(next) = next {
            if read.failure_continues && !read.step.is_pure() {
                by_handle.push((FAILED.to_owned(), next));
            }
            if read.bridge_continues {
                by_handle.push((ANSWERED.to_owned(), next));
            }
        }
        nodes.push(ProgramNode {
            id: ids.get(index).cloned().unwrap_or_default().into(),
            step: read.step.clone(),
            exits: Exits::new(by_handle, default),
        });
    }
    if !sink.errors.is_empty() || nodes.len() != count {
        return None;
    }
    warn_unreachable(&sketches, &nodes, sink);
    match Program::new(id, name, version, NodeIndex(0), nodes) {
        Ok(program) => Some(program.with_format(FlowFormat::ActionArray)),
        Err(error) => {
            let path = sketches.first().map_or("", |sketch| sketch.path.as_str());
            sink.error(path, error.to_string());
            None
        }
    }
}

fn warn_unreachable(sketches: &[ActionSketch], nodes: &[ProgramNode], sink: &mut Sink) {
    let mut reached = vec![false; nodes.len()];
    let mut queue = VecDeque::from([0usize]);
    if let Some(first) = reached.first_mut() {
        *first = true;
    }
    while let Some(current) = queue.pop_front() {
        let Some(node) = nodes.get(current) else {
            continue;
        };
        for target in node.exits.targets() {
            if let Some(seen) = reached.get_mut(target.as_usize()) {
                if !*seen {
                    *seen = true;
                    queue.push_back(target.as_usize());
                }
            }
        }
    }
    for ((sketch, node), reached) in sketches.iter().zip(nodes).zip(reached) {
        if !reached {
            sink.warn(
                sketch.path.clone(),
                format!("action {} is never reached", quoted(&node.id)),
            );
        }
    }
}

#[cfg(test)]
mod tests;
