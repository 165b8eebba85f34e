//! Management rooms: a user's direct chat with the bot, where commands run and news goes
//! that has no portal to go to. The bot makes one when it has news for someone who has
//! none yet, so no notice is lost for want of a room.

use super::{Bridge, BridgeError};
use crate::matrix::RoomSpec;
use crate::store::StoreError;

/// A `matrix_out` room of this form means "the management room of this user, made if
/// missing": the notice is queued in the same commit as what it reports, before any room
/// exists.
pub(crate) const OWNER_PREFIX: &str = "owner:";

/// Likewise "the portal of this conversation, made if missing":
/// `portal:{backend}\x1f{our number}\x1f{their address}`.
const PORTAL_PREFIX: &str = "portal:";

impl Bridge {
    /// The user's management room, creating it (a DM with the bot) if there is none.
    pub(crate) async fn ensure_management_room(&self, user_id: &str) -> Result<String, BridgeError> {
        if let Some(room) = self.store.management_room(user_id)? {
            return Ok(room);
        }
        let _guard = self.creation_lock("management", user_id).await;
        if let Some(room) = self.store.management_room(user_id)? {
            return Ok(room);
        }
        let spec = RoomSpec {
            creator: self.bot.clone(),
            name: Some("SMS bridge".into()),
            topic: Some("Your SMS bridge: commands and news about your SMS links".into()),
            invite: vec![user_id.to_string()],
            is_direct: true,
            ..RoomSpec::default()
        };
        let room = self.matrix.create_room(&spec).await?;
        self.store.set_management_room(user_id, &room)?;
        tracing::info!(user = user_id, %room, "made a management room to tell the user something");
        let welcome = format!(
            "Hello! This is your SMS bridge management room; I made it to tell you something.\n{}",
            super::commands::HELP
        );
        self.store.tx(|tx| self.notice_tx(tx, &room, &welcome))?;
        Ok(room)
    }

    /// The room a queued notice goes to, made now if its target says so.
    pub(crate) async fn notice_room(&self, target: &str) -> Result<String, BridgeError> {
        if let Some(owner) = target.strip_prefix(OWNER_PREFIX) {
            return self.ensure_management_room(owner).await;
        }
        let Some(conversation) = target.strip_prefix(PORTAL_PREFIX) else { return Ok(target.to_string()) };
        let mut fields = conversation.split('\x1f');
        let (Some(backend_id), Some(local), Some(remote)) = (fields.next(), fields.next(), fields.next()) else {
            return Err(BridgeError::Other(format!("bad notice target {target:?}")));
        };
        let owner = self.link_owner(backend_id).filter(|o| !o.is_empty());
        let owner = owner.ok_or_else(|| BridgeError::Other(format!("no owner for link {backend_id:?}")))?;
        let remote = crate::phone::Address::parse(remote, self.config.bridge.default_region.as_deref());
        let portal = self.ensure_portal_at(backend_id, local, &remote, &owner).await?;
        let portal = self.usable_portal(portal, &remote).await?;
        portal.room_id.ok_or_else(|| BridgeError::Other("the portal has no room".into()))
    }

    /// Queues a notice for a conversation that may have no room yet: its portal is made
    /// when the notice is sent. Part of the caller's commit.
    pub(crate) fn notice_to_conversation_tx(
        &self,
        tx: &rusqlite::Transaction,
        backend_id: &str,
        local: &str,
        remote: &str,
        body: &str,
    ) -> Result<(), StoreError> {
        self.notice_tx(tx, &format!("{PORTAL_PREFIX}{backend_id}\x1f{local}\x1f{remote}"), body)
    }

    /// Queues a notice for a user: in their management room as it is when the notice is
    /// sent, made then if they have none. Part of the caller's commit.
    pub(crate) fn notice_to_owner_tx(
        &self,
        tx: &rusqlite::Transaction,
        owner: &str,
        body: &str,
    ) -> Result<(), StoreError> {
        // Resolved when sent, not now: the user may leave the room meanwhile.
        self.notice_tx(tx, &format!("{OWNER_PREFIX}{owner}"), body)
    }
}
