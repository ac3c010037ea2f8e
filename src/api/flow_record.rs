//! A call flow as the API reads and answers it. A request body is a flow
//! document of any format callplane runs: a call-flow record in the
//! create-call-flow API's shape (`flowData` with nodes and edges, `name`,
//! `direction`, `isActive`, `webhooks`, `settings`…), a node graph (`nodes`,
//! `edges`) or an action array (`actions`, or a bare array, kept as
//! `{"actions": [...]}`).
//!
//! The server owns the bookkeeping fields (`_id`, `workspaceId`,
//! `createdAt`, `updatedAt`, `version`, `publishedVersion`): they are dropped
//! from request bodies and added to answers. A record gets the defaults the
//! record's documentation gives for fields it leaves out. The flow itself is
//! validated by the same loader `callplane flow check` uses, with the flow's
//! id and version set by the server.

use serde_json::{json, Map, Value};

use crate::flow::{detect_format, load_flow_value, FlowFormat, LoadError, Loaded, Problem};
use crate::store::{new_id, FlowRow};

/// Fields the server sets; a body's values for them are ignored.
const BOOKKEEPING: [&str; 7] = [
    "_id",
    "id",
    "workspaceId",
    "createdAt",
    "updatedAt",
    "version",
    "publishedVersion",
];

const DIRECTIONS: [&str; 3] = ["inbound", "outbound", "bidirectional"];
const WELCOME_MESSAGES: [&str; 3] = ["user_initiated", "ai_dynamic", "ai_custom"];

/// Turns a request body into the document stored as a new version: the
/// bookkeeping dropped, a record's fields checked and defaulted. `previous`
/// is the flow's newest document when this is an update (its prompt
/// versions carry over). `now` is RFC 3339.
pub(super) fn prepare(
    body: Value,
    previous: Option<&Value>,
    now: &str,
) -> Result<Value, Vec<Problem>> {
    let mut document = match body {
        Value::Array(actions) => Map::from_iter([("actions".to_owned(), Value::Array(actions))]),
        Value::Object(map) => map,
        other => {
            return Err(vec![Problem::new(
                "",
                format!("expected a flow object, got {}", kind_of(&other)),
            )])
        }
    };
    for field in BOOKKEEPING {
        // `id` is the flow's own id only in the node-graph and action-array
        // formats; in a record it may be anything the client keeps.
        if field != "id" || !document.contains_key("flowData") {
            document.remove(field);
        }
    }
    if document.contains_key("flowData") {
        check_record(&mut document, previous, now)?;
    }
    Ok(Value::Object(document))
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn check_record(
    record: &mut Map<String, Value>,
    previous: Option<&Value>,
    now: &str,
) -> Result<(), Vec<Problem>> {
    let mut problems = Vec::new();
    match record.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => {}
        Some(Value::String(_)) => problems.push(Problem::new("name", "must not be empty")),
        Some(other) => problems.push(Problem::new(
            "name",
            format!("expected a string, got {}", kind_of(other)),
        )),
        None => problems.push(Problem::new("name", "missing, expected a string")),
    }
    check_choice(record, "direction", &DIRECTIONS, true, &mut problems);
    check_choice(record, "promptType", &["simple"], false, &mut problems);
    check_choice(
        record,
        "welcomeMessage",
        &WELCOME_MESSAGES,
        false,
        &mut problems,
    );
    if record.get("isGlobal") == Some(&Value::Bool(true)) {
        problems.push(Problem::new(
            "isGlobal",
            "global flows cannot be created by a workspace",
        ));
    }
    for field in ["isGlobal", "isPreConfigured", "isActive"] {
        if let Some(value) = record.get(field).filter(|v| !v.is_boolean()) {
            problems.push(Problem::new(
                field,
                format!("expected a boolean, got {}", kind_of(value)),
            ));
        }
    }
    for field in ["webhooks", "dynamicVariableCollections", "locations"] {
        if let Some(value) = record.get(field).filter(|v| !v.is_array()) {
            problems.push(Problem::new(
                field,
                format!("expected an array, got {}", kind_of(value)),
            ));
        }
    }
    if let Some(value) = record.get("settings").filter(|v| !v.is_object()) {
        problems.push(Problem::new(
            "settings",
            format!("expected an object, got {}", kind_of(value)),
        ));
    }
    if let Some(value) = record.get("prompt").filter(|v| !v.is_string()) {
        problems.push(Problem::new(
            "prompt",
            format!("expected a string, got {}", kind_of(value)),
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let defaults = [
        ("description", json!("")),
        ("folderId", Value::Null),
        ("agent", Value::Null),
        ("isGlobal", json!(false)),
        ("isPreConfigured", json!(false)),
        ("preConfiguredWorkspaceId", Value::Null),
        ("promptType", json!("simple")),
        ("welcomeMessage", json!("user_initiated")),
        ("customWelcomeMessage", json!("")),
        ("prompt", json!("")),
        ("startNodeId", Value::Null),
        ("isActive", json!(true)),
        ("agentWebhookUrl", json!("")),
        ("inboundWebhookUrl", json!("")),
        ("dynamicVariableCollections", json!([])),
        ("locations", json!([])),
        ("webhooks", json!([])),
        ("settings", json!({})),
    ];
    for (field, value) in defaults {
        record.entry(field).or_insert(value);
    }
    track_prompt_versions(record, previous, now);
    Ok(())
}

fn check_choice(
    record: &Map<String, Value>,
    field: &str,
    allowed: &[&str],
    required: bool,
    problems: &mut Vec<Problem>,
) {
    let expected = allowed
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect::<Vec<_>>()
        .join(", ");
    match record.get(field) {
        None if required => problems.push(Problem::new(
            field,
            format!("missing, expected one of {expected}"),
        )),
        None => {}
        Some(Value::String(value)) if allowed.contains(&value.as_str()) => {}
        Some(other) => problems.push(Problem::new(
            field,
            format!("expected one of {expected}, got {other}"),
        )),
    }
}

/// A record's prompt history: each new `prompt` text becomes a prompt
/// version (`promptVersions`, `currentPromptId`, `gemini_prompt`).
fn track_prompt_versions(record: &mut Map<String, Value>, previous: Option<&Value>, now: &str) {
    let prompt = record
        .get("prompt")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut versions: Vec<Value> = previous
        .and_then(|p| p.get("promptVersions"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let last_prompt = versions
        .last()
        .and_then(|v| v.get("prompt"))
        .and_then(Value::as_str);
    let mut current = previous
        .and_then(|p| p.get("currentPromptId"))
        .cloned()
        .unwrap_or(Value::Null);
    if !prompt.is_empty() && last_prompt != Some(prompt.as_str()) {
        let id = new_id();
        versions.push(json!({
            "_id": id,
            "name": format!("Prompt Version - {}", versions.len() + 1),
            "prompt": prompt,
            "metadata": {"notes": ""},
            "createdAt": now,
            "updatedAt": now,
        }));
        current = Value::String(id);
    }
    record.insert("promptVersions".into(), Value::Array(versions));
    record.insert("currentPromptId".into(), current);
    record.insert("gemini_prompt".into(), Value::String(prompt));
}

/// Compiles version `version` of flow `id` exactly as `flow check` would the
/// document with that id and version written in.
pub(super) fn compile(id: &str, version: u32, document: &Value) -> Result<Loaded, LoadError> {
    let mut document = document.clone();
    if let Value::Object(map) = &mut document {
        let id_key = match detect_format(&Value::Object(map.clone())) {
            Some(FlowFormat::ApiRecord) => "_id",
            _ => "id",
        };
        map.insert(id_key.to_owned(), Value::String(id.to_owned()));
        map.insert("version".to_owned(), json!(version));
    }
    load_flow_value(&document)
}

/// The document's problems, as a 422 lists them.
pub(super) fn problems_of(error: LoadError) -> Vec<Problem> {
    match error {
        LoadError::Json(message) => vec![Problem::new("", message)],
        LoadError::Invalid(problems) => problems,
    }
}

/// Whether calls may be routed to this document (`isActive` / `published`
/// not false), as the flows directory decides.
pub(super) fn is_active(document: &Value) -> bool {
    document
        .get("published")
        .or_else(|| document.get("isActive"))
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

/// The answer for a flow: its newest document with the bookkeeping fields.
pub(super) fn answer(row: &FlowRow) -> Value {
    let mut map = match &row.document {
        Value::Object(map) => map.clone(),
        other => Map::from_iter([("document".to_owned(), other.clone())]),
    };
    map.insert("_id".into(), Value::String(row.id.clone()));
    if !map.contains_key("flowData") {
        map.insert("id".into(), Value::String(row.id.clone()));
    }
    map.insert("workspaceId".into(), Value::String(row.workspace.clone()));
    map.insert("version".into(), json!(row.latest_version));
    map.insert("publishedVersion".into(), json!(row.published_version));
    map.insert("createdAt".into(), Value::String(row.created_at.clone()));
    map.insert("updatedAt".into(), Value::String(row.updated_at.clone()));
    Value::Object(map)
}

/// RFC 7386 JSON merge patch: `patch`'s members replace `target`'s, `null`
/// removes one, objects merge recursively.
pub(super) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-12-01T12:00:00.000Z";

    fn record() -> Value {
        json!({
            "name": "Support", "direction": "inbound", "prompt": "Be brief.",
            "flowData": {"nodes": [{"id": "s", "type": "start", "data": {}}], "edges": []}
        })
    }

    #[test]
    fn a_record_gets_its_defaults_and_a_prompt_version() {
        let document = prepare(record(), None, NOW).expect("valid");
        assert_eq!(document["promptType"], "simple");
        assert_eq!(document["isActive"], true);
        assert_eq!(document["folderId"], Value::Null);
        assert_eq!(document["gemini_prompt"], "Be brief.");
        let versions = document["promptVersions"].as_array().expect("versions");
        assert_eq!(versions.len(), 1);
        assert_eq!(document["currentPromptId"], versions[0]["_id"]);
        // The same prompt again adds no version; a new one does.
        let same = prepare(record(), Some(&document), NOW).expect("valid");
        assert_eq!(same["promptVersions"].as_array().map(Vec::len), Some(1));
        let mut changed = record();
        changed["prompt"] = json!("Be kind.");
        let changed = prepare(changed, Some(&document), NOW).expect("valid");
        assert_eq!(changed["promptVersions"].as_array().map(Vec::len), Some(2));
        assert_ne!(changed["currentPromptId"], document["currentPromptId"]);
    }

    #[test]
    fn record_fields_are_checked_with_their_paths() {
        let mut body = record();
        body["direction"] = json!("sideways");
        body["name"] = json!(7);
        body["isGlobal"] = json!(true);
        body["webhooks"] = json!({});
        let problems = prepare(body, None, NOW).expect_err("refused");
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["name", "direction", "isGlobal", "webhooks"]);
        assert_eq!(
            problems[1].message,
            "expected one of \"inbound\", \"outbound\", \"bidirectional\", got \"sideways\""
        );
        assert_eq!(
            prepare(json!("text"), None, NOW).expect_err("refused")[0].to_string(),
            "$: expected a flow object, got a string"
        );
    }

    #[test]
    fn bookkeeping_is_the_servers_and_compile_sets_id_and_version() {
        let mut body = record();
        body["_id"] = json!("client-chosen");
        body["createdAt"] = json!("1999");
        let document = prepare(body, None, NOW).expect("valid");
        assert!(document.get("_id").is_none() && document.get("createdAt").is_none());
        let loaded = compile("abc", 3, &document).expect("compiles");
        assert_eq!((loaded.program.id(), loaded.program.version()), ("abc", 3));
        let actions =
            prepare(json!([{"type": "answer"}, {"type": "hangup"}]), None, NOW).expect("valid");
        assert!(actions["actions"].is_array());
        let loaded = compile("def", 1, &actions).expect("compiles");
        assert_eq!((loaded.program.id(), loaded.program.version()), ("def", 1));
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut target, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(target, json!({"a": "z", "c": {"d": "e"}}));
    }
}
