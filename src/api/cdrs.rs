//! `GET /v1/cdrs`: the workspace's call detail records from the store,
//! oldest first, filtered by start time (`since` inclusive, `until`
//! exclusive; RFC 3339), `number` (caller or dialled), `flowId` and
//! `cause` (the CDR's `hangup_cause`), with `page`/`limit` paging as the
//! other lists. The records are the CDR file's, as the CDR writer stored them.

use axum::extract::{Query, State};
use axum::{Extension, Json};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::store::{CdrQuery, Page};

use super::auth::Tenant;
use super::error::ApiError;
use super::flows::Paging;
use super::{blocking, AppState};

/// The query string of `GET /v1/cdrs`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct CdrFilter {
    since: Option<String>,
    until: Option<String>,
    number: Option<String>,
    flow_id: Option<String>,
    cause: Option<String>,
    page: Option<u64>,
    limit: Option<u64>,
}

/// An instant of the query, as the records spell start times (UTC, ms).
fn instant(name: &str, text: &Option<String>) -> Result<Option<String>, ApiError> {
    text.as_deref()
        .map(|text| {
            DateTime::parse_from_rfc3339(text)
                .map(|at| {
                    at.with_timezone(&Utc)
                        .to_rfc3339_opts(SecondsFormat::Millis, true)
                })
                .map_err(|_| ApiError::bad_request(format!("{name}: expected an RFC 3339 time")))
        })
        .transpose()
}

fn nonempty(text: &Option<String>) -> Option<String> {
    text.as_ref().filter(|text| !text.is_empty()).cloned()
}

impl CdrFilter {
    fn query(&self) -> Result<(u64, u64, CdrQuery), ApiError> {
        let (page, limit, window): (u64, u64, Page) = Paging::new(self.page, self.limit).page()?;
        Ok((
            page,
            limit,
            CdrQuery {
                since: instant("since", &self.since)?,
                until: instant("until", &self.until)?,
                number: nonempty(&self.number),
                flow_id: nonempty(&self.flow_id),
                cause: nonempty(&self.cause),
                page: window,
            },
        ))
    }
}

/// `GET /v1/cdrs`.
pub(super) async fn list(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    filter: Result<Query<CdrFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(filter) = filter.map_err(|err| ApiError::bad_request(err.body_text()))?;
    let (page, limit, query) = filter.query()?;
    let store = state.store.clone();
    let (records, total) = blocking(move || store.cdrs(&tenant.workspace, &query)).await??;
    Ok(Json(json!({
        "data": records,
        "page": page,
        "limit": limit,
        "total": total,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_as_rfc3339_and_given_in_utc() {
        assert_eq!(
            instant("since", &Some("2026-02-01T11:00:00+01:00".into())).expect("a time"),
            Some("2026-02-01T10:00:00.000Z".into())
        );
        assert!(instant("since", &Some("yesterday".into())).is_err());
        assert_eq!(instant("since", &None).expect("none"), None);
    }
}
