//! The embedded store: one SQLite file (`callplane.db` in the data
//! directory) in WAL mode, so readers never wait for the writer and a
//! committed write survives a crash. One connection behind a mutex: the API's
//! writes are few and short, and they never run on a shard.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use super::cdrs::where_clause;
use super::{CdrQuery, CdrRow, FlowRow, Matcher, Page, RouteRow, Store, StoreError, VersionRow};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS flows (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    latest_version INTEGER NOT NULL,
    published_version INTEGER
);
CREATE INDEX IF NOT EXISTS flows_by_workspace ON flows (workspace, created_at, id);
CREATE TABLE IF NOT EXISTS flow_versions (
    flow_id TEXT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
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
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
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

/// The SQLite store.
pub struct SqliteStore {
    connection: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if need be) the database file at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let connection = Connection::open(path).map_err(backend)?;
        SqliteStore::set_up(connection)
    }

    /// A store in memory only, for tests.
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        SqliteStore::set_up(Connection::open_in_memory().map_err(backend)?)
    }

    fn set_up(connection: Connection) -> Result<SqliteStore, StoreError> {
        // journal_mode answers with the mode it set, so it is read as a query.
        let mode: String = connection
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(backend)?;
        if mode != "wal" && mode != "memory" {
            return Err(StoreError::Backend(format!(
                "cannot switch to WAL mode (journal mode is {mode})"
            )));
        }
        connection
            .execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(backend)?;
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        connection.execute_batch(SCHEMA).map_err(backend)?;
        Ok(SqliteStore {
            connection: Mutex::new(connection),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no half-written state behind
        // (each write is one transaction), so a poisoned lock is still usable.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn backend(err: rusqlite::Error) -> StoreError {
    StoreError::Backend(err.to_string())
}

fn parse_document(text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|err| StoreError::Backend(format!("stored document: {err}")))
}

const FLOW_COLUMNS: &str = "f.id, f.workspace, f.created_at, f.updated_at, f.latest_version, \
     f.published_version, v.document";

struct RawFlow {
    id: String,
    workspace: String,
    created_at: String,
    updated_at: String,
    latest_version: u32,
    published_version: Option<u32>,
    document: String,
}

impl RawFlow {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawFlow> {
        Ok(RawFlow {
            id: row.get(0)?,
            workspace: row.get(1)?,
            created_at: row.get(2)?,
            updated_at: row.get(3)?,
            latest_version: row.get(4)?,
            published_version: row.get(5)?,
            document: row.get(6)?,
        })
    }

    fn into_row(self) -> Result<FlowRow, StoreError> {
        Ok(FlowRow {
            document: parse_document(&self.document)?,
            id: self.id,
            workspace: self.workspace,
            created_at: self.created_at,
            updated_at: self.updated_at,
            latest_version: self.latest_version,
            published_version: self.published_version,
        })
    }
}

fn read_flow(
    connection: &Connection,
    workspace: &str,
    id: &str,
) -> Result<Option<FlowRow>, StoreError> {
    let raw = connection
        .query_row(
            &format!(
                "SELECT {FLOW_COLUMNS} FROM flows f JOIN flow_versions v \
                 ON v.flow_id = f.id AND v.version = f.latest_version \
                 WHERE f.workspace = ?1 AND f.id = ?2"
            ),
            params![workspace, id],
            RawFlow::read,
        )
        .optional()
        .map_err(backend)?;
    raw.map(RawFlow::into_row).transpose()
}

fn read_route(row: &rusqlite::Row<'_>) -> rusqlite::Result<(RouteRow, String)> {
    let number: Option<String> = row.get(2)?;
    let prefix: Option<String> = row.get(3)?;
    let matcher = match (number, prefix) {
        (Some(number), _) => Matcher::Number(number),
        (None, prefix) => Matcher::Prefix(prefix.unwrap_or_default()),
    };
    Ok((
        RouteRow {
            id: row.get(0)?,
            workspace: row.get(1)?,
            matcher,
            target: Value::Null,
            created_at: row.get(5)?,
        },
        row.get(4)?,
    ))
}

fn collect_routes(
    statement: &mut rusqlite::Statement<'_>,
    params: impl rusqlite::Params,
) -> Result<Vec<RouteRow>, StoreError> {
    let rows = statement
        .query_map(params, read_route)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    rows.into_iter()
        .map(|(mut route, target)| {
            route.target = parse_document(&target)?;
            Ok(route)
        })
        .collect()
}

const ROUTE_COLUMNS: &str = "id, workspace, number, prefix, target, created_at";

impl Store for SqliteStore {
    fn create_flow(
        &self,
        workspace: &str,
        id: &str,
        document: &Value,
        now: &str,
    ) -> Result<FlowRow, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction().map_err(backend)?;
        let inserted = tx.execute(
            "INSERT INTO flows (id, workspace, created_at, updated_at, latest_version) \
             VALUES (?1, ?2, ?3, ?3, 1)",
            params![id, workspace, now],
        );
        match inserted {
            Err(rusqlite::Error::SqliteFailure(err, _))
                if err.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(StoreError::Conflict(format!("flow {id} exists")))
            }
            other => other.map_err(backend)?,
        };
        tx.execute(
            "INSERT INTO flow_versions (flow_id, version, document, created_at) VALUES (?1, 1, ?2, ?3)",
            params![id, document.to_string(), now],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
        read_flow(&connection, workspace, id)?.ok_or(StoreError::NotFound)
    }

    fn flow(&self, workspace: &str, id: &str) -> Result<Option<FlowRow>, StoreError> {
        read_flow(&self.lock(), workspace, id)
    }

    fn flows(&self, workspace: &str, page: Page) -> Result<(Vec<FlowRow>, u64), StoreError> {
        let connection = self.lock();
        let total: i64 = connection
            .query_row(
                "SELECT COUNT(*) FROM flows WHERE workspace = ?1",
                params![workspace],
                |row| row.get(0),
            )
            .map_err(backend)?;
        let total = u64::try_from(total).unwrap_or(0);
        let mut statement = connection
            .prepare(&format!(
                "SELECT {FLOW_COLUMNS} FROM flows f JOIN flow_versions v \
                 ON v.flow_id = f.id AND v.version = f.latest_version \
                 WHERE f.workspace = ?1 ORDER BY f.created_at, f.id LIMIT ?2 OFFSET ?3"
            ))
            .map_err(backend)?;
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(page.offset).unwrap_or(i64::MAX);
        let raws = statement
            .query_map(params![workspace, limit, offset], RawFlow::read)
            .map_err(backend)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend)?;
        let rows = raws
            .into_iter()
            .map(RawFlow::into_row)
            .collect::<Result<_, _>>()?;
        Ok((rows, total))
    }

    fn add_version(
        &self,
        workspace: &str,
        id: &str,
        document: &Value,
        now: &str,
    ) -> Result<FlowRow, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction().map_err(backend)?;
        let latest: Option<u32> = tx
            .query_row(
                "SELECT latest_version FROM flows WHERE workspace = ?1 AND id = ?2",
                params![workspace, id],
                |row| row.get(0),
            )
            .optional()
            .map_err(backend)?;
        let next = latest.ok_or(StoreError::NotFound)? + 1;
        tx.execute(
            "INSERT INTO flow_versions (flow_id, version, document, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![id, next, document.to_string(), now],
        )
        .map_err(backend)?;
        tx.execute(
            "UPDATE flows SET latest_version = ?1, updated_at = ?2 WHERE id = ?3",
            params![next, now, id],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
        read_flow(&connection, workspace, id)?.ok_or(StoreError::NotFound)
    }

    fn delete_flow(&self, workspace: &str, id: &str) -> Result<bool, StoreError> {
        let deleted = self
            .lock()
            .execute(
                "DELETE FROM flows WHERE workspace = ?1 AND id = ?2",
                params![workspace, id],
            )
            .map_err(backend)?;
        Ok(deleted > 0)
    }

    fn versions(&self, workspace: &str, id: &str) -> Result<Vec<VersionRow>, StoreError> {
        let connection = self.lock();
        if read_flow(&connection, workspace, id)?.is_none() {
            return Err(StoreError::NotFound);
        }
        let mut statement = connection
            .prepare(
                "SELECT version, document, created_at FROM flow_versions \
                 WHERE flow_id = ?1 ORDER BY version",
            )
            .map_err(backend)?;
        let raws = statement
            .query_map(params![id], |row| {
                Ok((
                    row.get::<_, u32>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .map_err(backend)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend)?;
        raws.into_iter()
            .map(|(version, document, created_at)| {
                Ok(VersionRow {
                    flow_id: id.to_owned(),
                    version,
                    document: parse_document(&document)?,
                    created_at,
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
        let raw = self
            .lock()
            .query_row(
                "SELECT v.document, v.created_at FROM flow_versions v JOIN flows f ON f.id = v.flow_id \
                 WHERE f.workspace = ?1 AND f.id = ?2 AND v.version = ?3",
                params![workspace, id, version],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
            )
            .optional()
            .map_err(backend)?;
        raw.map(|(document, created_at)| {
            Ok(VersionRow {
                flow_id: id.to_owned(),
                version,
                document: parse_document(&document)?,
                created_at,
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
        let mut connection = self.lock();
        let tx = connection.transaction().map_err(backend)?;
        let exists: Option<u32> = tx
            .query_row(
                "SELECT v.version FROM flow_versions v JOIN flows f ON f.id = v.flow_id \
                 WHERE f.workspace = ?1 AND f.id = ?2 AND v.version = ?3",
                params![workspace, id, version],
                |row| row.get(0),
            )
            .optional()
            .map_err(backend)?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        tx.execute(
            "UPDATE flows SET published_version = ?1, updated_at = ?2 WHERE id = ?3",
            params![version, now, id],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
        read_flow(&connection, workspace, id)?.ok_or(StoreError::NotFound)
    }

    fn published(&self) -> Result<Vec<(String, VersionRow)>, StoreError> {
        let connection = self.lock();
        let mut statement = connection
            .prepare(
                "SELECT f.workspace, f.id, v.version, v.document, v.created_at FROM flows f \
                 JOIN flow_versions v ON v.flow_id = f.id AND v.version = f.published_version \
                 ORDER BY f.id",
            )
            .map_err(backend)?;
        let raws = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, u32>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                ))
            })
            .map_err(backend)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend)?;
        raws.into_iter()
            .map(|(workspace, flow_id, version, document, created_at)| {
                Ok((
                    workspace,
                    VersionRow {
                        flow_id,
                        version,
                        document: parse_document(&document)?,
                        created_at,
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
        let inserted = self.lock().execute(
            "INSERT INTO routes (id, workspace, number, prefix, target, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                route.id,
                route.workspace,
                number,
                prefix,
                route.target.to_string(),
                route.created_at
            ],
        );
        match inserted {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(err, _))
                if err.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(StoreError::Conflict(match &route.matcher {
                    Matcher::Number(number) => format!("number {number} is already routed"),
                    Matcher::Prefix(prefix) => format!("prefix {prefix} is already routed"),
                }))
            }
            Err(err) => Err(backend(err)),
        }
    }

    fn routes(&self, workspace: &str) -> Result<Vec<RouteRow>, StoreError> {
        let connection = self.lock();
        let mut statement = connection
            .prepare(&format!(
                "SELECT {ROUTE_COLUMNS} FROM routes WHERE workspace = ?1 ORDER BY created_at, id"
            ))
            .map_err(backend)?;
        collect_routes(&mut statement, params![workspace])
    }

    fn delete_route(&self, workspace: &str, id: &str) -> Result<bool, StoreError> {
        let deleted = self
            .lock()
            .execute(
                "DELETE FROM routes WHERE workspace = ?1 AND id = ?2",
                params![workspace, id],
            )
            .map_err(backend)?;
        Ok(deleted > 0)
    }

    fn all_routes(&self) -> Result<Vec<RouteRow>, StoreError> {
        let connection = self.lock();
        let mut statement = connection
            .prepare(&format!(
                "SELECT {ROUTE_COLUMNS} FROM routes ORDER BY created_at, id"
            ))
            .map_err(backend)?;
        collect_routes(&mut statement, [])
    }

    fn add_cdrs(&self, rows: &[CdrRow]) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction().map_err(backend)?;
        {
            let mut insert = transaction
                .prepare_cached(
                    "INSERT INTO cdrs (call_id, caller, callee, flow_id, hangup_cause, \
                     start_time, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(backend)?;
            for row in rows {
                insert
                    .execute(params![
                        row.call_id,
                        row.from,
                        row.to,
                        row.flow_id,
                        row.hangup_cause,
                        row.start_time,
                        row.record.to_string(),
                    ])
                    .map_err(backend)?;
            }
        }
        transaction.commit().map_err(backend)
    }

    fn cdrs(&self, workspace: &str, query: &CdrQuery) -> Result<(Vec<Value>, u64), StoreError> {
        let (clause, values) = where_clause(workspace, query, |n| format!("?{n}"));
        let connection = self.lock();
        let total: i64 = connection
            .query_row(
                &format!("SELECT COUNT(*) FROM cdrs WHERE {clause}"),
                rusqlite::params_from_iter(values.iter()),
                |row| row.get(0),
            )
            .map_err(backend)?;
        let limit = i64::try_from(query.page.limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(query.page.offset).unwrap_or(i64::MAX);
        let mut statement = connection
            .prepare(&format!(
                "SELECT record FROM cdrs WHERE {clause} ORDER BY start_time, seq \
                 LIMIT {limit} OFFSET {offset}"
            ))
            .map_err(backend)?;
        let records = statement
            .query_map(rusqlite::params_from_iter(values.iter()), |row| {
                row.get::<_, String>(0)
            })
            .map_err(backend)?
            .map(|text| text.map_err(backend).and_then(|text| parse_document(&text)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((records, u64::try_from(total).unwrap_or(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_memory_store_passes_the_store_suite() {
        let store = SqliteStore::in_memory().expect("open");
        crate::store::suite::run(&store);
    }

    #[test]
    fn file_store_passes_the_store_suite_and_keeps_its_rows_across_opens() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("callplane.db");
        {
            let store = SqliteStore::open(&path).expect("open");
            crate::store::suite::run(&store);
        }
        let mode: String = Connection::open(&path)
            .and_then(|c| c.query_row("PRAGMA journal_mode", [], |row| row.get(0)))
            .expect("read the journal mode");
        assert_eq!(mode, "wal");
        let reopened = SqliteStore::open(&path).expect("reopen");
        assert!(!reopened.published().expect("published").is_empty());
        assert!(!reopened.all_routes().expect("routes").is_empty());
    }

    #[test]
    fn a_file_that_is_not_a_database_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("callplane.db");
        std::fs::write(&path, b"not a database, just text that is long enough").unwrap();
        let Err(StoreError::Backend(message)) = SqliteStore::open(&path) else {
            panic!("a text file opened as a store");
        };
        assert!(message.contains("not a database"), "{message}");
    }
}
