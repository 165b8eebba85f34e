//! The client-server API calls the bridge makes, behind one trait: a ruma + reqwest
//! implementation for real homeservers and an in-memory one for core tests.

mod http;
pub mod memory;

pub use http::HttpMatrix;
pub use memory::MemoryMatrix;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}", .errcode.as_ref().map(|c| format!("{c}: ")).unwrap_or_default(), .message)]
pub struct MatrixError {
    /// HTTP status, `None` when the homeserver could not be reached at all.
    pub status: Option<u16>,
    pub errcode: Option<String>,
    pub message: String,
    /// How long a rate-limited (429) caller is asked to wait.
    pub retry_after_ms: Option<u64>,
}

/// Errcodes that say the request itself is wrong: sending it again cannot help.
const PERMANENT_ERRCODES: &[&str] =
    &["M_BAD_JSON", "M_NOT_JSON", "M_TOO_LARGE", "M_INVALID_PARAM", "M_BAD_STATE", "M_INVALID_ROOM_STATE"];

impl MatrixError {
    pub fn new(status: Option<u16>, errcode: Option<&str>, message: impl Into<String>) -> MatrixError {
        MatrixError { status, errcode: errcode.map(String::from), message: message.into(), retry_after_ms: None }
    }

    pub fn network(message: impl Into<String>) -> MatrixError {
        MatrixError::new(None, None, message)
    }

    /// Worth retrying: the homeserver is down, overloaded or rate limiting us.
    pub fn is_transient(&self) -> bool {
        match self.status {
            None => true,
            Some(s) => s >= 500 || s == 429 || self.errcode.as_deref() == Some("M_LIMIT_EXCEEDED"),
        }
    }

    /// Known to fail again however often it is tried. Anything neither transient nor
    /// permanent (a 403 because a ghost left, a 404 for a vanished room) is unknown.
    pub fn is_permanent(&self) -> bool {
        !self.is_transient() && self.errcode.as_deref().is_some_and(|c| PERMANENT_ERRCODES.contains(&c))
    }

    pub fn is(&self, errcode: &str) -> bool {
        self.errcode.as_deref() == Some(errcode)
    }
}

pub type Result<T> = std::result::Result<T, MatrixError>;

/// An initial state event of a new room.
#[derive(Debug, Clone, PartialEq)]
pub struct StateEvent {
    pub event_type: String,
    pub state_key: String,
    pub content: Value,
}

/// What a new room looks like.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RoomSpec {
    pub creator: String,
    /// Localpart of a canonical alias; makes creation idempotent (M_ROOM_IN_USE on a retry).
    pub alias_localpart: Option<String>,
    pub name: Option<String>,
    pub topic: Option<String>,
    pub invite: Vec<String>,
    pub is_direct: bool,
    pub initial_state: Vec<StateEvent>,
    /// Replaces the default `m.room.power_levels` content (merged by the homeserver).
    pub power_levels: Option<Value>,
}

#[async_trait::async_trait]
pub trait MatrixApi: Send + Sync {
    /// `GET /_matrix/client/versions`: answers once the homeserver is up.
    async fn versions(&self) -> Result<Vec<String>>;
    /// `POST /_matrix/client/v1/appservice/{id}/ping`: proves the homeserver reaches us.
    async fn ping(&self, appservice_id: &str) -> Result<()>;
    /// Registers a user in our namespace; an existing one is fine.
    async fn register(&self, localpart: &str) -> Result<()>;
    async fn set_displayname(&self, user_id: &str, name: &str) -> Result<()>;
    /// The room version new rooms get (`m.room_versions.default` capability).
    async fn default_room_version(&self) -> Result<String>;
    async fn create_room(&self, spec: &RoomSpec) -> Result<String>;
    async fn resolve_alias(&self, alias: &str) -> Result<Option<String>>;
    async fn join(&self, user_id: &str, room_id: &str) -> Result<()>;
    async fn invite(&self, sender: &str, room_id: &str, user_id: &str) -> Result<()>;
    async fn leave(&self, user_id: &str, room_id: &str, reason: Option<&str>) -> Result<()>;
    /// Sends a message-like event; `txn_id` makes retries idempotent; `ts` keeps the
    /// original time (appservices only).
    async fn send(
        &self,
        sender: &str,
        room_id: &str,
        txn_id: &str,
        event_type: &str,
        content: &Value,
        ts: Option<i64>,
    ) -> Result<String>;
    async fn send_state(
        &self,
        sender: &str,
        room_id: &str,
        event_type: &str,
        state_key: &str,
        content: &Value,
    ) -> Result<String>;
    async fn read_receipt(&self, sender: &str, room_id: &str, event_id: &str) -> Result<()>;
    /// The latest `limit` events of a room, newest first, as `user` sees them.
    async fn recent_events(&self, user: &str, room_id: &str, limit: u32) -> Result<Vec<Value>>;
    /// `GET /_matrix/client/v1/media/download/…` (authenticated media) as the bridge: the
    /// bytes and their content type.
    async fn download(&self, mxc: &str) -> Result<(Vec<u8>, Option<String>)>;
    /// `POST /_matrix/media/v3/upload` as `sender`; returns the `mxc://` URI.
    async fn upload(&self, sender: &str, content_type: &str, filename: &str, data: Vec<u8>) -> Result<String>;
    async fn set_account_data(&self, user_id: &str, event_type: &str, content: &Value) -> Result<()>;
}
