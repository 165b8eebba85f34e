//! The audit log: every message in and out, every delivery report and every policy
//! refusal, written in the commit that records the message itself, so it is never behind.
//!
//! Numbers and text reach the table only through the SQL functions `audit_number` and
//! `audit_text`, registered on the connection with the privacy settings
//! ([`Store::set_audit`]): the `*_tx` functions need no settings of their own.
//!
//! An SMS sent is recorded when it is queued and not written again while its outbox row
//! lives: an export reads its state, link ids and parts there, and the record takes them
//! when the row goes (migration 13). That keeps the log's pages out of the commits that send
//! and settle messages. An MMS's record follows its mms_out row by trigger.

use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::InboxKind;
use super::{Result, Store, now_ms};
use crate::message::DeliveryStatus;
use crate::phone::Address;

/// Whether the audit log records, and what it keeps of numbers and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSettings {
    /// Record at all (on unless `audit.enabled: false`).
    pub enabled: bool,
    /// Keep message text (off: privacy).
    pub store_text: bool,
    /// Keep numbers as keyed hashes, not in clear.
    pub hash_numbers: bool,
    /// How national numbers are read, so each number is kept in one form.
    pub region: Option<String>,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings { enabled: true, store_text: false, hash_numbers: false, region: None }
    }
}

impl AuditSettings {
    /// The `audit:` section's, numbers read in `bridge.default_region`.
    pub fn from_config(config: &crate::config::Config) -> AuditSettings {
        AuditSettings {
            enabled: config.audit.enabled,
            store_text: config.audit.store_text,
            hash_numbers: config.audit.hash_numbers,
            region: config.bridge.default_region.clone(),
        }
    }
}

/// One record, as stored (numbers perhaps hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    /// Unix ms.
    pub at: i64,
    /// `out` or `in`.
    pub direction: String,
    /// `sms`, `mms` or `report`.
    pub kind: String,
    pub link: String,
    pub local: Option<String>,
    pub remote: Option<String>,
    /// `matrix:<user>`, `api:<gateway user>`, `service:<name>`, `mqtt`; empty inbound.
    pub origin: String,
    pub keyword: Option<String>,
    pub parts: Option<i64>,
    pub encoding: Option<String>,
    /// The link's message ids, space-separated.
    pub message_ids: Option<String>,
    pub status: String,
    pub status_at: i64,
    pub reason: Option<String>,
    pub text: Option<String>,
}

/// Which records an export takes.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// From (inclusive), Unix ms.
    pub since: i64,
    /// To (exclusive), Unix ms.
    pub until: i64,
    /// Our number or theirs, in any form (hashed as the log hashes it).
    pub number: Option<String>,
    /// The keyword, in any case.
    pub keyword: Option<String>,
}

/// Who sent an outgoing message and what it is, for its record.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutAudit<'a> {
    pub origin: &'a str,
    /// A keyword service's reply: the keyword it answers.
    pub keyword: Option<&'a str>,
    /// SMS parts it takes; 0: not known.
    pub parts: usize,
    /// `gsm7`, `ucs2`, `8bit`; empty: not known.
    pub encoding: &'a str,
}

/// The settings and key the SQL functions read; shared with the closures.
#[derive(Default)]
pub(super) struct Privacy {
    /// Shared, not copied, by each call of the SQL functions (several per message).
    settings: Mutex<Arc<AuditSettings>>,
    key: Mutex<Option<ring::hmac::Key>>,
}

impl Privacy {
    fn settings(&self) -> Arc<AuditSettings> {
        self.settings.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// One number in the form the log keeps: E.164 where it reads as a number, hashed if
    /// so configured.
    fn number(&self, raw: &str, s: &AuditSettings) -> String {
        let raw = raw.trim();
        let canonical = Address::parse_cached(raw, s.region.as_deref()).destination.unwrap_or_else(|| raw.to_string());
        if !s.hash_numbers {
            return canonical;
        }
        let key = self.key.lock().unwrap_or_else(PoisonError::into_inner);
        match key.as_ref() {
            Some(key) => {
                let tag = ring::hmac::sign(key, canonical.as_bytes());
                let hex: String = tag.as_ref()[..12].iter().map(|b| format!("{b:02x}")).collect();
                format!("h:{hex}")
            }
            // No key (cannot happen after the migration): keep nothing rather than clear.
            None => "h:?".into(),
        }
    }
}

/// `text` with every number in it (a run of 6 or more digits, with its `+`) put as `…`:
/// reasons name the number they are about, and a hashed log shows none.
fn scrub_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let digits = run.chars().filter(char::is_ascii_digit).count();
        out.push_str(if digits >= 6 { "…" } else { run });
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || (c == '+' && run.is_empty()) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Registers `audit_number(x)` and `audit_text(x)` on `conn`, and reads the hash key.
pub(super) fn register(conn: &Connection, privacy: &Arc<Privacy>) -> Result<()> {
    let key: Option<Vec<u8>> = conn.query_row("SELECT key FROM audit_key LIMIT 1", [], |r| r.get(0)).optional()?;
    *privacy.key.lock().unwrap_or_else(PoisonError::into_inner) =
        key.map(|k| ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &k));
    let flags = FunctionFlags::SQLITE_UTF8;
    let p = privacy.clone();
    conn.create_scalar_function("audit_number", 1, flags, move |ctx| {
        let Some(raw) = ctx.get::<Option<String>>(0)? else { return Ok(None) };
        let s = p.settings();
        // A group's numbers each on their own, so any one of them can be looked up.
        let list: Vec<String> = raw.split(',').filter(|n| !n.trim().is_empty()).map(|n| p.number(n, &s)).collect();
        Ok(Some(list.join(",")))
    })?;
    let p = privacy.clone();
    conn.create_scalar_function("audit_scrub", 1, flags, move |ctx| {
        let text = ctx.get::<Option<String>>(0)?;
        let s = p.settings();
        Ok(text.map(|t| if s.hash_numbers { scrub_numbers(&t) } else { t }))
    })?;
    // audit_scrub(text, hashed): also when the record it is for has hashed numbers.
    let p = privacy.clone();
    conn.create_scalar_function("audit_scrub", 2, flags, move |ctx| {
        let text = ctx.get::<Option<String>>(0)?;
        let hashed = ctx.get::<Option<bool>>(1)?.unwrap_or(false);
        Ok(text.map(|t| if hashed || p.settings().hash_numbers { scrub_numbers(&t) } else { t }))
    })?;
    let p = privacy.clone();
    conn.create_scalar_function("audit_on", 0, flags, move |_| Ok(p.settings().enabled))?;
    let p = privacy.clone();
    conn.create_scalar_function("audit_text", 1, flags, move |ctx| {
        let text = ctx.get::<Option<String>>(0)?;
        Ok(text.filter(|_| p.settings().store_text))
    })?;
    Ok(())
}

/// Notes the record just added (if `added`) in the row it records (`table`'s row `id`): its
/// changes find the record by that rowid (the log has no other index).
fn linked(tx: &Transaction, added: usize, table: &str, id: i64) -> Result<()> {
    if added == 0 {
        return Ok(());
    }
    let sql = match table {
        "outbox" => "UPDATE outbox SET audit_id = last_insert_rowid() WHERE id = ?1",
        "mms_out" => "UPDATE mms_out SET audit_id = last_insert_rowid() WHERE id = ?1",
        "inbox" => "UPDATE inbox SET audit_id = last_insert_rowid() WHERE id = ?1",
        _ => "UPDATE mms_in SET audit_id = last_insert_rowid() WHERE id = ?1",
    };
    tx.prepare_cached(sql)?.execute([id])?;
    Ok(())
}

/// The first record written at or after `at` (Unix ms), or past the last: records are
/// written in time order, so their rowids are searched by halves. (A record written after
/// the clock was set back could be missed at a period's start.)
fn first_at_or_after(c: &Connection, at: i64) -> Result<i64> {
    let mut next = c.prepare_cached("SELECT id, at FROM audit WHERE id >= ?1 ORDER BY id LIMIT 1")?;
    let (mut lo, mut hi): (i64, i64) =
        c.query_row("SELECT coalesce(min(id), 1), coalesce(max(id), 0) + 1 FROM audit", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    // The least x whose next record (the first at or after rowid x) is recent enough or
    // missing; it is in lo..=hi (hi is past the last record).
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match next.query_row([mid], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))).optional()? {
            Some((id, t)) if t < at => lo = id + 1,
            _ => hi = mid,
        }
    }
    Ok(lo)
}

/// A record's columns, as an export reads them: an SMS still in the outbox (`o`) has its
/// state there, the record its state from before (see migration 13's `outbox_gone`).
const COLS: &str = "a.id, a.at, a.direction, a.kind, a.link, a.local, a.remote, a.origin, a.keyword,
    CASE WHEN o.id IS NULL THEN a.parts
         ELSE nullif(max(coalesce(a.parts, 0), (SELECT count(*) FROM message_map m WHERE m.outbox_id = o.id)), 0) END,
    a.encoding,
    CASE WHEN o.id IS NULL THEN a.message_ids
         ELSE coalesce((SELECT group_concat(CASE WHEN m.state = 'unreportable' THEN '-' ELSE m.backend_msg_id END, ' ' ORDER BY m.part)
                        FROM message_map m WHERE m.outbox_id = o.id), a.message_ids) END,
    CASE WHEN o.id IS NULL OR a.status = 'refused' THEN a.status
         WHEN o.state IN ('queued', 'sending') THEN 'queued'
         WHEN o.state IN ('dead', 'dropped', 'failed') THEN 'failed'
         ELSE o.state END,
    CASE WHEN o.id IS NULL OR o.state IN ('queued', 'sending') THEN a.status_at ELSE o.updated_at END,
    CASE WHEN o.id IS NULL OR a.status = 'refused' THEN a.reason
         WHEN o.state IN ('dead', 'dropped', 'failed') THEN o.last_error END,
    a.text";

/// The audit table with the outbox row each SMS record follows, while it lives.
const FROM: &str = "audit a LEFT JOIN outbox o ON a.source = 'outbox' AND o.id = a.source_id AND o.audit_id = a.id";

fn record(r: &Row) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        id: r.get(0)?,
        at: r.get(1)?,
        direction: r.get(2)?,
        kind: r.get(3)?,
        link: r.get(4)?,
        local: r.get(5)?,
        remote: r.get(6)?,
        origin: r.get(7)?,
        keyword: r.get(8)?,
        parts: r.get(9)?,
        encoding: r.get(10)?,
        message_ids: r.get(11)?,
        status: r.get(12)?,
        status_at: r.get(13)?,
        reason: r.get(14)?,
        text: r.get(15)?,
    })
}

impl Store {
    /// Sets what the audit log keeps from now on (the bridge's `audit:` settings).
    pub fn set_audit(&self, settings: AuditSettings) {
        *self.privacy.settings.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(settings);
    }

    /// Records a message queued for sending (outbox row `outbox_id`), in its commit.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn audit_out_tx(
        tx: &Transaction,
        outbox_id: i64,
        link: &str,
        local: Option<&str>,
        portal_id: i64,
        remote: &str,
        text: &str,
        a: &OutAudit,
    ) -> Result<()> {
        let now = now_ms();
        let added = tx
            .prepare_cached(
                "INSERT INTO audit (at, direction, kind, link, local, remote, origin, keyword, parts, encoding, status, status_at, text, source, source_id)
             SELECT ?1, 'out', 'sms', ?2, audit_number(coalesce(?3, (SELECT local_number FROM portals WHERE id = ?4))), audit_number(?5),
                     ?6, ?7, nullif(?8, 0), nullif(?9, ''), 'queued', ?1, audit_text(?10), 'outbox', ?11 WHERE audit_on()",
            )?
            .execute(params![now, link, local, portal_id, remote, a.origin, a.keyword, a.parts, a.encoding, text, outbox_id])?;
        linked(tx, added, "outbox", outbox_id)
    }

    /// Records an MMS queued for sending (mms_out row `id`), in its commit.
    pub(super) fn audit_mms_out_tx(
        tx: &Transaction,
        id: i64,
        link: &str,
        portal_id: i64,
        recipients: &str,
        origin: &str,
        text: &str,
    ) -> Result<()> {
        let now = now_ms();
        let added = tx
            .prepare_cached(
                "INSERT INTO audit (at, direction, kind, link, local, remote, origin, status, status_at, text, source, source_id)
             SELECT ?1, 'out', 'mms', ?2, audit_number((SELECT local_number FROM portals WHERE id = ?3)), audit_number(?4),
                     ?5, 'queued', ?1, audit_text(nullif(?6, '')), 'mms_out', ?7 WHERE audit_on()",
            )?
            .execute(params![now, link, portal_id, recipients, origin, text, id])?;
        linked(tx, added, "mms_out", id)
    }

    /// Records what a link handed us (inbox row `id`): an SMS, or a delivery report with
    /// the message it is about where that is known already.
    pub(super) fn audit_inbox_tx(tx: &Transaction, id: i64, link: &str, item: &InboxKind) -> Result<()> {
        let now = now_ms();
        let added = match item {
            InboxKind::Sms(sms) => tx.prepare_cached(
                    "INSERT INTO audit (at, direction, kind, link, local, remote, status, status_at, text, source, source_id)
                     SELECT ?1, 'in', 'sms', ?2, audit_number(nullif(?3, '')), audit_number(?4), 'received', ?1, audit_text(?5), 'inbox', ?6 WHERE audit_on()",
                )?
            .execute(params![now, link, sms.to, sms.from, sms.text, id])?,
            InboxKind::Report(r) => {
                let status = match r.status {
                    DeliveryStatus::Delivered => "delivered",
                    DeliveryStatus::Failed => "failed",
                    DeliveryStatus::Pending => "pending",
                };
                tx.prepare_cached(
                    "INSERT INTO audit (at, direction, kind, link, local, remote, message_ids, status, status_at, reason, source, source_id)
                     SELECT ?1, 'in', 'report', ?2, audit_number(coalesce(o.sender, p.local_number)), audit_number(o.destination),
                            ?3, ?4, ?1, audit_scrub(?5), 'inbox', ?6
                     FROM (SELECT 1) LEFT JOIN message_map m ON m.backend_id = ?2 AND m.backend_msg_id = ?3
                     LEFT JOIN outbox o ON o.id = m.outbox_id LEFT JOIN portals p ON p.id = o.portal_id WHERE audit_on()",
                )?
                .execute(params![now, link, r.message_id, status, r.detail, id])?
            }
            // A WAP push is recorded as the MMS it announces; an application's message
            // was recorded when it was queued.
            InboxKind::WapPush(_) | InboxKind::AppSent(_) => 0,
        };
        linked(tx, added, "inbox", id)
    }

    /// What the applications' side learnt of an SMS received (inbox row `inbox_id`): our
    /// number when the link left it out, and the keyword service that took it.
    pub fn audit_inbound_seen_tx(tx: &Transaction, inbox_id: i64, local: &str, keyword: Option<&str>) -> Result<()> {
        tx.prepare_cached(
            "UPDATE audit SET local = coalesce(local, audit_number(nullif(?2, ''))), keyword = coalesce(?3, keyword)
             WHERE id = (SELECT audit_id FROM inbox WHERE id = ?1) AND source = 'inbox' AND source_id = ?1 AND kind = 'sms'",
        )?
        .execute(params![inbox_id, local, keyword])?;
        Ok(())
    }

    /// Records an MMS received (mms_in row `id`), once however often it is announced.
    pub(super) fn audit_mms_in_tx(tx: &Transaction, id: i64, link: &str, local: &str, remote: &str) -> Result<()> {
        let added = tx
            .prepare_cached(
                "INSERT INTO audit (at, direction, kind, link, local, remote, status, status_at, source, source_id)
             SELECT ?1, 'in', 'mms', ?2, audit_number(nullif(?3, '')), audit_number(?4), 'received', ?1, 'mms_in', ?5
             WHERE (SELECT audit_id FROM mms_in WHERE id = ?5) IS NULL AND audit_on()",
            )?
            .execute(params![now_ms(), link, local, remote, id])?;
        linked(tx, added, "mms_in", id)
    }

    /// Records a message policy refused, in the caller's commit. `origin` as in
    /// [`OutAudit::origin`]; `reason` names the rule.
    pub fn audit_refused_tx(
        tx: &Transaction,
        link: &str,
        local: &str,
        remote: &str,
        origin: &str,
        text: &str,
        reason: &str,
    ) -> Result<()> {
        let now = now_ms();
        tx.prepare_cached(
            "INSERT INTO audit (at, direction, kind, link, local, remote, origin, status, status_at, reason, text)
             SELECT ?1, 'out', 'sms', ?2, audit_number(nullif(?3, '')), audit_number(nullif(?4, '')), ?5, 'refused', ?1, audit_scrub(?6), audit_text(?7) WHERE audit_on()",
        )?
        .execute(params![now, link, local, remote, origin, reason, text])?;
        Ok(())
    }

    /// Records a queued message as refused by policy when a link was to take it, after its
    /// failure (the reason): it was a rule, not the network.
    pub fn audit_out_refused_tx(tx: &Transaction, outbox_id: i64) -> Result<()> {
        tx.prepare_cached(
            "UPDATE audit SET status = 'refused', status_at = ?2,
                 reason = audit_scrub((SELECT last_error FROM outbox WHERE id = ?1))
             WHERE id = (SELECT audit_id FROM outbox WHERE id = ?1) AND source = 'outbox' AND source_id = ?1",
        )?
        .execute(params![outbox_id, now_ms()])?;
        Ok(())
    }

    /// [`Store::audit_refused_tx`] in a commit of its own (a refusal answered before
    /// anything else is committed).
    pub fn audit_refused(
        &self,
        link: &str,
        local: &str,
        remote: &str,
        origin: &str,
        text: &str,
        reason: &str,
    ) -> Result<()> {
        self.tx(|tx| Store::audit_refused_tx(tx, link, local, remote, origin, text, reason))
    }

    /// The records of a period, oldest first.
    pub fn audit_records(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>> {
        // The number asked for, in the form the log keeps (hashed as it hashes); read on
        // the read-only connection, so a long export holds up no commit.
        let settings = self.privacy.settings();
        let number = q.number.as_deref().map(|n| self.privacy.number(n, &settings));
        let mut records: Vec<AuditRecord> = self.read(|c| {
            let (first, past) = (first_at_or_after(c, q.since)?, first_at_or_after(c, q.until)?);
            let sql = format!(
                "SELECT {COLS} FROM {FROM} WHERE a.id >= ?5 AND a.id < ?6 AND a.at >= ?1 AND a.at < ?2
                 AND (?3 IS NULL OR a.local = ?3 OR instr(',' || a.remote || ',', ',' || ?3 || ',') > 0)
                 AND (?4 IS NULL OR a.keyword = ?4 COLLATE NOCASE)
                 ORDER BY a.at, a.id"
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![q.since, q.until, number, q.keyword, first, past], record)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })?;
        // A reason read from the outbox is as the link gave it: scrubbed as the log hashes,
        // or as the record was hashed.
        for r in &mut records {
            let hashed = [&r.local, &r.remote].iter().any(|n| n.as_deref().is_some_and(|n| n.starts_with("h:")));
            if settings.hash_numbers || hashed {
                r.reason = r.reason.take().map(|why| scrub_numbers(&why));
            }
        }
        Ok(records)
    }

    /// Forgets records older than `retention_ms` (`audit.retention_days`), oldest first;
    /// returns how many.
    pub fn prune_audit(&self, retention_ms: i64) -> Result<usize> {
        let cutoff = now_ms() - retention_ms;
        let mut total = 0;
        loop {
            // From the oldest row (the log has no time index: see migration 13), up to the
            // first that is recent enough.
            let n = self.with(|c| {
                Ok(c.prepare_cached(
                    "DELETE FROM audit WHERE id IN (SELECT id FROM audit ORDER BY id LIMIT 2000) AND at < ?1",
                )?
                .execute([cutoff])?)
            })?;
            total += n;
            if n < 2000 {
                return Ok(total);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{DeliveryReport, ReceivedSms};
    use crate::store::{NewOutJob, OutState};

    const BOB: &str = "+15551234567";
    const OURS: &str = "+15550001111";

    fn store(settings: AuditSettings) -> (Store, i64) {
        let s = Store::open_in_memory().unwrap();
        s.set_audit(AuditSettings { region: Some("US".into()), ..settings });
        let portal = crate::store::Portal {
            local_number: OURS.into(),
            remote_key: "15551234567".into(),
            remote_destination: Some(BOB.into()),
            ..crate::store::portals::test_portal()
        };
        let p = s.claim_portal(&portal).unwrap();
        (s, p.id)
    }

    fn send(s: &Store, portal: i64, ev: &str, body: &str) -> i64 {
        let audit = OutAudit { origin: "matrix:@a:x", keyword: None, parts: 1, encoding: "gsm7" };
        let job = NewOutJob {
            portal_id: portal,
            backend_id: "b",
            event_id: ev,
            destination: BOB,
            body,
            expires_at: now_ms() + 60_000,
            audit,
            ..Default::default()
        };
        s.tx(|tx| Store::enqueue_out(tx, &job)).unwrap().unwrap()
    }

    fn receive(s: &Store, from: &str, text: &str) -> i64 {
        let sms = ReceivedSms { from: from.into(), to: String::new(), text: text.into(), timestamp_ms: None };
        s.insert_inbox("b", &InboxKind::Sms(sms)).unwrap()
    }

    fn all(s: &Store) -> Vec<AuditRecord> {
        s.audit_records(&AuditQuery { since: 0, until: i64::MAX, ..Default::default() }).unwrap()
    }

    #[test]
    fn an_outgoing_message_is_followed_to_its_final_status() {
        let (s, p) = store(AuditSettings::default());
        let id = send(&s, p, "$a", "hello");
        let r = &all(&s)[0];
        assert_eq!((r.direction.as_str(), r.kind.as_str(), r.link.as_str()), ("out", "sms", "b"));
        assert_eq!((r.local.as_deref(), r.remote.as_deref()), (Some(OURS), Some(BOB)));
        assert_eq!((r.origin.as_str(), r.parts, r.encoding.as_deref()), ("matrix:@a:x", Some(1), Some("gsm7")));
        assert_eq!((r.status.as_str(), r.text.as_deref(), r.message_ids.as_deref()), ("queued", None, None));
        s.set_out_state(id, OutState::Sending, None).unwrap();
        s.tx(|tx| Store::mark_sent(tx, id, "b", &["m1".into(), "m2".into()])).unwrap();
        let r = &all(&s)[0];
        assert_eq!((r.status.as_str(), r.message_ids.as_deref(), r.parts), ("sent", Some("m1 m2"), Some(2)));
        s.set_out_state(id, OutState::Failed, Some("UNDELIV err:001")).unwrap();
        let r = &all(&s)[0];
        assert_eq!((r.status.as_str(), r.reason.as_deref()), ("failed", Some("UNDELIV err:001")));
        assert!(r.status_at >= r.at);
        // Only its own record follows it.
        assert_eq!(all(&s).len(), 1);
        // Pruned from the outbox, the record keeps what it last showed.
        let before = all(&s);
        s.prune(Some(-1)).unwrap();
        assert!(s.out_job(id).unwrap().is_none());
        assert_eq!(all(&s), before);
        let stored: (String, String, i64) = s
            .with(|c| {
                Ok(c.query_row("SELECT status, message_ids, parts FROM audit", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?)
            })
            .unwrap();
        assert_eq!(stored, ("failed".into(), "m1 m2".into(), 2));
    }

    #[test]
    fn a_report_is_recorded_with_the_message_it_is_about() {
        let (s, p) = store(AuditSettings::default());
        let id = send(&s, p, "$a", "hello");
        s.set_out_state(id, OutState::Sending, None).unwrap();
        s.tx(|tx| Store::mark_sent(tx, id, "b", &["m1".into()])).unwrap();
        let report = DeliveryReport {
            message_id: "m1".into(),
            status: DeliveryStatus::Delivered,
            detail: Some("DELIVRD".into()),
            alt_ids: vec![],
        };
        s.insert_inbox("b", &InboxKind::Report(report)).unwrap();
        let r = &all(&s)[1];
        assert_eq!((r.direction.as_str(), r.kind.as_str(), r.status.as_str()), ("in", "report", "delivered"));
        assert_eq!((r.local.as_deref(), r.remote.as_deref()), (Some(OURS), Some(BOB)));
        assert_eq!((r.message_ids.as_deref(), r.reason.as_deref()), (Some("m1"), Some("DELIVRD")));
    }

    #[test]
    fn hashed_logs_keep_numbers_out_of_reasons() {
        assert_eq!(
            scrub_numbers("+15551234567 is in US, not in policy (`limits lift +15551234567`), err:001 id 12345"),
            "… is in US, not in policy (`limits lift …`), err:001 id 12345"
        );
        let (s, p) = store(AuditSettings { hash_numbers: true, ..AuditSettings::default() });
        s.audit_refused("b", OURS, BOB, "api:app", "x", &format!("{BOB} is in US, which policy.countries.block lists"))
            .unwrap();
        let id = send(&s, p, "$a", "out");
        s.set_out_state(id, OutState::Failed, Some(&format!("the network refused {BOB}"))).unwrap();
        let reasons: Vec<String> = all(&s).into_iter().filter_map(|r| r.reason).collect();
        assert_eq!(reasons, ["… is in US, which policy.countries.block lists", "the network refused …"]);
        // The outbox row gone, the table has the reason as scrubbed.
        s.prune(Some(-1)).unwrap();
        let stored: Vec<String> = s
            .with(|c| {
                let mut st = c.prepare("SELECT reason FROM audit ORDER BY id")?;
                Ok(st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?)
            })
            .unwrap();
        assert_eq!(stored, reasons);
    }

    #[test]
    fn nothing_is_recorded_when_the_log_is_off_and_the_rest_still_works() {
        let (s, p) = store(AuditSettings { enabled: false, ..AuditSettings::default() });
        let id = send(&s, p, "$a", "out");
        s.set_out_state(id, OutState::Sending, None).unwrap();
        s.tx(|tx| Store::mark_sent(tx, id, "b", &["m1".into()])).unwrap();
        receive(&s, BOB, "in");
        s.audit_refused("b", OURS, BOB, "api:app", "refused", "blocked").unwrap();
        assert!(all(&s).is_empty(), "{:?}", all(&s));
        assert_eq!(s.out_job(id).unwrap().unwrap().state, OutState::Sent);
        s.set_audit(AuditSettings::default());
        receive(&s, BOB, "in again");
        assert_eq!(all(&s).len(), 1);
    }

    #[test]
    fn text_is_kept_only_when_asked() {
        let (s, p) = store(AuditSettings::default());
        send(&s, p, "$a", "secret out");
        receive(&s, BOB, "secret in");
        s.audit_refused("b", OURS, BOB, "api:app", "secret refused", "blocked").unwrap();
        assert!(all(&s).iter().all(|r| r.text.is_none()), "{:?}", all(&s));
        s.set_audit(AuditSettings { store_text: true, ..AuditSettings::default() });
        send(&s, p, "$b", "kept out");
        receive(&s, BOB, "kept in");
        s.audit_refused("b", OURS, BOB, "api:app", "kept refused", "blocked").unwrap();
        let texts: Vec<_> = all(&s).into_iter().filter_map(|r| r.text).collect();
        assert_eq!(texts, ["kept out", "kept in", "kept refused"]);
    }

    #[test]
    fn hashed_numbers_are_not_kept_in_clear_and_still_found() {
        let (s, p) = store(AuditSettings { hash_numbers: true, ..AuditSettings::default() });
        send(&s, p, "$a", "out");
        // The link wrote the number without its plus: the same person.
        let inbox = [receive(&s, "15551234567", "in"), receive(&s, "+15559999999", "someone else")];
        let records = all(&s);
        for r in &records {
            for n in [&r.local, &r.remote].into_iter().flatten() {
                // A hash: 24 hex digits (which may hold "555" by chance, never the number).
                let hex = n.strip_prefix("h:").unwrap_or_default();
                assert!(hex.len() == 24 && hex.chars().all(|c| c.is_ascii_hexdigit()), "{n}");
            }
        }
        assert_eq!(records[0].remote, records[1].remote);
        assert_ne!(records[1].remote, records[2].remote);
        let find = |n: &str| {
            let q = AuditQuery { since: 0, until: i64::MAX, number: Some(n.into()), keyword: None };
            s.audit_records(&q).unwrap().iter().map(|r| r.id).collect::<Vec<_>>()
        };
        assert_eq!(find("+1 555-123-4567"), [records[0].id, records[1].id]);
        assert_eq!(find("(555) 999-9999"), [records[2].id]);
        // Our number is on every record: the one sent, and those received once the
        // applications' side filled it in.
        for id in inbox {
            s.tx(|tx| Store::audit_inbound_seen_tx(tx, id, OURS, None)).unwrap();
        }
        assert_eq!(find(OURS).len(), 3);
    }

    #[test]
    fn keywords_filter_in_any_case() {
        let (s, _) = store(AuditSettings::default());
        let a = receive(&s, BOB, "WEATHER today");
        receive(&s, BOB, "hello");
        s.tx(|tx| Store::audit_inbound_seen_tx(tx, a, OURS, Some("weather"))).unwrap();
        let q = AuditQuery { since: 0, until: i64::MAX, number: None, keyword: Some("Weather".into()) };
        let found = s.audit_records(&q).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].keyword.as_deref(), found[0].local.as_deref()), (Some("weather"), Some(OURS)));
    }

    #[test]
    fn pruning_takes_old_records_only() {
        let (s, p) = store(AuditSettings::default());
        send(&s, p, "$old", "old");
        send(&s, p, "$new", "new");
        let old = all(&s)[0].id;
        s.with(|c| Ok(c.execute("UPDATE audit SET at = at - 10 * 86400000 WHERE id = ?1", [old])?)).unwrap();
        assert_eq!(s.prune_audit(5 * 86_400_000).unwrap(), 1);
        let left = all(&s);
        assert_eq!(left.len(), 1);
        assert_ne!(left[0].id, old);
        assert_eq!(s.prune_audit(5 * 86_400_000).unwrap(), 0);
    }

    #[test]
    fn a_period_is_found_by_halves_over_rowids_with_gaps() {
        let (s, p) = store(AuditSettings::default());
        for i in 0..40 {
            send(&s, p, &format!("$e{i}"), "x");
        }
        // Times 1000, 1010, …, some rows gone (pruned, or their ids never used).
        s.with(|c| {
            c.execute("UPDATE audit SET at = 1000 + 10 * (id - 1)", [])?;
            c.execute("DELETE FROM audit WHERE id % 7 = 3 OR id BETWEEN 20 AND 26", [])?;
            Ok(())
        })
        .unwrap();
        let rows: Vec<(i64, i64)> = all(&s).iter().map(|r| (r.id, r.at)).collect();
        for at in [0, 999, 1000, 1001, 1015, 1020, 1185, 1190, 1250, 1390, 1391, 5000] {
            let want = rows.iter().find(|(_, t)| *t >= at).map_or(41, |(id, _)| *id);
            let got = s.read(|c| first_at_or_after(c, at)).unwrap();
            // The first id at or after `got` is the first record of the period.
            let next = rows.iter().find(|(id, _)| *id >= got).map_or(41, |(id, _)| *id);
            assert_eq!(next, want, "at {at}: got {got}");
            let q = AuditQuery { since: at, until: i64::MAX, number: None, keyword: None };
            let found: Vec<i64> = s.audit_records(&q).unwrap().iter().map(|r| r.id).collect();
            let expected: Vec<i64> = rows.iter().filter(|(_, t)| *t >= at).map(|(id, _)| *id).collect();
            assert_eq!(found, expected, "at {at}");
            // And a period that ends.
            let q = AuditQuery { until: at + 95, ..q };
            let found: Vec<i64> = s.audit_records(&q).unwrap().iter().map(|r| r.id).collect();
            let expected: Vec<i64> = rows.iter().filter(|(_, t)| *t >= at && *t < at + 95).map(|(id, _)| *id).collect();
            assert_eq!(found, expected, "{at} to {}", at + 95);
        }
        s.with(|c| Ok(c.execute("DELETE FROM audit", [])?)).unwrap();
        assert_eq!(s.read(|c| first_at_or_after(c, 5)).unwrap(), 1);
    }

    #[test]
    fn refused_dead_and_dropped_keep_their_status_once_pruned() {
        let (s, p) = store(AuditSettings { hash_numbers: true, ..AuditSettings::default() });
        let (refused, dead, dropped) = (send(&s, p, "$r", "r"), send(&s, p, "$d", "d"), send(&s, p, "$x", "x"));
        // Refused when a link was to take it (as outbound does).
        let rule = format!("{BOB} has had 30 messages in the last hour");
        s.tx(|tx| {
            Store::set_out_state_tx(tx, refused, OutState::Failed, Some(&rule))?;
            Store::audit_out_refused_tx(tx, refused)
        })
        .unwrap();
        for id in [dead, dropped] {
            s.tx(|tx| Store::bury_tx(tx, crate::store::Queue::Outbox, id, &format!("gave up on {BOB}"))).unwrap();
        }
        assert!(s.drop_dead(crate::store::Queue::Outbox, dropped).unwrap());
        // Hashing turned off: records kept hashed still show no number in their reasons.
        s.set_audit(AuditSettings { region: Some("US".into()), ..AuditSettings::default() });
        let shown =
            |s: &Store| -> Vec<(String, Option<String>)> { all(s).into_iter().map(|r| (r.status, r.reason)).collect() };
        let want = vec![
            ("refused".to_string(), Some("… has had 30 messages in the last hour".to_string())),
            ("failed".into(), Some("gave up on …".into())),
            ("failed".into(), Some("gave up on …".into())),
        ];
        assert_eq!(shown(&s), want);
        let times: Vec<(i64, i64)> = all(&s).iter().map(|r| (r.at, r.status_at)).collect();
        assert!(times.iter().all(|(at, status_at)| status_at >= at), "{times:?}");
        // The refused and the dropped go from the outbox; the dead stays.
        s.prune(Some(-1)).unwrap();
        assert!(s.out_job(dropped).unwrap().is_none() && s.out_job(refused).unwrap().is_none());
        assert!(s.out_job(dead).unwrap().is_some());
        assert_eq!(shown(&s), want);
        let stored: Vec<(String, Option<String>)> = s
            .with(|c| {
                let mut st = c.prepare("SELECT status, reason FROM audit ORDER BY id")?;
                Ok(st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?)
            })
            .unwrap();
        assert_eq!((&stored[0], &stored[2]), (&want[0], &want[2]), "{stored:?}");
    }
}
