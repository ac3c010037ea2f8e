//! Live calls: `/v1/calls` lists the calls in progress on every shard,
//! `/v1/calls/{id}` shows one (its node, variables, media figures),
//! `/v1/calls/{id}/actions` applies an interrupt action (VoIPBIN's: talk or
//! play now, recording start/stop, digits_send, transfer, hangup),
//! `/v1/calls/{id}/hangup` hangs up, and `/v1/activeflows/{id}/execute`
//! resumes a flow waiting at a `block` action.
//!
//! A call's id is its SIP Call-ID (also its `voipbin.activeflow.id`). A
//! command goes to the shard that owns the call (the Call-ID's hash, as SIP
//! is dispatched) through its bounded inbox, is applied there inside the
//! call core, and the answer comes back on a one-shot channel: 200 when
//! applied, 409 when refused (with the reason), 404 for no such call, 503
//! when the shard's inbox is full or the shard does not answer in time. A
//! workspace sees only the calls running its own flows.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::{json, Map, Value};

use crate::call::{CallCommand, CallSnapshot, Refusal};
use crate::flow::{Audio, Problem};
use crate::shard::ShardMsg;
use crate::sip::owner_of;
use crate::store::new_id;

use super::auth::Tenant;
use super::error::ApiError;
use super::flows::json_body;
use super::{blocking, AppState};

/// How long the API waits for a shard's answer.
const SHARD_ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// The action types `POST /v1/calls/{id}/actions` takes.
const ACTION_TYPES: [&str; 8] = [
    "talk",
    "play",
    "beep",
    "recording_start",
    "recording_stop",
    "digits_send",
    "transfer",
    "hangup",
];

fn shard_unavailable() -> ApiError {
    ApiError::with_status(
        StatusCode::SERVICE_UNAVAILABLE,
        "the shard that owns the call did not answer",
    )
}

/// Every call in progress on the shards, or the one with `call_id`.
async fn gather(state: &AppState, call_id: Option<&str>) -> Result<Vec<CallSnapshot>, ApiError> {
    let peers = state.installer.peers();
    let targets: Vec<usize> = match call_id {
        Some(id) => vec![owner_of(id.as_bytes(), peers.len())],
        None => (0..peers.len()).collect(),
    };
    let mut waiting = Vec::with_capacity(targets.len());
    for index in targets {
        let Some(peer) = peers.get(index) else {
            continue;
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let message = ShardMsg::Calls {
            call_id: call_id.map(str::to_owned),
            reply,
        };
        if !peer.try_send(message) {
            return Err(shard_unavailable());
        }
        waiting.push(answer);
    }
    let mut calls = Vec::new();
    for answer in waiting {
        match tokio::time::timeout(SHARD_ANSWER_TIMEOUT, answer).await {
            Ok(Ok(list)) => calls.extend(list),
            _ => return Err(shard_unavailable()),
        }
    }
    Ok(calls)
}

/// The calls among `calls` whose flow belongs to the tenant's workspace.
async fn own(
    state: &AppState,
    tenant: &Tenant,
    calls: Vec<CallSnapshot>,
) -> Result<Vec<CallSnapshot>, ApiError> {
    let mut flows: Vec<String> = calls.iter().map(|call| call.flow_id.clone()).collect();
    flows.sort();
    flows.dedup();
    let store = state.store.clone();
    let workspace = tenant.workspace.clone();
    let owned: HashMap<String, bool> = blocking(move || {
        flows
            .into_iter()
            .map(|flow| {
                let mine = matches!(store.flow(&workspace, &flow), Ok(Some(_)));
                (flow, mine)
            })
            .collect()
    })
    .await?;
    Ok(calls
        .into_iter()
        .filter(|call| owned.get(&call.flow_id).copied().unwrap_or(false))
        .collect())
}

/// The tenant's call with this id.
async fn one(state: &AppState, tenant: &Tenant, id: &str) -> Result<CallSnapshot, ApiError> {
    let calls = gather(state, Some(id)).await?;
    own(state, tenant, calls)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found("call"))
}

/// `GET /v1/calls`.
pub(super) async fn list(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
) -> Result<Json<Value>, ApiError> {
    let calls = gather(&state, None).await?;
    let mut calls = own(&state, &tenant, calls).await?;
    calls.sort_by(|a, b| (a.shard, &a.id).cmp(&(b.shard, &b.id)));
    let mut shards: Vec<Value> = Vec::new();
    for index in 0..state.installer.peers().len() {
        let count = calls.iter().filter(|call| call.shard == index).count();
        shards.push(json!({"shard": index, "calls": count}));
    }
    Ok(Json(json!({
        "total": calls.len(),
        "shards": shards,
        "data": calls,
    })))
}

/// `GET /v1/calls/{id}`.
pub(super) async fn get_one(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(id): Path<String>,
) -> Result<Json<CallSnapshot>, ApiError> {
    one(&state, &tenant, &id).await.map(Json)
}

/// Sends `command` to the shard that owns the tenant's call `id` and waits
/// for its answer.
async fn apply(
    state: &AppState,
    tenant: &Tenant,
    id: &str,
    command: CallCommand,
) -> Result<Json<Value>, ApiError> {
    // Only the workspace's own calls take commands.
    one(state, tenant, id).await?;
    let peers = state.installer.peers();
    let Some(peer) = peers.get(owner_of(id.as_bytes(), peers.len())) else {
        return Err(shard_unavailable());
    };
    let name = command.name();
    let (reply, answer) = tokio::sync::oneshot::channel();
    let message = ShardMsg::Command {
        call_id: id.to_owned(),
        command,
        reply,
    };
    if !peer.try_send(message) {
        return Err(shard_unavailable());
    }
    match tokio::time::timeout(SHARD_ANSWER_TIMEOUT, answer).await {
        Ok(Ok(Ok(()))) => Ok(Json(json!({"id": id, "type": name, "result": "applied"}))),
        Ok(Ok(Err(Refusal::NoSuchCall))) => Err(ApiError::not_found("call")),
        Ok(Ok(Err(Refusal::Refused(reason)))) => Err(ApiError::conflict(reason)),
        _ => Err(shard_unavailable()),
    }
}

/// `POST /v1/calls/{id}/actions`: one interrupt action, in the
/// action-array shape (`{"type": …, "option": {…}}`).
pub(super) async fn action(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = json_body(body)?;
    let command = read_action(&body).map_err(ApiError::invalid)?;
    apply(&state, &tenant, &id, command).await
}

/// `POST /v1/calls/{id}/hangup`.
pub(super) async fn hangup(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    apply(&state, &tenant, &id, CallCommand::Hangup).await
}

/// `POST /v1/activeflows/{id}/execute`: a flow blocked at `block` moves on.
pub(super) async fn execute(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    apply(&state, &tenant, &id, CallCommand::Resume).await
}

/// Reads one interrupt action, or every problem with its path.
fn read_action(body: &Value) -> Result<CallCommand, Vec<Problem>> {
    let Some(map) = body.as_object() else {
        return Err(vec![Problem::new("", "expected an object")]);
    };
    let mut problems = Vec::new();
    for key in map.keys() {
        if !matches!(key.as_str(), "type" | "option") {
            problems.push(Problem::new(key.as_str(), "unknown field"));
        }
    }
    let kind = match map.get("type") {
        Some(Value::String(kind)) if ACTION_TYPES.contains(&kind.as_str()) => kind.as_str(),
        _ => {
            problems.push(Problem::new(
                "type",
                format!("expected one of {}", ACTION_TYPES.join(", ")),
            ));
            return Err(problems);
        }
    };
    let empty = Map::new();
    let option = match map.get("option") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(option)) => option,
        Some(_) => {
            problems.push(Problem::new("option", "expected an object"));
            return Err(problems);
        }
    };
    let text = |field: &str, required: bool, problems: &mut Vec<Problem>| {
        let path = format!("option.{field}");
        match option.get(field) {
            Some(Value::String(text)) if !text.trim().is_empty() => Some(text.clone()),
            None | Some(Value::Null) if !required => None,
            _ => {
                problems.push(Problem::new(path.as_str(), "expected a non-empty string"));
                None
            }
        }
    };
    let command = match kind {
        "talk" => text("text", true, &mut problems).map(|text| {
            CallCommand::Play(vec![Audio::Speak {
                text,
                language: None,
                voice: None,
            }])
        }),
        "play" => text("prompt", true, &mut problems)
            .map(|prompt| CallCommand::Play(vec![Audio::Catalog(prompt)])),
        "beep" => Some(CallCommand::Play(vec![Audio::Beep])),
        "recording_start" => {
            let recording_id = text("recording_id", false, &mut problems).unwrap_or_else(new_id);
            let format = text("format", false, &mut problems);
            if !recording_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                || recording_id.starts_with('.')
            {
                problems.push(Problem::new(
                    "option.recording_id",
                    "letters, digits, '-', '_' and '.' only",
                ));
            }
            Some(CallCommand::RecordingStart {
                recording_id,
                format,
            })
        }
        "recording_stop" => Some(CallCommand::RecordingStop {
            recording_id: text("recording_id", false, &mut problems),
        }),
        "digits_send" => text("digits", true, &mut problems).map(CallCommand::SendDigits),
        "transfer" => text("target", true, &mut problems).map(CallCommand::Transfer),
        _ => Some(CallCommand::Hangup),
    };
    match command {
        Some(command) if problems.is_empty() => Ok(command),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_read_in_the_action_array_shape() {
        let talk = read_action(&json!({"type": "talk", "option": {"text": "Hello"}}));
        assert_eq!(
            talk,
            Ok(CallCommand::Play(vec![Audio::Speak {
                text: "Hello".into(),
                language: None,
                voice: None
            }]))
        );
        assert_eq!(
            read_action(&json!({"type": "hangup"})),
            Ok(CallCommand::Hangup)
        );
        assert_eq!(
            read_action(&json!({"type": "digits_send", "option": {"digits": "12#"}})),
            Ok(CallCommand::SendDigits("12#".into()))
        );
    }

    #[test]
    fn bad_actions_name_their_paths() {
        let paths = |body: Value| -> Vec<String> {
            read_action(&body)
                .expect_err("refused")
                .iter()
                .map(|p| p.path.clone())
                .collect()
        };
        assert_eq!(paths(json!({"type": "dance"})), ["type"]);
        assert_eq!(paths(json!({"type": "talk"})), ["option.text"]);
        assert_eq!(
            paths(json!({"type": "recording_start", "option": {"recording_id": "../x"}})),
            ["option.recording_id"]
        );
        assert_eq!(paths(json!([1])), ["$"]);
    }
}
