//! The HTTP API against the real server: call flows in the create-call-flow
//! record's shape round-trip, a bad flow is refused with the paths `flow
//! check` gives, keys and workspaces are enforced, a flood is limited, and a
//! publish through the API reaches the shards while a call keeps its version.

mod common;

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::api::{api_section, tcp_port, ApiClient};
use common::{dtmf_pcap, Backend, Server, ServerOptions, Sipp, TestDir};

const KEY_A: &str = "key-for-workspace-a-0001";
const KEY_B: &str = "key-for-workspace-b-0002";
const WS_A: &str = "6764d172953253138a3a70f4";
const WS_B: &str = "6764d172953253138a3a70f5";

/// A server with the API on a free port, keys for two workspaces, and `extra`
/// config (routing, limits in `[api]` via `api_extra`).
fn start(dir: &Path, api_extra: &str, extra: &str) -> (Server, ApiClient) {
    let port = tcp_port();
    let config = format!(
        "{}{extra}",
        api_section(port, &[(KEY_A, &[WS_A]), (KEY_B, &[WS_B])], api_extra)
    );
    let server = Server::start(
        Backend::Epoll,
        dir,
        &ServerOptions {
            config: Some(config),
            ..ServerOptions::default()
        },
    );
    let client = ApiClient::new(([127, 0, 0, 1], port).into(), KEY_A, WS_A);
    (server, client)
}

/// The request fields of the create-call-flow record's example.
fn seed_example_request() -> Value {
    json!({
        "name": "Customer Support Flow",
        "direction": "inbound",
        "description": "Handles inbound support calls",
        "agent": "676b8e123456789012345679",
        "promptType": "simple",
        "folderId": null,
        "isGlobal": false,
        "isPreConfigured": false,
        "preConfiguredWorkspaceId": null,
        "welcomeMessage": "user_initiated",
        "customWelcomeMessage": "",
        "flowData": {
            "nodes": [
                {"id": "node1", "type": "start", "data": {"prompt": "Welcome to our support line. How can I help you?"}}
            ],
            "edges": []
        },
        "prompt": "Keep the conversation short and friendly.",
        "startNodeId": null,
        "isActive": true,
        "agentWebhookUrl": "",
        "inboundWebhookUrl": "",
        "dynamicVariableCollections": [],
        "locations": [],
        "webhooks": [],
        "settings": {
            "welcomeMessage": "user_initiated",
            "customWelcomeMessage": "",
            "enableHumanLikeVoiceAndTone": false,
            "welcomeMessageDelay": 0,
            "webhooks": {"agent": "", "inbound": ""},
            "customerLocation": "new york",
            "transfers": [],
            "knowledgeBases": [],
            "utilizePriorCallsContext": false,
            "callSettings": {"trilletVoiceGuard": true, "reminderMessages": []},
            "security": {"hipaaCompliance": false, "publicAccess": false}
        }
    })
}

/// Every field of the example's response.
const SEED_RESPONSE_FIELDS: &[&str] = &[
    "_id",
    "workspaceId",
    "folderId",
    "isGlobal",
    "isPreConfigured",
    "preConfiguredWorkspaceId",
    "name",
    "direction",
    "description",
    "agent",
    "promptType",
    "welcomeMessage",
    "customWelcomeMessage",
    "flowData",
    "prompt",
    "currentPromptId",
    "promptVersions",
    "gemini_prompt",
    "startNodeId",
    "isActive",
    "agentWebhookUrl",
    "inboundWebhookUrl",
    "dynamicVariableCollections",
    "locations",
    "webhooks",
    "settings",
    "createdAt",
    "updatedAt",
];

fn is_rfc3339(text: &Value) -> bool {
    text.as_str()
        .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok())
}

#[test]
fn the_seed_example_round_trips_and_every_change_is_a_version() {
    let dir = TestDir::new("api-seed");
    let (_server, api) = start(dir.path(), "", "");
    let request = seed_example_request();
    let created = api.send("POST", "/v1/call-flows", &request);
    assert_eq!(created.status, 201, "{}", created.text);
    let flow = &created.body;
    for field in SEED_RESPONSE_FIELDS {
        assert!(flow.get(*field).is_some(), "{field} missing from {flow:#}");
    }
    for (field, value) in request.as_object().expect("an object") {
        assert_eq!(&flow[field.as_str()], value, "{field}");
    }
    let id = flow["_id"].as_str().expect("an id");
    assert!(
        id.len() == 24 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
    assert_eq!(flow["workspaceId"], WS_A);
    assert!(is_rfc3339(&flow["createdAt"]) && is_rfc3339(&flow["updatedAt"]));
    assert_eq!(flow["gemini_prompt"], request["prompt"]);
    assert_eq!(flow["promptVersions"][0]["prompt"], request["prompt"]);
    assert_eq!(flow["currentPromptId"], flow["promptVersions"][0]["_id"]);
    assert_eq!(
        (flow["version"].clone(), flow["publishedVersion"].clone()),
        (json!(1), Value::Null)
    );

    let fetched = api.get(&format!("/v1/call-flows/{id}"));
    assert_eq!(fetched.status, 200);
    assert_eq!(&fetched.body, flow, "GET answers what POST did");
    // What GET answers can be PUT back as it is: the server's fields are ignored.
    let put = api.send("PUT", &format!("/v1/call-flows/{id}"), &fetched.body);
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(put.body["version"], 2);
    assert_eq!(put.body["createdAt"], flow["createdAt"]);
    let patched = api.send(
        "PATCH",
        &format!("/v1/call-flows/{id}"),
        &json!({"description": null, "name": "Renamed", "settings": {"customerLocation": "paris"}}),
    );
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["version"], 3);
    assert_eq!(patched.body["name"], "Renamed");
    assert_eq!(patched.body["settings"]["customerLocation"], "paris");
    assert_eq!(patched.body["settings"]["welcomeMessageDelay"], 0);
    // A removed optional field comes back as its default.
    assert_eq!(patched.body["description"], "");

    let versions = api.get(&format!("/v1/call-flows/{id}/versions"));
    assert_eq!(versions.status, 200);
    let numbers: Vec<i64> = versions.body["data"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v["version"].as_i64().expect("a number"))
        .collect();
    assert_eq!(numbers, [1, 2, 3]);
    let first = api.get(&format!("/v1/call-flows/{id}/versions/1"));
    assert_eq!(first.body["document"]["name"], "Customer Support Flow");

    // Other formats through the same endpoints, and paging.
    let actions = api.send(
        "POST",
        "/v1/call-flows",
        &json!([{"type": "answer"}, {"type": "hangup"}]),
    );
    assert_eq!(actions.status, 201, "{}", actions.text);
    assert_eq!(actions.body["actions"][1]["type"], "hangup");
    let graph = api.send(
        "POST",
        "/v1/call-flows",
        &json!({"start": "bye", "nodes": [{"id": "bye", "type": "hangup", "data": {"kind": "hangup"}}], "edges": []}),
    );
    assert_eq!(graph.status, 201, "{}", graph.text);
    let page = api.get("/v1/call-flows?page=2&limit=2");
    assert_eq!(page.status, 200);
    assert_eq!(page.body["total"], 3);
    assert_eq!(page.body["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(page.body["data"][0]["_id"], graph.body["_id"]);
    assert_eq!(api.get("/v1/call-flows?limit=0").status, 400);

    let gone = api.raw("DELETE", &format!("/v1/call-flows/{id}"), None);
    assert_eq!(gone.status, 204);
    assert_eq!(api.get(&format!("/v1/call-flows/{id}")).status, 404);
}

#[test]
fn a_bad_flow_is_refused_with_the_paths_flow_check_gives() {
    let dir = TestDir::new("api-bad-flow");
    let (_server, api) = start(dir.path(), "body_limit_bytes = 4096", "");
    let mut body = seed_example_request();
    body["flowData"] = json!({
        "nodes": [
            {"id": "node1", "type": "start", "data": {}},
            {"id": "menu", "type": "gather", "data": {"maxDigits": "two"}}
        ],
        "edges": [{"id": "e1", "source": "node1", "target": "nowhere"}]
    });
    let refused = api.send("POST", "/v1/call-flows", &body);
    assert_eq!(refused.status, 422, "{}", refused.text);
    let problems: Vec<String> = refused.body["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| {
            format!(
                "{}: {}",
                p["path"].as_str().unwrap_or("?"),
                p["message"].as_str().unwrap_or("?")
            )
        })
        .collect();
    assert!(!problems.is_empty());
    // The same document, with the id and version the server would give it,
    // through `callplane flow check`.
    let mut file_body = body.clone();
    file_body["_id"] = json!("checked");
    file_body["version"] = json!(1);
    let file = dir.path().join("bad.json");
    std::fs::write(&file, file_body.to_string()).expect("write");
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_callplane"))
        .args(["flow", "check"])
        .arg(&file)
        .output()
        .expect("run flow check");
    assert!(!check.status.success());
    let prefix = format!("{}: ", file.display());
    let checked: Vec<String> = String::from_utf8_lossy(&check.stdout)
        .lines()
        .filter(|line| !line.contains(": warning: "))
        .map(|line| line.strip_prefix(&prefix).unwrap_or(line).to_owned())
        .collect();
    assert_eq!(problems, checked);

    let mut record = seed_example_request();
    record["direction"] = json!("sideways");
    record.as_object_mut().expect("object").remove("name");
    let refused = api.send("POST", "/v1/call-flows", &record);
    assert_eq!(refused.status, 422);
    let paths: Vec<&str> = refused.body["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|p| p["path"].as_str())
        .collect();
    assert_eq!(paths, ["name", "direction"]);

    let not_json = api.raw("POST", "/v1/call-flows", Some("{\"name\": ".into()));
    assert_eq!(not_json.status, 400);
    assert_eq!(not_json.body["error"], "bad_request");
    let big = api.raw(
        "POST",
        "/v1/call-flows",
        Some(format!("[{}]", "1,".repeat(5000) + "1")),
    );
    assert_eq!(big.status, 413, "{}", big.text);
    assert_eq!(
        api.get("/v1/call-flows").body["total"],
        0,
        "nothing was written"
    );
}

#[test]
fn keys_and_workspaces_are_enforced_and_workspaces_are_isolated() {
    let dir = TestDir::new("api-tenancy");
    let (_server, a) = start(dir.path(), "", "");
    let b = a.with(Some(KEY_B), Some(WS_B));
    let missing = a.with(None, Some(WS_A)).get("/v1/call-flows");
    let wrong = a
        .with(Some("key-for-workspace-z-9999"), Some(WS_A))
        .get("/v1/call-flows");
    assert_eq!((missing.status, wrong.status), (401, 401));
    assert_eq!(
        missing.text, wrong.text,
        "a missing and a wrong key look alike"
    );
    assert_eq!(
        a.with(Some(KEY_A), Some(WS_B)).get("/v1/call-flows").status,
        403
    );
    assert_eq!(a.with(Some(KEY_A), None).get("/v1/call-flows").status, 400);

    let flow = a.send("POST", "/v1/call-flows", &seed_example_request());
    assert_eq!(flow.status, 201);
    let id = flow.body["_id"].as_str().expect("id").to_owned();
    let path = format!("/v1/call-flows/{id}");
    assert_eq!(b.get(&path).status, 404);
    assert_eq!(b.get("/v1/call-flows").body["total"], 0);
    assert_eq!(b.send("PATCH", &path, &json!({"name": "mine"})).status, 404);
    assert_eq!(b.send("PUT", &path, &seed_example_request()).status, 404);
    assert_eq!(
        b.raw("POST", &format!("{path}/versions/1/publish"), None)
            .status,
        404
    );
    assert_eq!(b.get(&format!("{path}/versions")).status, 404);
    assert_eq!(
        b.send("POST", &format!("{path}/rollback"), &json!({"version": 1}))
            .status,
        404
    );
    assert_eq!(b.raw("DELETE", &path, None).status, 404);
    let borrowed = b.send(
        "POST",
        "/v1/numbers",
        &json!({"number": "2000", "flowId": id}),
    );
    assert_eq!(borrowed.status, 422, "{}", borrowed.text);
    assert_eq!(borrowed.body["problems"][0]["path"], "flowId");

    let route = a.send(
        "POST",
        "/v1/numbers",
        &json!({"number": "2000", "flowId": id}),
    );
    assert_eq!(route.status, 201, "{}", route.text);
    let route_id = route.body["_id"].as_str().expect("id").to_owned();
    let own = b.send("POST", "/v1/call-flows", &json!([{"type": "hangup"}]));
    let taken = b.send(
        "POST",
        "/v1/numbers",
        &json!({"number": "2000", "flowId": own.body["_id"]}),
    );
    assert_eq!(taken.status, 409, "{}", taken.text);
    assert_eq!(b.get("/v1/numbers").body["total"], 0);
    assert_eq!(b.get(&format!("/v1/numbers/{route_id}")).status, 404);
    assert_eq!(
        b.raw("DELETE", &format!("/v1/numbers/{route_id}"), None)
            .status,
        404
    );
    // A's flow and route are untouched.
    assert_eq!(a.get(&path).body["name"], "Customer Support Flow");
    assert_eq!(a.get(&path).body["version"], 1);
    assert_eq!(a.get("/v1/numbers").body["total"], 1);
    assert_eq!(
        a.raw("DELETE", &path, None).status,
        409,
        "routed flows stay"
    );
}

#[test]
fn a_flood_from_one_key_gets_429_and_calls_go_on() {
    common::sipp::require_sipp();
    let dir = TestDir::new("api-flood");
    let (server, a) = start(dir.path(), "rate_per_second = 5\nrate_burst = 10", "");
    let sip = server.sip_addr();
    let call_dir = dir.path().to_path_buf();
    let call = thread::spawn(move || {
        Sipp::new("uac_dtmf.xml", "during-flood", &call_dir)
            .target(sip)
            .key("dtmf_pcap", dtmf_pcap('1').display().to_string())
            .set("dtmf_delay_ms", "3000")
            .timeout(Duration::from_secs(45))
            .run()
    });
    let started = Instant::now();
    let mut statuses = Vec::new();
    while statuses.len() < 200 && started.elapsed() < Duration::from_secs(10) {
        statuses.push(a.get("/v1/call-flows"));
    }
    let limited: Vec<_> = statuses.iter().filter(|a| a.status == 429).collect();
    let passed = statuses.iter().filter(|a| a.status == 200).count();
    assert!(!limited.is_empty(), "no 429 in {} requests", statuses.len());
    assert!(
        (10..=60).contains(&passed),
        "{passed} passed of {}",
        statuses.len()
    );
    assert!(limited
        .iter()
        .all(|a| a.retry_after.is_some() && a.body["error"] == "rate_limited"));
    // Another key has its own budget.
    assert_eq!(
        a.with(Some(KEY_B), Some(WS_B)).get("/v1/call-flows").status,
        200
    );
    call.join().expect("call thread").assert_passed(1);
    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    assert_eq!(cdrs[0].str("hangup_cause"), "normal_clearing");
}

/// Version 1 branches on the digit; version 2 says goodbye after it.
fn ivr(version: u32) -> Value {
    let mut actions = vec![
        json!({"type": "answer"}),
        json!({"type": "talk", "option": {"text": "Welcome to callplane."}}),
        json!({"type": "digits_receive", "option": {"duration": 8000, "length": 1}}),
    ];
    if version == 1 {
        actions.extend([
            json!({"type": "branch", "option": {"variable": "voipbin.call.digits",
                "target_ids": {"1": "to-sales"}, "default_target_id": "bye"}}),
            json!({"id": "to-sales", "type": "talk", "option": {"text": "You have reached sales. All our agents are busy, please call again later."}}),
        ]);
    } else {
        actions.push(json!({"id": "v2-goodbye", "type": "talk", "option": {"text": "Thank you for calling. Goodbye."}}));
    }
    actions.push(json!({"id": "bye", "type": "hangup"}));
    json!({"name": "API IVR", "actions": actions})
}

fn call(dir: &Path, sip: std::net::SocketAddr, name: &str) -> common::SippRun {
    Sipp::new("uac_dtmf.xml", name, dir)
        .target(sip)
        .key("dtmf_pcap", dtmf_pcap('1').display().to_string())
        .set("dtmf_delay_ms", "3000")
        .timeout(Duration::from_secs(45))
        .run()
}

#[test]
fn a_publish_reaches_the_next_call_while_a_call_keeps_its_version() {
    common::sipp::require_sipp();
    let dir = TestDir::new("api-publish");
    let (server, api) = start(dir.path(), "", "[routing]\ndefault_flow = \"\"\n");
    let created = api.send("POST", "/v1/call-flows", &ivr(1));
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["_id"].as_str().expect("id").to_owned();
    let route = api.send(
        "POST",
        "/v1/numbers",
        &json!({"number": "1000", "flowId": id}),
    );
    assert_eq!(route.status, 201, "{}", route.text);
    let published = api.raw(
        "POST",
        &format!("/v1/call-flows/{id}/versions/1/publish"),
        None,
    );
    assert_eq!(published.status, 200, "{}", published.text);
    assert_eq!(published.body["publishedVersion"], 1);

    let sip = server.sip_addr();
    let first_dir = dir.path().to_path_buf();
    let first = thread::spawn(move || call(&first_dir, sip, "first"));
    thread::sleep(Duration::from_millis(1500));
    let updated = api.send("PUT", &format!("/v1/call-flows/{id}"), &ivr(2));
    assert_eq!(updated.status, 200, "{}", updated.text);
    let published = api.raw(
        "POST",
        &format!("/v1/call-flows/{id}/versions/2/publish"),
        None,
    );
    assert_eq!(published.status, 200, "{}", published.text);
    let second = call(dir.path(), sip, "second");
    first.join().expect("first call").assert_passed(1);
    second.assert_passed(1);

    // Roll back: version 1's document as version 3, published.
    let rolled = api.send(
        "POST",
        &format!("/v1/call-flows/{id}/rollback"),
        &json!({"version": 1}),
    );
    assert_eq!(rolled.status, 200, "{}", rolled.text);
    assert_eq!(
        (
            rolled.body["version"].clone(),
            rolled.body["publishedVersion"].clone()
        ),
        (json!(3), json!(3))
    );
    call(dir.path(), sip, "third").assert_passed(1);

    let cdrs = server.wait_for_cdrs(3, Duration::from_secs(5));
    let by_version = |v: i64| {
        cdrs.iter()
            .find(|c| c.int("flow_version") == v)
            .unwrap_or_else(|| panic!("a call on version {v}: {cdrs:#?}"))
    };
    for cdr in &cdrs {
        assert_eq!(cdr.str("flow_id"), id);
    }
    assert!(by_version(1).nodes().contains(&"to-sales".to_string()));
    assert!(by_version(2).nodes().contains(&"v2-goodbye".to_string()));
    assert!(by_version(3).nodes().contains(&"to-sales".to_string()));

    // Unrouting the number: the next call is refused.
    let route_id = route.body["_id"].as_str().expect("id");
    assert_eq!(
        api.raw("DELETE", &format!("/v1/numbers/{route_id}"), None)
            .status,
        204
    );
    let versions = api.get(&format!("/v1/call-flows/{id}/versions"));
    assert_eq!(versions.body["publishedVersion"], 3);
}

#[test]
fn the_openapi_document_is_served_and_names_every_route() {
    let dir = TestDir::new("api-openapi");
    let (_server, api) = start(dir.path(), "", "");
    let document = api.with(None, None).get("/openapi.json");
    assert_eq!(document.status, 200);
    assert!(document.body["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.")));
    assert_eq!(document.text, callplane::api::OPENAPI_JSON);
    // Every documented operation is answered by a handler (a JSON body),
    // never by the router's empty "no such route" or "wrong method".
    let paths = document.body["paths"].as_object().expect("paths");
    for (path, item) in paths {
        let concrete = path
            .replace("{id}", "000000000000000000000000")
            .replace("{version}", "1");
        for method in item
            .as_object()
            .expect("item")
            .keys()
            .filter(|m| *m != "parameters")
        {
            let method = method.to_uppercase();
            let body =
                matches!(method.as_str(), "POST" | "PUT" | "PATCH").then(|| "{}".to_string());
            let answer = api.raw(&method, &concrete, body);
            assert!(
                answer.body.is_object() || answer.status == 204,
                "{method} {path}: {} {:?}",
                answer.status,
                answer.text
            );
            assert_ne!(answer.status, 405, "{method} {path}");
        }
    }
}
