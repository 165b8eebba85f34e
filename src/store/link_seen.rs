//! Fingerprints of what a link read from storage it deletes itself, committed together
//! with what was read.

use rusqlite::{Transaction, params};

use super::{Result, Store, now_ms};

impl Store {
    /// Commits `commit` unless `print` was seen on this link before; Ok(None) means seen.
    pub fn once<T: Send>(
        &self,
        backend_id: &str,
        print: &str,
        commit: impl FnOnce(&Transaction) -> Result<T> + Send,
    ) -> Result<Option<T>> {
        self.tx(|tx| {
            let new = tx
                .prepare_cached("INSERT OR IGNORE INTO link_seen (backend_id, print, seen_at) VALUES (?1, ?2, ?3)")?
                .execute(params![backend_id, print, now_ms()])?;
            if new == 0 {
                return Ok(None);
            }
            commit(tx).map(Some)
        })
    }
}

impl Store {
    /// Whether `print` was recorded on this link (by [`Store::once`]).
    pub fn seen(&self, backend_id: &str, print: &str) -> Result<bool> {
        self.with(|c| {
            Ok(c.prepare_cached("SELECT EXISTS (SELECT 1 FROM link_seen WHERE backend_id = ?1 AND print = ?2)")?
                .query_row([backend_id, print], |r| r.get(0))?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::ReceivedSms;
    use crate::store::InboxKind;

    #[test]
    fn a_print_commits_once_per_link() {
        let store = Store::open_in_memory().unwrap();
        let sms =
            InboxKind::Sms(ReceivedSms { from: "+1".into(), to: String::new(), text: "hi".into(), timestamp_ms: None });
        let add = |b: &str| store.once(b, "p1", |tx| Store::insert_inbox_tx(tx, b, &sms)).unwrap();
        assert!(add("m1").is_some());
        assert!(add("m1").is_none());
        assert!(add("m2").is_some());
        // A failed commit leaves no fingerprint behind.
        let r: Result<Option<()>> = store.once("m1", "p2", |_| Err(rusqlite::Error::InvalidQuery.into()));
        assert!(r.is_err());
        assert!(add_print(&store, "m1", "p2"));
    }

    fn add_print(store: &Store, b: &str, p: &str) -> bool {
        store.once(b, p, |_| Ok(())).unwrap().is_some()
    }
}
