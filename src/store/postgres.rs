//! The shared store: PostgreSQL, for several callplane servers that share
//! one control plane (`[api] postgres = "host=… user=… dbname=…"`). The same
//! tables and rules as the SQLite store, through the synchronous `postgres`
//! client (rust-postgres), which the API calls from its blocking pool like
//! the SQLite store. One connection behind a mutex; every write is one
//! transaction.

use std::sync::{Mutex, MutexGuard};

use postgres::error::SqlState;
use postgres::{Client, NoTls};
use serde_json::Value;

use super::cdrs::where_clause;
use super::{CdrQuery, CdrRow, FlowRow, Matcher, Page, RouteRow, Store, StoreError, VersionRow};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS flows (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    latest_version BIGINT NOT NULL,
    published_version BIGINT
);
CREATE INDEX IF NOT EXISTS flows_by_workspace ON flows (workspace, created_at, id);
CREATE TABLE IF NOT EXISTS flow_versions (
    flow_id TEXT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    document TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (flow_id, version)
);
CREATE TABLE IF NOT EXISTS routes (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    number TEXT UNIQUE,
    prefix TEXT UNIQUE,
    target TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CHECK ((number IS NULL) <> (prefix IS NULL))
);
CREATE TABLE IF NOT EXISTS cdrs (
    seq BIGSERIAL PRIMARY KEY,
    call_id TEXT NOT NULL,
    caller TEXT NOT NULL,
    callee TEXT NOT NULL,
    flow_id TEXT,
    hangup_cause TEXT NOT NULL,
    start_time TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cdrs_by_flow ON cdrs (flow_id, start_time);
";

/// The PostgreSQL store.
pub struct PostgresStore {
    client: Mutex<Client>,
}

impl PostgresStore {
    /// Connects with a libpq-style connection string and creates the tables
    /// that are missing.
    pub fn connect(params: &str) -> Result<PostgresStore, StoreError> {
        let mut client = Client::connect(params, NoTls).map_err(backend)?;
        client.batch_execute(SCHEMA).map_err(backend)?;
        Ok(PostgresStore {
            client: Mutex::new(client),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Client> {
        // Each write is one transaction: a panic leaves nothing half-done.
        self.client
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn backend(err: postgres::Error) -> StoreError {
    match err.code() {
        Some(code) if *code == SqlState::UNIQUE_VIOLATION => {
            StoreError::Conflict("already exists".into())
        }
        _ => StoreError::Backend(err.to_string()),
    }
}

fn parse_document(text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|err| StoreError::Backend(format!("stored document: {err}")))
}

fn version_number(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

const FLOW_SELECT: &str =
    "SELECT f.id, f.workspace, f.created_at, f.updated_at, f.latest_version, \
     f.published_version, v.document FROM flows f JOIN flow_versions v \
     ON v.flow_id = f.id AND v.version = f.latest_version";

fn flow_row(row: &postgres::Row) -> Result<FlowRow, StoreError> {
    Ok(FlowRow {
        id: row.get(0),
        workspace: row.get(1),
        created_at: row.get(2),
        updated_at: row.get(3),
        latest_version: version_number(row.get(4)),
        published_version: row.get::<_, Option<i64>>(5).map(version_number),
        document: parse_document(row.get(6))?,
    })
}

fn read_flow(
    client: &mut impl postgres::GenericClient,
    workspace: &str,
    id: &str,
) -> Result<Option<FlowRow>, StoreError> {
    let row = client
        .query_opt(
            &format!("{FLOW_SELECT} WHERE f.workspace = $1 AND f.id = $2"),
            &[&workspace, &id],
        )
        .map_err(backend)?;
    row.as_ref().map(flow_row).transpose()
}

const ROUTE_SELECT: &str = "SELECT id, workspace, number, prefix, target, created_at FROM routes";

fn route_row(row: &postgres::Row) -> Result<RouteRow, StoreError> {
    let number: Option<String> = row.get(2);
    let prefix: Option<String> = row.get(3);
    Ok(RouteRow {
        id: row.get(0),
        workspace: row.get(1),
        matcher: match (number, prefix) {
            (Some(number), _) => Matcher::Number(number),
            (None, prefix) => Matcher::Prefix(prefix.unwrap_or_default()),
        },
        target: parse_document(row.get(4))?,
        created_at: row.get(5),
    })
}

impl Store for PostgresStore {
    fn create_flow(
        &self,
        workspace: &str,
        id: &str,
        document: &Value,
        now: &str,
    ) -> Result<FlowRow, StoreError> {
        let mut client = self.lock();
        let mut tx = client.transaction().map_err(backend)?;
        tx.execute(
            "INSERT INTO flows (id, workspace, created_at, updated_at, latest_version) \
             VALUES ($1, $2, $3, $3, 1)",
            &[&id, &workspace, &now],
        )
        .map_err(|err| match backend(err) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("flow {id} exists")),
            other => other,
        })?;
        tx.execute(
            "INSERT INTO flow_versions (flow_id, version, document, created_at) VALUES ($1, 1, $2, $3)",
            &[&id, &document.to_string(), &now],
        )
        .map_err(backend)?;
        let row = read_flow(&mut tx, workspace, id)?;
        tx.commit().map_err(backend)?;
        row.ok_or(StoreError::NotFound)
    }

    fn flow(&self, workspace: &str, id: &str) -> Result<Option<FlowRow>, StoreError> {
        read_flow(&mut *self.lock(), workspace, id)
    }

    fn flows(&self, workspace: &str, page: Page) -> Result<(Vec<FlowRow>, u64), StoreError> {
        let mut client = self.lock();
        let total: i64 = client
            .query_one(
                "SELECT COUNT(*) FROM flows WHERE workspace = $1",
                &[&workspace],
            )
            .map_err(backend)?
            .get(0);
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(page.offset).unwrap_or(i64::MAX);
        let rows = client
            .query(
                &format!(
                    "{FLOW_SELECT} WHERE f.workspace = $1 ORDER BY f.created_at, f.id LIMIT $2 OFFSET $3"
                ),
                &[&workspace, &limit, &offset],
            )
            .map_err(backend)?;
        let flows = rows.iter().map(flow_row).collect::<Result<_, _>>()?;
        Ok((flows, u64::try_from(total).unwrap_or(0)))
    }

    fn add_version(
        &self,
        workspace: &str,
        id: &str,
        document: &Value,
        now: &str,
    ) -> Result<FlowRow, StoreError> {
        let mut client = self.lock();
        let mut tx = client.transaction().map_err(backend)?;
        let latest = tx
            .query_opt(
                "SELECT latest_version FROM flows WHERE workspace = $1 AND id = $2 FOR UPDATE",
                &[&workspace, &id],
            )
            .map_err(backend)?
            .map(|row| row.get::<_, i64>(0))
            .ok_or(StoreError::NotFound)?;
        let next = latest + 1;
        tx.execute(
            "INSERT INTO flow_versions (flow_id, version, document, created_at) VALUES ($1, $2, $3, $4)",
            &[&id, &next, &document.to_string(), &now],
        )
        .map_err(backend)?;
        tx.execute(
            "UPDATE flows SET latest_version = $1, updated_at = $2 WHERE id = $3",
            &[&next, &now, &id],
        )
        .map_err(backend)?;
        let row = read_flow(&mut tx, workspace, id)?;
        tx.commit().map_err(backend)?;
        row.ok_or(StoreError::NotFound)
    }

    fn delete_flow(&self, workspace: &str, id: &str) -> Result<bool, StoreError> {
        let deleted = self
            .lock()
            .execute(
                "DELETE FROM flows WHERE workspace = $1 AND id = $2",
                &[&workspace, &id],
            )
            .map_err(backend)?;
        Ok(deleted > 0)
    }

    fn versions(&self, workspace: &str, id: &str) -> Result<Vec<VersionRow>, StoreError> {
        let mut client = self.lock();
        if read_flow(&mut *client, workspace, id)?.is_none() {
            return Err(StoreError::NotFound);
        }
        let rows = client
            .query(
                "SELECT version, document, created_at FROM flow_versions WHERE flow_id = $1 ORDER BY version",
                &[&id],
            )
            .map_err(backend)?;
        rows.iter()
            .map(|row| {
                Ok(VersionRow {
                    flow_id: id.to_owned(),
                    version: version_number(row.get(0)),
                    document: parse_document(row.get(1))?,
                    created_at: row.get(2),
                })
            })
            .collect()
    }

    fn version(
        &self,
        workspace: &str,
        id: &str,
        version: u32,
    ) -> Result<Option<VersionRow>, StoreError> {
        let row = self
            .lock()
            .query_opt(
                "SELECT v.document, v.created_at FROM flow_versions v JOIN flows f ON f.id = v.flow_id \
                 WHERE f.workspace = $1 AND f.id = $2 AND v.version = $3",
                &[&workspace, &id, &i64::from(version)],
            )
            .map_err(backend)?;
        row.map(|row| {
            Ok(VersionRow {
                flow_id: id.to_owned(),
                version,
                document: parse_document(row.get(0))?,
                created_at: row.get(1),
            })
        })
        .transpose()
    }

    fn publish(
        &self,
        workspace: &str,
        id: &str,
        version: u32,
        now: &str,
    ) -> Result<FlowRow, StoreError> {
        let mut client = self.lock();
        let mut tx = client.transaction().map_err(backend)?;
        let updated = tx
            .execute(
                "UPDATE flows SET published_version = $1, updated_at = $2 \
                 WHERE workspace = $3 AND id = $4 AND EXISTS \
                 (SELECT 1 FROM flow_versions WHERE flow_id = $4 AND version = $1)",
                &[&i64::from(version), &now, &workspace, &id],
            )
            .map_err(backend)?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        let row = read_flow(&mut tx, workspace, id)?;
        tx.commit().map_err(backend)?;
        row.ok_or(StoreError::NotFound)
    }

    fn published(&self) -> Result<Vec<(String, VersionRow)>, StoreError> {
        let rows = self
            .lock()
            .query(
                "SELECT f.workspace, f.id, v.version, v.document, v.created_at FROM flows f \
                 JOIN flow_versions v ON v.flow_id = f.id AND v.version = f.published_version \
                 ORDER BY f.id",
                &[],
            )
            .map_err(backend)?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.get(0),
                    VersionRow {
                        flow_id: row.get(1),
                        version: version_number(row.get(2)),
                        document: parse_document(row.get(3))?,
                        created_at: row.get(4),
                    },
                ))
            })
            .collect()
    }

    fn add_route(&self, route: &RouteRow) -> Result<(), StoreError> {
        let (number, prefix) = match &route.matcher {
            Matcher::Number(number) => (Some(number.as_str()), None),
            Matcher::Prefix(prefix) => (None, Some(prefix.as_str())),
        };
        self.lock()
            .execute(
                "INSERT INTO routes (id, workspace, number, prefix, target, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &route.id,
                    &route.workspace,
                    &number,
                    &prefix,
                    &route.target.to_string(),
                    &route.created_at,
                ],
            )
            .map_err(|err| match backend(err) {
                StoreError::Conflict(_) => StoreError::Conflict(match &route.matcher {
                    Matcher::Number(number) => format!("number {number} is already routed"),
                    Matcher::Prefix(prefix) => format!("prefix {prefix} is already routed"),
                }),
                other => other,
            })?;
        Ok(())
    }

    fn routes(&self, workspace: &str) -> Result<Vec<RouteRow>, StoreError> {
        let rows = self
            .lock()
            .query(
                &format!("{ROUTE_SELECT} WHERE workspace = $1 ORDER BY created_at, id"),
                &[&workspace],
            )
            .map_err(backend)?;
        rows.iter().map(route_row).collect()
    }

    fn delete_route(&self, workspace: &str, id: &str) -> Result<bool, StoreError> {
        let deleted = self
            .lock()
            .execute(
                "DELETE FROM routes WHERE workspace = $1 AND id = $2",
                &[&workspace, &id],
            )
            .map_err(backend)?;
        Ok(deleted > 0)
    }

    fn all_routes(&self) -> Result<Vec<RouteRow>, StoreError> {
        let rows = self
            .lock()
            .query(&format!("{ROUTE_SELECT} ORDER BY created_at, id"), &[])
            .map_err(backend)?;
        rows.iter().map(route_row).collect()
    }

    fn add_cdrs(&self, rows: &[CdrRow]) -> Result<(), StoreError> {
        let mut client = self.lock();
        let mut transaction = client.transaction().map_err(backend)?;
        let insert = transaction
            .prepare(
                "INSERT INTO cdrs (call_id, caller, callee, flow_id, hangup_cause, \
                 start_time, record) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .map_err(backend)?;
        for row in rows {
            transaction
                .execute(
                    &insert,
                    &[
                        &row.call_id,
                        &row.from,
                        &row.to,
                        &row.flow_id,
                        &row.hangup_cause,
                        &row.start_time,
                        &row.record.to_string(),
                    ],
                )
                .map_err(backend)?;
        }
        transaction.commit().map_err(backend)
    }

    fn cdrs(&self, workspace: &str, query: &CdrQuery) -> Result<(Vec<Value>, u64), StoreError> {
        let (clause, values) = where_clause(workspace, query, |n| format!("${n}"));
        let params: Vec<&(dyn postgres::types::ToSql + Sync)> = values
            .iter()
            .map(|value| value as &(dyn postgres::types::ToSql + Sync))
            .collect();
        let mut client = self.lock();
        let total: i64 = client
            .query_one(
                &format!("SELECT COUNT(*) FROM cdrs WHERE {clause}"),
                &params,
            )
            .map_err(backend)?
            .get(0);
        let limit = i64::try_from(query.page.limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(query.page.offset).unwrap_or(i64::MAX);
        let rows = client
            .query(
                &format!(
                    "SELECT record FROM cdrs WHERE {clause} ORDER BY start_time, seq \
                     LIMIT {limit} OFFSET {offset}"
                ),
                &params,
            )
            .map_err(backend)?;
        let records = rows
            .iter()
            .map(|row| parse_document(row.get::<_, &str>(0)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((records, u64::try_from(total).unwrap_or(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_postgres::PostgresServer;

    #[test]
    fn postgres_store_passes_the_store_suite() {
        let server = PostgresServer::start();
        let store = PostgresStore::connect(&server.connection_string()).expect("connect");
        crate::store::suite::run(&store);
        // A second connection (another callplane server) sees the same rows.
        let other = PostgresStore::connect(&server.connection_string()).expect("connect");
        assert_eq!(
            other.all_routes().expect("routes"),
            store.all_routes().expect("routes")
        );
    }

    #[test]
    fn an_unreachable_server_is_a_clear_error() {
        let Err(StoreError::Backend(message)) =
            PostgresStore::connect("host=127.0.0.1 port=1 user=nobody connect_timeout=2")
        else {
            panic!("connected to nothing");
        };
        assert!(!message.is_empty());
    }
}
