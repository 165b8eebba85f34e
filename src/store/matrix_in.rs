//! Appservice transactions and the Matrix events they carry.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store, now_ms};

/// A Matrix event accepted from the homeserver and not yet handled.
#[derive(Debug, Clone)]
pub struct PendingEvent {
    pub id: i64,
    pub event: serde_json::Value,
}

impl Store {
    /// Records a transaction and its events in one commit. Returns false for a
    /// transaction id seen before (the homeserver retried): nothing is stored twice.
    pub fn accept_transaction(&self, txn_id: &str, events: &[(String, String)]) -> Result<bool> {
        self.tx(|tx| {
            let now = now_ms();
            if tx.execute("INSERT OR IGNORE INTO txns (txn_id, received_at) VALUES (?1, ?2)", params![txn_id, now])?
                == 0
            {
                return Ok(false);
            }
            let mut stmt = tx
                .prepare_cached("INSERT OR IGNORE INTO matrix_in (event_id, event, received_at) VALUES (?1, ?2, ?3)")?;
            for (event_id, json) in events {
                stmt.execute(params![event_id, json, now])?;
            }
            Ok(true)
        })
    }

    pub fn pending_events(&self, limit: usize) -> Result<Vec<PendingEvent>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached("SELECT id, event FROM matrix_in WHERE done = 0 ORDER BY id LIMIT ?1")?;
            let rows = stmt.query_map([limit as i64], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (id, text) = row?;
                out.push(PendingEvent { id, event: super::json("matrix_in.event", &text)? });
            }
            Ok(out)
        })
    }

    pub fn finish_event(tx: &rusqlite::Transaction, id: i64) -> Result<()> {
        tx.execute("UPDATE matrix_in SET done = 1, event = '{}' WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Forgets transaction and handled event ids older than `max_age_ms` (the homeserver
    /// gives up retrying long before).
    pub fn prune_transactions(&self, max_age_ms: i64) -> Result<usize> {
        self.with(|c| {
            let cutoff = now_ms() - max_age_ms;
            c.execute("DELETE FROM matrix_in WHERE done = 1 AND received_at < ?1", [cutoff])?;
            Ok(c.execute("DELETE FROM txns WHERE received_at < ?1", [cutoff])?)
        })
    }

    pub fn seen_transaction(&self, txn_id: &str) -> Result<bool> {
        self.with(|c| {
            Ok(c.query_row("SELECT 1 FROM txns WHERE txn_id = ?1", [txn_id], |_| Ok(())).optional()?.is_some())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retried_transaction_is_stored_once() {
        let s = Store::open_in_memory().unwrap();
        let ev = vec![("$a".to_string(), r#"{"event_id":"$a"}"#.to_string())];
        assert!(s.accept_transaction("t1", &ev).unwrap());
        assert!(!s.accept_transaction("t1", &ev).unwrap());
        // Same event in a different transaction: still once.
        assert!(s.accept_transaction("t2", &ev).unwrap());
        let pending = s.pending_events(10).unwrap();
        assert_eq!(pending.len(), 1);
        s.tx(|tx| Store::finish_event(tx, pending[0].id)).unwrap();
        assert!(s.pending_events(10).unwrap().is_empty());
        // ... even after it was handled.
        assert!(s.accept_transaction("t3", &ev).unwrap());
        assert!(s.pending_events(10).unwrap().is_empty());
        assert!(s.seen_transaction("t1").unwrap());
    }
}
