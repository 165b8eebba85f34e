//! Matrix → SMS: drains a backend's outbox. A job is marked sent only once the link
//! accepted it; temporary failures back off and retry, permanent ones are reported.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::status::{Status, Update};
use super::{Attempt, Bridge, BridgeError, Class, Failed};
use crate::backend::{Backend, OutgoingSms, SendError, Sent};
use crate::message::SmsOptions;
use crate::store::{OutJob, OutState, Queue, Store};
use crate::throttle::Throttle;

/// Most messages handed to one link at once (one per conversation).
const BATCH: usize = 10;

/// Keeps up to the link's `in_flight` messages in `send` at once, taking the next job as
/// soon as one finishes (a batch-and-wait loop would leave an SMPP window idle while the
/// slowest answer of each batch is awaited).
///
/// The sends that finished and the jobs claimed to follow them are recorded in one commit,
/// made on the blocking pool while the link keeps sending. Claims run up to one window
/// ahead of the link: a job is handed over only once its claim is committed (`sending` on
/// disk, so recovery after a crash sends it again), and the link never waits for a commit
/// while claimed jobs are ready.
pub(super) async fn run(bridge: Arc<Bridge>, backend: Arc<dyn Backend>) {
    let wake = &bridge.wake.outbox[backend.id()];
    let limit = backend.capabilities().in_flight.max(1);
    let mut sends: JoinSet<Result<Sent, SendError>> = JoinSet::new();
    let mut in_flight: HashMap<tokio::task::Id, OutJob> = HashMap::new();
    // Claimed, waiting for room in the window.
    let mut ready: VecDeque<OutJob> = VecDeque::new();
    let mut finished = Vec::new();
    let mut commit: Option<JoinHandle<Result<Vec<OutJob>, BridgeError>>> = None;
    // Whether to look for due jobs: at the start, and after a send finished, a claim
    // found some, a wake, or a second's wait (a retry coming due).
    let mut look = true;
    let throttle = &mut rate_of(&bridge, backend.id());
    // When the rate lets the next claimed job go, if it held one back.
    let mut held: Option<Instant> = None;
    loop {
        if commit.is_none() {
            let mut room = if look { (2 * limit).saturating_sub(in_flight.len() + ready.len()) } else { 0 };
            if throttle.is_limited() && room > 0 {
                // Only what the rate lets go now is claimed: the rest stays queued (not
                // `sending` for an hour), and is looked for when the rate frees a slot.
                let now = Instant::now();
                room = room.min(throttle.available(now).saturating_sub(ready.len()));
                if room == 0 && ready.is_empty() {
                    held = throttle.next_slot(now);
                }
            }
            if !finished.is_empty() || room > 0 {
                let (b, id, done) = (bridge.clone(), backend.id().to_string(), std::mem::take(&mut finished));
                commit = Some(tokio::task::spawn_blocking(move || b.settle_and_claim(&id, done, room)));
                look = false;
            }
        }
        tokio::select! {
            Some(done) = sends.join_next_with_id() => {
                finished.extend(outcome(done, &mut in_flight));
                look = true;
            }
            claimed = committed(&mut commit) => {
                commit = None;
                match claimed {
                    Ok(Ok(jobs)) => {
                        look |= !jobs.is_empty();
                        ready.extend(jobs);
                    }
                    Ok(Err(e)) => tracing::error!(worker = "outbox", error = %e, "could not pick due jobs; will retry"),
                    Err(e) => tracing::error!(worker = "outbox", error = %e, "recording sends failed"),
                }
            }
            _ = wake.notified() => look = true,
            _ = tokio::time::sleep(Duration::from_secs(1)) => look = true,
            _ = tokio::time::sleep_until(held.unwrap_or_else(Instant::now)), if held.is_some() => look = true,
        }
        // Set again below (or by the next claim) while the rate still holds something back.
        held = None;
        let room = limit - in_flight.len().min(limit);
        let next = take_within_rate(&mut ready, room, throttle, &mut held);
        bridge.hand_to_link(&backend, next, &mut sends, &mut in_flight).await;
    }
}

/// The link's `policy.rate`, counting what it sent before this start (a restart does not
/// allow a fresh burst).
fn rate_of(bridge: &Bridge, link: &str) -> Throttle {
    let rate = bridge.config.policy.rate(link);
    let mut throttle = Throttle::windows(rate.per_second, rate.per_minute, rate.per_hour);
    if !throttle.is_limited() {
        return throttle;
    }
    let window = if rate.per_hour > 0 {
        3_600_000
    } else if rate.per_minute > 0 {
        60_000
    } else {
        1_000
    };
    let most = rate.per_second.max(rate.per_minute).max(rate.per_hour) as usize;
    match bridge.store.recent_claims(link, crate::store::now_ms() - window, most) {
        Ok(times) => {
            let (now, now_ms) = (Instant::now(), crate::store::now_ms());
            for t in times {
                let ago = Duration::from_millis((now_ms - t).max(0) as u64);
                throttle.record(now.checked_sub(ago).unwrap_or(now));
            }
        }
        Err(e) => tracing::warn!(link, error = %e, "could not read the link's recent sends; its rate starts afresh"),
    }
    throttle
}

/// Up to `room` claimed jobs the link's rate lets go now; sets `held` to when the next
/// may, if the rate holds one back (it waits, claimed, rather than fail).
fn take_within_rate(
    ready: &mut VecDeque<OutJob>,
    room: usize,
    throttle: &mut Throttle,
    held: &mut Option<Instant>,
) -> Vec<OutJob> {
    if !throttle.is_limited() {
        return ready.drain(..room.min(ready.len())).collect();
    }
    let mut next = Vec::new();
    while next.len() < room && !ready.is_empty() {
        let now = Instant::now();
        if let Some(at) = throttle.next_slot(now) {
            *held = Some(at);
            break;
        }
        throttle.record(now);
        next.extend(ready.pop_front());
    }
    next
}

/// The running commit's outcome; never ready when there is none.
async fn committed(
    commit: &mut Option<JoinHandle<Result<Vec<OutJob>, BridgeError>>>,
) -> Result<Result<Vec<OutJob>, BridgeError>, tokio::task::JoinError> {
    match commit {
        Some(handle) => handle.await,
        None => std::future::pending().await,
    }
}

type Done = Result<(tokio::task::Id, Result<Sent, SendError>), tokio::task::JoinError>;

/// The job a finished send was for, with its result (a panicked send task is a temporary
/// failure: every job gets an outcome, or it would hold back its conversation).
fn outcome(done: Done, in_flight: &mut HashMap<tokio::task::Id, OutJob>) -> Option<(OutJob, Result<Sent, SendError>)> {
    let (id, result) = match done {
        Ok((id, r)) => (id, r),
        Err(e) => (e.id(), Err(SendError::transient(format!("the link's send task failed: {e}")))),
    };
    in_flight.remove(&id).map(|job| (job, result))
}

impl Bridge {
    /// Sends the due jobs of one backend, up to its batch size, and waits for all of them;
    /// true if a full batch went out. (The worker pipelines instead; tests step with this.)
    pub async fn send_due(&self, backend: &Arc<dyn Backend>) -> Result<bool, BridgeError> {
        let mut sends = JoinSet::new();
        let mut in_flight = HashMap::new();
        let jobs = self.settle_and_claim(backend.id(), Vec::new(), BATCH)?;
        let n = jobs.len();
        self.hand_to_link(backend, jobs, &mut sends, &mut in_flight).await;
        while let Some(done) = sends.join_next_with_id().await {
            let finished = outcome(done, &mut in_flight).into_iter().collect();
            if let Err(e) = self.settle_and_claim(backend.id(), finished, 0) {
                tracing::error!(error = %e, "could not record a send");
            }
        }
        Ok(n == BATCH)
    }

    /// Records the outcomes of `finished` sends and marks up to `room` due jobs as sending,
    /// the accepted sends and the claims in one commit (failures one by one); returns the
    /// jobs claimed, to be handed to the link only now that they are `sending` on disk.
    /// A job whose predecessor finishes in this very commit is due the next time.
    fn settle_and_claim(
        &self,
        backend_id: &str,
        finished: Vec<(OutJob, Result<Sent, SendError>)>,
        room: usize,
    ) -> Result<Vec<OutJob>, BridgeError> {
        let mut accepted = Vec::new();
        // Status events and notices go only to Matrix messages (applications' have no room).
        let for_matrix = finished.iter().any(|(job, _)| !job.room_id.is_empty());
        let for_apps = finished.iter().any(|(job, _)| job.room_id.is_empty());
        for (job, result) in finished {
            match result {
                Ok(sent) => accepted.push((job, sent)),
                Err(e) => self.record_or_requeue(backend_id, &job, Err(e)),
            }
        }
        if !accepted.is_empty() {
            self.link_answered(backend_id);
        }
        let due = if room > 0 { self.store.due_out(backend_id, room) } else { Ok(Vec::new()) };
        let together = due.map_err(BridgeError::from).and_then(|due| {
            if accepted.is_empty() && due.is_empty() {
                return Ok(Vec::new());
            }
            Ok(self.store.tx(|tx| {
                for (job, sent) in &accepted {
                    self.record_accepted_tx(tx, backend_id, job, sent)?;
                }
                // A job cancelled (redacted) since it was read is not taken.
                let mut taken = Vec::with_capacity(due.len());
                for j in due {
                    let Some(first) = Store::claim_tx(tx, j.id)? else {
                        continue;
                    };
                    // Counted in this commit, with the jobs claimed before it: exact however
                    // many links send to the number at once. Only at its first claim: a retry
                    // was allowed and counted already, and may have parts out.
                    if first && !j.parts_out && self.counting_caps {
                        if let Some(why) = self.cap_refusal(None, backend_id, &j.destination)? {
                            Store::forget_claim_tx(tx, j.id)?;
                            self.fail_refused_tx(tx, &j, &why)?;
                            continue;
                        }
                        self.sent.record(&j.destination, crate::store::now_ms());
                    }
                    match self.send_options(&j) {
                        Some(_) => taken.push(j),
                        None => self.fail_expired_tx(tx, &j)?,
                    }
                }
                Ok(taken)
            })?)
        });
        if together.is_err() {
            for (job, sent) in accepted {
                self.record_or_requeue(backend_id, &job, Ok(sent));
            }
        }
        if for_apps {
            // Applications hear of it now, not at the watcher's next look.
            self.wake.api.notify_one();
        }
        // Applications' failures post notices in their portals too.
        if for_matrix || for_apps {
            self.wake.matrix_out.notify_one();
        }
        together
    }

    /// Hands jobs marked sending to the link.
    async fn hand_to_link(
        &self,
        backend: &Arc<dyn Backend>,
        jobs: Vec<OutJob>,
        sends: &mut JoinSet<Result<Sent, SendError>>,
        in_flight: &mut HashMap<tokio::task::Id, OutJob>,
    ) {
        for job in jobs {
            super::failpoint::hit("outbox-before-send").await;
            let Some(options) = self.send_options(&job) else {
                if let Err(e) = self.store.tx(|tx| self.fail_expired_tx(tx, &job)) {
                    tracing::error!(job = job.id, error = %e, "could not fail an expired job; it will be tried again");
                    let _ = self.store.set_out_state(job.id, OutState::Queued, None);
                }
                continue;
            };
            // Redacted while it waited, claimed, for its turn: it does not leave now (the
            // failure path sees the request and cancels it).
            if self.store.cancel_requested(job.id).unwrap_or(false) {
                self.record_or_requeue(backend.id(), &job, Err(SendError::transient("redacted before it left")));
                continue;
            }
            // Parts out already (an earlier attempt, before a crash or a `retry`) stay out.
            let accepted = match job.parts_out.then(|| self.store.accepted_parts(job.id)).transpose() {
                Ok(a) => a.unwrap_or_default(),
                Err(e) => {
                    let e = SendError::transient(format!("could not read the parts sent before: {e}"));
                    self.record_or_requeue(backend.id(), &job, Err(e));
                    continue;
                }
            };
            let b = backend.clone();
            let sms = OutgoingSms {
                job_id: job.id,
                from: job.sender.clone().unwrap_or_else(|| b.number().into()),
                to: job.destination.clone(),
                text: job.body.clone(),
                accepted,
                options,
                binary: job.binary.clone(),
                sender: self.policy_sender(b.id(), &job.destination),
            };
            let handle = sends.spawn(async move { b.send(&sms).await });
            in_flight.insert(handle.id(), job);
        }
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

    /// Fails a job whose validity ran out before the link took it: the network would drop
    /// it anyway. Part of the caller's commit.
    fn fail_expired_tx(&self, tx: &rusqlite::Transaction, job: &OutJob) -> Result<(), crate::store::StoreError> {
        let why = "its validity period ran out before the link could take it";
        tracing::warn!(job = job.id, "SMS not sent: {why}");
        Store::set_out_state_tx(tx, job.id, OutState::Failed, Some(why))?;
        self.fail_permanently_tx(tx, &job.room_id, &job.event_id, &format!("Not sent: {why}."))
    }

    /// Fails a job a policy rule refuses (a cap reached while it waited). Part of the
    /// caller's commit.
    pub(super) fn fail_refused_tx(
        &self,
        tx: &rusqlite::Transaction,
        job: &OutJob,
        why: &str,
    ) -> Result<(), crate::store::StoreError> {
        Store::set_out_state_tx(tx, job.id, OutState::Failed, Some(why))?;
        Store::audit_out_refused_tx(tx, job.id)?;
        self.fail_permanently_tx(tx, &job.room_id, &job.event_id, &format!("Not sent: {why}."))
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
            // A scheduled message that went late (the bridge or its link was down then).
            if let Some(at) = job.not_before
                && crate::store::now_ms() - at > super::schedule::LATE_MS
                && !job.room_id.is_empty()
            {
                let minutes = (crate::store::now_ms() - at) / 60_000;
                let body = format!("🕓 The scheduled message went {minutes} min after its time: {}", job.body);
                self.notice_tx(tx, &job.room_id, &body)?;
            }
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
