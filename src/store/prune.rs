//! Housekeeping: what has been delivered or given up for good is forgotten after
//! `database.retention_days`, so the database stays bounded however long the bridge runs.
//! Waiting and dead items are never pruned: they are work, or the user's to retry or drop.

use rusqlite::params;

use super::{Result, Store, now_ms};

/// Rows deleted per commit.
const BATCH: i64 = 2000;

/// Transaction ids are only needed while the homeserver may retry a transaction.
const TXN_MEMORY_MS: i64 = 7 * 24 * 3600 * 1000;

/// Rows removed per table by one prune.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    pub rows: usize,
}

/// (table, finished states, time column): rows in these states older than the cutoff go.
const HISTORY: &[(&str, &str, &str, &str)] = &[
    ("matrix_in", "state", "'done', 'dropped'", "received_at"),
    ("inbox", "state", "'done', 'dropped'", "received_at"),
    ("matrix_out", "state", "'done', 'dropped'", "created_at"),
    ("mms_in", "stage", "'done', 'dropped'", "received_at"),
    ("mms_out", "state", "'sent', 'failed', 'dropped'", "created_at"),
    ("callbacks", "state", "'done', 'dead'", "created_at"),
    ("questions", "state", "'answered', 'expired', 'failed'", "created_at"),
    ("service_calls", "state", "'done', 'dead'", "created_at"),
];

impl Store {
    /// Forgets finished work older than `retention_ms` (None keeps it for ever) and
    /// transaction ids older than a week; then gives freed pages back to the file system
    /// where the database allows it. Works in small commits, so links waiting to commit
    /// what they receive are never held up for long.
    pub fn prune(&self, retention_ms: Option<i64>) -> Result<Pruned> {
        let now = now_ms();
        let mut rows = self.in_batches(
            "DELETE FROM txns WHERE rowid IN (SELECT rowid FROM txns WHERE received_at < ?1 LIMIT ?2)",
            now - TXN_MEMORY_MS,
        )?;
        if let Some(retention) = retention_ms {
            let cutoff = now - retention;
            // Applications' records of those messages (they point at the row), once told.
            rows += self.in_batches(
                "DELETE FROM api_messages WHERE rowid IN (SELECT a.rowid FROM api_messages a JOIN outbox o ON o.id = a.outbox_id
                 WHERE o.state IN ('sent', 'delivered', 'failed', 'dropped') AND a.state = o.state AND o.updated_at < ?1 LIMIT ?2)",
                cutoff,
            )?;
            // Sent messages; their link message ids go with them, and their audit records
            // take their final state (the trigger outbox_gone).
            rows += self.in_batches(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE state IN ('sent', 'delivered', 'failed', 'dropped')
                 AND NOT EXISTS (SELECT 1 FROM api_messages a WHERE a.outbox_id = outbox.id)
                 AND updated_at < ?1 LIMIT ?2)",
                cutoff,
            )?;
            // MMS media kept for applications: they had the retention period to fetch it.
            rows += self.in_batches(
                "DELETE FROM api_media WHERE rowid IN (SELECT rowid FROM api_media WHERE created_at < ?1 LIMIT ?2)",
                cutoff,
            )?;
            for (table, col, states, at) in HISTORY {
                let sql = format!(
                    "DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {col} IN ({states}) AND {at} < ?1 LIMIT ?2)"
                );
                rows += self.in_batches(&sql, cutoff)?;
            }
            rows += self.in_batches(
                "DELETE FROM sent_events WHERE rowid IN (SELECT rowid FROM sent_events WHERE sent_at < ?1 LIMIT ?2)",
                cutoff,
            )?;
            rows += self.in_batches(
                "DELETE FROM link_seen WHERE rowid IN (SELECT rowid FROM link_seen WHERE seen_at < ?1 LIMIT ?2)",
                cutoff,
            )?;
        }
        // Only databases made with auto_vacuum = incremental (new ones) shrink; in others
        // the freed pages are reused, which keeps them bounded all the same. Each step of
        // the pragma frees one page; a few hundred at a time.
        loop {
            let freed = self.with(|c| {
                let mut stmt = c.prepare_cached("PRAGMA incremental_vacuum(500)")?;
                let mut steps = stmt.query([])?;
                let mut n = 0;
                while steps.next()?.is_some() {
                    n += 1;
                }
                Ok(n)
            })?;
            if freed == 0 {
                break;
            }
        }
        Ok(Pruned { rows })
    }

    /// Runs a `DELETE … LIMIT ?2` with cutoff `?1` until it deletes nothing, one commit
    /// per batch; returns the rows deleted.
    fn in_batches(&self, sql: &str, cutoff: i64) -> Result<usize> {
        let mut total = 0;
        loop {
            let n = self.with(|c| Ok(c.prepare_cached(sql)?.execute(params![cutoff, BATCH])?))?;
            total += n;
            if n < BATCH as usize {
                return Ok(total);
            }
        }
    }

    /// The database file's size in bytes (pages in use and free).
    pub fn size_bytes(&self) -> Result<i64> {
        self.with(|c| {
            let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            let size: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            Ok(pages * size)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewOutJob;

    #[test]
    fn applications_records_go_with_their_messages() {
        let s = Store::open_in_memory().unwrap();
        let p = s.claim_portal(&crate::store::portals::test_portal()).unwrap();
        let job = NewOutJob {
            portal_id: p.id,
            backend_id: "b",
            room_id: "",
            event_id: "api:1",
            destination: "2",
            body: "hi",
            expires_at: now_ms() + 1000,
            sender: None,
            ..Default::default()
        };
        let out = s.tx(|tx| Store::enqueue_out(tx, &job)).unwrap().unwrap();
        let api = crate::store::NewApiMessage {
            user: "app",
            backend_id: "b",
            destination: "2",
            body: "hi",
            outbox_id: out,
            dlr_mask: 0,
            dlr_url: None,
            callback_url: None,
            client_ref: None,
        };
        let id = s.tx(|tx| Store::insert_api_message_tx(tx, &api)).unwrap();
        s.set_out_state(out, crate::store::OutState::Sent, None).unwrap();
        // Not yet told to the application: kept, and nothing else fails for it.
        s.prune(Some(-1000)).unwrap();
        assert!(s.api_message(id).unwrap().is_some());
        s.tx(|tx| Store::set_api_state_tx(tx, id, "sent")).unwrap();
        s.prune(Some(-1000)).unwrap();
        assert!(s.api_message(id).unwrap().is_none());
        assert!(s.out_job(out).unwrap().is_none());
    }

    #[test]
    fn finished_work_goes_and_waiting_or_dead_work_stays() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("db")).unwrap();
        let p = s.claim_portal(&crate::store::portals::test_portal()).unwrap();
        let body = "x".repeat(2000);
        let mut ids = Vec::new();
        for i in 0..300 {
            let ev = format!("$e{i}");
            let job = NewOutJob {
                portal_id: p.id,
                backend_id: "b",
                room_id: "!r",
                event_id: &ev,
                destination: "2",
                body: &body,
                expires_at: now_ms() + 1000,
                sender: None,
                ..Default::default()
            };
            let id = s.tx(|tx| Store::enqueue_out(tx, &job)).unwrap().unwrap();
            ids.push(id);
        }
        s.tx(|tx| {
            for id in &ids[..298] {
                Store::claim_tx(tx, *id)?;
                Store::mark_sent(tx, *id, "b", &[format!("m{id}")])?;
            }
            Store::bury_tx(tx, crate::store::Queue::Outbox, ids[298], "gave up")
        })
        .unwrap();
        let full = s.size_bytes().unwrap();
        // Nothing is old enough yet.
        assert_eq!(s.prune(Some(60_000)).unwrap().rows, 0);
        assert_eq!(s.prune(None).unwrap().rows, 0);
        // Everything finished is, with a retention of zero.
        let pruned = s.prune(Some(-1)).unwrap();
        assert_eq!(pruned.rows, 298, "298 messages (their ids went with them)");
        let ids: i64 = s.with(|c| Ok(c.query_row("SELECT count(*) FROM message_map", [], |r| r.get(0))?)).unwrap();
        assert_eq!(ids, 0);
        let left: Vec<String> = s
            .with(|c| {
                let mut st = c.prepare("SELECT state FROM outbox ORDER BY id")?;
                let r = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
                Ok(r)
            })
            .unwrap();
        assert_eq!(left, ["dead", "queued"], "dead and waiting work stays");
        // A new database gives the space back.
        assert!(s.size_bytes().unwrap() < full / 2, "{} of {full}", s.size_bytes().unwrap());
    }
}
