//! `option` of the action types that connect the caller or place calls:
//! queue_join, conference_join, connect, call.

use crate::flow::actions::entry::{ActionRead, NestedCompiler};
use crate::flow::directive::ConnectKind;
use crate::flow::program::{ConnectStep, ReferenceKind, Step};
use crate::flow::read::{item, Fields, Read, Reported, Sink};
use crate::flow::template::Template;

fn connect_step(kind: ConnectKind, targets: Vec<Template>) -> ConnectStep {
    ConnectStep {
        kind,
        targets,
        source: None,
        timeout: None,
        early_media: false,
        flow_id: None,
        flow: None,
    }
}

/// A bridging connect: after the bridge ends, the cursor moves on.
fn bridging(step: ConnectStep) -> ActionRead {
    let mut read = ActionRead::new(Step::Connect(step));
    read.bridge_continues = true;
    read
}

/// `queue_join`: `queue_id` (required).
pub(crate) fn read_queue_join(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(&["queue_id"], &mut sink.warnings);
    let id = option.required_template("queue_id", &mut sink.errors)?;
    sink.reference(ReferenceKind::Queue, &id, option.path_of("queue_id"));
    Ok(bridging(connect_step(ConnectKind::Queue, vec![id])))
}

/// `conference_join`: `conference_id` (required).
pub(crate) fn read_conference_join(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(&["conference_id"], &mut sink.warnings);
    let id = option.required_template("conference_id", &mut sink.errors)?;
    sink.reference(
        ReferenceKind::Conference,
        &id,
        option.path_of("conference_id"),
    );
    Ok(bridging(connect_step(ConnectKind::Conference, vec![id])))
}

/// `connect`: `source` (`{type, target}`, the caller id shown), `destinations`
/// (a non-empty list of `{type, target}`, rung together), `early_media`.
pub(crate) fn read_connect(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(
        &["source", "destinations", "early_media", "relay_reason"],
        &mut sink.warnings,
    );
    let (source, targets, early_media) = parties(option, sink)?;
    let mut step = connect_step(ConnectKind::Dial, targets);
    step.source = source;
    step.early_media = early_media;
    Ok(bridging(step))
}

/// `call`: like `connect`'s `source` and `destinations`, plus the new call's
/// flow: its own `actions`, or a published `flow_id`. The current flow goes on.
/// `nested` compiles the `actions` list (at the given path) into a program.
pub(crate) fn read_call(
    option: &Fields<'_>,
    sink: &mut Sink,
    nested: &mut NestedCompiler<'_>,
) -> Read<ActionRead> {
    option.warn_unknown(
        &[
            "source",
            "destinations",
            "early_media",
            "actions",
            "flow_id",
            "early_execution",
        ],
        &mut sink.warnings,
    );
    let parties = parties(option, sink);
    let flow_id = option.optional_template("flow_id", &mut sink.errors);
    let flow = match option.optional_array("actions", &mut sink.errors) {
        Ok(Some(actions)) => nested(actions, &option.path_of("actions"), sink)
            .map(Some)
            .ok_or(Reported),
        Ok(None) => Ok(None),
        Err(reported) => Err(reported),
    };
    let ((source, targets, early_media), flow_id, flow) = (parties?, flow_id?, flow?);
    if let Some(flow_id) = &flow_id {
        sink.reference(ReferenceKind::Flow, flow_id, option.path_of("flow_id"));
    }
    if flow.is_none() && flow_id.is_none() {
        sink.warn(
            option.path(),
            "neither actions nor flow_id: the new call has nothing to do",
        );
    }
    let mut step = connect_step(ConnectKind::Call, targets);
    step.source = source;
    step.early_media = early_media;
    step.flow_id = flow_id;
    step.flow = flow;
    Ok(ActionRead::new(Step::Connect(step)))
}

type Parties = (Option<Template>, Vec<Template>, bool);

fn parties(option: &Fields<'_>, sink: &mut Sink) -> Read<Parties> {
    let source = match option.optional_object("source", &mut sink.errors) {
        Ok(Some(source)) => address(&source, sink).map(Some),
        Ok(None) => Ok(None),
        Err(reported) => Err(reported),
    };
    let destinations = option
        .required_array("destinations", &mut sink.errors)
        .and_then(|items| {
            if items.is_empty() {
                return Err(option.report(
                    "destinations",
                    "expected at least one destination",
                    &mut sink.errors,
                ));
            }
            let mut targets = Vec::new();
            let mut failed = false;
            for (index, value) in items.iter().enumerate() {
                let read = Fields::of(
                    value,
                    &item(&option.path_of("destinations"), index),
                    &mut sink.errors,
                )
                .and_then(|destination| address(&destination, sink));
                match read {
                    Ok(target) => targets.push(target),
                    Err(Reported) => failed = true,
                }
            }
            if failed {
                Err(Reported)
            } else {
                Ok(targets)
            }
        });
    let early_media = option.bool_or("early_media", false, &mut sink.errors);
    Ok((source?, destinations?, early_media?))
}

/// An address `{ "type": "tel" | "sip" | "extension" | …, "target": … }`: its target.
fn address(fields: &Fields<'_>, sink: &mut Sink) -> Read<Template> {
    fields.warn_unknown(
        &["type", "target", "target_name", "name", "detail"],
        &mut sink.warnings,
    );
    let kind = fields.optional_string("type", &mut sink.errors);
    let target = fields.required_template("target", &mut sink.errors);
    kind?;
    target
}
