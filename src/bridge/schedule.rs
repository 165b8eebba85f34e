//! Scheduled messages from a portal: `schedule <when> <text>`, `scheduled`,
//! `unschedule <n>`. A scheduled message is an outbox job with a `not_before`: durable,
//! sent once, holding up nothing before its time; one sent late (the bridge or its link
//! was down at its time) says so in the portal.

use super::status::{Status, Update};
use super::{Bridge, BridgeError};
use crate::store::{NewOutJob, Store, now_ms};

/// Later than this after its time, a scheduled message's portal is told it went late.
pub(super) const LATE_MS: i64 = 60_000;

impl Bridge {
    /// `schedule <when> <text>` in a portal: the command's event becomes the message, and
    /// its status says when it went.
    pub(super) fn cmd_schedule(
        &self,
        sender: &str,
        room: &str,
        event_id: &str,
        args: &str,
    ) -> Result<String, BridgeError> {
        let Some(portal) = self.store.portal_by_room(room)? else {
            return Ok("Use `schedule` in a chat with a phone number.".into());
        };
        let Some(destination) = portal.remote_destination.clone() else {
            return Ok(format!("{} does not accept replies.", portal.remote_display));
        };
        if super::portals::is_group_key(&portal.remote_key) || !self.backends.contains_key(&portal.backend_id) {
            return Ok("Only SMS to one number on a configured link can be scheduled.".into());
        }
        let origin = format!("matrix:{sender}");
        let refused = |text: &str, why: &str| {
            let link = &portal.backend_id;
            self.store.audit_refused(link, &portal.local_number, &destination, &origin, text, why)
        };
        let tz = self.config.bridge.time_zone().unwrap_or(jiff::tz::TimeZone::UTC);
        let now = jiff::Timestamp::now().to_zoned(tz.clone());
        let (at, text) = match crate::when::parse_when(args, &now) {
            Ok(parsed) => parsed,
            Err(e) => return Ok(format!("Not scheduled: {e}. Say `schedule <when> <text>`.")),
        };
        if let Some(why) = self.policy_refusal(&destination) {
            refused(text, &why)?;
            return Ok(format!("Not scheduled: {why}."));
        }
        if text.is_empty() {
            return Ok("Not scheduled: there is no text after the time.".into());
        }
        if at.as_millisecond() > now_ms() + 366 * 24 * 3600 * 1000 {
            return Ok("Not scheduled: at most a year ahead.".into());
        }
        let parts = match crate::sms::split::split_buffer(text, &self.config.sms.split_options()) {
            Ok((_, _, ends)) => ends.len(),
            Err(e) => return Ok(format!("Not scheduled: {}.", e.what)),
        };
        if let Some(why) = self.config.policy.parts_refusal(&destination, parts) {
            refused(text, &why)?;
            return Ok(format!("Not scheduled: {why}."));
        }
        let not_before = at.as_millisecond();
        let job = NewOutJob {
            portal_id: portal.id,
            backend_id: &portal.backend_id,
            room_id: room,
            event_id,
            destination: &destination,
            body: text,
            expires_at: not_before + self.config.bridge.outbound_expiry as i64 * 1000,
            sender: self.portal_sender(&portal),
            not_before: Some(not_before),
            audit: self.out_audit(&origin, text),
            ..Default::default()
        };
        self.store.tx(|tx| {
            if Store::enqueue_out(tx, &job)?.is_some() {
                self.status_tx(tx, room, event_id, Update::new(Status::Pending))?;
            }
            Ok(())
        })?;
        Ok(format!("🕓 Scheduled for {}: {text}", at.to_zoned(tz).strftime("%Y-%m-%d %H:%M %Z")))
    }

    /// `scheduled`: this portal's messages waiting for their time, numbered.
    pub(super) fn cmd_scheduled(&self, room: &str) -> Result<String, BridgeError> {
        let Some(portal) = self.store.portal_by_room(room)? else {
            return Ok("Use `scheduled` in a chat with a phone number.".into());
        };
        let jobs = self.store.scheduled_out(portal.id)?;
        if jobs.is_empty() {
            return Ok("Nothing is scheduled in this chat.".into());
        }
        let tz = self.config.bridge.time_zone().unwrap_or(jiff::tz::TimeZone::UTC);
        let lines: Vec<String> = jobs
            .iter()
            .enumerate()
            .map(|(i, j)| {
                let at = jiff::Timestamp::from_millisecond(j.not_before.unwrap_or(0)).unwrap_or_default();
                format!("{}. {} — {}", i + 1, at.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M %Z"), j.body)
            })
            .collect();
        Ok(format!("Scheduled here:\n{}\nSay `unschedule <n>` to cancel one.", lines.join("\n")))
    }

    /// `unschedule <n>`: cancels the n-th of `scheduled`, if it has not gone yet.
    pub(super) fn cmd_unschedule(&self, room: &str, args: &str) -> Result<String, BridgeError> {
        let Some(portal) = self.store.portal_by_room(room)? else {
            return Ok("Use `unschedule` in a chat with a phone number.".into());
        };
        let jobs = self.store.scheduled_out(portal.id)?;
        let Some(job) = args.trim().parse::<usize>().ok().and_then(|n| n.checked_sub(1)).and_then(|i| jobs.get(i))
        else {
            return Ok(format!("Say `unschedule <n>` with n from 1 to {}; `scheduled` lists them.", jobs.len()));
        };
        let cancelled = self.store.tx(|tx| {
            let found = Store::cancel_out_tx(tx, &job.event_id)?;
            let cancelled = matches!(found, Some((crate::store::OutState::Queued, _)));
            if cancelled {
                let update = Update::failed(Status::FailPermanent, "m_generic_error", "unscheduled");
                self.status_tx(tx, &job.room_id, &job.event_id, update)?;
            }
            Ok(cancelled)
        })?;
        Ok(match cancelled {
            true => format!("Unscheduled: {}", job.body),
            false => "It is being sent already.".into(),
        })
    }
}
