//! The one interface every SMS link implements. What links hand to the core is defined in
//! [`crate::message`] and re-exported here.
//!
//! A link hands everything it receives to its [`EventSink`] and acknowledges it to its
//! peer (deliver_sm_resp, deleting from SIM storage, …) only after that returns Ok: by
//! then the event is committed in the inbox.

pub mod gammu_spool;
pub mod hilink;
pub mod modem;
pub mod smpp;
pub mod test;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, mpsc};

pub use crate::message::{DeliveryReport, DeliveryStatus, IncomingPart, OutgoingSms, ReceivedSms, Sent, WapPush};
use crate::store::{InboxKind, Store, StoreError};

/// Why a send failed, and whether trying again may help (the lettre split).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub permanent: bool,
    pub message: String,
    /// Parts of a long message the link accepted before the failure (index, message id):
    /// the core records them, and the next attempt sends only the others.
    pub accepted: Vec<(u8, String)>,
    /// The link itself is down (not bound, reconnecting), rather than this message being
    /// refused for now: the core waits for the link, and its return wakes the backlog.
    pub link_down: bool,
}

impl SendError {
    pub fn transient(message: impl Into<String>) -> SendError {
        SendError { permanent: false, message: message.into(), accepted: Vec::new(), link_down: false }
    }
    pub fn permanent(message: impl Into<String>) -> SendError {
        SendError { permanent: true, message: message.into(), accepted: Vec::new(), link_down: false }
    }
    pub fn link_down(message: impl Into<String>) -> SendError {
        SendError { link_down: true, ..SendError::transient(message) }
    }
    pub fn with_accepted(self, accepted: Vec<(u8, String)>) -> SendError {
        SendError { accepted, ..self }
    }
    pub fn is_transient(&self) -> bool {
        !self.permanent
    }
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LinkState {
    Starting,
    Connected,
    Reconnecting {
        reason: String,
    },
    BadCredentials {
        reason: String,
    },
    /// Connected to the device, which cannot carry messages yet (no SIM, PIN needed, no
    /// network): messages wait.
    NotReady {
        reason: String,
    },
    Stopped,
}

impl std::fmt::Display for LinkState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkState::Starting => f.write_str("starting"),
            LinkState::Connected => f.write_str("connected"),
            LinkState::Reconnecting { reason } => write!(f, "reconnecting ({reason})"),
            LinkState::BadCredentials { reason } => write!(f, "bad credentials ({reason})"),
            LinkState::NotReady { reason } => write!(f, "not ready ({reason})"),
            LinkState::Stopped => f.write_str("stopped"),
        }
    }
}

/// What a link can do; the core adapts to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Most concatenated parts one message may take.
    pub max_parts: u8,
    pub mms: bool,
    pub delivery_reports: bool,
    /// Messages the core may have in `send` at once (an SMPP window, say).
    pub in_flight: usize,
    /// Sends USSD codes ([`Backend::ussd`]).
    pub ussd: bool,
    /// Carries [`SmsOptions`](crate::message::SmsOptions): a validity period and a
    /// message class per message.
    pub sms_options: bool,
    /// Sends 8-bit data with a header ([`BinarySms`](crate::message::BinarySms)).
    pub binary: bool,
    /// Sends from a sender chosen per message, a name or another number
    /// ([`OutgoingSms::sender`]); a SIM always sends from its own number.
    pub sender: bool,
}

#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    fn id(&self) -> &str;
    fn kind(&self) -> &'static str;
    /// Our number on this link, E.164.
    fn number(&self) -> &str;
    fn capabilities(&self) -> Capabilities;
    /// Starts the link's own tasks; inbound events go to `sink`.
    async fn start(self: Arc<Self>, sink: EventSink) -> Result<(), String>;
    /// Sends one message (split into parts by the link as needed).
    async fn send(&self, sms: &OutgoingSms) -> Result<Sent, SendError>;
    fn state(&self) -> LinkState;
    /// More about the state for people (operator, signal), if the link knows.
    fn details(&self) -> Option<String> {
        None
    }
    /// Sends a USSD code (`*100#`) or a reply in an open USSD session.
    async fn ussd(&self, _code: &str) -> Result<UssdAnswer, String> {
        Err(format!("{} links cannot send USSD codes", self.kind()))
    }
    /// Closes the link politely (unbind, logout).
    async fn stop(&self) {}
}

/// The network's answer to a USSD code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UssdAnswer {
    pub text: String,
    /// The network expects a reply (a menu).
    pub more: bool,
    /// The session state in words when there is no text ("not supported by the network").
    pub status: String,
}

/// Anything a link receives, for [`EventSink::once`].
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    Sms(ReceivedSms),
    Part(IncomingPart),
    WapPush(WapPush),
    Report(DeliveryReport),
}

/// Where a link hands over what it received. Cheap to clone.
#[derive(Clone)]
pub struct EventSink {
    backend_id: Arc<str>,
    store: Store,
    inbox_wake: Arc<Notify>,
    states: mpsc::UnboundedSender<(String, LinkState)>,
    warnings: Option<mpsc::UnboundedSender<(String, String)>>,
}

impl EventSink {
    pub fn new(
        backend_id: &str,
        store: Store,
        inbox_wake: Arc<Notify>,
        states: mpsc::UnboundedSender<(String, LinkState)>,
    ) -> EventSink {
        EventSink { backend_id: backend_id.into(), store, inbox_wake, states, warnings: None }
    }

    /// Where [`EventSink::warn`] goes: the owner's management room, in the bridge.
    pub fn with_warnings(mut self, warnings: mpsc::UnboundedSender<(String, String)>) -> EventSink {
        self.warnings = Some(warnings);
        self
    }

    /// Commits a received SMS; Ok means the link may acknowledge it. Returns the inbox id.
    pub fn sms(&self, sms: ReceivedSms) -> Result<i64, StoreError> {
        self.commit(InboxKind::Sms(sms))
    }

    /// Commits one part of a concatenated SMS; Ok means the link may acknowledge it. The
    /// message reaches the inbox when its last part arrives (or when waiting times out).
    pub fn sms_part(&self, part: IncomingPart) -> Result<Option<i64>, StoreError> {
        let done = self.store.add_sms_part(&self.backend_id, &part)?;
        if done.is_some() {
            self.inbox_wake.notify_one();
        }
        Ok(done)
    }

    /// Commits a WAP push (MMS notification); Ok means the link may acknowledge it.
    pub fn wap_push(&self, push: WapPush) -> Result<i64, StoreError> {
        self.commit(InboxKind::WapPush(push))
    }

    /// Commits a delivery report; Ok means the link may acknowledge it.
    pub fn report(&self, report: DeliveryReport) -> Result<i64, StoreError> {
        self.commit(InboxKind::Report(report))
    }

    /// Commits what a link read from storage it must delete itself, unless something with
    /// the same fingerprint was committed on this link before (a message read again after
    /// a crash between commit and delete, or stored twice by the modem). Ok(false) means
    /// seen before. Either way, the link may delete it now.
    pub fn once(&self, print: &str, what: Received) -> Result<bool, StoreError> {
        let id = &*self.backend_id;
        let done = self.store.once(id, print, |tx| match &what {
            Received::Sms(sms) => Store::insert_inbox_tx(tx, id, &InboxKind::Sms(sms.clone())).map(|_| ()),
            Received::WapPush(p) => Store::insert_inbox_tx(tx, id, &InboxKind::WapPush(p.clone())).map(|_| ()),
            Received::Report(r) => Store::insert_inbox_tx(tx, id, &InboxKind::Report(r.clone())).map(|_| ()),
            Received::Part(p) => Store::add_sms_part_tx(tx, id, p).map(|_| ()),
        })?;
        if done.is_some() {
            self.inbox_wake.notify_one();
        }
        Ok(done.is_some())
    }

    /// The oldest message sent to a recipient (ids starting `prefix`) in the last three
    /// days still waiting for its delivery report, other than `skip`; see
    /// [`Store::awaiting_report`].
    pub fn awaiting_report(&self, prefix: &str, skip: &[String]) -> Result<Option<String>, StoreError> {
        const WINDOW_MS: i64 = 3 * 24 * 3600 * 1000;
        self.store.awaiting_report(&self.backend_id, prefix, skip, crate::store::now_ms() - WINDOW_MS)
    }

    fn commit(&self, item: InboxKind) -> Result<i64, StoreError> {
        let id = self.store.insert_inbox(&self.backend_id, &item)?;
        self.inbox_wake.notify_one();
        Ok(id)
    }

    /// Something the link's owner should act on while the link still works (the
    /// router's storage is full, say). Logged; the bridge also posts it to the management
    /// room. The link says it once per occurrence, not on every poll.
    pub fn warn(&self, text: &str) {
        tracing::warn!(backend = %self.backend_id, "{text}");
        if let Some(w) = &self.warnings {
            let _ = w.send((self.backend_id.to_string(), text.to_string()));
        }
    }

    /// Tells the core the link went up or down.
    pub fn state(&self, state: LinkState) {
        let _ = self.states.send((self.backend_id.to_string(), state));
    }
}

/// The first `octets` of the SHA-256 of `bytes`, in hex: the links' fingerprints of what
/// they received and names of what they wrote. (Stored prints depend on it staying so.)
pub(crate) fn short_hash(bytes: &[u8], octets: usize) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref()[..octets].iter().map(|b| format!("{b:02x}")).collect()
}
