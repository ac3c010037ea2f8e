//! The control plane's store: call flows with every version of each, which
//! version is published, and the numbers and prefixes routed through the API.
//!
//! [`Store`] is the one interface the HTTP API uses; [`SqliteStore`] is the
//! embedded store (a file in the data directory), [`PostgresStore`] the
//! store several servers share. A store does no clock
//! reading: timestamps come in as arguments. Calls never touch it — the API
//! writes it from its own threads and turns what is published into a routing
//! table for the shards.
//!
//! Every store passes the shared suite in `suite.rs`.

mod cdrs;
mod postgres;
mod sqlite;
#[cfg(test)]
mod suite;
#[cfg(test)]
mod test_postgres;

pub use self::postgres::PostgresStore;
pub use cdrs::{CdrQuery, CdrRow};
pub use sqlite::SqliteStore;

use serde_json::Value;
use thiserror::Error;

/// Why a store operation failed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum StoreError {
    /// No such flow, version or route in this workspace.
    #[error("not found")]
    NotFound,
    /// The write would break a rule of the store (a number routed twice…).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database itself failed.
    #[error("store failure: {0}")]
    Backend(String),
}

/// One call flow: its latest document and where its versions stand.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRow {
    /// The flow's id (24 hex digits when the API made it).
    pub id: String,
    /// The workspace that owns it.
    pub workspace: String,
    /// When the flow was created (RFC 3339).
    pub created_at: String,
    /// When its latest version was written (RFC 3339).
    pub updated_at: String,
    /// The newest version's number (the first is 1).
    pub latest_version: u32,
    /// The version calls are routed to, if one is published.
    pub published_version: Option<u32>,
    /// The newest version's document.
    pub document: Value,
}

/// One version of a flow, never changed once written.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRow {
    /// The flow it belongs to.
    pub flow_id: String,
    /// Its number, 1 for the first.
    pub version: u32,
    /// The flow document as written.
    pub document: Value,
    /// When it was written (RFC 3339).
    pub created_at: String,
}

/// A dialled number (or prefix) routed by the API.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteRow {
    /// The route's id.
    pub id: String,
    /// The workspace that owns it.
    pub workspace: String,
    /// What it matches.
    pub matcher: Matcher,
    /// Where it leads, as the API describes it (flow id or destination, entry variables…).
    pub target: Value,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

/// What a route matches: one number exactly, or every number with a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    /// This dialled number only.
    Number(String),
    /// Every dialled number that starts with this.
    Prefix(String),
}

/// A page of a list: which slice of the rows, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Rows skipped.
    pub offset: u64,
    /// Rows returned at most.
    pub limit: u64,
}

/// The store the control plane keeps its flows, versions and routes in.
/// Every call is scoped to a workspace except the two that build the
/// server-wide routing table ([`Store::published`], [`Store::all_routes`]).
pub trait Store: Send + Sync {
    /// Creates flow `id` with `document` as version 1 (unpublished).
    fn create_flow(
        &self,
        workspace: &str,
        id: &str,
        document: &Value,
        now: &str,
    ) -> Result<FlowRow, StoreError>;
    /// The flow, if the workspace has it.
    fn flow(&self, workspace: &str, id: &str) -> Result<Option<FlowRow>, StoreError>;
    /// A page of the workspace's flows, oldest first, and how many it has in all.
    fn flows(&self, workspace: &str, page: Page) -> Result<(Vec<FlowRow>, u64), StoreError>;
    /// Writes `document` as the flow's next version (unpublished).
    fn add_version(
        &self,
        workspace: &str,
        id: &str,
        document: &Value,
        now: &str,
    ) -> Result<FlowRow, StoreError>;
    /// Removes the flow with its versions; `false` when there was none.
    fn delete_flow(&self, workspace: &str, id: &str) -> Result<bool, StoreError>;
    /// Every version of the flow, oldest first.
    fn versions(&self, workspace: &str, id: &str) -> Result<Vec<VersionRow>, StoreError>;
    /// One version of the flow.
    fn version(
        &self,
        workspace: &str,
        id: &str,
        version: u32,
    ) -> Result<Option<VersionRow>, StoreError>;
    /// Makes `version` the one calls are routed to.
    fn publish(
        &self,
        workspace: &str,
        id: &str,
        version: u32,
        now: &str,
    ) -> Result<FlowRow, StoreError>;
    /// The published version of every flow of every workspace.
    fn published(&self) -> Result<Vec<(String, VersionRow)>, StoreError>;
    /// Adds a route; [`StoreError::Conflict`] when any workspace already
    /// routes the same number (or the same prefix).
    fn add_route(&self, route: &RouteRow) -> Result<(), StoreError>;
    /// The workspace's routes, oldest first.
    fn routes(&self, workspace: &str) -> Result<Vec<RouteRow>, StoreError>;
    /// Removes a route; `false` when the workspace had none with that id.
    fn delete_route(&self, workspace: &str, id: &str) -> Result<bool, StoreError>;
    /// Every route of every workspace.
    fn all_routes(&self) -> Result<Vec<RouteRow>, StoreError>;
    /// Adds a batch of CDRs in one transaction: all are committed or none.
    fn add_cdrs(&self, rows: &[CdrRow]) -> Result<(), StoreError>;
    /// A page of the workspace's CDRs that match, oldest first, and how many
    /// match in all.
    fn cdrs(&self, workspace: &str, query: &CdrQuery) -> Result<(Vec<Value>, u64), StoreError>;
}

/// A fresh id: 12 bytes of the operating system's entropy as 24 hex digits
/// (the shape of the ids in the call-flow API's records).
pub fn new_id() -> String {
    let mut bytes = [0u8; 12];
    // SAFETY: getrandom(2) writes at most `bytes.len()` bytes into `bytes`.
    let got = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if !usize::try_from(got).is_ok_and(|got| got == bytes.len()) {
        // Entropy is unavailable: ids stay unique within this process.
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        bytes[..8].copy_from_slice(&count.to_be_bytes());
        bytes[8..].copy_from_slice(&std::process::id().to_be_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
