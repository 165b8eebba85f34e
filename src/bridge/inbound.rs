//! Link → Matrix: drains the inbox. SMS go to their portal (created on first contact) as
//! the ghost, with a transaction id derived from the inbox row, so a crash after sending
//! and before recording it cannot produce a duplicate. Delivery reports become statuses
//! and read receipts.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::rooms::GhostPost;
use super::status::Update;
use super::{Attempt, Bridge, BridgeError};
use crate::backend::{DeliveryReport, DeliveryStatus, ReceivedSms};
use crate::phone::Address;
use crate::store::{InboxItem, InboxKind, OutState, Queue, ReportTarget, Store};

/// Where a notice goes: a room, or a user's management room.
enum Target {
    Room(String),
    Owner(String),
}

pub(super) async fn run(bridge: Arc<Bridge>) {
    let wake = bridge.wake.inbox.clone();
    super::work_loop("inbox", &wake, Duration::from_secs(1), || {
        let b = bridge.clone();
        async move { b.drain_inbox().await }
    })
    .await
}

impl Bridge {
    /// Handles due inbox items in order; true if there may be more. While the homeserver
    /// is away only the oldest item is tried, as a probe.
    pub async fn drain_inbox(&self) -> Result<bool, BridgeError> {
        // Items go to Matrix once the applications' side is done with them. Its own worker
        // does that; this pass too, so whoever steps the inbox steps both.
        if let Err(e) = self.drain_apps().await {
            tracing::error!(error = %e, "could not hand inbound items to applications; will retry");
        }
        let limit = if self.health.matrix_away() { 1 } else { 100 };
        let items = self.store.due_inbox(limit)?;
        // Relayed SMS are recorded in one commit per batch; their transaction ids (derived
        // from the inbox row) make a repeat after a crash harmless.
        let mut relayed: Vec<(i64, String)> = Vec::with_capacity(items.len());
        // Conversations with an item that failed in this batch: their later items wait,
        // so they keep their order.
        let mut held: Vec<(&str, &str)> = Vec::new();
        for item in &items {
            let conversation = conversation_of(item);
            if conversation.is_some_and(|c| held.contains(&c)) {
                continue;
            }
            let result = match &item.item {
                // Kept out of Matrix by a keyword service (`bridge: false`).
                InboxKind::Sms(_) if !item.to_matrix => {
                    self.store.tx(|tx| Store::finish_inbox(tx, item.id, None)).map_err(Into::into)
                }
                // An answer to a question replies to it in the portal.
                InboxKind::Sms(sms) => match self.reply_target(item.id, &relayed) {
                    Ok(to) => self.relay_sms(item, sms, to.as_deref()).await.map(|ev| relayed.push((item.id, ev))),
                    Err(e) => Err(e),
                },
                InboxKind::Report(r) => self.apply_report(item, r),
                InboxKind::WapPush(p) => {
                    self.accept_wap_push(item, p).await.map(|ev| relayed.extend(ev.map(|ev| (item.id, ev))))
                }
                InboxKind::AppSent(a) => self.show_app_sent(item, a).await.map(|ev| relayed.push((item.id, ev))),
            };
            if let Err(e) = result {
                self.record_relayed(&mut relayed).await?;
                held.extend(conversation);
                if let (InboxKind::Report(_), BridgeError::NotYet(_)) = (&item.item, &e)
                    && item.strikes + 1 >= self.config.bridge.max_attempts
                {
                    // A report no message of ours ever matched (another client on a shared
                    // account, a message pruned long ago): nothing to show or retry.
                    tracing::warn!(inbox = item.id, error = %e, "dropping a delivery report that matches no message");
                    self.store.tx(|tx| Store::finish_inbox(tx, item.id, None))?;
                    continue;
                }
                if self.inbox_failed(item, &e)? {
                    // The homeserver is away: pause the batch rather than fail every item.
                    // Later SMS of this conversation wait for it (see `due_inbox`).
                    return Ok(false);
                }
            }
        }
        self.record_relayed(&mut relayed).await?;
        if !items.is_empty() {
            self.wake.matrix_out.notify_one();
        }
        if items.iter().any(|i| matches!(i.item, InboxKind::Report(_))) {
            // A report may finish an application's message: tell it now.
            self.wake.api.notify_one();
        }
        Ok(items.len() == limit)
    }

    /// Schedules a failed item's retry, or gives it up with a notice in the same commit.
    /// True if the homeserver seems away.
    fn inbox_failed(&self, item: &InboxItem, e: &BridgeError) -> Result<bool, BridgeError> {
        let error = e.to_string();
        let notice = self.dead_inbox_notice(item, e)?;
        let failed = super::Failed::of(Queue::Inbox, item.id, item.attempts, &error, e);
        let attempt = self.fail_job(failed, |tx, _| match &notice {
            Some((Target::Room(room), body)) => self.notice_tx(tx, room, body),
            Some((Target::Owner(owner), body)) => self.notice_to_owner_tx(tx, owner, body),
            None => Ok(()),
        })?;
        match attempt {
            Attempt::GaveUp(why) => {
                tracing::error!(inbox = item.id, error = %e, ?why, "giving up on an inbound item; it stays in the inbox as dead");
                self.wake.matrix_out.notify_one();
                Ok(false)
            }
            Attempt::Retry(attempts) if matches!(e, BridgeError::Matrix(_)) && e.is_transient() => {
                tracing::warn!(inbox = item.id, attempts, error = %e, "inbound item not relayed; will retry");
                if e.homeserver_away() {
                    self.matrix_failed();
                }
                Ok(true)
            }
            Attempt::Settled => Ok(false),
            Attempt::Retry(attempts) => {
                tracing::info!(inbox = item.id, attempts, error = %e, "inbound item not handled yet; will retry");
                Ok(false)
            }
        }
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
        self.matrix_answered();
        Ok(())
    }

    /// What to tell, and where, if an inbound item is given up: an SMS with its sender and
    /// whole text, in its portal if there is one, else in the link owner's management room
    /// (made for it if need be). Reports that match nothing are only logged.
    fn dead_inbox_notice(&self, item: &InboxItem, e: &BridgeError) -> Result<Option<(Target, String)>, BridgeError> {
        let region = self.config.bridge.default_region.as_deref();
        let (from, to) = match &item.item {
            InboxKind::Sms(sms) => (Address::parse(&sms.from, region), sms.to.as_str()),
            InboxKind::WapPush(p) => (Address::parse(&p.from, region), p.to.as_str()),
            // Only a copy: the message itself went, and the application was told.
            InboxKind::Report(_) | InboxKind::AppSent(_) => return Ok(None),
        };
        let what = match &item.item {
            InboxKind::Sms(sms) => {
                format!("An SMS from {} could not be shown here ({e}). It was:\n{}", from.display, sms.text)
            }
            _ => format!("A picture message (MMS) notification from {} could not be handled ({e}).", from.display),
        };
        let body =
            format!("⚠ {what}\nSay `retry {}-{}` in the management room to try again.", Queue::Inbox.name(), item.id);
        let local = self.portal_local(&item.backend_id, to);
        // A chat its owner left is no place for it.
        let portal = self.store.portal_by_pair(&local, &from.key)?.filter(|p| !p.owner_left);
        if let Some(room) = portal.and_then(|p| p.room_id) {
            return Ok(Some((Target::Room(room), body)));
        }
        Ok(self.link_owner(&item.backend_id).filter(|o| !o.is_empty()).map(|o| (Target::Owner(o), body)))
    }

    /// Shows a message an application sent in its conversation's portal, posted by the
    /// bot; returns the event id.
    async fn show_app_sent(&self, item: &InboxItem, a: &crate::message::AppSent) -> Result<String, BridgeError> {
        let owner = self
            .link_owner(&item.backend_id)
            .ok_or_else(|| BridgeError::Other(format!("message on unknown link {:?}", item.backend_id)))?;
        let to = Address::parse_cached(&a.to, self.config.bridge.default_region.as_deref());
        let portal = self.ensure_portal_at(&item.backend_id, &a.from, &to, &owner).await?;
        let mut portal = self.usable_portal(portal, &to).await?;
        let txn = format!("app-sent-{}", item.id);
        let content = json!({ "msgtype": "m.notice", "body": app_sent_body(a) });
        let post = GhostPost { ghost: &self.bot, txn: &txn, content: &content, ts: None, retry: item.attempts > 0 };
        self.send_as_ghost(&mut portal, &to, &post).await
    }

    /// Posts an SMS to its portal, as a reply to `reply_to` if given (an answer to a
    /// question); returns the event id (recorded by the caller).
    async fn relay_sms(
        &self,
        item: &InboxItem,
        sms: &ReceivedSms,
        reply_to: Option<&str>,
    ) -> Result<String, BridgeError> {
        let mut content = json!({ "msgtype": "m.text", "body": sms.text });
        if let Some(ev) = reply_to {
            content["m.relates_to"] = json!({ "m.in_reply_to": { "event_id": ev } });
        }
        self.relay(item, &sms.from, &sms.to, &content, sms.timestamp_ms).await
    }

    pub(super) async fn relay(
        &self,
        item: &InboxItem,
        sender: &str,
        recipient: &str,
        content: &serde_json::Value,
        timestamp_ms: Option<i64>,
    ) -> Result<String, BridgeError> {
        let owner = self
            .link_owner(&item.backend_id)
            .ok_or_else(|| BridgeError::Other(format!("SMS from unknown link {:?}", item.backend_id)))?;
        let from = Address::parse_cached(sender, self.config.bridge.default_region.as_deref());
        let local = self.portal_local(&item.backend_id, recipient);
        let portal = self.ensure_portal_at(&item.backend_id, &local, &from, &owner).await?;
        let mut portal = self.usable_portal(portal, &from).await?;
        let ghost = self.ensure_ghost(&from).await?;
        super::failpoint::hit("inbox-before-send").await;
        let txn = format!("sms-in-{}", item.id);
        let post = GhostPost { ghost: &ghost, txn: &txn, content, ts: timestamp_ms, retry: item.attempts > 0 };
        let event_id = self.send_as_ghost(&mut portal, &from, &post).await?;
        tracing::debug!(inbox = item.id, %event_id, "SMS relayed to Matrix");
        Ok(event_id)
    }

    /// A delivery report: its part's outcome is recorded, and the message's status
    /// follows all of its parts. SUCCESS and the read receipt once every part is
    /// delivered; FAIL_PERMANENT and one notice when any part failed; nothing goes back.
    fn apply_report(&self, item: &InboxItem, r: &DeliveryReport) -> Result<(), BridgeError> {
        // Other spellings of the id only once the report has waited a round: a report that
        // overtook its own send must not meet an older message with a lookalike id.
        let alts: &[String] = if item.attempts > 0 { &r.alt_ids } else { &[] };
        let (job_id, key) = match self.store.report_target(&item.backend_id, &r.message_id, alts)? {
            ReportTarget::Part { job, key } => (job, key),
            // The report may have overtaken the record of its send: retry for a while.
            ReportTarget::Unknown => {
                return Err(BridgeError::NotYet(format!("delivery report for unknown message id {:?}", r.message_id)));
            }
            ReportTarget::Ambiguous => {
                return Err(BridgeError::NotYet(format!(
                    "delivery report for message id {:?} matches several messages",
                    r.message_id
                )));
            }
        };
        let Some(job) = self.store.out_job(job_id)? else {
            tracing::info!(inbox = item.id, job = job_id, "delivery report for a message no longer kept; dropped");
            self.store.tx(|tx| Store::finish_inbox(tx, item.id, None))?;
            return Ok(());
        };
        let part_state = match r.status {
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Pending => {
                self.store.tx(|tx| Store::finish_inbox(tx, item.id, None))?;
                return Ok(());
            }
        };
        let portal = self.store.portal_by_id(job.portal_id)?;
        let ghost = portal.as_ref().map(|p| self.ghost_mxid(&p.remote_key)).unwrap_or_default();
        let (room, ev) = (job.room_id.as_str(), job.event_id.as_str());
        let settled = matches!(job.state, OutState::Delivered | OutState::Failed);
        self.store.tx(|tx| {
            let (parts, delivered, failed) = Store::set_part_state_tx(tx, &item.backend_id, &key, part_state)?;
            if settled {
                // Already settled one way: a late report does not flip it.
            } else if failed > 0 {
                let why = r.detail.clone().unwrap_or_else(|| "the network could not deliver it".into());
                let who = portal.as_ref().map(|p| p.remote_display.as_str()).unwrap_or_default();
                let message = if parts > 1 {
                    format!("Not delivered to {who}: {why} (at least one of its {parts} parts failed)")
                } else {
                    format!("Not delivered to {who}: {why}")
                };
                Store::set_out_state_tx(tx, job.id, OutState::Failed, r.detail.as_deref())?;
                self.fail_permanently_tx(tx, room, ev, &message)?;
            } else if delivered == parts && job.state == OutState::Sent {
                Store::set_out_state_tx(tx, job.id, OutState::Delivered, None)?;
                self.status_tx(tx, room, ev, Update::delivered(&[&ghost]))?;
                if self.config.matrix.delivery_receipts && !room.is_empty() {
                    Store::enqueue_matrix(tx, room, &ghost, "receipt", "m.read", &json!({ "event_id": ev }))?;
                }
            }
            Store::finish_inbox(tx, item.id, None)
        })?;
        Ok(())
    }
}

/// The conversation an inbox item belongs to (link and sender); reports have none.
fn conversation_of(item: &InboxItem) -> Option<(&str, &str)> {
    match &item.item {
        InboxKind::Sms(sms) => Some((item.backend_id.as_str(), sms.from.as_str())),
        InboxKind::WapPush(p) => Some((item.backend_id.as_str(), p.from.as_str())),
        InboxKind::AppSent(a) => Some((item.backend_id.as_str(), a.to.as_str())),
        InboxKind::Report(_) => None,
    }
}

/// How the portal shows a message an application sent: "📤 text (sent by alice)", with
/// the question it asks or the time it is scheduled for.
fn app_sent_body(a: &crate::message::AppSent) -> String {
    let mut why = match a.question {
        Some(q) => format!("question {q} from {}", a.by),
        None => format!("sent by {}", a.by),
    };
    if let Some(at) = a.not_before.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok()) {
        why.push_str(&format!(
            ", scheduled for {}",
            at.to_zoned(jiff::tz::TimeZone::system()).strftime("%Y-%m-%d %H:%M %Z")
        ));
    }
    format!("📤 {} ({why})", a.text)
}
