//! HTTP requests a flow makes (`httpRequest`, `webhook_send`), as data: the
//! call layer describes them, the IO shell performs them off the shard, and
//! the result comes back as a flow outcome.

use std::time::Duration;

/// One request to perform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    /// HTTP method, upper case (`GET`, `POST`, …).
    pub method: String,
    /// Absolute URL, templates already expanded.
    pub url: String,
    /// Extra request headers, in order.
    pub headers: Vec<(String, String)>,
    /// Request body, if any.
    pub body: Option<String>,
    /// How long the whole request may take before it fails.
    pub timeout: Duration,
}

/// What came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpResult {
    /// Any HTTP status, with the (capped) body.
    Response {
        /// The HTTP status code.
        status: u16,
        /// The response body, capped in size.
        body: String,
    },
    /// No response: refused, timed out, bad URL…
    Failed(String),
}
