//! What the gateway owes applications: the messages they sent (whose outbox state they
//! are told about) and the callbacks (dlr-url, callback_url, webhooks) still to be made.

use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::{Result, Store, now_ms};

pub struct NewApiMessage<'a> {
    pub user: &'a str,
    pub backend_id: &'a str,
    pub destination: &'a str,
    pub body: &'a str,
    pub outbox_id: i64,
    pub dlr_mask: u8,
    pub dlr_url: Option<&'a str>,
    pub callback_url: Option<&'a str>,
    pub client_ref: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiMessage {
    pub id: i64,
    pub user: String,
    pub backend_id: String,
    pub destination: String,
    pub body: String,
    pub outbox_id: i64,
    /// The outbox state last told to the application.
    pub state: String,
    pub dlr_mask: u8,
    pub dlr_url: Option<String>,
    pub callback_url: Option<String>,
    pub client_ref: Option<String>,
    pub created_at: i64,
}

const COLS: &str = "id, user, backend_id, destination, body, outbox_id, state, dlr_mask, dlr_url, callback_url, client_ref, created_at";

fn api_message(r: &Row) -> rusqlite::Result<ApiMessage> {
    Ok(ApiMessage {
        id: r.get(0)?,
        user: r.get(1)?,
        backend_id: r.get(2)?,
        destination: r.get(3)?,
        body: r.get(4)?,
        outbox_id: r.get(5)?,
        state: r.get(6)?,
        dlr_mask: r.get(7)?,
        dlr_url: r.get(8)?,
        callback_url: r.get(9)?,
        client_ref: r.get(10)?,
        created_at: r.get(11)?,
    })
}

pub struct NewCallback<'a> {
    /// An http(s) URL, or `mqtt:<topic suffix>` (`mqtt-retained:…`) for the MQTT broker.
    pub url: &'a str,
    /// None: a GET.
    pub body: Option<&'a str>,
    pub signer: Option<&'a str>,
    /// At most one callback per key.
    pub key: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    pub id: i64,
    pub url: String,
    pub body: Option<String>,
    pub signer: Option<String>,
    pub attempts: u32,
    pub created_at: i64,
}

impl Store {
    pub fn insert_api_message_tx(tx: &Transaction, m: &NewApiMessage) -> Result<i64> {
        let now = now_ms();
        tx.prepare_cached(
            "INSERT INTO api_messages (user, backend_id, destination, body, outbox_id, dlr_mask, dlr_url, callback_url,
             client_ref, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
        )?
        .execute(params![
            m.user,
            m.backend_id,
            m.destination,
            m.body,
            m.outbox_id,
            m.dlr_mask,
            m.dlr_url,
            m.callback_url,
            m.client_ref,
            now
        ])?;
        Ok(tx.last_insert_rowid())
    }

    pub fn api_message(&self, id: i64) -> Result<Option<ApiMessage>> {
        self.with(|c| {
            let sql = format!("SELECT {COLS} FROM api_messages WHERE id = ?1");
            Ok(c.query_row(&sql, [id], api_message).optional()?)
        })
    }

    /// Messages whose outbox state moved on since the application was last told, with
    /// the new state and the outbox's last error, oldest first. Only the outbox rows noted
    /// as changed are compared, but for a full comparison now and then (see `changed.rs`).
    /// The next [`Store::api_changes`] compares every open message (the last one's
    /// changes were taken but could not be told).
    pub fn recheck_api_changes(&self) {
        self.changed.again(None);
    }

    pub fn api_changes(&self, limit: usize) -> Result<Vec<(ApiMessage, String, Option<String>)>> {
        let cols: Vec<String> = COLS.split(", ").map(|c| format!("a.{c}")).collect();
        let select = format!(
            "SELECT {}, o.state, o.last_error FROM api_messages a JOIN outbox o ON o.id = a.outbox_id
             WHERE a.state IN ('queued', 'sending', 'sent') AND a.state != o.state",
            cols.join(", ")
        );
        let row = |r: &Row| Ok((api_message(r)?, r.get(12)?, r.get(13)?));
        let look = self.changed.take();
        // (changes found, noted rows not looked at yet)
        let found = self.read(|c| match &look {
            super::changed::Look::All => {
                let mut stmt = c.prepare_cached(&format!("{select} ORDER BY a.id LIMIT ?1"))?;
                let rows = stmt.query_map([limit as i64], row)?;
                Ok((rows.collect::<rusqlite::Result<Vec<_>>>()?, Vec::new()))
            }
            super::changed::Look::Rows(ids) => {
                let mut stmt = c.prepare_cached(&format!("{select} AND a.outbox_id = ?1"))?;
                let mut found = Vec::new();
                for (i, id) in ids.iter().enumerate() {
                    if found.len() >= limit {
                        return Ok((found, ids[i..].to_vec()));
                    }
                    found.extend(stmt.query_map([id], row)?.collect::<rusqlite::Result<Vec<_>>>()?);
                }
                Ok((found, Vec::new()))
            }
        });
        match (found, look) {
            (Err(e), look) => {
                // Not lost: looked at again next time.
                self.changed.again(match look {
                    super::changed::Look::All => None,
                    super::changed::Look::Rows(ids) => Some(ids),
                });
                Err(e)
            }
            (Ok((found, _)), super::changed::Look::All) => {
                if found.len() >= limit {
                    self.changed.again(None);
                }
                Ok(found)
            }
            (Ok((found, rest)), super::changed::Look::Rows(_)) => {
                if !rest.is_empty() {
                    self.changed.again(Some(rest));
                }
                Ok(found)
            }
        }
    }

    pub fn set_api_state_tx(tx: &Transaction, id: i64, state: &str) -> Result<()> {
        tx.prepare_cached("UPDATE api_messages SET state = ?2, updated_at = ?3 WHERE id = ?1")?.execute(params![
            id,
            state,
            now_ms()
        ])?;
        Ok(())
    }

    /// Per part of a message: (part, link message id, state).
    pub fn api_parts(&self, outbox_id: i64) -> Result<Vec<(u8, String, String)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT part, backend_msg_id, state FROM message_map WHERE outbox_id = ?1 ORDER BY part",
            )?;
            let rows = stmt.query_map([outbox_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    pub fn enqueue_callback_tx(tx: &Transaction, cb: &NewCallback) -> Result<i64> {
        let now = now_ms();
        tx.prepare_cached(
            "INSERT OR IGNORE INTO callbacks (url, body, signer, key, next_attempt_at, created_at, target)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
        )?
        .execute(params![cb.url, cb.body, cb.signer, cb.key, now, callback_target(cb.url)])?;
        Ok(tx.last_insert_rowid())
    }

    pub fn due_callbacks(&self, limit: usize) -> Result<Vec<Callback>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, url, body, signer, attempts, created_at FROM callbacks c
                 WHERE state = 'new' AND next_attempt_at <= ?1
                 AND NOT EXISTS (SELECT 1 FROM callbacks p WHERE p.target = c.target AND p.state = 'new' AND p.id < c.id
                                 AND p.next_attempt_at > ?1)
                 ORDER BY next_attempt_at, id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![now_ms(), limit as i64], |r| {
                Ok(Callback {
                    id: r.get(0)?,
                    url: r.get(1)?,
                    body: r.get(2)?,
                    signer: r.get(3)?,
                    attempts: r.get(4)?,
                    created_at: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// A callback made ('done') or given up ('dead', kept with its error).
    pub fn settle_callback(&self, id: i64, state: &str, error: Option<&str>) -> Result<()> {
        self.with(|c| {
            c.prepare_cached(
                "UPDATE callbacks SET state = ?2, last_error = ?3, attempts = attempts + 1 WHERE id = ?1",
            )?
            .execute(params![id, state, error])?;
            Ok(())
        })
    }

    pub fn retry_callback(&self, id: i64, at: i64, error: &str) -> Result<()> {
        self.with(|c| {
            c.prepare_cached(
                "UPDATE callbacks SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 WHERE id = ?1",
            )?
            .execute(params![id, at, error])?;
            Ok(())
        })
    }

    /// (waiting, given up) callbacks.
    pub fn callback_counts(&self) -> Result<(i64, i64)> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT coalesce(sum(state = 'new'), 0), coalesce(sum(state = 'dead'), 0) FROM callbacks",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
    }
}

/// A medium of a received MMS, as applications fetch it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiMedia {
    pub content_type: String,
    pub name: String,
    pub data: Vec<u8>,
    pub token: String,
}

impl Store {
    /// Keeps part `part` of MMS job `mms_id` for applications; the id and token it is
    /// fetched by (those of the first keeping, when it is kept again).
    pub fn keep_media_tx(
        tx: &Transaction,
        mms_id: i64,
        part: usize,
        content_type: &str,
        name: &str,
        data: &[u8],
    ) -> Result<(i64, String)> {
        let token = format!("{:016x}{:016x}", rand::random::<u64>(), rand::random::<u64>());
        tx.prepare_cached(
            "INSERT OR IGNORE INTO api_media (mms_id, part, content_type, name, data, token, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![mms_id, part as i64, content_type, name, data, token, now_ms()])?;
        Ok(tx
            .prepare_cached("SELECT id, token FROM api_media WHERE mms_id = ?1 AND part = ?2")?
            .query_row(params![mms_id, part as i64], |r| Ok((r.get(0)?, r.get(1)?)))?)
    }

    pub fn api_media(&self, id: i64) -> Result<Option<ApiMedia>> {
        self.with(|c| {
            Ok(c.prepare_cached("SELECT content_type, name, data, token FROM api_media WHERE id = ?1")?
                .query_row([id], |r| {
                    Ok(ApiMedia { content_type: r.get(0)?, name: r.get(1)?, data: r.get(2)?, token: r.get(3)? })
                })
                .optional()?)
        })
    }
}

/// Where a callback goes, so that one target's callbacks keep their order: `mqtt`, or the
/// URL up to its path (scheme, host and port).
pub fn callback_target(url: &str) -> &str {
    if url.starts_with("mqtt") {
        return "mqtt";
    }
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find(['/', '?', '#']) {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}
