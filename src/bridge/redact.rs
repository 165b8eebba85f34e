//! Redacting a message in a portal: one that has not left yet is cancelled; one that has
//! cannot be unsent, and the user is told so.

use super::status::{Status, Update};
use super::{Bridge, BridgeError};
use crate::store::{OutState, PendingEvent, Store};

impl Bridge {
    pub(super) fn handle_redaction(&self, ev: &PendingEvent, room: &str) -> Result<(), BridgeError> {
        let e = &ev.event;
        // Room versions 11 and later carry it in the content, older ones beside it.
        let target = e["content"]["redacts"].as_str().or(e["redacts"].as_str()).unwrap_or("");
        let in_portal = self.store.portal_by_room(room)?.is_some();
        self.store.tx(|tx| {
            if in_portal && !target.is_empty() {
                let sms = Store::cancel_out_tx(tx, target)?.map(|s| s == OutState::Queued);
                let found = match sms {
                    Some(c) => Some(c),
                    None => Store::cancel_mms_out_tx(tx, target)?.map(|s| s == "queued"),
                };
                match found {
                    Some(true) => {
                        tracing::info!(%room, event = target, "redacted before it left: cancelled");
                        let update = Update::failed(Status::FailPermanent, "m_generic_error", "cancelled");
                        self.status_tx(tx, room, target, update)?;
                    }
                    Some(false) => {
                        self.notice_tx(tx, room, "That message has already left as SMS; an SMS cannot be unsent.")?;
                    }
                    None => {}
                }
            }
            Store::finish_event(tx, ev.id)
        })?;
        Ok(())
    }
}
