//! Whether the peers the queues wait on (the homeserver, each link, the MMSC) seem away.
//! While one is away its jobs back off; the first success after that makes the whole
//! backlog due at once, so it drains in order within seconds instead of each job sleeping
//! out its own backoff.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::Bridge;
use crate::store::Queue;

#[derive(Default)]
pub(crate) struct Health {
    matrix_away: AtomicBool,
    mmsc_away: AtomicBool,
    links_away: Mutex<HashSet<String>>,
}

impl Health {
    pub(crate) fn matrix_away(&self) -> bool {
        self.matrix_away.load(Ordering::Relaxed)
    }
}

impl Bridge {
    /// While the homeserver seems away, asks it every few seconds whether it is back, so
    /// the backlog does not wait for some job's backoff to come due.
    pub(crate) async fn probe_homeserver(self: std::sync::Arc<Self>) {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            if self.health.matrix_away() && self.matrix.versions().await.is_ok() {
                self.matrix_answered();
            }
        }
    }

    /// A transient homeserver failure: its queues now wait for it.
    pub(crate) fn matrix_failed(&self) {
        self.health.matrix_away.store(true, Ordering::Relaxed);
    }

    /// The homeserver answered: if it was away, everything waiting for it is due now.
    pub(crate) fn matrix_answered(&self) {
        if !self.health.matrix_away.swap(false, Ordering::Relaxed) {
            return;
        }
        tracing::info!("the homeserver is back; sending what waited for it");
        for q in [Queue::Inbox, Queue::MatrixOut, Queue::MatrixIn, Queue::MmsIn] {
            if let Err(e) = self.store.wake_waiting(q, None) {
                tracing::warn!(error = %e, "could not wake the waiting jobs");
            }
        }
        self.wake.inbox.notify_one();
        self.wake.matrix_out.notify_one();
        self.wake.matrix_in.notify_one();
        self.wake.mms.notify_one();
    }

    /// A transient failure of a link.
    pub(crate) fn link_failed(&self, backend_id: &str) {
        self.health.links_away.lock().unwrap().insert(backend_id.to_string());
    }

    /// The link took a message or came back up: if it was away, its backlog is due now.
    pub(crate) fn link_answered(&self, backend_id: &str) {
        if !self.health.links_away.lock().unwrap().remove(backend_id) {
            return;
        }
        tracing::info!(backend = backend_id, "the link is back; sending what waited for it");
        for q in [Queue::Outbox, Queue::MmsOut] {
            if let Err(e) = self.store.wake_waiting(q, Some(backend_id)) {
                tracing::warn!(error = %e, "could not wake the waiting jobs");
            }
        }
        self.wake_outbox(backend_id);
        self.wake.mms_out.notify_one();
    }

    /// A transient failure of the MMSC.
    pub(crate) fn mmsc_failed(&self) {
        self.health.mmsc_away.store(true, Ordering::Relaxed);
    }

    /// The MMSC answered: fetches and sends waiting for it are due now.
    pub(crate) fn mmsc_answered(&self) {
        if !self.health.mmsc_away.swap(false, Ordering::Relaxed) {
            return;
        }
        tracing::info!("the MMSC is back; fetching and sending what waited for it");
        for q in [Queue::MmsIn, Queue::MmsOut] {
            if let Err(e) = self.store.wake_waiting(q, None) {
                tracing::warn!(error = %e, "could not wake the waiting jobs");
            }
        }
        self.wake.mms.notify_one();
        self.wake.mms_out.notify_one();
    }
}
