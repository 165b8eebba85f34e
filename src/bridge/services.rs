//! Keyword services (Kannel's sms-service): each SMS a service took is a durable call,
//! asked until the service answers. The reply goes out through the outbox and shows in
//! the portal as sent by the service; a service that stays unreachable for three days
//! is given up, and the link's owner is told.

use std::sync::Arc;
use std::time::Duration;

use super::gateway::ApiSend;
use super::{Bridge, BridgeError};
use crate::gateway::keywords::{Incoming, Reply};
use crate::phone::Address;
use crate::store::{ServiceCall, Store, now_ms};

/// How long an unreachable service is asked again.
const SERVICE_WINDOW_MS: i64 = 3 * 24 * 3600 * 1000;
/// Calls made at once (each may wait up to 30 s on its service).
const BATCH: usize = 8;

/// What became of one call.
enum Outcome {
    Done,
    Retry(String),
    GiveUp(String),
}

impl Bridge {
    /// Asks the services that are due; true if there may be more.
    pub async fn drain_service_calls(&self) -> Result<bool, BridgeError> {
        let due = self.store.due_service_calls(BATCH)?;
        let outcomes = futures_util::future::join_all(due.iter().map(|c| self.ask_service(c))).await;
        for (call, outcome) in due.iter().zip(outcomes) {
            match outcome {
                Outcome::Done => {}
                Outcome::Retry(e) if now_ms() - call.created_at < SERVICE_WINDOW_MS => {
                    let at = now_ms()
                        + crate::store::backoff_ms(call.attempts + 1, self.config.bridge.max_backoff as i64 * 1000);
                    tracing::warn!(inbox = call.inbox_id, error = %e, "keyword service failed; will ask again");
                    self.store.retry_service_call(call.id, at, &e)?;
                }
                Outcome::Retry(e) | Outcome::GiveUp(e) => {
                    tracing::error!(inbox = call.inbox_id, error = %e, "keyword service given up; no reply sent");
                    self.give_up(call, &e)?;
                }
            }
        }
        Ok(due.len() == BATCH)
    }

    /// Asks the service for its reply and, in one commit, queues it and ends the call.
    async fn ask_service(&self, call: &ServiceCall) -> Outcome {
        let sms = &call.sms;
        // Matched again: a service removed since is not asked.
        let Some(m) = self.services.find(&call.backend_id, &sms.text) else {
            return self.settle(call, "no service takes it any more");
        };
        let local = self.portal_local(&call.backend_id, &sms.to);
        let incoming = Incoming {
            from: sms.from.clone(),
            to: local.clone(),
            text: sms.text.clone(),
            link_id: call.backend_id.clone(),
            received_at_unix: sms.timestamp_ms.unwrap_or(call.created_at) / 1000,
            message_id: Some(call.inbox_id.to_string()),
        };
        let text = match self.services.reply(&m, &incoming, &self.callbacks_http).await {
            Ok(Reply::Text(t)) if m.sms_parts_allowed() > 0 => t,
            Ok(_) => return self.settle(call, "the service sends no reply"),
            Err(e) if e.transient => return Outcome::Retry(e.message),
            Err(e) => return Outcome::GiveUp(e.message),
        };
        let allowed = m.sms_parts_allowed().min(self.config.sms.max_parts);
        let text = fit_parts(&text, allowed, &self.config.sms.split_options());
        // From the number the SMS came to, when it is one of the link's.
        let from = Some(local).filter(|n| self.number_pool(&call.backend_id).contains(n));
        let req = ApiSend { to: sms.from.clone(), text, from, ..ApiSend::default() };
        let by = format!("service {}", m.service_name());
        let event_id = format!("svc:{}", call.inbox_id);
        let origin = format!("service:{}", m.service_name());
        let app = match self.prepare_app(&by, &call.backend_id, &req, &event_id, false, &origin) {
            Ok(mut app) => {
                app.keyword = m.keyword().map(str::to_lowercase);
                app
            }
            Err(super::gateway::SubmitError::Bridge(e)) => return Outcome::Retry(e.to_string()),
            Err(e) => return Outcome::GiveUp(format!("the reply cannot be sent: {e}")),
        };
        let committed = self.store.tx(|tx| {
            self.queue_app_tx(tx, &app)?;
            Store::settle_service_call_tx(tx, call.id, "done", None)
        });
        match committed {
            Ok(()) => {
                self.queued(&app, 0);
                tracing::info!(inbox = call.inbox_id, service = m.service_name(), "keyword reply queued");
                Outcome::Done
            }
            Err(e) => Outcome::Retry(e.to_string()),
        }
    }

    /// Ends a call without a reply, and says so where the owner sees it: in the
    /// conversation's portal, else their management room.
    fn give_up(&self, call: &ServiceCall, error: &str) -> Result<(), BridgeError> {
        let from = Address::parse(&call.sms.from, self.config.bridge.default_region.as_deref());
        let local = self.portal_local(&call.backend_id, &call.sms.to);
        let body = format!(
            "⚠ The keyword service gave no reply to an SMS from {} ({error}), so none was sent. The SMS was:\n{}",
            from.display, call.sms.text
        );
        let room = self.store.portal_by_pair(&local, &from.key)?.filter(|p| !p.owner_left).and_then(|p| p.room_id);
        let owner = self.link_owner(&call.backend_id).filter(|o| !o.is_empty());
        self.store.tx(|tx| {
            Store::settle_service_call_tx(tx, call.id, "dead", Some(error))?;
            match (&room, &owner) {
                (Some(room), _) => self.notice_tx(tx, room, &body),
                (None, Some(owner)) => self.notice_to_owner_tx(tx, owner, &body),
                (None, None) => Ok(()),
            }
        })?;
        self.wake.matrix_out.notify_one();
        Ok(())
    }

    /// Ends a call that sends nothing back.
    fn settle(&self, call: &ServiceCall, why: &str) -> Outcome {
        tracing::debug!(inbox = call.inbox_id, "keyword service: {why}");
        match self.store.tx(|tx| Store::settle_service_call_tx(tx, call.id, "done", None)) {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::Retry(e.to_string()),
        }
    }
}

/// The text cut to fit `parts` SMS, as Kannel's max-messages drops the rest.
fn fit_parts(text: &str, parts: usize, opts: &crate::sms::split::SplitOptions) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    loop {
        let t: String = chars.iter().collect();
        match crate::sms::split::split_buffer(&t, &crate::sms::split::SplitOptions { max_parts: 255, ..opts.clone() }) {
            Ok((_, _, ends)) if ends.len() <= parts.max(1) => return t,
            _ if chars.is_empty() => return t,
            _ => chars.truncate(chars.len() * 9 / 10),
        }
    }
}

pub(super) async fn run(bridge: Arc<Bridge>) {
    let wake = bridge.wake.services.clone();
    super::work_loop("services", &wake, Duration::from_secs(2), || {
        let b = bridge.clone();
        async move { b.drain_service_calls().await }
    })
    .await
}
