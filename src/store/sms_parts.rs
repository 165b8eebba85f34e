//! Parts of concatenated SMS, kept until the message is whole (or given up waiting for).
//! Completing a message and queueing it for Matrix happen in one commit.

use rusqlite::{Transaction, params};

use super::{InboxKind, Result, Store, now_ms};
use crate::message::{IncomingPart, ReceivedSms, WapPush};
use crate::sms::reassembly::{self, Part, PartEncoding};

impl Store {
    /// Stores a part; if it completes its message, the message goes to the inbox in the
    /// same commit and its inbox id is returned. A part seen before changes nothing.
    pub fn add_sms_part(&self, backend_id: &str, p: &IncomingPart) -> Result<Option<i64>> {
        self.tx(|tx| Store::add_sms_part_tx(tx, backend_id, p))
    }

    pub fn add_sms_part_tx(tx: &Transaction, backend_id: &str, p: &IncomingPart) -> Result<Option<i64>> {
        {
            let part = serde_json::to_string(&p.part).expect("parts serialise");
            // A part of a message already shown, delivered again (an SMSC or modem that
            // missed our acknowledgement): dropping it keeps it from becoming a fragment.
            let seen: bool = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM sms_done WHERE backend_id = ?1 AND sender = ?2 AND reference = ?3
                     AND total = ?4 AND seq = ?5 AND digest = ?6)",
                )?
                .query_row(params![backend_id, p.from, p.reference, p.total, p.part.seq, digest(&part)], |r| {
                    r.get(0)
                })?;
            if seen {
                tracing::info!(from = %p.from, reference = p.reference, seq = p.part.seq, "dropping a repeated part of a long SMS already shown");
                return Ok(None);
            }
            tx.prepare_cached(
                "INSERT OR IGNORE INTO sms_parts (backend_id, sender, reference, total, seq, recipient, timestamp_ms, part, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![backend_id, p.from, p.reference, p.total, p.part.seq, p.to, p.timestamp_ms, part, now_ms()])?;
            let have: u32 = tx.query_row(
                "SELECT count(*) FROM sms_parts WHERE backend_id = ?1 AND sender = ?2 AND reference = ?3 AND total = ?4",
                params![backend_id, p.from, p.reference, p.total],
                |r| r.get(0),
            )?;
            if have < p.total as u32 {
                return Ok(None);
            }
            complete(tx, backend_id, &p.from, p.reference, p.total).map(Some)
        }
    }

    /// Delivers every message whose first part arrived before `cutoff_ms`, with markers
    /// for the parts that never came. Returns the inbox ids.
    pub fn expire_sms_parts(&self, cutoff_ms: i64) -> Result<Vec<i64>> {
        self.tx(|tx| {
            let keys: Vec<(String, String, u16, u8)> = tx
                .prepare(
                    "SELECT backend_id, sender, reference, total FROM sms_parts
                     GROUP BY backend_id, sender, reference, total HAVING min(received_at) < ?1",
                )?
                .query_map([cutoff_ms], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<_>>()?;
            keys.iter().map(|(b, s, r, t)| complete(tx, b, s, *r, *t)).collect()
        })
    }

    /// Forgets the parts of messages shown before `cutoff_ms`.
    pub fn prune_sms_done(&self, cutoff_ms: i64) -> Result<usize> {
        self.with(|c| Ok(c.execute("DELETE FROM sms_done WHERE done_at < ?1", [cutoff_ms])?))
    }

    /// Parts waiting for the rest of their message.
    pub fn waiting_sms_parts(&self) -> Result<i64> {
        self.with(|c| Ok(c.query_row("SELECT count(*) FROM sms_parts", [], |r| r.get(0))?))
    }
}

/// Assembles what is there, queues it, and forgets the parts.
fn complete(tx: &Transaction, backend_id: &str, sender: &str, reference: u16, total: u8) -> Result<i64> {
    let rows: Vec<(String, String, Option<i64>)> = tx
        .prepare_cached(
            "SELECT part, recipient, timestamp_ms FROM sms_parts
             WHERE backend_id = ?1 AND sender = ?2 AND reference = ?3 AND total = ?4 ORDER BY seq",
        )?
        .query_map(params![backend_id, sender, reference, total], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut parts = Vec::with_capacity(rows.len());
    let mut remember = tx.prepare_cached(
        "INSERT OR REPLACE INTO sms_done (backend_id, sender, reference, total, seq, digest, done_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let now = now_ms();
    for (json, _, _) in &rows {
        let part = super::json::<Part>("sms_parts.part", json)?;
        remember.execute(params![backend_id, sender, reference, total, part.seq, digest(json), now])?;
        parts.push(part);
    }
    let first = rows.first();
    let sms = ReceivedSms {
        from: sender.to_string(),
        to: first.map(|r| r.1.clone()).unwrap_or_default(),
        text: reassembly::assemble(total, &parts),
        // The first part's time: when the person pressed send.
        timestamp_ms: first.and_then(|r| r.2),
    };
    let item = if parts.first().is_some_and(|p| p.encoding == PartEncoding::WapPush) {
        // A push with a part missing cannot be decoded; what arrived is kept all the same.
        let data = parts.iter().flat_map(|p| p.payload.iter().copied()).collect();
        InboxKind::WapPush(WapPush { from: sms.from, to: sms.to, data })
    } else {
        InboxKind::Sms(sms)
    };
    let id = Store::insert_inbox_tx(tx, backend_id, &item)?;
    tx.execute(
        "DELETE FROM sms_parts WHERE backend_id = ?1 AND sender = ?2 AND reference = ?3 AND total = ?4",
        params![backend_id, sender, reference, total],
    )?;
    Ok(id)
}

/// A short fingerprint of a stored part.
fn digest(part_json: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, part_json.as_bytes());
    d.as_ref()[..12].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sms::gsm7::{self, Tables};
    use crate::sms::reassembly::PartEncoding;

    fn part(seq: u8, text: &str) -> IncomingPart {
        IncomingPart {
            from: "+15551234567".into(),
            to: "+15550001111".into(),
            reference: 42,
            total: 3,
            timestamp_ms: Some(seq as i64),
            part: Part {
                seq,
                encoding: PartEncoding::gsm7(Tables::DEFAULT),
                payload: gsm7::encode(text, &Tables::DEFAULT).unwrap(),
            },
        }
    }

    fn inbox_texts(s: &Store) -> Vec<String> {
        s.new_inbox(100)
            .unwrap()
            .into_iter()
            .map(|i| match i.item {
                InboxKind::Sms(m) => m.text,
                _ => panic!(),
            })
            .collect()
    }

    #[test]
    fn parts_survive_a_restart_and_complete_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let s = Store::open(&path).unwrap();
            assert_eq!(s.add_sms_part("b", &part(3, "c")).unwrap(), None);
            assert_eq!(s.add_sms_part("b", &part(1, "a")).unwrap(), None);
            assert_eq!(s.add_sms_part("b", &part(1, "a")).unwrap(), None, "duplicate ignored");
        }
        let s = Store::open(&path).unwrap();
        assert!(s.add_sms_part("b", &part(2, "b")).unwrap().is_some());
        assert_eq!(inbox_texts(&s), vec!["abc"]);
        assert_eq!(s.waiting_sms_parts().unwrap(), 0);
        // A late duplicate of a part already shown is dropped: nothing waits, so no
        // fragment appears after the multipart timeout.
        assert_eq!(s.add_sms_part("b", &part(2, "b")).unwrap(), None);
        assert_eq!(s.waiting_sms_parts().unwrap(), 0);
        assert!(s.expire_sms_parts(now_ms() + 1).unwrap().is_empty());
        // A new message that reuses the reference (different text) is still taken.
        assert_eq!(s.add_sms_part("b", &part(2, "x")).unwrap(), None);
        assert_eq!(s.waiting_sms_parts().unwrap(), 1);
        // Once the fingerprints are pruned, a repeat is taken as new again.
        assert_eq!(s.prune_sms_done(now_ms() + 1).unwrap(), 3);
    }

    #[test]
    fn a_timed_out_message_is_delivered_with_markers() {
        let s = Store::open_in_memory().unwrap();
        s.add_sms_part("b", &part(1, "a")).unwrap();
        assert!(s.expire_sms_parts(now_ms() - 60_000).unwrap().is_empty(), "not yet");
        let ids = s.expire_sms_parts(now_ms() + 1).unwrap();
        assert_eq!(ids.len(), 1);
        assert_eq!(inbox_texts(&s), vec!["a[part 2 of 3 missing][part 3 of 3 missing]"]);
        assert_eq!(s.waiting_sms_parts().unwrap(), 0);
    }
}
