//! Matrix → SMS jobs and the backend message ids they were sent as.

use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::{Result, Store, now_ms};
use crate::message::BinarySms;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutState {
    /// Waiting for its turn (or its next attempt).
    Queued,
    /// Handed to the link, no answer yet. Reset to queued after a crash.
    Sending,
    /// Accepted by the link.
    Sent,
    /// The link reported delivery to the phone.
    Delivered,
    /// Refused for good by the link or the network.
    Failed,
    /// Gave up after too many temporary failures.
    Dead,
}

impl OutState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutState::Queued => "queued",
            OutState::Sending => "sending",
            OutState::Sent => "sent",
            OutState::Delivered => "delivered",
            OutState::Failed => "failed",
            OutState::Dead => "dead",
        }
    }

    fn parse(s: &str) -> OutState {
        match s {
            "queued" => OutState::Queued,
            "sending" => OutState::Sending,
            "sent" => OutState::Sent,
            "delivered" => OutState::Delivered,
            "failed" => OutState::Failed,
            _ => OutState::Dead,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutJob {
    pub id: i64,
    pub portal_id: i64,
    pub backend_id: String,
    pub room_id: String,
    pub event_id: String,
    pub destination: String,
    pub body: String,
    pub state: OutState,
    pub attempts: u32,
    /// Retries stop here: the message fails as not sent in time.
    pub expires_at: i64,
    /// Our number it leaves from; None for the link's own.
    pub sender: Option<String>,
    /// Some of its parts were taken by the link already (see [`Store::accepted_parts`]).
    pub parts_out: bool,
    /// Scheduled: not sent before this (Unix ms).
    pub not_before: Option<i64>,
    /// The network gives it up after this (Unix ms): the validity it is sent with.
    pub valid_until: Option<i64>,
    /// Message class 0-3.
    pub class: Option<u8>,
    /// 8-bit data sent instead of the body.
    pub binary: Option<BinarySms>,
}

// `message_map` has no `id` column, so the bare `id` in its subquery is the outbox row's.
const COLS: &str = "id, portal_id, backend_id, room_id, event_id, destination, body, state, attempts, \
     coalesce(expires_at, created_at + 86400000), sender, EXISTS (SELECT 1 FROM message_map WHERE outbox_id = id), \
     not_before, valid_until, class, udh, data";

fn job(r: &Row) -> rusqlite::Result<OutJob> {
    Ok(OutJob {
        id: r.get(0)?,
        portal_id: r.get(1)?,
        backend_id: r.get(2)?,
        room_id: r.get(3)?,
        event_id: r.get(4)?,
        destination: r.get(5)?,
        body: r.get(6)?,
        state: OutState::parse(&r.get::<_, String>(7)?),
        attempts: r.get(8)?,
        expires_at: r.get(9)?,
        sender: r.get(10)?,
        parts_out: r.get(11)?,
        not_before: r.get(12)?,
        valid_until: r.get(13)?,
        class: r.get(14)?,
        binary: match r.get::<_, Option<Vec<u8>>>(16)? {
            Some(data) => Some(BinarySms { udh: r.get::<_, Option<Vec<u8>>>(15)?.unwrap_or_default(), data }),
            None => None,
        },
    })
}

/// What a delivery report's message id points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportTarget {
    /// One part of this job, under this key.
    Part {
        job: i64,
        key: String,
    },
    /// Several waiting messages have a part with another spelling of the id.
    Ambiguous,
    Unknown,
}

/// What to send: filled in by the bridge, id and state by the store.
#[derive(Default)]
pub struct NewOutJob<'a> {
    pub portal_id: i64,
    pub backend_id: &'a str,
    pub room_id: &'a str,
    pub event_id: &'a str,
    pub destination: &'a str,
    pub body: &'a str,
    pub expires_at: i64,
    /// Our number it leaves from, when not the link's own.
    pub sender: Option<&'a str>,
    /// Scheduled: not sent before this (Unix ms).
    pub not_before: Option<i64>,
    /// The network gives it up after this (Unix ms).
    pub valid_until: Option<i64>,
    pub class: Option<u8>,
    pub binary: Option<&'a BinarySms>,
    /// Who sent it and its shape, for the audit log.
    pub audit: super::OutAudit<'a>,
}

impl Store {
    /// Queues a message; a Matrix event is queued at most once.
    pub fn enqueue_out(tx: &Transaction, j: &NewOutJob) -> Result<Option<i64>> {
        let now = now_ms();
        let n = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO outbox (portal_id, backend_id, room_id, event_id, destination, body, state, next_attempt_at, created_at, updated_at, expires_at, sender, not_before, valid_until, class, udh, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?7, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?
            .execute(params![
                j.portal_id,
                j.backend_id,
                j.room_id,
                j.event_id,
                j.destination,
                j.body,
                now,
                j.expires_at,
                j.sender,
                j.not_before,
                j.valid_until,
                j.class,
                j.binary.map(|b| &b.udh),
                j.binary.map(|b| &b.data)
            ])?;
        if n == 0 {
            return Ok(None);
        }
        let id = tx.last_insert_rowid();
        Store::audit_out_tx(tx, id, j.backend_id, j.sender, j.portal_id, j.destination, j.body, &j.audit)?;
        Ok(Some(id))
    }

    /// Due jobs for a backend, at most one per portal: the oldest unsent one, so messages
    /// to the same person never overtake each other. A scheduled message not yet due is
    /// not in the queue of its conversation yet: it holds up nothing.
    pub fn due_out(&self, backend_id: &str, limit: usize) -> Result<Vec<OutJob>> {
        self.read(|c| {
            let sql = format!(
                "SELECT {COLS} FROM outbox o WHERE o.backend_id = ?1 AND o.state = 'queued' AND o.next_attempt_at <= ?2
                 AND coalesce(o.not_before, 0) <= ?2
                 AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.portal_id = o.portal_id AND p.id < o.id AND p.state IN ('queued', 'sending')
                                 AND coalesce(p.not_before, 0) <= ?2)
                 ORDER BY o.id"
            );
            // No `LIMIT ?`: SQLite plans with a LIMIT's bound value, so a limit that varies
            // (the link's free room does) would re-prepare the statement on every call. The
            // rows come in index order, read only as far as they are taken.
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![backend_id, now_ms()], job)?;
            Ok(rows.take(limit).collect::<rusqlite::Result<_>>()?)
        })
    }

    /// A portal's messages waiting for their scheduled time, soonest first.
    pub fn scheduled_out(&self, portal_id: i64) -> Result<Vec<OutJob>> {
        self.with(|c| {
            let sql = format!(
                "SELECT {COLS} FROM outbox WHERE portal_id = ?1 AND state = 'queued' AND not_before > ?2 ORDER BY not_before, id"
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![portal_id, now_ms()], job)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// The conversation of an outbox job: (link, our number, their number).
    pub fn job_conversation_tx(tx: &Transaction, event_id: &str) -> Result<Option<(String, String, String)>> {
        Ok(tx
            .prepare_cached(
                "SELECT o.backend_id, p.local_number, o.destination FROM outbox o JOIN portals p ON p.id = o.portal_id
                 WHERE o.event_id = ?1",
            )?
            .query_row([event_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?)
    }

    pub fn out_job(&self, id: i64) -> Result<Option<OutJob>> {
        self.with(|c| Ok(c.query_row(&format!("SELECT {COLS} FROM outbox WHERE id = ?1"), [id], job).optional()?))
    }

    pub fn out_job_by_event(&self, event_id: &str) -> Result<Option<OutJob>> {
        self.with(|c| {
            Ok(c.query_row(&format!("SELECT {COLS} FROM outbox WHERE event_id = ?1"), [event_id], job).optional()?)
        })
    }

    pub fn set_out_state(&self, id: i64, state: OutState, error: Option<&str>) -> Result<()> {
        self.tx(|tx| Store::set_out_state_tx(tx, id, state, error))
    }

    /// Changes a job's state as part of a larger commit (with its status events).
    pub fn set_out_state_tx(tx: &Transaction, id: i64, state: OutState, error: Option<&str>) -> Result<()> {
        tx.prepare_cached(
            "UPDATE outbox SET state = ?1, last_error = coalesce(?2, last_error), updated_at = ?3 WHERE id = ?4",
        )?
        .execute(params![state.as_str(), error, now_ms(), id])?;
        Ok(())
    }

    /// Cancels a message that has not left yet (its event was redacted). Returns the state
    /// it was found in and how many of its parts the link had taken already: `Queued` means
    /// it is now cancelled, `Sending` that it will not be tried again if the link does not
    /// take it now; None that there is no such job.
    pub fn cancel_out_tx(tx: &Transaction, event_id: &str) -> Result<Option<(OutState, usize)>> {
        let found: Option<(i64, String)> = tx
            .prepare_cached("SELECT id, state FROM outbox WHERE event_id = ?1")?
            .query_row([event_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((id, state)) = found else { return Ok(None) };
        let state = OutState::parse(&state);
        let parts_out: usize = tx
            .prepare_cached("SELECT count(*) FROM message_map WHERE outbox_id = ?1")?
            .query_row([id], |r| r.get(0))?;
        let sql = match state {
            OutState::Queued => {
                "UPDATE outbox SET state = 'failed', last_error = 'cancelled', updated_at = ?1 WHERE id = ?2"
            }
            OutState::Sending => "UPDATE outbox SET cancel_requested = 1, updated_at = ?1 WHERE id = ?2",
            _ => return Ok(Some((state, parts_out))),
        };
        tx.prepare_cached(sql)?.execute(params![now_ms(), id])?;
        Ok(Some((state, parts_out)))
    }

    /// Whether the job's message was redacted while it was being sent.
    pub fn cancel_requested(&self, id: i64) -> Result<bool> {
        self.read(|c| {
            Ok(c.prepare_cached("SELECT cancel_requested FROM outbox WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?
                .unwrap_or(false))
        })
    }

    /// Takes a queued job for sending, saying whether this is its first claim (not a retry,
    /// nor a resend after a crash); None if it is no longer queued (cancelled meanwhile).
    pub fn claim_tx(tx: &Transaction, id: i64) -> Result<Option<bool>> {
        let now = now_ms();
        let claimed: Option<i64> = tx
            .prepare_cached(
                "UPDATE outbox SET state = 'sending', updated_at = ?1, claimed_at = coalesce(claimed_at, ?1)
                 WHERE id = ?2 AND state = 'queued' RETURNING claimed_at",
            )?
            .query_row(params![now, id], |r| r.get(0))
            .optional()?;
        Ok(claimed.map(|at| at == now))
    }

    /// Marks a job sent and remembers the link's ids for its parts. False when the job was
    /// settled while it was being sent (a report failed one of its parts): it stays so.
    pub fn mark_sent(tx: &Transaction, id: i64, backend_id: &str, msg_ids: &[String]) -> Result<bool> {
        let parts: Vec<(u8, String)> = msg_ids.iter().enumerate().map(|(i, m)| (i as u8, m.clone())).collect();
        Store::accept_parts_tx(tx, backend_id, id, &parts)?;
        let n = tx
            .prepare_cached("UPDATE outbox SET state = 'sent', updated_at = ?1 WHERE id = ?2 AND state = 'sending'")?
            .execute(params![now_ms(), id])?;
        Ok(n == 1)
    }

    /// Remembers parts of a message the link accepted (index, link message id), so that a
    /// retry sends only the others and reports find their message.
    pub fn accept_parts_tx(tx: &Transaction, backend_id: &str, id: i64, parts: &[(u8, String)]) -> Result<()> {
        // A part recorded before keeps what reports said of it; an id the SMSC reused for
        // another message now means the newer one.
        let mut stmt = tx.prepare_cached(
            "INSERT INTO message_map (backend_id, backend_msg_id, outbox_id, part, state) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (backend_id, backend_msg_id) DO UPDATE
             SET outbox_id = excluded.outbox_id, part = excluded.part, state = excluded.state
             WHERE message_map.outbox_id != excluded.outbox_id",
        )?;
        for (part, m) in parts {
            // An empty id (an SMSC that gave none) would tie unrelated messages together:
            // the part is remembered as accepted under a name no report can carry.
            let (key, state) =
                if m.is_empty() { (format!("#{id}-{part}"), "unreportable") } else { (m.clone(), "sent") };
            stmt.execute(params![backend_id, key, id, part, state])?;
        }
        Ok(())
    }

    /// Parts of a message the link already accepted (index, link message id).
    pub fn accepted_parts(&self, id: i64) -> Result<Vec<(u8, String)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT part, CASE WHEN state = 'unreportable' THEN '' ELSE backend_msg_id END FROM message_map
                 WHERE outbox_id = ?1 ORDER BY part",
            )?;
            let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// The sent part a delivery report is about: by its exact id first; by another
    /// spelling of it (hex/decimal, leading zeros) only when exactly one part of a message
    /// still waiting for reports has it.
    pub fn report_target(&self, backend_id: &str, id: &str, alt_ids: &[String]) -> Result<ReportTarget> {
        self.with(|c| {
            let exact = c
                .prepare_cached(
                    "SELECT outbox_id, backend_msg_id FROM message_map WHERE backend_id = ?1 AND backend_msg_id = ?2",
                )?
                .query_row([backend_id, id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((job, key)) = exact {
                return Ok(ReportTarget::Part { job, key });
            }
            let mut found: Vec<(i64, String)> = Vec::new();
            let mut stmt = c.prepare_cached(
                "SELECT m.outbox_id, m.backend_msg_id FROM message_map m JOIN outbox o ON o.id = m.outbox_id
                 WHERE m.backend_id = ?1 AND m.backend_msg_id = ?2 AND o.state = 'sent'",
            )?;
            for alt in alt_ids.iter().filter(|a| *a != id) {
                for row in stmt.query_map([backend_id, alt.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))? {
                    let row = row?;
                    if !found.contains(&row) {
                        found.push(row);
                    }
                }
            }
            Ok(match found.len() {
                0 => ReportTarget::Unknown,
                1 => {
                    let (job, key) = found.remove(0);
                    ReportTarget::Part { job, key }
                }
                _ => ReportTarget::Ambiguous,
            })
        })
    }

    /// The oldest part sent on `backend_id` since `since_ms` whose id starts with `prefix`
    /// and that still waits for its delivery report, leaving out `skip` (ids a link matched
    /// already): for links whose reports name only the recipient.
    pub fn awaiting_report(
        &self,
        backend_id: &str,
        prefix: &str,
        skip: &[String],
        since_ms: i64,
    ) -> Result<Option<String>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT m.backend_msg_id FROM message_map m JOIN outbox o ON o.id = m.outbox_id
                 WHERE m.backend_id = ?1 AND substr(m.backend_msg_id, 1, length(?2)) = ?2
                 AND m.state = 'sent' AND o.state = 'sent' AND o.updated_at >= ?3 ORDER BY m.outbox_id, m.part",
            )?;
            let ids = stmt.query_map(params![backend_id, prefix, since_ms], |r| r.get::<_, String>(0))?;
            for id in ids {
                let id = id?;
                if !skip.contains(&id) {
                    return Ok(Some(id));
                }
            }
            Ok(None)
        })
    }

    /// Records what became of one part; returns (parts that can be reported on,
    /// delivered, failed) for its message.
    pub fn set_part_state_tx(tx: &Transaction, backend_id: &str, key: &str, state: &str) -> Result<(u32, u32, u32)> {
        tx.prepare_cached(
            "UPDATE message_map SET state = ?3 WHERE backend_id = ?1 AND backend_msg_id = ?2 AND state != 'failed'",
        )?
        .execute(params![backend_id, key, state])?;
        Ok(tx.prepare_cached(
            "SELECT count(*), coalesce(sum(state = 'delivered'), 0), coalesce(sum(state = 'failed'), 0) FROM message_map
             WHERE outbox_id = (SELECT outbox_id FROM message_map WHERE backend_id = ?1 AND backend_msg_id = ?2)
             AND state != 'unreportable'",
        )?
        .query_row(params![backend_id, key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?)
    }

    /// The job a link message id belongs to (reports go through [`Store::report_target`]).
    #[cfg(test)]
    pub fn out_job_by_backend_msg(&self, backend_id: &str, msg_id: &str) -> Result<Option<OutJob>> {
        self.with(|c| {
            let sql = format!(
                "SELECT {COLS} FROM outbox WHERE id = (SELECT outbox_id FROM message_map WHERE backend_id = ?1 AND backend_msg_id = ?2)"
            );
            Ok(c.query_row(&sql, [backend_id, msg_id], job).optional()?)
        })
    }

    /// How many sends were repeated because a crash or link drop left them unconfirmed.
    pub fn resends(&self) -> Result<i64> {
        self.with(|c| Ok(c.query_row("SELECT coalesce(sum(resends), 0) FROM outbox", [], |r| r.get(0))?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Queue;

    fn setup() -> (Store, i64) {
        let s = Store::open_in_memory().unwrap();
        let p = s.claim_portal(&crate::store::portals::test_portal()).unwrap();
        (s, p.id)
    }

    fn enqueue(s: &Store, portal: i64, ev: &str) -> Option<i64> {
        s.tx(|tx| {
            Store::enqueue_out(
                tx,
                &NewOutJob {
                    portal_id: portal,
                    backend_id: "b",
                    room_id: "!r",
                    event_id: ev,
                    destination: "2",
                    body: ev,
                    expires_at: now_ms() + 60_000,
                    sender: None,
                    ..Default::default()
                },
            )
        })
        .unwrap()
    }

    #[test]
    fn same_event_is_queued_once_and_order_is_kept() {
        let (s, p) = setup();
        let a = enqueue(&s, p, "$a").unwrap();
        assert!(enqueue(&s, p, "$a").is_none());
        let b = enqueue(&s, p, "$b").unwrap();
        // Only the head of the portal's queue is due.
        assert_eq!(s.due_out("b", 10).unwrap().iter().map(|j| j.id).collect::<Vec<_>>(), vec![a]);
        // A retry pushes the head into the future; the next message still waits for it.
        s.retry_later(Queue::Outbox, a, now_ms() + 60_000, "busy", false).unwrap();
        assert!(s.due_out("b", 10).unwrap().is_empty());
        s.set_out_state(a, OutState::Sending, None).unwrap();
        assert!(s.tx(|tx| Store::mark_sent(tx, a, "b", &["m1".into(), "m2".into()])).unwrap());
        assert_eq!(s.due_out("b", 10).unwrap()[0].id, b);
        assert_eq!(s.out_job_by_backend_msg("b", "m2").unwrap().unwrap().id, a);
    }

    #[test]
    fn reports_naming_only_the_recipient_find_the_oldest_waiting_send() {
        let (s, p) = setup();
        let a = enqueue(&s, p, "$a").unwrap();
        let b = enqueue(&s, p, "$b").unwrap();
        let c = enqueue(&s, p, "$c").unwrap();
        for (job, id) in [(a, "hl:12:1"), (b, "hl:99:2"), (c, "hl:12:3")] {
            s.set_out_state(job, OutState::Sending, None).unwrap();
            assert!(s.tx(|tx| Store::mark_sent(tx, job, "b", &[id.into()])).unwrap());
        }
        let waiting = |skip: &[String]| s.awaiting_report("b", "hl:12:", skip, now_ms() - 60_000).unwrap();
        assert_eq!(waiting(&[]).as_deref(), Some("hl:12:1"));
        assert_eq!(waiting(&["hl:12:1".into()]).as_deref(), Some("hl:12:3"));
        assert_eq!(s.awaiting_report("other", "hl:12:", &[], 0).unwrap(), None);
        // Sends older than the window are not waited on.
        assert_eq!(s.awaiting_report("b", "hl:12:", &[], now_ms() + 60_000).unwrap(), None);
        // Once reported on, a send waits no more.
        s.tx(|tx| Store::set_part_state_tx(tx, "b", "hl:12:1", "delivered")).unwrap();
        assert_eq!(waiting(&[]).as_deref(), Some("hl:12:3"));
        s.set_out_state(c, OutState::Delivered, None).unwrap();
        assert_eq!(waiting(&[]), None);
    }

    #[test]
    fn sending_jobs_are_recovered_after_a_crash() {
        let (s, p) = setup();
        let a = enqueue(&s, p, "$a").unwrap();
        s.set_out_state(a, OutState::Sending, None).unwrap();
        assert!(s.due_out("b", 10).unwrap().is_empty());
        assert_eq!(s.recover().unwrap(), 1);
        assert_eq!(s.due_out("b", 10).unwrap()[0].id, a);
        assert_eq!(s.resends().unwrap(), 1);
    }
}
