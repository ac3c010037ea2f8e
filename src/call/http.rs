//! HTTP requests a flow makes (`httpRequest`, `webhook_send`), as data: the
//! call layer describes them, the IO shell performs them off the shard, and
//! the result comes back as a flow outcome.

use std::time::Duration;

/// One request to perform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub timeout: Duration,
}

/// What came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpResult {
    /// Any HTTP status, with the (capped) body.
    Response { status: u16, body: String },
    /// No response: refused, timed out, bad URL…
    Failed(String),
}
