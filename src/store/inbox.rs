//! Link → Matrix: what a backend handed us, committed before the link is acknowledged.

use rusqlite::{Transaction, params};
use serde::{Deserialize, Serialize};

use super::{Result, Store, now_ms};
use crate::message::{AppSent, DeliveryReport, ReceivedSms, WapPush};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InboxKind {
    Sms(ReceivedSms),
    Report(DeliveryReport),
    WapPush(WapPush),
    AppSent(AppSent),
}

#[derive(Debug, Clone, PartialEq)]
pub struct InboxItem {
    pub id: i64,
    pub backend_id: String,
    pub item: InboxKind,
    pub attempts: u32,
    /// Failures of an unknown kind so far.
    pub strikes: u32,
    /// False when a keyword service keeps it out of Matrix (`bridge: false`).
    pub to_matrix: bool,
}

impl Store {
    pub fn insert_inbox(&self, backend_id: &str, item: &InboxKind) -> Result<i64> {
        self.tx(|tx| Store::insert_inbox_tx(tx, backend_id, item))
    }

    pub fn insert_inbox_tx(tx: &Transaction, backend_id: &str, item: &InboxKind) -> Result<i64> {
        let payload = serde_json::to_string(item).expect("inbox items serialise");
        let (kind, conversation) = match item {
            InboxKind::Sms(sms) => ("sms", Some(format!("{backend_id}/{}", sms.from))),
            InboxKind::Report(_) => ("report", None),
            InboxKind::WapPush(p) => ("wap_push", Some(format!("{backend_id}/{}", p.from))),
            InboxKind::AppSent(a) => ("app_sent", Some(format!("{backend_id}/{}", a.to))),
        };
        let now = now_ms();
        // Only what came in from outside concerns applications.
        let apps_done = matches!(item, InboxKind::WapPush(_) | InboxKind::AppSent(_));
        tx.prepare_cached(
            "INSERT INTO inbox (backend_id, kind, conversation, payload, next_attempt_at, received_at, apps_done) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
        )?
        .execute(params![backend_id, kind, conversation, payload, now, apps_done])?;
        let id = tx.last_insert_rowid();
        Store::audit_inbox_tx(tx, id, backend_id, item)?;
        Ok(id)
    }

    /// Every item not handled yet, in arrival order: what the links committed.
    pub fn new_inbox(&self, limit: usize) -> Result<Vec<InboxItem>> {
        self.new_items("", limit)
    }

    /// Items the applications' side has yet to see, in arrival order.
    pub fn apps_pending(&self, limit: usize) -> Result<Vec<InboxItem>> {
        self.new_items("AND apps_done = 0", limit)
    }

    /// New items, in arrival order, that also meet `and`.
    fn new_items(&self, and: &str, limit: usize) -> Result<Vec<InboxItem>> {
        self.with(|c| {
            let sql = format!("SELECT {ROW} FROM inbox WHERE state = 'new' {and} ORDER BY id LIMIT ?1");
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map([limit as i64], inbox_row)?;
            rows.map(|r| r?.into_item()).collect()
        })
    }

    /// The applications' side is done with an item: it may go to Matrix (if `to_matrix`).
    pub fn apps_done_tx(tx: &Transaction, id: i64, to_matrix: bool) -> Result<()> {
        tx.prepare_cached("UPDATE inbox SET apps_done = 1, to_matrix = ?2 WHERE id = ?1")?
            .execute(params![id, to_matrix])?;
        Ok(())
    }

    /// Due items in arrival order. An SMS still backing off holds back the later ones of its
    /// conversation, so they stay in order even if the homeserver is back before its retry.
    pub fn due_inbox(&self, limit: usize) -> Result<Vec<InboxItem>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, backend_id, payload, attempts, strikes, to_matrix FROM inbox i WHERE state = 'new' AND apps_done = 1
                 AND next_attempt_at <= ?1
                 AND NOT EXISTS (SELECT 1 FROM inbox p WHERE p.conversation = i.conversation AND p.state = 'new'
                                 AND (p.next_attempt_at > ?1 OR p.apps_done = 0) AND p.id < i.id)
                 ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![now_ms(), limit as i64], inbox_row)?;
            rows.map(|r| r?.into_item()).collect()
        })
    }

    pub fn finish_inbox(tx: &Transaction, id: i64, event_id: Option<&str>) -> Result<()> {
        let mut stmt = tx.prepare_cached("UPDATE inbox SET state = 'done', event_id = ?1 WHERE id = ?2")?;
        stmt.execute(params![event_id, id])?;
        Ok(())
    }
}

/// The columns [`inbox_row`] reads.
const ROW: &str = "id, backend_id, payload, attempts, strikes, to_matrix";

/// An inbox row before its payload is decoded.
struct Row {
    id: i64,
    backend_id: String,
    payload: String,
    attempts: u32,
    strikes: u32,
    to_matrix: bool,
}

fn inbox_row(r: &rusqlite::Row) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        backend_id: r.get(1)?,
        payload: r.get(2)?,
        attempts: r.get(3)?,
        strikes: r.get(4)?,
        to_matrix: r.get(5)?,
    })
}

impl Row {
    fn into_item(self) -> Result<InboxItem> {
        let item = super::json("inbox.payload", &self.payload)?;
        Ok(InboxItem {
            id: self.id,
            backend_id: self.backend_id,
            item,
            attempts: self.attempts,
            strikes: self.strikes,
            to_matrix: self.to_matrix,
        })
    }
}
