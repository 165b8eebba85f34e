//! Durable state in SQLite (WAL). Everything the bridge acknowledges is committed here first.

mod audit;
mod audit_csv;
mod caps;
mod changed;
mod gateway;
mod group;
mod inbox;
mod link_seen;
mod matrix_in;
mod matrix_out;
mod mms_in;
mod mms_out;
mod outbox;
mod portals;
mod prune;
mod questions;
mod queue;
mod schema;
mod service_calls;
mod sms_parts;

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, Transaction};

pub use audit::{AuditQuery, AuditRecord, AuditSettings, OutAudit};
pub use audit_csv::{CSV_HEADER, audit_csv};
pub use gateway::{ApiMedia, ApiMessage, Callback, NewApiMessage, NewCallback, callback_target};
pub use inbox::{InboxItem, InboxKind};
pub use matrix_in::PendingEvent;
pub use matrix_out::MatrixJob;
pub use mms_in::{MmsJob, MmsStage, NewMmsJob};
pub use mms_out::MmsOutJob;
pub use outbox::{NewOutJob, OutJob, OutState, ReportTarget};
pub use portals::{Ghost, Portal};
pub use prune::Pruned;
pub use questions::{NewQuestion, Question};
pub use queue::{DeadItem, Queue, backoff_ms};
pub use service_calls::ServiceCall;
// Kept so `store::IncomingPart` paths (the SMPP link, tests) still compile.
pub use crate::message::IncomingPart;

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("database schema version {found} is newer than this bridge understands ({known}); upgrade sms-bridge")]
    TooNew { found: i64, known: i64 },
    #[error("database: bad JSON in {what}: {source}")]
    Json { what: &'static str, source: serde_json::Error },
    #[error("database: {0}")]
    Other(String),
    /// A check made inside a commit refused what it was about to write: the commit's part
    /// is rolled back, and the reason goes to whoever asked.
    #[error("{0}")]
    Refused(String),
}

/// A shared handle; calls are short and synchronous, so a mutex is enough. Transactions
/// go through a group commit (see `group.rs`).
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    group: Arc<group::Group>,
    /// A second, read-only connection for the hot reads (see [`Store::read`]); None in
    /// memory, where a second connection would be another database.
    reader: Option<Arc<Mutex<Connection>>>,
    /// Outbox rows changed, for the gateway's watcher.
    changed: changed::Changed,
    /// What the audit log keeps (read by its SQL functions).
    privacy: Arc<audit::Privacy>,
}

/// Prepared statements kept per connection (rusqlite's default is 16).
const STATEMENT_CACHE: usize = 128;

/// Keeps each statement's plan once prepared. Without the query planner stability guarantee,
/// SQLite plans with the bound values of a `LIMIT ?` (and of some other parameters) and
/// prepares the statement again whenever they change: a tenth of the gateway's CPU went to
/// that. The cache holds more statements than one message's path runs.
fn settle_plans(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        let open_err = |source| StoreError::Open { path: path.display().to_string(), source };
        // The connection is only ever used under `Store`'s mutex, so SQLite's own
        // per-call locking (serialized mode) is pure overhead: open it in multi-thread mode.
        let flags = (rusqlite::OpenFlags::default() - rusqlite::OpenFlags::SQLITE_OPEN_FULL_MUTEX)
            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
        let mut store = Store::init(conn).map_err(|e| match e {
            StoreError::Sqlite(source) => open_err(source),
            other => other,
        })?;
        // Opened after the migrations, on the schema they made.
        let read_only = (flags - rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE - rusqlite::OpenFlags::SQLITE_OPEN_CREATE)
            | rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
        let reader = Connection::open_with_flags(path, read_only).map_err(open_err)?;
        // Its reads are of a few hot pages: a small cache keeps the resident set down.
        reader.execute_batch("PRAGMA cache_size = -256;").map_err(open_err)?;
        reader.busy_timeout(std::time::Duration::from_secs(5)).map_err(open_err)?;
        settle_plans(&reader).map_err(open_err)?;
        store.reader = Some(Arc::new(Mutex::new(reader)));
        Ok(store)
    }

    pub fn open_in_memory() -> Result<Store> {
        Store::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Store> {
        // Only takes effect on a new, empty database: it lets pruning shrink the file.
        conn.execute_batch("PRAGMA auto_vacuum=INCREMENTAL;")?;
        // FULL: a commit survives power loss, not just a crash of this process.
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        settle_plans(&conn)?;
        schema::migrate(&mut conn)?;
        let changed = changed::Changed::default();
        changed.watch(&conn);
        let privacy = Arc::new(audit::Privacy::default());
        audit::register(&conn, &privacy)?;
        let store = Store { conn: Arc::new(Mutex::new(conn)), group: Arc::default(), reader: None, changed, privacy };
        Ok(store)
    }

    pub(crate) fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let out = f(&conn);
        // Its statements were committed as they ran.
        self.changed.publish();
        out
    }

    /// Runs `f` on the read-only connection: it sees what is committed (durably: WAL
    /// readers see a commit only after its `fsync`), and does not wait for the writer, whose
    /// commit may hold the main connection through an `fsync`. For the hot reads of the
    /// workers and the gateway; a read that must wait for a commit in progress uses `with`.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let Some(reader) = &self.reader else { return self.with(f) };
        let conn = reader.lock().unwrap_or_else(|p| p.into_inner());
        f(&conn)
    }

    /// Runs `f` in one transaction: all of it is committed or none, and it returns only
    /// once committed. Concurrent calls share a commit (see `group.rs`), so `f` may run
    /// on another caller's thread: it blocks, and belongs off async workers when it waits
    /// on other work.
    pub fn tx<T: Send>(&self, f: impl FnOnce(&Transaction) -> Result<T> + Send) -> Result<T> {
        let mut call = group::Call::new(f);
        self.group.run(&self.conn, &mut call, &|| self.changed.publish());
        call.into_result()
    }

    /// Jobs that were being sent when the process stopped go back to the queue
    /// (at-least-once); returns how many.
    pub fn recover(&self) -> Result<usize> {
        self.with(|c| {
            let mms = c.execute("UPDATE mms_out SET state = 'queued' WHERE state = 'sending'", [])?;
            Ok(mms
                + c.execute("UPDATE outbox SET state = 'queued', resends = resends + 1 WHERE state = 'sending'", [])?)
        })
    }
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(what: &'static str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|source| StoreError::Json { what, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopening_keeps_data_and_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        {
            let s = Store::open(&path).unwrap();
            s.set_management_room("@a:x", "!r:x").unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.management_room_owner("!r:x").unwrap().as_deref(), Some("@a:x"));
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        Connection::open(&path).unwrap().execute_batch("PRAGMA user_version = 999").unwrap();
        let err = Store::open(&path).err().unwrap();
        assert!(err.to_string().contains("newer"), "{err}");
    }
}
