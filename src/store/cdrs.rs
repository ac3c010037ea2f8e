//! Call detail records in the store: the rows the CDR writer adds in
//! batches (off the shards, one transaction per batch), and the query the
//! API runs over them (time range, number, flow, cause, paging).
//!
//! A CDR belongs to the workspace whose flow the call ran: queries are
//! scoped through the flows table, so a record needs no workspace of its
//! own and a call of a configuration-file flow is seen by no workspace.

use serde_json::Value;

use super::Page;

/// One CDR as stored: the columns queries filter on, and the whole record.
#[derive(Debug, Clone, PartialEq)]
pub struct CdrRow {
    /// The SIP Call-ID.
    pub call_id: String,
    /// The caller.
    pub from: String,
    /// The dialled number.
    pub to: String,
    /// The flow the call ran, if it was routed.
    pub flow_id: Option<String>,
    /// The CDR's `hangup_cause`.
    pub hangup_cause: String,
    /// When the INVITE arrived (RFC 3339, UTC, milliseconds).
    pub start_time: String,
    /// The record as the CDR file has it.
    pub record: Value,
}

impl CdrRow {
    /// The row of a CDR as the writer serializes it; `None` for a record
    /// without its call id or start time.
    pub fn from_record(record: Value) -> Option<CdrRow> {
        let text = |name: &str| record.get(name).and_then(Value::as_str).map(str::to_owned);
        Some(CdrRow {
            call_id: text("call_id")?,
            from: text("from").unwrap_or_default(),
            to: text("to").unwrap_or_default(),
            flow_id: text("flow_id"),
            hangup_cause: text("hangup_cause").unwrap_or_default(),
            start_time: text("start_time")?,
            record,
        })
    }
}

/// Which CDRs a query wants, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdrQuery {
    /// Calls that started at or after this instant (RFC 3339, UTC, milliseconds).
    pub since: Option<String>,
    /// Calls that started before this instant.
    pub until: Option<String>,
    /// Calls from or to this number.
    pub number: Option<String>,
    /// Calls that ran this flow.
    pub flow_id: Option<String>,
    /// Calls that ended for this cause.
    pub cause: Option<String>,
    /// Which slice of the matching rows.
    pub page: Page,
}

impl CdrQuery {
    /// Every CDR, in one page of `limit`.
    pub fn all(limit: u64) -> CdrQuery {
        CdrQuery {
            since: None,
            until: None,
            number: None,
            flow_id: None,
            cause: None,
            page: Page { offset: 0, limit },
        }
    }
}

/// The `WHERE` clause of a query in `workspace` with numbered placeholders
/// (`?N` for SQLite, `$N` for PostgreSQL), and its values in order.
pub(super) fn where_clause(
    workspace: &str,
    query: &CdrQuery,
    placeholder: fn(usize) -> String,
) -> (String, Vec<String>) {
    let mut values = vec![workspace.to_owned()];
    let mut clause = format!(
        "flow_id IN (SELECT id FROM flows WHERE workspace = {})",
        placeholder(1)
    );
    let mut add = |condition: &str, value: &Option<String>| {
        if let Some(value) = value {
            values.push(value.clone());
            let mark = placeholder(values.len());
            clause.push_str(" AND ");
            clause.push_str(&condition.replace('?', &mark));
        }
    };
    add("start_time >= ?", &query.since);
    add("start_time < ?", &query.until);
    add("(caller = ? OR callee = ?)", &query.number);
    add("flow_id = ?", &query.flow_id);
    add("hangup_cause = ?", &query.cause);
    (clause, values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_record_gives_its_row() {
        let row = CdrRow::from_record(json!({
            "call_id": "c1", "from": "sipp", "to": "1000", "flow_id": "f1",
            "hangup_cause": "normal_clearing", "start_time": "2026-01-01T00:00:00.000Z"
        }))
        .expect("a row");
        assert_eq!(
            (row.call_id.as_str(), row.flow_id.as_deref()),
            ("c1", Some("f1"))
        );
        assert_eq!(CdrRow::from_record(json!({"from": "x"})), None);
    }

    #[test]
    fn the_where_clause_numbers_its_values() {
        let mut query = CdrQuery::all(10);
        query.number = Some("1000".into());
        query.cause = Some("api_hangup".into());
        let (clause, values) = where_clause("w", &query, |n| format!("${n}"));
        assert_eq!(
            clause,
            "flow_id IN (SELECT id FROM flows WHERE workspace = $1) \
             AND (caller = $2 OR callee = $2) AND hangup_cause = $3"
        );
        assert_eq!(values, ["w", "1000", "api_hangup"]);
    }
}
