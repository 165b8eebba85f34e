//! What to do with each PDU the SMSC sends while bound.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::End;
use super::conn::Conn;
use super::outbound::Outbound;
use super::pending::Pending;
use crate::backend::SendError;
use crate::backend::smpp::Shared;
use crate::config::SmppConfig;
use crate::smpp::{self, Body, Pdu, PduError, SmResp, receipt, status};

impl Conn {
    /// A frame that did not decode. A response is never answered (that would break the
    /// protocol); one to a pending submit still settles it by its command_status, so an
    /// SMSC that sends a sloppy submit_sm_resp does not make us resend forever.
    #[allow(clippy::too_many_arguments)]
    pub async fn on_malformed(
        &mut self,
        cfg: &SmppConfig,
        shared: &Arc<Shared>,
        e: PduError,
        st: u32,
        pending: &mut HashMap<u32, Pending>,
        out: &mut Option<&mut Outbound<'_>>,
        inbound: &mpsc::Sender<(u32, Body)>,
        pause_until: Instant,
    ) -> Result<Option<End>, String> {
        let command_id = e.command_id.unwrap_or(0);
        match (command_id, e.sequence) {
            (smpp::SUBMIT_SM_RESP, Some(seq)) if matches!(pending.get(&seq), Some(Pending::Submit { .. })) => {
                tracing::warn!(link = %shared.id, error = %e, "unreadable submit_sm_resp; settled by its status alone");
                let pdu = Pdu::new(seq, Body::SubmitSmResp(SmResp::default())).with_status(st);
                self.on_pdu(cfg, shared, pdu, pending, out, inbound, pause_until).await
            }
            (id, _) if id & smpp::RESP != 0 => {
                tracing::warn!(link = %shared.id, error = %e, "unreadable response from the SMSC; ignored");
                Ok(None)
            }
            (_, Some(seq)) => {
                tracing::warn!(link = %shared.id, error = %e, "malformed PDU from the SMSC; answered generic_nack");
                let nack = Pdu::new(seq, Body::GenericNack).with_status(status::ESME_RINVCMDLEN);
                self.write(cfg, &nack).await.map(|()| None)
            }
            (_, None) => {
                tracing::warn!(link = %shared.id, error = %e, "malformed PDU from the SMSC; ignored");
                Ok(None)
            }
        }
    }

    /// Handles one PDU from the SMSC. Ok(Some) ends the connection.
    #[allow(clippy::too_many_arguments)]
    pub async fn on_pdu(
        &mut self,
        cfg: &SmppConfig,
        shared: &Arc<Shared>,
        pdu: Pdu,
        pending: &mut HashMap<u32, Pending>,
        out: &mut Option<&mut Outbound<'_>>,
        inbound: &mpsc::Sender<(u32, Body)>,
        pause_until: Instant,
    ) -> Result<Option<End>, String> {
        let seq = pdu.sequence;
        match pdu.body {
            Body::SubmitSmResp(_) | Body::GenericNack if pending.contains_key(&seq) => {
                let Some(Pending::Submit { req, .. }) = pending.remove(&seq) else {
                    // A generic_nack to our enquire_link: the link is alive all the same.
                    return Ok(None);
                };
                let id = match &pdu.body {
                    Body::SubmitSmResp(SmResp { message_id, .. }) => message_id.clone(),
                    _ => String::new(),
                };
                let st = pdu.status;
                if st == status::ESME_ROK && matches!(pdu.body, Body::SubmitSmResp(_)) {
                    shared.stats.submitted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let _ = req.reply.send(Ok(receipt::canonical_id(&id)));
                } else if status::is_throttle(st) {
                    shared.stats.throttled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::info!(link = %shared.id, status = %status::describe(st), "SMSC asks us to slow down; pausing submits");
                    if let Some(o) = out.as_mut() {
                        o.throttle.pause(pause_until);
                        o.requeue(vec![(seq, *req)], false);
                    }
                } else if status::is_temporary(st) || matches!(pdu.body, Body::GenericNack) {
                    // A generic_nack says the SMSC did not understand the PDU, not that it
                    // refuses the message: retried with backoff until the message expires.
                    let _ = req.reply.send(Err(SendError::transient(format!("SMSC: {}", status::describe(st)))));
                } else {
                    // The message cannot be completed: its parts still queued stay here.
                    req.refused.store(true, std::sync::atomic::Ordering::Relaxed);
                    let _ =
                        req.reply.send(Err(SendError::permanent(format!("SMSC refused it: {}", status::describe(st)))));
                }
            }
            Body::EnquireLinkResp => {
                // Only an enquire_link of ours: a stray one must not drop a submit.
                if matches!(pending.get(&seq), Some(Pending::Enquire { .. })) {
                    pending.remove(&seq);
                }
            }
            Body::EnquireLink => {
                self.write(cfg, &Pdu::new(seq, Body::EnquireLinkResp)).await?;
            }
            Body::DeliverSm(_) | Body::DataSm(_) => {
                // Backpressure: when the inbound worker is busy committing, stop reading.
                inbound.send((seq, pdu.body)).await.map_err(|_| "the inbound worker stopped".to_string())?;
            }
            Body::Unbind => {
                self.write(cfg, &Pdu::new(seq, Body::UnbindResp)).await?;
                return Ok(Some(End::Lost("the SMSC unbound".into())));
            }
            Body::UnbindResp
            | Body::GenericNack
            | Body::SubmitSmResp(_)
            | Body::DeliverSmResp(_)
            | Body::DataSmResp(_) => {
                tracing::debug!(link = %shared.id, pdu = pdu.body.name(), seq, "response to nothing we sent; ignored");
            }
            Body::Other { command_id, .. }
                if command_id & smpp::RESP != 0 || command_id == smpp::ALERT_NOTIFICATION =>
            {
                // Responses and alert_notification get no answer.
                tracing::debug!(link = %shared.id, command_id, "ignored a PDU we do not use");
            }
            other => {
                tracing::warn!(link = %shared.id, pdu = other.name(), "unexpected PDU from the SMSC; answered generic_nack");
                self.write(cfg, &Pdu::new(seq, Body::GenericNack).with_status(status::ESME_RINVCMDID)).await?;
            }
        }
        Ok(None)
    }
}
