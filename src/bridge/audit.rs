//! The audit log, on the bridge's side: what an outgoing message's record says of it, and
//! `audit [since] [until] [number] [keyword=K]`, which uploads a period's records as CSV to
//! an admin's management room. The records themselves are written by the store.

use serde_json::json;

use super::{Bridge, BridgeError};
use crate::config::Permission;
use crate::store::{AuditQuery, OutAudit, Store, audit_csv, now_ms};

/// The period `audit` exports when none is given.
const DEFAULT_DAYS: i64 = 7;

const USAGE: &str =
    "Usage: audit [since] [until] [number] [keyword=K], e.g. audit 2026-12-01 2026-12-07 keyword=weather";

impl Bridge {
    /// The record of a text sent by `origin`: its parts and encoding as the link will send it.
    pub(super) fn out_audit<'a>(&self, origin: &'a str, text: &str) -> OutAudit<'a> {
        let (encoding, parts) = self.encoding_and_parts(text).unwrap_or(("", 0));
        OutAudit { origin, keyword: None, parts, encoding }
    }

    /// Forgets audit records older than `audit.retention_days` (its own retention, apart
    /// from the database's); returns how many.
    pub fn prune_audit(&self) -> Result<usize, BridgeError> {
        let days = self.config.audit.retention_days as i64;
        if days == 0 {
            return Ok(0);
        }
        Ok(self.store.prune_audit(days * 24 * 3600 * 1000)?)
    }

    /// `audit …` in a management room: admins only.
    pub(super) async fn cmd_audit(
        &self,
        sender: &str,
        room: &str,
        event_id: &str,
        args: &str,
    ) -> Result<String, BridgeError> {
        if self.permission(sender) < Permission::Admin {
            return Ok("Only bridge admins can export the audit log.".into());
        }
        if self.store.management_room_owner(room)?.as_deref() != Some(sender) {
            return Ok("Ask for the audit log in your management room.".into());
        }
        let q = match audit_query(args, now_ms()) {
            Ok(q) => q,
            Err(e) => return Ok(format!("{e}. {USAGE}")),
        };
        let records = self.store.audit_records(&q)?;
        let name = format!("audit-{}-{}.csv", day(q.since), day(q.until - 1));
        let data = audit_csv(&records).into_bytes();
        let size = data.len();
        // A command handled again after a crash reuses its upload and posts the file once.
        let upload_key = format!("audit:{event_id}/upload");
        let mxc = match self.store.sent_event(&upload_key)? {
            Some(mxc) => mxc,
            None => {
                let mxc = self.matrix.upload(&self.bot, "text/csv", &name, data).await?;
                self.store.record_sent_event(&upload_key, &mxc)?;
                mxc
            }
        };
        let content = json!({
            "msgtype": "m.file", "body": name, "filename": name, "url": mxc,
            "info": { "mimetype": "text/csv", "size": size },
        });
        self.store.once("audit", &format!("file:{event_id}"), |tx| {
            Store::enqueue_matrix(tx, room, &self.bot, "message", "m.room.message", &content).map(|_| ())
        })?;
        self.wake.matrix_out.notify_one();
        let filters =
            [q.number.as_ref().map(|n| format!(" for {n}")), q.keyword.as_ref().map(|k| format!(" keyword {k}"))];
        Ok(format!(
            "Audit log {} to {}{}: {} records, in {name}.",
            day(q.since),
            day(q.until - 1),
            filters.into_iter().flatten().collect::<String>(),
            records.len()
        ))
    }
}

/// Reads `[since] [until] [number] [keyword=K]`: dates or times in order, the rest the
/// number (it may be typed with spaces). Without dates: the last week up to `now`.
fn audit_query(args: &str, now: i64) -> Result<AuditQuery, String> {
    let mut bounds = Vec::new();
    let mut number = Vec::new();
    let mut keyword = None;
    for word in args.split_whitespace() {
        if let Some(k) = word.strip_prefix("keyword=") {
            keyword = Some(k.to_string());
        } else if looks_like_date(word) {
            if bounds.len() == 2 {
                return Err(format!("{word:?}: at most two times, since and until"));
            }
            bounds.push(crate::when::parse_bound(word, bounds.len() == 1)?.as_millisecond());
        } else {
            number.push(word);
        }
    }
    let since = bounds.first().copied().unwrap_or(now - DEFAULT_DAYS * 24 * 3600 * 1000);
    let until = bounds.get(1).copied().unwrap_or(now + 1);
    if until <= since {
        return Err("the end of the period is before its start".into());
    }
    let number = (!number.is_empty()).then(|| number.join(" "));
    Ok(AuditQuery { since, until, number, keyword })
}

/// `2026-12-01…`: four digits and a dash (a number typed as `555-123-4567` is not).
fn looks_like_date(word: &str) -> bool {
    let b = word.as_bytes();
    b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-'
}

fn day(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.strftime("%Y-%m-%d").to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEC1: i64 = 1_796_083_200_000;

    #[test]
    fn dates_then_the_number_and_keyword() {
        let q = audit_query("2026-12-01 2026-12-07 +1 555-123-4567 keyword=Weather", 0).unwrap();
        assert_eq!((q.since, q.until), (DEC1, DEC1 + 7 * 86_400_000));
        assert_eq!(q.number.as_deref(), Some("+1 555-123-4567"));
        assert_eq!(q.keyword.as_deref(), Some("Weather"));
    }

    #[test]
    fn without_dates_the_last_week() {
        let now = DEC1 + 5;
        let q = audit_query("", now).unwrap();
        assert_eq!((q.since, q.until, q.number, q.keyword), (now - 7 * 86_400_000, now + 1, None, None));
        // Only a start: up to now.
        let q = audit_query("2026-11-30T12:00:00Z", now).unwrap();
        assert_eq!((q.since, q.until), (DEC1 - 43_200_000, now + 1));
    }

    #[test]
    fn bad_periods_are_refused() {
        assert!(audit_query("2026-12-07 2026-12-01", 0).unwrap_err().contains("before its start"));
        assert!(audit_query("2026-13-01", 0).unwrap_err().contains("2026-13-01"));
        assert!(audit_query("2026-12-01 2026-12-02 2026-12-03", 0).unwrap_err().contains("at most two"));
    }
}
