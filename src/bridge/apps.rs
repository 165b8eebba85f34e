//! The applications' side of what comes in, done first and apart from Matrix: webhooks
//! and MQTT, answers to questions, keyword services. It never waits on the homeserver;
//! an item goes on to Matrix only once it is done here, so a service with
//! `bridge: false` keeps it out, and an answer is shown as one.

use std::sync::Arc;
use std::time::Duration;

use super::{Bridge, BridgeError};
use crate::store::{InboxKind, Store};

/// Items taken per pass.
const BATCH: usize = 100;

impl Bridge {
    /// Does the applications' side of new inbound items, in arrival order, in one commit;
    /// true if there may be more. A failure leaves the whole batch for the next pass.
    pub async fn drain_apps(&self) -> Result<bool, BridgeError> {
        // The inbox worker runs this too (tests step with it): one pass at a time.
        let Ok(_one) = self.apps_pass.try_lock() else { return Ok(false) };
        let items = self.store.apps_pending(BATCH)?;
        // Answers first, each in its own commit (rare); then one commit for the batch.
        let mut services = Vec::with_capacity(items.len());
        for item in &items {
            let mut service = None;
            if let InboxKind::Sms(sms) = &item.item
                && self.take_answer(item, sms)?.is_none()
            {
                service = self.services.find(&item.backend_id, &sms.text);
            }
            services.push(service);
        }
        let told = self.store.tx(|tx| {
            let mut told = false;
            for (item, service) in items.iter().zip(&services) {
                told |= self.tell_apps_inbound_tx(tx, item)?;
                if let InboxKind::Sms(sms) = &item.item {
                    let keyword = service.as_ref().and_then(|m| m.keyword()).map(str::to_lowercase);
                    let local = self.portal_local(&item.backend_id, &sms.to);
                    Store::audit_inbound_seen_tx(tx, item.id, &local, keyword.as_deref())?;
                }
                if let (Some(_), InboxKind::Sms(sms)) = (service, &item.item) {
                    Store::add_service_call_tx(tx, item.id, &item.backend_id, sms)?;
                }
                Store::apps_done_tx(tx, item.id, service.as_ref().is_none_or(|m| m.bridge()))?;
            }
            Ok(told)
        })?;
        if told {
            self.wake.callbacks.notify_one();
        }
        if services.iter().any(Option::is_some) {
            self.wake.services.notify_one();
        }
        if !items.is_empty() {
            self.wake.inbox.notify_one();
        }
        Ok(items.len() == BATCH)
    }
}

pub(super) async fn run(bridge: Arc<Bridge>) {
    let wake = bridge.wake.apps.clone();
    super::work_loop("apps", &wake, Duration::from_secs(1), || {
        let b = bridge.clone();
        async move { b.drain_apps().await }
    })
    .await
}
