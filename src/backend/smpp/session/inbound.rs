//! Inbound deliver_sm/data_sm: committed by a worker task, then answered. What arrives
//! on a connection that has ended by the time its turn comes is not committed: it could
//! not be answered, and the SMSC delivers it again.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::backend::EventSink;
use crate::backend::smpp::Shared;
use crate::backend::smpp::deliver::{self, Incoming, Message};
use crate::config::DataCodingPolicy;
use crate::smpp::{Body, Pdu, SmResp, status};

/// A task that commits what deliver_sm/data_sm carry and hands back the responses, so
/// the connection keeps submitting while SQLite syncs.
pub(super) fn spawn_inbound(
    shared: Arc<Shared>,
    sink: EventSink,
    policy: DataCodingPolicy,
) -> (mpsc::Sender<(u32, Body)>, mpsc::Receiver<Pdu>) {
    let (received_tx, mut received) = mpsc::channel::<(u32, Body)>(256);
    let (responses_tx, responses) = mpsc::channel::<Pdu>(256);
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
            for pdu in pdus {
                if responses_tx.send(pdu).await.is_err() {
                    return;
                }
            }
        }
    });
    (received_tx, responses)
}

/// Commits one deliver_sm/data_sm and builds the response PDU for it.
fn commit_and_respond(shared: &Shared, sink: &EventSink, policy: DataCodingPolicy, seq: u32, body: &Body) -> Pdu {
    let (message, resp): (Message, fn(SmResp) -> Body) = match body {
        Body::DeliverSm(sm) => (Message::from(sm), Body::DeliverSmResp),
        Body::DataSm(d) => (Message::from(d), Body::DataSmResp),
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
            return Pdu::new(seq, resp(SmResp::default())).with_status(status::ESME_RX_P_APPN);
        }
    };
    match committed {
        Ok(()) => {
            shared.stats.received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Pdu::new(seq, resp(SmResp::default()))
        }
        Err(e) => {
            // Not committed, so not acknowledged: the SMSC will try again.
            tracing::error!(link = %shared.id, error = %e, "could not store a received message; asked the SMSC to retry");
            Pdu::new(seq, resp(SmResp::default())).with_status(status::ESME_RX_T_APPN)
        }
    }
}
