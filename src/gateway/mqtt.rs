//! The MQTT gateway: one broker connection that publishes what the bridge receives and takes
//! send requests from `<prefix>/send`.
//!
//! Topics under the configured prefix:
//! - `inbound`: inbound SMS/MMS as JSON, QoS 1;
//! - `reports`: delivery reports as JSON, QoS 1;
//! - `status/<message id>`: the status of a message sent through `send`;
//! - `links/<link id>/state`: a link's state, retained;
//! - `availability`: `online` (retained) while connected, `offline` as our last will;
//! - `errors`: why a `send` payload was refused, as `{"error", "payload"}`;
//! - `send` (we subscribe): `{"to", "text", "via"?, "from"?, "id"?, "validity_minutes"?,
//!   "send_at"?}`.
//!
//! Session: persistent (clean_session false) with manual acks. A send request is acked only
//! when the consumer calls [`AckHandle::ack`], so one that reached us but was not handed
//! over before a crash is redelivered by the broker when we reconnect under the same
//! client id, and requests published while we are away are queued for us. We subscribe
//! again after every connect anyway: a broker without persistence forgets sessions when it
//! restarts.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, LastWill, MqttOptions, Outgoing, Packet,
    Publish, QoS, Request, Subscribe, SubscribeReasonCode, TlsConfiguration, Transport,
};
use serde::Deserialize;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::{self, MqttConfig};

/// Topic suffixes under the prefix.
pub const INBOUND: &str = "inbound";
pub const REPORTS: &str = "reports";
pub const SEND: &str = "send";
pub const ERRORS: &str = "errors";
pub const AVAILABILITY: &str = "availability";

/// `status/<message id>`: the send status of one message.
pub fn status_topic(message_id: &str) -> String {
    format!("status/{message_id}")
}

/// `links/<link id>/state`: a link's state; publish it retained.
pub fn link_state_topic(link_id: &str) -> String {
    format!("links/{link_id}/state")
}

/// How long [`Mqtt::publish`] waits for the broker's PUBACK.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest packet either way. A bigger incoming one would make rumqttc drop the connection.
const MAX_PACKET: usize = 1 << 20;
/// Our publishes awaiting their PUBACK at once; below rumqttc's 100 packet ids, so ids are
/// not reused while still in flight.
const MAX_IN_FLIGHT: usize = 64;
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MqttError {
    /// The broker is away or the connection dropped before its PUBACK: retry later. The
    /// message may or may not have reached the broker.
    #[error("MQTT broker unavailable: {0}")]
    Transient(String),
    /// Retrying will not help: a bad topic, a payload over the size limit, or the gateway
    /// stopped.
    #[error("MQTT publish refused: {0}")]
    Permanent(String),
    #[error("no PUBACK from the MQTT broker within {0:?}")]
    Timeout(Duration),
}

impl MqttError {
    /// Whether the same publish may succeed later.
    pub fn is_transient(&self) -> bool {
        !matches!(self, MqttError::Permanent(_))
    }
}

/// The connection as last seen by the event loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnState {
    Connecting,
    /// Connected and subscribed to `<prefix>/send`.
    Connected,
    /// Why the last attempt failed or the connection dropped.
    Down(String),
}

/// A send request as published to `<prefix>/send`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    pub to: String,
    pub text: String,
    /// A link id; default: the core's choice.
    pub via: Option<String>,
    pub from: Option<String>,
    /// The client's reference, echoed in status publications.
    pub id: Option<String>,
    pub validity_minutes: Option<u32>,
    /// RFC 3339, e.g. `2025-06-01T08:00:00Z`.
    pub send_at: Option<String>,
}

impl SendRequest {
    fn parse(payload: &[u8]) -> Result<SendRequest, String> {
        let text = std::str::from_utf8(payload).map_err(|_| "the payload is not UTF-8".to_string())?;
        let r: SendRequest = serde_json::from_str(text).map_err(|e| format!("not a send request: {e}"))?;
        if r.to.trim().is_empty() {
            return Err("\"to\" must name a recipient".into());
        }
        if r.text.is_empty() {
            return Err("\"text\" must not be empty".into());
        }
        for (key, v) in [("via", &r.via), ("from", &r.from), ("id", &r.id)] {
            if v.as_deref().is_some_and(|v| v.trim().is_empty()) {
                return Err(format!("\"{key}\" must not be empty when given"));
            }
        }
        if r.validity_minutes == Some(0) {
            return Err("\"validity_minutes\" must be at least 1".into());
        }
        if let Some(at) = &r.send_at {
            at.parse::<jiff::Timestamp>()
                .map_err(|_| format!("\"send_at\" is not an RFC 3339 time such as 2025-06-01T08:00:00Z: {at:?}"))?;
        }
        Ok(r)
    }

    /// `send_at` as a time; validated on arrival.
    pub fn send_at(&self) -> Option<jiff::Timestamp> {
        self.send_at.as_deref().and_then(|s| s.parse().ok())
    }
}

/// A send request handed to the core, with the handle that acknowledges it to the broker.
#[derive(Debug)]
pub struct SendCommand {
    pub request: SendRequest,
    /// The broker delivered it before (DUP): we may have seen it and not acked it in time.
    pub redelivered: bool,
    pub ack: AckHandle,
}

/// Acknowledges one send request to the broker. Call [`AckHandle::ack`] once the request is
/// stored durably; until then the broker holds it and redelivers it after a reconnect.
/// Dropping the handle leaves it unacknowledged.
pub struct AckHandle {
    client: AsyncClient,
    publish: Publish,
    generation: u64,
    current: Arc<AtomicU64>,
}

impl std::fmt::Debug for AckHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckHandle").field("pkid", &self.publish.pkid).field("generation", &self.generation).finish()
    }
}

impl AckHandle {
    pub async fn ack(self) {
        // A packet id is only meaningful on the connection that delivered it; after a
        // reconnect the broker redelivers the request and the new copy is acked instead.
        if self.current.load(Ordering::SeqCst) != self.generation {
            tracing::debug!(
                pkid = self.publish.pkid,
                "MQTT ack skipped: the connection changed, the broker redelivers"
            );
            return;
        }
        if self.client.ack(&self.publish).await.is_err() {
            tracing::debug!("MQTT ack dropped: the gateway stopped");
        }
    }
}

type Waiter = Option<oneshot::Sender<Result<(), MqttError>>>;

/// Matches our publishes to their PUBACKs. rumqttc assigns packet ids in the order requests
/// leave its channel and reports each as `Outgoing::Publish(pkid)`; requests enter the
/// channel under this lock, so the order of `unassigned` is the channel's order.
#[derive(Default)]
struct Tracker {
    connected: bool,
    down_reason: String,
    unassigned: VecDeque<Waiter>,
    by_pkid: HashMap<u16, Waiter>,
}

impl Tracker {
    fn sent(&mut self, pkid: u16) {
        if pkid == 0 || self.by_pkid.contains_key(&pkid) {
            return;
        }
        match self.unassigned.pop_front() {
            Some(w) => {
                self.by_pkid.insert(pkid, w);
            }
            None => tracing::debug!(pkid, "MQTT publish sent that no one waits for"),
        }
    }

    fn acked(&mut self, pkid: u16) {
        if let Some(Some(tx)) = self.by_pkid.remove(&pkid) {
            let _ = tx.send(Ok(()));
        }
    }

    /// The connection dropped: the in-flight publishes and the `lost` ones rumqttc had
    /// taken from its channel are given up (we removed them from its replay queue). Later
    /// waiters stay: their requests are still in the channel and go out after reconnecting.
    fn lost(&mut self, lost: usize, reason: &str) {
        let err = || MqttError::Transient(format!("connection lost before the PUBACK: {reason}"));
        let assigned = self.by_pkid.len();
        for (_, w) in self.by_pkid.drain() {
            if let Some(tx) = w {
                let _ = tx.send(Err(err()));
            }
        }
        for _ in 0..lost.saturating_sub(assigned) {
            if let Some(Some(tx)) = self.unassigned.pop_front() {
                let _ = tx.send(Err(err()));
            }
        }
    }
}

struct Shared {
    client: AsyncClient,
    prefix: String,
    tracker: Mutex<Tracker>,
    permits: Semaphore,
    state: watch::Sender<ConnState>,
    generation: Arc<AtomicU64>,
}

impl Shared {
    fn topic(&self, suffix: &str) -> Result<String, MqttError> {
        if suffix.is_empty()
            || suffix.contains(['+', '#', '\0'])
            || suffix.starts_with('/')
            || suffix.ends_with('/')
            || suffix.contains("//")
        {
            return Err(MqttError::Permanent(format!("not a topic suffix: {suffix:?}")));
        }
        Ok(format!("{}/{suffix}", self.prefix))
    }

    /// Queues a QoS 1 publish; the returned receiver (if `wait`) resolves on its PUBACK.
    fn enqueue(
        &self,
        topic: String,
        payload: Vec<u8>,
        retain: bool,
        wait: bool,
    ) -> Result<Option<oneshot::Receiver<Result<(), MqttError>>>, MqttError> {
        if topic.len() + payload.len() + 16 > MAX_PACKET {
            return Err(MqttError::Permanent(format!(
                "{} bytes on {topic} is over the {MAX_PACKET}-byte packet limit",
                payload.len()
            )));
        }
        let mut t = self.tracker.lock().unwrap();
        if !t.connected {
            return Err(MqttError::Transient(t.down_reason.clone()));
        }
        // Non-blocking under the lock: the event loop needs the lock to drain the channel.
        if self.client.try_publish(topic, QoS::AtLeastOnce, retain, payload).is_err() {
            return Err(MqttError::Transient("too many requests queued for the broker".into()));
        }
        let (tx, rx) = match wait {
            true => {
                let (tx, rx) = oneshot::channel();
                (Some(tx), Some(rx))
            }
            false => (None, None),
        };
        t.unassigned.push_back(tx);
        Ok(rx)
    }
}

/// The MQTT gateway. Dropping it stops the connection abruptly (the broker then publishes
/// our last will); [`Mqtt::close`] disconnects cleanly.
pub struct Mqtt {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for Mqtt {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Mqtt {
    /// Starts connecting in the background (needs a Tokio runtime). Errors are settings that
    /// can never work (URL, CA file); an unreachable broker or refused login is retried and
    /// shows in [`Mqtt::state`] and the log.
    pub fn start(cfg: &MqttConfig) -> Result<(Mqtt, mpsc::Receiver<SendCommand>), String> {
        let broker = cfg.broker()?;
        let mut opts = MqttOptions::new(cfg.client_id.clone(), broker.host.clone(), broker.port);
        opts.set_keep_alive(Duration::from_secs(cfg.keep_alive.max(5)))
            .set_clean_session(false)
            .set_manual_acks(true)
            .set_max_packet_size(MAX_PACKET, MAX_PACKET)
            .set_last_will(LastWill::new(
                format!("{}/{AVAILABILITY}", cfg.topic_prefix),
                "offline",
                QoS::AtLeastOnce,
                true,
            ));
        if let Some(user) = &cfg.username {
            opts.set_credentials(user.clone(), cfg.password.clone().unwrap_or_default());
        }
        if broker.tls {
            opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(Arc::new(tls_config(cfg)?))));
        }
        let (client, eventloop) = AsyncClient::new(opts, 4 * MAX_IN_FLIGHT);
        let (state, _) = watch::channel(ConnState::Connecting);
        let shared = Arc::new(Shared {
            client,
            prefix: cfg.topic_prefix.clone(),
            tracker: Mutex::new(Tracker { down_reason: "not connected yet".into(), ..Tracker::default() }),
            permits: Semaphore::new(MAX_IN_FLIGHT),
            state,
            generation: Arc::new(AtomicU64::new(0)),
        });
        let (tx, rx) = mpsc::channel(1024);
        let where_ = format!("{}:{}", broker.host, broker.port);
        let task = tokio::spawn(run(shared.clone(), eventloop, tx, where_));
        Ok((Mqtt { shared, task }, rx))
    }

    /// Publishes with QoS 1 to `<prefix>/<topic_suffix>`; resolves once the broker has
    /// acknowledged this publish (PUBACK). While the broker is away it fails at once with
    /// [`MqttError::Transient`]; nothing is resent behind the caller's back.
    pub async fn publish(&self, topic_suffix: &str, payload: Vec<u8>, retain: bool) -> Result<(), MqttError> {
        let topic = self.shared.topic(topic_suffix)?;
        let work = async {
            let _permit =
                self.shared.permits.acquire().await.map_err(|_| MqttError::Permanent("gateway stopped".into()))?;
            let rx = self.shared.enqueue(topic, payload, retain, true)?.expect("a waiter");
            rx.await.map_err(|_| MqttError::Permanent("gateway stopped".into()))?
        };
        tokio::time::timeout(PUBLISH_TIMEOUT, work).await.map_err(|_| MqttError::Timeout(PUBLISH_TIMEOUT))?
    }

    pub fn state(&self) -> ConnState {
        self.shared.state.borrow().clone()
    }

    /// Waits until connected; on timeout the error is why it is not (e.g. a refused login).
    pub async fn wait_connected(&self, timeout: Duration) -> Result<(), String> {
        let mut rx = self.shared.state.subscribe();
        let up = tokio::time::timeout(timeout, rx.wait_for(|s| *s == ConnState::Connected)).await;
        match up {
            Ok(Ok(_)) => Ok(()),
            _ => Err(match self.state() {
                ConnState::Down(reason) => reason,
                other => format!("not connected after {timeout:?} ({other:?})"),
            }),
        }
    }

    /// Marks us offline and disconnects cleanly (no last will).
    pub async fn close(self) {
        let _ = self.publish(AVAILABILITY, b"offline".to_vec(), true).await;
        let _ = self.shared.client.disconnect().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn tls_config(cfg: &MqttConfig) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let certs = match &cfg.ca_file {
        Some(path) => config::read_ca_file(path)?,
        None => rustls_native_certs::load_native_certs().certs,
    };
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(match &cfg.ca_file {
            Some(path) => format!("mqtt.ca_file: no usable CA certificate in {}", path.display()),
            None => "mqtt: no system root certificates; set mqtt.ca_file".into(),
        });
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn describe(e: &ConnectionError, broker: &str) -> String {
    match e {
        ConnectionError::ConnectionRefused(
            ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized,
        ) => format!("the broker at {broker} refused the login: check mqtt.username and mqtt.password"),
        ConnectionError::ConnectionRefused(ConnectReturnCode::BadClientId) => {
            format!("the broker at {broker} refused mqtt.client_id")
        }
        ConnectionError::ConnectionRefused(code) => format!("the broker at {broker} refused the connection: {code:?}"),
        ConnectionError::Io(io) => format!("cannot reach the broker at {broker}: {io}"),
        other => format!("connection to the broker at {broker}: {other}"),
    }
}

/// Drives the connection: reconnects with backoff, matches PUBACKs, takes send requests.
async fn run(shared: Arc<Shared>, mut eventloop: EventLoop, commands: mpsc::Sender<SendCommand>, broker: String) {
    let send_topic = format!("{}/{SEND}", shared.prefix);
    let mut backoff = BACKOFF_MIN;
    let mut logged: Option<String> = None;
    loop {
        match eventloop.poll().await {
            Ok(event) => {
                if let Event::Incoming(Packet::ConnAck(ack)) = &event {
                    backoff = BACKOFF_MIN;
                    logged = None;
                    shared.generation.fetch_add(1, Ordering::SeqCst);
                    {
                        let mut t = shared.tracker.lock().unwrap();
                        t.connected = true;
                    }
                    tracing::info!(broker, session_resumed = ack.session_present, "MQTT connected");
                    // Again on every connect: a broker without persistence forgot the session.
                    eventloop.pending.push_front(Request::Subscribe(Subscribe::new(&send_topic, QoS::AtLeastOnce)));
                    let _ =
                        shared.enqueue(format!("{}/{AVAILABILITY}", shared.prefix), b"online".to_vec(), true, false);
                }
                handle(&shared, event, &send_topic, &commands);
            }
            Err(e) => {
                // What rumqttc read before failing still counts: a PUBACK among it is real.
                while let Some(event) = eventloop.state.events.pop_front() {
                    handle(&shared, event, &send_topic, &commands);
                }
                let reason = describe(&e, &broker);
                // Publishes rumqttc would replay: their callers hear of the loss instead.
                let mut lost = eventloop.pending.iter().filter(|r| matches!(r, Request::Publish(_))).count();
                eventloop.pending.retain(|r| !matches!(r, Request::Publish(_)));
                lost += usize::from(eventloop.state.collision.take().is_some());
                {
                    let mut t = shared.tracker.lock().unwrap();
                    t.connected = false;
                    t.down_reason = reason.clone();
                    t.lost(lost, &reason);
                }
                shared.state.send_replace(ConnState::Down(reason.clone()));
                if logged.as_ref() != Some(&reason) {
                    tracing::warn!(retry_in = ?backoff, "MQTT: {reason}");
                    logged = Some(reason);
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

fn handle(shared: &Shared, event: Event, send_topic: &str, commands: &mpsc::Sender<SendCommand>) {
    match event {
        Event::Outgoing(Outgoing::Publish(pkid)) => shared.tracker.lock().unwrap().sent(pkid),
        Event::Incoming(Packet::PubAck(ack)) => shared.tracker.lock().unwrap().acked(ack.pkid),
        Event::Incoming(Packet::SubAck(ack)) => {
            // Connected counts from here: send requests reach us from now on.
            if ack.return_codes.iter().any(|c| matches!(c, SubscribeReasonCode::Failure)) {
                let reason = format!("the broker refused our subscription to {send_topic} (check its ACL)");
                tracing::error!("MQTT: {reason}");
                shared.state.send_replace(ConnState::Down(reason));
            } else {
                shared.state.send_replace(ConnState::Connected);
            }
        }
        Event::Incoming(Packet::Publish(p)) => take_request(shared, p, send_topic, commands),
        _ => {}
    }
}

fn take_request(shared: &Shared, p: Publish, send_topic: &str, commands: &mpsc::Sender<SendCommand>) {
    let ack = AckHandle {
        client: shared.client.clone(),
        publish: Publish { payload: Default::default(), topic: String::new(), ..p.clone() },
        generation: shared.generation.load(Ordering::SeqCst),
        current: shared.generation.clone(),
    };
    let parsed = if p.topic != send_topic {
        Err(format!("unexpected topic {}", p.topic))
    } else if p.retain {
        // A retained request would come back at every subscribe, i.e. every reconnect.
        Err("retained send requests are refused: publish with retain false".to_string())
    } else {
        SendRequest::parse(&p.payload)
    };
    match parsed {
        Ok(request) => {
            let cmd = SendCommand { request, redelivered: p.dup, ack };
            if let Err(e) = commands.try_send(cmd) {
                // Unacked, so the broker redelivers it after the next reconnect.
                tracing::error!("MQTT send request not taken ({e}); the broker redelivers it on reconnect");
            }
        }
        Err(reason) => {
            let shown: String = String::from_utf8_lossy(&p.payload).chars().take(500).collect();
            tracing::warn!(topic = p.topic, "MQTT send request refused: {reason}");
            let body = serde_json::json!({ "error": reason, "topic": p.topic, "payload": shown });
            let _ = shared.enqueue(format!("{}/{ERRORS}", shared.prefix), body.to_string().into_bytes(), false, false);
            // Acked: a refused payload would be refused again on every redelivery.
            let _ = ack.client.try_ack(&ack.publish);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_requests_parse_with_precise_errors() {
        let r =
            SendRequest::parse(br#"{"to":"+15550001111","text":"hi","via":"sim1","id":"c-1","validity_minutes":60}"#)
                .unwrap();
        assert_eq!((r.to.as_str(), r.via.as_deref(), r.validity_minutes), ("+15550001111", Some("sim1"), Some(60)));
        let r = SendRequest::parse(br#"{"to":"1","text":"x","send_at":"2025-06-01T08:00:00Z"}"#).unwrap();
        assert_eq!(r.send_at().unwrap().to_string(), "2025-06-01T08:00:00Z");
        let e = |p: &[u8]| SendRequest::parse(p).unwrap_err();
        assert!(e(b"{").starts_with("not a send request: EOF while parsing"), "{}", e(b"{"));
        assert!(e(br#"{"to":"1"}"#).contains("missing field `text`"));
        assert!(e(br#"{"to":"1","text":"x","colour":"red"}"#).contains("unknown field `colour`"));
        assert_eq!(e(br#"{"to":" ","text":"x"}"#), "\"to\" must name a recipient");
        assert_eq!(e(br#"{"to":"1","text":""}"#), "\"text\" must not be empty");
        assert_eq!(e(br#"{"to":"1","text":"x","via":""}"#), "\"via\" must not be empty when given");
        assert_eq!(e(br#"{"to":"1","text":"x","validity_minutes":0}"#), "\"validity_minutes\" must be at least 1");
        assert!(e(br#"{"to":"1","text":"x","send_at":"tomorrow"}"#).starts_with("\"send_at\" is not an RFC 3339"));
        assert_eq!(e(b"\xff"), "the payload is not UTF-8");
    }

    #[test]
    fn pubacks_resolve_the_right_publish_across_a_drop() {
        let mut t = Tracker { connected: true, ..Tracker::default() };
        let mut rx = Vec::new();
        for _ in 0..4 {
            let (tx, r) = oneshot::channel();
            t.unassigned.push_back(Some(tx));
            rx.push(r);
        }
        t.unassigned.push_back(None); // an internal publish nobody waits for
        let (tx, mut last) = oneshot::channel();
        t.unassigned.push_back(Some(tx));
        t.sent(7);
        t.sent(8);
        t.acked(8);
        assert_eq!(rx[1].try_recv().unwrap(), Ok(()));
        // Dropped with 7 in flight and the third taken from the channel: those two fail;
        // the fourth, the internal one and the last are still in the channel.
        t.lost(2, "gone");
        assert!(matches!(rx[0].try_recv().unwrap(), Err(MqttError::Transient(m)) if m.contains("gone")));
        assert!(rx[2].try_recv().unwrap().is_err());
        t.sent(1);
        t.sent(2);
        t.sent(3);
        t.acked(1);
        t.acked(3);
        assert_eq!(rx[3].try_recv().unwrap(), Ok(()));
        assert_eq!(last.try_recv().unwrap(), Ok(()));
    }
}
