//! Handles the Matrix events accepted from transactions, one at a time, in order.
//! Each event's effects (outbox job, replies, statuses) commit together with its removal
//! from the queue, so a crash in between repeats the event rather than losing it.

use std::sync::Arc;
use std::time::Duration;

use super::status::{Status, Update};
use super::text::{Unsendable, sms_text};
use super::{Attempt, Bridge, BridgeError, Failed};
use crate::config::Permission;
use crate::store::{NewOutJob, OutAudit};
use crate::store::{PendingEvent, Queue, Store};

/// Which sending queue a portal message went to.
enum Queued {
    Nothing,
    Sms,
    Mms,
}

pub(super) async fn run(bridge: Arc<Bridge>) {
    super::work_loop("matrix events", &bridge.wake.matrix_in, Duration::from_secs(5), || {
        let b = bridge.clone();
        async move { b.handle_pending_events().await }
    })
    .await
}

impl Bridge {
    /// Handles a batch; true if there may be more. Consecutive messages to portals (the
    /// bulk of the traffic) are queued for SMS in one commit.
    pub async fn handle_pending_events(&self) -> Result<bool, BridgeError> {
        let batch = self.store.pending_events(50)?;
        let mut relays: Vec<(&PendingEvent, crate::store::Portal)> = Vec::new();
        for ev in &batch {
            if let Some(portal) = self.plain_portal_message(ev)? {
                relays.push((ev, portal));
                continue;
            }
            self.relay_group(&mut relays)?;
            if let Err(e) = self.handle_event(ev).await {
                self.event_failed(ev, e)?;
            }
        }
        self.relay_group(&mut relays)?;
        if !batch.is_empty() {
            self.wake.matrix_out.notify_one();
        }
        Ok(batch.len() == 50)
    }

    fn event_failed(&self, ev: &PendingEvent, e: BridgeError) -> Result<(), BridgeError> {
        let id = &ev.event["event_id"];
        let error = e.to_string();
        let room = ev.event["room_id"].as_str();
        let body = format!("⚠ The bridge could not handle a message here: {e}");
        let failed = Failed::of(Queue::MatrixIn, ev.id, ev.attempts, &error, &e);
        let attempt = self.fail_job(failed, |tx, _| match room {
            Some(room) => self.notice_tx(tx, room, &body),
            None => Ok(()),
        })?;
        match attempt {
            // Later events of this room wait for it; other rooms go on.
            Attempt::Retry(n) => {
                if e.homeserver_away() {
                    self.matrix_failed();
                }
                tracing::warn!(error = %e, event = %id, attempts = n, "will retry a Matrix event")
            }
            Attempt::GaveUp(why) => tracing::error!(error = %e, event = %id, ?why, "giving up on a Matrix event"),
            Attempt::Settled => {}
        }
        Ok(())
    }

    /// The portal, if `ev` is a message in one that is not a command.
    fn plain_portal_message(&self, ev: &PendingEvent) -> Result<Option<crate::store::Portal>, BridgeError> {
        let e = &ev.event;
        if e["type"] != "m.room.message" {
            return Ok(None);
        }
        let room = e["room_id"].as_str().unwrap_or("");
        let Some(portal) = self.store.portal_by_room(room)? else { return Ok(None) };
        let sender = e["sender"].as_str().unwrap_or("");
        if self.store.management_room_owner(room)?.as_deref() == Some(sender) {
            return Ok(None);
        }
        let body = e["content"]["body"].as_str().unwrap_or("");
        let prefix = &self.config.bridge.command_prefix;
        if body.strip_prefix(prefix.as_str()).is_some_and(|r| r.is_empty() || r.starts_with(' ')) {
            return Ok(None);
        }
        Ok(Some(portal))
    }

    /// Queues a group of portal messages in one commit. If that fails, each is tried on
    /// its own, so one bad event cannot hold back the others.
    fn relay_group(&self, group: &mut Vec<(&PendingEvent, crate::store::Portal)>) -> Result<(), BridgeError> {
        if group.is_empty() {
            return Ok(());
        }
        let together = self.store.tx(|tx| {
            let mut backends = Vec::new();
            let mut mms = false;
            for (ev, portal) in group.iter() {
                match self.relay_to_sms_tx(tx, ev, portal)? {
                    Queued::Sms => backends.push(portal.backend_id.as_str()),
                    Queued::Mms => mms = true,
                    Queued::Nothing => {}
                }
            }
            Ok((backends, mms))
        });
        match together {
            Ok((backends, mms)) => {
                // Only after the commit, or the link could look before the jobs are visible.
                let mut woken = std::collections::HashSet::new();
                for b in backends {
                    if woken.insert(b) {
                        self.wake_outbox(b);
                    }
                }
                if mms {
                    self.wake.mms_out.notify_one();
                }
            }
            Err(_) => {
                for (ev, portal) in group.iter() {
                    let sender = ev.event["sender"].as_str().unwrap_or("");
                    if let Err(e) = self.relay_to_sms(ev, portal, sender) {
                        self.event_failed(ev, e)?;
                    }
                }
            }
        }
        group.clear();
        Ok(())
    }

    async fn handle_event(&self, ev: &PendingEvent) -> Result<(), BridgeError> {
        let e = &ev.event;
        let room = e["room_id"].as_str().unwrap_or("");
        let sender = e["sender"].as_str().unwrap_or("");
        match e["type"].as_str() {
            Some("m.room.member") if ev.event["content"]["membership"] == "invite" => {
                self.handle_invite(ev, room, sender).await
            }
            Some("m.room.member") => self.handle_membership(ev, room),
            Some("m.room.redaction") => self.handle_redaction(ev, room),
            Some("m.room.message") => {
                if self.store.management_room_owner(room)?.as_deref() == Some(sender) {
                    return self.handle_command_event(ev, room, sender).await;
                }
                if let Some(portal) = self.store.portal_by_room(room)? {
                    // `!sms help` in a portal is a command, as in other bridges, not an SMS.
                    let body = e["content"]["body"].as_str().unwrap_or("");
                    let prefix = &self.config.bridge.command_prefix;
                    if body.strip_prefix(prefix.as_str()).is_some_and(|r| r.is_empty() || r.starts_with(' ')) {
                        return self.handle_command_event(ev, room, sender).await;
                    }
                    return self.relay_to_sms(ev, &portal, sender);
                }
                self.store.tx(|tx| Store::finish_event(tx, ev.id))?;
                Ok(())
            }
            Some("m.room.encrypted") => {
                let portal = self.store.portal_by_room(room)?;
                self.store.tx(|tx| {
                    if portal.is_some() {
                        let msg = "This bridge cannot read encrypted messages yet; turn encryption off for SMS chats.";
                        self.notice_tx(tx, room, msg)?;
                    }
                    Store::finish_event(tx, ev.id)
                })?;
                Ok(())
            }
            _ => {
                self.store.tx(|tx| Store::finish_event(tx, ev.id))?;
                Ok(())
            }
        }
    }

    /// Someone invited the bot or a ghost. A permitted user's DM with the bot becomes
    /// their management room; others are turned away.
    async fn handle_invite(&self, ev: &PendingEvent, room: &str, sender: &str) -> Result<(), BridgeError> {
        let invitee = ev.event["state_key"].as_str().unwrap_or("");
        let allowed = self.permission(sender) >= Permission::User;
        if !allowed {
            let reason = "You are not allowed to use this SMS bridge.";
            if let Err(e) = self.matrix.leave(invitee, room, Some(reason)).await {
                tracing::warn!(error = %e, %room, "could not reject an invite");
            }
        } else if invitee == self.bot && ev.event["content"]["is_direct"] != true {
            let reason = "Talk to me in a direct chat: that becomes your SMS bridge management room.";
            if let Err(e) = self.matrix.leave(invitee, room, Some(reason)).await {
                tracing::warn!(error = %e, %room, "could not decline a group invite");
            }
        } else if invitee == self.bot {
            self.matrix.join(&self.bot, room).await?;
            self.store.set_management_room(sender, room)?;
            let welcome = format!("Hello! This is your SMS bridge management room.\n{}", super::commands::HELP);
            self.store.tx(|tx| {
                self.notice_tx(tx, room, &welcome)?;
                Store::finish_event(tx, ev.id)
            })?;
            return Ok(());
        } else {
            // A ghost invited to a room: chats start with `start <number>` in the
            // management room, so decline politely rather than leave it hanging.
            let reason = "Start SMS chats with `start <number>` in your bridge management room.";
            if let Err(e) = self.matrix.leave(invitee, room, Some(reason)).await {
                tracing::warn!(error = %e, %room, "could not decline a ghost invite");
            }
        }
        self.store.tx(|tx| Store::finish_event(tx, ev.id))?;
        Ok(())
    }

    /// A message in a portal becomes an outbox job (plus a PENDING status), or a clear
    /// refusal when it cannot be sent.
    fn relay_to_sms(&self, ev: &PendingEvent, portal: &crate::store::Portal, _sender: &str) -> Result<(), BridgeError> {
        // Wake the sender only after the commit, or it could look before the job is visible.
        match self.store.tx(|tx| self.relay_to_sms_tx(tx, ev, portal))? {
            Queued::Sms => self.wake_outbox(&portal.backend_id),
            Queued::Mms => self.wake.mms_out.notify_one(),
            Queued::Nothing => {}
        }
        Ok(())
    }

    /// [`Self::relay_to_sms`] inside a caller's transaction; says which queue got a job.
    fn relay_to_sms_tx(
        &self,
        tx: &rusqlite::Transaction,
        ev: &PendingEvent,
        portal: &crate::store::Portal,
    ) -> Result<Queued, crate::store::StoreError> {
        let e = &ev.event;
        let sender = e["sender"].as_str().unwrap_or("");
        let room = portal.room_id.as_deref().unwrap_or("");
        let event_id = e["event_id"].as_str().unwrap_or("");
        let origin = format!("matrix:{sender}");
        // A refusal by policy (not by permission or the link) goes in the audit log.
        let mut policy = None;
        let refusal: Option<(&str, String)> = if self.permission(sender) < Permission::User {
            Some(("m_no_permission", "You are not allowed to send SMS through this bridge.".into()))
        } else if !self.backends.contains_key(&portal.backend_id) {
            Some(("m_bridge_unavailable", format!("The link {} is no longer configured.", portal.backend_id)))
        } else if portal.remote_destination.is_none() {
            Some(("m_unsupported", format!("{} does not accept replies.", portal.remote_display)))
        } else if let Some(why) = self.policy_refusal(portal.remote_destination.as_deref().unwrap_or("")) {
            let refused = Some(("m_no_permission", format!("Not sent: {why}.")));
            policy = Some(why);
            refused
        } else {
            None
        };
        // Media, and anything in a group chat, go out as MMS.
        let content = &e["content"];
        let media = matches!(content["msgtype"].as_str(), Some("m.image" | "m.video" | "m.audio" | "m.file"));
        let group = super::portals::is_group_key(&portal.remote_key);
        let edit = content["m.relates_to"]["rel_type"] == "m.replace" || content.get("m.new_content").is_some();
        if (media || group) && !edit && refusal.is_none() {
            let mut queued = Queued::Nothing;
            if !self.config.mms.can_send() {
                let what = if media { "Pictures and files" } else { "Messages in group chats" };
                let message = format!("{what} go out as MMS, and this bridge has no MMSC configured (mms.mmsc_url).");
                self.status_tx(tx, room, event_id, Update::failed(Status::FailPermanent, "m_unsupported", &message))?;
                self.notice_tx(tx, room, &message)?;
            } else {
                let recipients: Vec<&str> = portal.remote_destination.as_deref().unwrap_or("").split(',').collect();
                let expires_at = crate::store::now_ms() + self.config.bridge.outbound_expiry as i64 * 1000;
                let (b, p) = (&portal.backend_id, portal.id);
                if Store::enqueue_mms_out_tx(tx, p, b, room, event_id, &recipients, content, expires_at, &origin)? {
                    self.status_tx(tx, room, event_id, Update::new(Status::Pending))?;
                    queued = Queued::Mms;
                }
            }
            Store::finish_event(tx, ev.id)?;
            return Ok(queued);
        }
        let text = match sms_text(&e["content"]) {
            Ok(t) => Ok(t),
            Err(Unsendable::Empty) => {
                Store::finish_event(tx, ev.id)?;
                return Ok(Queued::Nothing);
            }
            Err(u) => Err(u),
        };
        let destination = portal.remote_destination.as_deref().unwrap_or("");
        // The text's shape, worked out once: the parts rules and the audit record use it.
        let (encoding, parts) = match &text {
            Ok(body) => self.encoding_and_parts(body).unwrap_or(("", 0)),
            Err(_) => ("", 0),
        };
        // A rule of `policy:` the text breaks: its parts, then the number's caps.
        let rule = match (&refusal, &text) {
            (None, Ok(_)) => match self.config.policy.parts_refusal(destination, parts) {
                Some(why) => Some(why),
                None => self.cap_refusal(Some(tx), &portal.backend_id, destination)?,
            },
            _ => None,
        };
        let mut queued = Queued::Nothing;
        let (local, remote) = (portal.local_number.as_str(), destination);
        match (&refusal, &text) {
            (Some((reason, message)), _) => {
                if let Some(why) = &policy {
                    let body = content["body"].as_str().unwrap_or("");
                    Store::audit_refused_tx(tx, &portal.backend_id, local, remote, &origin, body, why)?;
                }
                self.status_tx(tx, room, event_id, Update::failed(Status::FailPermanent, reason, message))?;
                self.notice_tx(tx, room, message)?;
            }
            (None, Err(u)) => {
                let message = u.explain();
                self.status_tx(tx, room, event_id, Update::failed(Status::FailPermanent, "m_unsupported", &message))?;
                if self.config.matrix.message_error_notices {
                    self.notice_tx(tx, room, &format!("Not sent: {message}."))?;
                }
            }
            (None, Ok(body)) if rule.is_some() => {
                let why = rule.unwrap_or_default();
                Store::audit_refused_tx(tx, &portal.backend_id, local, remote, &origin, body, &why)?;
                let message = format!("Not sent: {why}.");
                self.status_tx(tx, room, event_id, Update::failed(Status::FailPermanent, "m_no_permission", &message))?;
                self.notice_tx(tx, room, &message)?;
            }
            (None, Ok(body)) => {
                let job = NewOutJob {
                    portal_id: portal.id,
                    backend_id: &portal.backend_id,
                    room_id: room,
                    event_id,
                    destination,
                    body,
                    expires_at: crate::store::now_ms() + self.config.bridge.outbound_expiry as i64 * 1000,
                    sender: self.portal_sender(portal),
                    audit: OutAudit { origin: &origin, keyword: None, parts, encoding },
                    ..Default::default()
                };
                if Store::enqueue_out(tx, &job)?.is_some() {
                    self.status_tx(tx, room, event_id, Update::new(Status::Pending))?;
                    queued = Queued::Sms;
                }
            }
        }
        Store::finish_event(tx, ev.id)?;
        Ok(queued)
    }

    async fn handle_command_event(&self, ev: &PendingEvent, room: &str, sender: &str) -> Result<(), BridgeError> {
        let body = ev.event["content"]["body"].as_str().unwrap_or("").trim();
        let body = body.strip_prefix(&self.config.bridge.command_prefix).unwrap_or(body).trim();
        let msgtype = ev.event["content"]["msgtype"].as_str();
        let reply = if msgtype != Some("m.text") || body.is_empty() {
            None
        } else if self.permission(sender) < Permission::User {
            Some("You are not allowed to use this SMS bridge.".to_string())
        } else if body.eq_ignore_ascii_case("delete") {
            self.cmd_delete(room, sender).await?
        } else {
            let event_id = ev.event["event_id"].as_str().unwrap_or("");
            Some(self.run_command(sender, room, event_id, body).await?)
        };
        self.store.tx(|tx| {
            if let Some(r) = &reply {
                self.notice_tx(tx, room, r)?;
            }
            Store::finish_event(tx, ev.id)
        })?;
        Ok(())
    }
}
