//! Sends queued statuses, notices and receipts. Each job's transaction id is derived from
//! its row, so a retry after a crash is deduplicated by the homeserver.

use std::sync::Arc;
use std::time::Duration;

use super::{Attempt, Bridge, BridgeError, Failed};
use crate::store::Queue;

pub(super) async fn run(bridge: Arc<Bridge>) {
    super::work_loop("matrix out", &bridge.wake.matrix_out, Duration::from_secs(1), || {
        let b = bridge.clone();
        async move { b.send_matrix_jobs().await }
    })
    .await
}

/// (room, event) of a message status job.
fn status_key(job: &crate::store::MatrixJob) -> Option<(&str, &str)> {
    if job.event_type != super::status::STATUS_EVENT {
        return None;
    }
    Some((job.room_id.as_str(), job.content["m.relates_to"]["event_id"].as_str()?))
}

impl Bridge {
    pub async fn send_matrix_jobs(&self) -> Result<bool, BridgeError> {
        let jobs = self.store.due_matrix(50)?;
        // Done jobs are recorded in one commit per batch: their transaction ids make a
        // repeat after a crash harmless.
        let mut done = Vec::with_capacity(jobs.len());
        // A status already overtaken by a later one for the same message (PENDING, then
        // SUCCESS before PENDING went out) is not worth a request: clients show the latest.
        let mut latest = std::collections::HashMap::new();
        for (i, job) in jobs.iter().enumerate() {
            if let Some(key) = status_key(job) {
                latest.insert(key, i);
            }
        }
        for (i, job) in jobs.iter().enumerate() {
            if status_key(job).is_some_and(|k| latest[&k] != i) {
                done.push(job.id);
                continue;
            }
            match self.send_matrix_job(job).await {
                Ok(()) => {
                    done.push(job.id);
                    self.matrix_answered();
                }
                Err(e) => {
                    self.store.finish_matrix(&done)?;
                    done.clear();
                    let error = e.to_string();
                    match self
                        .fail_job(Failed::of(Queue::MatrixOut, job.id, job.attempts, &error, &e), |_, _| Ok(()))?
                    {
                        Attempt::GaveUp(why) => {
                            tracing::warn!(job = job.id, kind = %job.kind, error = %e, ?why, "giving up on a Matrix update")
                        }
                        Attempt::Retry(_) if e.is_transient() => {
                            tracing::warn!(job = job.id, error = %e, "Matrix update failed; will retry");
                            // The homeserver is away or busy: pause rather than fail every job.
                            if e.homeserver_away() {
                                self.matrix_failed();
                            }
                            return Ok(false);
                        }
                        Attempt::Settled => {}
                        Attempt::Retry(_) => {
                            tracing::warn!(job = job.id, error = %e, "Matrix update failed; will retry")
                        }
                    }
                }
            }
        }
        self.store.finish_matrix(&done)?;
        Ok(jobs.len() == 50)
    }

    async fn send_matrix_job(&self, job: &crate::store::MatrixJob) -> Result<(), BridgeError> {
        // A notice for a conversation or a person without a room yet: made now.
        let room = self.notice_room(&job.room_id).await?;
        match job.kind.as_str() {
            "receipt" => {
                let ev = job.content["event_id"].as_str().unwrap_or_default();
                self.matrix.read_receipt(&job.sender, &room, ev).await?;
            }
            _ => {
                let txn = format!("mo-{}", job.id);
                self.matrix.send(&job.sender, &room, &txn, &job.event_type, &job.content, None).await?;
            }
        }
        Ok(())
    }
}
