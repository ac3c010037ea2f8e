//! `/v1/numbers`: the dialled numbers (exact, or by prefix) a workspace
//! routes to one of its call flows or to a destination of the configuration
//! file. A number is routed by one workspace only, and not by the API when
//! the configuration file routes it. Every change installs a new routing
//! table: the next call follows it.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Map, Value};

use crate::flow::{Destination, Problem};
use crate::store::{new_id, Matcher, RouteRow};

use super::auth::Tenant;
use super::error::ApiError;
use super::flows::json_body;
use super::{blocking, now_rfc3339, AppState};

const FIELDS: [&str; 6] = [
    "number",
    "prefix",
    "flowId",
    "destination",
    "destXform",
    "earlyMedia",
];

/// A dialled number's characters: digits, `+`, `*` and `#`.
fn is_dialled(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '*' | '#'))
}

/// A route request read: what it matches and its stored target, or every problem.
fn read_route(body: &Value) -> Result<(Matcher, Map<String, Value>), Vec<Problem>> {
    let Some(map) = body.as_object() else {
        return Err(vec![Problem::new("", "expected an object")]);
    };
    let mut problems = Vec::new();
    for key in map.keys() {
        if !FIELDS.contains(&key.as_str()) {
            problems.push(Problem::new(key.as_str(), "unknown field"));
        }
    }
    let text = |field: &str, problems: &mut Vec<Problem>| match map.get(field) {
        None => None,
        Some(Value::String(text)) if is_dialled(text) => Some(text.clone()),
        Some(_) => {
            problems.push(Problem::new(
                field,
                "expected digits (and +, *, #), at most 64",
            ));
            None
        }
    };
    let number = text("number", &mut problems);
    let prefix = text("prefix", &mut problems);
    let matcher = match (number, prefix) {
        (Some(number), None) => Some(Matcher::Number(number)),
        (None, Some(prefix)) => Some(Matcher::Prefix(prefix)),
        (Some(_), Some(_)) => {
            problems.push(Problem::new("prefix", "give number or prefix, not both"));
            None
        }
        (None, None) => {
            if !map.contains_key("number") && !map.contains_key("prefix") {
                problems.push(Problem::new("number", "missing: give number or prefix"));
            }
            None
        }
    };
    let mut target = Map::new();
    match (map.get("flowId"), map.get("destination")) {
        (Some(Value::String(id)), None) if !id.is_empty() => {
            target.insert("flowId".into(), Value::String(id.clone()));
        }
        (Some(_), None) => problems.push(Problem::new("flowId", "expected a call flow id")),
        (None, Some(destination)) => {
            match serde_json::from_value::<Destination>(destination.clone()) {
                Ok(_) => {
                    target.insert("destination".into(), destination.clone());
                }
                Err(err) => problems.push(Problem::new("destination", err.to_string())),
            }
        }
        (Some(_), Some(_)) => problems.push(Problem::new(
            "destination",
            "give flowId or destination, not both",
        )),
        (None, None) => problems.push(Problem::new(
            "flowId",
            "missing: give flowId or destination",
        )),
    }
    match map.get("destXform") {
        None | Some(Value::Null) => {}
        Some(Value::Object(vars)) => {
            target.insert("destXform".into(), Value::Object(vars.clone()));
        }
        Some(_) => problems.push(Problem::new("destXform", "expected an object of variables")),
    }
    match map.get("earlyMedia") {
        None => {}
        Some(Value::Bool(early)) => {
            target.insert("earlyMedia".into(), Value::Bool(*early));
        }
        Some(_) => problems.push(Problem::new("earlyMedia", "expected a boolean")),
    }
    match matcher {
        Some(matcher) if problems.is_empty() => Ok((matcher, target)),
        _ => Err(problems),
    }
}

fn answer(route: &RouteRow) -> Value {
    let mut answer = json!({
        "_id": route.id,
        "workspaceId": route.workspace,
        "createdAt": route.created_at,
    });
    match &route.matcher {
        Matcher::Number(number) => answer["number"] = json!(number),
        Matcher::Prefix(prefix) => answer["prefix"] = json!(prefix),
    }
    if let Value::Object(target) = &route.target {
        for (key, value) in target {
            answer[key.as_str()] = value.clone();
        }
    }
    answer
}

/// `POST /v1/numbers`.
pub(super) async fn create(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (matcher, target) = read_route(&json_body(body)?).map_err(ApiError::invalid)?;
    if let Some(Value::String(flow_id)) = target.get("flowId") {
        let store = state.store.clone();
        let (workspace, flow_id) = (tenant.workspace.clone(), flow_id.clone());
        if blocking(move || store.flow(&workspace, &flow_id))
            .await??
            .is_none()
        {
            return Err(ApiError::invalid(vec![Problem::new(
                "flowId",
                "no call flow with this id in the workspace",
            )]));
        }
    }
    if let Some(destination) = target.get("destination") {
        let known = serde_json::from_value::<Destination>(destination.clone())
            .is_ok_and(|d| state.installer.has_destination(&d));
        if !known {
            return Err(ApiError::invalid(vec![Problem::new(
                "destination",
                "no such destination in the server's configuration",
            )]));
        }
    }
    if state.installer.config_routes(&matcher) {
        return Err(ApiError::conflict(
            "the server's configuration file routes this number",
        ));
    }
    let route = RouteRow {
        id: new_id(),
        workspace: tenant.workspace.clone(),
        matcher,
        target: Value::Object(target),
        created_at: now_rfc3339(),
    };
    let store = state.store.clone();
    let stored = route.clone();
    blocking(move || store.add_route(&stored)).await??;
    state.install().await?;
    Ok((StatusCode::CREATED, Json(answer(&route))).into_response())
}

/// `GET /v1/numbers`.
pub(super) async fn list(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
) -> Result<Json<Value>, ApiError> {
    let store = state.store.clone();
    let routes = blocking(move || store.routes(&tenant.workspace)).await??;
    Ok(Json(json!({
        "data": routes.iter().map(answer).collect::<Vec<_>>(),
        "total": routes.len(),
    })))
}

/// `GET /v1/numbers/{id}`.
pub(super) async fn get_one(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let store = state.store.clone();
    let routes = blocking(move || store.routes(&tenant.workspace)).await??;
    routes
        .iter()
        .find(|route| route.id == id)
        .map(|route| Json(answer(route)))
        .ok_or_else(|| ApiError::not_found("number"))
}

/// `DELETE /v1/numbers/{id}`.
pub(super) async fn delete(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let store = state.store.clone();
    let deleted = blocking(move || store.delete_route(&tenant.workspace, &id)).await??;
    if !deleted {
        return Err(ApiError::not_found("number"));
    }
    state.install().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_request_is_read_with_every_problem_located() {
        let (matcher, target) =
            read_route(&json!({"prefix": "+4420", "flowId": "f", "earlyMedia": true}))
                .expect("valid");
        assert_eq!(matcher, Matcher::Prefix("+4420".into()));
        assert_eq!(
            Value::Object(target),
            json!({"flowId": "f", "earlyMedia": true})
        );
        let problems = read_route(&json!({
            "number": "12ab", "flowId": "f", "destination": {"kind": "queue", "id": "q"}, "colour": 1
        }))
        .expect_err("refused");
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["colour", "number", "destination"]);
        let problems =
            read_route(&json!({"destination": {"kind": "moon", "id": "x"}})).expect_err("refused");
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["number", "destination"]);
    }
}
