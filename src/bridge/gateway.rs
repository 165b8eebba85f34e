//! Messages applications send through the gateway: queued like a Matrix message (same
//! outbox, same retries), shown in the conversation's portal, and each change of state
//! told back to the application (Kannel's dlr-url, the JSON API's callback) through a
//! durable queue of callbacks, signed and retried.

use std::sync::Arc;
use std::time::Duration;

use ring::hmac;
use serde_json::json;

use super::{Bridge, BridgeError};
use crate::config::GatewayUser;
use crate::gateway::kannel::{Dlr, dlr_mask, expand_dlr_url};
use crate::message::AppSent;
use crate::phone::Address;
use crate::store::{ApiMessage, Callback, InboxKind, NewApiMessage, NewCallback, NewOutJob, Portal, Store, now_ms};

/// How long a callback is retried before it is given up (and kept, with its error).
const CALLBACK_WINDOW_MS: i64 = 3 * 24 * 3600 * 1000;

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
        SubmitError::Bridge(e.into())
    }
}

impl Bridge {
    /// Queues a message from an application; Ok once it is committed.
    pub fn submit(&self, user: &GatewayUser, req: &ApiSend) -> Result<Submitted, SubmitError> {
        self.submit_as(user, req, &format!("api:{:016x}", rand::random::<u64>()))
    }

    /// The link a user's request goes through: the one named, the user's default, or the
    /// only one; refused when unknown or not the user's to use.
    pub(super) fn user_link(&self, user: &GatewayUser, named: Option<&str>) -> Result<String, SubmitError> {
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
        let link = self.user_link(user, req.link.as_deref())?;
        self.queue_app(&user.username, &link, req, event_id, true)
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
    ) -> Result<Submitted, SubmitError> {
        let link = link.to_string();
        let Some(backend) = self.backends.get(&link) else {
            return Err(SubmitError::Refused(format!("no link {link:?}")));
        };
        if let Some(from) = &req.from
            && !self.number_pool(&link).contains(from)
        {
            return Err(SubmitError::Refused(format!("{from} is not one of the numbers of link {link}")));
        }
        let to = Address::parse_cached(req.to.trim(), self.config.bridge.default_region.as_deref());
        let Some(destination) = to.destination.clone() else {
            return Err(SubmitError::Refused(format!("{:?} is not a number SMS can go to", req.to)));
        };
        if req.text.is_empty() {
            return Err(SubmitError::Refused("the text is empty".into()));
        }
        let (encoding, _, ends) = crate::sms::split::split_buffer(&req.text, &self.config.sms.split_options())
            .map_err(|e| SubmitError::Refused(e.what))?;
        let owner = self.link_owner(&link).unwrap_or_default();
        let local = req.from.clone().unwrap_or_else(|| backend.number().to_string());
        let portal = self.store.claim_portal(&Portal {
            id: 0,
            local_number: local.clone(),
            remote_key: to.key.clone(),
            remote_display: to.display.clone(),
            remote_destination: to.destination.clone(),
            backend_id: link.clone(),
            owner,
            room_id: None,
            owner_left: false,
            generation: 0,
        })?;
        let id = self.store.tx(|tx| {
            let job = NewOutJob {
                portal_id: portal.id,
                backend_id: &link,
                room_id: "",
                event_id,
                destination: &destination,
                body: &req.text,
                expires_at: req.not_before.unwrap_or(0).max(now_ms())
                    + self.config.bridge.outbound_expiry as i64 * 1000,
                sender: (local != backend.number()).then_some(local.as_str()),
            };
            let Some(outbox_id) = Store::enqueue_out(tx, &job)? else {
                // Queued before (a service's reply to an SMS handled again after a crash).
                return Ok(0);
            };
            if let Some(at) = req.not_before {
                Store::defer_out_tx(tx, outbox_id, at)?;
            }
            let copy = AppSent { from: local.clone(), to: destination.clone(), text: req.text.clone(), by: by.into() };
            Store::insert_inbox_tx(tx, &link, &InboxKind::AppSent(copy))?;
            if !tracked {
                return Ok(0);
            }
            let id = Store::insert_api_message_tx(
                tx,
                &NewApiMessage {
                    user: by,
                    backend_id: &link,
                    destination: &destination,
                    body: &req.text,
                    outbox_id,
                    dlr_mask: req.dlr_mask,
                    dlr_url: req.dlr_url.as_deref(),
                    callback_url: req.callback_url.as_deref(),
                    client_ref: req.client_ref.as_deref(),
                },
            )?;
            Ok(id)
        })?;
        self.wake_outbox(&link);
        self.wake.inbox.notify_one();
        let encoding = match encoding {
            crate::sms::split::TextEncoding::Ucs2 => "ucs2",
            crate::sms::split::TextEncoding::EightBit => "8bit",
            crate::sms::split::TextEncoding::Gsm7(_) => "gsm7",
        };
        tracing::info!(api = id, %by, %link, to = %destination, "message from an application queued");
        Ok(Submitted { id, link, parts: ends.len(), encoding })
    }

    /// Tells applications what became of their messages: each change of outbox state
    /// becomes the callbacks it asked for, in the commit that records it as told.
    pub async fn drain_api_changes(&self) -> Result<bool, BridgeError> {
        let changes = self.store.api_changes(100)?;
        // Whether the link took each message: a change seen late (queued → delivered)
        // still owes the "accepted by the SMSC" report before the final one.
        let mut taken = Vec::with_capacity(changes.len());
        for (m, _, _) in &changes {
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
        if !changes.is_empty() {
            self.wake.callbacks.notify_one();
        }
        Ok(changes.len() == 100)
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

    /// Makes the callbacks that are due: true if there may be more.
    pub async fn drain_callbacks(&self) -> Result<bool, BridgeError> {
        let due = self.store.due_callbacks(20)?;
        for cb in &due {
            match self.call_back(cb).await {
                Ok(()) => self.store.settle_callback(cb.id, "done", None)?,
                Err(e) if now_ms() - cb.created_at > CALLBACK_WINDOW_MS => {
                    tracing::error!(callback = cb.id, url = %cb.url, error = %e, "callback given up after three days");
                    self.store.settle_callback(cb.id, "dead", Some(&e))?;
                }
                Err(e) => {
                    let at = now_ms()
                        + crate::store::backoff_ms(cb.attempts + 1, self.config.bridge.max_backoff as i64 * 1000);
                    tracing::warn!(callback = cb.id, url = %cb.url, error = %e, "callback failed; will retry");
                    self.store.retry_callback(cb.id, at, &e)?;
                }
            }
        }
        Ok(due.len() == 20)
    }

    async fn call_back(&self, cb: &Callback) -> Result<(), String> {
        if let Some(topic) = cb.url.strip_prefix("mqtt:").or_else(|| cb.url.strip_prefix("mqtt-retained:")) {
            let Some(mqtt) = self.mqtt.get() else { return Err("MQTT is not connected yet".into()) };
            let retain = cb.url.starts_with("mqtt-retained:");
            let body = cb.body.clone().unwrap_or_default().into_bytes();
            return mqtt.publish(topic, body, retain).await.map_err(|e| e.to_string());
        }
        let req = match &cb.body {
            None => self.callbacks_http.get(&cb.url),
            Some(body) => {
                let mut req = self.callbacks_http.post(&cb.url).header("Content-Type", "application/json");
                let secret = cb.signer.as_deref().and_then(|s| self.signing_secret(s));
                if let Some(secret) = secret {
                    let ts = (now_ms() / 1000).to_string();
                    req = req.header("X-Timestamp", &ts).header("X-Signature", sign(secret, &ts, body));
                }
                req.body(body.clone())
            }
        };
        let answer = req.send().await.map_err(|e| e.to_string())?;
        if answer.status().is_success() { Ok(()) } else { Err(format!("HTTP {}", answer.status())) }
    }

    fn signing_secret(&self, signer: &str) -> Option<&str> {
        let g = self.config.gateway.as_ref()?;
        if let Some(hook) = signer.strip_prefix("webhook:") {
            return g.webhooks.get(hook.parse::<usize>().ok()?)?.secret.as_deref();
        }
        g.user(signer)?.signing_secret()
    }
}

impl Bridge {
    /// Tells applications about something that came in: the webhooks that want it, and
    /// MQTT. Once per inbox item, however often it is handled.
    pub(super) fn tell_apps_inbound(&self, item: &crate::store::InboxItem) -> Result<(), BridgeError> {
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
            _ => return Ok(()),
        };
        let hooks = self.config.gateway.as_ref().map(|g| g.webhooks.as_slice()).unwrap_or_default();
        let wanted: Vec<(usize, &crate::config::Webhook)> = hooks
            .iter()
            .enumerate()
            .filter(|(_, w)| w.links.is_empty() || w.links.contains(&item.backend_id))
            .filter(|(_, w)| w.numbers.is_empty() || w.numbers.iter().any(|n| *n == ours || *n == theirs))
            .collect();
        if wanted.is_empty() && self.config.mqtt.is_none() {
            return Ok(());
        }
        let body = body.to_string();
        self.store.tx(|tx| {
            for (i, w) in &wanted {
                let (signer, key) = (format!("webhook:{i}"), format!("in:{}:webhook:{i}", item.id));
                let cb = NewCallback { url: &w.url, body: Some(&body), signer: Some(&signer), key: Some(&key) };
                Store::enqueue_callback_tx(tx, &cb)?;
            }
            if self.config.mqtt.is_some() {
                let (url, key) = (format!("mqtt:{topic}"), format!("in:{}:mqtt", item.id));
                Store::enqueue_callback_tx(
                    tx,
                    &NewCallback { url: &url, body: Some(&body), signer: None, key: Some(&key) },
                )?;
            }
            Ok(())
        })?;
        self.wake.callbacks.notify_one();
        Ok(())
    }

    /// Hands an inbound SMS to the first keyword service that takes it: its reply is
    /// queued (once, however often the SMS is handled), and the answer says whether the
    /// SMS also goes to Matrix.
    pub(super) async fn serve_keyword(
        &self,
        item: &crate::store::InboxItem,
        sms: &crate::message::ReceivedSms,
    ) -> Result<bool, BridgeError> {
        let Some(m) = self.services.find(&item.backend_id, &sms.text) else { return Ok(true) };
        // Handled before (the relay to Matrix failed after the reply was queued): the
        // service is not asked again.
        let event_id = format!("svc:{}", item.id);
        if self.store.seen(&item.backend_id, &event_id)? || self.store.out_job_by_event(&event_id)?.is_some() {
            return Ok(m.bridge());
        }
        let handled = self.keyword_reply(item, sms, &m, &event_id).await;
        // Remembered, so an SMS handled again (Matrix away) does not call the service again.
        self.store.once(&item.backend_id, &event_id, |_| Ok(()))?;
        handled?;
        Ok(m.bridge())
    }

    async fn keyword_reply(
        &self,
        item: &crate::store::InboxItem,
        sms: &crate::message::ReceivedSms,
        m: &crate::gateway::keywords::Match,
        event_id: &str,
    ) -> Result<(), BridgeError> {
        use crate::gateway::keywords::{Incoming, Reply};
        let local = self.portal_local(&item.backend_id, &sms.to);
        let incoming = Incoming {
            from: sms.from.clone(),
            to: local,
            text: sms.text.clone(),
            link_id: item.backend_id.clone(),
            received_at_unix: sms.timestamp_ms.unwrap_or_else(now_ms) / 1000,
            message_id: Some(item.id.to_string()),
        };
        let text = match self.services.reply(m, &incoming, &self.callbacks_http).await {
            Ok(Reply::Text(t)) if m.sms_parts_allowed() > 0 => t,
            Ok(_) => return Ok(()),
            Err(e) => {
                tracing::warn!(inbox = item.id, service = m.service_name(), error = %e, "keyword service failed; no reply");
                return Ok(());
            }
        };
        let allowed = m.sms_parts_allowed().min(self.config.sms.max_parts);
        let text = fit_parts(&text, allowed, &self.config.sms.split_options());
        // From the number the SMS came to, when it is one of the link's.
        let from = Some(incoming.to.clone()).filter(|n| self.number_pool(&item.backend_id).contains(n));
        let req = ApiSend { to: sms.from.clone(), text, from, ..ApiSend::default() };
        let by = format!("service {}", m.service_name());
        match self.queue_app(&by, &item.backend_id, &req, event_id, false) {
            Ok(_) => tracing::info!(inbox = item.id, service = m.service_name(), "keyword reply queued"),
            Err(SubmitError::Bridge(e)) => return Err(e),
            Err(e) => tracing::warn!(inbox = item.id, service = m.service_name(), error = %e, "keyword reply not sent"),
        }
        Ok(())
    }
}

/// The text cut to fit `parts` SMS, as Kannel's max-messages drops the rest.
fn fit_parts(text: &str, parts: usize, opts: &crate::sms::split::SplitOptions) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    loop {
        let t: String = chars.iter().collect();
        match crate::sms::split::split_buffer(&t, &crate::sms::split::SplitOptions { max_parts: 255, ..opts.clone() }) {
            Ok((_, _, ends)) if ends.len() <= parts.max(1) => return t,
            _ if chars.is_empty() => return t,
            _ => chars.truncate(chars.len() * 9 / 10),
        }
    }
}

/// `sha256=<hex>` of HMAC-SHA256(secret, timestamp + "." + body).
pub fn sign(secret: &str, timestamp: &str, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("{timestamp}.{body}").as_bytes());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
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
            to: r.to.clone(),
            text: r.text.clone(),
            callback_url: Some("mqtt:status".into()),
            client_ref: r.id.clone(),
            ..ApiSend::default()
        };
        // With an id, a request the broker delivers again is not sent again.
        let event_id = match &r.id {
            Some(id) => format!("mqtt:{id}"),
            None => format!("api:{:016x}", rand::random::<u64>()),
        };
        match bridge.submit_as(&user, &req, &event_id) {
            Ok(s) => tracing::info!(api = s.id, "MQTT send request queued"),
            Err(SubmitError::Bridge(e)) => {
                // Not acknowledged: the broker delivers it again after a reconnect.
                tracing::error!(error = %e, "could not queue an MQTT send request");
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "MQTT send request refused");
                let body = json!({ "error": e.to_string(), "id": r.id, "to": r.to }).to_string();
                let cb = NewCallback { url: "mqtt:errors", body: Some(&body), signer: None, key: None };
                let _ = bridge.store.tx(|tx| Store::enqueue_callback_tx(tx, &cb));
                bridge.wake.callbacks.notify_one();
            }
        }
        cmd.ack.ack().await;
    }
}

pub(super) async fn run_callbacks(bridge: Arc<Bridge>) {
    let wake = bridge.wake.callbacks.clone();
    super::work_loop("callbacks", &wake, Duration::from_secs(2), || {
        let b = bridge.clone();
        async move { b.drain_callbacks().await }
    })
    .await
}
