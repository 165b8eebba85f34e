//! Rooms people leave: the bridge follows the owner's membership in portals, brings the
//! owner (or a kicked ghost) back with the next message, and makes a new room when the old
//! one cannot be used any more. `delete` removes a chat; the next SMS starts a new room.

use serde_json::Value;

use super::{Bridge, BridgeError};
use crate::matrix::MatrixError;
use crate::phone::Address;
use crate::store::{PendingEvent, Portal, Store};

/// A message a ghost posts: who, with which transaction id, what, when it was written, and
/// whether this is a retry (an earlier attempt may have got through).
#[derive(Clone, Copy)]
pub(crate) struct GhostPost<'a> {
    pub ghost: &'a str,
    pub txn: &'a str,
    pub content: &'a Value,
    pub ts: Option<i64>,
    pub retry: bool,
}

/// Content key carrying the transaction id of what the bridge posts as a ghost.
pub(crate) const TXN_MARKER: &str = "com.github.sms_bridge.txn_id";

/// How far back a retry looks for its earlier send.
const LOOK_BACK: u32 = 50;

/// Synapse's answer to inviting someone who is already in the room.
fn already_in_room(e: &MatrixError) -> bool {
    e.is("M_FORBIDDEN") && e.message.contains("already in the room")
}

impl Bridge {
    /// Invites `user` into `room` as the bot; someone already there is fine.
    pub(crate) async fn invite_again(&self, room: &str, user: &str) -> Result<(), MatrixError> {
        match self.matrix.invite(&self.bot, room, user).await {
            Err(e) if already_in_room(&e) => Ok(()),
            other => other,
        }
    }

    /// Someone left, was kicked or banned, or (re)joined a room of ours.
    pub(super) fn handle_membership(&self, ev: &PendingEvent, room: &str) -> Result<(), BridgeError> {
        let e = &ev.event;
        let target = e["state_key"].as_str().unwrap_or("");
        let membership = e["content"]["membership"].as_str().unwrap_or("");
        let gone = matches!(membership, "leave" | "ban");
        if let Some(portal) = self.store.portal_by_room(room)?
            && portal.owner == target
        {
            if gone != portal.owner_left {
                tracing::info!(%room, owner = target, membership, "the portal owner's membership changed");
            }
            self.store.set_owner_left(portal.id, gone)?;
        } else if gone && self.store.management_room_owner(room)?.as_deref() == Some(target) {
            // A management room its user left is no place for news: the next is made anew.
            tracing::info!(%room, user = target, "the user left their management room");
            self.store.forget_management_room(room)?;
        }
        self.store.tx(|tx| Store::finish_event(tx, ev.id))?;
        Ok(())
    }

    /// The portal ready for a message: an owner who left is invited again; a room that
    /// cannot be used any more (the bot is out, the owner banned) is replaced.
    pub(super) async fn usable_portal(&self, portal: Portal, remote: &Address) -> Result<Portal, BridgeError> {
        if !portal.owner_left {
            return Ok(portal);
        }
        let room = portal.room_id.clone().unwrap_or_default();
        match self.invite_again(&room, &portal.owner).await {
            Ok(()) => {
                tracing::info!(%room, owner = %portal.owner, "invited the portal owner back");
                self.store.set_owner_left(portal.id, false)?;
                Ok(Portal { owner_left: false, ..portal })
            }
            Err(e) if e.is_transient() => Err(e.into()),
            Err(e) => {
                tracing::warn!(%room, error = %e, "the portal cannot be used any more; making a new one");
                self.replace_portal_room(&portal, remote).await
            }
        }
    }

    /// Sends a message as a ghost; a ghost that was kicked or left is brought back, and a
    /// room it cannot get back into is replaced (`portal` then names the new room, for the
    /// caller's next sends). Returns the event id.
    ///
    /// The content carries its transaction id. On a retry the room's latest events are
    /// searched for it first, so a send whose answer was lost is not repeated even when the
    /// homeserver has forgotten the transaction id (Synapse forgets an appservice's on
    /// restart).
    pub(super) async fn send_as_ghost(
        &self,
        portal: &mut Portal,
        remote: &Address,
        post: &GhostPost<'_>,
    ) -> Result<String, BridgeError> {
        let GhostPost { ghost, txn, content, ts, retry: maybe_sent } = *post;
        let room = portal.room_id.clone().unwrap_or_default();
        let mut content = content.clone();
        content[TXN_MARKER] = txn.into();
        let content = &content;
        if maybe_sent && let Some(ev) = self.already_sent(ghost, &room, txn).await? {
            tracing::info!(%room, txn, event = %ev, "found in the room already: not sent again");
            return Ok(ev);
        }
        match self.matrix.send(ghost, &room, txn, "m.room.message", content, ts).await {
            Err(e) if e.is("M_FORBIDDEN") => {
                let back = match self.invite_again(&room, ghost).await {
                    Ok(()) => self.matrix.join(ghost, &room).await,
                    Err(e) => Err(e),
                };
                let room = match back {
                    Ok(()) => {
                        tracing::info!(%room, %ghost, "brought the ghost back into its portal");
                        room
                    }
                    Err(e) if e.is_transient() => return Err(e.into()),
                    Err(e) => {
                        tracing::warn!(%room, error = %e, "the ghost cannot get back in; making a new portal");
                        *portal = self.replace_portal_room(portal, remote).await?;
                        portal.room_id.clone().unwrap_or_default()
                    }
                };
                Ok(self.matrix.send(ghost, &room, txn, "m.room.message", content, ts).await?)
            }
            other => Ok(other?),
        }
    }

    /// The event a ghost already posted with this transaction id, among the room's latest.
    async fn already_sent(&self, ghost: &str, room: &str, txn: &str) -> Result<Option<String>, BridgeError> {
        let events = match self.matrix.recent_events(ghost, room, LOOK_BACK).await {
            Ok(events) => events,
            Err(e) if e.is_transient() => return Err(e.into()),
            // Not in the room (kicked: the send repairs it), or a homeserver that cannot
            // answer this: the transaction id is all there is to go on.
            Err(e) => {
                tracing::debug!(%room, error = %e, "could not look for an earlier send");
                return Ok(None);
            }
        };
        Ok(events
            .iter()
            .find(|e| e["sender"] == ghost && e["content"][TXN_MARKER] == txn)
            .and_then(|e| e["event_id"].as_str().map(str::to_string)))
    }

    /// Forgets a portal's room and makes a new one for the conversation.
    async fn replace_portal_room(&self, portal: &Portal, remote: &Address) -> Result<Portal, BridgeError> {
        if super::portals::is_group_key(&portal.remote_key) {
            // Its members are not known here; a group room is not remade from one sender.
            return Err(BridgeError::Other(format!(
                "the group chat {} can no longer be used",
                portal.room_id.as_deref().unwrap_or_default()
            )));
        }
        let old = portal.room_id.clone().unwrap_or_default();
        {
            // One replacement at a time; a second worker finding the room replaced already
            // uses the new one.
            let _guard = self.creation_lock(&portal.local_number, &portal.remote_key).await;
            if !self.store.retire_portal_room(portal.id, &old)? {
                tracing::info!(room = %old, "the portal's room was replaced meanwhile");
            }
        }
        let remote = Address { key: portal.remote_key.clone(), ..remote.clone() };
        let new = self.ensure_portal_at(&portal.backend_id, &portal.local_number, &remote, &portal.owner).await?;
        tracing::info!(old = ?portal.room_id, new = ?new.room_id, "portal moved to a new room");
        Ok(new)
    }

    /// `delete` in a portal: the ghost and the bot leave, the room is forgotten, and the
    /// next SMS of the conversation makes a new one.
    pub(super) async fn cmd_delete(&self, room: &str, sender: &str) -> Result<Option<String>, BridgeError> {
        let Some(portal) = self.store.portal_by_room(room)? else {
            return Ok(Some("`delete` works in an SMS chat: it removes that chat.".into()));
        };
        if portal.owner != sender && self.permission(sender) < crate::config::Permission::Admin {
            return Ok(Some("Only the owner of this chat can delete it.".into()));
        }
        self.store.retire_portal_room(portal.id, room)?;
        let cancelled = self.store.cancel_portal_queue(portal.id, "the chat was deleted")?;
        if cancelled > 0 {
            tracing::info!(%room, cancelled, "messages of a deleted chat will not be sent");
        }
        for key in portal.remote_key.split('-').filter(|k| !k.is_empty() && *k != "group") {
            let ghost = self.ghost_mxid(key);
            if let Err(e) = self.matrix.leave(&ghost, room, Some("The chat was deleted")).await {
                tracing::debug!(%room, %ghost, error = %e, "ghost could not leave");
            }
        }
        if let Err(e) = self.matrix.leave(&self.bot, room, Some("The chat was deleted")).await {
            tracing::warn!(%room, error = %e, "the bot could not leave a deleted chat");
        }
        tracing::info!(%room, remote = %portal.remote_display, "portal deleted");
        // The bot has left: nothing more can be said in the room.
        Ok(None)
    }
}
