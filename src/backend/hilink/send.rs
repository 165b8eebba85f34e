//! Sending: `send-sms`, retried while the router is busy with an earlier send, then
//! `send-status` until the router says it went or failed.
//!
//! Once the router may have the message, nothing here makes it send again unasked: an
//! answer lost on the way back is checked against `send-status` and the sent box, and
//! counted as sent when that cannot decide.

use std::time::{Duration, Instant};

use super::HilinkBackend;
use super::incoming::{message_id, number_key};
use super::router::{Router, Trouble};
use crate::backend::{OutgoingSms, SendError, Sent};
use crate::hilink::sms::{SendStatus, send_request, send_status_from};
use crate::hilink::xml::{Field, request};
use crate::hilink::{ListRequest, LocalDateTime};
use crate::sms::split::split_buffer;

/// Failed sends (FailPhone, or a refusal) of one message before it is given up: the router
/// does not say why, and a passing lack of signal looks the same as a number that cannot
/// get SMS.
pub(super) const MAX_FAILS: u32 = 3;
/// A settled `send-status` that looks as it did before our send may be the previous
/// send's: believed only after this long without any sign of ours.
const STALE_SUCCESS: Duration = Duration::from_secs(3);
const STALE_FAILURE: Duration = Duration::from_secs(10);

/// What a send came to.
pub(super) enum Outcome {
    Sent(Sent),
    /// The router reported FailPhone, or refused the request.
    Failed(String),
}

pub(super) async fn send(
    b: &HilinkBackend,
    router: &mut Router,
    sms: &OutgoingSms,
    now: LocalDateTime,
) -> Result<Outcome, SendError> {
    let cannot = |e: String| SendError::permanent(format!("cannot send this text through the router: {e}"));
    let body = send_request(&[sms.to.as_str()], &sms.text, &now, &b.split).map_err(|e| cannot(e.to_string()))?;
    // The router splits long texts itself; a delivery report may come for each part.
    let parts = split_buffer(&sms.text, &b.split).map_err(|e| cannot(e.what))?.2.len().max(1);
    let sent = || {
        let ids = (1..=parts).map(|i| format!("{}:{i}", message_id(&sms.to, sms.job_id))).collect();
        Outcome::Sent(Sent { message_ids: ids })
    };
    let before = status(router).await.ok();
    let deadline = Instant::now() + Duration::from_secs(b.cfg.send_timeout);
    let mut pause = Duration::from_millis(500);
    loop {
        match router.post("/api/sms/send-sms", body.clone()).await {
            Ok(_) => break,
            // Busy with an earlier send: that is not a failure of this one.
            Err(Trouble::Busy(e)) if Instant::now() + pause < deadline => {
                tracing::debug!(job = sms.job_id, error = %e, "the router is busy; sending again shortly");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(8));
            }
            Err(Trouble::Busy(e)) => return Err(SendError::transient(format!("the router stayed busy: {e}"))),
            Err(Trouble::Failed(e)) => return Ok(Outcome::Failed(format!("the router refused the send: {e}"))),
            Err(t @ Trouble::Unreachable(_)) if router.maybe_delivered() => {
                tracing::warn!(job = sms.job_id, error = %t, "no answer to send-sms; asking the router whether it took the message");
                return match taken(router, sms).await {
                    Some(false) => Err(SendError::link_down(format!("the router is away: {t}"))),
                    Some(true) => Ok(sent()),
                    None => {
                        tracing::warn!(
                            job = sms.job_id,
                            "cannot tell whether the router took the message; taken as sent rather than risk sending it twice"
                        );
                        Ok(sent())
                    }
                };
            }
            Err(t) => return Err(SendError::link_down(format!("the router is away: {t}"))),
        }
    }
    let started = Instant::now();
    let mut ours_seen = false;
    let mut pause = Duration::from_millis(300);
    loop {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(3));
        let s = match status(router).await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(job = sms.job_id, error = %e, "send-status not readable yet");
                if Instant::now() > deadline {
                    tracing::warn!(
                        job = sms.job_id,
                        "the router took the message but did not confirm the send in time; taken as sent"
                    );
                    return Ok(sent());
                }
                continue;
            }
        };
        ours_seen |= !s.settled() || before.as_ref().is_some_and(|b| *b != s);
        if s.settled() {
            let to = number_key(&sms.to);
            let listed = |p: &Vec<String>| p.iter().any(|x| number_key(x) == to);
            let failed = listed(&s.fail_phone) && !listed(&s.suc_phone);
            let grace = if failed { STALE_FAILURE } else { STALE_SUCCESS };
            if ours_seen || started.elapsed() >= grace {
                if failed {
                    return Ok(Outcome::Failed("the router reports the send failed".into()));
                }
                if !listed(&s.suc_phone) {
                    tracing::warn!(job = sms.job_id, status = ?s, "send-status settled without naming the number; taken as sent");
                }
                if !b.cfg.keep_on_router {
                    delete_sent_copy(router, sms).await;
                }
                return Ok(sent());
            }
        }
        if Instant::now() > deadline {
            tracing::warn!(
                job = sms.job_id,
                "the router took the message but did not confirm the send in time; taken as sent"
            );
            return Ok(sent());
        }
    }
}

async fn status(router: &mut Router) -> Result<SendStatus, String> {
    match router.get("/api/sms/send-status").await {
        Ok(r) => send_status_from(&r).map_err(|e| format!("send-status: {e}")),
        Err(t) => Err(t.to_string()),
    }
}

/// Whether the router took a message whose `send-sms` answer was lost: sending it now, or
/// its copy in the sent box. None when the router cannot be asked.
async fn taken(router: &mut Router, sms: &OutgoingSms) -> Option<bool> {
    let to = number_key(&sms.to);
    for attempt in 0..3 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        let Ok(s) = status(router).await else { continue };
        if s.phone.iter().any(|p| number_key(p) == to) {
            return Some(true);
        }
        if let Some(found) = sent_copy(router, sms).await {
            return Some(found.is_some());
        }
    }
    None
}

/// The index of the router's copy of a message we sent, from the newest in the sent box;
/// None when the box cannot be read.
async fn sent_copy(router: &mut Router, sms: &OutgoingSms) -> Option<Option<i64>> {
    let req = ListRequest { box_type: 2, ascending: false, read_count: 20, ..ListRequest::default() };
    let list = match router.post("/api/sms/sms-list", req.to_xml().into_bytes()).await {
        Ok(r) => crate::hilink::sms::list_from(&r).ok()?,
        Err(e) => {
            tracing::debug!(error = %e, "could not list the sent box");
            return None;
        }
    };
    let key = number_key(&sms.to);
    let copy =
        list.messages.into_iter().find(|m| m.content == sms.text && m.phones.iter().any(|p| number_key(p) == key));
    Some(copy.map(|m| m.index))
}

/// The router keeps a copy of each sent message, in the same storage as the inbox:
/// left there, copies fill it and stop reception.
async fn delete_sent_copy(router: &mut Router, sms: &OutgoingSms) {
    let Some(Some(index)) = sent_copy(router, sms).await else { return };
    let body = request(&[Field::text("Index", index)]);
    if let Err(e) = router.post("/api/sms/delete-sms", body.into_bytes()).await {
        tracing::info!(index, error = %e, "could not delete the router's copy of a sent message");
    }
}
