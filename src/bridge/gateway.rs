//! Messages applications send through the gateway: queued like a Matrix message (same
//! outbox, same retries), shown in the conversation's portal, and each change of state
//! told back to the application (Kannel's dlr-url, the JSON API's callback) through a
//! durable queue of callbacks, signed and retried.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

pub use super::callbacks::sign;
use super::{Bridge, BridgeError};
use crate::config::GatewayUser;
use crate::gateway::kannel::{Dlr, dlr_mask, expand_dlr_url};
use crate::message::{AppSent, BinarySms};
use crate::phone::Address;
use crate::store::{ApiMessage, InboxKind, NewApiMessage, NewCallback, NewOutJob, Portal, Store, now_ms};

/// One message an application asks to send.
#[derive(Debug, Clone, Default)]
pub struct ApiSend {
    /// A link id; None: the user's default, or the only link.
    pub link: Option<String>,
    pub to: String,
    pub text: String,
    pub dlr_mask: u8,
    pub dlr_url: Option<String>,
    pub callback_url: Option<String>,
    pub client_ref: Option<String>,
    /// Our number to send from, when not the link's own (one of its `numbers`).
    pub from: Option<String>,
    /// Unix milliseconds before which it is not sent.
    pub not_before: Option<i64>,
    /// Unix milliseconds after which the network gives it up (its validity period).
    pub valid_until: Option<i64>,
    /// Message class 0-3.
    pub class: Option<u8>,
    /// 8-bit data sent instead of `text` (one SMS; `text` is left empty).
    pub binary: Option<BinarySms>,
}

/// A message checked by [`Bridge::prepare_app`], ready to commit.
#[derive(Debug, Clone)]
pub(super) struct AppMessage {
    by: String,
    link: String,
    req: ApiSend,
    event_id: String,
    tracked: bool,
    /// The question it asks.
    pub question: Option<i64>,
    /// Who sent it, for the audit log (`api:<user>`, `service:<name>`, `mqtt`).
    origin: String,
    /// A keyword service's reply: the keyword it answers.
    pub keyword: Option<String>,
    portal_id: i64,
    /// Our number it leaves from, and whether that is not the link's own.
    local: String,
    sender: Option<String>,
    destination: String,
    expires_at: i64,
    parts: usize,
    encoding: &'static str,
    /// The text, or what stands for 8-bit data in the portal and the API.
    shown: String,
}

/// What [`Bridge::queue_app_tx`] committed.
pub(super) struct QueuedApp {
    /// The API message (0 when not tracked).
    pub api_id: i64,
    /// The inbox item that shows it in the portal.
    pub copy_inbox: i64,
}

/// The longest validity period an SMS can carry (TP-VP's 63 weeks).
pub const MAX_VALIDITY_MINUTES: u32 = 635_040;

impl ApiSend {
    /// Sets when it goes (Unix ms; None or past: now) and how long the network may keep
    /// trying, counted from then.
    pub fn schedule(mut self, send_at_ms: Option<i64>, validity_minutes: Option<u32>) -> Result<ApiSend, SubmitError> {
        let now = now_ms();
        if let Some(at) = send_at_ms
            && at > now + 366 * 24 * 3600 * 1000
        {
            return Err(SubmitError::Refused("a message can be scheduled at most a year ahead".into()));
        }
        self.not_before = send_at_ms.filter(|at| *at > now);
        if let Some(m) = validity_minutes {
            if !(1..=MAX_VALIDITY_MINUTES).contains(&m) {
                return Err(SubmitError::Refused(format!(
                    "a validity of {m} minutes (expected 1 to {MAX_VALIDITY_MINUTES})"
                )));
            }
            self.valid_until = Some(self.not_before.unwrap_or(now) + m as i64 * 60_000);
        }
        Ok(self)
    }
}

/// Committed: the application may be told "accepted".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub id: i64,
    pub link: String,
    pub parts: usize,
    pub encoding: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The request cannot be sent as it is (no such link, not a number, too long).
    #[error("{0}")]
    Refused(String),
    /// The user may not use this link.
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Bridge(#[from] BridgeError),
}

impl From<crate::store::StoreError> for SubmitError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Refused(why) => SubmitError::Refused(why),
            e => SubmitError::Bridge(e.into()),
        }
    }
}

impl Bridge {
    /// Queues a message from an application; Ok once it is committed.
    pub fn submit(&self, user: &GatewayUser, req: &ApiSend) -> Result<Submitted, SubmitError> {
        self.submit_as(user, req, &format!("api:{:016x}", rand::random::<u64>()))
    }

    /// Queues several messages (one per recipient) in one commit: all or none. Every one
    /// is checked before any is committed.
    pub fn submit_all(&self, user: &GatewayUser, reqs: &[ApiSend]) -> Result<Vec<Submitted>, SubmitError> {
        let mut apps = Vec::with_capacity(reqs.len());
        for req in reqs {
            let link = self.user_link(user, req.link.as_deref())?;
            let event_id = format!("api:{:016x}", rand::random::<u64>());
            let origin = format!("api:{}", user.username);
            apps.push(self.prepare_app(&user.username, &link, req, &event_id, true, &origin)?);
        }
        let mut refused = None;
        let ids = self.store.tx(|tx| {
            apps.iter()
                .map(|app| {
                    self.within_caps_tx(tx, app).inspect_err(|_| refused = Some(app))?;
                    Ok(self.queue_app_tx(tx, app)?.map_or(0, |q| q.api_id))
                })
                .collect::<Result<Vec<_>, _>>()
        });
        let ids = match (ids, refused) {
            (Err(e), Some(app)) => return Err(self.refusal_recorded(app, Err(e)).unwrap_err()),
            (ids, _) => ids?,
        };
        Ok(apps.iter().zip(ids).map(|(app, id)| self.queued(app, id)).collect())
    }

    /// The cap checked again in the commit that queues `app`: requests that passed the
    /// check in `prepare_app` together cannot all go past it.
    fn within_caps_tx(&self, tx: &rusqlite::Transaction, app: &AppMessage) -> Result<(), crate::store::StoreError> {
        match self.cap_refusal(Some(tx), &app.link, &app.destination)? {
            Some(why) => Err(crate::store::StoreError::Refused(why)),
            None => Ok(()),
        }
    }

    /// A commit's outcome, a cap's refusal recorded in the audit log (in a commit of its
    /// own: the refused one was rolled back).
    fn refusal_recorded(
        &self,
        app: &AppMessage,
        committed: Result<i64, crate::store::StoreError>,
    ) -> Result<i64, SubmitError> {
        match committed {
            Err(crate::store::StoreError::Refused(why)) => {
                self.store.audit_refused(&app.link, &app.local, &app.destination, &app.origin, &app.shown, &why)?;
                Err(SubmitError::Refused(format!("not sent: {why}")))
            }
            other => Ok(other?),
        }
    }

    /// Whether a link is connected and can carry messages now.
    pub fn link_up(&self, link: &str) -> bool {
        self.backends.get(link).is_some_and(|b| b.state() == crate::backend::LinkState::Connected)
    }

    /// The link a user's request goes through: the one named, the user's default, or the
    /// only one; refused when unknown or not the user's to use.
    pub fn user_link(&self, user: &GatewayUser, named: Option<&str>) -> Result<String, SubmitError> {
        let link = match named.or(user.default_link.as_deref()) {
            Some(l) => l.to_string(),
            None if self.backends.len() == 1 => self.backends.keys().next().cloned().unwrap_or_default(),
            None => return Err(SubmitError::Refused("name the link to send through (smsc= or via)".into())),
        };
        if !self.backends.contains_key(&link) {
            return Err(SubmitError::Refused(format!("no link {link:?}")));
        }
        if !user.may_use(&link) {
            return Err(SubmitError::Forbidden(format!("{} may not send through {link}", user.username)));
        }
        Ok(link)
    }

    /// [`Bridge::submit`] under a name the client chose: the same name again is not queued
    /// again (a request redelivered by the broker).
    pub fn submit_as(&self, user: &GatewayUser, req: &ApiSend, event_id: &str) -> Result<Submitted, SubmitError> {
        self.submit_from(user, req, event_id, &format!("api:{}", user.username))
    }

    /// [`Bridge::submit_as`], recorded in the audit log as sent by `origin`.
    fn submit_from(
        &self,
        user: &GatewayUser,
        req: &ApiSend,
        event_id: &str,
        origin: &str,
    ) -> Result<Submitted, SubmitError> {
        let link = self.user_link(user, req.link.as_deref())?;
        self.queue_app(&user.username, &link, req, event_id, true, origin)
    }

    /// Queues a message an application or a service sends on `link`, with a copy for the
    /// portal; `event_id` names it in the outbox (a repeat is not queued twice), and
    /// `tracked` makes it an API message whose states are told back.
    pub(super) fn queue_app(
        &self,
        by: &str,
        link: &str,
        req: &ApiSend,
        event_id: &str,
        tracked: bool,
        origin: &str,
    ) -> Result<Submitted, SubmitError> {
        let app = self.prepare_app(by, link, req, event_id, tracked, origin)?;
        let id = self.store.tx(|tx| {
            self.within_caps_tx(tx, &app)?;
            Ok(self.queue_app_tx(tx, &app)?.map_or(0, |q| q.api_id))
        });
        Ok(self.queued(&app, self.refusal_recorded(&app, id)?))
    }

    /// Checks a message an application sends and finds its portal: everything that can
    /// refuse it before anything is committed (a refusal by policy is recorded in the
    /// audit log, as sent by `origin`). The caps count only what links took here: those
    /// waiting count in the commit that queues it (`within_caps_tx`) or at its claim.
    pub(super) fn prepare_app(
        &self,
        by: &str,
        link: &str,
        req: &ApiSend,
        event_id: &str,
        tracked: bool,
        origin: &str,
    ) -> Result<AppMessage, SubmitError> {
        let plan = self.checked(link, req, false);
        if let Some(why) = plan.refusal {
            if let Some(rule) = &plan.rule {
                let text = req.binary.as_ref().map_or_else(|| req.text.clone(), BinarySms::describe);
                self.store.audit_refused(link, &plan.from, &plan.to, origin, &text, rule)?;
            }
            return Err(SubmitError::Refused(why));
        }
        let to = Address::parse_cached(req.to.trim(), self.config.bridge.default_region.as_deref());
        let (destination, encoding, parts, local) = (plan.to, plan.encoding, plan.parts, plan.from);
        let owner = self.link_owner(link).unwrap_or_default();
        let portal = self.store.claim_portal(&Portal {
            id: 0,
            local_number: local.clone(),
            remote_key: to.key.clone(),
            remote_display: to.display.clone(),
            remote_destination: to.destination.clone(),
            backend_id: link.to_string(),
            owner,
            room_id: None,
            owner_left: false,
            generation: 0,
        })?;
        let start = req.not_before.unwrap_or(0).max(now_ms());
        let mut expires_at = start + self.config.bridge.outbound_expiry as i64 * 1000;
        if let Some(until) = req.valid_until {
            // Not worth trying once the network would drop it.
            expires_at = expires_at.min(until);
        }
        Ok(AppMessage {
            by: by.to_string(),
            link: link.to_string(),
            req: req.clone(),
            event_id: event_id.to_string(),
            tracked,
            question: None,
            origin: origin.to_string(),
            keyword: None,
            portal_id: portal.id,
            sender: self.backends.get(link).is_some_and(|b| b.number() != local).then(|| local.clone()),
            local,
            destination,
            expires_at,
            parts,
            encoding,
            shown: req.binary.as_ref().map_or_else(|| req.text.clone(), BinarySms::describe),
        })
    }

    /// Commits a prepared message: the outbox job, the copy for the portal and, if
    /// tracked, the API message. None if it was queued before (a service's reply to an SMS
    /// handled again after a crash).
    pub(super) fn queue_app_tx(
        &self,
        tx: &rusqlite::Transaction,
        app: &AppMessage,
    ) -> Result<Option<QueuedApp>, crate::store::StoreError> {
        let req = &app.req;
        let job = NewOutJob {
            portal_id: app.portal_id,
            backend_id: &app.link,
            room_id: "",
            event_id: &app.event_id,
            destination: &app.destination,
            body: &app.shown,
            expires_at: app.expires_at,
            sender: app.sender.as_deref(),
            not_before: req.not_before,
            valid_until: req.valid_until,
            class: req.class,
            binary: req.binary.as_ref(),
            audit: crate::store::OutAudit {
                origin: &app.origin,
                keyword: app.keyword.as_deref(),
                parts: app.parts,
                encoding: app.encoding,
            },
        };
        let Some(outbox_id) = Store::enqueue_out(tx, &job)? else {
            return Ok(None);
        };
        let copy = AppSent {
            from: app.local.clone(),
            to: app.destination.clone(),
            text: app.shown.clone(),
            by: app.by.clone(),
            not_before: req.not_before,
            question: app.question,
        };
        let copy_inbox = Store::insert_inbox_tx(tx, &app.link, &InboxKind::AppSent(copy))?;
        let mut api_id = 0;
        if app.tracked {
            api_id = Store::insert_api_message_tx(
                tx,
                &NewApiMessage {
                    user: &app.by,
                    backend_id: &app.link,
                    destination: &app.destination,
                    body: &app.shown,
                    outbox_id,
                    dlr_mask: req.dlr_mask,
                    dlr_url: req.dlr_url.as_deref(),
                    callback_url: req.callback_url.as_deref(),
                    client_ref: req.client_ref.as_deref(),
                },
            )?;
        }
        Ok(Some(QueuedApp { api_id, copy_inbox }))
    }

    /// After the commit: wakes the workers; what the application is told.
    pub(super) fn queued(&self, app: &AppMessage, id: i64) -> Submitted {
        self.wake_outbox(&app.link);
        self.wake.inbox.notify_one();
        tracing::info!(api = id, by = %app.by, link = %app.link, to = %app.destination, "message from an application queued");
        Submitted { id, link: app.link.clone(), parts: app.parts, encoding: app.encoding }
    }

    /// Tells applications what became of their messages: each change of outbox state
    /// becomes the callbacks it asked for, in the commit that records it as told.
    pub async fn drain_api_changes(&self) -> Result<bool, BridgeError> {
        let changes = self.store.api_changes(100)?;
        let told = self.tell_api_changes(&changes);
        if told.is_err() {
            // The rows noted as changed were taken: compare them all again next time.
            self.store.recheck_api_changes();
        }
        told?;
        if !changes.is_empty() {
            self.wake.callbacks.notify_one();
        }
        Ok(changes.len() == 100)
    }

    /// The callbacks the changes owe, and the changes recorded as told, in one commit.
    fn tell_api_changes(&self, changes: &[(ApiMessage, String, Option<String>)]) -> Result<(), BridgeError> {
        // Whether the link took each message: a change seen late (queued → delivered)
        // still owes the "accepted by the SMSC" report before the final one.
        let mut taken = Vec::with_capacity(changes.len());
        for (m, _, _) in changes {
            taken.push(
                matches!(m.state.as_str(), "sent" | "delivered") || !self.store.api_parts(m.outbox_id)?.is_empty(),
            );
        }
        // One commit for the whole batch: each change is told at most once.
        self.store.tx(|tx| {
            for ((m, state, error), taken) in changes.iter().zip(&taken) {
                let told_taken = matches!(m.state.as_str(), "sent" | "delivered");
                Store::set_api_state_tx(tx, m.id, state)?;
                if let Some(url) = m.dlr_url.as_deref() {
                    for kind in dlr_kinds(state, *taken, told_taken) {
                        if m.dlr_mask & kind != 0 {
                            let dlr = self.dlr(m, kind, error.as_deref());
                            let url = expand_dlr_url(url, &dlr);
                            let cb = NewCallback { url: &url, body: None, signer: None, key: None };
                            Store::enqueue_callback_tx(tx, &cb)?;
                        }
                    }
                }
                if let Some(url) = m.callback_url.as_deref()
                    && state != "sending"
                {
                    // MQTT senders hear back on their message's own topic.
                    let topic;
                    let url = if url == "mqtt:status" {
                        let id = m.client_ref.clone().unwrap_or_else(|| m.id.to_string());
                        topic = format!("mqtt:{}", crate::gateway::mqtt::status_topic(&id));
                        topic.as_str()
                    } else {
                        url
                    };
                    let body = json!({
                        "id": m.id, "status": state, "to": m.destination, "via": m.backend_id,
                        "error": error, "client_ref": m.client_ref, "at": now_ms(),
                    })
                    .to_string();
                    let signer =
                        self.config.gateway.as_ref().and_then(|g| g.user(&m.user)).map(|u| u.username.as_str());
                    Store::enqueue_callback_tx(tx, &NewCallback { url, body: Some(&body), signer, key: None })?;
                }
            }
            Ok(())
        })?;
        Ok(())
    }

    fn dlr(&self, m: &ApiMessage, kind: u8, error: Option<&str>) -> Dlr {
        let sender = self.backends.get(&m.backend_id).map(|b| b.number().to_string()).unwrap_or_default();
        Dlr {
            kind,
            receiver: m.destination.clone(),
            sender,
            timestamp: now_ms() / 1000,
            smsc_id: m.backend_id.clone(),
            message_id: m.id.to_string(),
            answer: error.unwrap_or_default().to_string(),
            service: m.user.clone(),
            ..Dlr::default()
        }
    }
}

impl Bridge {
    /// Who wants to hear of something that came in on `link` between `ours` and `theirs`
    /// (empty: any number): the webhooks whose filters match, and MQTT's `topic`. None
    /// when nobody does.
    fn inbound_callbacks(&self, link: &str, ours: &str, theirs: &str, topic: &'static str) -> Option<InboundCallbacks> {
        let hooks = self.config.gateway.as_ref().map(|g| g.webhooks.as_slice()).unwrap_or_default();
        let region = self.config.bridge.default_region.as_deref();
        let same = |a: &str, b: &str| {
            !b.is_empty() && Address::parse_cached(a, region).key == Address::parse_cached(b, region).key
        };
        let webhooks: Vec<(usize, String)> = hooks
            .iter()
            .enumerate()
            .filter(|(_, w)| w.links.is_empty() || w.links.iter().any(|l| l == link))
            .filter(|(_, w)| w.numbers.is_empty() || w.numbers.iter().any(|n| same(n, ours) || same(n, theirs)))
            .map(|(i, w)| (i, w.url.clone()))
            .collect();
        let mqtt = self.config.mqtt.is_some().then_some(topic);
        (!webhooks.is_empty() || mqtt.is_some()).then_some(InboundCallbacks { webhooks, mqtt })
    }

    /// Tells applications about an MMS received: its text and links to its media, kept
    /// for them. Once per MMS, however often it is handled; before it is shown in Matrix,
    /// so applications do not wait on the homeserver.
    pub(super) fn tell_apps_mms(
        &self,
        job: &crate::store::MmsJob,
        m: &crate::mms::Message,
        sender: &str,
        caption: &str,
        media: &[&crate::mms::Part],
    ) -> Result<(), BridgeError> {
        let ours = self.portal_local(&job.backend_id, &job.recipient);
        let Some(tell) = self.inbound_callbacks(&job.backend_id, &ours, sender, "inbound") else { return Ok(()) };
        // Media are kept and linked only when the gateway is there to serve them.
        let base = self.config.gateway.as_ref().map(|g| g.base_url());
        self.store.tx(|tx| {
            let mut items = Vec::with_capacity(media.len());
            for (i, p) in media.iter().enumerate() {
                let content_type = p.content_type.essence().to_string();
                let name = crate::mms::safe_filename(p.name().unwrap_or(""), &format!("part{}", i + 1));
                let mut item = json!({ "content_type": content_type, "name": name, "size": p.data.len() });
                if let Some(base) = &base {
                    let (id, token) = Store::keep_media_tx(tx, job.id, i, &content_type, &name, &p.data)?;
                    item["url"] = json!(format!("{base}/api/v1/media/{id}/{token}"));
                }
                items.push(item);
            }
            let body = json!({
                "event": "mms", "id": job.id, "from": sender, "to": ours, "via": job.backend_id,
                "subject": m.subject, "text": caption, "media": items,
                "timestamp_ms": m.date.map(|d| (d as i64).saturating_mul(1000)),
            })
            .to_string();
            tell.enqueue_tx(tx, &format!("mms:{}", job.id), &body)
        })?;
        self.wake.callbacks.notify_one();
        Ok(())
    }

    /// Tells applications about something that came in, in the caller's commit: the
    /// webhooks that want it, and MQTT. Once per inbox item, however often it is handled.
    /// True if any callback was queued.
    pub(super) fn tell_apps_inbound_tx(
        &self,
        tx: &rusqlite::Transaction,
        item: &crate::store::InboxItem,
    ) -> Result<bool, crate::store::StoreError> {
        let (topic, body, ours, theirs) = match &item.item {
            InboxKind::Sms(sms) => {
                let ours = self.portal_local(&item.backend_id, &sms.to);
                let body = json!({
                    "event": "sms", "id": item.id, "from": sms.from, "to": ours, "text": sms.text,
                    "via": item.backend_id, "timestamp_ms": sms.timestamp_ms,
                });
                ("inbound", body, ours, sms.from.clone())
            }
            InboxKind::Report(r) => {
                let body = json!({
                    "event": "report", "id": item.id, "message_id": r.message_id, "status": r.status,
                    "detail": r.detail, "via": item.backend_id,
                });
                ("reports", body, String::new(), String::new())
            }
            _ => return Ok(false),
        };
        let Some(tell) = self.inbound_callbacks(&item.backend_id, &ours, &theirs, topic) else { return Ok(false) };
        tell.enqueue_tx(tx, &format!("in:{}", item.id), &body.to_string())?;
        Ok(true)
    }
}

/// The Kannel reports a change of state owes, in order: SMSC accepted (8) or rejected
/// (16), delivered (1) or not (2). `taken`: the link took the message; `told`: the
/// application already heard so.
fn dlr_kinds(state: &str, taken: bool, told: bool) -> Vec<u8> {
    let accepted = if taken && !told { vec![dlr_mask::SMSC_SUCCESS] } else { vec![] };
    let last = match state {
        "sent" => return accepted,
        "delivered" => dlr_mask::DELIVERED,
        "failed" | "dead" if taken => dlr_mask::FAILED,
        "failed" | "dead" => dlr_mask::SMSC_FAIL,
        _ => return vec![],
    };
    accepted.into_iter().chain([last]).collect()
}

pub(super) async fn run_changes(bridge: Arc<Bridge>) {
    let wake = bridge.wake.api.clone();
    super::work_loop("gateway", &wake, Duration::from_secs(1), || {
        let b = bridge.clone();
        async move { b.drain_api_changes().await }
    })
    .await
}

/// The MQTT side: connects, then takes send requests from `<prefix>/send`, acknowledging
/// each to the broker once it is committed.
pub async fn run_mqtt(bridge: Arc<Bridge>) {
    let Some(cfg) = &bridge.config.mqtt else { return };
    let (mqtt, mut commands) = match crate::gateway::mqtt::Mqtt::start(cfg) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "MQTT cannot start");
            return;
        }
    };
    let _ = bridge.mqtt.set(mqtt);
    bridge.wake.callbacks.notify_one();
    let user = GatewayUser {
        username: "mqtt".into(),
        password: None,
        token: None,
        secret: None,
        default_link: None,
        links: Vec::new(),
    };
    while let Some(cmd) = commands.recv().await {
        let r = &cmd.request;
        let req = ApiSend {
            link: r.via.clone(),
            from: r.from.clone(),
            to: r.to.clone(),
            text: r.text.clone(),
            callback_url: Some("mqtt:status".into()),
            client_ref: r.id.clone(),
            ..ApiSend::default()
        }
        .schedule(r.send_at().map(|t| t.as_millisecond()), r.validity_minutes);
        // With an id, a request the broker delivers again is not sent again.
        let event_id = match &r.id {
            Some(id) => format!("mqtt:{id}"),
            None => format!("api:{:016x}", rand::random::<u64>()),
        };
        // Acknowledged only once committed (the request, or the error told back); until
        // then it is tried again, and the requests behind it wait their turn.
        let mut pause = Duration::from_millis(200);
        loop {
            let submitted = match &req {
                Ok(req) => bridge.submit_from(&user, req, &event_id, "mqtt"),
                Err(e) => Err(SubmitError::Refused(e.to_string())),
            };
            let committed = match submitted {
                Ok(s) => {
                    tracing::info!(api = s.id, "MQTT send request queued");
                    Ok(())
                }
                Err(SubmitError::Bridge(e)) => Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "MQTT send request refused");
                    let body = json!({ "error": e.to_string(), "id": r.id, "to": r.to }).to_string();
                    let cb = NewCallback { url: "mqtt:errors", body: Some(&body), signer: None, key: None };
                    let told = bridge
                        .store
                        .tx(|tx| Store::enqueue_callback_tx(tx, &cb).map(|_| ()))
                        .map_err(BridgeError::from);
                    bridge.wake.callbacks.notify_one();
                    told
                }
            };
            match committed {
                Ok(()) => break,
                Err(e) => {
                    tracing::error!(error = %e, "could not commit an MQTT send request; will try again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(30));
                }
            }
        }
        cmd.ack.ack().await;
    }
}

/// The callbacks one inbound event makes.
struct InboundCallbacks {
    /// (index in `webhooks`, url)
    webhooks: Vec<(usize, String)>,
    /// The MQTT topic, if MQTT is on.
    mqtt: Option<&'static str>,
}

impl InboundCallbacks {
    /// Queues them, each at most once under `key`.
    fn enqueue_tx(&self, tx: &rusqlite::Transaction, key: &str, body: &str) -> Result<(), crate::store::StoreError> {
        for (i, url) in &self.webhooks {
            let (signer, key) = (format!("webhook:{i}"), format!("{key}:webhook:{i}"));
            let cb = NewCallback { url, body: Some(body), signer: Some(&signer), key: Some(&key) };
            Store::enqueue_callback_tx(tx, &cb)?;
        }
        if let Some(topic) = self.mqtt {
            let (url, key) = (format!("mqtt:{topic}"), format!("{key}:mqtt"));
            Store::enqueue_callback_tx(
                tx,
                &NewCallback { url: &url, body: Some(body), signer: None, key: Some(&key) },
            )?;
        }
        Ok(())
    }
}
