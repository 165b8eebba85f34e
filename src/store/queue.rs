//! What the three work queues (outbox, inbox, matrix_out) share: retry and give up.

use super::{Result, Store, now_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    MatrixIn,
    Outbox,
    Inbox,
    MatrixOut,
}

impl Queue {
    fn table(self) -> &'static str {
        match self {
            Queue::MatrixIn => "matrix_in",
            Queue::Outbox => "outbox",
            Queue::Inbox => "inbox",
            Queue::MatrixOut => "matrix_out",
        }
    }

    fn waiting_state(self) -> &'static str {
        match self {
            Queue::Outbox => "queued",
            _ => "new",
        }
    }
}

impl Store {
    /// Counts a failed attempt and schedules the next one; returns the attempts so far.
    pub fn retry_later(&self, q: Queue, id: i64, next_at: i64, error: &str) -> Result<u32> {
        self.with(|c| {
            let sql = format!(
                "UPDATE {} SET state = ?1, attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 WHERE id = ?4 RETURNING attempts",
                q.table()
            );
            Ok(c.query_row(&sql, rusqlite::params![q.waiting_state(), next_at, error, id], |r| r.get(0))?)
        })
    }

    /// Counts a failed attempt and schedules the next, leaving the job where it is (the MMS
    /// tables, whose jobs have stages); returns the attempts so far.
    pub(super) fn retry_in_place(&self, table: &'static str, id: i64, next_at: i64, error: &str) -> Result<u32> {
        self.with(|c| {
            let sql = format!(
                "UPDATE {table} SET attempts = attempts + 1, next_attempt_at = ?1, last_error = ?2 WHERE id = ?3 RETURNING attempts"
            );
            Ok(c.query_row(&sql, rusqlite::params![next_at, error, id], |r| r.get(0))?)
        })
    }

    /// Gives a job up: it stays in the table as `dead` for inspection.
    pub fn bury(&self, q: Queue, id: i64, error: &str) -> Result<()> {
        self.with(|c| {
            let sql = format!("UPDATE {} SET state = 'dead', last_error = ?1 WHERE id = ?2", q.table());
            c.execute(&sql, rusqlite::params![error, id])?;
            Ok(())
        })
    }

    /// Jobs waiting (not done, not dead) in a queue.
    pub fn waiting(&self, q: Queue) -> Result<i64> {
        self.with(|c| {
            let sql = format!("SELECT count(*) FROM {} WHERE state IN ('new', 'queued', 'sending')", q.table());
            Ok(c.query_row(&sql, [], |r| r.get(0))?)
        })
    }

    /// Jobs given up in a queue.
    pub fn dead(&self, q: Queue) -> Result<i64> {
        self.with(|c| {
            let sql = format!("SELECT count(*) FROM {} WHERE state = 'dead'", q.table());
            Ok(c.query_row(&sql, [], |r| r.get(0))?)
        })
    }
}

/// Exponential backoff with a little jitter: 2 s, 4 s, 8 s … capped at 10 minutes.
pub fn backoff_ms(attempts: u32) -> i64 {
    let base = 2_000i64.saturating_mul(1 << attempts.min(9));
    let capped = base.min(600_000);
    let jitter = (now_ms() % 1000).abs() * capped / 10_000; // up to 10 %
    capped + jitter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert!((2_000..2_300).contains(&backoff_ms(0)));
        assert!((4_000..4_500).contains(&backoff_ms(1)));
        assert!(backoff_ms(30) <= 660_000);
        assert!(backoff_ms(30) >= 600_000);
    }
}
