//! Matrix → SMS: drains a backend's outbox. A job is marked sent only once the link
//! accepted it; temporary failures back off and retry, permanent ones are reported.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::status::{Status, Update};
use super::{Attempt, Bridge, BridgeError, Class, Failed};
use crate::backend::{Backend, OutgoingSms, SendError, Sent};
use crate::message::SmsOptions;
use crate::store::{OutJob, OutState, Queue, Store};

/// Most messages handed to one link at once (one per conversation).
const BATCH: usize = 10;

/// Keeps up to the link's `in_flight` messages in `send` at once, taking the next due job
/// as soon as one finishes (a batch-and-wait loop would leave an SMPP window idle while
/// the slowest answer of each batch is awaited).
pub(super) async fn run(bridge: Arc<Bridge>, backend: Arc<dyn Backend>) {
    let wake = &bridge.wake.outbox[backend.id()];
    let limit = backend.capabilities().in_flight.max(1);
    let mut sends: JoinSet<Result<Sent, SendError>> = JoinSet::new();
    let mut in_flight: HashMap<tokio::task::Id, OutJob> = HashMap::new();
    loop {
        if in_flight.len() < limit {
            match bridge.start_sends(&backend, limit - in_flight.len(), &mut sends, &mut in_flight).await {
                Ok(0) if in_flight.is_empty() => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(worker = "outbox", error = %e, "could not pick due jobs; will retry");
                    let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
                    continue;
                }
            }
        }
        tokio::select! {
            Some(done) = sends.join_next_with_id() => {
                // Whatever else has finished meanwhile is recorded in the same commit.
                let mut finished = vec![done];
                while let Some(more) = sends.try_join_next_with_id() {
                    finished.push(more);
                }
                bridge.finish_sends(backend.id(), finished, &mut in_flight);
            }
            // New work, or a retry coming due: look for more while the others are out.
            _ = wake.notified(), if in_flight.len() < limit => {}
            _ = tokio::time::sleep(Duration::from_secs(1)), if in_flight.len() < limit => {}
        }
    }
}

type Done = Result<(tokio::task::Id, Result<Sent, SendError>), tokio::task::JoinError>;

impl Bridge {
    /// Sends the due jobs of one backend, up to its batch size, and waits for all of them;
    /// true if a full batch went out. (The worker pipelines instead; tests step with this.)
    pub async fn send_due(&self, backend: &Arc<dyn Backend>) -> Result<bool, BridgeError> {
        let mut sends = JoinSet::new();
        let mut in_flight = HashMap::new();
        let n = self.start_sends(backend, BATCH, &mut sends, &mut in_flight).await?;
        while let Some(done) = sends.join_next_with_id().await {
            self.finish_sends(backend.id(), vec![done], &mut in_flight);
        }
        Ok(n == BATCH)
    }

    /// Marks up to `max` due jobs as sending and hands them to the link; returns how many.
    async fn start_sends(
        &self,
        backend: &Arc<dyn Backend>,
        max: usize,
        sends: &mut JoinSet<Result<Sent, SendError>>,
        in_flight: &mut HashMap<tokio::task::Id, OutJob>,
    ) -> Result<usize, BridgeError> {
        let jobs = self.store.due_out(backend.id(), max)?;
        if jobs.is_empty() {
            return Ok(0);
        }
        // A job cancelled (redacted) since it was read is not taken.
        let jobs = self.store.tx(|tx| {
            let mut taken = Vec::with_capacity(jobs.len());
            for j in jobs {
                if Store::claim_for_sending_tx(tx, j.id)? {
                    taken.push(j);
                }
            }
            Ok(taken)
        })?;
        let n = jobs.len();
        for job in jobs {
            super::failpoint::hit("outbox-before-send").await;
            let Some(options) = self.send_options(&job) else {
                // Its validity ran out before the link took it: the network would drop it.
                let why = "its validity period ran out before the link could take it";
                tracing::warn!(job = job.id, "SMS not sent: {why}");
                self.store.tx(|tx| {
                    Store::set_out_state_tx(tx, job.id, OutState::Failed, Some(why))?;
                    self.fail_permanently_tx(tx, &job.room_id, &job.event_id, &format!("Not sent: {why}."))
                })?;
                continue;
            };
            // Parts out already (an earlier attempt, before a crash or a `retry`) stay out.
            let accepted = if job.parts_out { self.store.accepted_parts(job.id)? } else { Vec::new() };
            let b = backend.clone();
            let sms = OutgoingSms {
                job_id: job.id,
                from: job.sender.clone().unwrap_or_else(|| b.number().into()),
                to: job.destination.clone(),
                text: job.body.clone(),
                accepted,
                options,
                binary: job.binary.clone(),
            };
            let handle = sends.spawn(async move { b.send(&sms).await });
            in_flight.insert(handle.id(), job);
        }
        Ok(n)
    }

    /// The options a job goes out with, its validity counted from now; None once its
    /// validity has run out.
    fn send_options(&self, job: &OutJob) -> Option<SmsOptions> {
        let validity_minutes = match job.valid_until {
            None => None,
            Some(until) => {
                let left = until - crate::store::now_ms();
                if left <= 0 {
                    return None;
                }
                // Rounded up: a message due now goes with the whole validity it asked for.
                Some(((left + 59_999) / 60_000).min(u32::MAX as i64) as u32)
            }
        };
        Some(SmsOptions { validity_minutes, class: job.class })
    }

    /// Records outcomes: the accepted ones in one commit, failures one by one. Every job
    /// gets one, even if the link's task panicked or recording failed: a job left in
    /// `sending` would hold back its conversation.
    fn finish_sends(&self, backend_id: &str, finished: Vec<Done>, in_flight: &mut HashMap<tokio::task::Id, OutJob>) {
        let mut accepted = Vec::new();
        for done in finished {
            let (id, result) = match done {
                Ok((id, r)) => (id, r),
                Err(e) => (e.id(), Err(SendError::transient(format!("the link's send task failed: {e}")))),
            };
            let Some(job) = in_flight.remove(&id) else { continue };
            match result {
                Ok(sent) => accepted.push((job, sent)),
                Err(e) => self.record_or_requeue(backend_id, &job, Err(e)),
            }
        }
        if !accepted.is_empty() {
            self.link_answered(backend_id);
            let together = self.store.tx(|tx| {
                for (job, sent) in &accepted {
                    self.record_accepted_tx(tx, backend_id, job, sent)?;
                }
                Ok(())
            });
            if together.is_err() {
                for (job, sent) in accepted {
                    self.record_or_requeue(backend_id, &job, Ok(sent));
                }
            }
        }
        self.wake.matrix_out.notify_one();
    }

    fn record_or_requeue(&self, backend_id: &str, job: &OutJob, result: Result<Sent, SendError>) {
        if let Err(e) = self.record_send(backend_id, job, result) {
            tracing::error!(job = job.id, error = %e, "could not record a send result; the job will be retried");
            let _ = self.store.set_out_state(job.id, OutState::Queued, None);
        }
    }

    fn record_accepted_tx(
        &self,
        tx: &rusqlite::Transaction,
        backend_id: &str,
        job: &OutJob,
        sent: &Sent,
    ) -> Result<(), crate::store::StoreError> {
        tracing::debug!(job = job.id, backend = backend_id, parts = sent.message_ids.len(), "SMS accepted by the link");
        if Store::mark_sent(tx, job.id, backend_id, &sent.message_ids)? {
            self.status_tx(tx, &job.room_id, &job.event_id, Update::new(Status::Success))?;
        }
        Ok(())
    }

    fn record_send(&self, backend_id: &str, job: &OutJob, result: Result<Sent, SendError>) -> Result<(), BridgeError> {
        let room = &job.room_id;
        let ev = &job.event_id;
        match result {
            Ok(sent) => self.store.tx(|tx| self.record_accepted_tx(tx, backend_id, job, &sent))?,
            Err(e) if e.is_permanent() => {
                tracing::warn!(job = job.id, error = %e, "SMS refused by the link");
                self.store.tx(|tx| {
                    Store::accept_parts_tx(tx, backend_id, job.id, &e.accepted)?;
                    Store::set_out_state_tx(tx, job.id, OutState::Failed, Some(&e.message))?;
                    self.fail_permanently_tx(tx, room, ev, &format!("The SMS link refused the message: {e}"))
                })?;
            }
            Err(e) => {
                tracing::warn!(job = job.id, error = %e, "SMS not sent");
                if !e.accepted.is_empty() {
                    self.store.tx(|tx| Store::accept_parts_tx(tx, backend_id, job.id, &e.accepted))?;
                }
                if e.link_down {
                    self.link_failed(backend_id);
                }
                if self.store.cancel_requested(job.id)? {
                    // Redacted while it was out, and the link did not take it: not again.
                    self.store.tx(|tx| {
                        Store::set_out_state_tx(tx, job.id, OutState::Failed, Some("cancelled"))?;
                        let update = Update::failed(Status::FailPermanent, "m_generic_error", "cancelled");
                        self.status_tx(tx, room, ev, update)
                    })?;
                    return Ok(());
                }
                let failed = Failed::new(Queue::Outbox, job.id, job.attempts, &e.message, Class::Transient)
                    .expiring(job.expires_at);
                let expiry = self.config.bridge.outbound_expiry_text();
                let attempt = self.fail_job(failed, |tx, _| {
                    self.fail_permanently_tx(tx, room, ev, &format!("Not sent within {expiry}: {e}"))
                })?;
                if let Attempt::GaveUp(_) = attempt {
                    tracing::warn!(job = job.id, "SMS expired before the link took it");
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
        if !self.config.matrix.message_error_notices {
            return Ok(());
        }
        if room.is_empty() {
            // An application's message: its copy in the portal says what it was.
            if let Some((link, local, remote)) = Store::job_conversation_tx(tx, event_id)? {
                let body = format!("⚠ A message an application sent here was not delivered. {message}");
                self.notice_to_conversation_tx(tx, &link, &local, &remote, &body)?;
            }
            return Ok(());
        }
        self.notice_tx(tx, room, &format!("⚠ Your message was not delivered. {message}"))
    }
}
