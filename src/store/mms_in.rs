//! MMS notifications on their way from the MMSC into Matrix.

use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::{Result, Store, now_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MmsStage {
    Fetch,
    Relay,
    Notify,
    Done,
    Dead,
}

impl MmsStage {
    fn as_str(self) -> &'static str {
        match self {
            MmsStage::Fetch => "fetch",
            MmsStage::Relay => "relay",
            MmsStage::Notify => "notify",
            MmsStage::Done => "done",
            MmsStage::Dead => "dead",
        }
    }

    fn parse(s: &str) -> MmsStage {
        match s {
            "fetch" => MmsStage::Fetch,
            "relay" => MmsStage::Relay,
            "notify" => MmsStage::Notify,
            "done" => MmsStage::Done,
            _ => MmsStage::Dead,
        }
    }
}

/// What a notification told us, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMmsJob<'a> {
    pub backend_id: &'a str,
    pub sender: &'a str,
    pub recipient: &'a str,
    pub transaction_id: &'a str,
    pub version: &'a str,
    pub location: &'a str,
    pub declared_size: Option<u64>,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MmsJob {
    pub id: i64,
    pub backend_id: String,
    pub sender: String,
    pub recipient: String,
    pub transaction_id: String,
    pub version: String,
    pub location: String,
    pub declared_size: Option<u64>,
    pub expires_at: i64,
    pub payload: Option<Vec<u8>>,
    pub stage: MmsStage,
    pub attempts: u32,
}

fn job(r: &Row) -> rusqlite::Result<MmsJob> {
    Ok(MmsJob {
        id: r.get(0)?,
        backend_id: r.get(1)?,
        sender: r.get(2)?,
        recipient: r.get(3)?,
        transaction_id: r.get(4)?,
        version: r.get(5)?,
        location: r.get(6)?,
        declared_size: r.get::<_, Option<i64>>(7)?.map(|v| v as u64),
        expires_at: r.get(8)?,
        payload: r.get(9)?,
        stage: MmsStage::parse(&r.get::<_, String>(10)?),
        attempts: r.get(11)?,
    })
}

const COLS: &str = "id, backend_id, sender, recipient, transaction_id, version, location, declared_size, expires_at, payload, stage, attempts";

impl Store {
    /// Records a notification. A repeat of one already known returns None, unless its job
    /// had been given up: then it is tried again (from the fetched message, if there is one),
    /// since the MMSC repeating itself means the message is still there.
    pub fn insert_mms_tx(tx: &Transaction, j: &NewMmsJob) -> Result<Option<i64>> {
        let now = now_ms();
        let id = tx
            .prepare_cached(
                "INSERT INTO mms_in (backend_id, sender, recipient, transaction_id, version, location, declared_size, expires_at, next_attempt_at, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
                 ON CONFLICT (backend_id, location) DO UPDATE SET
                     stage = CASE WHEN payload IS NULL THEN 'fetch' ELSE 'relay' END,
                     attempts = 0, strikes = 0, next_attempt_at = 0, last_error = NULL, expires_at = excluded.expires_at
                 WHERE stage = 'dead'
                 RETURNING id",
            )?
            .query_row(
                params![
                    j.backend_id,
                    j.sender,
                    j.recipient,
                    j.transaction_id,
                    j.version,
                    j.location,
                    j.declared_size.map(|v| v.min(i64::MAX as u64) as i64),
                    j.expires_at,
                    now
                ],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = id {
            Store::audit_mms_in_tx(tx, id, j.backend_id, j.recipient, j.sender)?;
        }
        Ok(id)
    }

    pub fn due_mms(&self, limit: usize) -> Result<Vec<MmsJob>> {
        self.with(|c| {
            let sql = format!(
                "SELECT {COLS} FROM mms_in WHERE stage IN ('fetch', 'relay', 'notify') AND next_attempt_at <= ?1 ORDER BY id LIMIT ?2"
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![now_ms(), limit as i64], job)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    #[cfg(test)]
    pub fn mms_job(&self, id: i64) -> Result<Option<MmsJob>> {
        self.with(|c| Ok(c.query_row(&format!("SELECT {COLS} FROM mms_in WHERE id = ?1"), [id], job).optional()?))
    }

    /// Moves a job to its next stage (keeping the fetched payload until it is relayed).
    pub fn mms_advance(&self, id: i64, stage: MmsStage, payload: Option<&[u8]>) -> Result<()> {
        self.with(|c| {
            let keep = matches!(stage, MmsStage::Relay);
            c.execute(
                "UPDATE mms_in SET stage = ?1, attempts = 0, strikes = 0, next_attempt_at = 0, last_error = NULL,
                 payload = CASE WHEN ?2 THEN coalesce(?3, payload) ELSE NULL END WHERE id = ?4",
                params![stage.as_str(), keep, payload, id],
            )?;
            Ok(())
        })
    }

    /// (waiting, dead) MMS jobs.
    pub fn mms_counts(&self) -> Result<(i64, i64)> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT coalesce(sum(stage IN ('fetch', 'relay', 'notify')), 0), coalesce(sum(stage = 'dead'), 0) FROM mms_in",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Queue;

    #[test]
    fn a_job_moves_through_its_stages_and_repeats_are_ignored() {
        let s = Store::open_in_memory().unwrap();
        let new = NewMmsJob {
            backend_id: "b",
            sender: "+1555",
            recipient: "+1666",
            transaction_id: "T1",
            version: "1.2",
            location: "http://mmsc/1",
            declared_size: Some(1234),
            expires_at: now_ms() + 60_000,
        };
        let id = s.tx(|tx| Store::insert_mms_tx(tx, &new)).unwrap().unwrap();
        assert_eq!(s.tx(|tx| Store::insert_mms_tx(tx, &new)).unwrap(), None);
        let due = s.due_mms(10).unwrap();
        assert_eq!((due.len(), due[0].stage, due[0].declared_size), (1, MmsStage::Fetch, Some(1234)));
        assert_eq!(s.retry_later(Queue::MmsIn, id, now_ms() + 60_000, "down", false).unwrap(), (1, 0));
        assert!(s.due_mms(10).unwrap().is_empty());
        s.mms_advance(id, MmsStage::Relay, Some(b"payload")).unwrap();
        let j = s.due_mms(10).unwrap().remove(0);
        assert_eq!((j.stage, j.payload.as_deref(), j.attempts), (MmsStage::Relay, Some(&b"payload"[..]), 0));
        s.mms_advance(id, MmsStage::Notify, None).unwrap();
        let j = s.mms_job(id).unwrap().unwrap();
        assert_eq!((j.stage, j.payload), (MmsStage::Notify, None));
        s.tx(|tx| Store::bury_tx(tx, Queue::MmsIn, id, "no")).unwrap();
        assert_eq!(s.mms_counts().unwrap(), (0, 1));
        // The MMSC repeats the notification of a job given up: it is tried again.
        assert_eq!(s.tx(|tx| Store::insert_mms_tx(tx, &new)).unwrap(), Some(id));
        assert_eq!(s.due_mms(10).unwrap()[0].stage, MmsStage::Fetch);
        // Given up after fetching: the message is kept, and a repeat shows it without a fetch.
        s.mms_advance(id, MmsStage::Relay, Some(b"kept")).unwrap();
        s.tx(|tx| Store::bury_tx(tx, Queue::MmsIn, id, "homeserver away")).unwrap();
        assert_eq!(s.mms_job(id).unwrap().unwrap().payload.as_deref(), Some(&b"kept"[..]));
        assert_eq!(s.tx(|tx| Store::insert_mms_tx(tx, &new)).unwrap(), Some(id));
        let j = s.due_mms(10).unwrap().remove(0);
        assert_eq!((j.stage, j.payload.as_deref()), (MmsStage::Relay, Some(&b"kept"[..])));
        // A repeat of a live job is nothing new.
        assert_eq!(s.tx(|tx| Store::insert_mms_tx(tx, &new)).unwrap(), None);
    }
}
