//! Keyword services still to be asked for their reply to an SMS: kept until a reply is
//! queued, so a service that is down for a while is asked again, not forgotten.

use rusqlite::{Transaction, params};

use super::{Result, Store, now_ms};
use crate::message::ReceivedSms;

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceCall {
    pub id: i64,
    pub inbox_id: i64,
    pub backend_id: String,
    pub sms: ReceivedSms,
    pub attempts: u32,
    pub created_at: i64,
}

impl Store {
    /// Owes a keyword service's reply to inbox item `inbox_id`; at most once per item.
    pub fn add_service_call_tx(tx: &Transaction, inbox_id: i64, backend_id: &str, sms: &ReceivedSms) -> Result<()> {
        let sms = serde_json::to_string(sms).expect("an SMS serialises");
        let now = now_ms();
        tx.prepare_cached(
            "INSERT OR IGNORE INTO service_calls (inbox_id, backend_id, sms, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?4)",
        )?
        .execute(params![inbox_id, backend_id, sms, now])?;
        Ok(())
    }

    pub fn due_service_calls(&self, limit: usize) -> Result<Vec<ServiceCall>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, inbox_id, backend_id, sms, attempts, created_at FROM service_calls
                 WHERE state = 'new' AND next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![now_ms(), limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?, r.get(4)?, r.get(5)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, inbox_id, backend_id, sms, attempts, created_at) = row?;
                let sms = super::json("service_calls.sms", &sms)?;
                out.push(ServiceCall { id, inbox_id, backend_id, sms, attempts, created_at });
            }
            Ok(out)
        })
    }

    /// Ends a call: `done` (its reply, if any, queued in the same commit) or `dead`.
    pub fn settle_service_call_tx(tx: &Transaction, id: i64, state: &str, error: Option<&str>) -> Result<()> {
        tx.prepare_cached(
            "UPDATE service_calls SET state = ?2, last_error = ?3, attempts = attempts + 1 WHERE id = ?1",
        )?
        .execute(params![id, state, error])?;
        Ok(())
    }

    pub fn retry_service_call(&self, id: i64, at: i64, error: &str) -> Result<()> {
        self.with(|c| {
            c.prepare_cached(
                "UPDATE service_calls SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 WHERE id = ?1",
            )?
            .execute(params![id, at, error])?;
            Ok(())
        })
    }
}
