//! The behaviour every [`Store`] must have, run against each store
//! implementation: versions, publishing, paging, routes, and that one
//! workspace never sees or changes another's rows.

use serde_json::json;

use super::{Matcher, Page, RouteRow, Store, StoreError};

const A: &str = "workspace-a";
const B: &str = "workspace-b";

/// Runs every check on an empty store.
pub(crate) fn run(store: &dyn Store) {
    versions_and_publishing(store);
    paging(store);
    workspaces_are_isolated(store);
    routes(store);
    cdrs(store);
}

fn cdrs(store: &dyn Store) {
    use super::{CdrQuery, CdrRow};
    store
        .create_flow(A, "cdr-flow-a", &json!({}), "2026-01-01T00:00:00.000Z")
        .expect("create");
    store
        .create_flow(B, "cdr-flow-b", &json!({}), "2026-01-01T00:00:00.000Z")
        .expect("create");
    let row = |call: &str, flow: &str, to: &str, cause: &str, minute: u32| {
        CdrRow::from_record(json!({
            "call_id": call, "from": "sipp", "to": to, "flow_id": flow,
            "hangup_cause": cause,
            "start_time": format!("2026-02-01T10:{minute:02}:00.000Z"),
        }))
        .expect("a row")
    };
    store
        .add_cdrs(&[
            row("c1", "cdr-flow-a", "1000", "normal_clearing", 1),
            row("c2", "cdr-flow-a", "2000", "api_hangup", 2),
            row("c3", "cdr-flow-b", "1000", "normal_clearing", 3),
            row("c4", "cdr-flow-a", "1000", "caller_hangup", 4),
        ])
        .expect("add");
    let ids = |query: &CdrQuery, workspace: &str| {
        let (records, total) = store.cdrs(workspace, query).expect("query");
        let ids: Vec<String> = records
            .iter()
            .map(|r| r["call_id"].as_str().unwrap_or_default().to_owned())
            .collect();
        (ids, total)
    };
    assert_eq!(
        ids(&CdrQuery::all(10), A),
        (vec!["c1".into(), "c2".into(), "c4".into()], 3)
    );
    assert_eq!(ids(&CdrQuery::all(10), B), (vec!["c3".into()], 1));
    let mut query = CdrQuery::all(10);
    query.number = Some("1000".into());
    assert_eq!(ids(&query, A).0, ["c1", "c4"]);
    query.cause = Some("caller_hangup".into());
    assert_eq!(ids(&query, A).0, ["c4"]);
    let mut range = CdrQuery::all(1);
    range.since = Some("2026-02-01T10:02:00.000Z".into());
    range.until = Some("2026-02-01T10:05:00.000Z".into());
    assert_eq!(ids(&range, A), (vec!["c2".into()], 2));
    range.page.offset = 1;
    assert_eq!(ids(&range, A), (vec!["c4".into()], 2));
    let mut flow = CdrQuery::all(10);
    flow.flow_id = Some("cdr-flow-b".into());
    assert_eq!(ids(&flow, A).1, 0, "another workspace's flow");
}

fn versions_and_publishing(store: &dyn Store) {
    let created = store
        .create_flow(A, "f1", &json!({"name": "one"}), "2026-01-01T00:00:00.000Z")
        .expect("create");
    assert_eq!(created.latest_version, 1);
    assert_eq!(created.published_version, None);
    assert_eq!(created.created_at, "2026-01-01T00:00:00.000Z");
    assert_eq!(
        store.create_flow(A, "f1", &json!({}), "2026-01-01T00:00:00.000Z"),
        Err(StoreError::Conflict("flow f1 exists".into()))
    );
    let second = store
        .add_version(A, "f1", &json!({"name": "two"}), "2026-01-02T00:00:00.000Z")
        .expect("add a version");
    assert_eq!(second.latest_version, 2);
    assert_eq!(second.document, json!({"name": "two"}));
    assert_eq!(second.created_at, "2026-01-01T00:00:00.000Z");
    assert_eq!(second.updated_at, "2026-01-02T00:00:00.000Z");
    let versions = store.versions(A, "f1").expect("versions");
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(versions[0].document, json!({"name": "one"}));
    assert!(store.published().expect("published").is_empty());
    let published = store
        .publish(A, "f1", 1, "2026-01-03T00:00:00.000Z")
        .expect("publish");
    assert_eq!(published.published_version, Some(1));
    assert_eq!(published.latest_version, 2);
    let live = store.published().expect("published");
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].0, A);
    assert_eq!(live[0].1.version, 1);
    assert_eq!(live[0].1.document, json!({"name": "one"}));
    assert_eq!(
        store.publish(A, "f1", 9, "2026-01-03T00:00:00.000Z"),
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store
            .version(A, "f1", 2)
            .expect("version")
            .map(|v| v.version),
        Some(2)
    );
    assert_eq!(store.version(A, "f1", 3).expect("version"), None);
}

fn paging(store: &dyn Store) {
    for i in 0..5 {
        store
            .create_flow(
                A,
                &format!("page-{i}"),
                &json!({"n": i}),
                &format!("2026-02-0{}T00:00:00.000Z", i + 1),
            )
            .expect("create");
    }
    let (all, total) = store
        .flows(
            A,
            Page {
                offset: 0,
                limit: 100,
            },
        )
        .expect("list");
    assert_eq!(total, 6);
    assert_eq!(all.len(), 6);
    assert_eq!(all[0].id, "f1", "oldest first");
    let (page, total) = store
        .flows(
            A,
            Page {
                offset: 2,
                limit: 2,
            },
        )
        .expect("page");
    assert_eq!(total, 6);
    assert_eq!(
        page.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
        ["page-1", "page-2"]
    );
    assert!(store.delete_flow(A, "page-4").expect("delete"));
    assert!(!store.delete_flow(A, "page-4").expect("delete again"));
    assert_eq!(store.flow(A, "page-4").expect("get"), None);
    assert_eq!(store.versions(A, "page-4"), Err(StoreError::NotFound));
}

fn workspaces_are_isolated(store: &dyn Store) {
    assert_eq!(store.flow(B, "f1").expect("get"), None);
    assert_eq!(
        store
            .flows(
                B,
                Page {
                    offset: 0,
                    limit: 10
                }
            )
            .expect("list")
            .1,
        0
    );
    assert_eq!(
        store.add_version(B, "f1", &json!({}), "2026-03-01T00:00:00.000Z"),
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.publish(B, "f1", 2, "2026-03-01T00:00:00.000Z"),
        Err(StoreError::NotFound)
    );
    assert_eq!(store.versions(B, "f1"), Err(StoreError::NotFound));
    assert_eq!(store.version(B, "f1", 1).expect("version"), None);
    assert!(!store.delete_flow(B, "f1").expect("delete"));
    let still = store.flow(A, "f1").expect("get").expect("A keeps its flow");
    assert_eq!(still.latest_version, 2);
    assert_eq!(still.published_version, Some(1));
}

fn route(id: &str, workspace: &str, matcher: Matcher) -> RouteRow {
    RouteRow {
        id: id.into(),
        workspace: workspace.into(),
        matcher,
        target: json!({"flowId": "f1"}),
        created_at: format!("2026-04-01T00:00:0{}.000Z", id.len() % 10),
    }
}

fn routes(store: &dyn Store) {
    store
        .add_route(&route("r1", A, Matcher::Number("1000".into())))
        .expect("add");
    store
        .add_route(&route("r22", A, Matcher::Prefix("44".into())))
        .expect("add");
    assert!(matches!(
        store.add_route(&route("r333", B, Matcher::Number("1000".into()))),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.add_route(&route("r4444", A, Matcher::Prefix("44".into()))),
        Err(StoreError::Conflict(_))
    ));
    // A number and a prefix with the same digits are different routes.
    store
        .add_route(&route("r55555", B, Matcher::Prefix("1000".into())))
        .expect("add");
    let mine = store.routes(A).expect("routes");
    assert_eq!(
        mine.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["r1", "r22"]
    );
    assert_eq!(mine[0].target, json!({"flowId": "f1"}));
    assert_eq!(mine[1].matcher, Matcher::Prefix("44".into()));
    assert_eq!(store.all_routes().expect("all").len(), 3);
    assert!(!store.delete_route(B, "r1").expect("delete"));
    assert!(store.delete_route(B, "r55555").expect("delete"));
    assert_eq!(store.routes(B).expect("routes"), vec![]);
    assert_eq!(store.all_routes().expect("all").len(), 2);
}
