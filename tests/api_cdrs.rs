//! CDRs through the API against the real server: sipp calls leave records
//! the CDR writer stores in batches, `GET /v1/cdrs` filters them by time,
//! number, flow and cause with paging, only for their own workspace, and a
//! committed record survives `kill -9` of the server (the SQLite store is
//! reopened afterwards and still has it).

mod common;

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use callplane::store::{CdrQuery, SqliteStore, Store};
use common::api::{api_section, tcp_port, ApiClient};
use common::{Backend, Server, ServerOptions, Sipp, TestDir};

const KEY_A: &str = "key-for-workspace-a-0001";
const KEY_B: &str = "key-for-workspace-b-0002";
const WS_A: &str = "6764d172953253138a3a70f4";
const WS_B: &str = "6764d172953253138a3a70f5";
const CALLS: u64 = 3;

/// A server with the API and a flow of workspace A routed to 1000 that
/// says goodbye and hangs up; returns the flow's id too.
fn start(dir: &Path) -> (Server, ApiClient, String) {
    let port = tcp_port();
    let config = format!(
        "{}[routing]\ndefault_flow = \"\"\n",
        api_section(port, &[(KEY_A, &[WS_A]), (KEY_B, &[WS_B])], "")
    );
    let server = Server::start(
        Backend::Epoll,
        dir,
        &ServerOptions {
            config: Some(config),
            ..ServerOptions::default()
        },
    );
    let api = ApiClient::new(([127, 0, 0, 1], port).into(), KEY_A, WS_A);
    let flow = json!({"name": "Goodbye", "actions": [
        {"type": "answer"},
        {"id": "bye-talk", "type": "talk", "option": {"text": "Thank you for calling. Goodbye."}},
        {"id": "bye", "type": "hangup"}
    ]});
    let (id, _) = api.create_route_publish(&flow, "1000");
    (server, api, id)
}

/// `GET /v1/cdrs?query` until it counts `total`; the last answer's body.
fn cdrs_until(api: &ApiClient, query: &str, total: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = api.get(&format!("/v1/cdrs?{query}"));
        assert_eq!(answer.status, 200, "{}", answer.text);
        if answer.body["total"] == total || Instant::now() > deadline {
            return answer.body;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

fn call_ids(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .map(|records| {
            records
                .iter()
                .filter_map(|r| r["call_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn cdrs_are_queried_by_time_number_flow_and_cause_and_survive_kill_9() {
    common::sipp::require_sipp();
    let dir = TestDir::new("api-cdrs");
    let (mut server, api, flow) = start(dir.path());
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    Sipp::new("uac_wait_bye.xml", "cdrs", dir.path())
        .target(server.sip_addr())
        .calls(CALLS, CALLS, 10)
        .timeout(Duration::from_secs(40))
        .run()
        .assert_passed(CALLS);

    let all = cdrs_until(&api, "", CALLS);
    assert_eq!(all["total"], CALLS, "{all}");
    let file: Vec<String> = server
        .wait_for_cdrs(CALLS as usize, Duration::from_secs(5))
        .iter()
        .map(|cdr| cdr.call_id().to_owned())
        .collect();
    let mut stored = call_ids(&all);
    stored.sort();
    let mut in_file = file.clone();
    in_file.sort();
    assert_eq!(stored, in_file, "the store has the CDR file's records");
    assert_eq!(all["data"][0]["flow_id"], flow.as_str());
    assert!(all["data"][0]["nodes"].is_array(), "{all}");

    let since = before.to_rfc3339();
    let count = |query: &str| api.get(&format!("/v1/cdrs?{query}")).body["total"].clone();
    assert_eq!(count(&format!("since={}", urlencode(&since))), CALLS);
    assert_eq!(count("since=2999-01-01T00:00:00Z"), 0);
    assert_eq!(count(&format!("until={}", urlencode(&since))), 0);
    assert_eq!(count("number=1000"), CALLS);
    assert_eq!(count("number=sipp"), CALLS);
    assert_eq!(count("number=2000"), 0);
    assert_eq!(count(&format!("flowId={flow}")), CALLS);
    assert_eq!(count("flowId=nope"), 0);
    assert_eq!(count("cause=normal_clearing"), CALLS);
    assert_eq!(count("cause=api_hangup"), 0);
    // Paging: two pages of two, in start order.
    let first = api.get("/v1/cdrs?limit=2&page=1").body;
    let second = api.get("/v1/cdrs?limit=2&page=2").body;
    assert_eq!(call_ids(&first).len(), 2);
    assert_eq!(call_ids(&second).len(), 1);
    assert!(!call_ids(&first).contains(&call_ids(&second)[0]));
    // Bad queries are 400, another workspace sees none.
    assert_eq!(api.get("/v1/cdrs?since=yesterday").status, 400);
    assert_eq!(api.get("/v1/cdrs?limit=0").status, 400);
    assert_eq!(api.get("/v1/cdrs?colour=red").status, 400);
    let other = api.with(Some(KEY_B), Some(WS_B));
    assert_eq!(other.get("/v1/cdrs").body["total"], 0);

    // kill -9: the committed records are still in the store.
    server.signal(libc::SIGKILL);
    let status = server.stop().expect("the server was running");
    assert!(!status.success(), "killed: {status:?}");
    let store = SqliteStore::open(&dir.path().join("data").join("callplane.db"))
        .expect("the store reopens after kill -9");
    let (records, total) = store.cdrs(WS_A, &CdrQuery::all(10)).expect("query");
    assert_eq!(total, CALLS);
    let mut after: Vec<String> = records
        .iter()
        .filter_map(|r| r["call_id"].as_str().map(str::to_owned))
        .collect();
    after.sort();
    assert_eq!(after, in_file);
}

/// Percent-encodes the characters of an RFC 3339 time a query string needs.
fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}
