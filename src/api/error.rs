//! The API's error answers: a status and one JSON body shape,
//! `{"error": code, "message": text}`, with `problems` (`[{path, message}]`)
//! when a flow or record was refused.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::flow::Problem;
use crate::store::StoreError;

/// An error answer.
#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    problems: Vec<Problem>,
    retry_after_secs: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            problems: Vec::new(),
            retry_after_secs: None,
        }
    }

    /// 400: the request is malformed (not JSON, a bad query…).
    pub(super) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401: no key, or not a key this server knows. Says nothing more.
    pub(super) fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid x-api-key is required",
        )
    }

    /// 403: the key may not act in the workspace asked for.
    pub(super) fn forbidden() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this key may not act in this workspace",
        )
    }

    /// 404: nothing with that id in this workspace.
    pub(super) fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what}"),
        )
    }

    /// 409: the write clashes with what exists.
    pub(super) fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 422: the document was read but refused; every problem with its JSON path.
    pub(super) fn invalid(problems: Vec<Problem>) -> ApiError {
        let mut error = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            format!("{} problem(s) in the request body", problems.len()),
        );
        error.problems = problems;
        error
    }

    /// 429: the key made too many requests; try again after `secs`.
    pub(super) fn rate_limited(secs: u64) -> ApiError {
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests for this key",
        );
        error.retry_after_secs = Some(secs);
        error
    }

    /// 500: the server failed; the cause goes to the log, not to the caller.
    pub(super) fn internal(cause: impl std::fmt::Display) -> ApiError {
        log::error!("api: {cause}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server could not complete the request",
        )
    }

    /// An answer with any status (body extractor rejections: 413, 415…).
    pub(super) fn with_status(status: StatusCode, message: impl Into<String>) -> ApiError {
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            _ => "bad_request",
        };
        ApiError::new(status, code, message)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        match err {
            StoreError::NotFound => ApiError::not_found("resource"),
            StoreError::Conflict(message) => ApiError::conflict(message),
            StoreError::Backend(_) => ApiError::internal(err),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": self.code, "message": self.message});
        if !self.problems.is_empty() {
            body["problems"] = self
                .problems
                .iter()
                .map(|p| json!({"path": p.path, "message": p.message}))
                .collect();
        }
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
