//! Reading one entry of `actions[]`: `id` (optional), `type`, and the
//! type's `option` object, into a step plus the jumps it makes to other
//! actions by id (resolved when the array is compiled).

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::flow::actions::action_types::{unsupported_reason, SUPPORTED_ACTIONS};
use crate::flow::actions::options_connect::{
    read_call, read_conference_join, read_connect, read_queue_join,
};
use crate::flow::actions::options_control::{
    read_branch, read_condition_datetime, read_condition_variable, read_empty, read_fetch_flow,
    read_goto, read_stop, read_variable_set, read_webhook_send,
};
use crate::flow::actions::options_media::{
    read_answer, read_beep, read_block, read_digits_receive, read_digits_send, read_hangup,
    read_play, read_recording_start, read_recording_stop, read_sleep, read_talk,
};
use crate::flow::program::{Program, Step};
use crate::flow::read::{quoted, Fields, Read, Reported, Sink};

/// A jump to another action: a named exit (`false`, `jump`, a branch value),
/// or the default exit when `handle` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Jump {
    pub handle: Option<String>,
    /// The target action's id.
    pub target: String,
    /// Where the id was written.
    pub path: String,
}

/// What an action does and where it goes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ActionRead {
    pub step: Step,
    pub jumps: Vec<Jump>,
    /// Whether the cursor moves to the next action by default (not after
    /// hangup and stop).
    pub continues: bool,
    /// Whether a failed command moves on to the next action (all but answer).
    pub failure_continues: bool,
    /// Whether the end of a bridge moves on to the next action (connects).
    pub bridge_continues: bool,
}

impl ActionRead {
    /// A step that goes on to the next action, also when its command fails.
    pub(crate) fn new(step: Step) -> ActionRead {
        ActionRead {
            step,
            jumps: Vec::new(),
            continues: true,
            failure_continues: true,
            bridge_continues: false,
        }
    }
}

/// What could be read of one action; `read` is `None` when it had errors.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ActionSketch {
    pub path: String,
    pub id: Option<String>,
    pub read: Option<ActionRead>,
}

/// Compiles a nested `actions` list (at a path) into a program, or records why not.
pub(crate) type NestedCompiler<'a> =
    dyn FnMut(&[Value], &str, &mut Sink) -> Option<Arc<Program>> + 'a;

/// Reads the action at `path`.
pub(crate) fn read_action(
    value: &Value,
    path: &str,
    sink: &mut Sink,
    nested: &mut NestedCompiler<'_>,
) -> ActionSketch {
    let mut sketch = ActionSketch {
        path: path.to_owned(),
        id: None,
        read: None,
    };
    let Ok(fields) = Fields::of(value, path, &mut sink.errors) else {
        return sketch;
    };
    fields.warn_unknown(
        &["id", "type", "option", "next_id", "name"],
        &mut sink.warnings,
    );
    sketch.id = fields
        .optional_string("id", &mut sink.errors)
        .ok()
        .flatten();
    let Ok(kind) = fields.required_string("type", &mut sink.errors) else {
        return sketch;
    };
    let empty = Value::Object(Map::new());
    let option_value = fields.present("option").unwrap_or(&empty);
    let Ok(option) = Fields::of(option_value, &fields.path_of("option"), &mut sink.errors) else {
        return sketch;
    };
    sketch.read = read_option(&kind, &fields, &option, sink, nested).ok();
    sketch
}

fn read_option(
    kind: &str,
    fields: &Fields<'_>,
    option: &Fields<'_>,
    sink: &mut Sink,
    nested: &mut NestedCompiler<'_>,
) -> Read<ActionRead> {
    match kind {
        "answer" => read_answer(option, sink),
        "talk" => read_talk(option, sink),
        "play" => read_play(option, sink),
        "beep" => read_beep(option, sink),
        "digits_receive" => read_digits_receive(option, sink),
        "digits_send" => read_digits_send(option, sink),
        "branch" => read_branch(option, sink),
        "goto" => read_goto(option, sink),
        "condition_variable" => read_condition_variable(option, sink),
        "condition_datetime" => read_condition_datetime(option, sink),
        "variable_set" => read_variable_set(option, sink),
        "recording_start" => read_recording_start(option, sink),
        "recording_stop" => read_recording_stop(option, sink),
        "queue_join" => read_queue_join(option, sink),
        "conference_join" => read_conference_join(option, sink),
        "connect" => read_connect(option, sink),
        "call" => read_call(option, sink, nested),
        "fetch_flow" => read_fetch_flow(option, sink),
        "webhook_send" => read_webhook_send(option, sink),
        "hangup" => read_hangup(option, sink),
        "stop" => read_stop(option, sink),
        "empty" => read_empty(option, sink),
        "sleep" => read_sleep(option, sink),
        "block" => read_block(option, sink),
        other => {
            match unsupported_reason(other) {
                Some(reason) => {
                    sink.warn(
                    fields.path_of("type"),
                    format!("{} is not performed by this engine ({reason}); it is skipped at run time", quoted(other)),
                );
                    Ok(ActionRead::new(Step::Skip {
                        action: other.to_owned(),
                        reason: reason.to_owned(),
                    }))
                }
                None => {
                    sink.error(
                        fields.path_of("type"),
                        format!(
                            "unknown action type {} (supported: {})",
                            quoted(other),
                            SUPPORTED_ACTIONS.join(", ")
                        ),
                    );
                    Err(Reported)
                }
            }
        }
    }
}
