//! What the work queues share: retry, give up, and the dead items users can list, retry
//! or drop.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store, now_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Queue {
    MatrixIn,
    Outbox,
    Inbox,
    MatrixOut,
    MmsIn,
    MmsOut,
}

impl Queue {
    pub const ALL: [Queue; 6] =
        [Queue::Inbox, Queue::Outbox, Queue::MmsIn, Queue::MmsOut, Queue::MatrixIn, Queue::MatrixOut];

    fn table(self) -> &'static str {
        match self {
            Queue::MatrixIn => "matrix_in",
            Queue::Outbox => "outbox",
            Queue::Inbox => "inbox",
            Queue::MatrixOut => "matrix_out",
            Queue::MmsIn => "mms_in",
            Queue::MmsOut => "mms_out",
        }
    }

    /// The column that says where a job stands (`mms_in` has stages instead of states).
    fn state_col(self) -> &'static str {
        match self {
            Queue::MmsIn => "stage",
            _ => "state",
        }
    }

    fn waiting_state(self) -> &'static str {
        match self {
            Queue::Outbox | Queue::MmsOut => "queued",
            _ => "new",
        }
    }

    /// What users call the queue in `dead`, `retry` and `drop`.
    pub fn name(self) -> &'static str {
        match self {
            Queue::MatrixIn => "event",
            Queue::Outbox => "sms-out",
            Queue::Inbox => "sms-in",
            Queue::MatrixOut => "notice",
            Queue::MmsIn => "mms-in",
            Queue::MmsOut => "mms-out",
        }
    }

    pub fn from_name(name: &str) -> Option<Queue> {
        Queue::ALL.into_iter().find(|q| q.name() == name)
    }
}

/// A job given up, as `dead` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadItem {
    pub queue: Queue,
    pub id: i64,
    /// The link it came from or was for, if any.
    pub backend_id: Option<String>,
    pub room_id: Option<String>,
    /// The item's own data, as stored (JSON payload, body, recipients …).
    pub what: String,
    pub error: String,
}

impl Store {
    /// Counts a failed attempt and schedules the next one; `strike` counts it against
    /// `bridge.max_attempts`. Returns (attempts, strikes) so far.
    pub fn retry_later(&self, q: Queue, id: i64, next_at: i64, error: &str, strike: bool) -> Result<(u32, u32)> {
        self.with(|c| Store::retry_later_tx(c, q, id, next_at, error, strike))
    }

    /// [`Store::retry_later`] inside a caller's transaction.
    pub fn retry_later_tx(
        c: &rusqlite::Connection,
        q: Queue,
        id: i64,
        next_at: i64,
        error: &str,
        strike: bool,
    ) -> Result<(u32, u32)> {
        // Incoming MMS jobs have stages: they stay where they are.
        let state = match q {
            Queue::MmsIn => String::new(),
            _ => format!("state = '{}', ", q.waiting_state()),
        };
        // An outgoing message settled while it was out (failed by a report, cancelled) is
        // not put back: (0, 0) says so.
        let settled = match q {
            Queue::Outbox | Queue::MmsOut => " AND state IN ('queued', 'sending')",
            _ => "",
        };
        let sql = format!(
            "UPDATE {} SET {state}attempts = attempts + 1, strikes = strikes + ?1, next_attempt_at = ?2, last_error = ?3
             WHERE id = ?4{settled} RETURNING attempts, strikes",
            q.table()
        );
        let mut stmt = c.prepare_cached(&sql)?;
        let row = stmt.query_row(params![strike as i64, next_at, error, id], |r| Ok((r.get(0)?, r.get(1)?)));
        Ok(row.optional()?.unwrap_or((0, 0)))
    }

    /// Gives a job up: it stays in the table as `dead` for `dead`, `retry` and `drop`.
    pub fn bury_tx(tx: &rusqlite::Transaction, q: Queue, id: i64, error: &str) -> Result<()> {
        if matches!(q, Queue::Outbox) {
            // Its time of change is its audit record's status time.
            tx.prepare_cached("UPDATE outbox SET state = 'dead', last_error = ?1, updated_at = ?3 WHERE id = ?2")?
                .execute(params![error, id, now_ms()])?;
            return Ok(());
        }
        let sql = format!("UPDATE {} SET {} = 'dead', last_error = ?1 WHERE id = ?2", q.table(), q.state_col());
        tx.prepare_cached(&sql)?.execute(params![error, id])?;
        Ok(())
    }

    /// Makes every waiting job of a queue due now (the homeserver or a link is back: the
    /// backlog should not sleep out its backoff). `backend_id` limits it to one link.
    pub fn wake_waiting(&self, q: Queue, backend_id: Option<&str>) -> Result<usize> {
        let waiting = match q {
            Queue::MmsIn => "stage IN ('fetch', 'relay', 'notify')".to_string(),
            _ => format!("state = '{}'", q.waiting_state()),
        };
        let link = match q {
            Queue::MatrixIn | Queue::MatrixOut => "",
            _ => " AND (?2 IS NULL OR backend_id = ?2)",
        };
        let sql =
            format!("UPDATE {} SET next_attempt_at = 0 WHERE {waiting} AND next_attempt_at > ?1{link}", q.table());
        self.with(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            Ok(if link.is_empty() { stmt.execute([now_ms()])? } else { stmt.execute(params![now_ms(), backend_id])? })
        })
    }

    /// Jobs waiting (not done, not dead) in a queue.
    pub fn waiting(&self, q: Queue) -> Result<i64> {
        self.with(|c| {
            let sql = match q {
                Queue::MmsIn => "SELECT count(*) FROM mms_in WHERE stage IN ('fetch', 'relay', 'notify')".to_string(),
                _ => format!("SELECT count(*) FROM {} WHERE state IN ('new', 'queued', 'sending')", q.table()),
            };
            Ok(c.query_row(&sql, [], |r| r.get(0))?)
        })
    }

    /// Jobs given up in a queue.
    pub fn dead(&self, q: Queue) -> Result<i64> {
        self.with(|c| {
            let sql = format!("SELECT count(*) FROM {} WHERE {} = 'dead'", q.table(), q.state_col());
            Ok(c.query_row(&sql, [], |r| r.get(0))?)
        })
    }

    /// The dead items of a queue, oldest first; only the one with `id` if given.
    pub fn dead_items(&self, q: Queue, limit: usize, id: Option<i64>) -> Result<Vec<DeadItem>> {
        let (backend, room, what) = match q {
            Queue::Inbox => ("backend_id", "NULL", "payload"),
            Queue::Outbox => ("backend_id", "room_id", "destination || ': ' || body"),
            Queue::MmsIn => ("backend_id", "NULL", "sender || ' (' || location || ')'"),
            Queue::MmsOut => ("backend_id", "room_id", "recipients || ': ' || content"),
            Queue::MatrixIn => ("NULL", "room_id", "event"),
            Queue::MatrixOut => ("NULL", "room_id", "content"),
        };
        let sql = format!(
            "SELECT id, {backend}, {room}, {what}, coalesce(last_error, '') FROM {} WHERE {} = 'dead' AND (?2 IS NULL OR id = ?2) ORDER BY id LIMIT ?1",
            q.table(),
            q.state_col()
        );
        self.with(|c| {
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(params![limit as i64, id], |r| {
                Ok(DeadItem {
                    queue: q,
                    id: r.get(0)?,
                    backend_id: r.get(1)?,
                    room_id: r.get(2)?,
                    what: r.get(3)?,
                    error: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Puts a dead job back in its queue with a clean slate; an outgoing one gets a new
    /// expiry of `expiry_ms` from now. Returns whether it was dead.
    pub fn revive(&self, q: Queue, id: i64, expiry_ms: i64) -> Result<bool> {
        let now = now_ms();
        let set = match q {
            // A fetched MMS goes on to be shown; one never fetched is fetched again.
            Queue::MmsIn => format!(
                "stage = CASE WHEN payload IS NULL THEN 'fetch' ELSE 'relay' END, expires_at = max(expires_at, {})",
                now + expiry_ms
            ),
            Queue::Outbox | Queue::MmsOut => format!("state = 'queued', expires_at = {}", now + expiry_ms),
            _ => format!("state = '{}'", q.waiting_state()),
        };
        let sql = format!(
            "UPDATE {} SET {set}, attempts = 0, strikes = 0, next_attempt_at = 0 WHERE id = ?1 AND {} = 'dead'",
            q.table(),
            q.state_col()
        );
        self.with(|c| Ok(c.execute(&sql, [id])? == 1))
    }

    /// Drops a dead job for good (it stays, marked `dropped`, until pruned). Returns
    /// whether it was dead.
    pub fn drop_dead(&self, q: Queue, id: i64) -> Result<bool> {
        let sql =
            format!("UPDATE {t} SET {s} = 'dropped' WHERE id = ?1 AND {s} = 'dead'", t = q.table(), s = q.state_col());
        self.with(|c| Ok(c.execute(&sql, [id])? == 1))
    }
}

/// Exponential backoff with a little jitter: 2 s, 4 s, 8 s … capped at `cap_ms`.
pub fn backoff_ms(attempts: u32, cap_ms: i64) -> i64 {
    let base = 2_000i64.saturating_mul(1 << attempts.min(20));
    let capped = base.min(cap_ms.max(100));
    let jitter = (now_ms() % 1000).abs() * capped / 10_000; // up to 10 %
    capped + jitter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert!((2_000..2_300).contains(&backoff_ms(0, 300_000)));
        assert!((4_000..4_500).contains(&backoff_ms(1, 300_000)));
        assert!((300_000..=330_000).contains(&backoff_ms(30, 300_000)));
        assert!((1_000..=1_100).contains(&backoff_ms(3, 1_000)));
    }
}
