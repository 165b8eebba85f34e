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
        tx.prepare_cached(
            "INSERT INTO inbox (backend_id, kind, conversation, payload, next_attempt_at, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        )?
        .execute(params![backend_id, kind, conversation, payload, now])?;
        Ok(tx.last_insert_rowid())
    }

    /// Due items in arrival order. An SMS still backing off holds back the later ones of its
    /// conversation, so they stay in order even if the homeserver is back before its retry.
    pub fn due_inbox(&self, limit: usize) -> Result<Vec<InboxItem>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, backend_id, payload, attempts, strikes FROM inbox i WHERE state = 'new' AND next_attempt_at <= ?1
                 AND NOT EXISTS (SELECT 1 FROM inbox p WHERE p.conversation = i.conversation AND p.state = 'new'
                                 AND p.next_attempt_at > ?1 AND p.id < i.id)
                 ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![now_ms(), limit as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, u32>(3)?, r.get(4)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, backend_id, payload, attempts, strikes) = row?;
                let item = super::json("inbox.payload", &payload)?;
                out.push(InboxItem { id, backend_id, item, attempts, strikes });
            }
            Ok(out)
        })
    }

    pub fn finish_inbox(tx: &Transaction, id: i64, event_id: Option<&str>) -> Result<()> {
        let mut stmt = tx.prepare_cached("UPDATE inbox SET state = 'done', event_id = ?1 WHERE id = ?2")?;
        stmt.execute(params![event_id, id])?;
        Ok(())
    }
}
