//! The call-flow API record (`{ "_id", "name", "direction", "isActive",
//! "flowData": { nodes, edges }, "startNodeId", … }`): its graph is read like a
//! node-graph document with paths prefixed `flowData.`; the record's other
//! fields (prompts, webhooks, settings…) belong to the server and are ignored.

use serde_json::Value;

use crate::flow::graph::{finish, on_complete_of, read_parts, Compiled, GraphHeader};
use crate::flow::problem::Problem;
use crate::flow::program::FlowFormat;
use crate::flow::read::{Fields, Sink};

/// Reads and compiles an API record. Id: `_id`, else `id`; version: `version`,
/// else 1; start: `startNodeId`, else the single `entry`/`start` node.
pub(crate) fn read_api_record(value: &Value) -> Result<Compiled, Vec<Problem>> {
    let mut sink = Sink::default();
    let Ok(root) = Fields::of(value, "", &mut sink.errors) else {
        return Err(sink.errors);
    };
    let id_key = if root.present("_id").is_some() || root.present("id").is_none() {
        "_id"
    } else {
        "id"
    };
    let id = root.required_string(id_key, &mut sink.errors).ok();
    let name = root
        .optional_any_string("name", &mut sink.errors)
        .ok()
        .flatten();
    let version = root.integer_or("version", 0, 1, &mut sink.errors).ok();
    let start = root
        .optional_string("startNodeId", &mut sink.errors)
        .ok()
        .flatten()
        .map(|start| (start, root.path_of("startNodeId")));
    if root.bool_or("isActive", true, &mut sink.errors) == Ok(false) {
        sink.warn(root.path_of("isActive"), "the flow is not active");
    }
    let on_complete = on_complete_of(
        &root,
        &["onCompleteFlowId", "on_complete_flow_id"],
        &mut sink,
    );
    let parts = match root.get("flowData") {
        None => {
            sink.error(root.path_of("flowData"), "missing, expected an object");
            None
        }
        Some(data) => Fields::of(data, &root.path_of("flowData"), &mut sink.errors)
            .ok()
            .map(|flow_data| read_parts(&flow_data, &mut sink)),
    };
    let (Some(id), Some(version), Some((nodes, edges))) = (id, version, parts) else {
        return Err(sink.errors);
    };
    let header = GraphHeader {
        id,
        name: name.unwrap_or_default(),
        version,
        start,
        on_complete,
        format: FlowFormat::ApiRecord,
    };
    finish(header, "flowData", nodes, edges, sink)
}
