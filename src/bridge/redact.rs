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
                let sms = Store::cancel_out_tx(tx, target)?;
                let found = match sms {
                    Some((OutState::Queued, 0)) => Some(Found::Cancelled),
                    Some((OutState::Queued, _)) => Some(Found::PartlyOut),
                    Some((OutState::Sending, _)) => Some(Found::Sending),
                    Some(_) => Some(Found::Left),
                    None => Store::cancel_mms_out_tx(tx, target)?.map(|s| match s.as_str() {
                        "queued" => Found::Cancelled,
                        "sending" => Found::Sending,
                        _ => Found::Left,
                    }),
                };
                let cancelled = Update::failed(Status::FailPermanent, "m_generic_error", "cancelled");
                match found {
                    Some(Found::Cancelled) => {
                        tracing::info!(%room, event = target, "redacted before it left: cancelled");
                        self.status_tx(tx, room, target, cancelled)?;
                    }
                    Some(Found::PartlyOut) => {
                        self.status_tx(tx, room, target, cancelled)?;
                        let text =
                            "Cancelled, but part of that long message had already left; an SMS cannot be unsent.";
                        self.notice_tx(tx, room, text)?;
                    }
                    Some(Found::Sending) => {
                        let text = "That message is being sent right now: if the link takes it, it cannot be unsent; \
                                    if not, it will not be tried again.";
                        self.notice_tx(tx, room, text)?;
                    }
                    Some(Found::Left) => {
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

/// What a redaction found.
enum Found {
    Cancelled,
    /// Cancelled, but some parts of it had left.
    PartlyOut,
    /// In the link's hands right now.
    Sending,
    Left,
}
