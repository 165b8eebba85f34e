//! Group commit: transactions that arrive together share one SQLite commit, so one
//! `fsync` makes a whole batch durable instead of one each.
//!
//! A caller queues its closure and waits. The first caller to find no batch running leads:
//! it takes what is queued, runs each closure inside its own SAVEPOINT (a failing or
//! panicking one rolls back only its own work), commits once, and hands every caller its
//! result. Whoever queued meanwhile forms the next batch, led by one of them. No caller
//! returns before the commit that holds its work.
//!
//! Closures run on the leader's thread, so they must be `Send`, and so must their results.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::Thread;

use rusqlite::{Connection, Transaction};

use super::{Result, StoreError};

/// Most closures in one commit: bounds how long a batch holds the connection.
const MAX_BATCH: usize = 256;

/// A caller's closure and, once its batch is settled, its outcome.
pub(super) trait Member: Send {
    /// Runs the closure; false if it failed or panicked (its work is to be rolled back).
    fn run(&mut self, tx: &Transaction) -> bool;
    /// The batch was not committed: the caller gets this error instead of its result.
    fn fail(&mut self, e: &rusqlite::Error);
}

/// One call of [`super::Store::tx`].
pub(super) struct Call<F, T> {
    f: Option<F>,
    out: Option<std::result::Result<Result<T>, Box<dyn Any + Send>>>,
}

impl<F, T> Call<F, T>
where
    F: FnOnce(&Transaction) -> Result<T> + Send,
    T: Send,
{
    pub(super) fn new(f: F) -> Self {
        Call { f: Some(f), out: None }
    }

    /// The closure's result once committed; its panic is resumed on the caller's thread.
    pub(super) fn into_result(self) -> Result<T> {
        match self.out {
            Some(Ok(r)) => r,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => Err(StoreError::Other("the transaction was abandoned".into())),
        }
    }
}

impl<F, T> Member for Call<F, T>
where
    F: FnOnce(&Transaction) -> Result<T> + Send,
    T: Send,
{
    fn run(&mut self, tx: &Transaction) -> bool {
        let Some(f) = self.f.take() else { return false };
        let out = catch_unwind(AssertUnwindSafe(|| f(tx)));
        let ok = matches!(out, Ok(Ok(_)));
        self.out = Some(out);
        ok
    }

    fn fail(&mut self, e: &rusqlite::Error) {
        // The closure's own error or panic says more than the batch's.
        if matches!(self.out, None | Some(Ok(Ok(_)))) {
            self.out = Some(Ok(Err(copy_error(e))));
        }
    }
}

/// rusqlite's errors are not `Clone`; every member of a failed batch gets its own.
fn copy_error(e: &rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(code, msg) => {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(*code, msg.clone()))
        }
        other => StoreError::Other(format!("commit failed: {other}")),
    }
}

/// A queued member, its lifetime erased (see [`Group::run`]), and its caller's thread, to
/// be woken when the member is done or its turn to lead has come.
struct Queued(*mut (dyn Member + 'static), Thread);

// SAFETY: the member itself is `Send`; the pointer is only dereferenced by the one leader
// of its batch, while its owner waits.
unsafe impl Send for Queued {}

#[derive(Default)]
struct State {
    /// Members waiting for a leader, oldest first: tickets `done + 1 ..= issued`, less any
    /// batch being run.
    queue: Vec<Queued>,
    /// Tickets handed out so far.
    issued: u64,
    /// Every ticket up to this one has its outcome.
    done: u64,
    /// A batch is being run.
    leading: bool,
}

#[derive(Default)]
pub(super) struct Group {
    state: Mutex<State>,
}

impl Group {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `member` in the next batch on `conn`; returns once its batch is settled.
    /// `ended` is called after each transaction, with the connection still held.
    pub(super) fn run<'a>(&self, conn: &Mutex<Connection>, member: &mut (dyn Member + 'a), ended: &dyn Fn()) {
        let ptr: *mut (dyn Member + 'a) = member;
        // SAFETY: only the lifetime is erased. The pointer is used by the leader of the
        // batch that takes it, and this function does not return until that batch has
        // marked it done, after its last use. It cannot unwind before then either: members'
        // closures run under `catch_unwind`, and any other panic while queued or leading
        // aborts the process (`NoUnwind`), which also keeps a rolled-back batch from being
        // taken as committed.
        let ptr: *mut (dyn Member + 'static) = unsafe { std::mem::transmute(ptr) };
        let _no_unwind = NoUnwind;
        let mut st = self.lock();
        st.issued += 1;
        let ticket = st.issued;
        st.queue.push(Queued(ptr, std::thread::current()));
        loop {
            if st.done >= ticket {
                return;
            }
            if !st.leading {
                st.leading = true;
                let n = st.queue.len().min(MAX_BATCH);
                let batch: Vec<Queued> = st.queue.drain(..n).collect();
                let threads = batch.iter().map(|q| q.1.clone()).collect();
                let finished = Finished { group: self, through: st.done + n as u64, threads };
                drop(st);
                // SAFETY: see above: each member's owner waits until `finished` is dropped.
                let mut members: Vec<&mut dyn Member> = batch.iter().map(|q| unsafe { &mut *q.0 }).collect();
                commit(conn, &mut members, ended);
                drop(members);
                drop(finished);
                st = self.lock();
                continue;
            }
            // Woken (spuriously, too) when done or when it may lead; the state tells.
            drop(st);
            std::thread::park();
            st = self.lock();
        }
    }
}

/// Marks a batch done, wakes its callers and the next leader, even if running it panicked.
/// Aborts the process if dropped while unwinding: a queued member's pointer must not
/// outlive its owner's frame, and a batch must not be reported done if it never committed.
struct NoUnwind;

impl Drop for NoUnwind {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("sms-bridge: a panic inside the group commit; aborting rather than risk a false commit");
            std::process::abort();
        }
    }
}

struct Finished<'g> {
    group: &'g Group,
    through: u64,
    threads: Vec<Thread>,
}

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        let mut st = self.group.lock();
        st.done = self.through;
        st.leading = false;
        let next = st.queue.first().map(|q| q.1.clone());
        drop(st);
        // Only the callers concerned: the batch's, and the oldest waiting, who leads next.
        for t in self.threads.iter().chain(&next) {
            t.unpark();
        }
    }
}

/// Runs a batch in one transaction and commits it; every member ends with an outcome.
fn commit(conn: &Mutex<Connection>, members: &mut [&mut dyn Member], ended: &dyn Fn()) {
    let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
    let settled = (|| -> rusqlite::Result<()> {
        let tx = conn.transaction()?;
        if let [only] = members {
            // Alone: no savepoint needed; a failure rolls the transaction back on drop.
            return if only.run(&tx) { tx.commit() } else { Ok(()) };
        }
        for m in members.iter_mut() {
            tx.prepare_cached("SAVEPOINT member")?.execute([])?;
            if !m.run(&tx) {
                tx.prepare_cached("ROLLBACK TO member")?.execute([])?;
            }
            tx.prepare_cached("RELEASE member")?.execute([])?;
        }
        tx.commit()
    })();
    ended();
    if let Err(e) = settled {
        for m in members.iter_mut() {
            m.fail(&e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("db.sqlite")).unwrap();
        s.with(|c| Ok(c.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)")?)).unwrap();
        (dir, s)
    }

    fn insert(tx: &Transaction, v: &str) -> Result<i64> {
        tx.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
        Ok(tx.last_insert_rowid())
    }

    fn values(s: &Store) -> Vec<String> {
        s.with(|c| {
            let mut stmt = c.prepare("SELECT v FROM t ORDER BY v")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .unwrap()
    }

    #[test]
    fn concurrent_callers_are_all_committed_each_with_its_own_result() {
        let (_dir, s) = store();
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let s = s.clone();
                std::thread::spawn(move || {
                    (0..50)
                        .map(|i| {
                            let v = format!("{t}-{i}");
                            let id = s.tx(|tx| insert(tx, &v)).unwrap();
                            // The id handed back is the row this caller wrote.
                            let got: String = s
                                .with(|c| Ok(c.query_row("SELECT v FROM t WHERE id = ?1", [id], |r| r.get(0))?))
                                .unwrap();
                            assert_eq!(got, v);
                            v
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut want: Vec<String> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        want.sort();
        assert_eq!(values(&s), want);
    }

    /// One batch: a member that fails or panics is rolled back alone, and every caller
    /// gets its own outcome.
    #[test]
    fn a_failing_member_rolls_back_only_itself() {
        let (_dir, s) = store();
        let mut a = Call::new(|tx: &Transaction| insert(tx, "a"));
        let mut dup = Call::new(|tx: &Transaction| insert(tx, "a"));
        let mut failed = Call::new(|tx: &Transaction| -> Result<i64> {
            insert(tx, "gone")?;
            Err(StoreError::Other("changed my mind".into()))
        });
        let mut panicked = Call::new(|tx: &Transaction| -> Result<i64> {
            insert(tx, "gone too")?;
            panic!("boom")
        });
        let mut b = Call::new(|tx: &Transaction| insert(tx, "b"));
        commit(&s.conn, &mut [&mut a, &mut dup, &mut failed, &mut panicked, &mut b], &|| ());
        let (a, b) = (a.into_result().unwrap(), b.into_result().unwrap());
        assert!(dup.into_result().unwrap_err().to_string().contains("UNIQUE"));
        assert_eq!(failed.into_result().unwrap_err().to_string(), "database: changed my mind");
        let resumed = std::panic::catch_unwind(AssertUnwindSafe(|| panicked.into_result()));
        assert!(resumed.is_err(), "the panic reaches its caller");
        assert_eq!(values(&s), ["a", "b"]);
        let id_of = |v: &str| -> i64 {
            s.with(|c| Ok(c.query_row("SELECT id FROM t WHERE v = ?1", [v], |r| r.get(0))?)).unwrap()
        };
        assert_eq!((a, b), (id_of("a"), id_of("b")));
    }

    /// A batch that cannot commit fails all its members, even those whose closure worked.
    #[test]
    fn a_failed_commit_fails_every_member() {
        let (_dir, s) = store();
        let mut ok = Call::new(|tx: &Transaction| insert(tx, "a"));
        // Ends the transaction under the batch's feet, so that its COMMIT fails.
        let mut breaker = Call::new(|tx: &Transaction| Ok(tx.execute_batch("RELEASE member; COMMIT")?));
        let mut after = Call::new(|tx: &Transaction| insert(tx, "b"));
        commit(&s.conn, &mut [&mut ok, &mut breaker, &mut after], &|| ());
        assert!(ok.into_result().is_err());
        assert!(after.into_result().is_err());
    }

    #[test]
    fn an_error_rolls_back_that_transaction_and_is_returned() {
        let (_dir, s) = store();
        let r: Result<()> = s.tx(|tx| {
            insert(tx, "x")?;
            Err(StoreError::Other("changed my mind".into()))
        });
        assert_eq!(r.unwrap_err().to_string(), "database: changed my mind");
        s.tx(|tx| insert(tx, "y")).unwrap();
        assert_eq!(values(&s), ["y"]);
    }

    #[test]
    fn a_panic_reaches_its_caller_and_rolls_back_only_its_work() {
        let (_dir, s) = store();
        let s2 = s.clone();
        let panicked = std::thread::spawn(move || {
            s2.tx(|tx| -> Result<()> {
                insert(tx, "lost")?;
                panic!("boom")
            })
        })
        .join();
        assert!(panicked.is_err());
        // The group is usable afterwards.
        s.tx(|tx| insert(tx, "kept")).unwrap();
        assert_eq!(values(&s), ["kept"]);
    }

    #[test]
    fn committed_work_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        {
            let s = Store::open(&path).unwrap();
            s.with(|c| Ok(c.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)")?))
                .unwrap();
            let threads: Vec<_> = (0..8)
                .map(|t| {
                    let s = s.clone();
                    std::thread::spawn(move || s.tx(|tx| insert(tx, &t.to_string())).unwrap())
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(values(&s).len(), 8);
    }
}
