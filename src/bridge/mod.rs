//! The bridge core: portals, ghosts, relaying both ways, commands and status feedback.
//! It reaches Matrix only through [`MatrixApi`] and links only through [`Backend`].

mod apps;
mod audit;
mod callbacks;
mod commands;
mod dead;
mod events;
mod failpoint;
pub mod gateway;
mod health;
mod inbound;
mod keyed_lock;
mod management;
mod matrix_out;
mod media;
mod mms_in;
mod mms_job;
mod mms_out;
mod outbound;
pub mod policy;
mod policy_cmds;
mod portals;
mod questions;
mod redact;
mod retry;
mod rooms;
mod schedule;
mod sent_counts;
mod services;
pub mod status;
pub mod text;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use crate::backend::{Backend, EventSink, LinkState};
use crate::config::{Config, Permission};
use crate::matrix::{MatrixApi, MatrixError};
use crate::store::{Queue, Store, StoreError};
use keyed_lock::KeyedLock;
pub use retry::Class;
pub(crate) use retry::{Attempt, Failed, GiveUp};

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("homeserver: {0}")]
    Matrix(#[from] MatrixError),
    #[error("{0}")]
    Other(String),
    /// Not possible yet, maybe later (e.g. a delivery report racing the record of its send).
    #[error("{0}")]
    NotYet(String),
}

impl BridgeError {
    /// Whether a later attempt may succeed.
    pub fn is_transient(&self) -> bool {
        self.class() == Class::Transient
    }

    pub fn class(&self) -> Class {
        match self {
            BridgeError::Matrix(e) if e.is_transient() => Class::Transient,
            BridgeError::Matrix(e) if e.is_permanent() => Class::Permanent,
            BridgeError::Matrix(_) => Class::Unknown,
            // A row that cannot be read will not read better later.
            BridgeError::Store(StoreError::Json { .. }) => Class::Permanent,
            BridgeError::Store(_) => Class::Transient,
            BridgeError::Other(_) => Class::Permanent,
            BridgeError::NotYet(_) => Class::Unknown,
        }
    }

    /// The homeserver could not be reached or failed (not a 429: a rate limit is not an
    /// outage, and waking everything would ignore its `retry_after_ms`).
    pub(crate) fn homeserver_away(&self) -> bool {
        matches!(self, BridgeError::Matrix(e) if e.status.is_none_or(|s| s >= 500))
    }

    /// How long the peer asked us to wait (a homeserver's 429).
    fn retry_after_ms(&self) -> Option<u64> {
        match self {
            BridgeError::Matrix(e) => e.retry_after_ms,
            _ => None,
        }
    }
}

/// Wakes the workers when new work is committed.
#[derive(Default)]
pub struct Wakers {
    pub matrix_in: Notify,
    /// One per backend, so waking one link's sender never steals another's wake-up.
    pub outbox: BTreeMap<String, Notify>,
    pub inbox: Arc<Notify>,
    pub matrix_out: Arc<Notify>,
    pub mms: Arc<Notify>,
    pub mms_out: Arc<Notify>,
    /// Applications' messages changed state.
    pub api: Arc<Notify>,
    pub callbacks: Arc<Notify>,
    pub questions: Arc<Notify>,
    /// Something came in: the applications' side goes first.
    pub apps: Arc<Notify>,
    pub services: Arc<Notify>,
}

pub struct Bridge {
    pub config: Config,
    pub store: Store,
    pub matrix: Arc<dyn MatrixApi>,
    pub backends: BTreeMap<String, Arc<dyn Backend>>,
    pub wake: Wakers,
    bot: String,
    ghosts: Mutex<HashSet<String>>,
    /// Portal creation, per conversation (see `portals.rs`).
    portal_locks: KeyedLock,
    room_version: Mutex<Option<String>>,
    health: health::Health,
    /// Callbacks to applications (dlr-url, callback_url, webhooks) and services' URLs.
    callbacks_http: reqwest::Client,
    /// Keyword services (Kannel's sms-service), from `services:`.
    services: crate::gateway::keywords::Services,
    /// What links took for each number lately, for the per-number caps.
    sent: sent_counts::SentCounts,
    /// Whether any link has a cap (else nothing is counted).
    counting_caps: bool,
    /// The MQTT broker connection, once started (`mqtt:`).
    mqtt: std::sync::OnceLock<crate::gateway::mqtt::Mqtt>,
    /// One pass of the applications' side at a time (see `apps.rs`).
    apps_pass: tokio::sync::Mutex<()>,
}

impl Bridge {
    pub fn new(
        config: Config,
        store: Store,
        matrix: Arc<dyn MatrixApi>,
        backends: Vec<Arc<dyn Backend>>,
    ) -> Arc<Bridge> {
        let wake = Wakers {
            outbox: backends.iter().map(|b| (b.id().to_string(), Notify::new())).collect(),
            ..Wakers::default()
        };
        let services = crate::gateway::keywords::Services::new(&config.services);
        let counting_caps = config.policy.any_caps();
        let sent = if counting_caps {
            let since = crate::store::now_ms() - sent_counts::DAY_MS;
            let taken = store.claims_since(since).unwrap_or_else(|e| {
                tracing::error!(error = %e, "could not count the messages sent lately; the caps count from now");
                Vec::new()
            });
            let lifted = store.cap_lifts().unwrap_or_else(|e| {
                tracing::error!(error = %e, "could not read the numbers whose caps are lifted");
                Vec::new()
            });
            sent_counts::SentCounts::seeded(taken, lifted.into_iter().map(|(number, _)| number))
        } else {
            sent_counts::SentCounts::default()
        };
        store.set_audit(crate::store::AuditSettings::from_config(&config));
        Arc::new(Bridge {
            services,
            sent,
            counting_caps,
            mqtt: std::sync::OnceLock::new(),
            apps_pass: tokio::sync::Mutex::new(()),
            bot: config.bot_mxid(),
            config,
            store,
            matrix,
            backends: backends.into_iter().map(|b| (b.id().to_string(), b)).collect(),
            wake,
            ghosts: Mutex::default(),
            portal_locks: KeyedLock::default(),
            room_version: Mutex::default(),
            health: health::Health::default(),
            callbacks_http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client"),
        })
    }

    pub fn bot(&self) -> &str {
        &self.bot
    }

    /// Who a link's new conversations belong to; None for a link not in the config.
    pub(crate) fn link_owner(&self, backend_id: &str) -> Option<String> {
        self.config.backends.iter().find(|b| b.id == backend_id).map(|b| b.owner(&self.config.bridge))
    }

    pub fn permission(&self, user_id: &str) -> Permission {
        self.config.bridge.permission(user_id)
    }

    /// Whether a user ID is the bot or one of our ghosts (their events are ours: ignore them).
    pub fn is_ours(&self, user_id: &str) -> bool {
        if user_id == self.bot {
            return true;
        }
        let Some((local, server)) = user_id.trim_start_matches('@').split_once(':') else { return false };
        server == self.config.homeserver.domain && self.config.appservice.key_from_localpart(local).is_some()
    }

    /// Records an appservice transaction (see [`Store::accept_transaction`]) and wakes the
    /// event worker. Returns false if it was a retry of one already accepted.
    pub fn accept_transaction(&self, txn_id: &str, events: &[Value]) -> Result<bool, StoreError> {
        let keep: Vec<(String, String, String)> = events
            .iter()
            .filter(|e| self.wants(e))
            .filter_map(|e| Some((e["event_id"].as_str()?.into(), e["room_id"].as_str()?.into(), e.to_string())))
            .collect();
        let fresh = self.store.accept_transaction(txn_id, &keep)?;
        // The homeserver sending us a transaction is back, whatever our requests saw.
        self.matrix_answered();
        if fresh && !keep.is_empty() {
            self.wake.matrix_in.notify_one();
        }
        Ok(fresh)
    }

    /// Events worth storing: messages and invites from others. Our own echoes are dropped
    /// here, or every message we send would come back as a new one.
    fn wants(&self, e: &Value) -> bool {
        let sender = e["sender"].as_str().unwrap_or("");
        match e["type"].as_str() {
            Some("m.room.message" | "m.room.encrypted") => !self.is_ours(sender),
            Some("m.room.member") if !self.is_ours(sender) => match e["content"]["membership"].as_str() {
                Some("invite") => e["state_key"].as_str().is_some_and(|k| self.is_ours(k)),
                // Owners leaving, kicked, banned or back; our ghosts kicked.
                Some("leave" | "ban" | "join") => true,
                _ => false,
            },
            Some("m.room.redaction") => !self.is_ours(sender),
            _ => false,
        }
    }

    /// Starts the links and the workers. The appservice HTTP server must already listen,
    /// since the homeserver calls it during the ping.
    /// Runs the worker that sends a link's outbox, as [`Bridge::start`] does (tests that
    /// step the other workers run it to see the link's pace).
    pub fn spawn_outbox(self: &Arc<Self>, backend: Arc<dyn Backend>) -> JoinHandle<()> {
        tokio::spawn(outbound::run(self.clone(), backend))
    }

    pub async fn start(self: &Arc<Self>) -> Result<Vec<JoinHandle<()>>, BridgeError> {
        let resent = self.store.recover()?;
        if resent > 0 {
            tracing::warn!(resent, "messages that were being sent when the bridge stopped will be sent again");
        }
        self.wait_for_homeserver().await;
        self.matrix.register(&self.config.appservice.bot.username).await?;
        self.matrix.set_displayname(&self.bot, &self.config.appservice.bot.displayname).await?;
        match self.matrix.ping(&self.config.appservice.id).await {
            Ok(()) => tracing::info!("homeserver ping succeeded: it can reach the bridge"),
            Err(e) => tracing::error!(
                error = %e,
                "the homeserver cannot reach the bridge at {}; check appservice.address and the registration",
                self.config.appservice.address
            ),
        }
        let version = self.matrix.default_room_version().await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not read the default room version; assuming 12");
            "12".into()
        });
        *self.room_version.lock().unwrap() = Some(version);

        let (state_tx, state_rx) = mpsc::unbounded_channel();
        let (warn_tx, warn_rx) = mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        for b in self.backends.values() {
            let sink = EventSink::new(b.id(), self.store.clone(), self.wake.apps.clone(), state_tx.clone())
                .with_warnings(warn_tx.clone());
            b.clone().start(sink).await.map_err(|e| BridgeError::Other(format!("backend {}: {e}", b.id())))?;
            tasks.push(self.spawn_outbox(b.clone()));
        }
        tasks.push(tokio::spawn(events::run(self.clone())));
        tasks.push(tokio::spawn(apps::run(self.clone())));
        tasks.push(tokio::spawn(services::run(self.clone())));
        tasks.push(tokio::spawn(inbound::run(self.clone())));
        tasks.push(tokio::spawn(matrix_out::run(self.clone())));
        tasks.push(tokio::spawn(mms_in::run(self.clone())));
        tasks.push(tokio::spawn(mms_out::run(self.clone())));
        tasks.push(tokio::spawn(self.clone().watch_links(state_rx)));
        tasks.push(tokio::spawn(self.clone().watch_warnings(warn_rx)));
        if self.config.gateway.is_some() || self.config.mqtt.is_some() {
            tasks.push(tokio::spawn(gateway::run_changes(self.clone())));
            tasks.push(tokio::spawn(callbacks::run(self.clone())));
            tasks.push(tokio::spawn(questions::run(self.clone())));
        }
        if self.config.mqtt.is_some() {
            tasks.push(tokio::spawn(gateway::run_mqtt(self.clone())));
        }
        tasks.push(tokio::spawn(self.clone().housekeeping()));
        tasks.push(tokio::spawn(self.clone().probe_homeserver()));
        tracing::info!(backends = self.backends.len(), "bridge started");
        Ok(tasks)
    }

    /// Retries `/versions` with backoff until the homeserver answers.
    async fn wait_for_homeserver(&self) {
        let mut delay = Duration::from_millis(500);
        loop {
            match self.matrix.versions().await {
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "homeserver {} not reachable yet; retrying in {delay:?}", self.config.homeserver.address);
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    /// Wakes the sender of one backend.
    pub(crate) fn wake_outbox(&self, backend_id: &str) {
        if let Some(n) = self.wake.outbox.get(backend_id) {
            n.notify_one();
        }
    }

    pub(crate) fn room_version(&self) -> String {
        self.room_version.lock().unwrap().clone().unwrap_or_else(|| "12".into())
    }

    /// Link state changes are told to the owners' management rooms.
    async fn watch_links(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<(String, LinkState)>) {
        let mut last: BTreeMap<String, LinkState> = BTreeMap::new();
        while let Some((id, state)) = rx.recv().await {
            let previous = last.insert(id.clone(), state.clone());
            tracing::info!(backend = %id, %state, "link state");
            if state == LinkState::Connected {
                self.link_answered(&id);
            }
            if self.config.mqtt.is_some() {
                let body = serde_json::to_string(&state).unwrap_or_default();
                let url = format!("mqtt-retained:{}", crate::gateway::mqtt::link_state_topic(&id));
                let cb = crate::store::NewCallback { url: &url, body: Some(&body), signer: None, key: None };
                if self.store.tx(|tx| Store::enqueue_callback_tx(tx, &cb)).is_ok() {
                    self.wake.callbacks.notify_one();
                }
            }
            // The first "connected" after start is not news.
            let news = match &previous {
                None => state != LinkState::Connected && state != LinkState::Starting,
                Some(p) => *p != state,
            };
            if !news {
                continue;
            }
            self.tell_link_owner(&id, &format!("Link {id} is now {state}."));
        }
    }

    /// Warnings from links (storage full, say) go to the owners' management rooms.
    async fn watch_warnings(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<(String, String)>) {
        while let Some((id, text)) = rx.recv().await {
            self.tell_link_owner(&id, &format!("⚠️ Link {id}: {text}"));
        }
    }

    fn tell_link_owner(&self, id: &str, body: &str) {
        let Some(owner) = self.link_owner(id) else { return };
        if let Ok(Some(room)) = self.store.management_room(&owner) {
            let r = self.store.tx(|tx| {
                Store::enqueue_matrix(tx, &room, &self.bot, "message", "m.room.message", &status::notice(body))
            });
            if r.is_ok() {
                self.wake.matrix_out.notify_one();
            }
        }
    }

    async fn housekeeping(self: Arc<Self>) {
        const DAY: i64 = 24 * 3600 * 1000;
        let mut tick = 0u64;
        loop {
            // Long SMS whose missing parts never came are shown with the gaps marked.
            let timeout = self.config.sms.multipart_timeout as i64 * 1000;
            match self.store.expire_sms_parts(crate::store::now_ms() - timeout) {
                Ok(ids) if !ids.is_empty() => {
                    tracing::warn!(messages = ids.len(), "delivering long SMS with missing parts after the timeout");
                    self.wake.inbox.notify_one();
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "could not expire waiting SMS parts"),
            }
            // Parts of long SMS already shown are recognised for twice the wait for parts.
            let _ = self.store.prune_sms_done(crate::store::now_ms() - 2 * timeout);
            if tick.is_multiple_of(120) {
                let days = self.config.database.retention_days;
                let retention = (days > 0).then_some(days as i64 * DAY);
                match self.store.prune(retention) {
                    Ok(p) if p.rows > 0 => tracing::info!(rows = p.rows, "pruned old history"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not prune old history"),
                }
                match self.prune_audit() {
                    Ok(n) if n > 0 => tracing::info!(rows = n, "pruned old audit records"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not prune old audit records"),
                }
            }
            tick += 1;
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    }

    /// Sends one message of a job that sends several (an MMS's parts), recording its
    /// event id by transaction id in its own commit: a retry hours later, when the
    /// homeserver has long forgotten the transaction id, skips it instead of posting it
    /// twice.
    pub(crate) async fn send_once(
        &self,
        portal: &mut crate::store::Portal,
        remote: &crate::phone::Address,
        post: &rooms::GhostPost<'_>,
    ) -> Result<String, BridgeError> {
        if let Some(ev) = self.store.sent_event(post.txn)? {
            return Ok(ev);
        }
        let ev = self.send_as_ghost(portal, remote, post).await?;
        self.store.record_sent_event(post.txn, &ev)?;
        Ok(ev)
    }

    /// Queues a notice from the bot.
    pub(crate) fn notice_tx(&self, tx: &rusqlite::Transaction, room_id: &str, body: &str) -> Result<(), StoreError> {
        // An application's message has no room of its own: it is told through the gateway.
        if room_id.is_empty() {
            return Ok(());
        }
        Store::enqueue_matrix(tx, room_id, &self.bot, "message", "m.room.message", &status::notice(body)).map(|_| ())
    }

    /// Queues a status event about a relayed message, if enabled.
    pub(crate) fn status_tx(
        &self,
        tx: &rusqlite::Transaction,
        room_id: &str,
        event_id: &str,
        update: status::Update,
    ) -> Result<(), StoreError> {
        if !self.config.matrix.message_status_events || room_id.is_empty() {
            return Ok(());
        }
        let content = status::status_content(event_id, &update);
        Store::enqueue_matrix(tx, room_id, &self.bot, "message", status::STATUS_EVENT, &content).map(|_| ())
    }

    /// (waiting, dead) of the outbox, the inbox and the Matrix updates, for the benchmarks.
    pub fn queue_counts(&self) -> Result<[(i64, i64); 3], StoreError> {
        let c = |q| Ok::<_, StoreError>((self.store.waiting(q)?, self.store.dead(q)?));
        Ok([c(Queue::Outbox)?, c(Queue::Inbox)?, c(Queue::MatrixOut)?])
    }
}

/// Shared worker loop: run `step` until it reports no more work, then sleep until woken
/// or until the next retry is due (polling at least every `max_sleep`).
pub(crate) async fn work_loop<F, Fut>(name: &str, wake: &Notify, max_sleep: Duration, mut step: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, BridgeError>>,
{
    loop {
        match step().await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => tracing::error!(worker = name, error = %e, "worker step failed; will retry"),
        }
        let _ = tokio::time::timeout(max_sleep, wake.notified()).await;
    }
}
