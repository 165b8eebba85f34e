//! Link → Matrix: drains the inbox. SMS go to their portal (created on first contact) as
//! the ghost, with a transaction id derived from the inbox row, so a crash after sending
//! and before recording it cannot produce a duplicate. Delivery reports become statuses
//! and read receipts.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::status::Update;
use super::{Attempt, Bridge, BridgeError};
use crate::backend::{DeliveryReport, DeliveryStatus, ReceivedSms};
use crate::phone::Address;
use crate::store::{InboxItem, InboxKind, OutState, Queue, Store};

pub(super) async fn run(bridge: Arc<Bridge>) {
    let wake = bridge.wake.inbox.clone();
    super::work_loop("inbox", &wake, Duration::from_secs(1), || {
        let b = bridge.clone();
        async move { b.drain_inbox().await }
    })
    .await
}

impl Bridge {
    /// Handles due inbox items in order; true if there may be more.
    pub async fn drain_inbox(&self) -> Result<bool, BridgeError> {
        let items = self.store.due_inbox(100)?;
        // Relayed SMS are recorded in one commit per batch; their transaction ids (derived
        // from the inbox row) make a repeat after a crash harmless.
        let mut relayed: Vec<(i64, String)> = Vec::with_capacity(items.len());
        for item in &items {
            let result = match &item.item {
                InboxKind::Sms(sms) => self.relay_sms(item, sms).await.map(|ev| relayed.push((item.id, ev))),
                InboxKind::Report(r) => self.apply_report(item, r),
                InboxKind::WapPush(p) => {
                    self.accept_wap_push(item, p).await.map(|ev| relayed.extend(ev.map(|ev| (item.id, ev))))
                }
            };
            if let Err(e) = result {
                self.record_relayed(&mut relayed).await?;
                match self.retry_or_bury(Queue::Inbox, item.id, item.attempts, &e.to_string(), e.is_transient())? {
                    Attempt::GaveUp(_) => {
                        tracing::error!(inbox = item.id, error = %e, "giving up on an inbound item; it stays in the inbox as dead");
                        if let InboxKind::Sms(sms) = &item.item {
                            self.report_dead_sms(&item.backend_id, sms, &e)?;
                        }
                    }
                    Attempt::Retry(attempts) if !matches!(e, BridgeError::Matrix(_)) => {
                        tracing::info!(inbox = item.id, attempts, error = %e, "inbound item not handled yet; will retry");
                    }
                    Attempt::Retry(attempts) => {
                        tracing::warn!(inbox = item.id, attempts, error = %e, "inbound item not relayed; will retry");
                        // Usually the homeserver is away: pause the batch rather than fail every item.
                        // Later SMS of this conversation wait for it (see `due_inbox`).
                        return Ok(false);
                    }
                }
            }
        }
        self.record_relayed(&mut relayed).await?;
        if !items.is_empty() {
            self.wake.matrix_out.notify_one();
        }
        Ok(items.len() == 100)
    }

    async fn record_relayed(&self, relayed: &mut Vec<(i64, String)>) -> Result<(), BridgeError> {
        if relayed.is_empty() {
            return Ok(());
        }
        super::failpoint::hit("inbox-after-send").await;
        self.store.tx(|tx| {
            for (id, ev) in relayed.iter() {
                Store::finish_inbox(tx, *id, Some(ev))?;
            }
            Ok(())
        })?;
        relayed.clear();
        Ok(())
    }

    /// Tells someone about an SMS that could not be put into Matrix: in its portal if
    /// there is one, else in the link owner's management room.
    fn report_dead_sms(&self, backend_id: &str, sms: &ReceivedSms, e: &BridgeError) -> Result<(), BridgeError> {
        let from = Address::parse(&sms.from, self.config.bridge.default_region.as_deref());
        let number = self.backends.get(backend_id).map(|b| b.number().to_string()).unwrap_or_default();
        let portal_room = self.store.portal_by_pair(&number, &from.key)?.and_then(|p| p.room_id);
        let room = portal_room.or_else(|| self.owners_management_room(backend_id));
        if let Some(room) = room {
            let body = format!("⚠ An SMS from {} could not be shown here ({e}). It was: {}", from.display, sms.text);
            self.store.tx(|tx| self.notice_tx(tx, &room, &body))?;
        }
        Ok(())
    }

    /// The management room of a link's owner: where news goes that has no portal to go to.
    pub(super) fn owners_management_room(&self, backend_id: &str) -> Option<String> {
        self.link_owner(backend_id).and_then(|o| self.store.management_room(&o).ok().flatten())
    }

    /// Posts an SMS to its portal; returns the event id (recorded by the caller).
    async fn relay_sms(&self, item: &InboxItem, sms: &ReceivedSms) -> Result<String, BridgeError> {
        let content = json!({ "msgtype": "m.text", "body": sms.text });
        self.relay(item, &sms.from, &content, sms.timestamp_ms).await
    }

    pub(super) async fn relay(
        &self,
        item: &InboxItem,
        sender: &str,
        content: &serde_json::Value,
        timestamp_ms: Option<i64>,
    ) -> Result<String, BridgeError> {
        let owner = self
            .link_owner(&item.backend_id)
            .ok_or_else(|| BridgeError::Other(format!("SMS from unknown link {:?}", item.backend_id)))?;
        let from = Address::parse_cached(sender, self.config.bridge.default_region.as_deref());
        let portal = self.ensure_portal(&item.backend_id, &from, &owner).await?;
        let room = portal.room_id.as_deref().unwrap_or_default();
        let ghost = self.ensure_ghost(&from).await?;
        super::failpoint::hit("inbox-before-send").await;
        let txn = format!("sms-in-{}", item.id);
        let event_id = self.matrix.send(&ghost, room, &txn, "m.room.message", content, timestamp_ms).await?;
        tracing::debug!(inbox = item.id, %event_id, "SMS relayed to Matrix");
        Ok(event_id)
    }

    fn apply_report(&self, item: &InboxItem, r: &DeliveryReport) -> Result<(), BridgeError> {
        let mut job = None;
        for id in std::iter::once(&r.message_id).chain(&r.alt_ids) {
            job = self.store.out_job_by_backend_msg(&item.backend_id, id)?;
            if job.is_some() {
                break;
            }
        }
        let Some(job) = job else {
            // The report may have overtaken the record of its send: retry for a while.
            return Err(BridgeError::NotYet(format!("delivery report for unknown message id {:?}", r.message_id)));
        };
        let portal = self.store.portal_by_id(job.portal_id)?;
        let ghost = portal.as_ref().map(|p| self.ghost_mxid(&p.remote_key)).unwrap_or_default();
        let (room, ev) = (job.room_id.as_str(), job.event_id.as_str());
        match r.status {
            DeliveryStatus::Delivered if job.state != OutState::Delivered => {
                self.store.tx(|tx| {
                    Store::set_out_state_tx(tx, job.id, OutState::Delivered, None)?;
                    self.status_tx(tx, room, ev, Update::delivered(&[&ghost]))?;
                    if self.config.matrix.delivery_receipts {
                        Store::enqueue_matrix(tx, room, &ghost, "receipt", "m.read", &json!({ "event_id": ev }))?;
                    }
                    Store::finish_inbox(tx, item.id, None)
                })?;
            }
            DeliveryStatus::Failed => {
                let why = r.detail.clone().unwrap_or_else(|| "the network could not deliver it".into());
                let message =
                    format!("Not delivered to {}: {why}", portal.map(|p| p.remote_display).unwrap_or_default());
                self.store.tx(|tx| {
                    Store::set_out_state_tx(tx, job.id, OutState::Failed, r.detail.as_deref())?;
                    self.fail_permanently_tx(tx, room, ev, &message)?;
                    Store::finish_inbox(tx, item.id, None)
                })?;
            }
            _ => self.store.tx(|tx| Store::finish_inbox(tx, item.id, None))?,
        }
        Ok(())
    }
}
