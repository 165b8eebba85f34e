//! Questions applications send for an answer, asked one at a time per address pair.

use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::{Result, Store, now_ms};

pub struct NewQuestion<'a> {
    pub user: &'a str,
    pub backend_id: &'a str,
    pub local_number: &'a str,
    pub remote_key: &'a str,
    pub destination: &'a str,
    pub body: &'a str,
    pub timeout_ms: i64,
    pub callback_url: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub id: i64,
    pub user: String,
    pub backend_id: String,
    pub local_number: String,
    pub remote_key: String,
    pub destination: String,
    pub body: String,
    pub timeout_ms: i64,
    pub callback_url: Option<String>,
    pub state: String,
    pub answer: Option<String>,
    pub asked_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub answered_at: Option<i64>,
    /// The inbox item of its copy in the portal: only later SMS can answer it.
    pub copy_inbox: Option<i64>,
}

const COLS: &str = "id, user, backend_id, local_number, remote_key, destination, body, timeout_ms, callback_url, \
     state, answer, asked_at, expires_at, answered_at, copy_inbox";

fn question(r: &Row) -> rusqlite::Result<Question> {
    Ok(Question {
        id: r.get(0)?,
        user: r.get(1)?,
        backend_id: r.get(2)?,
        local_number: r.get(3)?,
        remote_key: r.get(4)?,
        destination: r.get(5)?,
        body: r.get(6)?,
        timeout_ms: r.get(7)?,
        callback_url: r.get(8)?,
        state: r.get(9)?,
        answer: r.get(10)?,
        asked_at: r.get(11)?,
        expires_at: r.get(12)?,
        answered_at: r.get(13)?,
        copy_inbox: r.get(14)?,
    })
}

impl Store {
    pub fn insert_question(&self, q: &NewQuestion) -> Result<i64> {
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO questions (user, backend_id, local_number, remote_key, destination, body, timeout_ms,
                 callback_url, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                q.user,
                q.backend_id,
                q.local_number,
                q.remote_key,
                q.destination,
                q.body,
                q.timeout_ms,
                q.callback_url,
                now_ms()
            ])?;
            Ok(c.last_insert_rowid())
        })
    }

    pub fn question(&self, id: i64) -> Result<Option<Question>> {
        self.with(|c| {
            Ok(c.query_row(&format!("SELECT {COLS} FROM questions WHERE id = ?1"), [id], question).optional()?)
        })
    }

    /// The oldest waiting questions, in order.
    pub fn waiting_questions(&self, limit: usize) -> Result<Vec<Question>> {
        self.with(|c| {
            let sql = format!("SELECT {COLS} FROM questions WHERE state = 'waiting' ORDER BY id LIMIT ?1");
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map([limit as i64], question)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// (our number, their key) of every question asked and not yet answered.
    pub fn busy_pairs(&self) -> Result<Vec<(String, String)>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached("SELECT local_number, remote_key FROM questions WHERE state = 'asked'")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Asks a question from `local_number` (its pair's number, chosen from the pool), in
    /// the commit that queues its SMS and its copy (inbox item `copy_inbox`).
    pub fn set_question_asked_tx(
        tx: &Transaction,
        id: i64,
        local_number: &str,
        expires_at: i64,
        copy_inbox: Option<i64>,
    ) -> Result<bool> {
        let n = tx
            .prepare_cached(
                "UPDATE questions SET state = 'asked', local_number = ?2, asked_at = ?3, expires_at = ?4, copy_inbox = ?5
                 WHERE id = ?1 AND state = 'waiting'",
            )?
            .execute(params![id, local_number, now_ms(), expires_at, copy_inbox])?;
        Ok(n == 1)
    }

    /// The copy of a question in its portal: its inbox item and, once posted, its event.
    pub fn question_copy(&self, id: i64) -> Result<Option<(i64, Option<String>)>> {
        self.with(|c| {
            Ok(c.prepare_cached(
                "SELECT q.copy_inbox, i.event_id FROM questions q JOIN inbox i ON i.id = q.copy_inbox WHERE q.id = ?1",
            )?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
        })
    }

    /// Asked questions whose SMS the link refused or gave up: they will get no answer.
    pub fn unsent_questions(&self) -> Result<Vec<(Question, String)>> {
        self.with(|c| {
            let sql = format!(
                "SELECT {}, coalesce(o.last_error, o.state) FROM questions q JOIN outbox o ON o.event_id = 'question:' || q.id
                 WHERE q.state = 'asked' AND o.state IN ('failed', 'dead') ORDER BY q.id",
                COLS.split(", ").map(|c| format!("q.{c}")).collect::<Vec<_>>().join(", ")
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map([], |r| Ok((question(r)?, r.get(15)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// The question asked on a pair, if any.
    pub fn asked_question(&self, local_number: &str, remote_key: &str) -> Result<Option<Question>> {
        self.with(|c| {
            let sql =
                format!("SELECT {COLS} FROM questions WHERE local_number = ?1 AND remote_key = ?2 AND state = 'asked'");
            Ok(c.query_row(&sql, [local_number, remote_key], question).optional()?)
        })
    }

    /// Records an answer (from inbox item `inbox`); false if the question was no longer asked.
    pub fn answer_question_tx(tx: &Transaction, id: i64, answer: &str, inbox: i64) -> Result<bool> {
        let n = tx
            .prepare_cached(
                "UPDATE questions SET state = 'answered', answer = ?2, answered_at = ?3, answer_inbox = ?4
                 WHERE id = ?1 AND state = 'asked'",
            )?
            .execute(params![id, answer, now_ms(), inbox])?;
        Ok(n == 1)
    }

    /// The question an inbox item answered, if any.
    pub fn answered_by(&self, inbox: i64) -> Result<Option<i64>> {
        self.with(|c| {
            Ok(c.prepare_cached("SELECT id FROM questions WHERE answer_inbox = ?1")?
                .query_row([inbox], |r| r.get(0))
                .optional()?)
        })
    }

    /// Asked questions past their timeout.
    pub fn expired_questions(&self) -> Result<Vec<Question>> {
        self.with(|c| {
            let sql = format!("SELECT {COLS} FROM questions WHERE state = 'asked' AND expires_at <= ?1 ORDER BY id");
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map([now_ms()], question)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// A question that could not be sent (refused, or given up by the link): it frees its pair.
    pub fn fail_question_tx(tx: &Transaction, id: i64) -> Result<bool> {
        let n = tx
            .prepare_cached("UPDATE questions SET state = 'failed' WHERE id = ?1 AND state IN ('waiting', 'asked')")?
            .execute([id])?;
        Ok(n == 1)
    }

    pub fn expire_question_tx(tx: &Transaction, id: i64) -> Result<bool> {
        let n = tx
            .prepare_cached("UPDATE questions SET state = 'expired' WHERE id = ?1 AND state = 'asked'")?
            .execute([id])?;
        Ok(n == 1)
    }
}
