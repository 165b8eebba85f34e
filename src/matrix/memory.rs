//! [`MatrixApi`] in memory, for testing the core without a homeserver. It keeps rooms,
//! members and events, honours transaction ids and aliases, and can be told to fail.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use serde_json::Value;

use super::{MatrixApi, MatrixError, Result, RoomSpec};

#[derive(Debug, Clone, PartialEq)]
pub struct SentEvent {
    pub event_id: String,
    pub room_id: String,
    pub sender: String,
    pub event_type: String,
    pub content: Value,
    pub ts: Option<i64>,
}

#[derive(Default)]
struct State {
    registered: HashSet<String>,
    displaynames: HashMap<String, String>,
    rooms: HashMap<String, RoomSpec>,
    members: HashMap<String, HashSet<String>>,
    invited: HashMap<String, HashSet<String>>,
    aliases: HashMap<String, String>,
    events: Vec<SentEvent>,
    txns: HashMap<(String, String, String), String>,
    receipts: Vec<(String, String, String)>,
    account_data: HashMap<(String, String), Value>,
    uploads: Vec<Upload>,
    down: bool,
    /// Transaction ids are not remembered (a homeserver that forgot them, as Synapse does
    /// after about an hour or a restart).
    forgetful: bool,
    /// Sends to let through before one fails as if the homeserver went away.
    sends_before_failure: Option<usize>,
    next_id: u64,
}

/// A file given to the media repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub mxc: String,
    pub sender: String,
    pub content_type: String,
    pub filename: String,
    pub data: Vec<u8>,
}

pub struct MemoryMatrix {
    domain: String,
    state: Mutex<State>,
}

impl MemoryMatrix {
    pub fn new(domain: &str) -> MemoryMatrix {
        MemoryMatrix { domain: domain.into(), state: Mutex::default() }
    }

    /// While down, every call fails as if the homeserver were unreachable.
    pub fn set_down(&self, down: bool) {
        self.state.lock().unwrap().down = down;
    }

    /// Forgets every transaction id seen so far, and with `forgetful` also every later
    /// one: a retry with an old transaction id then makes a new event, as on Synapse.
    pub fn forget_transactions(&self, forgetful: bool) {
        let mut s = self.state.lock().unwrap();
        s.txns.clear();
        s.forgetful = forgetful;
    }

    /// Lets `n` more sends through, then fails the next one (once), as a homeserver going
    /// away in the middle of a job that sends several events.
    pub fn fail_send_after(&self, n: usize) {
        self.state.lock().unwrap().sends_before_failure = Some(n);
    }

    pub fn uploads(&self) -> Vec<Upload> {
        self.state.lock().unwrap().uploads.clone()
    }

    pub fn events(&self) -> Vec<SentEvent> {
        self.state.lock().unwrap().events.clone()
    }

    pub fn events_in(&self, room_id: &str) -> Vec<SentEvent> {
        self.events().into_iter().filter(|e| e.room_id == room_id).collect()
    }

    pub fn rooms(&self) -> Vec<(String, RoomSpec)> {
        let s = self.state.lock().unwrap();
        let mut v: Vec<_> = s.rooms.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    pub fn members(&self, room_id: &str) -> HashSet<String> {
        self.state.lock().unwrap().members.get(room_id).cloned().unwrap_or_default()
    }

    pub fn invited(&self, room_id: &str) -> HashSet<String> {
        self.state.lock().unwrap().invited.get(room_id).cloned().unwrap_or_default()
    }

    pub fn receipts(&self) -> Vec<(String, String, String)> {
        self.state.lock().unwrap().receipts.clone()
    }

    pub fn displayname(&self, user_id: &str) -> Option<String> {
        self.state.lock().unwrap().displaynames.get(user_id).cloned()
    }

    pub fn is_registered(&self, user_id: &str) -> bool {
        self.state.lock().unwrap().registered.contains(user_id)
    }

    pub fn account_data(&self, user_id: &str, event_type: &str) -> Option<Value> {
        self.state.lock().unwrap().account_data.get(&(user_id.into(), event_type.into())).cloned()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>> {
        let s = self.state.lock().unwrap();
        if s.down {
            return Err(MatrixError::network("memory homeserver is down"));
        }
        Ok(s)
    }

    fn forbidden(message: String) -> MatrixError {
        MatrixError::new(Some(403), Some("M_FORBIDDEN"), message)
    }

    fn check_member(s: &State, user_id: &str, room_id: &str) -> Result<()> {
        match s.members.get(room_id) {
            Some(m) if m.contains(user_id) => Ok(()),
            Some(_) => Err(Self::forbidden(format!("{user_id} is not in {room_id}"))),
            None => Err(MatrixError::new(Some(404), Some("M_NOT_FOUND"), "no room")),
        }
    }
}

#[async_trait::async_trait]
impl MatrixApi for MemoryMatrix {
    async fn versions(&self) -> Result<Vec<String>> {
        self.lock().map(|_| vec!["v1.11".into()])
    }

    async fn ping(&self, _appservice_id: &str) -> Result<()> {
        self.lock().map(|_| ())
    }

    async fn register(&self, localpart: &str) -> Result<()> {
        let user = format!("@{localpart}:{}", self.domain);
        self.lock()?.registered.insert(user);
        Ok(())
    }

    async fn set_displayname(&self, user_id: &str, name: &str) -> Result<()> {
        self.lock()?.displaynames.insert(user_id.into(), name.into());
        Ok(())
    }

    async fn default_room_version(&self) -> Result<String> {
        self.lock().map(|_| "12".into())
    }

    async fn create_room(&self, spec: &RoomSpec) -> Result<String> {
        let mut s = self.lock()?;
        if let Some(a) = &spec.alias_localpart
            && s.aliases.contains_key(&format!("#{a}:{}", self.domain))
        {
            return Err(MatrixError::new(Some(400), Some("M_ROOM_IN_USE"), "Room alias already taken"));
        }
        s.next_id += 1;
        let room_id = format!("!room{}", s.next_id);
        if let Some(a) = &spec.alias_localpart {
            s.aliases.insert(format!("#{a}:{}", self.domain), room_id.clone());
        }
        s.rooms.insert(room_id.clone(), spec.clone());
        s.members.insert(room_id.clone(), [spec.creator.clone()].into());
        s.invited.insert(room_id.clone(), spec.invite.iter().cloned().collect());
        Ok(room_id)
    }

    async fn resolve_alias(&self, alias: &str) -> Result<Option<String>> {
        Ok(self.lock()?.aliases.get(alias).cloned())
    }

    async fn join(&self, user_id: &str, room_id: &str) -> Result<()> {
        let mut s = self.lock()?;
        let invited = s.invited.get_mut(room_id).map(|i| i.remove(user_id)).unwrap_or(false);
        let members = s.members.entry(room_id.into()).or_default();
        if !invited && !members.contains(user_id) {
            return Err(Self::forbidden(format!("{user_id} was not invited to {room_id}")));
        }
        members.insert(user_id.into());
        Ok(())
    }

    async fn invite(&self, sender: &str, room_id: &str, user_id: &str) -> Result<()> {
        let mut s = self.lock()?;
        Self::check_member(&s, sender, room_id)?;
        // As Synapse answers it.
        if s.members.get(room_id).is_some_and(|m| m.contains(user_id)) {
            return Err(Self::forbidden(format!("{user_id} is already in the room.")));
        }
        s.invited.entry(room_id.into()).or_default().insert(user_id.into());
        Ok(())
    }

    async fn leave(&self, user_id: &str, room_id: &str, _reason: Option<&str>) -> Result<()> {
        let mut s = self.lock()?;
        s.invited.entry(room_id.into()).or_default().remove(user_id);
        s.members.entry(room_id.into()).or_default().remove(user_id);
        Ok(())
    }

    async fn send(
        &self,
        sender: &str,
        room_id: &str,
        txn_id: &str,
        event_type: &str,
        content: &Value,
        ts: Option<i64>,
    ) -> Result<String> {
        let mut s = self.lock()?;
        match s.sends_before_failure {
            Some(0) => {
                s.sends_before_failure = None;
                return Err(MatrixError::network("memory homeserver went away mid-job"));
            }
            Some(n) => s.sends_before_failure = Some(n - 1),
            None => {}
        }
        Self::check_member(&s, sender, room_id)?;
        let key = (sender.to_string(), room_id.to_string(), txn_id.to_string());
        if let Some(id) = s.txns.get(&key) {
            return Ok(id.clone());
        }
        s.next_id += 1;
        let event_id = format!("$ev{}", s.next_id);
        if !s.forgetful {
            s.txns.insert(key, event_id.clone());
        }
        s.events.push(SentEvent {
            event_id: event_id.clone(),
            room_id: room_id.into(),
            sender: sender.into(),
            event_type: event_type.into(),
            content: content.clone(),
            ts,
        });
        Ok(event_id)
    }

    async fn send_state(
        &self,
        sender: &str,
        room_id: &str,
        event_type: &str,
        state_key: &str,
        content: &Value,
    ) -> Result<String> {
        let txn = format!("state-{event_type}-{state_key}-{content}");
        self.send(sender, room_id, &txn, event_type, content, None).await
    }

    async fn read_receipt(&self, sender: &str, room_id: &str, event_id: &str) -> Result<()> {
        let mut s = self.lock()?;
        Self::check_member(&s, sender, room_id)?;
        s.receipts.push((sender.into(), room_id.into(), event_id.into()));
        Ok(())
    }

    async fn download(&self, mxc: &str) -> Result<(Vec<u8>, Option<String>)> {
        let s = self.lock()?;
        match s.uploads.iter().find(|u| u.mxc == mxc) {
            Some(u) => Ok((u.data.clone(), Some(u.content_type.clone()))),
            None => Err(MatrixError::new(Some(404), Some("M_NOT_FOUND"), "no such media")),
        }
    }

    async fn upload(&self, sender: &str, content_type: &str, filename: &str, data: Vec<u8>) -> Result<String> {
        let mut s = self.lock()?;
        s.next_id += 1;
        let mxc = format!("mxc://{}/media{}", self.domain, s.next_id);
        let upload = Upload {
            mxc: mxc.clone(),
            sender: sender.into(),
            content_type: content_type.into(),
            filename: filename.into(),
            data,
        };
        s.uploads.push(upload);
        Ok(mxc)
    }

    async fn recent_events(&self, user: &str, room_id: &str, limit: u32) -> Result<Vec<Value>> {
        let s = self.lock()?;
        Self::check_member(&s, user, room_id)?;
        let events = s.events.iter().rev().filter(|e| e.room_id == room_id).take(limit as usize);
        Ok(events
            .map(|e| {
                serde_json::json!({
                    "event_id": e.event_id, "room_id": e.room_id, "sender": e.sender,
                    "type": e.event_type, "content": e.content,
                })
            })
            .collect())
    }

    async fn set_account_data(&self, user_id: &str, event_type: &str, content: &Value) -> Result<()> {
        self.lock()?.account_data.insert((user_id.into(), event_type.into()), content.clone());
        Ok(())
    }
}
