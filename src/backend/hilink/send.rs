//! Sending: `send-sms`, retried while the router is busy with an earlier send, then
//! `send-status` until the router says it went or failed.

use std::time::{Duration, Instant};

use super::HilinkBackend;
use super::incoming::{message_id, number_key};
use super::router::{Router, Trouble};
use crate::backend::{OutgoingSms, SendError, Sent};
use crate::hilink::sms::{send_request, send_status_from};
use crate::hilink::xml::{Field, request};
use crate::hilink::{ListRequest, LocalDateTime};

/// Failed sends (FailPhone) of one message before it is given up: the router does not say
/// why, and a passing lack of signal looks the same as a number that cannot get SMS.
pub(super) const MAX_FAILS: u32 = 3;

/// What a send came to.
pub(super) enum Outcome {
    Sent(Sent),
    /// The router reported FailPhone.
    Failed(String),
}

pub(super) async fn send(
    b: &HilinkBackend,
    router: &mut Router,
    sms: &OutgoingSms,
    now: LocalDateTime,
) -> Result<Outcome, SendError> {
    let body = send_request(&[sms.to.as_str()], &sms.text, &now, &b.split)
        .map_err(|e| SendError::permanent(format!("cannot send this text through the router: {e}")))?;
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
            Err(t @ Trouble::Failed(_)) => {
                return Err(SendError::transient(format!("the router refused the send: {t}")));
            }
            Err(t) => return Err(SendError::link_down(format!("the router is away: {t}"))),
        }
    }
    // From here the router has the message: an error must not make it send again unasked.
    let mut pause = Duration::from_millis(300);
    loop {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(3));
        let status = match router.get("/api/sms/send-status").await {
            Ok(r) => send_status_from(&r).map_err(|e| format!("send-status: {e}")),
            Err(t) => Err(t.to_string()),
        };
        match status {
            Ok(s) if s.settled() => {
                let to = number_key(&sms.to);
                let listed = |p: &Vec<String>| p.iter().any(|x| number_key(x) == to);
                if listed(&s.fail_phone) && !listed(&s.suc_phone) {
                    return Ok(Outcome::Failed("the router reports the send failed".into()));
                }
                if !listed(&s.suc_phone) {
                    tracing::warn!(job = sms.job_id, status = ?s, "send-status settled without naming the number; taken as sent");
                }
                if !b.cfg.keep_on_router {
                    delete_sent_copy(router, sms).await;
                }
                return Ok(Outcome::Sent(Sent { message_ids: vec![message_id(&sms.to, sms.job_id)] }));
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(job = sms.job_id, error = %e, "send-status not readable yet"),
        }
        if Instant::now() > deadline {
            // Taken but not confirmed: counted as sent rather than risk sending it twice.
            tracing::warn!(
                job = sms.job_id,
                "the router took the message but did not confirm the send in time; taken as sent"
            );
            return Ok(Outcome::Sent(Sent { message_ids: vec![message_id(&sms.to, sms.job_id)] }));
        }
    }
}

/// The router keeps a copy of each sent message, in the same storage as the inbox:
/// left there, copies fill it and stop reception.
async fn delete_sent_copy(router: &mut Router, sms: &OutgoingSms) {
    let req = ListRequest { box_type: 2, ascending: false, read_count: 20, ..ListRequest::default() };
    let list = match router.post("/api/sms/sms-list", req.to_xml().into_bytes()).await {
        Ok(r) => crate::hilink::sms::list_from(&r),
        Err(e) => {
            tracing::debug!(error = %e, "could not list the sent box");
            return;
        }
    };
    let key = number_key(&sms.to);
    let Some(copy) = list.ok().and_then(|l| {
        l.messages.into_iter().find(|m| m.content == sms.text && m.phones.iter().any(|p| number_key(p) == key))
    }) else {
        return;
    };
    let body = request(&[Field::text("Index", copy.index)]);
    if let Err(e) = router.post("/api/sms/delete-sms", body.into_bytes()).await {
        tracing::debug!(index = copy.index, error = %e, "could not delete the sent copy");
    }
}
