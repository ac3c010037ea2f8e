//! Reading one entry of `nodes[]`: `id`, `type`, the editor-only `position`
//! (checked loosely, ignored at run time) and the typed `data` of its kind.
//! `data.kind` names the kind; when it is absent, `type` does (API records).

use serde_json::Value;

use crate::flow::directive::ConnectKind;
use crate::flow::graph::data_connect::{read_destination, read_dial_like};
use crate::flow::graph::data_logic::{
    read_condition, read_fall_through, read_http_request, read_set_var, read_time_condition,
};
use crate::flow::graph::data_media::{
    read_collect, read_entry, read_hangup, read_menu, read_play, read_say,
};
use crate::flow::graph::node_kinds::NodeKind;
use crate::flow::program::Step;
use crate::flow::read::{describe, quoted, Fields, Read, Reported, Sink};

/// What could be read of one node; `None` parts had problems (already recorded).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NodeSketch {
    pub path: String,
    pub id: Option<String>,
    pub kind: Option<NodeKind>,
    pub step: Option<Step>,
}

/// Reads the node at `path`.
pub(crate) fn read_node(value: &Value, path: &str, sink: &mut Sink) -> NodeSketch {
    let mut sketch = NodeSketch {
        path: path.to_owned(),
        id: None,
        kind: None,
        step: None,
    };
    let Ok(fields) = Fields::of(value, path, &mut sink.errors) else {
        return sketch;
    };
    fields.warn_unknown(
        &[
            "id",
            "type",
            "position",
            "data",
            "width",
            "height",
            "selected",
            "dragging",
            "positionAbsolute",
        ],
        &mut sink.warnings,
    );
    sketch.id = fields.required_string("id", &mut sink.errors).ok();
    let node_type = fields
        .optional_string("type", &mut sink.errors)
        .ok()
        .flatten();
    check_position(&fields, sink);
    let Some(data_value) = fields.get("data") else {
        sink.error(fields.path_of("data"), "missing, expected an object");
        return sketch;
    };
    let Ok(data) = Fields::of(data_value, &fields.path_of("data"), &mut sink.errors) else {
        return sketch;
    };
    let Ok(kind_name) = kind_name(&fields, &data, node_type.as_deref(), sink) else {
        return sketch;
    };
    let Some(kind) = NodeKind::parse(&kind_name) else {
        let at = if data.present("kind").is_some() {
            data.path_of("kind")
        } else {
            fields.path_of("type")
        };
        sink.error(
            at,
            format!(
                "unknown node kind {} (supported: {})",
                quoted(&kind_name),
                NodeKind::catalog()
            ),
        );
        return sketch;
    };
    sketch.kind = Some(kind);
    sketch.step = read_data(kind, &data, sink).ok();
    sketch
}

/// `data.kind`, else `type`; when both are given they must agree.
fn kind_name(
    fields: &Fields<'_>,
    data: &Fields<'_>,
    node_type: Option<&str>,
    sink: &mut Sink,
) -> Read<String> {
    match (data.optional_string("kind", &mut sink.errors)?, node_type) {
        (Some(kind), Some(node_type)) if kind != node_type => {
            sink.error(
                fields.path_of("type"),
                format!(
                    "{} disagrees with data.kind {}",
                    quoted(node_type),
                    quoted(&kind)
                ),
            );
            Err(Reported)
        }
        (Some(kind), _) => Ok(kind),
        (None, Some(node_type)) => Ok(node_type.to_owned()),
        (None, None) => {
            sink.error(data.path_of("kind"), "missing, expected a non-empty string");
            Err(Reported)
        }
    }
}

fn read_data(kind: NodeKind, data: &Fields<'_>, sink: &mut Sink) -> Read<Step> {
    match kind {
        NodeKind::Entry => read_entry(data, false, sink),
        NodeKind::Start => read_entry(data, true, sink),
        NodeKind::Play => read_play(data, sink),
        NodeKind::Say => read_say(data, sink),
        NodeKind::Menu => read_menu(data, sink),
        NodeKind::Collect => read_collect(data, sink),
        NodeKind::Dial => read_dial_like(data, ConnectKind::Dial, sink),
        NodeKind::Forward => read_dial_like(data, ConnectKind::Forward, sink),
        NodeKind::Transfer => read_dial_like(data, ConnectKind::Transfer, sink),
        NodeKind::RingGroup => read_destination(data, ConnectKind::RingGroup, sink),
        NodeKind::Enqueue => read_destination(data, ConnectKind::Queue, sink),
        NodeKind::Conference => read_destination(data, ConnectKind::Conference, sink),
        NodeKind::Voicemail => read_destination(data, ConnectKind::Voicemail, sink),
        NodeKind::Condition => read_condition(data, sink),
        NodeKind::TimeCondition => read_time_condition(data, sink),
        NodeKind::HttpRequest => read_http_request(data, sink),
        NodeKind::SetVar => read_set_var(data, sink),
        NodeKind::Callback | NodeKind::LastCalledUser => read_fall_through(data, kind.name(), sink),
        NodeKind::Answer => {
            data.warn_unknown(&["kind", "label"], &mut sink.warnings);
            Ok(Step::Answer)
        }
        NodeKind::Hangup => read_hangup(data, sink),
    }
}

/// The editor-only position; a malformed one is only a warning.
fn check_position(fields: &Fields<'_>, sink: &mut Sink) {
    let Some(value) = fields.present("position") else {
        return;
    };
    let coordinate = |axis: &str| value.get(axis).and_then(Value::as_f64);
    if coordinate("x").is_none() || coordinate("y").is_none() {
        sink.warn(
            fields.path_of("position"),
            format!(
                "expected an object with numbers x and y, got {}; ignored",
                describe(value)
            ),
        );
    }
}
