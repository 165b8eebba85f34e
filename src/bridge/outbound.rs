//! Matrix → SMS: drains a backend's outbox. A job is marked sent only once the link
//! accepted it; temporary failures back off and retry, permanent ones are reported.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::status::{Status, Update};
use super::{Attempt, Bridge, BridgeError};
use crate::backend::{Backend, OutgoingSms, SendError, Sent};
use crate::store::{OutJob, OutState, Queue, Store};

/// Most messages handed to one link at once (one per conversation).
const BATCH: usize = 10;

pub(super) async fn run(bridge: Arc<Bridge>, backend: Arc<dyn Backend>) {
    let wake = &bridge.wake.outbox[backend.id()];
    super::work_loop("outbox", wake, Duration::from_secs(1), || {
        let (b, l) = (bridge.clone(), backend.clone());
        async move { b.send_due(&l).await }
    })
    .await
}

impl Bridge {
    /// Sends the due jobs of one backend; true if a full batch went out.
    pub async fn send_due(&self, backend: &Arc<dyn Backend>) -> Result<bool, BridgeError> {
        let jobs = self.store.due_out(backend.id(), BATCH)?;
        self.store.tx(|tx| jobs.iter().try_for_each(|j| Store::set_out_state_tx(tx, j.id, OutState::Sending, None)))?;
        let mut sends = JoinSet::new();
        let mut in_flight = HashMap::new();
        for job in &jobs {
            super::failpoint::hit("outbox-before-send").await;
            let (b, job) = (backend.clone(), job.clone());
            let sms = OutgoingSms {
                job_id: job.id,
                from: b.number().into(),
                to: job.destination.clone(),
                text: job.body.clone(),
            };
            let handle = sends.spawn(async move { b.send(&sms).await });
            in_flight.insert(handle.id(), job);
        }
        // Every job gets an outcome, even if the link's task panicked or recording one
        // result failed: a job left in `sending` would hold back its conversation.
        while let Some(done) = sends.join_next_with_id().await {
            let (id, result) = match done {
                Ok((id, r)) => (id, r),
                Err(e) => (e.id(), Err(SendError::transient(format!("the link's send task failed: {e}")))),
            };
            let Some(job) = in_flight.remove(&id) else { continue };
            if let Err(e) = self.record_send(backend.id(), &job, result) {
                tracing::error!(job = job.id, error = %e, "could not record a send result; the job will be retried");
                let _ = self.store.set_out_state(job.id, OutState::Queued, None);
            }
        }
        if !jobs.is_empty() {
            self.wake.matrix_out.notify_one();
        }
        Ok(jobs.len() == BATCH)
    }

    fn record_send(&self, backend_id: &str, job: &OutJob, result: Result<Sent, SendError>) -> Result<(), BridgeError> {
        let room = &job.room_id;
        let ev = &job.event_id;
        match result {
            Ok(sent) => {
                tracing::info!(
                    job = job.id,
                    backend = backend_id,
                    parts = sent.message_ids.len(),
                    "SMS accepted by the link"
                );
                self.store.tx(|tx| {
                    Store::mark_sent(tx, job.id, backend_id, &sent.message_ids)?;
                    self.status_tx(tx, room, ev, Update::new(Status::Success))
                })?;
            }
            Err(e) if e.is_permanent() => {
                tracing::warn!(job = job.id, error = %e, "SMS refused by the link");
                self.store.tx(|tx| {
                    Store::set_out_state_tx(tx, job.id, OutState::Failed, Some(&e.message))?;
                    self.fail_permanently_tx(tx, room, ev, &format!("The SMS link refused the message: {e}"))
                })?;
            }
            Err(e) => {
                tracing::warn!(job = job.id, error = %e, "SMS not sent");
                let attempt = self.retry_or_bury(Queue::Outbox, job.id, job.attempts, &e.message, true)?;
                if let Attempt::GaveUp(attempts) = attempt {
                    let why = format!("Gave up after {attempts} attempts: {e}");
                    self.store.tx(|tx| self.fail_permanently_tx(tx, room, ev, &why))?;
                } else if attempt == Attempt::Retry(1) {
                    self.store.tx(|tx| {
                        self.status_tx(
                            tx,
                            room,
                            ev,
                            Update::failed(Status::FailRetriable, "m_foreign_network_error", &e.message),
                        )
                    })?;
                }
            }
        }
        Ok(())
    }

    /// FAIL_PERMANENT status plus, if enabled, a notice saying why.
    pub(super) fn fail_permanently_tx(
        &self,
        tx: &rusqlite::Transaction,
        room: &str,
        event_id: &str,
        message: &str,
    ) -> Result<(), crate::store::StoreError> {
        self.status_tx(tx, room, event_id, Update::failed(Status::FailPermanent, "m_foreign_network_error", message))?;
        if self.config.matrix.message_error_notices {
            self.notice_tx(tx, room, &format!("⚠ Your message was not delivered. {message}"))?;
        }
        Ok(())
    }
}
