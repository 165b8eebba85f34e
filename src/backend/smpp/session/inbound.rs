//! Inbound deliver_sm/data_sm: committed by a worker task, then answered. What arrives
//! on a connection that has ended by the time its turn comes is not committed: it could
//! not be answered, and the SMSC delivers it again. What was committed but whose answer
//! never went out (the connection ended in between) is remembered by its fingerprint, and
//! the SMSC's repeat of it is answered without being kept twice.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::backend::EventSink;
use crate::backend::smpp::Shared;
use crate::backend::smpp::deliver::{self, Incoming, Message};
use crate::config::DataCodingPolicy;
use crate::smpp::{Body, Pdu, SmResp, status};

/// A response for the connection, with the fingerprint of the message it answers (None
/// for one not committed: nothing to look out for).
pub(super) struct Response {
    pub pdu: Pdu,
    pub fingerprint: Option<u64>,
}

/// Identifies a deliver_sm by what it carries (not its sequence number, which a repeat
/// changes).
fn fingerprint(body: &Body) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    h.finish()
}

/// A task that commits what deliver_sm/data_sm carry and hands back the responses, so
/// the connection keeps submitting while SQLite syncs.
pub(super) fn spawn_inbound(
    shared: Arc<Shared>,
    sink: EventSink,
    policy: DataCodingPolicy,
) -> (mpsc::Sender<(u32, Body)>, mpsc::Receiver<Response>) {
    let (received_tx, mut received) = mpsc::channel::<(u32, Body)>(256);
    let (responses_tx, responses) = mpsc::channel::<Response>(256);
    tokio::spawn(async move {
        while let Some(first) = received.recv().await {
            let mut batch = vec![first];
            while batch.len() < 256 {
                match received.try_recv() {
                    Ok(item) => batch.push(item),
                    Err(_) => break,
                }
            }
            let (s, sh, answers) = (sink.clone(), shared.clone(), responses_tx.clone());
            let pdus = tokio::task::spawn_blocking(move || {
                let mut pdus = Vec::with_capacity(batch.len());
                for (seq, body) in batch {
                    // The connection this came on has ended, so its answer can never be
                    // sent and the SMSC will deliver it again: committing it now would
                    // only put it in Matrix twice. Left uncommitted, it is not lost.
                    if answers.is_closed() {
                        break;
                    }
                    pdus.push(commit_and_respond(&sh, &s, policy, seq, &body));
                }
                pdus
            })
            .await;
            let Ok(pdus) = pdus else { return };
            let mut pdus = pdus.into_iter();
            while let Some(r) = pdus.next() {
                if let Err(unsent) = responses_tx.send(r).await {
                    // The connection ended after these were committed.
                    let prints = std::iter::once(unsent.0).chain(pdus).filter_map(|r| r.fingerprint);
                    shared.remember_unanswered(prints);
                    return;
                }
            }
        }
    });
    (received_tx, responses)
}

/// Commits one deliver_sm/data_sm and builds the response for it.
fn commit_and_respond(shared: &Shared, sink: &EventSink, policy: DataCodingPolicy, seq: u32, body: &Body) -> Response {
    let print = fingerprint(body);
    let resp = |status: Option<u32>| {
        let pdu = match body {
            Body::DataSm(_) => Pdu::new(seq, Body::DataSmResp(SmResp::default())),
            _ => Pdu::new(seq, Body::DeliverSmResp(SmResp::default())),
        };
        match status {
            Some(st) => Response { pdu: pdu.with_status(st), fingerprint: None },
            None => Response { pdu, fingerprint: Some(print) },
        }
    };
    if shared.was_unanswered(print) {
        tracing::info!(link = %shared.id, "the SMSC delivered again a message taken before its answer was lost; not kept twice");
        return resp(None);
    }
    match commit(shared, sink, policy, body) {
        Ok(()) => resp(None),
        Err(st) => resp(Some(st)),
    }
}

/// Commits what one deliver_sm/data_sm carries; Err is the status to answer with.
fn commit(shared: &Shared, sink: &EventSink, policy: DataCodingPolicy, body: &Body) -> Result<(), u32> {
    let message = match body {
        Body::DeliverSm(sm) => Message::from(sm),
        Body::DataSm(d) => Message::from(d),
        _ => unreachable!("only deliver_sm and data_sm are passed in"),
    };
    let from = deliver::number(message.source);
    // A bug in interpreting one message must not take the link down (and make the SMSC
    // redeliver the whole batch, to fail again): that message is refused, the rest go on.
    let interpreted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| deliver::interpret(&message, policy)))
        .unwrap_or_else(|_| Err("interpreting it panicked (a bug; please report it)".to_string()));
    let committed = match interpreted {
        Ok(Incoming::Sms(sms)) => sink.sms(sms).map(drop),
        Ok(Incoming::Part(part)) => sink.sms_part(part).map(drop),
        Ok(Incoming::Report(r)) => sink.report(r).map(drop),
        Ok(Incoming::WapPush(p)) => sink.wap_push(p).map(drop),
        Ok(Incoming::Ignored(why)) => {
            tracing::info!(link = %shared.id, %from, %why, "deliver_sm acknowledged and dropped");
            Ok(())
        }
        Err(why) => {
            // Refused for good: the SMSC would only send the same bytes again.
            tracing::warn!(link = %shared.id, %from, %why, pdu = body.name(), "undecodable message refused");
            return Err(status::ESME_RX_P_APPN);
        }
    };
    match committed {
        Ok(()) => {
            shared.stats.received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        }
        Err(e) => {
            // Not committed, so not acknowledged: the SMSC will try again.
            tracing::error!(link = %shared.id, error = %e, "could not store a received message; asked the SMSC to retry");
            Err(status::ESME_RX_T_APPN)
        }
    }
}
