//! Matrix → MMS: media messages, and every message in a group portal, sent to the MMSC
//! as m-send-req. The media is downloaded from the homeserver (authenticated media),
//! images are scaled down to the carrier's size limit, and m-send-conf decides the
//! message status.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::media::fit_image;
use super::mms_job::{Failure, post_to_mmsc};
use super::status::{Status, Update};
use super::{Attempt, Bridge, BridgeError, Class, Failed, GiveUp};
use crate::mms::{self, Attachment, MessageType, pdu};
use crate::store::{MmsOutJob, Queue, Store};

pub(super) async fn run(bridge: Arc<Bridge>) {
    let wake = bridge.wake.mms_out.clone();
    super::work_loop("mms out", &wake, Duration::from_secs(5), || {
        let b = bridge.clone();
        async move { b.send_due_mms().await }
    })
    .await
}

impl Bridge {
    /// Sends due MMS; true if there may be more.
    pub async fn send_due_mms(&self) -> Result<bool, BridgeError> {
        let jobs = self.store.due_mms_out(10)?;
        for job in &jobs {
            // Cancelled (redacted) since it was read: not sent.
            if !self.store.claim_mms_out(job.id)? {
                continue;
            }
            let result = self.send_mms(job).await;
            self.record_mms_send(job, result)?;
        }
        if !jobs.is_empty() {
            self.wake.matrix_out.notify_one();
        }
        Ok(jobs.len() == 10)
    }

    fn record_mms_send(&self, job: &MmsOutJob, result: Result<String, Failure>) -> Result<(), BridgeError> {
        let (room, ev) = (job.room_id.as_str(), job.event_id.as_str());
        match result {
            Ok(message_id) => {
                tracing::info!(job = job.id, %message_id, "MMS accepted by the MMSC");
                self.mmsc_answered();
                self.store.tx(|tx| {
                    Store::finish_mms_out_tx(tx, job.id, "sent", Some(&message_id), None)?;
                    self.status_tx(tx, room, ev, Update::new(Status::Success))
                })?;
            }
            Err(f) if self.store.mms_cancel_requested(job.id)? => {
                tracing::info!(job = job.id, error = %f.message, "MMS redacted while it was out, and not taken: cancelled");
                self.store.tx(|tx| {
                    Store::finish_mms_out_tx(tx, job.id, "failed", None, Some("cancelled"))?;
                    self.status_tx(tx, room, ev, Update::failed(Status::FailPermanent, "m_generic_error", "cancelled"))
                })?;
            }
            Err(f) => {
                tracing::warn!(job = job.id, error = %f.message, "MMS not sent");
                if f.transient {
                    self.mmsc_failed();
                }
                let class = if f.transient { Class::Transient } else { Class::Permanent };
                let failed =
                    Failed::new(Queue::MmsOut, job.id, job.attempts, &f.message, class).expiring(job.expires_at);
                let expiry = self.config.bridge.outbound_expiry_text();
                let attempt = self.fail_job(failed, |tx, why| {
                    let message = match why {
                        GiveUp::Expired => format!("The MMS was not sent within {expiry}: {}", f.message),
                        _ => format!("The MMS was not sent: {}", f.message),
                    };
                    if why == GiveUp::Permanent {
                        Store::finish_mms_out_tx(tx, job.id, "failed", None, Some(&f.message))?;
                    }
                    self.fail_permanently_tx(tx, room, ev, &message)
                })?;
                if attempt == Attempt::Retry(1) {
                    let update = Update::failed(Status::FailRetriable, "m_foreign_network_error", &f.message);
                    self.store.tx(|tx| self.status_tx(tx, room, ev, update))?;
                }
            }
        }
        Ok(())
    }

    /// Builds the m-send-req for a job, POSTs it and reads the m-send-conf; returns the
    /// MMSC's message id.
    async fn send_mms(&self, job: &MmsOutJob) -> Result<String, Failure> {
        let cfg = &self.config.mms;
        let url = cfg.mmsc_url.as_deref().ok_or_else(|| Failure::permanent("no MMSC configured (mms.mmsc_url)"))?;
        if job.recipients.is_empty() {
            return Err(Failure::permanent("nobody in this chat can receive messages"));
        }
        let (text, attachments) = self.mms_content(&job.content).await?;
        let limit = cfg.max_send_size as usize;
        let size: usize =
            attachments.iter().map(|a| a.data.len()).sum::<usize>() + text.as_ref().map_or(0, String::len);
        if size > limit {
            return Err(Failure::permanent(format!(
                "it is {size} bytes, over the {limit}-byte limit for MMS (mms.max_send_size)"
            )));
        }
        let req = mms::send_req(&format!("sb-{}", job.id), &job.recipients, None, text.as_deref(), &attachments);
        let body = mms::encode(&req).map_err(|e| Failure::permanent(e.to_string()))?;
        let answer = post_to_mmsc(url, cfg, body).await?;
        // The MMSC took the POST: sending again could deliver twice, so an answer we cannot
        // read counts as sent.
        let conf = match mms::decode(&answer) {
            Ok(c) if c.message_type == MessageType::SEND_CONF => c,
            Ok(c) => {
                tracing::warn!(job = job.id, answer = %c.message_type.name(), "odd MMSC answer; counting the MMS as sent");
                return Ok(String::new());
            }
            Err(e) => {
                tracing::warn!(job = job.id, error = %e, "unreadable MMSC answer; counting the MMS as sent");
                return Ok(String::new());
            }
        };
        match conf.response_status {
            Some(0x80) => Ok(conf.message_id.unwrap_or_default()),
            // Partial success: some recipients have it; retrying would repeat it to them.
            Some(0xC4) => {
                tracing::warn!(job = job.id, "MMSC reports partial success");
                Ok(conf.message_id.unwrap_or_default())
            }
            Some(status) => {
                let name =
                    pdu::response_status_name(status).map(str::to_string).unwrap_or_else(|| format!("0x{status:02x}"));
                let text = conf.response_text.map(|t| format!(": {t}")).unwrap_or_default();
                Err(Failure {
                    message: format!("the MMSC refused it ({name}{text})"),
                    transient: pdu::response_status_is_transient(status),
                })
            }
            None => Err(Failure::permanent("the MMSC's answer has no status")),
        }
    }

    /// The text and the files of a Matrix message. A file's `body` is its caption when
    /// `filename` says the name (Matrix media captions).
    async fn mms_content(&self, content: &Value) -> Result<(Option<String>, Vec<Attachment>), Failure> {
        let msgtype = content["msgtype"].as_str().unwrap_or("");
        let body = content["body"].as_str().unwrap_or("").trim().to_string();
        if !matches!(msgtype, "m.image" | "m.video" | "m.audio" | "m.file") {
            let text = super::text::sms_text(content).map_err(|u| Failure::permanent(u.explain()))?;
            return Ok((Some(text), Vec::new()));
        }
        if content.get("file").is_some() {
            return Err(Failure::permanent("encrypted files cannot be sent as MMS yet"));
        }
        let mxc = content["url"].as_str().ok_or_else(|| Failure::permanent("the message has no file"))?;
        let limit = self.config.mms.max_send_size as usize;
        // Pictures can shrink; other files cannot. Refuse what cannot fit before downloading.
        let ceiling = if msgtype == "m.image" { limit.saturating_mul(64) } else { limit };
        if let Some(size) = content["info"]["size"].as_u64().filter(|&s| s > ceiling as u64) {
            return Err(Failure::permanent(format!(
                "it is {size} bytes, over the {limit}-byte limit for MMS (mms.max_send_size)"
            )));
        }
        let (mut data, served_type) = self.matrix.download(mxc).await.map_err(BridgeError::from)?;
        let mut mimetype = content["info"]["mimetype"]
            .as_str()
            .map(str::to_string)
            .or(served_type)
            .unwrap_or_else(|| "application/octet-stream".into());
        let filename = content["filename"].as_str().map(str::to_string);
        let caption = filename.as_ref().filter(|f| **f != body && !body.is_empty()).map(|_| body.clone());
        let mut filename = mms::safe_filename(filename.as_deref().unwrap_or(&body), "attachment");
        // Leave room for the headers, SMIL and caption.
        let budget = limit.saturating_sub(4_000 + caption.as_ref().map_or(0, String::len));
        if msgtype == "m.image" && data.len() > budget {
            let before = data.len();
            // Decoding and re-encoding takes a while: off the async threads.
            let fitted = tokio::task::spawn_blocking(move || fit_image(&data, budget)).await.ok().flatten();
            data = fitted.ok_or_else(|| {
                Failure::permanent(format!("the picture ({before} bytes) cannot be made small enough for MMS"))
            })?;
            mimetype = "image/jpeg".into();
            if !filename.to_ascii_lowercase().ends_with(".jpg") {
                filename = format!("{}.jpg", filename.rsplit_once('.').map_or(filename.as_str(), |(stem, _)| stem));
            }
            tracing::info!(before, after = data.len(), "picture scaled down for MMS");
        }
        Ok((caption, vec![Attachment { content_type: mimetype, filename, data }]))
    }
}
