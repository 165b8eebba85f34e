//! Matrix messages on their way out as MMS.

use rusqlite::{Row, Transaction, params};

use super::{Result, Store, now_ms};

#[derive(Debug, Clone, PartialEq)]
pub struct MmsOutJob {
    pub id: i64,
    pub portal_id: i64,
    pub backend_id: String,
    pub room_id: String,
    pub event_id: String,
    pub recipients: Vec<String>,
    pub content: serde_json::Value,
    pub attempts: u32,
    /// Retries stop here: the message fails as not sent in time.
    pub expires_at: i64,
}

fn job(r: &Row) -> rusqlite::Result<(MmsOutJob, String)> {
    let recipients: String = r.get(5)?;
    Ok((
        MmsOutJob {
            id: r.get(0)?,
            portal_id: r.get(1)?,
            backend_id: r.get(2)?,
            room_id: r.get(3)?,
            event_id: r.get(4)?,
            recipients: recipients.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            content: serde_json::Value::Null,
            attempts: r.get(7)?,
            expires_at: r.get(8)?,
        },
        r.get(6)?,
    ))
}

impl Store {
    /// Queues a Matrix event for sending as MMS; an event is queued at most once.
    #[allow(clippy::too_many_arguments)]
    pub fn enqueue_mms_out_tx(
        tx: &Transaction,
        portal_id: i64,
        backend_id: &str,
        room_id: &str,
        event_id: &str,
        recipients: &[&str],
        content: &serde_json::Value,
        expires_at: i64,
        origin: &str,
    ) -> Result<bool> {
        let now = now_ms();
        let n = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO mms_out (portal_id, backend_id, room_id, event_id, recipients, content, next_attempt_at, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)",
            )?
            .execute(params![portal_id, backend_id, room_id, event_id, recipients.join(","), content.to_string(), now, expires_at])?;
        if n == 1 {
            let text = content["body"].as_str().unwrap_or("");
            Store::audit_mms_out_tx(
                tx,
                tx.last_insert_rowid(),
                backend_id,
                portal_id,
                &recipients.join(","),
                origin,
                text,
            )?;
        }
        Ok(n == 1)
    }

    /// Due jobs, at most one per portal (its oldest), so a message waiting for a retry is
    /// not overtaken by the next one to the same people.
    pub fn due_mms_out(&self, limit: usize) -> Result<Vec<MmsOutJob>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, portal_id, backend_id, room_id, event_id, recipients, content, attempts,
                 coalesce(expires_at, created_at + 86400000) FROM mms_out
                 o WHERE state = 'queued' AND next_attempt_at <= ?1
                 AND NOT EXISTS (SELECT 1 FROM mms_out p WHERE p.portal_id = o.portal_id AND p.id < o.id AND p.state IN ('queued', 'sending'))
                 ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![now_ms(), limit as i64], job)?;
            let mut out = Vec::new();
            for row in rows {
                let (mut j, content) = row?;
                j.content = super::json("mms_out.content", &content)?;
                out.push(j);
            }
            Ok(out)
        })
    }

    /// Cancels an MMS that has not left yet (its event was redacted). Returns the state it
    /// was found in (`queued` means it is now cancelled); None if there is no such job.
    pub fn cancel_mms_out_tx(tx: &Transaction, event_id: &str) -> Result<Option<String>> {
        use rusqlite::OptionalExtension;
        let state: Option<String> = tx
            .prepare_cached("SELECT state FROM mms_out WHERE event_id = ?1")?
            .query_row([event_id], |r| r.get(0))
            .optional()?;
        let sql = match state.as_deref() {
            Some("queued") => "UPDATE mms_out SET state = 'failed', last_error = 'cancelled' WHERE event_id = ?1",
            Some("sending") => "UPDATE mms_out SET cancel_requested = 1 WHERE event_id = ?1",
            _ => return Ok(state),
        };
        tx.prepare_cached(sql)?.execute([event_id])?;
        Ok(state)
    }

    /// Takes a queued MMS for sending; false if it is no longer queued (cancelled).
    pub fn claim_mms_out(&self, id: i64) -> Result<bool> {
        self.with(|c| {
            Ok(c.prepare_cached("UPDATE mms_out SET state = 'sending' WHERE id = ?1 AND state = 'queued'")?
                .execute([id])?
                == 1)
        })
    }

    /// Whether the MMS was redacted while it was being sent.
    pub fn mms_cancel_requested(&self, id: i64) -> Result<bool> {
        use rusqlite::OptionalExtension;
        self.with(|c| {
            Ok(c.prepare_cached("SELECT cancel_requested FROM mms_out WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?
                .unwrap_or(false))
        })
    }

    /// Ends a job: `sent` with the MMSC's message id, or `failed`/`dead` with the reason.
    pub fn finish_mms_out_tx(
        tx: &Transaction,
        id: i64,
        state: &str,
        message_id: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        tx.prepare_cached("UPDATE mms_out SET state = ?1, message_id = ?2, last_error = ?3 WHERE id = ?4")?
            .execute(params![state, message_id, error, id])?;
        Ok(())
    }
}
