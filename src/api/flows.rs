//! `/v1/call-flows`: create, read, list, replace, patch and delete call
//! flows of the caller's workspace; list a flow's versions, publish one, roll
//! back to an older one. Every write is a new version, validated as
//! `callplane flow check` validates; a publish installs a new routing table on
//! every shard before it answers.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::store::{new_id, FlowRow, Page, StoreError, VersionRow};

use super::auth::Tenant;
use super::error::ApiError;
use super::flow_record::{answer, compile, merge_patch, prepare, problems_of};
use super::{blocking, now_rfc3339, AppState};

/// The JSON of a request body; a body over the limit is a 413.
pub(super) fn json_body(body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let bytes =
        body.map_err(|rejection| ApiError::with_status(rejection.status(), rejection.body_text()))?;
    serde_json::from_slice(&bytes)
        .map_err(|err| ApiError::bad_request(format!("the body is not valid JSON: {err}")))
}

/// Validates a prepared document as version `version` of flow `id`.
fn validate(id: &str, version: u32, document: &Value) -> Result<(), ApiError> {
    compile(id, version, document)
        .map(|_| ())
        .map_err(|err| ApiError::invalid(problems_of(err)))
}

/// `POST /v1/call-flows`.
pub(super) async fn create(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let now = now_rfc3339();
    let document = prepare(json_body(body)?, None, &now).map_err(ApiError::invalid)?;
    let id = new_id();
    validate(&id, 1, &document)?;
    let store = state.store.clone();
    let row =
        blocking(move || store.create_flow(&tenant.workspace, &id, &document, &now)).await??;
    Ok((StatusCode::CREATED, Json(answer(&row))).into_response())
}

/// `page` (from 1) and `limit` (1–100) of a list.
#[derive(Debug, Deserialize)]
pub(super) struct Paging {
    page: Option<u64>,
    limit: Option<u64>,
}

impl Paging {
    /// Paging of these values (none: the defaults).
    pub(super) fn new(page: Option<u64>, limit: Option<u64>) -> Paging {
        Paging { page, limit }
    }

    pub(super) fn page(&self) -> Result<(u64, u64, Page), ApiError> {
        let page = self.page.unwrap_or(1);
        let limit = self.limit.unwrap_or(20);
        if page == 0 {
            return Err(ApiError::bad_request("page: starts at 1"));
        }
        if !(1..=100).contains(&limit) {
            return Err(ApiError::bad_request("limit: between 1 and 100"));
        }
        let offset = (page - 1).saturating_mul(limit);
        Ok((page, limit, Page { offset, limit }))
    }
}

/// `GET /v1/call-flows?page=&limit=`.
pub(super) async fn list(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    paging: Result<Query<Paging>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(paging) = paging.map_err(|err| ApiError::bad_request(err.body_text()))?;
    let (page, limit, window) = paging.page()?;
    let store = state.store.clone();
    let (rows, total) = blocking(move || store.flows(&tenant.workspace, window)).await??;
    Ok(Json(json!({
        "data": rows.iter().map(answer).collect::<Vec<_>>(),
        "page": page,
        "limit": limit,
        "total": total,
    })))
}

async fn find(state: &AppState, tenant: &Tenant, id: &str) -> Result<FlowRow, ApiError> {
    let store = state.store.clone();
    let (workspace, id) = (tenant.workspace.clone(), id.to_owned());
    blocking(move || store.flow(&workspace, &id))
        .await??
        .ok_or_else(|| ApiError::not_found("call flow"))
}

/// `GET /v1/call-flows/{id}`.
pub(super) async fn get_one(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(answer(&find(&state, &tenant, &id).await?)))
}

async fn write_version(
    state: &AppState,
    tenant: &Tenant,
    current: &FlowRow,
    body: Value,
) -> Result<Json<Value>, ApiError> {
    let now = now_rfc3339();
    let document = prepare(body, Some(&current.document), &now).map_err(ApiError::invalid)?;
    validate(&current.id, current.latest_version + 1, &document)?;
    let store = state.store.clone();
    let (workspace, id) = (tenant.workspace.clone(), current.id.clone());
    let row = blocking(move || store.add_version(&workspace, &id, &document, &now)).await??;
    Ok(Json(answer(&row)))
}

/// `PUT /v1/call-flows/{id}`: the body replaces the flow (a new version).
pub(super) async fn replace(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = json_body(body)?;
    let current = find(&state, &tenant, &id).await?;
    write_version(&state, &tenant, &current, body).await
}

/// `PATCH /v1/call-flows/{id}`: a JSON merge patch (RFC 7386) of the newest
/// version gives the next.
pub(super) async fn patch(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let patch = json_body(body)?;
    if !patch.is_object() {
        return Err(ApiError::bad_request("a merge patch is a JSON object"));
    }
    let current = find(&state, &tenant, &id).await?;
    let mut document = current.document.clone();
    merge_patch(&mut document, &patch);
    write_version(&state, &tenant, &current, document).await
}

/// `DELETE /v1/call-flows/{id}`: refused (409) while a route names the flow.
pub(super) async fn delete(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let store = state.store.clone();
    let workspace = tenant.workspace.clone();
    let flow_id = id.clone();
    let routed = blocking(move || store.routes(&workspace))
        .await??
        .into_iter()
        .any(|route| route.target.get("flowId").and_then(Value::as_str) == Some(flow_id.as_str()));
    let existing = find(&state, &tenant, &id).await?;
    if routed {
        return Err(ApiError::conflict(
            "a number routes to this call flow: delete the route first",
        ));
    }
    let store = state.store.clone();
    let workspace = tenant.workspace.clone();
    let deleted = blocking(move || store.delete_flow(&workspace, &id)).await??;
    if !deleted {
        return Err(ApiError::not_found("call flow"));
    }
    if existing.published_version.is_some() {
        state.install().await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

fn version_answer(version: &VersionRow, published: Option<u32>, with_document: bool) -> Value {
    let mut answer = json!({
        "flowId": version.flow_id,
        "version": version.version,
        "createdAt": version.created_at,
        "published": published == Some(version.version),
    });
    if with_document {
        answer["document"] = version.document.clone();
    }
    answer
}

/// `GET /v1/call-flows/{id}/versions`.
pub(super) async fn versions(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let flow = find(&state, &tenant, &id).await?;
    let store = state.store.clone();
    let workspace = tenant.workspace.clone();
    let versions = blocking(move || store.versions(&workspace, &id))
        .await?
        .map_err(|err| match err {
            StoreError::NotFound => ApiError::not_found("call flow"),
            other => other.into(),
        })?;
    Ok(Json(json!({
        "data": versions
            .iter()
            .map(|v| version_answer(v, flow.published_version, false))
            .collect::<Vec<_>>(),
        "publishedVersion": flow.published_version,
    })))
}

async fn find_version(
    state: &AppState,
    tenant: &Tenant,
    id: &str,
    version: u32,
) -> Result<VersionRow, ApiError> {
    let store = state.store.clone();
    let (workspace, id) = (tenant.workspace.clone(), id.to_owned());
    blocking(move || store.version(&workspace, &id, version))
        .await??
        .ok_or_else(|| ApiError::not_found("version"))
}

/// `GET /v1/call-flows/{id}/versions/{version}`.
pub(super) async fn version(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path((id, version)): Path<(String, u32)>,
) -> Result<Json<Value>, ApiError> {
    let flow = find(&state, &tenant, &id).await?;
    let row = find_version(&state, &tenant, &id, version).await?;
    Ok(Json(version_answer(&row, flow.published_version, true)))
}

/// Publishes `version` and installs the new table; if the table cannot be
/// built (a reference the environment lacks), the previous publication is
/// restored and the problem returned.
async fn publish_version(
    state: &AppState,
    tenant: &Tenant,
    flow: &FlowRow,
    version: u32,
) -> Result<Json<Value>, ApiError> {
    let store = state.store.clone();
    let (workspace, id) = (tenant.workspace.clone(), flow.id.clone());
    let now = now_rfc3339();
    let row = blocking(move || store.publish(&workspace, &id, version, &now)).await??;
    if let Err(err) = state.install().await {
        if let Some(previous) = flow.published_version {
            let store = state.store.clone();
            let (workspace, id) = (tenant.workspace.clone(), flow.id.clone());
            let then = flow.updated_at.clone();
            blocking(move || store.publish(&workspace, &id, previous, &then)).await??;
        } else {
            log::warn!("api: flow {} stays published but unrouted", flow.id);
        }
        return Err(err);
    }
    log::info!(
        "api: workspace {} published flow {} version {version}",
        tenant.workspace,
        flow.id
    );
    Ok(Json(answer(&row)))
}

/// `POST /v1/call-flows/{id}/versions/{version}/publish`.
pub(super) async fn publish(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path((id, version)): Path<(String, u32)>,
) -> Result<Json<Value>, ApiError> {
    let flow = find(&state, &tenant, &id).await?;
    find_version(&state, &tenant, &id, version).await?;
    publish_version(&state, &tenant, &flow, version).await
}

/// The body of a rollback: the version to go back to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rollback {
    version: u32,
}

/// `POST /v1/call-flows/{id}/rollback` with `{"version": n}`: version `n`'s
/// document becomes a new version, which is published.
pub(super) async fn rollback(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let Rollback { version } = serde_json::from_value(json_body(body)?).map_err(|err| {
        ApiError::invalid(vec![crate::flow::Problem::new("version", err.to_string())])
    })?;
    let flow = find(&state, &tenant, &id).await?;
    let old = find_version(&state, &tenant, &id, version).await?;
    let store = state.store.clone();
    let (workspace, flow_id) = (tenant.workspace.clone(), id.clone());
    let now = now_rfc3339();
    let document = old.document;
    let row = blocking(move || store.add_version(&workspace, &flow_id, &document, &now)).await??;
    publish_version(&state, &tenant, &flow, row.latest_version).await
}
