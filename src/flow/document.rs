//! The node-graph flow document (the format a visual editor saves): serde types
//! for a document that passed validation, with defaults filled in.
//!
//! Reading goes through [`crate::flow::validate`], which reports every fault
//! with its JSON path; these types only serialize, so a checked document can be
//! written back out.

use serde::Serialize;

/// Default for [`PlayData::loop_count`].
pub const DEFAULT_PLAY_LOOP: u32 = 1;
/// Default for [`MenuData::max_digits`].
pub const DEFAULT_MAX_DIGITS: u32 = 1;
/// Default for [`MenuData::timeout_sec`].
pub const DEFAULT_TIMEOUT_SEC: u32 = 5;
/// Default for [`MenuData::max_failures`].
pub const DEFAULT_MAX_FAILURES: u32 = 3;

/// Node kinds this version understands, as written in `data.kind`.
pub const KNOWN_KINDS: &[&str] = &["entry", "play", "menu", "hangup"];

/// A whole flow: `{ id, name, version, start, nodes, edges }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowDocument {
    pub id: String,
    pub name: String,
    pub version: u32,
    /// Id of the node a call starts at.
    pub start: String,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// A node: an action of the flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    pub id: String,
    /// The editor's node type; always equal to `data.kind`.
    #[serde(rename = "type")]
    pub node_type: String,
    /// Where the editor draws the node; ignored at run time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    pub data: NodeData,
}

/// Editor canvas coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Position {
    pub x: f64,
    pub y: f64,
}

/// A node's typed data, discriminated by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum NodeData {
    /// Where the call enters; follows its default edge.
    Entry,
    /// Plays a prompt.
    Play(PlayData),
    /// A DTMF menu.
    Menu(MenuData),
    /// Hangs up.
    Hangup,
}

impl NodeData {
    /// The `kind` string of this data.
    pub fn kind(&self) -> &'static str {
        match self {
            NodeData::Entry => "entry",
            NodeData::Play(_) => "play",
            NodeData::Menu(_) => "menu",
            NodeData::Hangup => "hangup",
        }
    }
}

/// A prompt as a document names it: a catalog id, a text to say, or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_text: Option<String>,
}

/// Data of a `play` node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlayData {
    #[serde(flatten)]
    pub prompt: PromptFields,
    /// How many times to play the prompt.
    #[serde(rename = "loop")]
    pub loop_count: u32,
}

/// Data of a `menu` node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MenuData {
    #[serde(flatten)]
    pub prompt: PromptFields,
    pub max_digits: u32,
    pub timeout_sec: u32,
    /// Failed attempts (timeout or invalid entry) the menu accepts.
    pub max_failures: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminator: Option<char>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_prompt_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_prompt_text: Option<String>,
}

/// An edge: "when `source` returns `sourceHandle`, go to `target`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Edge {
    pub id: String,
    pub source: String,
    pub target: String,
    /// The outcome this edge is for; `None` makes it the source's default edge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_handle: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_in_the_document_format() {
        let node = Node {
            id: "menu".into(),
            node_type: "menu".into(),
            position: None,
            data: NodeData::Menu(MenuData {
                prompt: PromptFields {
                    prompt_id: Some("menu".into()),
                    prompt_text: None,
                },
                max_digits: 1,
                timeout_sec: 5,
                max_failures: 3,
                terminator: Some('#'),
                invalid_prompt_id: None,
                invalid_prompt_text: None,
            }),
        };
        assert_eq!(
            serde_json::to_value(&node).unwrap(),
            json!({"id": "menu", "type": "menu", "data": {
                "kind": "menu", "promptId": "menu", "maxDigits": 1, "timeoutSec": 5,
                "maxFailures": 3, "terminator": "#"}})
        );
        let edge = Edge {
            id: "e1".into(),
            source: "a".into(),
            target: "b".into(),
            source_handle: None,
        };
        assert_eq!(
            serde_json::to_value(&edge).unwrap(),
            json!({"id": "e1", "source": "a", "target": "b"})
        );
        assert_eq!(
            serde_json::to_value(NodeData::Entry).unwrap(),
            json!({"kind": "entry"})
        );
    }
}
