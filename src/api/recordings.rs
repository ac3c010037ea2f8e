//! `/v1/recordings`: the recordings and voicemail messages of the
//! workspace's calls, as their CDRs list them, downloaded by id (with HTTP
//! `Range`: 206 with `Content-Range`, 416 past the end) and deleted on
//! request. Only ids are taken: the file is the one the call's CDR names,
//! under the data directory, and a name that would leave it is refused.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path as FsPath, PathBuf};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};

use crate::store::{CdrQuery, Page};

use super::auth::Tenant;
use super::error::ApiError;
use super::{blocking, AppState};

/// The most bytes one download answer carries (a longer range is cut short,
/// as RFC 9110 allows; clients ask for the rest).
const MAX_BODY: u64 = 64 * 1024 * 1024;

/// Every recording the workspace's CDRs list, oldest call first.
async fn all(state: &AppState, tenant: &Tenant) -> Result<Vec<Value>, ApiError> {
    let store = state.store.clone();
    let workspace = tenant.workspace.clone();
    blocking(move || {
        let mut found = Vec::new();
        let mut query = CdrQuery::all(100);
        loop {
            let (records, total) = store.cdrs(&workspace, &query)?;
            for record in &records {
                for recording in record["recordings"].as_array().into_iter().flatten() {
                    let mut entry = recording.clone();
                    entry["callId"] = record["call_id"].clone();
                    entry["startTime"] = record["start_time"].clone();
                    found.push(entry);
                }
            }
            query.page = Page {
                offset: query.page.offset + query.page.limit,
                limit: query.page.limit,
            };
            if records.is_empty() || query.page.offset >= total {
                return Ok::<_, crate::store::StoreError>(found);
            }
        }
    })
    .await?
    .map_err(ApiError::from)
}

/// The file of the workspace's recording `id`, inside the data directory.
async fn file_of(state: &AppState, tenant: &Tenant, id: &str) -> Result<PathBuf, ApiError> {
    let recordings = all(state, tenant).await?;
    let file = recordings
        .iter()
        .find(|recording| recording["id"] == id)
        .and_then(|recording| recording["file"].as_str())
        .ok_or_else(|| ApiError::not_found("recording"))?;
    let relative = FsPath::new(file);
    if !relative
        .components()
        .all(|part| matches!(part, Component::Normal(_)))
    {
        return Err(ApiError::not_found("recording"));
    }
    Ok(state.data_dir.join(relative))
}

/// `GET /v1/recordings`.
pub(super) async fn list(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
) -> Result<Json<Value>, ApiError> {
    let recordings = all(&state, &tenant).await?;
    Ok(Json(json!({"total": recordings.len(), "data": recordings})))
}

/// A `Range: bytes=…` header over `len` bytes: the first and last byte
/// asked for; `Err(())` when it cannot be satisfied; `Ok(None)` without one
/// (or with a form this server does not serve, which RFC 9110 lets it ignore).
fn range(headers: &HeaderMap, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(text) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(spec) = text.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (first, last) = (first.trim(), last.trim());
    let parsed = match (first.is_empty(), last.is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => {
            let n: u64 = last.parse().map_err(|_| ())?;
            if n == 0 || len == 0 {
                return Err(());
            }
            (len.saturating_sub(n), len - 1)
        }
        (false, _) => {
            let first: u64 = first.parse().map_err(|_| ())?;
            let last = match last.is_empty() {
                true => len.saturating_sub(1),
                false => last
                    .parse::<u64>()
                    .map_err(|_| ())?
                    .min(len.saturating_sub(1)),
            };
            if first >= len || last < first {
                return Err(());
            }
            (first, last)
        }
        (true, true) => return Ok(None),
    };
    Ok(Some(parsed))
}

/// `GET /v1/recordings/{id}`: the file, whole (200) or the range asked (206).
pub(super) async fn download(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let path = file_of(&state, &tenant, &id).await?;
    let content_type = match path.extension().and_then(|e| e.to_str()) {
        Some("wav") => "audio/wav",
        Some("mp3") => "audio/mpeg",
        Some("ogg") => "audio/ogg",
        _ => "application/octet-stream",
    };
    let read = blocking(move || -> std::io::Result<Option<(u64, std::fs::File)>> {
        match std::fs::File::open(&path) {
            Ok(file) => Ok(Some((file.metadata()?.len(), file))),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    })
    .await?
    .map_err(ApiError::internal)?;
    let Some((len, mut file)) = read else {
        return Err(ApiError::not_found("recording"));
    };
    let (status, first, last) = match range(&headers, len) {
        Ok(Some((first, last))) => (StatusCode::PARTIAL_CONTENT, first, last),
        Ok(None) => (StatusCode::OK, 0, len.saturating_sub(1)),
        Err(()) => {
            let mut response = ApiError::with_status(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "the range is outside the file",
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{len}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(response);
        }
    };
    let count = if len == 0 {
        0
    } else {
        (last - first + 1).min(MAX_BODY)
    };
    let body = blocking(move || -> std::io::Result<Vec<u8>> {
        file.seek(SeekFrom::Start(first))?;
        let mut body = Vec::with_capacity(count as usize);
        file.take(count).read_to_end(&mut body)?;
        Ok(body)
    })
    .await?
    .map_err(ApiError::internal)?;
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if status == StatusCode::PARTIAL_CONTENT {
        let end = first + count.saturating_sub(1);
        if let Ok(value) = HeaderValue::from_str(&format!("bytes {first}-{end}/{len}")) {
            headers.insert(header::CONTENT_RANGE, value);
        }
    }
    Ok(response)
}

/// `DELETE /v1/recordings/{id}`: removes the file (the CDR keeps naming it).
pub(super) async fn delete(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let path = file_of(&state, &tenant, &id).await?;
    let removed = blocking(move || match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    })
    .await?
    .map_err(ApiError::internal)?;
    match removed {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::not_found("recording")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(value: &str, len: u64) -> Result<Option<(u64, u64)>, ()> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).expect("header"));
        range(&headers, len)
    }

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(asked("bytes=0-3", 100), Ok(Some((0, 3))));
        assert_eq!(asked("bytes=90-", 100), Ok(Some((90, 99))));
        assert_eq!(asked("bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(asked("bytes=50-500", 100), Ok(Some((50, 99))));
        assert_eq!(asked("bytes=100-", 100), Err(()));
        assert_eq!(asked("bytes=5-2", 100), Err(()));
        assert_eq!(asked("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(asked("items=0-1", 100), Ok(None));
        assert_eq!(range(&HeaderMap::new(), 100), Ok(None));
    }
}
