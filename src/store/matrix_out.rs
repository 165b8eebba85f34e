//! Statuses, receipts and notices waiting to be sent to Matrix.

use rusqlite::{Transaction, params};

use super::{Result, Store, now_ms};

#[derive(Debug, Clone, PartialEq)]
pub struct MatrixJob {
    pub id: i64,
    pub room_id: String,
    pub sender: String,
    /// `message` (event_type + content) or `receipt` (content.event_id).
    pub kind: String,
    pub event_type: String,
    pub content: serde_json::Value,
    pub attempts: u32,
}

impl Store {
    pub fn enqueue_matrix(
        tx: &Transaction,
        room_id: &str,
        sender: &str,
        kind: &str,
        event_type: &str,
        content: &serde_json::Value,
    ) -> Result<i64> {
        let now = now_ms();
        tx.prepare_cached(
            "INSERT INTO matrix_out (room_id, sender, kind, event_type, content, next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        )?
        .execute(params![room_id, sender, kind, event_type, content.to_string(), now])?;
        Ok(tx.last_insert_rowid())
    }

    /// Due jobs in order; a job backing off holds back later ones in its room, so a
    /// room never sees e.g. SUCCESS before the PENDING it replaces.
    pub fn due_matrix(&self, limit: usize) -> Result<Vec<MatrixJob>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, room_id, sender, kind, event_type, content, attempts FROM matrix_out o
                 WHERE state = 'new' AND next_attempt_at <= ?1
                 AND NOT EXISTS (SELECT 1 FROM matrix_out p WHERE p.room_id = o.room_id AND p.state = 'new'
                                 AND p.next_attempt_at > ?1 AND p.id < o.id)
                 ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![now_ms(), limit as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get::<_, String>(5)?, r.get(6)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, room_id, sender, kind, event_type, content, attempts) = row?;
                let content = super::json("matrix_out.content", &content)?;
                out.push(MatrixJob { id, room_id, sender, kind, event_type, content, attempts });
            }
            Ok(out)
        })
    }

    /// Marks sent jobs done, in one commit.
    pub fn finish_matrix(&self, ids: &[i64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.tx(|tx| {
            let mut stmt = tx.prepare_cached("UPDATE matrix_out SET state = 'done' WHERE id = ?1")?;
            for id in ids {
                stmt.execute([id])?;
            }
            Ok(())
        })
    }

    /// The event an earlier attempt sent with this transaction id, if any.
    pub fn sent_event(&self, txn_id: &str) -> Result<Option<String>> {
        use rusqlite::OptionalExtension;
        self.with(|c| {
            Ok(c.prepare_cached("SELECT event_id FROM sent_events WHERE txn_id = ?1")?
                .query_row([txn_id], |r| r.get(0))
                .optional()?)
        })
    }

    pub fn record_sent_event(&self, txn_id: &str, event_id: &str) -> Result<()> {
        self.with(|c| {
            c.prepare_cached("INSERT OR REPLACE INTO sent_events (txn_id, event_id, sent_at) VALUES (?1, ?2, ?3)")?
                .execute(params![txn_id, event_id, now_ms()])?;
            Ok(())
        })
    }
}
