//! Ghosts (one Matrix user per remote address) and portals (one room per address pair).

use serde_json::json;

use super::{Bridge, BridgeError};
use crate::matrix::{RoomSpec, StateEvent};
use crate::phone::{self, Address};
use crate::store::{Ghost, Portal};

impl Bridge {
    pub fn ghost_mxid(&self, key: &str) -> String {
        format!("@{}:{}", self.config.appservice.ghost_localpart(key), self.config.homeserver.domain)
    }

    /// Registers the ghost for an address once, with its display name.
    pub async fn ensure_ghost(&self, addr: &Address) -> Result<String, BridgeError> {
        let localpart = self.config.appservice.ghost_localpart(&addr.key);
        let mxid = self.ghost_mxid(&addr.key);
        if self.ghosts.lock().unwrap().contains(&mxid) {
            return Ok(mxid);
        }
        if self.store.ghost(&localpart)?.is_none() {
            self.matrix.register(&localpart).await?;
            self.matrix.set_displayname(&mxid, &addr.display).await?;
            self.store.save_ghost(&Ghost {
                localpart,
                address: addr.destination.clone().unwrap_or_else(|| addr.key.clone()),
                displayname: addr.display.clone(),
            })?;
        }
        self.ghosts.lock().unwrap().insert(mxid.clone());
        Ok(mxid)
    }

    /// The appservice user query: is this one of our ghosts? Registers it if so.
    pub async fn query_user(&self, user_id: &str) -> Result<bool, BridgeError> {
        let Some((local, server)) = user_id.strip_prefix('@').and_then(|u| u.split_once(':')) else {
            return Ok(false);
        };
        if server != self.config.homeserver.domain {
            return Ok(false);
        }
        let Some(key) = self.config.appservice.key_from_localpart(local) else { return Ok(false) };
        let addr = match Address::from_key(key) {
            Some(a) => a,
            // Alphanumeric senders exist only once they have written to us.
            None => match self.store.ghost(local)? {
                Some(g) => Address { key: key.into(), display: g.displayname, destination: None },
                None => return Ok(false),
            },
        };
        self.ensure_ghost(&addr).await?;
        Ok(true)
    }

    /// Alias that makes portal creation idempotent across crashes: a second createRoom
    /// for the same pair fails with M_ROOM_IN_USE and we adopt the existing room.
    /// A conversation's later rooms (after `delete`, or when one became unusable) get
    /// their own alias, or the old room would be adopted again.
    fn portal_alias(&self, local_number: &str, remote_key: &str, generation: i64) -> String {
        let (pre, post) = self.config.appservice.template_parts();
        let again = if generation > 0 { format!("_{generation}") } else { String::new() };
        format!("{pre}{}_{remote_key}{again}{post}", local_number.trim_start_matches('+'))
    }

    /// Our number as an incoming message was addressed to it: the link's own number when
    /// the link does not say or writes it another way (nationally, without `+`), else the
    /// other number, short code or sender name of ours the message went to.
    pub(crate) fn portal_local(&self, backend_id: &str, to: &str) -> String {
        let own = self.backends.get(backend_id).map(|b| b.number().to_string()).unwrap_or_default();
        // The common case, without parsing: our own number, with or without `+`.
        if to.trim().is_empty() || to.trim_start_matches('+') == own.trim_start_matches('+') {
            return own;
        }
        let region = self.config.bridge.default_region.as_deref();
        let addr = Address::parse_cached(to, region);
        let own_key = Address::parse_cached(&own, region).key;
        if same_number(&addr.key, &own_key) {
            return own;
        }
        addr.destination.unwrap_or_else(|| to.trim().to_string())
    }

    /// The number a portal's messages leave from, when it is not the link's own (a
    /// conversation with another of our numbers on the same account).
    pub(crate) fn portal_sender<'a>(&self, portal: &'a Portal) -> Option<&'a str> {
        let own = self.backends.get(&portal.backend_id).map(|b| b.number());
        (own != Some(portal.local_number.as_str())).then_some(portal.local_number.as_str())
    }

    /// The portal for (backend's number, remote), creating its room (and inviting `owner`)
    /// if needed.
    pub async fn ensure_portal(&self, backend_id: &str, remote: &Address, owner: &str) -> Result<Portal, BridgeError> {
        let local = self.backends.get(backend_id).map(|b| b.number().to_string()).unwrap_or_default();
        self.ensure_portal_at(backend_id, &local, remote, owner).await
    }

    /// The portal for (our number `local`, remote), creating its room (and inviting
    /// `owner`) if needed.
    pub async fn ensure_portal_at(
        &self,
        backend_id: &str,
        local: &str,
        remote: &Address,
        owner: &str,
    ) -> Result<Portal, BridgeError> {
        if !self.backends.contains_key(backend_id) {
            return Err(BridgeError::Other(format!("no backend {backend_id:?}")));
        }
        let local = local.to_string();
        // Fast path, read-only: nearly every SMS belongs to an existing portal.
        if let Some(p) = self.store.portal_by_pair(&local, &remote.key)?
            && p.room_id.is_some()
        {
            return Ok(p);
        }
        let _guard = self.creation_lock(&local, &remote.key).await;
        let portal = self.store.claim_portal(&Portal {
            id: 0,
            local_number: local.clone(),
            remote_key: remote.key.clone(),
            remote_display: remote.display.clone(),
            remote_destination: remote.destination.clone(),
            backend_id: backend_id.into(),
            owner: owner.into(),
            room_id: None,
            owner_left: false,
            generation: 0,
        })?;
        if portal.room_id.is_some() {
            return Ok(portal);
        }
        let ghost = self.ensure_ghost(remote).await?;
        let alias_local = self.portal_alias(&local, &remote.key, portal.generation);
        let spec = self.portal_room_spec(&portal, &ghost, &alias_local);
        let room_id = self.create_or_adopt(&spec, &alias_local, &portal.owner).await?;
        self.matrix.join(&ghost, &room_id).await?;
        self.store.set_portal_room(portal.id, &room_id)?;
        // Marks the room as a DM with the owner on the ghost's side.
        let direct = json!({ portal.owner.clone(): [room_id.clone()] });
        if let Err(e) = self.matrix.set_account_data(&ghost, "m.direct", &direct).await {
            tracing::warn!(error = %e, "could not set m.direct for the ghost");
        }
        tracing::info!(room = %room_id, remote = %remote.display, backend = backend_id, "portal created");
        Ok(Portal { room_id: Some(room_id), ..portal })
    }

    /// One creation per conversation at a time: two SMS from a new number must not race to
    /// two rooms. Other conversations are not held up while this one registers and invites
    /// its ghosts.
    pub(super) async fn creation_lock(&self, local: &str, remote_key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        self.portal_locks.lock(&format!("{local}/{remote_key}")).await
    }

    /// Creates a portal's room; a room left by an interrupted creation (its alias taken)
    /// is adopted instead.
    async fn create_or_adopt(&self, spec: &RoomSpec, alias_local: &str, owner: &str) -> Result<String, BridgeError> {
        match self.matrix.create_room(spec).await {
            Ok(r) => Ok(r),
            Err(e) if e.is("M_ROOM_IN_USE") => {
                let alias = format!("#{alias_local}:{}", self.config.homeserver.domain);
                let room = self
                    .matrix
                    .resolve_alias(&alias)
                    .await?
                    .ok_or_else(|| BridgeError::Other(format!("alias {alias} is taken but does not resolve")))?;
                tracing::info!(%room, "adopting the room an interrupted portal creation left behind");
                self.matrix.invite(&self.bot, &room, owner).await?;
                Ok(room)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The group portal for (backend's number, these people): a group MMS conversation,
    /// keyed by the set of participants, with a ghost for each. Replies go to all of them.
    pub async fn ensure_group_portal(
        &self,
        backend_id: &str,
        members: &[Address],
        owner: &str,
    ) -> Result<Portal, BridgeError> {
        let backend =
            self.backends.get(backend_id).ok_or_else(|| BridgeError::Other(format!("no backend {backend_id:?}")))?;
        let local = backend.number().to_string();
        let mut members: Vec<&Address> = members.iter().collect();
        members.sort_by(|a, b| a.key.cmp(&b.key));
        members.dedup_by(|a, b| a.key == b.key);
        let key = group_key(&members.iter().map(|m| m.key.as_str()).collect::<Vec<_>>());
        if let Some(p) = self.store.portal_by_pair(&local, &key)?
            && p.room_id.is_some()
        {
            return Ok(p);
        }
        let _guard = self.creation_lock(&local, &key).await;
        let display = members.iter().map(|m| m.display.as_str()).collect::<Vec<_>>().join(", ");
        // Only people we can write back to are in the reply list.
        let destinations: Vec<&str> = members.iter().filter_map(|m| m.destination.as_deref()).collect();
        let portal = self.store.claim_portal(&Portal {
            id: 0,
            local_number: local.clone(),
            remote_key: key.clone(),
            remote_display: display.clone(),
            remote_destination: (!destinations.is_empty()).then(|| destinations.join(",")),
            backend_id: backend_id.into(),
            owner: owner.into(),
            room_id: None,
            owner_left: false,
            generation: 0,
        })?;
        if portal.room_id.is_some() {
            return Ok(portal);
        }
        let mut ghosts = Vec::new();
        for m in &members {
            ghosts.push(self.ensure_ghost(m).await?);
        }
        let alias_local = self.portal_alias(&local, &key, portal.generation);
        let mut spec = self.portal_room_spec(&portal, &ghosts[0], &alias_local);
        spec.name = Some(format!("Group: {display}"));
        spec.topic = Some(format!("Group MMS with {display} via {} ({backend_id})", phone::international(&local)));
        spec.invite = ghosts.iter().cloned().chain([portal.owner.clone()]).collect();
        spec.is_direct = false;
        spec.power_levels = None;
        let room_id = self.create_or_adopt(&spec, &alias_local, &portal.owner).await?;
        for g in &ghosts {
            self.matrix.join(g, &room_id).await?;
        }
        self.store.set_portal_room(portal.id, &room_id)?;
        tracing::info!(room = %room_id, members = %portal.remote_display, backend = backend_id, "group portal created");
        Ok(Portal { room_id: Some(room_id), ..portal })
    }

    fn portal_room_spec(&self, portal: &Portal, ghost: &str, alias_local: &str) -> RoomSpec {
        let local_display = phone::international(&portal.local_number);
        let bridge_info = json!({
            "bridgebot": self.bot,
            "creator": self.bot,
            "protocol": { "id": "sms", "displayname": "SMS" },
            "network": { "id": portal.local_number, "displayname": local_display },
            "channel": { "id": portal.remote_key, "displayname": portal.remote_display },
        });
        let state_key =
            format!("sms-bridge://sms/{}/{}", portal.local_number.trim_start_matches('+'), portal.remote_key);
        let bridge_state =
            |t: &str| StateEvent { event_type: t.into(), state_key: state_key.clone(), content: bridge_info.clone() };
        // Room version 12 gives creators power implicitly and forbids listing them.
        let mut users = serde_json::Map::new();
        if !creators_have_implicit_power(&self.room_version()) {
            users.insert(self.bot.clone(), 100.into());
        }
        users.insert(ghost.into(), 100.into());
        RoomSpec {
            creator: self.bot.clone(),
            alias_localpart: Some(alias_local.into()),
            name: Some(portal.remote_display.clone()),
            topic: Some(format!("SMS with {} via {} ({})", portal.remote_display, local_display, portal.backend_id)),
            invite: vec![ghost.into(), portal.owner.clone()],
            is_direct: true,
            initial_state: vec![bridge_state("m.bridge"), bridge_state("uk.half-shot.bridge")],
            power_levels: Some(json!({ "users": users })),
        }
    }
}

/// A group portal's key: the members' keys in order. Long groups are hashed so the key
/// (and the room alias made from it) stays short.
pub(crate) fn group_key(sorted_keys: &[&str]) -> String {
    let joined = sorted_keys.join("-");
    if joined.len() <= 120 {
        return format!("group-{joined}");
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, joined.as_bytes());
    let hex: String = digest.as_ref()[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("group-{hex}")
}

/// Whether a portal is a group (several remote people).
pub fn is_group_key(key: &str) -> bool {
    key.starts_with("group-")
}

/// Room versions from 12 on (and the MSC4289 test version) make creators all-powerful.
pub(crate) fn creators_have_implicit_power(version: &str) -> bool {
    version == "org.matrix.hydra.11" || version.parse::<u32>().is_ok_and(|v| v >= 12)
}

/// Whether two address keys are the same phone: equal, or (written nationally in one
/// place and internationally in the other) ending in the same nine digits.
pub(crate) fn same_number(a: &str, b: &str) -> bool {
    let digits = |k: &str| k.len() >= 9 && k.bytes().all(|c| c.is_ascii_digit());
    a == b || (digits(a) && digits(b) && a[a.len() - 9..] == b[b.len() - 9..])
}

#[cfg(test)]
mod tests {
    #[test]
    fn room_versions() {
        assert!(super::creators_have_implicit_power("12"));
        assert!(super::creators_have_implicit_power("13"));
        assert!(!super::creators_have_implicit_power("11"));
        assert!(!super::creators_have_implicit_power("10"));
    }
}
