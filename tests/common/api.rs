//! The HTTP API side of the harness: a free TCP port for `[api] listen`, the
//! `[api]` config section with plain keys, and a small JSON client over
//! ureq that answers every status (4xx/5xx are results, not errors).

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use serde_json::Value;

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn tcp_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free TCP port")
}

/// `[api]` listening on `port`, with one key per `(key, workspaces)` and
/// `extra` lines (limits) added to the section.
pub fn api_section(port: u16, keys: &[(&str, &[&str])], extra: &str) -> String {
    let mut text = format!("[api]\nlisten = \"127.0.0.1:{port}\"\n{extra}\n");
    for (index, (key, workspaces)) in keys.iter().enumerate() {
        let list: Vec<String> = workspaces.iter().map(|w| format!("\"{w}\"")).collect();
        text.push_str(&format!(
            "[[api.keys]]\nname = \"key{index}\"\nkey = \"{key}\"\nworkspaces = [{}]\n",
            list.join(", ")
        ));
    }
    text
}

/// What the API answered.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body as JSON (`Null` when empty).
    pub body: Value,
    /// The raw body text.
    pub text: String,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
}

/// A client for one server's API, with one key and workspace.
#[derive(Clone)]
pub struct ApiClient {
    base: String,
    agent: ureq::Agent,
    /// Sent as `x-api-key` (none: no header).
    pub key: Option<String>,
    /// Sent as `x-workspace-id` (none: no header).
    pub workspace: Option<String>,
}

impl ApiClient {
    /// A client of the API at `addr` acting with `key` in `workspace`.
    pub fn new(addr: SocketAddr, key: &str, workspace: &str) -> ApiClient {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into();
        ApiClient {
            base: format!("http://{addr}"),
            agent,
            key: Some(key.to_owned()),
            workspace: Some(workspace.to_owned()),
        }
    }

    /// `http://ADDR` of the server.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The same server with another key and workspace.
    pub fn with(&self, key: Option<&str>, workspace: Option<&str>) -> ApiClient {
        ApiClient {
            key: key.map(str::to_owned),
            workspace: workspace.map(str::to_owned),
            ..self.clone()
        }
    }

    /// Sends `method path` with `body` (raw text) and reads the answer.
    pub fn raw(&self, method: &str, path: &str, body: Option<String>) -> Answer {
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(key) = &self.key {
            builder = builder.header("x-api-key", key);
        }
        if let Some(workspace) = &self.workspace {
            builder = builder.header("x-workspace-id", workspace);
        }
        let result = match body {
            Some(body) => {
                let request = builder
                    .header("content-type", "application/json")
                    .body(body)
                    .expect("a request");
                self.agent.run(request)
            }
            None => {
                let request = builder.body(ureq::SendBody::none()).expect("a request");
                self.agent.run(request)
            }
        };
        let mut response = result.unwrap_or_else(|err| panic!("{method} {path}: {err}"));
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::Null)
        };
        Answer {
            status,
            body,
            text,
            retry_after,
        }
    }

    /// Sends JSON.
    pub fn send(&self, method: &str, path: &str, body: &Value) -> Answer {
        self.raw(method, path, Some(body.to_string()))
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Answer {
        self.raw("GET", path, None)
    }

    /// Creates `flow`, routes `number` to it and publishes its version 1,
    /// asserting each answer (201, 201, 200); returns the flow's id and the
    /// publish answer.
    pub fn create_route_publish(&self, flow: &Value, number: &str) -> (String, Answer) {
        let created = self.send("POST", "/v1/call-flows", flow);
        assert_eq!(created.status, 201, "{}", created.text);
        let id = created.body["_id"].as_str().expect("id").to_owned();
        let routed = self.send(
            "POST",
            "/v1/numbers",
            &serde_json::json!({"number": number, "flowId": id}),
        );
        assert_eq!(routed.status, 201, "{}", routed.text);
        let published = self.raw(
            "POST",
            &format!("/v1/call-flows/{id}/versions/1/publish"),
            None,
        );
        assert_eq!(published.status, 200, "{}", published.text);
        (id, published)
    }
}
