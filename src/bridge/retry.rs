//! What a failed attempt at a queued job leads to: a retry after capped backoff, or the
//! job given up (with its notice in the same commit). Shared by every queue.

use super::{Bridge, BridgeError};
use crate::store::{Queue, Store, StoreError};

/// What kind of failure an attempt met, which decides whether it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The peer is away, busy or rate limiting: retried for as long as it takes (or until
    /// an outgoing message expires), never counted.
    Transient,
    /// Will fail again however often it is tried: given up at once.
    Permanent,
    /// Neither known to pass nor known to stay: counted against `bridge.max_attempts`.
    Unknown,
}

/// What became of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// Will be tried again; attempts so far.
    Retry(u32),
    /// An outgoing message was settled meanwhile (failed by a report, cancelled): nothing
    /// was scheduled.
    Settled,
    /// Marked dead.
    GaveUp(GiveUp),
}

/// Why a job was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GiveUp {
    Permanent,
    /// `bridge.max_attempts` failures of an unknown kind.
    Strikes(u32),
    /// An outgoing message ran past its expiry.
    Expired,
}

/// A failed attempt at a queued job, as [`Bridge::fail_job`] takes it.
pub(crate) struct Failed<'a> {
    pub queue: Queue,
    pub id: i64,
    /// Attempts before this one (for the backoff).
    pub attempts: u32,
    pub error: &'a str,
    pub class: Class,
    pub retry_after_ms: Option<u64>,
    /// When an outgoing message expires: retries stop there.
    pub expires_at: Option<i64>,
}

impl<'a> Failed<'a> {
    pub(crate) fn new(queue: Queue, id: i64, attempts: u32, error: &'a str, class: Class) -> Failed<'a> {
        Failed { queue, id, attempts, error, class, retry_after_ms: None, expires_at: None }
    }

    pub(crate) fn of(queue: Queue, id: i64, attempts: u32, error: &'a str, e: &BridgeError) -> Failed<'a> {
        Failed { retry_after_ms: e.retry_after_ms(), ..Failed::new(queue, id, attempts, error, e.class()) }
    }

    pub(crate) fn expiring(self, expires_at: i64) -> Failed<'a> {
        Failed { expires_at: Some(expires_at), ..self }
    }
}

impl Bridge {
    /// Counts a failed attempt at a queued job: schedules a retry with capped backoff, or
    /// gives the job up when the error is permanent, when `bridge.max_attempts` failures of
    /// an unknown kind have been seen, or when an outgoing message ran past its expiry.
    /// Giving up and what `on_give_up` queues (the notice about it) are one commit.
    pub(crate) fn fail_job(
        &self,
        f: Failed,
        on_give_up: impl FnOnce(&rusqlite::Transaction, GiveUp) -> Result<(), StoreError> + Send,
    ) -> Result<Attempt, StoreError> {
        let now = crate::store::now_ms();
        let wait = crate::store::backoff_ms(f.attempts, self.config.bridge.max_backoff_ms())
            .max(f.retry_after_ms.unwrap_or(0).min(i64::MAX as u64) as i64);
        let mut next = now + wait;
        let expired = f.expires_at.is_some_and(|e| now >= e);
        if let Some(e) = f.expires_at {
            // The last try happens at the expiry, not a backoff after it.
            next = next.min(e.max(now + 1000));
        }
        self.store.tx(|tx| {
            let strike = f.class == Class::Unknown;
            let (attempts, strikes) = Store::retry_later_tx(tx, f.queue, f.id, next, f.error, strike)?;
            // No row left to retry: it was settled while it was out.
            if attempts == 0 {
                return Ok(Attempt::Settled);
            }
            let give_up = match f.class {
                Class::Permanent => Some(GiveUp::Permanent),
                _ if expired => Some(GiveUp::Expired),
                Class::Unknown if strikes >= self.config.bridge.max_attempts => Some(GiveUp::Strikes(strikes)),
                _ => None,
            };
            match give_up {
                Some(why) => {
                    Store::bury_tx(tx, f.queue, f.id, f.error)?;
                    on_give_up(tx, why)?;
                    Ok(Attempt::GaveUp(why))
                }
                None => Ok(Attempt::Retry(attempts)),
            }
        })
    }
}
