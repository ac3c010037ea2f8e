//! Reading one entry of `nodes[]`: id, type, editor position and the typed
//! `data` of each supported kind, with defaults applied and every fault
//! recorded at its path.

use serde_json::Value;

use crate::flow::document::{
    MenuData, Node, NodeData, PlayData, Position, PromptFields, DEFAULT_MAX_DIGITS,
    DEFAULT_MAX_FAILURES, DEFAULT_PLAY_LOOP, DEFAULT_TIMEOUT_SEC, KNOWN_KINDS,
};
use crate::flow::handle::is_dtmf_key;
use crate::flow::problem::Problem;
use crate::flow::validate::json::{describe, quoted, Fields, Read, Reported};

/// What could be read of one node; `None` parts had problems (already recorded).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NodeSketch {
    pub path: String,
    pub id: Option<String>,
    pub node_type: Option<String>,
    pub position: Option<Position>,
    /// `None` when `data` is broken or of an unknown kind.
    pub data: Option<NodeData>,
}

impl NodeSketch {
    /// The node, if every part of it could be read.
    pub(crate) fn complete(self) -> Option<Node> {
        Some(Node {
            id: self.id?,
            node_type: self.node_type?,
            position: self.position,
            data: self.data?,
        })
    }
}

/// Reads the node at `path`, recording errors and warnings.
pub(crate) fn read_node(
    value: &Value,
    path: &str,
    errors: &mut Vec<Problem>,
    warnings: &mut Vec<Problem>,
) -> NodeSketch {
    let mut sketch = NodeSketch {
        path: path.to_owned(),
        id: None,
        node_type: None,
        position: None,
        data: None,
    };
    let Ok(fields) = Fields::of(value, path, errors) else {
        return sketch;
    };
    sketch.id = fields.required_string("id", errors).ok();
    sketch.node_type = fields.required_string("type", errors).ok();
    sketch.position = read_position(&fields, warnings);
    let Some(data_value) = fields.get("data") else {
        errors.push(Problem::new(
            fields.path_of("data"),
            "missing, expected an object",
        ));
        return sketch;
    };
    let Ok(data) = Fields::of(data_value, &fields.path_of("data"), errors) else {
        return sketch;
    };
    let Ok(kind) = data.required_string("kind", errors) else {
        return sketch;
    };
    if let Some(node_type) = &sketch.node_type {
        if *node_type != kind {
            errors.push(Problem::new(
                fields.path_of("type"),
                format!(
                    "{} disagrees with data.kind {}",
                    quoted(node_type),
                    quoted(&kind)
                ),
            ));
        }
    }
    sketch.data = read_data(&kind, &data, errors).ok();
    sketch
}

fn read_data(kind: &str, data: &Fields<'_>, errors: &mut Vec<Problem>) -> Read<NodeData> {
    match kind {
        "entry" => Ok(NodeData::Entry),
        "hangup" => Ok(NodeData::Hangup),
        "play" => read_play(data, errors).map(NodeData::Play),
        "menu" => read_menu(data, errors).map(NodeData::Menu),
        unknown => {
            errors.push(Problem::new(
                data.path_of("kind"),
                format!(
                    "unknown node kind {} (supported: {})",
                    quoted(unknown),
                    KNOWN_KINDS.join(", ")
                ),
            ));
            Err(Reported)
        }
    }
}

fn read_play(data: &Fields<'_>, errors: &mut Vec<Problem>) -> Read<PlayData> {
    let prompt = read_main_prompt(data, errors);
    let loop_count = data.integer_or("loop", 1, DEFAULT_PLAY_LOOP, errors);
    Ok(PlayData {
        prompt: prompt?,
        loop_count: loop_count?,
    })
}

fn read_menu(data: &Fields<'_>, errors: &mut Vec<Problem>) -> Read<MenuData> {
    let prompt = read_main_prompt(data, errors);
    let max_digits = data.integer_or("maxDigits", 1, DEFAULT_MAX_DIGITS, errors);
    let timeout_sec = data.integer_or("timeoutSec", 1, DEFAULT_TIMEOUT_SEC, errors);
    let max_failures = data.integer_or("maxFailures", 1, DEFAULT_MAX_FAILURES, errors);
    let terminator = read_terminator(data, errors);
    let invalid_prompt_id = data.optional_string("invalidPromptId", errors);
    let invalid_prompt_text = data.optional_string("invalidPromptText", errors);
    Ok(MenuData {
        prompt: prompt?,
        max_digits: max_digits?,
        timeout_sec: timeout_sec?,
        max_failures: max_failures?,
        terminator: terminator?,
        invalid_prompt_id: invalid_prompt_id?,
        invalid_prompt_text: invalid_prompt_text?,
    })
}

/// `promptId` and/or `promptText`; at least one is required.
fn read_main_prompt(data: &Fields<'_>, errors: &mut Vec<Problem>) -> Read<PromptFields> {
    let prompt_id = data.optional_string("promptId", errors);
    let prompt_text = data.optional_string("promptText", errors);
    let (prompt_id, prompt_text) = (prompt_id?, prompt_text?);
    if prompt_id.is_none() && prompt_text.is_none() {
        errors.push(Problem::new(data.path(), "needs promptId or promptText"));
        return Err(Reported);
    }
    Ok(PromptFields {
        prompt_id,
        prompt_text,
    })
}

fn read_terminator(data: &Fields<'_>, errors: &mut Vec<Problem>) -> Read<Option<char>> {
    let Some(value) = data.present("terminator") else {
        return Ok(None);
    };
    let mut keys = value.as_str().unwrap_or_default().chars();
    match (keys.next(), keys.next()) {
        (Some(key), None) if is_dtmf_key(key) => Ok(Some(key)),
        _ => {
            errors.push(Problem::new(
                data.path_of("terminator"),
                format!(
                    "expected one DTMF key (0-9, *, #, A-D), got {}",
                    describe(value)
                ),
            ));
            Err(Reported)
        }
    }
}

/// The editor-only position; a malformed one is ignored with a warning.
fn read_position(fields: &Fields<'_>, warnings: &mut Vec<Problem>) -> Option<Position> {
    let value = fields.present("position")?;
    let coordinate = |axis: &str| value.get(axis).and_then(Value::as_f64);
    match (coordinate("x"), coordinate("y")) {
        (Some(x), Some(y)) => Some(Position { x, y }),
        _ => {
            warnings.push(Problem::new(
                fields.path_of("position"),
                format!(
                    "expected an object with numbers x and y, got {}; ignored",
                    describe(value)
                ),
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(value: Value) -> (NodeSketch, Vec<String>, Vec<String>) {
        let (mut errors, mut warnings) = (Vec::new(), Vec::new());
        let sketch = read_node(&value, "nodes[3]", &mut errors, &mut warnings);
        let show = |problems: Vec<Problem>| problems.iter().map(ToString::to_string).collect();
        (sketch, show(errors), show(warnings))
    }

    #[test]
    fn reads_a_menu_with_defaults() {
        let (sketch, errors, warnings) = read(json!({
            "id": "m", "type": "menu", "position": {"x": 1, "y": 2.5},
            "data": {"kind": "menu", "promptText": "Press 1", "terminator": "#"}
        }));
        assert!(errors.is_empty() && warnings.is_empty());
        let node = sketch.complete().unwrap();
        assert_eq!(node.position, Some(Position { x: 1.0, y: 2.5 }));
        let NodeData::Menu(menu) = node.data else {
            panic!("not a menu: {:?}", node.data);
        };
        assert_eq!(
            (
                menu.max_digits,
                menu.timeout_sec,
                menu.max_failures,
                menu.terminator
            ),
            (1, 5, 3, Some('#'))
        );
        assert_eq!(menu.prompt.prompt_text.as_deref(), Some("Press 1"));
    }

    #[test]
    fn reports_every_bad_menu_field() {
        let (sketch, errors, _) = read(json!({
            "id": "m", "type": "menu",
            "data": {"kind": "menu", "maxDigits": "two", "timeoutSec": 0,
                     "maxFailures": 1.5, "terminator": "##", "invalidPromptId": 7}
        }));
        assert_eq!(sketch.id.as_deref(), Some("m"));
        assert!(sketch.data.is_none());
        assert_eq!(
            errors,
            [
                "nodes[3].data: needs promptId or promptText",
                "nodes[3].data.maxDigits: expected an integer ≥ 1, got \"two\"",
                "nodes[3].data.timeoutSec: expected an integer ≥ 1, got 0",
                "nodes[3].data.maxFailures: expected an integer ≥ 1, got 1.5",
                "nodes[3].data.terminator: expected one DTMF key (0-9, *, #, A-D), got \"##\"",
                "nodes[3].data.invalidPromptId: expected a non-empty string, got 7",
            ]
        );
    }

    #[test]
    fn play_needs_a_prompt_and_a_positive_loop() {
        let (_, errors, _) = read(json!({
            "id": "p", "type": "play", "data": {"kind": "play", "promptId": "", "loop": 0}
        }));
        assert_eq!(
            errors,
            [
                "nodes[3].data.promptId: expected a non-empty string, got \"\"",
                "nodes[3].data.loop: expected an integer ≥ 1, got 0",
            ]
        );
    }

    #[test]
    fn type_must_agree_with_kind_and_kind_must_be_known() {
        let (_, errors, _) = read(json!({"id": "x", "type": "play", "data": {"kind": "hangup"}}));
        assert_eq!(
            errors,
            ["nodes[3].type: \"play\" disagrees with data.kind \"hangup\""]
        );
        let (sketch, errors, _) = read(json!({"id": "v", "type": "voicemail",
            "data": {"kind": "voicemail", "mailboxId": "vm_1"}}));
        assert_eq!(sketch.id.as_deref(), Some("v"));
        assert_eq!(
            errors,
            ["nodes[3].data.kind: unknown node kind \"voicemail\" (supported: entry, play, menu, hangup)"]
        );
    }

    #[test]
    fn missing_parts_are_reported() {
        let (_, errors, _) = read(json!({"type": 3}));
        assert_eq!(
            errors,
            [
                "nodes[3].id: missing, expected a non-empty string",
                "nodes[3].type: expected a non-empty string, got 3",
                "nodes[3].data: missing, expected an object",
            ]
        );
        let (_, errors, _) = read(json!("node"));
        assert_eq!(errors, ["nodes[3]: expected an object, got \"node\""]);
        let (_, errors, _) = read(json!({"id": "a", "type": "entry", "data": {}}));
        assert_eq!(
            errors,
            ["nodes[3].data.kind: missing, expected a non-empty string"]
        );
    }

    #[test]
    fn bad_position_is_only_a_warning() {
        let (sketch, errors, warnings) = read(json!({
            "id": "h", "type": "hangup", "position": "top", "data": {"kind": "hangup"}
        }));
        assert!(errors.is_empty());
        assert_eq!(
            warnings,
            ["nodes[3].position: expected an object with numbers x and y, got \"top\"; ignored"]
        );
        assert!(sketch.complete().is_some());
    }
}
