//! Appservice transactions and the Matrix events they carry.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store, now_ms};

/// A Matrix event accepted from the homeserver and not yet handled.
#[derive(Debug, Clone)]
pub struct PendingEvent {
    pub id: i64,
    pub event: serde_json::Value,
    pub attempts: u32,
}

impl Store {
    /// Records a transaction and its events in one commit. Returns false only when both the
    /// transaction id and every event in it were seen before (the homeserver retried):
    /// nothing is stored twice.
    /// `events` are (event id, room id, JSON).
    pub fn accept_transaction(&self, txn_id: &str, events: &[(String, String, String)]) -> Result<bool> {
        self.tx(|tx| {
            let now = now_ms();
            let fresh_txn = tx
                .execute("INSERT OR IGNORE INTO txns (txn_id, received_at) VALUES (?1, ?2)", params![txn_id, now])?
                > 0;
            // Events are stored even under a transaction id seen before: a homeserver may
            // start its numbering again (Synapse on SQLite does after a restart), and
            // dropping those transactions would lose messages. Event ids keep retries out.
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO matrix_in (event_id, room_id, event, received_at) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut new_events = 0;
            for (event_id, room_id, json) in events {
                new_events += stmt.execute(params![event_id, room_id, json, now])?;
            }
            Ok(fresh_txn || new_events > 0)
        })
    }

    /// Due events in order. One backing off holds back the later ones of its room only, so a
    /// failing room never stops the others.
    pub fn pending_events(&self, limit: usize) -> Result<Vec<PendingEvent>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, event, attempts FROM matrix_in i WHERE state = 'new' AND next_attempt_at <= ?2
                 AND NOT EXISTS (SELECT 1 FROM matrix_in p WHERE p.room_id = i.room_id AND p.state = 'new'
                                 AND p.next_attempt_at > ?2 AND p.id < i.id)
                 ORDER BY id LIMIT ?1",
            )?;
            let rows = stmt.query_map(params![limit as i64, now_ms()], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, u32>(2)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, text, attempts) = row?;
                out.push(PendingEvent { id, event: super::json("matrix_in.event", &text)?, attempts });
            }
            Ok(out)
        })
    }

    pub fn finish_event(tx: &rusqlite::Transaction, id: i64) -> Result<()> {
        tx.prepare_cached("UPDATE matrix_in SET state = 'done', event = '{}' WHERE id = ?1")?.execute([id])?;
        Ok(())
    }

    /// Whether a transaction id was seen (and not yet pruned).
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
        let ev = vec![("$a".to_string(), "!r".to_string(), r#"{"event_id":"$a"}"#.to_string())];
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
