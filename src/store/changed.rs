//! Which outbox rows changed, so that the gateway's watcher compares only those with what
//! applications were told, instead of every message it ever sent.
//!
//! SQLite's update hook notes each updated outbox row as the statement runs; a note is
//! published only once the transaction that made it has ended (committed, or rolled back,
//! which makes it a harmless false alarm), so a reader that takes it sees the change. A
//! full comparison runs at the start, after an overflow, and every so often as a safety net.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use rusqlite::hooks::Action;

/// Notes kept at most; beyond, they are dropped for a full comparison.
const MAX_NOTES: usize = 100_000;
/// A full comparison at least this often.
const FULL_EVERY: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Notes {
    /// Rows updated by statements whose transaction has not ended yet.
    pending: Vec<i64>,
    /// Rows changed by ended transactions, not yet looked at.
    ready: Vec<i64>,
    /// The last full comparison, if one ran.
    full_at: Option<Instant>,
}

/// What the watcher is to compare next.
pub(super) enum Look {
    All,
    Rows(Vec<i64>),
}

#[derive(Clone, Default)]
pub(super) struct Changed(Arc<Mutex<Notes>>);

impl Changed {
    fn lock(&self) -> std::sync::MutexGuard<'_, Notes> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes the outbox rows `conn` updates.
    pub(super) fn watch(&self, conn: &Connection) {
        let me = self.clone();
        conn.update_hook(Some(move |action: Action, _db: &str, table: &str, row: i64| {
            if action == Action::SQLITE_UPDATE && table == "outbox" {
                me.lock().pending.push(row);
            }
        }));
    }

    /// The transaction that made the pending notes has ended (called with the connection
    /// still held, so no later statement's note is among them).
    pub(super) fn publish(&self) {
        let mut n = self.lock();
        if n.pending.is_empty() {
            return;
        }
        let mut pending = std::mem::take(&mut n.pending);
        if n.ready.len() + pending.len() > MAX_NOTES {
            n.ready.clear();
            n.full_at = None;
        } else {
            n.ready.append(&mut pending);
        }
    }

    /// Takes the rows to compare: all of them when a full comparison is due.
    pub(super) fn take(&self) -> Look {
        let mut n = self.lock();
        if n.full_at.is_none_or(|at| at.elapsed() >= FULL_EVERY) {
            n.ready.clear();
            n.full_at = Some(Instant::now());
            return Look::All;
        }
        let mut rows = std::mem::take(&mut n.ready);
        rows.sort_unstable();
        rows.dedup();
        Look::Rows(rows)
    }

    /// Rows to look at again (a full comparison that stopped at its limit, or rows left
    /// over from a batch).
    pub(super) fn again(&self, rows: Option<Vec<i64>>) {
        let mut n = self.lock();
        match rows {
            None => n.full_at = None,
            Some(mut rows) => n.ready.append(&mut rows),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{NewApiMessage, NewOutJob, OutState, Store, now_ms};

    fn queue(s: &Store, portal: i64, ev: &str) -> i64 {
        s.tx(|tx| {
            let job = NewOutJob {
                portal_id: portal,
                backend_id: "b",
                room_id: "",
                event_id: ev,
                destination: "+15550000001",
                body: "hi",
                expires_at: now_ms() + 60_000,
                sender: None,
                ..Default::default()
            };
            let outbox_id = Store::enqueue_out(tx, &job)?.unwrap();
            let m = NewApiMessage {
                user: "u",
                backend_id: "b",
                destination: "+15550000001",
                body: "hi",
                outbox_id,
                dlr_mask: 0,
                dlr_url: None,
                callback_url: None,
                client_ref: None,
            };
            Store::insert_api_message_tx(tx, &m)?;
            Ok(outbox_id)
        })
        .unwrap()
    }

    #[test]
    fn changes_are_found_through_the_notes_after_the_first_full_comparison() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("db")).unwrap();
        let p = s.claim_portal(&crate::store::portals::test_portal()).unwrap().id;
        let (a, b) = (queue(&s, p, "$a"), queue(&s, p, "$b"));
        // The first look compares everything: nothing moved yet.
        assert!(s.api_changes(10).unwrap().is_empty());
        s.set_out_state(b, OutState::Sent, None).unwrap();
        // Rolled back: noted, but nothing changed.
        let _ = s.tx(|tx| -> crate::store::Result<()> {
            Store::set_out_state_tx(tx, a, OutState::Failed, None)?;
            Err(crate::store::StoreError::Other("no".into()))
        });
        let changes = s.api_changes(10).unwrap();
        assert_eq!(changes.iter().map(|(m, st, _)| (m.outbox_id, st.as_str())).collect::<Vec<_>>(), [(b, "sent")]);
        // Nothing is reported twice unless it is still untold: once told, gone.
        s.tx(|tx| Store::set_api_state_tx(tx, changes[0].0.id, "sent")).unwrap();
        assert!(s.api_changes(10).unwrap().is_empty());
        // An autocommit change is noted too (recovery after a crash).
        s.set_out_state(a, OutState::Sending, None).unwrap();
        let changes = s.api_changes(10).unwrap();
        assert_eq!(changes.iter().map(|(m, st, _)| (m.outbox_id, st.as_str())).collect::<Vec<_>>(), [(a, "sending")]);
    }

    #[test]
    fn a_batch_over_the_limit_leaves_the_rest_for_the_next_look() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("db")).unwrap();
        let p = s.claim_portal(&crate::store::portals::test_portal()).unwrap().id;
        let jobs: Vec<i64> = (0..5).map(|i| queue(&s, p, &format!("${i}"))).collect();
        assert!(s.api_changes(10).unwrap().is_empty());
        for j in &jobs {
            s.set_out_state(*j, OutState::Sent, None).unwrap();
        }
        let first: Vec<i64> = s.api_changes(3).unwrap().iter().map(|(m, _, _)| m.outbox_id).collect();
        assert_eq!(first, jobs[..3]);
        // What was handed out is the caller's to tell (in its commit); the rest comes next.
        let rest: Vec<i64> = s.api_changes(3).unwrap().iter().map(|(m, _, _)| m.outbox_id).collect();
        assert_eq!(rest, jobs[3..]);
    }
}
